package thrift

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Transports: framed puts a four-byte big-endian length before each
// message; buffered (Apache's name for no framing) sends messages back to
// back, so a reader must walk a message's struct to find where it ends.

type transportID int

const (
	transportFramed transportID = iota
	transportBuffered
)

func parseTransport(s string) (transportID, error) {
	switch s {
	case "", "framed":
		return transportFramed, nil
	case "buffered":
		return transportBuffered, nil
	}
	return 0, fmt.Errorf("unknown thrift transport %q: want framed or buffered", s)
}

// DefaultMaxMessageBytes bounds a message (a frame, a buffered message, and
// so every string, binary and container in it) unless configured: 16 MiB.
// Apache's default is 100 MiB, which is a lot of memory to commit to a
// length prefix a broken or hostile server chose.
const DefaultMaxMessageBytes = 16 << 20

// maxMessageLimit is the largest limit that can be configured: a frame
// length is an i32.
const maxMessageLimit = 1<<31 - 1

// appendMessage appends a whole message, framed or not.
func appendMessage(dst []byte, compact, framed bool, name string, typ MessageType, seq int32, body []byte) []byte {
	start := len(dst)
	if framed {
		dst = append(dst, 0, 0, 0, 0)
	}
	e := encoder{buf: dst, compact: compact}
	e.messageBegin(name, typ, seq)
	e.buf = append(e.buf, body...)
	if framed {
		binary.BigEndian.PutUint32(e.buf[start:], uint32(len(e.buf)-start-4))
	}
	return e.buf
}

// readMessage reads one message and checks that its body is one
// well-formed struct (bytes after it in a frame are ignored). Body is
// freshly allocated (or appended to buf[:0] when buf is given), so that it
// may outlive the connection's next use. A name equal to want is want
// itself, not a copy: a client knows the name it expects. Failures are
// *errWire for bytes that make no sense or break a limit, *ioError for the
// connection.
func readMessage(br *bufio.Reader, compact, framed bool, maxBytes int, buf []byte, want string) (Message, error) {
	if framed {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return Message{}, &ioError{err}
		}
		n := int64(int32(binary.BigEndian.Uint32(h[:])))
		switch {
		case n <= 0:
			return Message{}, wireErrorf("invalid frame size %d", n)
		case n > int64(maxBytes):
			return Message{}, wireErrorf("frame of %d bytes exceeds the limit of %d bytes", n, maxBytes)
		}
		// need grows the buffer as bytes arrive, in chunks, so a frame
		// that is announced but never sent costs nothing.
		fd := decoder{b: buf[:0], src: br, limit: int(n)}
		if !fd.need(int(n)) {
			return Message{}, fd.err
		}
		d := decoder{b: fd.b, compact: compact, want: want}
		name, typ, seq := d.messageBegin(maxNameBytes)
		start := d.i
		// The struct is walked even though the frame says where it ends:
		// a reply that is not a well-formed struct is the backend's fault,
		// found here, where the connection can still be discarded, and
		// framed and buffered replies get the same checks.
		d.skip(tStruct, maxWireDepth)
		if d.err != nil {
			return Message{}, d.err
		}
		return Message{Name: name, Type: typ, SeqID: seq, Body: d.b[start:d.i:d.i]}, nil
	}
	d := decoder{b: buf[:0], compact: compact, src: br, limit: maxBytes, want: want}
	name, typ, seq := d.messageBegin(maxNameBytes)
	if d.err != nil {
		return Message{}, d.err
	}
	start := d.i
	d.skip(tStruct, maxWireDepth)
	if d.err != nil {
		return Message{}, d.err
	}
	return Message{Name: name, Type: typ, SeqID: seq, Body: d.b[start:d.i:d.i]}, nil
}

// Framer reads and writes whole messages in one protocol and transport,
// for servers (the mock) and test doubles. A zero Framer is binary,
// framed, with the default limit.
type Framer struct {
	compact, buffered bool
	max               int
}

// NewFramer checks the names: protocol "binary" or "compact", transport
// "framed" or "buffered" ("" means the first); maxBytes 0 means
// DefaultMaxMessageBytes.
func NewFramer(protocol, transport string, maxBytes int) (Framer, error) {
	p, err := parseProtocol(protocol)
	if err != nil {
		return Framer{}, err
	}
	t, err := parseTransport(transport)
	if err != nil {
		return Framer{}, err
	}
	if maxBytes < 0 || maxBytes > maxMessageLimit {
		return Framer{}, fmt.Errorf("max message bytes %d out of range", maxBytes)
	}
	return Framer{compact: p == protoCompact, buffered: t == transportBuffered, max: maxBytes}, nil
}

func (f Framer) limit() int {
	if f.max == 0 {
		return DefaultMaxMessageBytes
	}
	return f.max
}

// ReadMessage reads the next message from br. It returns io.EOF when the
// peer closed the connection cleanly between messages.
func (f Framer) ReadMessage(br *bufio.Reader) (*Message, error) {
	if _, err := br.Peek(1); err != nil {
		return nil, err
	}
	m, err := readMessage(br, f.compact, !f.buffered, f.limit(), nil, "")
	if err != nil {
		if ioe, ok := err.(*ioError); ok {
			if ioe.err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, ioe.err
		}
		return nil, err
	}
	return &m, nil
}

// AppendMessage appends m, envelope and body, framed if the transport is.
func (f Framer) AppendMessage(dst []byte, m *Message) []byte {
	return appendMessage(dst, f.compact, !f.buffered, m.Name, m.Type, m.SeqID, m.Body)
}

// AppendApplicationException appends an EXCEPTION message carrying a
// TApplicationException.
func (f Framer) AppendApplicationException(dst []byte, name string, seq int32, typ int32, message string) []byte {
	body := encodeAppException(nil, f.compact, typ, message)
	return appendMessage(dst, f.compact, !f.buffered, name, Exception, seq, body)
}

// DecodeApplicationException reads a TApplicationException body.
func (f Framer) DecodeApplicationException(body []byte) (*ApplicationException, error) {
	return decodeAppException(body, f.compact)
}

package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// errClosed is returned by calls after Close or Error: the stream has
// ended, and writing more would corrupt its framing.
var errClosed = errors.New("stream: writer closed")

// Writer writes one stream's messages to w in a framing, flushing after
// each so that the client sees every message as it arrives.
//
// The wire formats, byte for byte (STATUS is the google.rpc.Status JSON):
//
//	NDJSON     {"result":MSG}\n per message; {"error":STATUS}\n ends with an error.
//	SSE        id: ID\n (when given), then data: LINE\n per line of MSG (data:\n
//	           for an empty one), then \n; event: error\n, STATUS's data: lines
//	           and \n end with an error; ": ping\n\n" keeps the connection alive.
//	JSONArray  [\n MSG for the first message, ,\n MSG for each later one, and
//	           \n]\n at the end ([]\n with no message); an error is a last
//	           {"error":STATUS} element. Each element is on its own line, so a
//	           line reader can follow the array too.
//
// NDJSON and JSONArray compact a message that holds a line break, so that
// each stays on one line; SSE splits it into data: lines instead.
//
// A Writer is safe for concurrent use, so that a keep-alive timer can call
// Ping while the stream's goroutine calls Message; every call must still
// return before the handler does, as with the http.ResponseWriter itself.
type Writer struct {
	mu      sync.Mutex
	rw      http.ResponseWriter
	rc      *http.ResponseController
	framing Framing
	started bool
	closed  bool
	err     error // the first write or flush error, returned by every later call
	msgs    int
	bytes   int64
	buf     []byte       // the frame being written, reused so a message costs no allocation
	hold    bool         // Message leaves flushing to Flush
	scratch bytes.Buffer // for compacting a message with a line break
}

// NewWriter returns a Writer of f's framing on w. It panics on an unknown
// framing, a programming error.
func NewWriter(w http.ResponseWriter, f Framing) *Writer {
	if f >= numFramings {
		panic("stream: unknown framing " + f.String())
	}
	return &Writer{rw: w, rc: http.NewResponseController(w), framing: f}
}

// Start writes the response head once: status 200, Content-Type,
// Cache-Control: no-cache, X-Accel-Buffering: no (nginx would otherwise
// buffer the stream) and X-Content-Type-Options: nosniff, then flushes it so
// the client knows the stream is open before the first message. Headers
// already set on w (Grpc-Metadata-*, say) are kept, except Content-Length,
// which a stream cannot know. Message, Error, Close and Ping call Start
// themselves; a caller that wants a failure before the first message to get
// its own HTTP status checks Started and uses translate.WriteError instead
// of Error.
func (w *Writer) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.start()
}

func (w *Writer) start() {
	if w.started {
		return
	}
	w.started = true
	h := w.rw.Header()
	h.Set("Content-Type", w.framing.ContentType())
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.rw.WriteHeader(http.StatusOK)
	w.flush()
}

// Started reports whether the response head has been written, after which
// an error can only be reported inside the stream.
func (w *Writer) Started() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started
}

// Message writes one message (msg is one compact JSON value) and flushes.
// id is the SSE event id, so that a reconnecting client can say where it
// was (Last-Event-ID); other framings ignore it. An id holding CR, LF or
// NUL, or an empty msg, is refused with nothing written, as either would
// corrupt the stream.
func (w *Writer) Message(msg []byte, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if strings.ContainsAny(id, "\r\n\x00") {
		return errors.New("stream: event id holds CR, LF or NUL")
	}
	if len(msg) == 0 {
		return errors.New("stream: empty message")
	}
	b := w.buf[:0]
	switch w.framing {
	case NDJSON:
		m, err := w.oneLine(msg)
		if err != nil {
			return err
		}
		b = append(b, `{"result":`...)
		b = append(b, m...)
		b = append(b, "}\n"...)
	case SSE:
		if id != "" {
			b = append(b, "id: "...)
			b = append(b, id...)
			b = append(b, '\n')
		}
		b = appendData(b, msg)
		b = append(b, '\n')
	case JSONArray:
		m, err := w.oneLine(msg)
		if err != nil {
			return err
		}
		if w.msgs == 0 {
			b = append(b, "[\n"...)
		} else {
			b = append(b, ",\n"...)
		}
		b = append(b, m...)
	}
	w.start()
	w.write(b)
	w.buf = b
	if w.err != nil {
		return w.err
	}
	w.msgs++
	return nil
}

// Error ends the stream with an error after zero or more messages. status
// is the google.rpc.Status JSON the gateway renders for errors
// (translate.MarshalStatus). The response stays 200, as its head may be
// gone already; the error is the stream's last element. After Error the
// writer is closed.
func (w *Writer) Error(status []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if len(status) == 0 {
		return errors.New("stream: empty error status")
	}
	b := w.buf[:0]
	switch w.framing {
	case NDJSON:
		s, err := w.oneLine(status)
		if err != nil {
			return err
		}
		b = append(b, `{"error":`...)
		b = append(b, s...)
		b = append(b, "}\n"...)
	case SSE:
		b = append(b, "event: error\n"...)
		b = appendData(b, status)
		b = append(b, '\n')
	case JSONArray:
		s, err := w.oneLine(status)
		if err != nil {
			return err
		}
		if w.msgs == 0 {
			b = append(b, "[\n"...)
		} else {
			b = append(b, ",\n"...)
		}
		b = append(b, `{"error":`...)
		b = append(b, s...)
		b = append(b, "}\n]\n"...)
	}
	w.closed = true
	w.start()
	w.send(b)
	w.buf = b
	return w.err
}

// Close ends a stream that finished well: JSONArray closes its array
// ("[]\n" when empty); NDJSON and SSE write nothing more, but the head is
// written if nothing else was. Idempotent; after a write error it returns
// that error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	w.start()
	if w.framing == JSONArray {
		if w.msgs == 0 {
			w.send([]byte("[]\n"))
		} else {
			w.send([]byte("\n]\n"))
		}
	}
	return w.err
}

// Ping keeps an idle connection open through proxies that cut silent ones:
// SSE writes the comment line ": ping\n\n" and flushes; NDJSON and
// JSONArray have no comment syntax, so they write nothing and return nil.
func (w *Writer) Ping() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.framing != SSE {
		return nil
	}
	w.start()
	w.send([]byte(": ping\n\n"))
	return w.err
}

// Messages is how many messages were written, for logs and metrics.
func (w *Writer) Messages() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.msgs
}

// Bytes is how many body bytes the writer wrote, for logs and metrics.
func (w *Writer) Bytes() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// usable is the error a call must return before doing anything.
func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errClosed
	}
	return nil
}

// write writes b and flushes it, keeping the first failure (the client has
// gone) so that nothing more is written.
func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.rw.Write(b)
	w.bytes += int64(n)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("stream: write: %w", err)
		return
	}
	if !w.hold {
		w.flush()
	}
}

// send writes b and flushes it whether or not the writer is held: the
// stream's end and keep-alives must reach the client at once.
func (w *Writer) send(b []byte) {
	w.write(b)
	if w.hold {
		w.flush()
	}
}

// Hold makes Message leave flushing to Flush, for a caller that knows
// more messages are ready: a burst is then one write to the client, not
// one per message. Error, Close and Ping still flush.
func (w *Writer) Hold(on bool) {
	w.mu.Lock()
	w.hold = on
	w.mu.Unlock()
}

// Flush sends what Message wrote while held.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flush()
	return w.err
}

func (w *Writer) flush() {
	if w.err != nil {
		return
	}
	// A writer that cannot flush (some test recorders, a wrapper without
	// Unwrap) still gets every byte, only later.
	if err := w.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		w.err = fmt.Errorf("stream: flush: %w", err)
	}
}

// oneLine returns msg compacted when it holds a line break, which would
// otherwise split an NDJSON record. The result is valid until the next call.
func (w *Writer) oneLine(msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, '\n') < 0 && bytes.IndexByte(msg, '\r') < 0 {
		return msg, nil
	}
	w.scratch.Reset()
	if err := json.Compact(&w.scratch, msg); err != nil {
		return nil, fmt.Errorf("stream: message with a line break is not JSON: %w", err)
	}
	return w.scratch.Bytes(), nil
}

// appendData appends msg as SSE data: lines. A CR, LF or CRLF in msg ends a
// line for an SSE parser, so each line of msg gets its own data: field (the
// client joins them with LF); left in place, it could end the event early
// or start another field.
func appendData(b, msg []byte) []byte {
	for {
		i := bytes.IndexAny(msg, "\r\n")
		line := msg
		if i >= 0 {
			line = msg[:i]
		}
		if len(line) == 0 {
			b = append(b, "data:\n"...) // no trailing space for editors to strip from goldens
		} else {
			b = append(b, "data: "...)
			b = append(b, line...)
			b = append(b, '\n')
		}
		if i < 0 {
			return b
		}
		if msg[i] == '\r' && i+1 < len(msg) && msg[i+1] == '\n' {
			i++
		}
		msg = msg[i+1:]
	}
}

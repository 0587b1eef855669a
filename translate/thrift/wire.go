package thrift

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
)

// This file is the byte level of the binary and compact protocols: an
// append-only encoder and a bounds-checked decoder over a byte slice. The
// codec does not use Apache's TProtocol: every request is encoded into one
// buffer and every reply decoded from one, so a per-value interface call
// and a context argument bought nothing, and owning the decoder means every
// length prefix is checked against the bytes actually present before it
// drives a loop or an allocation (see decoder.count).

// wireType is a field or element type as the binary protocol writes it
// (Apache's TType values); compact's codes are translated at the edges.
type wireType byte

const (
	tStop   wireType = 0
	tBool   wireType = 2
	tByte   wireType = 3
	tDouble wireType = 4
	tI16    wireType = 6
	tI32    wireType = 8
	tI64    wireType = 10
	tString wireType = 11
	tStruct wireType = 12
	tMap    wireType = 13
	tSet    wireType = 14
	tList   wireType = 15
	tUUID   wireType = 16
)

func (t wireType) String() string {
	switch t {
	case tStop:
		return "stop"
	case tBool:
		return "bool"
	case tByte:
		return "byte"
	case tDouble:
		return "double"
	case tI16:
		return "i16"
	case tI32:
		return "i32"
	case tI64:
		return "i64"
	case tString:
		return "string"
	case tStruct:
		return "struct"
	case tMap:
		return "map"
	case tSet:
		return "set"
	case tList:
		return "list"
	case tUUID:
		return "uuid"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// minSize is the fewest bytes one value of type t takes on the wire, for
// checking container counts against what is left before looping.
func (t wireType) minSize(compact bool) int {
	switch t {
	case tDouble:
		return 8
	case tUUID:
		return 16
	}
	if compact {
		return 1 // varints, length-prefixed strings and STOP all take one byte or more
	}
	switch t {
	case tI16:
		return 2
	case tI32, tString:
		return 4
	case tI64:
		return 8
	case tList, tSet:
		return 5
	case tMap:
		return 6
	}
	return 1
}

// Compact protocol type codes.
const (
	cTrue   = 1
	cFalse  = 2
	cByte   = 3
	cI16    = 4
	cI32    = 5
	cI64    = 6
	cDouble = 7
	cBinary = 8
	cList   = 9
	cSet    = 10
	cMap    = 11
	cStruct = 12
	cUUID   = 13
)

var toCompact = [...]byte{
	tBool: cTrue, tByte: cByte, tI16: cI16, tI32: cI32, tI64: cI64, tDouble: cDouble,
	tString: cBinary, tList: cList, tSet: cSet, tMap: cMap, tStruct: cStruct, tUUID: cUUID,
}

var fromCompact = [...]wireType{
	cTrue: tBool, cFalse: tBool, cByte: tByte, cI16: tI16, cI32: tI32, cI64: tI64, cDouble: tDouble,
	cBinary: tString, cList: tList, cSet: tSet, cMap: tMap, cStruct: tStruct, cUUID: tUUID,
}

// MessageType is a Thrift message's type.
type MessageType byte

const (
	Call      MessageType = 1
	Reply     MessageType = 2
	Exception MessageType = 3
	Oneway    MessageType = 4
)

func (t MessageType) String() string {
	switch t {
	case Call:
		return "CALL"
	case Reply:
		return "REPLY"
	case Exception:
		return "EXCEPTION"
	case Oneway:
		return "ONEWAY"
	}
	return fmt.Sprintf("message type %d", byte(t))
}

const (
	binaryVersion1    = 0x80010000
	binaryVersionMask = 0xffff0000
	compactProtocolID = 0x82
	compactVersion    = 1
)

// encoder appends one protocol's encoding to buf.
type encoder struct {
	buf     []byte
	compact bool
}

// fieldHeader writes a field header. last is the enclosing struct's
// previous field id, which compact's delta encoding needs. A compact bool
// field is written by boolField instead.
func (e *encoder) fieldHeader(t wireType, id int16, last *int16) {
	if !e.compact {
		e.buf = append(e.buf, byte(t), byte(uint16(id)>>8), byte(id))
		return
	}
	e.compactHeader(toCompact[t], id, last)
}

func (e *encoder) compactHeader(ct byte, id int16, last *int16) {
	if id > *last && int(id)-int(*last) <= 15 {
		e.buf = append(e.buf, byte(id-*last)<<4|ct)
	} else {
		e.buf = append(e.buf, ct)
		e.varint(uint64(zigzag32(int32(id))))
	}
	*last = id
}

// boolField writes a bool field: compact folds the value into the header.
func (e *encoder) boolField(id int16, v bool, last *int16) {
	if !e.compact {
		e.fieldHeader(tBool, id, last)
		e.bool(v)
		return
	}
	ct := byte(cFalse)
	if v {
		ct = cTrue
	}
	e.compactHeader(ct, id, last)
}

func (e *encoder) stop() { e.buf = append(e.buf, 0) }

func (e *encoder) bool(v bool) {
	switch {
	case e.compact && v:
		e.buf = append(e.buf, cTrue)
	case e.compact:
		e.buf = append(e.buf, cFalse)
	case v:
		e.buf = append(e.buf, 1)
	default:
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) byte(v int8) { e.buf = append(e.buf, byte(v)) }

func (e *encoder) i16(v int16) {
	if e.compact {
		e.varint(uint64(zigzag32(int32(v))))
		return
	}
	e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(v))
}

func (e *encoder) i32(v int32) {
	if e.compact {
		e.varint(uint64(zigzag32(v)))
		return
	}
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v))
}

func (e *encoder) i64(v int64) {
	if e.compact {
		e.varint(zigzag64(v))
		return
	}
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
}

func (e *encoder) double(v float64) {
	if e.compact {
		e.buf = binary.LittleEndian.AppendUint64(e.buf, math.Float64bits(v))
		return
	}
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(v))
}

func (e *encoder) binaryLen(n int) {
	if e.compact {
		e.varint(uint64(uint32(n)))
		return
	}
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
}

func (e *encoder) string(s string) {
	e.binaryLen(len(s))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.binaryLen(len(b))
	e.buf = append(e.buf, b...)
}

func (e *encoder) uuid(u [16]byte) { e.buf = append(e.buf, u[:]...) }

func (e *encoder) varint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Container headers are written before their elements are known when the
// source is JSON, so a header is reserved and fixed up afterwards:
// listStart returns the mark to pass to listEnd with the final count.
// Binary headers have a fixed size and are patched in place; compact
// headers are varints, so the elements move back over the unused bytes
// (one memmove, cheaper than counting JSON elements in a second pass).
const maxCompactHeader = 6 // one type byte and a five-byte varint

func (e *encoder) listStart() int {
	mark := len(e.buf)
	n := 5 // type byte and i32 count
	if e.compact {
		n = maxCompactHeader
	}
	e.buf = append(e.buf, zeros[:n]...)
	return mark
}

func (e *encoder) mapStart() int {
	mark := len(e.buf)
	n := 6 // two type bytes and i32 count
	if e.compact {
		n = maxCompactHeader
	}
	e.buf = append(e.buf, zeros[:n]...)
	return mark
}

var zeros [8]byte

// listEnd completes a list or set header reserved at mark.
func (e *encoder) listEnd(mark int, elem wireType, n int) {
	if !e.compact {
		e.buf[mark] = byte(elem)
		binary.BigEndian.PutUint32(e.buf[mark+1:], uint32(n))
		return
	}
	var hdr [maxCompactHeader]byte
	h := hdr[:0]
	if n <= 14 {
		h = append(h, byte(n<<4)|toCompact[elem])
	} else {
		h = append(h, 0xf0|toCompact[elem])
		h = binary.AppendUvarint(h, uint64(uint32(n)))
	}
	e.fixHeader(mark, h)
}

// mapEnd completes a map header reserved at mark.
func (e *encoder) mapEnd(mark int, key, val wireType, n int) {
	if !e.compact {
		e.buf[mark] = byte(key)
		e.buf[mark+1] = byte(val)
		binary.BigEndian.PutUint32(e.buf[mark+2:], uint32(n))
		return
	}
	var hdr [maxCompactHeader]byte
	h := hdr[:0]
	if n == 0 {
		h = append(h, 0)
	} else {
		h = binary.AppendUvarint(h, uint64(uint32(n)))
		h = append(h, toCompact[key]<<4|toCompact[val])
	}
	e.fixHeader(mark, h)
}

func (e *encoder) fixHeader(mark int, h []byte) {
	copy(e.buf[mark:], h)
	if len(h) < maxCompactHeader {
		n := copy(e.buf[mark+len(h):], e.buf[mark+maxCompactHeader:])
		e.buf = e.buf[:mark+len(h)+n]
	}
}

// listHeader writes a header whose count is known up front.
func (e *encoder) listHeader(elem wireType, n int) {
	if !e.compact {
		e.buf = append(e.buf, byte(elem))
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
		return
	}
	if n <= 14 {
		e.buf = append(e.buf, byte(n<<4)|toCompact[elem])
		return
	}
	e.buf = append(e.buf, 0xf0|toCompact[elem])
	e.varint(uint64(uint32(n)))
}

func (e *encoder) mapHeader(key, val wireType, n int) {
	if !e.compact {
		e.buf = append(e.buf, byte(key), byte(val))
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
		return
	}
	if n == 0 {
		e.buf = append(e.buf, 0)
		return
	}
	e.varint(uint64(uint32(n)))
	e.buf = append(e.buf, toCompact[key]<<4|toCompact[val])
}

// messageBegin writes a message envelope: strict binary (the version word),
// or compact.
func (e *encoder) messageBegin(name string, typ MessageType, seq int32) {
	if !e.compact {
		e.buf = binary.BigEndian.AppendUint32(e.buf, binaryVersion1|uint32(typ))
		e.string(name)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(seq))
		return
	}
	e.buf = append(e.buf, compactProtocolID, compactVersion|byte(typ)<<5)
	e.varint(uint64(uint32(seq)))
	e.string(name)
}

func zigzag32(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }
func zigzag64(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// errWire is a malformed or oversized encoding; the message says what and
// where, never with bytes of the payload.
type errWire struct{ msg string }

func (e *errWire) Error() string { return e.msg }

func wireErrorf(format string, args ...any) error { return &errWire{fmt.Sprintf(format, args...)} }

var errTruncated = &errWire{"truncated data"}

// decoder reads one protocol from a byte slice. Errors are sticky: after
// the first one every read returns zero values and err stays set, so loops
// need only check err once per iteration, and the position jumps to the end
// so that no loop can run on.
//
// With src set the decoder streams: bytes are read from src as they are
// needed and appended to b, never beyond limit, so the buffered transport
// (no frame to say where a message ends) is walked by the same code that
// decodes a frame.
type decoder struct {
	b       []byte
	i       int
	compact bool
	err     error
	src     *bufio.Reader
	limit   int
	// want is the message name the reader expects: a name equal to it is
	// returned without a copy.
	want string
}

// ioError is a failure of the connection under a streaming decoder, as
// opposed to bytes that make no sense.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.i = len(d.b)
}

// avail is how many more bytes there can be: what is left of b, or for a
// streaming decoder what is left under the limit.
func (d *decoder) avail() int {
	if d.src != nil {
		return d.limit - d.i
	}
	return len(d.b) - d.i
}

// readChunk bounds each read while streaming, so that a length prefix
// makes the buffer grow only as fast as bytes actually arrive.
const readChunk = 64 << 10

// need makes n bytes available at d.i, reading them if streaming.
func (d *decoder) need(n int) bool {
	if n >= 0 && len(d.b)-d.i >= n {
		return true
	}
	switch {
	case d.err != nil:
		return false
	case n < 0 || d.src == nil:
		d.fail(errTruncated)
		return false
	case n > d.limit-d.i:
		d.fail(wireErrorf("message exceeds the limit of %d bytes", d.limit))
		return false
	}
	for len(d.b)-d.i < n {
		chunk := min(n-(len(d.b)-d.i), readChunk)
		d.b = slices.Grow(d.b, chunk)
		m, err := io.ReadFull(d.src, d.b[len(d.b):len(d.b)+chunk])
		d.b = d.b[:len(d.b)+m]
		if err != nil {
			d.fail(&ioError{err})
			return false
		}
	}
	return true
}

func (d *decoder) take(n int) []byte {
	if !d.need(n) {
		return nil
	}
	s := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return s
}

func (d *decoder) readByte() byte {
	if d.i >= len(d.b) && !d.need(1) {
		return 0
	}
	c := d.b[d.i]
	d.i++
	return c
}

func (d *decoder) uvarint(maxBytes int) uint64 {
	var v uint64
	for shift, n := uint(0), 0; ; shift += 7 {
		if n == maxBytes {
			d.fail(wireErrorf("varint too long"))
			return 0
		}
		c := d.readByte()
		if d.err != nil {
			return 0
		}
		n++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

func unzigzag32(v uint32) int32 { return int32(v>>1) ^ -int32(v&1) }
func unzigzag64(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// fieldHeader reads a field header. For a compact bool field the value is
// in the header: boolVal holds it. last is the enclosing struct's previous
// field id.
func (d *decoder) fieldHeader(last *int16) (t wireType, id int16, boolVal bool) {
	c := d.readByte()
	if d.err != nil || c == 0 {
		return tStop, 0, false
	}
	if !d.compact {
		t = wireType(c)
		id = int16(d.u16())
		return t, id, false
	}
	ct := c & 0x0f
	if delta := c >> 4; delta != 0 {
		id = *last + int16(delta)
	} else {
		id = int16(unzigzag32(uint32(d.uvarint(3))))
	}
	*last = id
	if int(ct) >= len(fromCompact) || fromCompact[ct] == 0 {
		d.fail(wireErrorf("unknown compact type %d", ct))
		return tStop, 0, false
	}
	return fromCompact[ct], id, ct == cTrue
}

func (d *decoder) u16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) bool() bool {
	c := d.readByte()
	if d.compact {
		switch c {
		case cTrue:
			return true
		case cFalse, 0: // some implementations write 0 for false
			return false
		}
	} else {
		switch c {
		case 1:
			return true
		case 0:
			return false
		}
	}
	if d.err == nil {
		d.fail(wireErrorf("invalid bool byte %d", c))
	}
	return false
}

func (d *decoder) byte() int8 { return int8(d.readByte()) }

func (d *decoder) i16() int16 {
	if d.compact {
		return int16(unzigzag32(uint32(d.uvarint(3))))
	}
	return int16(d.u16())
}

func (d *decoder) i32() int32 {
	if d.compact {
		return unzigzag32(uint32(d.uvarint(5)))
	}
	return int32(d.u32())
}

func (d *decoder) i64() int64 {
	if d.compact {
		return unzigzag64(d.uvarint(10))
	}
	return int64(d.u64())
}

func (d *decoder) double() float64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	if d.compact {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b))
}

// binary returns a string or binary's bytes, aliasing the input.
func (d *decoder) binary() []byte {
	var n int64
	if d.compact {
		n = int64(uint32(d.uvarint(5)))
	} else {
		n = int64(int32(d.u32()))
	}
	if d.err != nil {
		return nil
	}
	if n < 0 {
		d.fail(wireErrorf("negative length %d", n))
		return nil
	}
	if n > int64(d.avail()) {
		d.fail(wireErrorf("length %d exceeds the %d bytes left", n, d.avail()))
		return nil
	}
	return d.take(int(n))
}

func (d *decoder) uuid() []byte { return d.take(16) }

// count checks a container's element count against the bytes left: every
// element takes at least minSize bytes, so a count that cannot fit is
// rejected before it drives a loop. This is what makes a hostile 2^31
// list header cost nothing.
func (d *decoder) count(n int64, minSize int) int {
	if d.err != nil {
		return 0
	}
	if n < 0 {
		d.fail(wireErrorf("negative container size %d", n))
		return 0
	}
	if n*int64(minSize) > int64(d.avail()) {
		d.fail(wireErrorf("container of %d elements cannot fit in the %d bytes left", n, d.avail()))
		return 0
	}
	return int(n)
}

func (d *decoder) elemType(ct byte) wireType {
	if !d.compact {
		return wireType(ct)
	}
	if int(ct) >= len(fromCompact) || fromCompact[ct] == 0 {
		d.fail(wireErrorf("unknown compact type %d", ct))
		return tStop
	}
	return fromCompact[ct]
}

// listHeader reads a list or set header.
func (d *decoder) listHeader() (elem wireType, n int) {
	var size int64
	if d.compact {
		c := d.readByte()
		size = int64(c >> 4)
		if size == 15 {
			size = int64(uint32(d.uvarint(5)))
		}
		elem = d.elemType(c & 0x0f)
	} else {
		elem = wireType(d.readByte())
		size = int64(int32(d.u32()))
	}
	if d.err != nil {
		return tStop, 0
	}
	return elem, d.count(size, elem.minSize(d.compact))
}

// mapHeader reads a map header.
func (d *decoder) mapHeader() (key, val wireType, n int) {
	var size int64
	if d.compact {
		size = int64(uint32(d.uvarint(5)))
		if size != 0 {
			c := d.readByte()
			key, val = d.elemType(c>>4), d.elemType(c&0x0f)
		}
	} else {
		key, val = wireType(d.readByte()), wireType(d.readByte())
		size = int64(int32(d.u32()))
	}
	if d.err != nil {
		return tStop, tStop, 0
	}
	return key, val, d.count(size, key.minSize(d.compact)+val.minSize(d.compact))
}

// skip reads over one value of type t, depth levels below the limit.
func (d *decoder) skip(t wireType, depth int) {
	if depth <= 0 {
		d.fail(wireErrorf("nested too deeply"))
		return
	}
	switch t {
	case tBool:
		d.bool()
	case tByte:
		d.readByte()
	case tI16:
		d.i16()
	case tI32:
		d.i32()
	case tI64:
		d.i64()
	case tDouble:
		d.take(8)
	case tString:
		d.binary()
	case tUUID:
		d.take(16)
	case tStruct:
		var last int16
		for d.err == nil {
			ft, _, _ := d.fieldHeader(&last)
			if ft == tStop {
				return
			}
			if d.compact && ft == tBool {
				continue // the value was in the header
			}
			d.skip(ft, depth-1)
		}
	case tList, tSet:
		elem, n := d.listHeader()
		for i := 0; i < n && d.err == nil; i++ {
			d.skip(elem, depth-1)
		}
	case tMap:
		k, v, n := d.mapHeader()
		for i := 0; i < n && d.err == nil; i++ {
			d.skip(k, depth-1)
			d.skip(v, depth-1)
		}
	default:
		d.fail(wireErrorf("unknown field type %d", byte(t)))
	}
}

// Message is one Thrift message: the envelope and the encoded struct that
// follows it (arguments, result or TApplicationException).
type Message struct {
	Name  string
	Type  MessageType
	SeqID int32
	Body  []byte
}

// messageBegin reads an envelope: strict binary (version word), old
// non-strict binary (name length first), or compact.
func (d *decoder) messageBegin(maxName int) (name string, typ MessageType, seq int32) {
	if d.compact {
		if id := d.readByte(); d.err == nil && id != compactProtocolID {
			d.fail(wireErrorf("not a compact protocol message (first byte 0x%02x)", id))
			return
		}
		vt := d.readByte()
		if d.err == nil && vt&0x1f != compactVersion {
			d.fail(wireErrorf("unsupported compact protocol version %d", vt&0x1f))
			return
		}
		typ = MessageType(vt >> 5 & 0x07)
		seq = int32(uint32(d.uvarint(5)))
		n := int64(uint32(d.uvarint(5)))
		name = d.name(n, maxName)
		return name, typ, seq
	}
	w := int32(d.u32())
	if d.err != nil {
		return
	}
	if w < 0 {
		if uint32(w)&binaryVersionMask != binaryVersion1 {
			d.fail(wireErrorf("unsupported binary protocol version 0x%08x", uint32(w)&binaryVersionMask))
			return
		}
		typ = MessageType(uint32(w) & 0xff)
		n := int64(int32(d.u32()))
		name = d.name(n, maxName)
		seq = int32(d.u32())
		return name, typ, seq
	}
	// Non-strict: w is the name's length, then the type byte.
	name = d.name(int64(w), maxName)
	typ = MessageType(d.readByte())
	seq = int32(d.u32())
	return name, typ, seq
}

func (d *decoder) name(n int64, maxName int) string {
	if d.err != nil {
		return ""
	}
	if n < 0 || n > int64(maxName) {
		d.fail(wireErrorf("message name of %d bytes", n))
		return ""
	}
	b := d.take(int(n))
	if string(b) == d.want {
		return d.want
	}
	return string(b)
}

// maxNameBytes bounds a message name; method names are identifiers.
const maxNameBytes = 4096

type protocolID int

const (
	protoBinary protocolID = iota
	protoCompact
)

func parseProtocol(s string) (protocolID, error) {
	switch s {
	case "", "binary":
		return protoBinary, nil
	case "compact":
		return protoCompact, nil
	}
	return 0, fmt.Errorf("unknown thrift protocol %q: want binary or compact", s)
}

func (p protocolID) String() string {
	if p == protoCompact {
		return "compact"
	}
	return "binary"
}

// TApplicationException types (Apache's numbering; 11 is the Go and Java
// libraries' VALIDATION_FAILED).
const (
	AppExUnknown            int32 = 0
	AppExUnknownMethod      int32 = 1
	AppExInvalidMessageType int32 = 2
	AppExWrongMethodName    int32 = 3
	AppExBadSequenceID      int32 = 4
	AppExMissingResult      int32 = 5
	AppExInternalError      int32 = 6
	AppExProtocolError      int32 = 7
	AppExInvalidTransform   int32 = 8
	AppExInvalidProtocol    int32 = 9
	AppExUnsupportedClient  int32 = 10
	AppExValidationFailed   int32 = 11

	appExMessageFieldID int16 = 1
	appExTypeFieldID    int16 = 2
)

var appExNames = [...]string{
	"UNKNOWN", "UNKNOWN_METHOD", "INVALID_MESSAGE_TYPE", "WRONG_METHOD_NAME", "BAD_SEQUENCE_ID",
	"MISSING_RESULT", "INTERNAL_ERROR", "PROTOCOL_ERROR", "INVALID_TRANSFORM", "INVALID_PROTOCOL",
	"UNSUPPORTED_CLIENT_TYPE", "VALIDATION_FAILED",
}

// AppExceptionName is the Apache name of a TApplicationException type.
func AppExceptionName(t int32) string {
	if t >= 0 && int(t) < len(appExNames) {
		return appExNames[t]
	}
	return fmt.Sprintf("TYPE_%d", t)
}

// AppExceptionType parses an Apache TApplicationException type name.
func AppExceptionType(name string) (int32, bool) {
	for i, n := range appExNames {
		if n == name {
			return int32(i), true
		}
	}
	return 0, false
}

// ApplicationException is a decoded TApplicationException.
type ApplicationException struct {
	Type    int32
	Message string
}

func (e *ApplicationException) Error() string {
	return "TApplicationException " + AppExceptionName(e.Type) + ": " + e.Message
}

// decodeAppException reads a TApplicationException struct: 1: string
// message, 2: i32 type. Other fields are skipped, as Apache does.
func decodeAppException(b []byte, compact bool) (*ApplicationException, error) {
	d := decoder{b: b, compact: compact}
	ex := &ApplicationException{}
	var last int16
	for d.err == nil {
		t, id, _ := d.fieldHeader(&last)
		switch {
		case t == tStop:
			if d.err != nil {
				return nil, d.err
			}
			return ex, nil
		case id == appExMessageFieldID && t == tString:
			ex.Message = string(d.binary())
		case id == appExTypeFieldID && t == tI32:
			ex.Type = d.i32()
		case d.compact && t == tBool:
		default:
			d.skip(t, maxWireDepth)
		}
	}
	return nil, d.err
}

// encodeAppException writes a TApplicationException struct.
func encodeAppException(dst []byte, compact bool, typ int32, message string) []byte {
	e := encoder{buf: dst, compact: compact}
	var last int16
	e.fieldHeader(tString, appExMessageFieldID, &last)
	e.string(message)
	e.fieldHeader(tI32, appExTypeFieldID, &last)
	e.i32(typ)
	e.stop()
	return e.buf
}

// maxWireDepth bounds nesting wherever the wire is walked without a schema
// (skipping unknown fields, capturing a buffered reply): deep enough for
// any real schema, shallow enough for the goroutine stack.
const maxWireDepth = MaxDepthLimit

// MaxDepthLimit is the deepest nesting a Binding or Codec may allow; the
// gateway caps its JSON depth limit to it for Thrift routes.
const MaxDepthLimit = 128

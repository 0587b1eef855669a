package wirejson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The renderer's errors. None reaches a client: any error sends the caller
// to the reference path, which gives its own answer.
var (
	errWire      = errors.New("wirejson: invalid wire data")
	errDepth     = ErrTooDeep
	errUTF8      = errors.New("wirejson: string is not valid UTF-8")
	errAny       = errors.New("wirejson: google.protobuf.Any is left to the reference path")
	errTimestamp = errors.New("wirejson: google.protobuf.Timestamp out of range")
	errDuration  = errors.New("wirejson: google.protobuf.Duration out of range")
	errFieldMask = errors.New("wirejson: google.protobuf.FieldMask path has no JSON form")
	errValue     = errors.New("wirejson: google.protobuf.Value has no kind, or a NaN or infinite number")
	errShape     = errors.New("wirejson: well-known type with an unexpected shape")
	errMapKey    = errors.New("wirejson: map entry loses its key to a key of another wire type")
	errNotField  = errors.New("wirejson: field is not one of the message's")
	errTooLarge  = errors.New("wirejson: reply too large")
)

// ErrTooDeep is AppendJSON's error for a reply nested deeper than
// Options.WireDepth, Any contents included. Unlike its other errors it is a
// verdict, not a referral: the reference path would let Any contents nest
// without bound.
var ErrTooDeep = errors.New("wirejson: reply nested deeper than the wire depth")

// AppendJSON appends to dst the JSON of the message of type m encoded in b,
// exactly as the reference path renders it: proto.UnmarshalOptions
// {AllowPartial, RecursionLimit: Options.WireDepth} into a dynamicpb message,
// then protojson.MarshalOptions{UseProtoNames, EmitUnpopulated,
// UseEnumNumbers, AllowPartial} and translate.CompactJSON.
//
// An error means only "use the reference path", which produces the real
// error or answer: the input does not decode, protojson would fail to write
// it, or it holds a google.protobuf.Any the plan's resolver cannot resolve.
func (m *Message) AppendJSON(dst, b []byte) ([]byte, error) {
	if len(b) > math.MaxInt32 {
		return dst, errTooLarge
	}
	r := getRenderer(m, dst, b)
	root := r.pushOcc(occ{start: 0, end: int32(len(b))})
	err := r.renderMessage(m, root, true, r.rootDepth())
	out := r.out
	r.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendFieldJSON appends the JSON of field f (a field of m) of the message
// encoded in b: the value protojson writes for that key. set is false when
// the field is unset, and nothing is appended: the caller writes its own
// zero. As in the reference path the whole message is decoded, so that
// invalid wire data anywhere is an error.
func (m *Message) AppendFieldJSON(dst, b []byte, f *Field) (out []byte, set bool, err error) {
	if f == nil || f.index >= len(m.Fields) || m.Fields[f.index] != f {
		return dst, false, errNotField
	}
	if m.WellKnown != NotWellKnown && m.WellKnown != Empty {
		// protojson renders these as a whole, not as an object of fields.
		return dst, false, errShape
	}
	if len(b) > math.MaxInt32 {
		return dst, false, errTooLarge
	}
	r := getRenderer(m, dst, b)
	set, err = r.renderField(m, f)
	out = r.out
	r.release()
	if err != nil {
		return dst, false, err
	}
	return out, set, nil
}

// occ is one occurrence on the wire of a message, a list element or packed
// run, or a map entry. A field's occurrences are chained in wire order (a
// message that occurs more than once is the merge of its segments).
// Indexes into renderer.occs start at 1, so that 0 is "none" and zeroed
// scratch is empty.
type occ struct {
	start, end int32  // the value's bytes: a length-delimited value's payload, or a varint or fixed value
	next       int32  // the field's next occurrence, or 0
	packed     bool   // a packed run of a list's elements
	bits       uint64 // a single numeric value, decoded (see canonicalBits)
}

// slot is what the index pass learnt of one field of a message. Its zero
// value is a field that did not occur.
type slot struct {
	first, last int32 // occurrence chain of a message, list or map field
	// count is a list's elements and a map's entries, and not zero once a
	// singular field occurred.
	count int32
	// A singular scalar's last value (the last one wins): its bytes and its
	// number.
	start, end int32
	bits       uint64
}

// mapEntry is one map entry, read for sorting.
type mapEntry struct {
	key     []byte // a string key
	keyBits uint64 // any other key (see canonicalBits)
	// A scalar value (the last one wins), or the chain of a message value's
	// segments (they merge).
	valStart, valEnd int32
	valBits          uint64
	hasVal           bool
	msg              int32
}

// renderer holds one render's scratch. Nested messages stack their slots,
// occurrences and map entries on top of their parent's and truncate them
// when done; indexes, not pointers, are kept across calls, as the slices
// grow.
type renderer struct {
	buf     []byte // the whole reply: every occurrence indexes it
	out     []byte
	opts    *Options
	slots   []slot
	occs    []occ
	oneofs  []int32 // while a message is indexed, its oneofs' set member (index+1, or 0)
	entries []mapEntry
}

var renderers = sync.Pool{New: func() any { return new(renderer) }}

func getRenderer(m *Message, dst, b []byte) *renderer {
	r := renderers.Get().(*renderer)
	r.buf, r.out, r.opts = b, dst, m.opts
	r.occs = append(r.occs[:0], occ{}) // index 0 is "none"
	return r
}

// release returns r to the pool without references to the caller's bytes;
// scratch grown by a huge reply is dropped rather than kept.
func (r *renderer) release() {
	r.buf, r.out, r.opts = nil, nil, nil
	clear(r.entries[:cap(r.entries)]) // string keys point into the reply
	const keep = 1 << 14
	if cap(r.slots) > keep || cap(r.occs) > keep || cap(r.entries) > keep || cap(r.oneofs) > keep {
		*r = renderer{}
	}
	r.slots, r.occs, r.oneofs, r.entries = r.slots[:0], r.occs[:0], r.oneofs[:0], r.entries[:0]
	renderers.Put(r)
}

// rootDepth is the depth left to the top-level message, counted as
// proto.UnmarshalOptions counts RecursionLimit: each message decoded takes
// one, a map entry one more.
func (r *renderer) rootDepth() int {
	limit := r.opts.WireDepth
	if limit == 0 {
		limit = protowire.DefaultRecursionLimit
	}
	return limit - 1
}

func (r *renderer) pushOcc(o occ) int32 {
	r.occs = append(r.occs, o)
	return int32(len(r.occs) - 1)
}

// chain appends an occurrence to the field of slot si.
func (r *renderer) chain(si int, o occ) {
	o.next = 0
	i := r.pushOcc(o)
	sl := &r.slots[si]
	if sl.first == 0 {
		sl.first = i
	} else {
		r.occs[sl.last].next = i
	}
	sl.last = i
}

// renderMessage writes the message m held in the occurrence chain from
// first (only that occurrence if one; none if first is 0: the zero
// message). depth is what is left to m.
func (r *renderer) renderMessage(m *Message, first int32, one bool, depth int) error {
	if first != 0 && depth < 0 {
		return errDepth
	}
	switch m.WellKnown {
	case Any:
		if r.opts.Resolver == nil {
			return errAny
		}
	case Value:
		// Most Values are one scalar: written straight from the wire.
		if first != 0 && (one || r.occs[first].next == 0) {
			if done, err := r.emitScalarValue(m, r.occs[first]); done {
				return err
			}
		}
	}
	slotBase, occBase := len(r.slots), len(r.occs)
	err := r.index(m, first, one, depth)
	if err == nil {
		err = r.emitMessage(m, slotBase, depth)
	}
	r.slots, r.occs = r.slots[:slotBase], r.occs[:occBase]
	return err
}

// renderField renders field f of the top-level message m, decoding and
// checking all of m as the reference path does.
func (r *renderer) renderField(m *Message, f *Field) (bool, error) {
	depth := r.rootDepth()
	if depth < 0 {
		return false, errDepth
	}
	root := r.pushOcc(occ{start: 0, end: int32(len(r.buf))})
	base := len(r.slots)
	if err := r.index(m, root, true, depth); err != nil {
		return false, err
	}
	for i, g := range m.Fields {
		if g != f {
			if err := r.validateField(g, r.slots[base+i], depth); err != nil {
				return false, err
			}
		}
	}
	sl := r.slots[base+f.index]
	if !isSet(f, sl) {
		return false, nil
	}
	return true, r.emitValue(f, sl, depth)
}

// index reads the message in the chain from first into one slot per field
// of m, pushed on r.slots. Scalars are decoded and checked as they come;
// message values are left for their render, except those a oneof drops,
// which are checked at once, as the reference decoder decodes them too.
func (r *renderer) index(m *Message, first int32, one bool, depth int) error {
	base := len(r.slots)
	r.slots = slices.Grow(r.slots, len(m.Fields))[:base+len(m.Fields)]
	clear(r.slots[base:])
	oneofBase := len(r.oneofs)
	r.oneofs = slices.Grow(r.oneofs, m.Oneofs)[:oneofBase+m.Oneofs]
	clear(r.oneofs[oneofBase:])
	var err error
	for o := first; o != 0 && err == nil; o = r.occs[o].next {
		seg := r.occs[o]
		err = r.indexSegment(m, base, oneofBase, int(seg.start), int(seg.end), depth)
		if one {
			break
		}
	}
	r.oneofs = r.oneofs[:oneofBase]
	return err
}

func (r *renderer) indexSegment(m *Message, base, oneofBase, i, end, depth int) error {
	for i < end {
		num, wt, n := consumeTag(r.buf[i:end])
		if n < 0 {
			return errWire
		}
		i += n
		f := m.ByNumber(num)
		if f == nil {
			if i, n = skipValue(r.buf, i, end, num, wt); n < 0 {
				return errWire
			}
			continue
		}
		si := base + f.index
		switch {
		case f.Map:
			// The reference decoder counts the entry's depth before it
			// looks at the wire type.
			if depth == 0 {
				return errDepth
			}
			if wt != protowire.BytesType {
				break
			}
			s, e, err := r.consumeBytes(i, end)
			if err != nil {
				return err
			}
			r.chain(si, occ{start: int32(s), end: int32(e)})
			r.slots[si].count++
			i = e
			continue
		case f.List:
			if wt == f.WireType {
				o, next, err := r.consumeValue(f, i, end)
				if err != nil {
					return err
				}
				r.chain(si, o)
				r.slots[si].count++
				i = next
				continue
			}
			if f.Packable && wt == protowire.BytesType {
				s, e, err := r.consumeBytes(i, end)
				if err != nil {
					return err
				}
				count, err := r.countPacked(f, s, e)
				if err != nil {
					return err
				}
				r.chain(si, occ{start: int32(s), end: int32(e), packed: true})
				r.slots[si].count += int32(count)
				i = e
				continue
			}
		default:
			if wt != f.WireType {
				break
			}
			o, next, err := r.consumeValue(f, i, end)
			if err != nil {
				return err
			}
			i = next
			if f.Oneof >= 0 {
				if set := r.oneofs[oneofBase+f.Oneof]; set != int32(f.index)+1 {
					if set != 0 {
						// Setting a member clears the others.
						if err := r.drop(m.Fields[set-1], base+int(set-1), depth); err != nil {
							return err
						}
					}
					r.oneofs[oneofBase+f.Oneof] = int32(f.index) + 1
				}
			}
			sl := &r.slots[si]
			if f.Kind == protoreflect.MessageKind {
				r.chain(si, o) // occurrences merge
				sl = &r.slots[si]
			} else {
				sl.start, sl.end, sl.bits = o.start, o.end, o.bits // the last one wins
			}
			sl.count = 1
			continue
		}
		// A known field with another wire type is an unknown field.
		if i, n = skipValue(r.buf, i, end, num, wt); n < 0 {
			return errWire
		}
	}
	return nil
}

// drop unsets the field of slot si (a oneof member another replaced),
// checking the messages it held.
func (r *renderer) drop(f *Field, si, depth int) error {
	sl := r.slots[si]
	r.slots[si] = slot{}
	return r.validateField(f, sl, depth)
}

// validateField checks the messages and map entries a field holds that
// will not be rendered; its scalars were checked when indexed.
func (r *renderer) validateField(f *Field, sl slot, depth int) error {
	switch {
	case f.Map:
		for o := sl.first; o != 0; o = r.occs[o].next {
			if err := r.validateEntry(f, int(r.occs[o].start), int(r.occs[o].end), depth-1); err != nil {
				return err
			}
		}
	case f.Kind == protoreflect.MessageKind:
		for o := sl.first; o != 0; o = r.occs[o].next {
			if err := r.validate(f.Message, int(r.occs[o].start), int(r.occs[o].end), depth-1); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate checks that b[i:end] decodes as m at the given depth, without
// rendering it. Each occurrence of a field decodes or not on its own, so
// merges and oneofs do not matter here.
func (r *renderer) validate(m *Message, i, end, depth int) error {
	if depth < 0 {
		return errDepth
	}
	for i < end {
		num, wt, n := consumeTag(r.buf[i:end])
		if n < 0 {
			return errWire
		}
		i += n
		f := m.ByNumber(num)
		switch {
		case f == nil:
		case f.Map:
			if depth == 0 {
				return errDepth
			}
			if wt != protowire.BytesType {
				break
			}
			s, e, err := r.consumeBytes(i, end)
			if err != nil {
				return err
			}
			if err := r.validateEntry(f, s, e, depth-1); err != nil {
				return err
			}
			i = e
			continue
		case wt == f.WireType:
			o, next, err := r.consumeValue(f, i, end)
			if err != nil {
				return err
			}
			if f.Kind == protoreflect.MessageKind {
				if err := r.validate(f.Message, int(o.start), int(o.end), depth-1); err != nil {
					return err
				}
			}
			i = next
			continue
		case f.Packable && wt == protowire.BytesType:
			s, e, err := r.consumeBytes(i, end)
			if err != nil {
				return err
			}
			if _, err := r.countPacked(f, s, e); err != nil {
				return err
			}
			i = e
			continue
		}
		if i, n = skipValue(r.buf, i, end, num, wt); n < 0 {
			return errWire
		}
	}
	return nil
}

// validateEntry checks a map entry; depth is the entry's.
func (r *renderer) validateEntry(f *Field, i, end, depth int) error {
	occBase := len(r.occs)
	var e mapEntry
	err := r.parseEntry(f, i, end, &e)
	if err == nil {
		err = r.validateChain(f.MapValue, e.msg, depth-1)
	}
	r.occs = r.occs[:occBase]
	return err
}

// validateChain checks the segments of a map's message value.
func (r *renderer) validateChain(vf *Field, first int32, depth int) error {
	for o := first; o != 0; o = r.occs[o].next {
		if err := r.validate(vf.Message, int(r.occs[o].start), int(r.occs[o].end), depth); err != nil {
			return err
		}
	}
	return nil
}

// parseEntry reads a map entry: the last key, and the last scalar value or
// the chain of a message value's segments (they merge). A missing key or
// value is the zero value.
//
// A key followed by a key of another wire type is an error: protobuf-go
// (v1.36.12) loses the key it had and panics decoding into dynamicpb, which
// the reference path reports as an invalid reply.
func (r *renderer) parseEntry(f *Field, i, end int, e *mapEntry) error {
	*e = mapEntry{}
	kf, vf := f.MapKey, f.MapValue
	var last int32
	haveKey, keyLost := false, false
	for i < end {
		num, wt, n := consumeTag(r.buf[i:end])
		if n < 0 {
			return errWire
		}
		i += n
		switch {
		case num == 1 && wt == kf.WireType:
			o, next, err := r.consumeValue(kf, i, end)
			if err != nil {
				return err
			}
			e.key, e.keyBits = r.buf[o.start:o.end], o.bits
			haveKey, keyLost = true, false
			i = next
		case num == 2 && wt == vf.WireType:
			o, next, err := r.consumeValue(vf, i, end)
			if err != nil {
				return err
			}
			if vf.Kind == protoreflect.MessageKind {
				o.next = 0
				at := r.pushOcc(o)
				if last != 0 {
					r.occs[last].next = at
				} else {
					e.msg = at
				}
				last = at
			} else {
				e.valStart, e.valEnd, e.valBits, e.hasVal = o.start, o.end, o.bits, true
			}
			i = next
		default:
			keyLost = keyLost || num == 1 && haveKey
			if i, n = skipValue(r.buf, i, end, num, wt); n < 0 {
				return errWire
			}
		}
	}
	if keyLost {
		return errMapKey
	}
	return nil
}

// consumeTag reads a field's key; n < 0 for a key the reference decoder
// rejects (truncated, field number 0 or above the maximum).
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	var v uint64
	var n int
	if len(b) > 0 && b[0] < 0x80 {
		v, n = uint64(b[0]), 1
	} else if v, n = protowire.ConsumeVarint(b); n < 0 {
		return 0, 0, -1
	}
	num := v >> 3
	if num < uint64(protowire.MinValidNumber) || num > uint64(protowire.MaxValidNumber) {
		return 0, 0, -1
	}
	return protowire.Number(num), protowire.Type(v & 7), n
}

// skipValue skips an unknown field's value at b[i:end], as the reference
// decoder does; n < 0 when it is invalid.
func skipValue(b []byte, i, end int, num protowire.Number, wt protowire.Type) (next, n int) {
	n = protowire.ConsumeFieldValue(num, wt, b[i:end])
	return i + n, n
}

func (r *renderer) consumeBytes(i, end int) (start, stop int, err error) {
	l, n := protowire.ConsumeVarint(r.buf[i:end])
	if n < 0 || l > uint64(end-i-n) {
		return 0, 0, errWire
	}
	start = i + n
	return start, start + int(l), nil
}

// consumeValue reads one value of f (f.WireType, not packed) at
// r.buf[i:end], checked as the reference decoder checks it.
func (r *renderer) consumeValue(f *Field, i, end int) (o occ, next int, err error) {
	switch f.WireType {
	case protowire.VarintType:
		var v uint64
		var n int
		if i < end && r.buf[i] < 0x80 {
			v, n = uint64(r.buf[i]), 1
		} else if v, n = protowire.ConsumeVarint(r.buf[i:end]); n < 0 {
			return o, 0, errWire
		}
		return occ{start: int32(i), end: int32(i + n), bits: canonicalBits(f.Kind, v)}, i + n, nil
	case protowire.Fixed32Type:
		if end-i < 4 {
			return o, 0, errWire
		}
		v := uint64(binary.LittleEndian.Uint32(r.buf[i:]))
		return occ{start: int32(i), end: int32(i + 4), bits: canonicalBits(f.Kind, v)}, i + 4, nil
	case protowire.Fixed64Type:
		if end-i < 8 {
			return o, 0, errWire
		}
		v := binary.LittleEndian.Uint64(r.buf[i:])
		return occ{start: int32(i), end: int32(i + 8), bits: v}, i + 8, nil
	default:
		s, e, err := r.consumeBytes(i, end)
		if err != nil {
			return o, 0, err
		}
		if f.ValidateUTF8 && !utf8.Valid(r.buf[s:e]) {
			return o, 0, errUTF8
		}
		return occ{start: int32(s), end: int32(e)}, e, nil
	}
}

// countPacked checks a packed run and counts its elements.
func (r *renderer) countPacked(f *Field, s, e int) (int, error) {
	switch f.WireType {
	case protowire.Fixed32Type:
		if (e-s)%4 != 0 {
			return 0, errWire
		}
		return (e - s) / 4, nil
	case protowire.Fixed64Type:
		if (e-s)%8 != 0 {
			return 0, errWire
		}
		return (e - s) / 8, nil
	}
	count := 0
	for i := s; i < e; count++ {
		if r.buf[i] < 0x80 {
			i++
			continue
		}
		_, n := protowire.ConsumeVarint(r.buf[i:e])
		if n < 0 {
			return 0, errWire
		}
		i += n
	}
	return count, nil
}

// canonicalBits is a numeric wire value as the field's kind reads it, so
// that zero means the zero value: 32-bit integers and enums truncated (and
// sign-extended), zigzag undone, bools 0 or 1, floats their IEEE bits.
func canonicalBits(k protoreflect.Kind, v uint64) uint64 {
	switch k {
	case protoreflect.BoolKind:
		if v != 0 {
			return 1
		}
		return 0
	case protoreflect.Int32Kind, protoreflect.EnumKind, protoreflect.Sfixed32Kind:
		return uint64(int64(int32(v)))
	case protoreflect.Sint32Kind:
		return uint64(int64(int32(protowire.DecodeZigZag(v & math.MaxUint32))))
	case protoreflect.Uint32Kind:
		return uint64(uint32(v))
	case protoreflect.Sint64Kind:
		return uint64(protowire.DecodeZigZag(v))
	}
	return v
}

// isSet says whether the reference's message would have the field (Has).
func isSet(f *Field, sl slot) bool {
	switch {
	case sl.count == 0:
		return false
	case f.List || f.Map || f.Presence:
		return true
	case f.WireType == protowire.BytesType:
		return sl.end > sl.start
	}
	return sl.bits != 0 // -0.0 is set, as its bits are not zero
}

// emitMessage writes the message indexed at slots[base:].
func (r *renderer) emitMessage(m *Message, base, depth int) error {
	switch m.WellKnown {
	case Timestamp, Duration:
		secs, nanos, err := r.secondsNanos(m, base)
		if err != nil {
			return err
		}
		if m.WellKnown == Timestamp {
			r.out, err = appendTimestamp(r.out, secs, nanos)
		} else {
			r.out, err = appendDuration(r.out, secs, nanos)
		}
		return err
	case Wrapper:
		f := m.ByNumber(1)
		if f == nil || f.List || f.Map || f.Kind == protoreflect.MessageKind {
			return errShape
		}
		// The wrapped value, or its zero: a wrapper's JSON is never null.
		var err error
		if sl := r.slots[base+f.index]; sl.count != 0 {
			r.out, err = appendScalar(r.out, f, r.buf[sl.start:sl.end], sl.bits, r.opts.UseEnumNumbers)
		} else {
			r.out, err = appendScalar(r.out, f, f.defaultRaw, f.defaultBits, r.opts.UseEnumNumbers)
		}
		return err
	case FieldMask:
		f := m.ByNumber(1)
		if f == nil || !f.List || f.Kind != protoreflect.StringKind {
			return errShape
		}
		return r.emitFieldMask(r.slots[base+f.index])
	case Struct:
		f := m.ByNumber(1)
		if f == nil || !f.Map {
			return errShape
		}
		return r.emitMap(f, r.slots[base+f.index], depth)
	case ListValue:
		f := m.ByNumber(1)
		if f == nil || !f.List {
			return errShape
		}
		return r.emitList(f, r.slots[base+f.index], depth)
	case Any:
		return r.emitAny(m, base, depth)
	case Value:
		for i, f := range m.Fields {
			sl := r.slots[base+i]
			if f.Oneof < 0 || sl.count == 0 {
				continue
			}
			if f.Kind == protoreflect.DoubleKind {
				if v := math.Float64frombits(sl.bits); math.IsNaN(v) || math.IsInf(v, 0) {
					return errValue
				}
			}
			return r.emitValue(f, sl, depth)
		}
		return errValue
	}
	return r.emitFields(m, base, depth)
}

// emitAny writes a google.protobuf.Any as protojson does: its contents,
// whose type the plan's resolver finds by the type URL, as an object with
// "@type" first, or, for a well-known type, as {"@type":…,"value":…}. The
// reference decodes the contents with protobuf's default depth limit,
// afresh, and so does this.
func (r *renderer) emitAny(m *Message, base, depth int) error {
	urlField, valueField := m.ByNumber(1), m.ByNumber(2)
	if urlField == nil || valueField == nil || urlField.Kind != protoreflect.StringKind ||
		valueField.Kind != protoreflect.BytesKind || urlField.List || valueField.List {
		return errShape
	}
	urlSlot, valueSlot := r.slots[base+urlField.index], r.slots[base+valueField.index]
	if !isSet(urlField, urlSlot) {
		if isSet(valueField, valueSlot) {
			return errAny // the reference refuses a value without a type
		}
		r.out = append(r.out, '{', '}')
		return nil
	}
	url := r.buf[urlSlot.start:urlSlot.end]
	if !utf8.Valid(url) {
		return errAny
	}
	mt, err := r.opts.Resolver.FindMessageByURL(string(url))
	if err != nil {
		return errAny
	}
	inner, err := m.compiler.Compile(mt.Descriptor())
	if err != nil {
		return errAny
	}
	contents := r.pushOcc(occ{start: valueSlot.start, end: valueSlot.end})
	if valueSlot.count == 0 {
		r.occs[contents] = occ{}
	}
	// The reference decodes the contents afresh, with protobuf's default
	// limit, so a chain of Anys could nest without bound (a hostile
	// backend's reply that overflows the stack). Here the contents count
	// against the reply's own limit, and going past it is ErrTooDeep.
	depth--
	// Empty has no JSON form of its own, so it is an object like any other.
	if inner.WellKnown != NotWellKnown && inner.WellKnown != Empty {
		r.out = append(r.out, `{"@type":`...)
		r.out = appendQuoted(r.out, url)
		r.out = append(r.out, `,"value":`...)
		if err := r.renderMessage(inner, contents, true, depth); err != nil {
			return err
		}
		r.out = append(r.out, '}')
		return nil
	}
	start := len(r.out)
	if err := r.renderMessage(inner, contents, true, depth); err != nil {
		return err
	}
	// Put "@type" first in the object just written.
	head := appendQuoted(append(make([]byte, 0, len(url)+12), `"@type":`...), url)
	if r.out[start+1] != '}' {
		head = append(head, ',')
	}
	r.out = slices.Insert(r.out, start+1, head...)
	return nil
}

// emitScalarValue writes a google.protobuf.Value whose one segment holds
// exactly one field, a scalar member of its kind (null, number, string or
// bool) of the right wire type. done is false for any other Value, which
// the general path renders.
func (r *renderer) emitScalarValue(m *Message, seg occ) (done bool, err error) {
	i, end := int(seg.start), int(seg.end)
	num, wt, n := consumeTag(r.buf[i:end])
	if n < 0 {
		return false, nil
	}
	f := m.ByNumber(num)
	if f == nil || f.Oneof < 0 || f.Kind == protoreflect.MessageKind || wt != f.WireType {
		return false, nil
	}
	o, next, err := r.consumeValue(f, i+n, end)
	if err != nil || next != end {
		return false, nil
	}
	if f.Kind == protoreflect.DoubleKind {
		if v := math.Float64frombits(o.bits); math.IsNaN(v) || math.IsInf(v, 0) {
			return true, errValue
		}
	}
	r.out, err = appendScalar(r.out, f, r.buf[o.start:o.end], o.bits, r.opts.UseEnumNumbers)
	return true, err
}

// emitFields writes a message as an object of its fields, in declaration
// order.
func (r *renderer) emitFields(m *Message, base, depth int) error {
	r.out = append(r.out, '{')
	comma := false
	emitUnpopulated := r.opts.EmitUnpopulated
	for i, f := range m.Fields {
		sl := r.slots[base+i]
		set := isSet(f, sl)
		if !set && (!emitUnpopulated || f.unpopulated == nil) {
			continue
		}
		if f.badKey {
			return errUTF8
		}
		if comma {
			r.out = append(r.out, ',')
		}
		comma = true
		r.out = append(r.out, f.Key...)
		if !set {
			r.out = append(r.out, f.unpopulated...)
			continue
		}
		if err := r.emitValue(f, sl, depth); err != nil {
			return err
		}
	}
	r.out = append(r.out, '}')
	return nil
}

// emitValue writes the value of a set field of a message at depth.
func (r *renderer) emitValue(f *Field, sl slot, depth int) error {
	switch {
	case f.Map:
		return r.emitMap(f, sl, depth)
	case f.List:
		return r.emitList(f, sl, depth)
	case f.Kind == protoreflect.MessageKind:
		return r.renderMessage(f.Message, sl.first, false, depth-1)
	}
	var err error
	r.out, err = appendScalar(r.out, f, r.buf[sl.start:sl.end], sl.bits, r.opts.UseEnumNumbers)
	return err
}

func (r *renderer) emitList(f *Field, sl slot, depth int) error {
	r.out = append(r.out, '[')
	comma := false
	for o := sl.first; o != 0; o = r.occs[o].next {
		oc := r.occs[o]
		if oc.packed {
			var err error
			if r.out, err = r.appendPacked(r.out, f, int(oc.start), int(oc.end), comma); err != nil {
				return err
			}
			comma = comma || oc.end > oc.start
			continue
		}
		if comma {
			r.out = append(r.out, ',')
		}
		comma = true
		if f.Kind == protoreflect.MessageKind {
			if err := r.renderMessage(f.Message, o, true, depth-1); err != nil {
				return err
			}
			continue
		}
		var err error
		if r.out, err = appendScalar(r.out, f, r.buf[oc.start:oc.end], oc.bits, r.opts.UseEnumNumbers); err != nil {
			return err
		}
	}
	r.out = append(r.out, ']')
	return nil
}

// appendPacked writes the elements of a packed run, which countPacked
// checked.
func (r *renderer) appendPacked(out []byte, f *Field, s, e int, comma bool) ([]byte, error) {
	var err error
	for i := s; i < e; {
		var v uint64
		switch f.WireType {
		case protowire.Fixed32Type:
			v = uint64(binary.LittleEndian.Uint32(r.buf[i:]))
			i += 4
		case protowire.Fixed64Type:
			v = binary.LittleEndian.Uint64(r.buf[i:])
			i += 8
		default:
			var n int
			if r.buf[i] < 0x80 {
				v, n = uint64(r.buf[i]), 1
			} else {
				v, n = protowire.ConsumeVarint(r.buf[i:e])
			}
			i += n
		}
		if comma {
			out = append(out, ',')
		}
		comma = true
		if out, err = appendScalar(out, f, nil, canonicalBits(f.Kind, v), r.opts.UseEnumNumbers); err != nil {
			return out, err
		}
	}
	return out, nil
}

// emitMap writes a map's entries in protojson's order (order.GenericKeyOrder):
// false before true, numbers ascending, strings by byte; of entries with
// the same key the last wins.
func (r *renderer) emitMap(f *Field, sl slot, depth int) error {
	entryBase := len(r.entries)
	err := r.emitEntries(f, sl, entryBase, depth)
	r.entries = r.entries[:entryBase]
	return err
}

func (r *renderer) emitEntries(f *Field, sl slot, entryBase, depth int) error {
	for o := sl.first; o != 0; o = r.occs[o].next {
		r.entries = append(r.entries, mapEntry{})
		if err := r.parseEntry(f, int(r.occs[o].start), int(r.occs[o].end), &r.entries[len(r.entries)-1]); err != nil {
			return err
		}
	}
	kf, vf := f.MapKey, f.MapValue
	if entries := r.entries[entryBase:]; len(entries) > 1 {
		switch kf.Kind {
		case protoreflect.StringKind:
			slices.SortStableFunc(entries, compareStringKeys)
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			slices.SortStableFunc(entries, compareSignedKeys)
		default:
			slices.SortStableFunc(entries, compareUnsignedKeys)
		}
	}
	n := len(r.entries) - entryBase
	r.out = append(r.out, '{')
	comma := false
	for k := 0; k < n; k++ {
		e := r.entries[entryBase+k]
		if k+1 < n && sameKey(kf, e, r.entries[entryBase+k+1]) {
			// Replaced by a later entry, but decoded all the same.
			if vf.Kind == protoreflect.MessageKind {
				if err := r.validateChain(vf, e.msg, depth-2); err != nil {
					return err
				}
			}
			continue
		}
		if comma {
			r.out = append(r.out, ',')
		}
		comma = true
		var err error
		if r.out, err = appendKey(r.out, kf, e); err != nil {
			return err
		}
		switch {
		case vf.Kind == protoreflect.MessageKind:
			err = r.renderMessage(vf.Message, e.msg, false, depth-2)
		case e.hasVal:
			r.out, err = appendScalar(r.out, vf, r.buf[e.valStart:e.valEnd], e.valBits, r.opts.UseEnumNumbers)
		default:
			r.out, err = appendScalar(r.out, vf, vf.defaultRaw, vf.defaultBits, r.opts.UseEnumNumbers)
		}
		if err != nil {
			return err
		}
	}
	r.out = append(r.out, '}')
	return nil
}

func compareStringKeys(a, b mapEntry) int { return bytes.Compare(a.key, b.key) }

func compareSignedKeys(a, b mapEntry) int {
	x, y := int64(a.keyBits), int64(b.keyBits)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func compareUnsignedKeys(a, b mapEntry) int {
	switch {
	case a.keyBits < b.keyBits:
		return -1
	case a.keyBits > b.keyBits:
		return 1
	}
	return 0
}

func sameKey(kf *Field, a, b mapEntry) bool {
	if kf.Kind == protoreflect.StringKind {
		return bytes.Equal(a.key, b.key)
	}
	return a.keyBits == b.keyBits
}

// appendKey writes a map key as protojson's WriteName does, with its colon.
func appendKey(out []byte, kf *Field, e mapEntry) ([]byte, error) {
	switch kf.Kind {
	case protoreflect.StringKind:
		if !kf.ValidateUTF8 && !utf8.Valid(e.key) {
			return out, errUTF8
		}
		out = appendQuoted(out, e.key)
	case protoreflect.BoolKind:
		if e.keyBits != 0 {
			out = append(out, `"true"`...)
		} else {
			out = append(out, `"false"`...)
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(e.keyBits), 10)
		out = append(out, '"')
	default:
		out = append(out, '"')
		out = strconv.AppendUint(out, e.keyBits, 10)
		out = append(out, '"')
	}
	return append(out, ':'), nil
}

// secondsNanos reads a Timestamp's or Duration's fields (zero when unset).
func (r *renderer) secondsNanos(m *Message, base int) (secs int64, nanos int32, err error) {
	sf, nf := m.ByNumber(1), m.ByNumber(2)
	if sf == nil || nf == nil || sf.Kind != protoreflect.Int64Kind || nf.Kind != protoreflect.Int32Kind || sf.List || nf.List {
		return 0, 0, errShape
	}
	return int64(r.slots[base+sf.index].bits), int32(r.slots[base+nf.index].bits), nil
}

// The ranges protojson accepts (encoding/protojson/well_known_types.go).
const (
	maxTimestampSeconds = 253402300799
	minTimestampSeconds = -62135596800
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

// appendTimestamp writes RFC 3339 in UTC with 0, 3, 6 or 9 fractional
// digits, as protojson does (with time.Format, which is slower).
func appendTimestamp(out []byte, secs int64, nanos int32) ([]byte, error) {
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxNanos {
		return out, errTimestamp
	}
	days, clock := secs/86400, secs%86400
	if clock < 0 {
		days, clock = days-1, clock+86400
	}
	year, month, day := civil(days)
	out = append(out, '"')
	out = appendDigits(out, year, 4)
	out = append(out, '-')
	out = appendDigits(out, month, 2)
	out = append(out, '-')
	out = appendDigits(out, day, 2)
	out = append(out, 'T')
	out = appendDigits(out, clock/3600, 2)
	out = append(out, ':')
	out = appendDigits(out, clock/60%60, 2)
	out = append(out, ':')
	out = appendDigits(out, clock%60, 2)
	out = appendFraction(out, nanos)
	return append(out, 'Z', '"'), nil
}

// civil is the proleptic Gregorian date of a day counted from 1970-01-01
// (Howard Hinnant's civil_from_days).
func civil(days int64) (year, month, day int64) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // day of the 400-year era
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // year of the era
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // day of the year from March
	mp := (5*doy + 2) / 153                                // month from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendDuration writes seconds with 0, 3, 6 or 9 fractional digits and an
// s, as protojson does.
func appendDuration(out []byte, secs int64, nanos int32) ([]byte, error) {
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -maxNanos || nanos > maxNanos ||
		(secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return out, errDuration
	}
	out = append(out, '"')
	if secs < 0 || nanos < 0 {
		out = append(out, '-')
		secs, nanos = -secs, -nanos
	}
	out = strconv.AppendInt(out, secs, 10)
	out = appendFraction(out, nanos)
	return append(out, 's', '"'), nil
}

// appendFraction writes nanoseconds as protojson does: nine digits with
// whole groups of three zeros dropped from the end, and nothing for none.
func appendFraction(out []byte, nanos int32) []byte {
	switch {
	case nanos == 0:
		return out
	case nanos%1e6 == 0:
		return appendDigits(append(out, '.'), int64(nanos/1e6), 3)
	case nanos%1e3 == 0:
		return appendDigits(append(out, '.'), int64(nanos/1e3), 6)
	}
	return appendDigits(append(out, '.'), int64(nanos), 9)
}

// appendDigits writes v (not negative) in width digits, zero-padded.
func appendDigits(out []byte, v int64, width int) []byte {
	var digits [20]byte
	i := len(digits)
	for v > 0 || width > 0 {
		i--
		digits[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	return append(out, digits[i:]...)
}

// emitFieldMask writes the paths in lowerCamelCase joined by commas,
// refusing a path protojson refuses: not a valid name, or one whose camel
// case does not map back to it.
func (r *renderer) emitFieldMask(sl slot) error {
	r.out = append(r.out, '"')
	comma := false
	for o := sl.first; o != 0; o = r.occs[o].next {
		oc := r.occs[o]
		if comma {
			r.out = append(r.out, ',')
		}
		comma = true
		var ok bool
		if r.out, ok = appendCamelPath(r.out, r.buf[oc.start:oc.end]); !ok {
			return errFieldMask
		}
	}
	r.out = append(r.out, '"')
	return nil
}

// appendCamelPath appends strs.JSONCamelCase(path) when path is a valid
// full name and strs.JSONSnakeCase gives it back.
func appendCamelPath(out, path []byte) ([]byte, bool) {
	if !validFullName(path) {
		return out, false
	}
	start := len(out)
	afterUnderscore := false
	for _, c := range path {
		if c != '_' {
			if afterUnderscore && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
		}
		afterUnderscore = c == '_'
	}
	// Snake-case it back, comparing as we go.
	j := 0
	for _, c := range out[start:] {
		if 'A' <= c && c <= 'Z' {
			if j >= len(path) || path[j] != '_' {
				return out, false
			}
			j++
			c += 'a' - 'A'
		}
		if j >= len(path) || path[j] != c {
			return out, false
		}
		j++
	}
	return out, j == len(path)
}

// validFullName is protoreflect.FullName.IsValid: identifiers (a letter or
// underscore, then those and digits) joined by dots.
func validFullName(s []byte) bool {
	ident := 0 // length of the identifier so far
	for _, c := range s {
		switch {
		case c == '.':
			if ident == 0 {
				return false
			}
			ident = 0
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			ident++
		case '0' <= c && c <= '9':
			if ident == 0 {
				return false
			}
			ident++
		default:
			return false
		}
	}
	return ident > 0
}

// appendScalar writes a scalar as protojson does. raw is a string's or
// bytes' content, bits a numeric value (see canonicalBits).
func appendScalar(out []byte, f *Field, raw []byte, bits uint64, useEnumNumbers bool) ([]byte, error) {
	switch f.Kind {
	case protoreflect.BoolKind:
		if bits != 0 {
			return append(out, "true"...), nil
		}
		return append(out, "false"...), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(out, int64(bits), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(out, bits, 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// 64-bit integers are strings in JSON.
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(bits), 10)
		return append(out, '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		out = strconv.AppendUint(out, bits, 10)
		return append(out, '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(out, float64(math.Float32frombits(uint32(bits))), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(out, math.Float64frombits(bits), 64), nil
	case protoreflect.StringKind:
		// A proto2 string decodes whatever it holds; protojson then fails
		// to write one that is not UTF-8.
		if !f.ValidateUTF8 && !utf8.Valid(raw) {
			return out, errUTF8
		}
		return appendQuoted(out, raw), nil
	case protoreflect.BytesKind:
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, raw)
		return append(out, '"'), nil
	case protoreflect.EnumKind:
		if f.NullValue {
			return append(out, "null"...), nil
		}
		n := int32(bits)
		if !useEnumNumbers {
			if name := f.enumNames.lookup(n); name != nil {
				return append(out, name...), nil
			}
		}
		return strconv.AppendInt(out, int64(n), 10), nil
	}
	return out, errShape
}

// appendFloat is protojson's (internal/encoding/json): NaN and the
// infinities as strings, otherwise the shortest form that reads back as
// the same value of bitSize, in exponent form outside [1e-6, 1e21).
func appendFloat(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, format, -1, bitSize)
	if format == 'e' {
		// Exponents of one digit: e-07 becomes e-7.
		n := len(out)
		if n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes valid UTF-8 as a JSON string, escaped exactly as
// protojson escapes it: quote, backslash and control characters only,
// with \b \f \n \r \t and \u00xx otherwise.
func appendQuoted(out, s []byte) []byte {
	out = append(out, '"')
	start := 0
	for i, c := range s {
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}

// enumNames maps enum numbers to their quoted names.
type enumNames struct {
	dense  [][]byte // by number, for numbers 0 to len-1
	sparse map[int32][]byte
}

func newEnumNames(ed protoreflect.EnumDescriptor) *enumNames {
	values := ed.Values()
	names := &enumNames{}
	for i := 0; i < values.Len(); i++ {
		num := values.Get(i).Number()
		// ByNumber decides between aliases, as protojson asks it.
		name := appendQuoted(nil, []byte(values.ByNumber(num).Name()))
		if num >= 0 && num < 256 {
			for int(num) >= len(names.dense) {
				names.dense = append(names.dense, nil)
			}
			names.dense[num] = name
			continue
		}
		if names.sparse == nil {
			names.sparse = map[int32][]byte{}
		}
		names.sparse[int32(num)] = name
	}
	return names
}

func (e *enumNames) lookup(n int32) []byte {
	if e == nil {
		return nil
	}
	if n >= 0 && int(n) < len(e.dense) {
		return e.dense[n]
	}
	return e.sparse[n]
}

// defaultValue is a scalar field's default in the renderer's form.
func defaultValue(fd protoreflect.FieldDescriptor) (bits uint64, raw []byte) {
	v := fd.Default()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		if v.Bool() {
			return 1, nil
		}
		return 0, nil
	case protoreflect.EnumKind:
		return uint64(int64(v.Enum())), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return uint64(v.Int()), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint(), nil
	case protoreflect.FloatKind:
		return uint64(math.Float32bits(float32(v.Float()))), nil
	case protoreflect.DoubleKind:
		return math.Float64bits(v.Float()), nil
	case protoreflect.StringKind:
		return 0, []byte(v.String())
	case protoreflect.BytesKind:
		return 0, v.Bytes()
	}
	return 0, nil
}

// unpopulatedJSON is what protojson's EmitUnpopulated writes for f unset:
// nothing for oneof members (proto3 optional's synthetic oneof too), [] and
// {} for lists and maps, null for fields with presence, else the default.
func unpopulatedJSON(f *Field, useEnumNumbers bool) []byte {
	switch {
	case f.Desc.ContainingOneof() != nil:
		return nil
	case f.List:
		return []byte("[]")
	case f.Map:
		return []byte("{}")
	case f.Presence || f.Kind == protoreflect.MessageKind:
		return []byte("null")
	}
	out, err := appendScalar(nil, f, f.defaultRaw, f.defaultBits, useEnumNumbers)
	if err != nil {
		return nil
	}
	return out
}

package wirejson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/translate"
)

// This file writes a JSON request body as protobuf wire bytes while reading
// it. It takes only input the reference path (protojson with the plan's
// options) accepts, and writes what the reference would marshal, up to the
// order of fields and whether a zero implicit-presence scalar is written at
// all, neither of which changes what a backend decodes. Wherever taking an
// input exactly as protojson does would need protojson's own subtleties
// (integers written as 1e3 or 1.0, enum names a plan does not know, Any,
// null bodies), the encoder declines with errDecline and the reference path
// decides.

// errDecline is the encoder's one error: "not on the fast path". Which input
// it was is the reference path's to say, with a far better message.
var errDecline = errors.New("wirejson: input left to the reference path")

type encoder struct {
	in    []byte
	pos   int
	out   []byte
	depth int
	opts  *Options
	// keys holds, for the maps being written, where each entry's encoded
	// key sits in out, to find duplicate keys without allocating.
	keys []keySpan
}

type keySpan struct{ start, end int }

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// AppendWire appends to dst the wire encoding of the message of type m
// given as the JSON object body. An error means the input is left to the
// reference path; dst is then returned unchanged in length.
func (m *Message) AppendWire(dst, body []byte, opts *Options) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.in, e.pos, e.out, e.depth, e.opts = body, 0, dst, 0, opts
	err := e.topLevel(func() error { return e.message(m) })
	out := e.out
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendFieldWire appends the wire encoding of field f given the JSON value
// v: the body of a rule whose body is a repeated, map or scalar field.
func AppendFieldWire(dst []byte, f *Field, v []byte, opts *Options) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.in, e.pos, e.out, e.depth, e.opts = v, 0, dst, 0, opts
	err := e.topLevel(func() error {
		if e.peekNull() {
			return errDecline // a null body is no body: the reference's call
		}
		return e.field(f)
	})
	out := e.out
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

func (e *encoder) release() {
	e.in, e.out, e.opts, e.keys = nil, nil, nil, e.keys[:0]
	if cap(e.keys) > 1<<12 {
		e.keys = nil // a huge map's scratch is not kept in the pool
	}
	encoders.Put(e)
}

// topLevel reads one JSON value with whitespace around it and nothing else.
func (e *encoder) topLevel(value func() error) error {
	e.skipSpace()
	if err := value(); err != nil {
		return err
	}
	e.skipSpace()
	if e.pos != len(e.in) {
		return errDecline
	}
	return nil
}

func (e *encoder) skipSpace() {
	for e.pos < len(e.in) {
		switch e.in[e.pos] {
		case ' ', '\t', '\n', '\r':
			e.pos++
		default:
			return
		}
	}
}

// next returns the first byte of the next token, or 0 at the end.
func (e *encoder) next() byte {
	e.skipSpace()
	if e.pos < len(e.in) {
		return e.in[e.pos]
	}
	return 0
}

func (e *encoder) peekNull() bool {
	return e.next() == 'n'
}

// literal consumes the literal word w (true, false, null).
func (e *encoder) literal(w string) bool {
	if len(e.in)-e.pos < len(w) || string(e.in[e.pos:e.pos+len(w)]) != w {
		return false
	}
	e.pos += len(w)
	// A literal must not run on into a word: "nullx".
	if e.pos < len(e.in) && isWordByte(e.in[e.pos]) {
		return false
	}
	return true
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c >= 0x80
}

// message reads a JSON object of type m. The caller wrote the field's tag
// and length, if any.
func (e *encoder) message(m *Message) error {
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > e.maxDepth() {
		return errDecline
	}
	if m.WellKnown != NotWellKnown {
		return e.wellKnown(m)
	}
	if e.next() != '{' {
		return errDecline
	}
	e.pos++
	return e.fields(m, false)
}

// fields reads the members of an object as the fields of m, after its '{'.
// inAny skips the "@type" of an Any's contents.
func (e *encoder) fields(m *Message, inAny bool) error {
	seen := newSeenSet(m)
	if e.next() == '}' {
		e.pos++
		return nil
	}
	for {
		name, err := e.objectKey()
		if err != nil {
			return err
		}
		if inAny && string(name) == "@type" {
			// Found and checked before the contents were read.
			e.skipSpace()
			if _, err := e.stringToken(nil); err != nil {
				return err
			}
		} else if err := e.member(m, name, &seen); err != nil {
			return err
		}
		switch e.next() {
		case ',':
			e.pos++
		case '}':
			e.pos++
			return nil
		default:
			return errDecline
		}
	}
}

// seenSet records the fields and oneofs an object has named, to refuse a
// field named twice (under either name) and a second member of a oneof, as
// the reference does.
type seenSet struct {
	fieldsSmall, oneofsSmall uint64
	fieldsBig, oneofsBig     []bool // for messages with more than 64
}

func newSeenSet(m *Message) seenSet {
	var s seenSet
	if len(m.Fields) > 64 {
		s.fieldsBig = make([]bool, len(m.Fields))
	}
	if m.Oneofs > 64 {
		s.oneofsBig = make([]bool, m.Oneofs)
	}
	return s
}

// mark records i and reports whether it was new.
func mark(small *uint64, big []bool, i int) bool {
	if big != nil {
		if big[i] {
			return false
		}
		big[i] = true
		return true
	}
	if *small&(1<<i) != 0 {
		return false
	}
	*small |= 1 << i
	return true
}

// member reads the value of the object member name of a message m.
func (e *encoder) member(m *Message, name []byte, seen *seenSet) error {
	f := m.byName[string(name)]
	if f == nil {
		if len(name) > 1 && name[0] == '[' && name[len(name)-1] == ']' {
			return errDecline // an extension's name: the reference resolves it
		}
		if !e.opts.DiscardUnknown {
			return errDecline
		}
		return e.skipValue()
	}
	if !mark(&seen.fieldsSmall, seen.fieldsBig, f.Desc.Index()) {
		return errDecline
	}
	if e.peekNull() && f.List && (f.NullValue || f.Message != nil && f.Message.WellKnown == Value) {
		// protojson reads a Value's or NullValue's null as the list
		// itself, and refuses it.
		return errDecline
	}
	if e.peekNull() && !acceptsNull(f) {
		if !e.literal("null") {
			return errDecline
		}
		return nil // null is unset; it still counts as naming the field
	}
	if f.Oneof >= 0 && !mark(&seen.oneofsSmall, seen.oneofsBig, f.Oneof) {
		return errDecline
	}
	return e.field(f)
}

// acceptsNull: null is a value for google.protobuf.Value and NullValue, and
// means "unset" for every other field.
func acceptsNull(f *Field) bool {
	return f.NullValue || f.Message != nil && f.Message.WellKnown == Value && !f.List && !f.Map
}

// field reads the JSON value of f and writes its occurrences.
func (e *encoder) field(f *Field) error {
	switch {
	case f.Map:
		return e.mapField(f)
	case f.List:
		return e.listField(f)
	}
	return e.singular(f, !f.Presence)
}

// singular writes one value of f with its tag. omitZero leaves out a zero
// scalar, as the reference does for implicit presence.
func (e *encoder) singular(f *Field, omitZero bool) error {
	if f.Message != nil {
		e.out = append(e.out, f.Tag...)
		start := e.openLen()
		if err := e.message(f.Message); err != nil {
			return err
		}
		e.closeLen(start)
		return nil
	}
	mark := len(e.out)
	e.out = append(e.out, f.Tag...)
	zero, err := e.scalar(f)
	if err != nil {
		return err
	}
	if zero && omitZero {
		e.out = e.out[:mark]
	}
	return nil
}

func (e *encoder) listField(f *Field) error {
	if e.next() != '[' {
		return errDecline
	}
	e.pos++
	packed := f.Packable && f.Desc.IsPacked()
	start := -1
	if packed {
		e.out = append(e.out, f.PackedTag...)
		start = e.openLen()
	}
	if e.next() == ']' {
		e.pos++
		if packed {
			e.out = e.out[:start-1-len(f.PackedTag)]
		}
		return nil
	}
	for {
		switch {
		case packed:
			if _, err := e.scalar(f); err != nil {
				return err
			}
		case f.Message != nil:
			if e.peekNull() && f.Message.WellKnown != Value {
				return errDecline
			}
			e.out = append(e.out, f.Tag...)
			s := e.openLen()
			if err := e.message(f.Message); err != nil {
				return err
			}
			e.closeLen(s)
		default:
			e.out = append(e.out, f.Tag...)
			if _, err := e.scalar(f); err != nil {
				return err
			}
		}
		switch e.next() {
		case ',':
			e.pos++
		case ']':
			e.pos++
			if packed {
				e.closeLen(start)
			}
			return nil
		default:
			return errDecline
		}
	}
}

func (e *encoder) mapField(f *Field) error {
	if e.next() != '{' {
		return errDecline
	}
	e.pos++
	if e.next() == '}' {
		e.pos++
		return nil
	}
	base := len(e.keys)
	defer func() { e.keys = e.keys[:base] }()
	var seen map[string]struct{} // for large maps only
	for {
		if e.next() != '"' {
			return errDecline
		}
		e.out = append(e.out, f.Tag...)
		entry := e.openLen()
		if err := e.mapKey(f.MapKey); err != nil {
			return err
		}
		key := keySpan{entry, len(e.out)}
		// A duplicate key is an error in the reference path.
		if n := len(e.keys) - base; n < 32 {
			for _, k := range e.keys[base:] {
				if string(e.out[k.start:k.end]) == string(e.out[key.start:key.end]) {
					return errDecline
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*n)
				for _, k := range e.keys[base:] {
					seen[string(e.out[k.start:k.end])] = struct{}{}
				}
			}
			if _, dup := seen[string(e.out[key.start:key.end])]; dup {
				return errDecline
			}
			seen[string(e.out[key.start:key.end])] = struct{}{}
		}
		if e.next() != ':' {
			return errDecline
		}
		e.pos++
		v := f.MapValue
		if v.Message != nil {
			if e.peekNull() && v.Message.WellKnown != Value {
				return errDecline
			}
		} else if e.peekNull() && !v.NullValue {
			return errDecline
		}
		if err := e.singular(v, false); err != nil {
			return err
		}
		shift := e.closeLen(entry)
		key.start += shift
		key.end += shift
		e.keys = append(e.keys, key)
		switch e.next() {
		case ',':
			e.pos++
		case '}':
			e.pos++
			return nil
		default:
			return errDecline
		}
	}
}

// mapKey reads a JSON object key as the map's key field and writes it.
func (e *encoder) mapKey(k *Field) error {
	raw, err := e.stringToken(nil)
	if err != nil {
		return err
	}
	e.out = append(e.out, k.Tag...)
	switch k.Kind {
	case protoreflect.StringKind:
		e.out = protowire.AppendBytes(e.out, raw)
		return nil
	case protoreflect.BoolKind:
		switch string(raw) {
		case "true":
			e.out = append(e.out, 1)
		case "false":
			e.out = append(e.out, 0)
		default:
			return errDecline
		}
		return nil
	}
	bits := intBits(k)
	if isUnsigned(k.Kind) {
		n, err := strconv.ParseUint(string(raw), 10, bits)
		if err != nil {
			return errDecline
		}
		e.appendUint(k, n)
		return nil
	}
	n, err := strconv.ParseInt(string(raw), 10, bits)
	if err != nil {
		return errDecline
	}
	e.appendInt(k, n)
	return nil
}

// intBits is the size of an integer field's values: 32 or 64.
func intBits(f *Field) int {
	switch f.Kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind,
		protoreflect.Sfixed32Kind, protoreflect.Fixed32Kind:
		return 32
	}
	return 64
}

func isUnsigned(k protoreflect.Kind) bool {
	return k == protoreflect.Uint32Kind || k == protoreflect.Uint64Kind || k == protoreflect.Fixed32Kind || k == protoreflect.Fixed64Kind
}

// scalar reads one scalar or enum value of f and appends its wire value
// (no tag). zero says it was the kind's zero value.
func (e *encoder) scalar(f *Field) (zero bool, err error) {
	c := e.next()
	switch f.Kind {
	case protoreflect.BoolKind:
		switch {
		case e.literal("true"):
			e.out = append(e.out, 1)
			return false, nil
		case e.literal("false"):
			e.out = append(e.out, 0)
			return true, nil
		}
		return false, errDecline
	case protoreflect.StringKind:
		if c != '"' {
			return false, errDecline
		}
		lenAt := e.openLen()
		s, err := e.stringToken(e.out)
		if err != nil {
			return false, err
		}
		e.out = s
		e.closeLen(lenAt)
		return len(s) == lenAt, nil
	case protoreflect.BytesKind:
		if c != '"' {
			return false, errDecline
		}
		s, err := e.stringToken(nil)
		if err != nil {
			return false, err
		}
		return e.appendBase64(s)
	case protoreflect.EnumKind:
		return e.enum(f)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return e.float(f)
	}
	// Integers: a plain JSON integer, or a string holding one.
	var digits []byte
	switch {
	case c == '"':
		s, err := e.stringToken(nil)
		if err != nil {
			return false, err
		}
		digits = s
	case c == '-' || '0' <= c && c <= '9':
		digits = e.numberToken()
	default:
		return false, errDecline
	}
	if !plainInteger(digits) {
		return false, errDecline // 1e3, 1.0, " 1": the reference's call
	}
	bits := intBits(f)
	if isUnsigned(f.Kind) {
		n, err := strconv.ParseUint(string(digits), 10, bits)
		if err != nil {
			return false, errDecline
		}
		e.appendUint(f, n)
		return n == 0, nil
	}
	n, err := strconv.ParseInt(string(digits), 10, bits)
	if err != nil {
		return false, errDecline
	}
	e.appendInt(f, n)
	return n == 0, nil
}

func (e *encoder) appendInt(f *Field, n int64) {
	switch f.Kind {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		e.out = protowire.AppendVarint(e.out, protowire.EncodeZigZag(n))
	case protoreflect.Sfixed32Kind:
		e.out = protowire.AppendFixed32(e.out, uint32(n))
	case protoreflect.Sfixed64Kind:
		e.out = protowire.AppendFixed64(e.out, uint64(n))
	default: // int32 is sign-extended to 64 bits on the wire
		e.out = protowire.AppendVarint(e.out, uint64(n))
	}
}

func (e *encoder) appendUint(f *Field, n uint64) {
	switch f.Kind {
	case protoreflect.Fixed32Kind:
		e.out = protowire.AppendFixed32(e.out, uint32(n))
	case protoreflect.Fixed64Kind:
		e.out = protowire.AppendFixed64(e.out, n)
	default:
		e.out = protowire.AppendVarint(e.out, n)
	}
}

// plainInteger: -?(0|[1-9][0-9]*), the only integer form the fast path
// reads (strconv would also take "+1" and "01", which JSON does not).
func plainInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 1 && b[0] == '0' {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (e *encoder) float(f *Field) (bool, error) {
	bits := 64
	if f.Kind == protoreflect.FloatKind {
		bits = 32
	}
	var v float64
	switch c := e.next(); {
	case c == '"':
		s, err := e.stringToken(nil)
		if err != nil {
			return false, err
		}
		switch string(s) {
		case "NaN":
			v = math.NaN()
		case "Infinity":
			v = math.Inf(1)
		case "-Infinity":
			v = math.Inf(-1)
		default:
			if !translate.IsJSONNumber(s) {
				return false, errDecline
			}
			if v, err = strconv.ParseFloat(string(s), bits); err != nil {
				return false, errDecline
			}
		}
	case c == '-' || '0' <= c && c <= '9':
		n := e.numberToken()
		if !translate.IsJSONNumber(n) {
			return false, errDecline
		}
		var err error
		if v, err = strconv.ParseFloat(string(n), bits); err != nil {
			return false, errDecline
		}
	default:
		return false, errDecline
	}
	if bits == 32 {
		e.out = protowire.AppendFixed32(e.out, math.Float32bits(float32(v)))
		return math.Float32bits(float32(v)) == 0, nil
	}
	e.out = protowire.AppendFixed64(e.out, math.Float64bits(v))
	return math.Float64bits(v) == 0, nil
}

func (e *encoder) enum(f *Field) (bool, error) {
	switch c := e.next(); {
	case c == '"':
		s, err := e.stringToken(nil)
		if err != nil {
			return false, err
		}
		v := f.Enum.Values().ByName(protoreflect.Name(s))
		if v == nil {
			return false, errDecline // dropped or refused by the reference
		}
		e.out = protowire.AppendVarint(e.out, uint64(int64(v.Number())))
		return v.Number() == 0, nil
	case c == 'n':
		if !f.NullValue || !e.literal("null") {
			return false, errDecline
		}
		e.out = append(e.out, 0)
		return true, nil
	case c == '-' || '0' <= c && c <= '9':
		n := e.numberToken()
		if !plainInteger(n) {
			return false, errDecline
		}
		v, err := strconv.ParseInt(string(n), 10, 32)
		if err != nil {
			return false, errDecline
		}
		e.out = protowire.AppendVarint(e.out, uint64(v))
		return v == 0, nil
	}
	return false, errDecline
}

// appendBase64 decodes s as protojson does (standard or URL alphabet,
// padded or not) into a length-delimited value.
func (e *encoder) appendBase64(s []byte) (bool, error) {
	enc := base64.StdEncoding
	for _, c := range s {
		if c == '-' || c == '_' {
			enc = base64.URLEncoding
			break
		}
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	start := e.openLen()
	n := enc.DecodedLen(len(s))
	e.out = slices.Grow(e.out, n)[:start+n]
	got, err := enc.Decode(e.out[start:], s)
	if err != nil {
		return false, errDecline
	}
	e.out = e.out[:start+got]
	e.closeLen(start)
	return got == 0, nil
}

// numberToken consumes a JSON number's characters (validated by the
// caller) and returns them.
func (e *encoder) numberToken() []byte {
	start := e.pos
	for e.pos < len(e.in) {
		switch c := e.in[e.pos]; {
		case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			e.pos++
		default:
			return e.in[start:e.pos]
		}
	}
	return e.in[start:e.pos]
}

// stringToken reads a JSON string at e.pos. With dst nil it returns the
// string's content, aliasing the input when there is no escape; otherwise it
// appends the content to dst and returns the extended slice. Strings are
// checked as protojson checks them: valid UTF-8, no control characters,
// known escapes, \u surrogates in pairs.
func (e *encoder) stringToken(dst []byte) ([]byte, error) {
	if e.pos >= len(e.in) || e.in[e.pos] != '"' {
		return nil, errDecline
	}
	e.pos++
	start := e.pos
	in := e.in
	// The common case: no escape, ASCII or valid UTF-8.
	for e.pos < len(in) {
		c := in[e.pos]
		switch {
		case c == '"':
			s := in[start:e.pos]
			e.pos++
			if dst != nil {
				return append(dst, s...), nil
			}
			return s, nil
		case c == '\\':
			goto escaped
		case c < ' ':
			return nil, errDecline
		case c < utf8.RuneSelf:
			e.pos++
		default:
			r, n := utf8.DecodeRune(in[e.pos:])
			if r == utf8.RuneError && n == 1 {
				return nil, errDecline
			}
			e.pos += n
		}
	}
	return nil, errDecline
escaped:
	var out []byte
	if dst != nil {
		out = append(dst, in[start:e.pos]...)
	} else {
		out = append(make([]byte, 0, e.pos-start+16), in[start:e.pos]...)
	}
	for e.pos < len(in) {
		c := in[e.pos]
		switch {
		case c == '"':
			e.pos++
			return out, nil
		case c == '\\':
			if e.pos+1 >= len(in) {
				return nil, errDecline
			}
			switch esc := in[e.pos+1]; esc {
			case '"', '\\', '/':
				out = append(out, esc)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(in, e.pos+2)
				if !ok {
					return nil, errDecline
				}
				e.pos += 6
				if utf16.IsSurrogate(r) {
					lo, ok := hex4(in, e.pos+2)
					if !ok || in[e.pos] != '\\' || in[e.pos+1] != 'u' {
						return nil, errDecline
					}
					if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
						return nil, errDecline
					}
					e.pos += 6
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return nil, errDecline
			}
			e.pos += 2
		case c < ' ':
			return nil, errDecline
		case c < utf8.RuneSelf:
			out = append(out, c)
			e.pos++
		default:
			r, n := utf8.DecodeRune(in[e.pos:])
			if r == utf8.RuneError && n == 1 {
				return nil, errDecline
			}
			out = append(out, in[e.pos:e.pos+n]...)
			e.pos += n
		}
	}
	return nil, errDecline
}

// hex4 reads the four hex digits of a \u escape at in[i:].
func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, c := range in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipValue checks and skips one JSON value of an unknown field, as
// protojson's DiscardUnknown does: the value must still be valid JSON, and
// its nesting counts against the depth limit.
func (e *encoder) skipValue() error { return e.skip(0) }

func (e *encoder) skip(open int) error {
	switch c := e.next(); {
	case c == '{' || c == '[':
		e.pos++
		if open++; open > e.maxDepth()-e.depth {
			return errDecline
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		if e.next() == end {
			e.pos++
			return nil
		}
		for {
			if c == '{' {
				if _, err := e.objectKey(); err != nil {
					return err
				}
			}
			if err := e.skip(open); err != nil {
				return err
			}
			switch e.next() {
			case ',':
				e.pos++
			case end:
				e.pos++
				return nil
			default:
				return errDecline
			}
		}
	case c == '"':
		_, err := e.stringToken(nil)
		return err
	case c == '-' || '0' <= c && c <= '9':
		if !translate.IsJSONNumber(e.numberToken()) {
			return errDecline
		}
	case c == 't' && e.literal("true"), c == 'f' && e.literal("false"), c == 'n' && e.literal("null"):
	default:
		return errDecline
	}
	return nil
}

// maxDepth is the nesting limit: the plan's, or protojson's default.
func (e *encoder) maxDepth() int {
	if e.opts.MaxDepth > 0 {
		return e.opts.MaxDepth
	}
	return 10000
}

// objectKey reads an object member's name and the colon after it.
func (e *encoder) objectKey() ([]byte, error) {
	if e.next() != '"' {
		return nil, errDecline
	}
	name, err := e.stringToken(nil)
	if err != nil {
		return nil, err
	}
	if e.next() != ':' {
		return nil, errDecline
	}
	e.pos++
	return name, nil
}

// openLen reserves one byte for a length prefix and returns where the
// content starts.
func (e *encoder) openLen() int {
	e.out = append(e.out, 0)
	return len(e.out)
}

// closeLen writes the length of the content since start into the byte
// openLen reserved, moving the content when the length needs more than one
// byte, and returns how far it moved.
func (e *encoder) closeLen(start int) int {
	before := len(e.out)
	e.out = closeLength(e.out, start)
	return len(e.out) - before
}

// wellKnown reads the JSON form of a well-known type.
func (e *encoder) wellKnown(m *Message) error {
	switch m.WellKnown {
	case Wrapper:
		return e.singular(m.Fields[0], false)
	case Empty:
		if e.next() != '{' {
			return errDecline
		}
		e.pos++
		if e.next() != '}' {
			return errDecline
		}
		e.pos++
		return nil
	case Struct:
		return e.mapField(m.Fields[0])
	case ListValue:
		return e.listField(m.Fields[0])
	case Value:
		return e.value(m)
	case Timestamp, Duration, FieldMask:
		return e.stringWellKnown(m)
	}
	return e.any(m)
}

// any reads a google.protobuf.Any: its "@type" names the type, found
// through the plan's resolver, and the other members are that type's
// fields (or, for a well-known type, its JSON under "value"). It writes
// type_url and value (the contents' own wire bytes), as the reference does.
func (e *encoder) any(m *Message) error {
	if e.opts.Resolver == nil || e.next() != '{' {
		return errDecline
	}
	start := e.pos
	e.pos++
	url, members, err := e.typeURL()
	if err != nil {
		return err
	}
	if url == nil {
		// {} is an empty Any. Without "@type" the reference skips the
		// object when it discards unknown fields, leaving the Any empty
		// but present; typeURL has read and checked it.
		if members == 0 || e.opts.DiscardUnknown {
			return nil
		}
		return errDecline
	}
	mt, err := e.opts.Resolver.FindMessageByURL(string(url))
	if err != nil {
		return errDecline
	}
	inner, err := m.compiler.Compile(mt.Descriptor())
	if err != nil || inner.Required {
		return errDecline
	}
	e.out = protowire.AppendString(append(e.out, 0x0a), string(url)) // type_url = 1
	e.out = append(e.out, 0x12)                                      // value = 2
	valueAt := e.openLen()
	e.pos = start + 1
	if inner.WellKnown == NotWellKnown {
		e.depth++
		if e.depth > e.maxDepth() {
			return errDecline
		}
		err = e.fields(inner, true)
		e.depth--
	} else {
		err = e.anyValue(inner)
	}
	if err != nil {
		return err
	}
	e.closeLen(valueAt)
	return nil
}

// typeURL reads the members of the object after its '{' up to its '}',
// checking their syntax as the reference's scan does, and returns its
// "@type", which may come anywhere, or nil, and how many members it has.
func (e *encoder) typeURL() (url []byte, members int, err error) {
	if e.next() == '}' {
		e.pos++
		return nil, 0, nil
	}
	for {
		name, err := e.objectKey()
		if err != nil {
			return nil, 0, err
		}
		members++
		if string(name) == "@type" {
			if url != nil || e.next() != '"' {
				return nil, 0, errDecline // twice, or not a string
			}
			if url, err = e.stringToken(nil); err != nil {
				return nil, 0, err
			}
			if len(url) == 0 {
				return nil, 0, errDecline
			}
		} else if err := e.skipValue(); err != nil {
			return nil, 0, err
		}
		switch e.next() {
		case ',':
			e.pos++
		case '}':
			e.pos++
			return url, members, nil
		default:
			return nil, 0, errDecline
		}
	}
}

// anyValue reads the members of an Any holding a well-known type: "@type",
// and "value", the type's own JSON form.
func (e *encoder) anyValue(inner *Message) error {
	found := false
	for {
		name, err := e.objectKey()
		if err != nil {
			return err
		}
		switch string(name) {
		case "@type":
			e.skipSpace()
			if _, err := e.stringToken(nil); err != nil {
				return err
			}
		case "value":
			if found {
				return errDecline
			}
			found = true
			if err := e.message(inner); err != nil {
				return err
			}
		default:
			if !e.opts.DiscardUnknown {
				return errDecline
			}
			if err := e.skipValue(); err != nil {
				return err
			}
		}
		switch e.next() {
		case ',':
			e.pos++
		case '}':
			e.pos++
			if !found && inner.WellKnown != Empty {
				return errDecline
			}
			return nil
		default:
			return errDecline
		}
	}
}

// value reads any JSON value as a google.protobuf.Value.
func (e *encoder) value(m *Message) error {
	// Fields: null_value 1, number_value 2, string_value 3, bool_value 4,
	// struct_value 5, list_value 6, by number, whatever the order in m.
	f := func(n protowire.Number) *Field { return m.ByNumber(n) }
	switch c := e.next(); {
	case c == 'n':
		if !e.literal("null") {
			return errDecline
		}
		e.out = append(e.out, f(1).Tag...)
		e.out = append(e.out, 0)
	case c == 't' || c == 'f':
		e.out = append(e.out, f(4).Tag...)
		if _, err := e.scalar(f(4)); err != nil {
			return err
		}
	case c == '"':
		return e.singular(f(3), false)
	case c == '-' || '0' <= c && c <= '9':
		n := e.numberToken()
		if !translate.IsJSONNumber(n) {
			return errDecline
		}
		v, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return errDecline
		}
		e.out = append(e.out, f(2).Tag...)
		e.out = protowire.AppendFixed64(e.out, math.Float64bits(v))
	case c == '{':
		return e.singular(f(5), false)
	case c == '[':
		return e.singular(f(6), false)
	default:
		return errDecline
	}
	return nil
}

// stringWellKnown reads a Timestamp, Duration or FieldMask from its JSON
// string with protojson itself, so that exactly its forms are taken, and
// writes the fields.
func (e *encoder) stringWellKnown(m *Message) error {
	if e.next() != '"' {
		return errDecline
	}
	start := e.pos
	if _, err := e.stringToken(nil); err != nil {
		return err
	}
	raw := e.in[start:e.pos]
	if m.WellKnown == Timestamp {
		return e.timestamp(raw)
	}
	var msg proto.Message
	switch m.WellKnown {
	case Timestamp:
		msg = new(timestamppb.Timestamp)
	case Duration:
		msg = new(durationpb.Duration)
	default:
		msg = new(fieldmaskpb.FieldMask)
	}
	if err := protojson.Unmarshal(raw, msg); err != nil {
		return errDecline
	}
	var err error
	e.out, err = proto.MarshalOptions{}.MarshalAppend(e.out, msg)
	if err != nil {
		return errDecline
	}
	return nil
}

// AppendMessageField appends field f, a singular message field, with the
// message given as the JSON object body.
func AppendMessageField(dst []byte, f *Field, body []byte, opts *Options) ([]byte, error) {
	e := encoders.Get().(*encoder)
	e.in, e.pos, e.out, e.depth, e.opts = body, 0, dst, 0, opts
	e.out = append(e.out, f.Tag...)
	start := e.openLen()
	err := e.topLevel(func() error { return e.message(f.Message) })
	if err == nil {
		e.closeLen(start)
	}
	out := e.out
	e.release()
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendValue appends the scalar v at the end of path: path[:len-1] are
// singular message fields, each written as a message holding the next,
// and the last is the scalar or enum field v is a value of. A message
// merges with earlier occurrences of its field on the wire, so appending
// sets one field without touching the others.
func AppendValue(dst []byte, path []*Field, v protoreflect.Value) []byte {
	if len(path) == 0 {
		return dst
	}
	f := path[0]
	if len(path) > 1 {
		dst = append(dst, f.Tag...)
		dst = append(dst, 0)
		start := len(dst)
		dst = AppendValue(dst, path[1:], v)
		return closeLength(dst, start)
	}
	dst = append(dst, f.Tag...)
	switch f.Kind {
	case protoreflect.BoolKind:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case protoreflect.EnumKind:
		return protowire.AppendVarint(dst, uint64(int64(v.Enum())))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return protowire.AppendVarint(dst, uint64(v.Int()))
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(dst, protowire.EncodeZigZag(v.Int()))
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		return protowire.AppendVarint(dst, v.Uint())
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(dst, uint32(v.Int()))
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(dst, uint32(v.Uint()))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(dst, uint64(v.Int()))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(dst, v.Uint())
	case protoreflect.FloatKind:
		return protowire.AppendFixed32(dst, math.Float32bits(float32(v.Float())))
	case protoreflect.DoubleKind:
		return protowire.AppendFixed64(dst, math.Float64bits(v.Float()))
	case protoreflect.StringKind:
		return protowire.AppendString(dst, v.String())
	case protoreflect.BytesKind:
		return protowire.AppendBytes(dst, v.Bytes())
	}
	// A message value: its encoding, as given.
	return protowire.AppendBytes(dst, v.Bytes())
}

func closeLength(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	size := protowire.SizeVarint(uint64(n))
	for i := 1; i < size; i++ {
		dst = append(dst, 0)
	}
	copy(dst[start+size-1:], dst[start:start+n])
	protowire.AppendVarint(dst[:start-1], uint64(n))
	return dst
}

// timestamp writes a Timestamp from its JSON string raw (quotes included),
// with exactly protojson's checks: RFC 3339 as time.Parse reads it, in
// range, and at most nine fractional digits.
func (e *encoder) timestamp(raw []byte) error {
	s := string(raw[1 : len(raw)-1])
	if bytes.IndexByte(raw, '\\') >= 0 {
		return errDecline // escapes in a timestamp: the reference's call
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errDecline
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return errDecline
	}
	i := strings.LastIndexByte(s, '.')
	j := strings.LastIndexAny(s, "Z-+")
	if i >= 0 && j >= i && j-i > len(".999999999") {
		return errDecline
	}
	if secs != 0 {
		e.out = protowire.AppendVarint(append(e.out, 0x08), uint64(secs))
	}
	if n := t.Nanosecond(); n != 0 {
		e.out = protowire.AppendVarint(append(e.out, 0x10), uint64(n))
	}
	return nil
}

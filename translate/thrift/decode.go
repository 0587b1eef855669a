package thrift

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
)

// decState renders one encoded value as JSON, appending to out. Wire
// problems (truncation, bad lengths, a union with two members) are sticky
// errors in d.err. The output is bounded by maxOut as well as the depth:
// a reply expands when rendered (an empty compact struct is one byte and
// "{}" two), and a limit on the input alone would not bound the memory.
type decState struct {
	d        decoder
	out      []byte
	maxDepth int
	maxOut   int
}

// defaultMaxOutput bounds a rendered reply unless the caller says
// otherwise: 64 MiB, four times the default message limit.
const defaultMaxOutput = 64 << 20

func (s *decState) tooBig() bool {
	if len(s.out) > s.maxOut {
		s.d.fail(wireErrorf("the reply renders to more than %d bytes of JSON", s.maxOut))
		return true
	}
	return false
}

// structValue renders a struct whose header has been read. Fields come out
// in wire order (the order the sender wrote, by id for generated code);
// fields the schema does not know, or whose wire type disagrees with it,
// are skipped as generated code skips them. A field sent twice is an error:
// JSON has no good way to say it.
func (s *decState) structValue(st *tstruct, depth int) {
	if depth > s.maxDepth {
		s.d.fail(wireErrorf("the reply nests deeper than the limit of %d levels", s.maxDepth))
		return
	}
	s.out = append(s.out, '{')
	var seenSmall [2]uint64
	var seenBig []bool
	if len(st.fields) > 128 {
		seenBig = make([]bool, len(st.fields))
	}
	n := 0
	var last int16
	for s.d.err == nil {
		wt, id, bv := s.d.fieldHeader(&last)
		if wt == tStop {
			break
		}
		f := st.field(id)
		if f == nil || f.t.wire != wt {
			if !(s.d.compact && wt == tBool) {
				s.d.skip(wt, maxWireDepth)
			}
			continue
		}
		if seenBig != nil {
			if seenBig[f.idx] {
				s.d.fail(wireErrorf("field %s of %s is sent twice", f.name, st.name))
				return
			}
			seenBig[f.idx] = true
		} else {
			w, bit := f.idx/64, uint64(1)<<(f.idx%64)
			if seenSmall[w]&bit != 0 {
				s.d.fail(wireErrorf("field %s of %s is sent twice", f.name, st.name))
				return
			}
			seenSmall[w] |= bit
		}
		if n > 0 {
			s.out = append(s.out, ',')
		}
		n++
		s.out = append(s.out, f.jsonKey...)
		if wt == tBool && s.d.compact {
			s.out = strconv.AppendBool(s.out, bv)
			continue
		}
		s.value(f.t, depth)
		if s.tooBig() {
			return
		}
	}
	if s.d.err != nil {
		return
	}
	if st.kind == idl.StructKindUnion && n != 1 {
		s.d.fail(wireErrorf("union %s has %d fields set, not exactly one", st.name, n))
		return
	}
	s.out = append(s.out, '}')
}

// value renders one value of type t.
func (s *decState) value(t *ttype, depth int) {
	d := &s.d
	switch t.wire {
	case tBool:
		s.out = strconv.AppendBool(s.out, d.bool())
	case tByte:
		s.out = strconv.AppendInt(s.out, int64(d.byte()), 10)
	case tI16:
		s.out = strconv.AppendInt(s.out, int64(d.i16()), 10)
	case tI32:
		v := d.i32()
		if t.enum != nil {
			s.enumValue(t.enum, v, false)
			return
		}
		s.out = strconv.AppendInt(s.out, int64(v), 10)
	case tI64:
		// 64-bit integers are strings, as in proto3 JSON and grpc-gateway:
		// JavaScript numbers lose precision above 2^53.
		s.out = append(s.out, '"')
		s.out = strconv.AppendInt(s.out, d.i64(), 10)
		s.out = append(s.out, '"')
	case tDouble:
		s.out = appendDouble(s.out, d.double())
	case tString:
		b := d.binary()
		if t.kind == idl.KindBinary {
			s.out = append(s.out, '"')
			s.out = base64.StdEncoding.AppendEncode(s.out, b)
			s.out = append(s.out, '"')
			return
		}
		s.out = appendJSONString(s.out, b)
	case tUUID:
		u := d.uuid()
		if d.err != nil {
			return
		}
		s.out = append(s.out, '"')
		s.out = appendUUID(s.out, u)
		s.out = append(s.out, '"')
	case tStruct:
		s.structValue(t.st, depth+1)
	case tList, tSet:
		s.listValue(t, depth+1)
	case tMap:
		s.mapValue(t, depth+1)
	}
}

// enumValue renders an enum by name, or by number when the sender knows a
// value the IDL does not (quoted when it is a map key).
func (s *decState) enumValue(e *tenum, v int32, key bool) {
	if name, ok := e.names[v]; ok {
		s.out = append(s.out, '"')
		s.out = append(s.out, name...)
		s.out = append(s.out, '"')
		return
	}
	if key {
		s.out = append(s.out, '"')
	}
	s.out = strconv.AppendInt(s.out, int64(v), 10)
	if key {
		s.out = append(s.out, '"')
	}
}

func (s *decState) listValue(t *ttype, depth int) {
	if depth > s.maxDepth {
		s.d.fail(wireErrorf("the reply nests deeper than the limit of %d levels", s.maxDepth))
		return
	}
	elem, n := s.d.listHeader()
	if n > 0 && elem != t.elem.wire {
		s.d.fail(wireErrorf("%s holds %s elements", t.name, elem))
		return
	}
	s.out = append(s.out, '[')
	for i := 0; i < n && s.d.err == nil; i++ {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		s.value(t.elem, depth)
		if s.tooBig() {
			return
		}
	}
	s.out = append(s.out, ']')
}

func (s *decState) mapValue(t *ttype, depth int) {
	if depth > s.maxDepth {
		s.d.fail(wireErrorf("the reply nests deeper than the limit of %d levels", s.maxDepth))
		return
	}
	kt, vt, n := s.d.mapHeader()
	if n > 0 && (kt != t.key.wire || vt != t.val.wire) {
		s.d.fail(wireErrorf("%s holds %s keys and %s values", t.name, kt, vt))
		return
	}
	if t.objKeys {
		s.out = append(s.out, '{')
		for i := 0; i < n && s.d.err == nil; i++ {
			if i > 0 {
				s.out = append(s.out, ',')
			}
			s.objKey(t.key)
			s.out = append(s.out, ':')
			s.value(t.val, depth)
			if s.tooBig() {
				return
			}
		}
		s.out = append(s.out, '}')
		return
	}
	if depth+1 > s.maxDepth && n > 0 {
		s.d.fail(wireErrorf("the reply nests deeper than the limit of %d levels", s.maxDepth))
		return
	}
	s.out = append(s.out, '[')
	for i := 0; i < n && s.d.err == nil; i++ {
		if i > 0 {
			s.out = append(s.out, ',')
		}
		s.out = append(s.out, `{"key":`...)
		s.value(t.key, depth+1)
		s.out = append(s.out, `,"value":`...)
		s.value(t.val, depth+1)
		s.out = append(s.out, '}')
		if s.tooBig() {
			return
		}
	}
	s.out = append(s.out, ']')
}

// objKey renders a string, integer or enum map key as a JSON object key.
func (s *decState) objKey(t *ttype) {
	d := &s.d
	switch {
	case t.kind == idl.KindString:
		s.out = appendJSONString(s.out, d.binary())
	case t.enum != nil:
		s.enumValue(t.enum, d.i32(), true)
	default:
		var v int64
		switch t.wire {
		case tByte:
			v = int64(d.byte())
		case tI16:
			v = int64(d.i16())
		case tI32:
			v = int64(d.i32())
		default:
			v = d.i64()
		}
		s.out = append(s.out, '"')
		s.out = strconv.AppendInt(s.out, v, 10)
		s.out = append(s.out, '"')
	}
}

// appendDouble writes a double as encoding/json does, and the values JSON
// has no number for as the strings proto3 JSON uses.
func appendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString quotes s for JSON. Thrift strings should be UTF-8 but
// nothing enforces it on the wire; invalid bytes become U+FFFD, as
// encoding/json does, so that the output is always valid JSON.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// valid JSON, but not valid JavaScript before ES2019
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

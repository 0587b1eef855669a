package thrift

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/translate"
)

// node is one value of a request as the Transcoder assembles it from the
// body, the path, the query and headers: JSON from the body (raw), and/or
// text values from the URL or a header (texts, a leaf), and/or members of a
// struct set from elsewhere (kids). The root is the args struct.
type node struct {
	f        *tfield
	raw      []byte   // JSON, never "null" (a null is dropped when the node is made)
	texts    []string // leaf: URL or header values
	origin   string   // where texts came from, for errors: `query parameter "page"`
	fromPath bool     // a path variable overrides the body silently (grpc-gateway's rule)
	kids     []*node
}

// child returns n's kid for f, creating it.
func (n *node) child(f *tfield) *node {
	for _, k := range n.kids {
		if k.f == f {
			return k
		}
	}
	k := &node{f: f}
	n.kids = append(n.kids, k)
	return k
}

// seg is one step of the field path being encoded. The encoder keeps the
// path as a stack of these and renders it only for an error
// ("req.items[2].name", "labels[env]"), so that a request without problems
// spends nothing on paths.
type seg struct {
	kind  segKind
	name  string
	key   []byte
	index int
}

type segKind byte

const (
	segField segKind = iota
	segIndex
	segKey
)

func (s *encState) pushField(n string) { s.stack = append(s.stack, seg{kind: segField, name: n}) }
func (s *encState) pushIndex(i int)    { s.stack = append(s.stack, seg{kind: segIndex, index: i}) }
func (s *encState) pushKey(k []byte)   { s.stack = append(s.stack, seg{kind: segKey, key: k}) }
func (s *encState) pop()               { s.stack = s.stack[:len(s.stack)-1] }

func (s *encState) path() string {
	var b strings.Builder
	for _, g := range s.stack {
		switch g.kind {
		case segKey:
			b.WriteString("[" + string(g.key) + "]")
		case segIndex:
			b.WriteString("[" + strconv.Itoa(g.index) + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(g.name)
		}
	}
	return b.String()
}

// encState encodes one request.
type encState struct {
	e        encoder
	maxDepth int
	vs       translate.Violations
	scratch  []byte
	stack    []seg
}

// fail records a problem with the value at the current path.
func (s *encState) fail(format string, args ...any) {
	field := s.path()
	desc := fmt.Sprintf(format, args...)
	if field != "" {
		desc = "field " + strconv.Quote(field) + ": " + desc
	}
	s.vs.Add(field, desc)
}

// slot is what a struct field is set from while a struct is encoded.
type slot struct {
	raw  []byte
	kid  *node
	seen bool
}

// structValue writes a struct from its JSON object (raw, may be nil) and
// the members set from elsewhere (kids), fields in id order.
func (s *encState) structValue(st *tstruct, raw []byte, kids []*node, depth int) {
	if depth > s.maxDepth {
		s.fail("nested deeper than the limit of %d levels", s.maxDepth)
		return
	}
	if raw != nil && raw[0] != '{' {
		s.fail("want an object for %s, got %s", kindNameOf(st), jsonKind(raw))
		return
	}
	var small [32]slot
	var slots []slot
	if len(st.fields) <= len(small) {
		slots = small[:len(st.fields)]
	} else {
		slots = make([]slot, len(st.fields))
	}
	if raw != nil {
		m := newMembers(raw)
		for {
			key, val, ok := m.next()
			if !ok {
				break
			}
			name, ok := unquote(key)
			if !ok {
				s.fail("a member name is not valid UTF-8")
				continue
			}
			f := st.byName[string(name)]
			if f == nil {
				s.pushField(string(name))
				s.fail("unknown field %s in %s", strconv.Quote(string(name)), kindNameOf(st))
				s.pop()
				continue
			}
			sl := &slots[f.idx]
			if sl.seen {
				s.pushField(f.name)
				s.fail("given twice")
				s.pop()
				continue
			}
			sl.seen = true
			if !isNull(val) {
				sl.raw = val
			}
		}
	}
	for _, k := range kids {
		sl := &slots[k.f.idx]
		if sl.raw != nil && k.kids == nil && k.raw == nil && !k.fromPath {
			s.pushField(k.f.name)
			s.fail("set both in the request body and by %s", k.origin)
			s.pop()
			continue
		}
		sl.kid = k
	}
	if st.kind == idl.StructKindUnion {
		n := 0
		for i := range slots {
			if slots[i].raw != nil || slots[i].kid != nil {
				n++
			}
		}
		if n != 1 {
			s.fail("%s must have exactly one field set, not %d", kindNameOf(st), n)
			return
		}
	}
	var last int16
	for i, f := range st.fields {
		sl := &slots[i]
		s.pushField(f.name)
		switch {
		case sl.kid != nil && sl.kid.kids != nil:
			raw := sl.raw
			if sl.kid.raw != nil {
				raw = sl.kid.raw
			}
			if f.t.st == nil { // compileBinding only lets struct paths through
				s.fail("is not a struct")
				break
			}
			s.e.fieldHeader(tStruct, f.id, &last)
			s.structValue(f.t.st, raw, sl.kid.kids, depth+1)
		case sl.kid != nil && sl.kid.texts != nil:
			s.textField(f, sl.kid, &last)
		case sl.kid != nil && sl.kid.raw != nil:
			s.field(f, sl.kid.raw, &last, depth)
		case sl.raw != nil:
			s.field(f, sl.raw, &last, depth)
		case f.hasDef:
			if f.t.wire == tBool {
				s.e.boolField(f.id, f.defBool, &last)
			} else {
				s.e.fieldHeader(f.t.wire, f.id, &last)
				s.e.buf = append(s.e.buf, f.def...)
			}
		case f.req == idl.Required:
			s.fail("missing required field")
		}
		s.pop()
	}
	s.e.stop()
}

func kindNameOf(st *tstruct) string { return kindName(&ttype{kind: idl.KindStruct, st: st}) }

// field writes one struct field from JSON.
func (s *encState) field(f *tfield, v []byte, last *int16, depth int) {
	if f.t.wire == tBool {
		if b, ok := s.jsonBool(v); ok {
			s.e.boolField(f.id, b, last)
		}
		return
	}
	s.e.fieldHeader(f.t.wire, f.id, last)
	s.value(f.t, v, depth)
}

// value writes one value of type t from JSON; depth is the nesting of the
// struct or container it is in.
func (s *encState) value(t *ttype, v []byte, depth int) {
	if isNull(v) {
		s.fail("null is not a value of type %s", t.name)
		return
	}
	switch t.wire {
	case tBool:
		if b, ok := s.jsonBool(v); ok {
			s.e.bool(b)
		}
	case tByte, tI16, tI32, tI64:
		if t.enum != nil {
			if n, ok := s.jsonEnum(t, v); ok {
				s.e.i32(n)
			}
			return
		}
		if n, ok := s.jsonInt(t, v); ok {
			writeInt(&s.e, t.wire, n)
		}
	case tDouble:
		if f, ok := s.jsonDouble(v); ok {
			s.e.double(f)
		}
	case tString:
		if v[0] != '"' {
			s.fail("want a string for %s, got %s", kindName(t), jsonKind(v))
			return
		}
		str, ok := unquote(v)
		if !ok {
			s.fail("string is not valid UTF-8")
			return
		}
		if t.kind == idl.KindBinary {
			s.binary(str)
			return
		}
		s.e.bytes(str)
	case tUUID:
		str, ok := []byte(nil), v[0] == '"'
		if ok {
			str, ok = unquote(v)
		}
		u, ok2 := parseUUID(string(str))
		if !ok || !ok2 {
			s.fail("want a uuid string such as \"00112233-4455-6677-8899-aabbccddeeff\", got %s", shortJSON(v))
			return
		}
		s.e.uuid(u)
	case tStruct:
		s.structValue(t.st, v, nil, depth+1)
	case tList, tSet:
		s.listValue(t, v, depth+1)
	case tMap:
		s.mapValue(t, v, depth+1)
	}
}

func (s *encState) jsonBool(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	s.fail("want true or false, got %s", shortJSON(v))
	return false, false
}

// jsonInt reads an integer from a JSON number or string holding one, by
// its digits: never through float64, so every i64 survives.
func (s *encState) jsonInt(t *ttype, v []byte) (int64, bool) {
	lit := v
	if v[0] == '"' {
		str, ok := unquote(v)
		if !ok {
			s.fail("string is not valid UTF-8")
			return 0, false
		}
		lit = str
	} else if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		s.fail("want an integer (%s), got %s", kindName(t), jsonKind(v))
		return 0, false
	}
	n, err := parseInt(lit)
	if err == nil {
		err = checkRange(t, n)
	}
	if err != nil {
		s.fail("%v", err)
		return 0, false
	}
	return n, true
}

// parseInt parses JSON's integer form exactly, with range errors worded for
// a client.
func parseInt(b []byte) (int64, error) {
	if !isIntLiteral(b) {
		return 0, fmt.Errorf("%s is not an integer", shortText(b))
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u uint64
	for _, c := range b {
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, fmt.Errorf("%s is out of range for i64", shortText(b))
		}
		u = u*10 + d
	}
	switch {
	case !neg && u <= math.MaxInt64:
		return int64(u), nil
	case neg && u <= 1<<63:
		return int64(-u), nil // -(1<<63) wraps to itself, as wanted
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return 0, fmt.Errorf("%s%s is out of range for i64", sign, shortText(b))
}

func (s *encState) jsonEnum(t *ttype, v []byte) (int32, bool) {
	if v[0] == '"' {
		str, _ := unquote(v)
		if n, ok := t.enum.byName[string(str)]; ok {
			return n, true
		}
		s.fail("%s is not a value of enum %s", shortText(str), t.enum.name)
		return 0, false
	}
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		s.fail("want a name or number of enum %s, got %s", t.enum.name, jsonKind(v))
		return 0, false
	}
	n, err := parseInt(v)
	if err != nil {
		s.fail("%v", err)
		return 0, false
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		s.fail("%d is not a value of enum %s", n, t.enum.name)
		return 0, false
	}
	if _, ok := t.enum.names[int32(n)]; !ok {
		s.fail("%d is not a value of enum %s", n, t.enum.name)
		return 0, false
	}
	return int32(n), true
}

// jsonDouble reads a number, or a string: "NaN", "Infinity", "-Infinity"
// (the spellings proto3 JSON uses) or a number's text.
func (s *encState) jsonDouble(v []byte) (float64, bool) {
	lit := v
	if v[0] == '"' {
		str, _ := unquote(v)
		switch string(str) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		lit = str
		if !translate.ValidJSON(lit) || len(lit) == 0 || lit[0] != '-' && (lit[0] < '0' || lit[0] > '9') {
			s.fail("%s is not a number", shortText(str))
			return 0, false
		}
	} else if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		s.fail("want a number, got %s", jsonKind(v))
		return 0, false
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && math.IsInf(f, 0) {
		s.fail("%s is out of range for double", shortText(lit))
		return 0, false
	}
	return f, true // an underflow is the nearest double, 0 or subnormal
}

// binary decodes base64, standard or URL-safe, padded or not.
func (s *encState) binary(str []byte) {
	b, err := decodeBase64(s.scratch[:0], str)
	if err != nil {
		s.fail("binary values are base64 (standard or URL-safe alphabet): %v", err)
		return
	}
	s.scratch = b
	s.e.bytes(b)
}

func decodeBase64(dst, src []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if bytes.ContainsAny(src, "-_") {
		enc = base64.URLEncoding
	}
	if len(src)%4 != 0 || !bytes.HasSuffix(src, []byte("=")) && len(src)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	n := enc.DecodedLen(len(src))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	m, err := enc.Decode(dst, src)
	if err != nil {
		return nil, err
	}
	return dst[:m], nil
}

// listValue writes a list or set from a JSON array. Set elements must be
// distinct: their encodings are compared, so duplicates are caught for
// every element type.
func (s *encState) listValue(t *ttype, v []byte, depth int) {
	if depth > s.maxDepth {
		s.fail("nested deeper than the limit of %d levels", s.maxDepth)
		return
	}
	if v[0] != '[' {
		s.fail("want an array for %s, got %s", t.name, jsonKind(v))
		return
	}
	mark := s.e.listStart()
	var dups dupSet
	n := 0
	it := newElements(v)
	for {
		el, ok := it.next()
		if !ok {
			break
		}
		s.pushIndex(n)
		start := len(s.e.buf)
		s.value(t.elem, el, depth)
		if t.wire == tSet && dups.add(s.e.buf, start, len(s.e.buf)) {
			s.fail("duplicate set element %s", shortJSON(el))
		}
		s.pop()
		n++
	}
	s.e.listEnd(mark, t.elem.wire, n)
}

// mapValue writes a map: a JSON object when keys are strings, integers or
// enums, otherwise an array of {"key": ..., "value": ...} objects.
func (s *encState) mapValue(t *ttype, v []byte, depth int) {
	if depth > s.maxDepth {
		s.fail("nested deeper than the limit of %d levels", s.maxDepth)
		return
	}
	mark := s.e.mapStart()
	var dups dupSet
	n := 0
	if t.objKeys {
		if v[0] != '{' {
			s.fail("want an object for %s, got %s", t.name, jsonKind(v))
			return
		}
		m := newMembers(v)
		for {
			key, val, ok := m.next()
			if !ok {
				break
			}
			k, ok := unquote(key)
			if !ok {
				s.fail("a map key is not valid UTF-8")
				continue
			}
			s.pushKey(k)
			start := len(s.e.buf)
			s.objKey(t.key, k)
			if dups.add(s.e.buf, start, len(s.e.buf)) {
				s.fail("duplicate map key")
			}
			s.value(t.val, val, depth)
			s.pop()
			n++
		}
	} else {
		if v[0] != '[' {
			s.fail("want an array of {\"key\": ..., \"value\": ...} objects for %s, got %s", t.name, jsonKind(v))
			return
		}
		it := newElements(v)
		for {
			el, ok := it.next()
			if !ok {
				break
			}
			s.pushIndex(n)
			n++
			s.pair(t, el, &dups, depth)
			s.pop()
		}
	}
	s.e.mapEnd(mark, t.key.wire, t.val.wire, n)
}

// pair writes one {"key": ..., "value": ...} map entry.
func (s *encState) pair(t *ttype, el []byte, dups *dupSet, depth int) {
	if el[0] != '{' {
		s.fail("want a {\"key\": ..., \"value\": ...} object, got %s", jsonKind(el))
		return
	}
	if depth+1 > s.maxDepth {
		s.fail("nested deeper than the limit of %d levels", s.maxDepth)
		return
	}
	var kv, vv []byte
	m := newMembers(el)
	for {
		key, val, ok := m.next()
		if !ok {
			break
		}
		switch string(key) {
		case `"key"`:
			kv = val
		case `"value"`:
			vv = val
		default:
			s.pushField(strings.Trim(string(key), `"`))
			s.fail("unknown member: a map entry has only \"key\" and \"value\"")
			s.pop()
		}
	}
	if kv == nil || vv == nil {
		s.fail("a map entry needs both \"key\" and \"value\"")
		return
	}
	s.pushField("key")
	start := len(s.e.buf)
	s.value(t.key, kv, depth+1)
	if dups.add(s.e.buf, start, len(s.e.buf)) {
		s.fail("duplicate map key")
	}
	s.pop()
	s.pushField("value")
	s.value(t.val, vv, depth+1)
	s.pop()
}

// objKey writes a map key given as a JSON object key.
func (s *encState) objKey(t *ttype, k []byte) {
	switch {
	case t.kind == idl.KindString:
		s.e.bytes(k)
	case t.enum != nil:
		if n, ok := t.enum.byName[string(k)]; ok {
			s.e.i32(n)
			return
		}
		n, err := parseInt(k)
		if err == nil {
			if _, ok := t.enum.names[int32(n)]; ok && n >= math.MinInt32 && n <= math.MaxInt32 {
				s.e.i32(int32(n))
				return
			}
		}
		s.fail("map key %s is not a value of enum %s", shortText(k), t.enum.name)
	default:
		n, err := parseInt(k)
		if err == nil {
			err = checkRange(t, n)
		}
		if err != nil {
			s.fail("map key: %v", err)
			return
		}
		writeInt(&s.e, t.wire, n)
	}
}

// textField writes a field from URL or header values: one for a scalar,
// any number for a list or set of scalars.
func (s *encState) textField(f *tfield, k *node, last *int16) {
	t := f.t
	if t.wire == tList || t.wire == tSet {
		s.e.fieldHeader(t.wire, f.id, last)
		s.e.listHeader(t.elem.wire, len(k.texts))
		var dups dupSet
		for i, txt := range k.texts {
			s.pushIndex(i)
			start := len(s.e.buf)
			s.textValue(t.elem, txt, k.origin)
			if t.wire == tSet && dups.add(s.e.buf, start, len(s.e.buf)) {
				s.fail("duplicate set element %s from %s", shortText([]byte(txt)), k.origin)
			}
			s.pop()
		}
		return
	}
	if len(k.texts) != 1 {
		s.fail("%s is given %d times, but the field takes one value", k.origin, len(k.texts))
		return
	}
	if t.wire == tBool {
		b, err := strconv.ParseBool(k.texts[0])
		if err != nil {
			s.fail("invalid value %s from %s: want true or false", shortText([]byte(k.texts[0])), k.origin)
			return
		}
		s.e.boolField(f.id, b, last)
		return
	}
	s.e.fieldHeader(t.wire, f.id, last)
	s.textValue(t, k.texts[0], k.origin)
}

// textValue writes a scalar from its text form.
func (s *encState) textValue(t *ttype, txt string, origin string) {
	bad := func(problem string) {
		s.fail("invalid value %s from %s (%s): %s", shortText([]byte(txt)), origin, kindName(t), problem)
	}
	switch t.wire {
	case tBool:
		b, err := strconv.ParseBool(txt)
		if err != nil {
			bad("want true or false")
			return
		}
		s.e.bool(b)
	case tByte, tI16, tI32, tI64:
		if t.enum != nil {
			if n, ok := t.enum.byName[txt]; ok {
				s.e.i32(n)
				return
			}
			n, err := strconv.ParseInt(txt, 10, 32)
			if _, ok := t.enum.names[int32(n)]; err != nil || !ok {
				bad("not a value of the enum")
				return
			}
			s.e.i32(int32(n))
			return
		}
		n, err := strconv.ParseInt(txt, 10, intBits(t.wire))
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				lo, hi := intRange(t.wire)
				bad(fmt.Sprintf("out of range (%d to %d)", lo, hi))
			} else {
				bad("not an integer")
			}
			return
		}
		writeInt(&s.e, t.wire, n)
	case tDouble:
		f, err := strconv.ParseFloat(txt, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0) && !strings.Contains(strings.ToLower(txt), "inf") {
			bad("not a number")
			return
		}
		s.e.double(f)
	case tString:
		if !utf8.ValidString(txt) {
			bad("not valid UTF-8")
			return
		}
		if t.kind == idl.KindBinary {
			b, err := decodeBase64(s.scratch[:0], []byte(txt))
			if err != nil {
				bad("binary values are base64")
				return
			}
			s.scratch = b
			s.e.bytes(b)
			return
		}
		s.e.string(txt)
	case tUUID:
		u, ok := parseUUID(txt)
		if !ok {
			bad("not a uuid")
			return
		}
		s.e.uuid(u)
	default:
		bad("cannot be set from text")
	}
}

// dupSet finds repeated encodings among a container's elements or keys,
// by comparing bytes: a few pairwise, many through a map.
type dupSet struct {
	few  [fewElements][2]int
	n    int
	seen map[string]struct{}
}

const fewElements = 16

func (d *dupSet) add(buf []byte, start, end int) bool {
	if d.seen != nil {
		k := string(buf[start:end])
		if _, dup := d.seen[k]; dup {
			return true
		}
		d.seen[k] = struct{}{}
		return false
	}
	for _, r := range d.few[:d.n] {
		if bytes.Equal(buf[r[0]:r[1]], buf[start:end]) {
			return true
		}
	}
	if d.n < fewElements {
		d.few[d.n] = [2]int{start, end}
		d.n++
		return false
	}
	d.seen = make(map[string]struct{}, 2*fewElements)
	for _, r := range d.few {
		d.seen[string(buf[r[0]:r[1]])] = struct{}{}
	}
	d.seen[string(buf[start:end])] = struct{}{}
	return false
}

// shortJSON and shortText quote client input in messages, cut short.
func shortJSON(v []byte) string { return shortText(v) }

func shortText(b []byte) string {
	const max = 40
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		return strconv.Quote(string(b[:cut])) + "..."
	}
	return strconv.Quote(string(b))
}

// encode runs a request through the encoder: root is the args struct (or
// any struct), and the result is its encoding or an INVALID_ARGUMENT error.
func encodeRoot(compact bool, st *tstruct, root *node, maxDepth int, dst []byte) ([]byte, *translate.Error) {
	if dst == nil {
		// Thrift is rarely larger than the JSON it came from: one
		// allocation for the common request.
		dst = make([]byte, 0, max(64, len(root.raw)+len(root.raw)/4))
	}
	w := encPool.Get().(*encWork)
	s := encState{e: encoder{buf: dst, compact: compact}, maxDepth: maxDepth, stack: w.stack[:0], scratch: w.scratch[:0]}
	s.structValue(st, root.raw, root.kids, 0)
	w.put(s.stack, s.scratch)
	if s.vs.Len() > 0 {
		return nil, s.vs.Err()
	}
	return s.e.buf, nil
}

// encWork is an encoder's working memory between calls: the path stack
// (16 segments are most of a kilobyte) and the base64 scratch buffer.
type encWork struct {
	stack   []seg
	scratch []byte
}

var encPool = sync.Pool{New: func() any { return &encWork{stack: make([]seg, 0, 16)} }}

func (w *encWork) put(stack []seg, scratch []byte) {
	// The segments point into the request's body: let it go.
	clear(stack[:cap(stack)])
	w.stack = stack[:0]
	if cap(scratch) > 64<<10 {
		scratch = nil // do not keep a large blob's buffer
	}
	w.scratch = scratch[:0]
	encPool.Put(w)
}

// trimJSON checks that body is one JSON value and returns it without
// surrounding whitespace, or nil for null.
func trimJSON(body []byte) ([]byte, *translate.Error) {
	if !translate.ValidJSON(body) {
		return nil, translate.BadRequest(translate.NotJSON(body))
	}
	v := bytes.TrimFunc(body, func(r rune) bool { return r < utf8.RuneSelf && isSpace(byte(r)) })
	if isNull(v) {
		return nil, nil
	}
	return v, nil
}

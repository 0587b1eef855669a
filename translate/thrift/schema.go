package thrift

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
)

// The codec works on a compiled form of the IDL model: typedefs followed,
// fields sorted by id (the order every Apache generator writes them in, so
// that the dynamic encoding is byte-identical to generated code), name
// lookups turned into maps, and IDL default values encoded once, in the
// codec's protocol. Compiling happens when a route or a mock is set up;
// serving a request only follows pointers.

// ttype is a resolved type reference.
type ttype struct {
	kind     idl.Kind // the underlying kind, never KindTypedef
	wire     wireType
	name     string // as written, for error messages
	elem     *ttype // list, set
	key, val *ttype // map
	objKeys  bool   // map: keys are JSON object keys (string, integer, enum)
	st       *tstruct
	enum     *tenum
}

type tenum struct {
	name   string
	byName map[string]int32
	names  map[int32]string // the first name declared for each value
}

// tstruct is a struct, union or exception, or a function's synthesized
// args or result struct.
type tstruct struct {
	name     string // "prefix.Name", or "fn_args" / "fn_result"
	kind     idl.StructKind
	fields   []*tfield // sorted by id
	byName   map[string]*tfield
	msgField *tfield // exceptions: the string field the error message comes from
	typeURL  string  // exceptions: "thrift/prefix.Name", the detail's @type
	ann      idl.Annotations
}

type tfield struct {
	id      int16
	name    string
	t       *ttype
	req     idl.Requiredness
	idx     int    // position in tstruct.fields
	jsonKey []byte // `"name":`
	// def is the IDL default value, encoded (value only: a compact field
	// header depends on the previous field); for a bool, defBool. hasDef
	// is false for optional fields and union members, which stay unset.
	hasDef  bool
	def     []byte
	defBool bool
	cdef    *idl.ConstValue
}

func (st *tstruct) field(id int16) *tfield {
	// Binary search: fields are sorted by id, and most structs are small
	// enough that this beats a map.
	fs := st.fields
	lo, hi := 0, len(fs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if fs[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(fs) && fs[lo].id == id {
		return fs[lo]
	}
	return nil
}

// schema compiles IDL types for one protocol and remembers them, so that
// recursive types compile to a cyclic graph and shared types once.
type schema struct {
	compact bool
	mu      sync.Mutex
	structs map[*idl.Struct]*tstruct
	enums   map[*idl.Enum]*tenum
	methods map[*idl.Function]*Method
	pending []*tfield // defaults to encode once the graph is complete
}

func newSchema(compact bool) *schema {
	return &schema{
		compact: compact,
		structs: map[*idl.Struct]*tstruct{},
		enums:   map[*idl.Enum]*tenum{},
		methods: map[*idl.Function]*Method{},
	}
}

// compileError names what failed to compile.
type compileError struct{ msg string }

func (e *compileError) Error() string { return e.msg }

func compileErrorf(format string, args ...any) error {
	return &compileError{fmt.Sprintf(format, args...)}
}

// finish encodes the defaults collected while compiling. The caller holds mu.
func (s *schema) finish() error {
	pending := s.pending
	s.pending = nil
	for _, f := range pending {
		e := encoder{compact: s.compact}
		if f.t.wire == tBool {
			v, err := constBool(f.cdef)
			if err != nil {
				return compileErrorf("default of field %s: %v", f.name, err)
			}
			f.defBool = v
		} else if err := s.encodeConst(&e, f.t, f.cdef, maxWireDepth); err != nil {
			return compileErrorf("default of field %s: %v", f.name, err)
		}
		f.def = e.buf
		f.hasDef = true
	}
	return nil
}

func (s *schema) typ(t *idl.Type) (*ttype, error) {
	u := t.Underlying()
	if u == nil {
		return nil, compileErrorf("unresolved type %s", t.Name)
	}
	out := &ttype{kind: u.Kind, name: t.Name}
	if out.name == "" {
		out.name = u.Name
	}
	switch u.Kind {
	case idl.KindBool:
		out.wire = tBool
	case idl.KindByte:
		out.wire = tByte
	case idl.KindI16:
		out.wire = tI16
	case idl.KindI32:
		out.wire = tI32
	case idl.KindI64:
		out.wire = tI64
	case idl.KindDouble:
		out.wire = tDouble
	case idl.KindString, idl.KindBinary:
		out.wire = tString
	case idl.KindUUID:
		out.wire = tUUID
	case idl.KindEnum:
		out.wire = tI32
		if u.Enum == nil {
			return nil, compileErrorf("enum type %s has no definition", t.Name)
		}
		out.enum = s.enum(u.Enum)
	case idl.KindList, idl.KindSet:
		out.wire = tList
		if u.Kind == idl.KindSet {
			out.wire = tSet
		}
		if u.Elem == nil {
			return nil, compileErrorf("%s has no element type", t.Name)
		}
		elem, err := s.typ(u.Elem)
		if err != nil {
			return nil, err
		}
		out.elem = elem
	case idl.KindMap:
		out.wire = tMap
		if u.Key == nil || u.Value == nil {
			return nil, compileErrorf("%s has no key or value type", t.Name)
		}
		k, err := s.typ(u.Key)
		if err != nil {
			return nil, err
		}
		v, err := s.typ(u.Value)
		if err != nil {
			return nil, err
		}
		out.key, out.val = k, v
		switch k.kind {
		case idl.KindString, idl.KindByte, idl.KindI16, idl.KindI32, idl.KindI64, idl.KindEnum:
			out.objKeys = true
		}
	case idl.KindStruct:
		out.wire = tStruct
		if u.Struct == nil {
			return nil, compileErrorf("struct type %s has no definition", t.Name)
		}
		st, err := s.structOf(u.Struct)
		if err != nil {
			return nil, err
		}
		out.st = st
	case idl.KindVoid:
		return nil, compileErrorf("void is not a value type")
	default:
		return nil, compileErrorf("type %s has unknown kind %d", t.Name, u.Kind)
	}
	if out.name == "" {
		out.name = out.wire.String()
	}
	return out, nil
}

func (s *schema) enum(e *idl.Enum) *tenum {
	if te, ok := s.enums[e]; ok {
		return te
	}
	te := &tenum{name: e.Name, byName: make(map[string]int32, len(e.Values)), names: make(map[int32]string, len(e.Values))}
	if e.File != nil {
		te.name = e.File.Prefix + "." + e.Name
	}
	for _, v := range e.Values {
		te.byName[v.Name] = v.Value
		if _, dup := te.names[v.Value]; !dup {
			te.names[v.Value] = v.Name
		}
	}
	s.enums[e] = te
	return te
}

func (s *schema) structOf(st *idl.Struct) (*tstruct, error) {
	if ts, ok := s.structs[st]; ok {
		return ts, nil
	}
	name := st.Name
	if st.File != nil {
		name = st.FullName()
	}
	ts := &tstruct{name: name, kind: st.Kind, ann: st.Annotations}
	s.structs[st] = ts // before the fields: a struct may contain itself
	if err := s.fields(ts, st.Fields); err != nil {
		delete(s.structs, st)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if st.Kind == idl.StructKindException {
		ts.typeURL = "thrift/" + name
		for _, n := range []string{"message", "msg", "what", "why"} {
			if f := ts.byName[n]; f != nil && f.t.kind == idl.KindString {
				ts.msgField = f
				break
			}
		}
	}
	return ts, nil
}

// fields compiles a field list into ts, sorted by id.
func (s *schema) fields(ts *tstruct, fs []*idl.Field) error {
	ts.byName = make(map[string]*tfield, len(fs))
	seen := make(map[int16]string, len(fs))
	for _, f := range fs {
		if prev, dup := seen[f.ID]; dup {
			return compileErrorf("fields %s and %s share id %d", prev, f.Name, f.ID)
		}
		seen[f.ID] = f.Name
		if _, dup := ts.byName[f.Name]; dup {
			return compileErrorf("two fields are named %s", f.Name)
		}
		if f.Type == nil {
			return compileErrorf("field %s has no type", f.Name)
		}
		t, err := s.typ(f.Type)
		if err != nil {
			return compileErrorf("field %s: %v", f.Name, err)
		}
		tf := &tfield{id: f.ID, name: f.Name, t: t, req: f.Required, jsonKey: []byte(`"` + f.Name + `":`)}
		if f.Default != nil && f.Required != idl.Optional && ts.kind != idl.StructKindUnion {
			tf.cdef = f.Default
			s.pending = append(s.pending, tf)
		}
		ts.fields = append(ts.fields, tf)
		ts.byName[f.Name] = tf
	}
	slices.SortStableFunc(ts.fields, func(a, b *tfield) int { return cmp.Compare(a.id, b.id) })
	for i, f := range ts.fields {
		f.idx = i
	}
	return nil
}

// method compiles a function's args and result structs, the ones the
// Apache generators synthesize: args with the declared ids, result with
// the return value as field 0, "success", and the declared exceptions.
func (s *schema) method(fn *idl.Function) (*Method, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.methods[fn]; ok {
		return m, nil
	}
	m := &Method{fn: fn, compact: s.compact}
	m.args = &tstruct{name: fn.Name + "_args"}
	if err := s.fields(m.args, fn.Args); err != nil {
		s.pending = nil
		return nil, fmt.Errorf("function %s: arguments: %w", fn.Name, err)
	}
	m.result = &tstruct{name: fn.Name + "_result"}
	results := fn.Throws
	if fn.Returns != nil && fn.Returns.Underlying() != nil && fn.Returns.Underlying().Kind != idl.KindVoid {
		results = append([]*idl.Field{{ID: 0, Name: "success", Type: fn.Returns}}, fn.Throws...)
	}
	if err := s.fields(m.result, results); err != nil {
		s.pending = nil
		return nil, fmt.Errorf("function %s: result: %w", fn.Name, err)
	}
	if f := m.result.field(0); f != nil && f.name == "success" && len(results) > len(fn.Throws) {
		m.success = f
	}
	for _, f := range m.result.fields {
		if f != m.success && (f.t.st == nil || f.t.st.kind != idl.StructKindException) {
			s.pending = nil
			return nil, fmt.Errorf("function %s: throws %s, which is not an exception", fn.Name, f.t.name)
		}
	}
	if err := s.finish(); err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	s.methods[fn] = m
	return m, nil
}

// compileStruct compiles a named struct on its own.
func (s *schema) compileStruct(st *idl.Struct) (*tstruct, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.structOf(st)
	if err != nil {
		s.pending = nil
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, fmt.Errorf("%s: %w", ts.name, err)
	}
	return ts, nil
}

var errDeepDefault = errors.New("default value nests too deeply (a recursive default?)")

// resolve follows constant references to the value they name.
func resolve(cv *idl.ConstValue) *idl.ConstValue {
	for i := 0; cv != nil && cv.Kind == idl.ConstIdent && i < 100; i++ {
		cv = cv.Resolved
	}
	return cv
}

func constBool(cv *idl.ConstValue) (bool, error) {
	cv = resolve(cv)
	switch {
	case cv == nil:
		return false, fmt.Errorf("unresolved constant")
	case cv.Kind == idl.ConstBool:
		return cv.Bool, nil
	case cv.Kind == idl.ConstInt && (cv.Int == 0 || cv.Int == 1):
		return cv.Int == 1, nil
	}
	return false, fmt.Errorf("not a bool")
}

// encodeConst encodes an IDL constant as a value of type t.
func (s *schema) encodeConst(e *encoder, t *ttype, cv *idl.ConstValue, depth int) error {
	if depth <= 0 {
		return errDeepDefault
	}
	cv = resolve(cv)
	if cv == nil {
		return fmt.Errorf("unresolved constant")
	}
	switch t.wire {
	case tBool:
		v, err := constBool(cv)
		if err != nil {
			return err
		}
		e.bool(v)
	case tByte, tI16, tI32, tI64:
		if cv.Kind != idl.ConstInt {
			return fmt.Errorf("%s is not an integer", constString(cv))
		}
		if err := checkRange(t, cv.Int); err != nil {
			return err
		}
		writeInt(e, t.wire, cv.Int)
	case tDouble:
		switch cv.Kind {
		case idl.ConstDouble:
			e.double(cv.Double)
		case idl.ConstInt:
			e.double(float64(cv.Int))
		default:
			return fmt.Errorf("%s is not a number", constString(cv))
		}
	case tString:
		if cv.Kind != idl.ConstString {
			return fmt.Errorf("%s is not a string", constString(cv))
		}
		e.string(cv.String)
	case tUUID:
		if cv.Kind != idl.ConstString {
			return fmt.Errorf("%s is not a uuid string", constString(cv))
		}
		u, ok := parseUUID(cv.String)
		if !ok {
			return fmt.Errorf("%q is not a uuid", cv.String)
		}
		e.uuid(u)
	case tList, tSet:
		if cv.Kind != idl.ConstList {
			return fmt.Errorf("%s is not a list", constString(cv))
		}
		e.listHeader(t.elem.wire, len(cv.List))
		for _, el := range cv.List {
			if err := s.encodeConst(e, t.elem, el, depth-1); err != nil {
				return err
			}
		}
	case tMap:
		if cv.Kind != idl.ConstMap {
			return fmt.Errorf("%s is not a map", constString(cv))
		}
		e.mapHeader(t.key.wire, t.val.wire, len(cv.Map))
		for _, en := range cv.Map {
			if err := s.encodeConst(e, t.key, en.Key, depth-1); err != nil {
				return err
			}
			if err := s.encodeConst(e, t.val, en.Value, depth-1); err != nil {
				return err
			}
		}
	case tStruct:
		return s.encodeConstStruct(e, t.st, cv, depth)
	default:
		return fmt.Errorf("cannot encode a constant of type %s", t.name)
	}
	return nil
}

// encodeConstStruct encodes a struct constant, written in the IDL as a map
// from field names to values. Fields it leaves out get their own defaults,
// as a generated constructor would give them.
func (s *schema) encodeConstStruct(e *encoder, st *tstruct, cv *idl.ConstValue, depth int) error {
	if cv.Kind != idl.ConstMap {
		return fmt.Errorf("%s is not a struct value", constString(cv))
	}
	given := make([]*idl.ConstValue, len(st.fields))
	for _, en := range cv.Map {
		k := resolve(en.Key)
		if k == nil || k.Kind != idl.ConstString {
			return fmt.Errorf("struct %s: field names must be strings", st.name)
		}
		f := st.byName[k.String]
		if f == nil {
			return fmt.Errorf("struct %s has no field %s", st.name, k.String)
		}
		given[f.idx] = en.Value
	}
	var last int16
	for i, f := range st.fields {
		v := given[i]
		if v == nil && f.cdef != nil {
			v = f.cdef
		}
		if v == nil {
			continue
		}
		if f.t.wire == tBool {
			b, err := constBool(v)
			if err != nil {
				return fmt.Errorf("field %s: %v", f.name, err)
			}
			e.boolField(f.id, b, &last)
			continue
		}
		e.fieldHeader(f.t.wire, f.id, &last)
		if err := s.encodeConst(e, f.t, v, depth-1); err != nil {
			if errors.Is(err, errDeepDefault) {
				return err // one message, not one "field x:" per level
			}
			return fmt.Errorf("field %s: %v", f.name, err)
		}
	}
	e.stop()
	return nil
}

func constString(cv *idl.ConstValue) string {
	switch cv.Kind {
	case idl.ConstInt:
		return fmt.Sprint(cv.Int)
	case idl.ConstDouble:
		return fmt.Sprint(cv.Double)
	case idl.ConstString:
		return fmt.Sprintf("%q", cv.String)
	case idl.ConstBool:
		return fmt.Sprint(cv.Bool)
	case idl.ConstList:
		return "a list"
	case idl.ConstMap:
		return "a map"
	}
	return "constant " + cv.Ident
}

func writeInt(e *encoder, w wireType, v int64) {
	switch w {
	case tByte:
		e.byte(int8(v))
	case tI16:
		e.i16(int16(v))
	case tI32:
		e.i32(int32(v))
	default:
		e.i64(v)
	}
}

// intRange is the range of an integer type.
func intRange(w wireType) (lo, hi int64) {
	switch w {
	case tByte:
		return math.MinInt8, math.MaxInt8
	case tI16:
		return math.MinInt16, math.MaxInt16
	case tI32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func intBits(w wireType) int {
	switch w {
	case tByte:
		return 8
	case tI16:
		return 16
	case tI32:
		return 32
	}
	return 64
}

func checkRange(t *ttype, v int64) error {
	if t.enum != nil {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("%d is out of range for enum %s", v, t.enum.name)
		}
		return nil
	}
	lo, hi := intRange(t.wire)
	if v < lo || v > hi {
		return fmt.Errorf("%d is out of range for %s (%d to %d)", v, kindName(t), lo, hi)
	}
	return nil
}

// kindName is the IDL spelling of t's underlying type.
func kindName(t *ttype) string {
	switch t.kind {
	case idl.KindByte:
		return "i8"
	case idl.KindBinary:
		return "binary"
	case idl.KindString:
		return "string"
	case idl.KindEnum:
		return "enum " + t.enum.name
	case idl.KindStruct:
		switch t.st.kind {
		case idl.StructKindUnion:
			return "union " + t.st.name
		case idl.StructKindException:
			return "exception " + t.st.name
		}
		return "struct " + t.st.name
	case idl.KindList, idl.KindSet, idl.KindMap:
		return t.name
	}
	return t.wire.String()
}

// parseUUID reads the canonical 8-4-4-4-12 hex form, either case.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

func appendUUID(dst []byte, u []byte) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

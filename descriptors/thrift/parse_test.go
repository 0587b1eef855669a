package thrift

import (
	"errors"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// parseString parses src as the root "test.thrift" with includes from files.
func parseString(t *testing.T, src string, files fstest.MapFS, dirs ...string) (*Program, error) {
	t.Helper()
	if files == nil {
		files = fstest.MapFS{}
	}
	p, err := Parse("test.thrift", []byte(src), Options{FS: files, IncludeDirs: dirs})
	if err == nil {
		checkModel(t, p)
	}
	return p, err
}

func mustParse(t *testing.T, src string, files fstest.MapFS, dirs ...string) *Program {
	t.Helper()
	p, err := parseString(t, src, files, dirs...)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

// wantErrors checks that parsing src fails with errors containing each of
// the wanted substrings, in order.
func wantErrors(t *testing.T, src string, files fstest.MapFS, want ...string) {
	t.Helper()
	_, err := parseString(t, src, files)
	if err == nil {
		t.Fatalf("Parse succeeded, want errors %q", want)
	}
	got := err.Error()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("errors:\n%s\nwant (in order) %q", got, want)
		}
		rest = rest[i+len(w):]
	}
}

func TestEnumValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []int32
	}{
		{"implicit", "enum E { A, B, C }", []int32{0, 1, 2}},
		{"explicit then implicit", "enum E { A = 10, B, C = 3, D }", []int32{10, 11, 3, 4}},
		{"negative", "enum E { A = -5, B, C = -1, D }", []int32{-5, -4, -1, 0}},
		{"hex", "enum E { A = 0x10, B, C = 0xFF; D = -0x1 }", []int32{16, 17, 255, -1}},
		{"limits", "enum E { MIN = -2147483648, MAX = 2147483647 }", []int32{math.MinInt32, math.MaxInt32}},
		{"plus sign", "enum E { A = +7 }", []int32{7}},
		{"no separators", "enum E { A = 1 B C = 5 D }", []int32{1, 2, 5, 6}},
		{"empty", "enum E {}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := mustParse(t, tt.src, nil)
			e := p.Root.Enums["E"]
			var got []int32
			for _, v := range e.Values {
				got = append(got, v.Value)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("values %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("values %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestEnumErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"too big", "enum E { A = 2147483648 }", "does not fit in 32 bits"},
		{"too small", "enum E { A = -2147483649 }", "does not fit in 32 bits"},
		{"implicit overflow", "enum E { A = 2147483647, B }", "enum value B overflows 32 bits"},
		{"double", "enum E { A = 1.5 }", "expected integer enum value"},
		{"duplicate name", "enum E { A, A }", `enum value "A" is already defined in enum "E"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, nil, tt.want)
		})
	}
}

// constOf parses src and returns the resolved value of its constant X.
func constOf(t *testing.T, src string, files fstest.MapFS) *ConstValue {
	t.Helper()
	p := mustParse(t, src, files)
	c := p.Root.Consts["X"]
	if c == nil {
		t.Fatalf("no constant X")
	}
	return c.Value
}

func TestConstValues(t *testing.T) {
	t.Parallel()
	shared := fstest.MapFS{"shared.thrift": {Data: []byte(`
		enum Level { LOW = 1, HIGH = 2 }
		const i32 ANSWER = 42
		const string GREETING = "hi"
	`)}}
	type check func(t *testing.T, v *ConstValue)
	isInt := func(want int64) check {
		return func(t *testing.T, v *ConstValue) {
			t.Helper()
			if v.Kind == ConstIdent {
				v = v.Resolved
			}
			if v.Kind != ConstInt || v.Int != want {
				t.Errorf("got %s, want int %d", describeValue(v), want)
			}
		}
	}
	isDouble := func(want float64) check {
		return func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstDouble || v.Double != want {
				t.Errorf("got %s, want double %v", describeValue(v), want)
			}
		}
	}
	isString := func(want string) check {
		return func(t *testing.T, v *ConstValue) {
			if v.Kind == ConstIdent {
				v = v.Resolved
			}
			if v.Kind != ConstString || v.String != want {
				t.Errorf("got %s, want string %q", describeValue(v), want)
			}
		}
	}
	isEnum := func(enum, value string, n int64) check {
		return func(t *testing.T, v *ConstValue) {
			t.Helper()
			if v.Enum == nil || v.Enum.Name != enum || v.EnumValue == nil || v.EnumValue.Name != value {
				t.Fatalf("got %s, want enum value %s.%s", describeValue(v), enum, value)
			}
			isInt(n)(t, v)
		}
	}
	tests := []struct {
		name, src string
		check     check
	}{
		{"decimal", "const i32 X = 12", isInt(12)},
		{"negative", "const i32 X = -12", isInt(-12)},
		{"plus", "const i32 X = +12", isInt(12)},
		{"hex", "const i32 X = 0x1F", isInt(31)},
		{"negative hex", "const i64 X = -0x1F", isInt(-31)},
		{"i64 max", "const i64 X = 9223372036854775807", isInt(math.MaxInt64)},
		{"i64 min", "const i64 X = -9223372036854775808", isInt(math.MinInt64)},
		{"i8 min", "const i8 X = -128", isInt(-128)},
		{"byte max", "const byte X = 127", isInt(127)},
		{"double", "const double X = 1.5", isDouble(1.5)},
		{"leading dot", "const double X = .5", isDouble(.5)},
		{"exponent", "const double X = 1.5e-3", isDouble(1.5e-3)},
		{"exponent without fraction", "const double X = 2E10", isDouble(2e10)},
		{"negative exponent sign", "const double X = -2.5e+2", isDouble(-250)},
		{"int as double", "const double X = 3", isInt(3)},
		{"double quotes", `const string X = "a \"b\" \n\t\\ 'c'"`, isString("a \"b\" \n\t\\ 'c'")},
		{"single quotes", `const string X = 'a \'b\' "c"'`, isString(`a 'b' "c"`)},
		{"unknown escape kept", `const string X = "\d\u00e9"`, isString(`\d\u00e9`)},
		{"utf-8", `const string X = "héllo"`, isString("héllo")},
		{"binary", `const binary X = "raw"`, isString("raw")},
		{"true", "const bool X = true", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstBool || !v.Bool {
				t.Errorf("got %s", describeValue(v))
			}
		}},
		{"bool as int", "const bool X = 1", isInt(1)},
		{"true as int", "const i32 X = true", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstBool {
				t.Errorf("got %s", describeValue(v))
			}
		}},
		{"const ref", "const i32 Y = 5\nconst i32 X = Y", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstIdent || v.Const == nil || v.Const.Name != "Y" {
				t.Fatalf("got %+v", v)
			}
			isInt(5)(t, v)
		}},
		{"const ref chain", "const i32 X = Y\nconst i32 Y = Z\nconst i32 Z = 9", func(t *testing.T, v *ConstValue) {
			if v.Const.Name != "Y" || v.Resolved.Kind != ConstInt || v.Resolved.Int != 9 {
				t.Errorf("got %+v", v)
			}
		}},
		{"enum value", "enum E { A = -3 }\nconst E X = E.A", isEnum("E", "A", -3)},
		{"bare enum value", "enum E { A = 4 }\nconst E X = A", isEnum("E", "A", 4)},
		{"enum by number", "enum E { A = 4 }\nconst E X = 4", isEnum("E", "A", 4)},
		{"enum value as int", "enum E { A = 0x20 }\nconst i32 X = E.A", isEnum("E", "A", 32)},
		{"included enum value", "include \"shared.thrift\"\nconst shared.Level X = shared.Level.HIGH", isEnum("Level", "HIGH", 2)},
		{"included enum value as int", "include \"shared.thrift\"\nconst i64 X = shared.Level.LOW", isEnum("Level", "LOW", 1)},
		{"apache loose enum value", "include \"shared.thrift\"\nconst shared.Level X = shared.HIGH", isEnum("Level", "HIGH", 2)},
		{"included const", "include \"shared.thrift\"\nconst i64 X = shared.ANSWER", isInt(42)},
		{"included string const", "include \"shared.thrift\"\nconst string X = shared.GREETING", isString("hi")},
		{"list separators", "const list<i32> X = [1, 2; 3 4,]", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstList || len(v.List) != 4 || v.List[3].Int != 4 {
				t.Errorf("got %+v", v)
			}
		}},
		{"map separators", `const map<string, i32> X = {"a": 1; "b": 2 "c": 3,}`, func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstMap || len(v.Map) != 3 || v.Map[2].Key.String != "c" || v.Map[2].Value.Int != 3 {
				t.Errorf("got %+v", v)
			}
		}},
		{"empty set as {}", "const set<i32> X = {}", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstList || len(v.List) != 0 {
				t.Errorf("got %+v", v)
			}
		}},
		{"empty map as []", "const map<i32, i32> X = []", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstMap || len(v.Map) != 0 {
				t.Errorf("got %+v", v)
			}
		}},
		{"enum map keys", "enum E { A, B }\nconst map<E, string> X = {E.A: \"a\", B: \"b\"}", func(t *testing.T, v *ConstValue) {
			if v.Map[0].Key.EnumValue.Name != "A" || v.Map[1].Key.EnumValue.Name != "B" {
				t.Errorf("keys not resolved to enum values")
			}
		}},
		{"struct", "struct P { 1: i32 x, 2: list<string> tags }\nconst P X = {\"x\": 1, \"tags\": [\"a\"]}", func(t *testing.T, v *ConstValue) {
			if v.Kind != ConstMap || len(v.Map) != 2 {
				t.Errorf("got %+v", v)
			}
		}},
		{"typedef", "typedef i16 Short\nconst Short X = -32768", isInt(-32768)},
		{"uuid", `const uuid X = "{01234567-89ab-cdef-0123-456789ABCDEF}"`, isString("{01234567-89ab-cdef-0123-456789ABCDEF}")},
		{"annotations", `const i32 X = 1 (a = "b")`, isInt(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, constOf(t, tt.src, shared))
		})
	}
}

func TestConstErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"string into i32", `const i32 X = "7"`, `cannot use string "7" as i32 in constant "X"`},
		{"i8 overflow", "const i8 X = 128", "out of range (-128 to 127)"},
		{"i8 underflow", "const byte X = -129", "out of range (-128 to 127)"},
		{"i16 overflow", "const i16 X = 32768", "out of range (-32768 to 32767)"},
		{"i32 overflow", "const i32 X = 0x80000000", "out of range (-2147483648 to 2147483647)"},
		{"i64 overflow", "const i64 X = 9223372036854775808", "integer 9223372036854775808 is too big"},
		{"double into int", "const i32 X = 1.5", "cannot use 1.5 as i32"},
		{"int into string", "const string X = 1", "cannot use 1 as string"},
		{"list into map", "const map<i32,i32> X = [1]", "cannot use a list as map<i32, i32>"},
		{"map into list", "const list<i32> X = {1: 2}", "cannot use a map as list<i32>"},
		{"bool 2", "const bool X = 2", "cannot use 2 as bool"},
		{"undefined", "const i32 X = Y", `undefined constant "Y" in constant "X"`},
		{"undefined enum value", "enum E { A }\nconst E X = E.B", `enum "E" has no value "B"`},
		{"wrong enum", "enum E { A }\nenum F { B = 1 }\nconst E X = F.B", `cannot use F.B (1) as E in constant "X": it is a value of enum "F"`},
		{"number not in enum", "enum E { A }\nconst E X = 3", `enum "E" has no value 3`},
		{"cycle", "const i32 X = Y\nconst i32 Y = X", `constant "X" is defined in terms of itself`},
		{"self", "const i32 X = X", `constant "X" is defined in terms of itself`},
		{"struct unknown field", "struct P { 1: i32 x }\nconst P X = {\"y\": 1}", `struct "P" has no field "y"`},
		{"struct key not string", "struct P { 1: i32 x }\nconst P X = {1: 1}", "needs field names as keys"},
		{"struct field type", "struct P { 1: i32 x }\nconst P X = {\"x\": \"no\"}", `cannot use string "no" as i32`},
		{"ref of wrong type", "const string Y = \"s\"\nconst i32 X = Y", `cannot use Y (string "s") as i32`},
		{"bad uuid", `const uuid X = "0123"`, "not a UUID"},
		{"keyword as value", "const i32 X = struct", "expected constant value"},
		{"missing value", "const i32 X =", "expected constant value, found end of file"},
		{"default out of range", "struct S { 1: i8 b = 1000 }", `cannot use 1000 as i8 in the default of field "b" of struct "S"`},
		{"void const", "const void X = 1", "void is only allowed as a function's return type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, nil, tt.want)
		})
	}
}

func TestFieldIDs(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		struct S {
			i32 a
			2: i32 b
			i32 c
			-5: i32 d
			0: i32 e
			32767: i32 f
		}
		service X {
			void f(i32 a, 1: i32 b, i32 c) throws (Ex e)
		}
		exception Ex {}
	`, nil)
	type idf struct {
		id       int16
		implicit bool
	}
	check := func(fields []*Field, want ...idf) {
		t.Helper()
		if len(fields) != len(want) {
			t.Fatalf("%d fields, want %d", len(fields), len(want))
		}
		for i, f := range fields {
			if f.ID != want[i].id || f.ImplicitID != want[i].implicit {
				t.Errorf("field %s: id %d implicit %v, want %d %v", f.Name, f.ID, f.ImplicitID, want[i].id, want[i].implicit)
			}
		}
	}
	// Implicit and non-positive ids count down from -1 per field list, as the
	// Apache compiler assigns them; explicit positive ids do not move it.
	check(p.Root.Structs["S"].Fields, idf{-1, true}, idf{2, false}, idf{-2, true}, idf{-3, true}, idf{-4, true}, idf{32767, false})
	fn := p.Service("X").Function("f")
	check(fn.Args, idf{-1, true}, idf{1, false}, idf{-2, true})
	check(fn.Throws, idf{-1, true})
	var warned int
	for _, w := range p.Warnings {
		if strings.Contains(w, "no field id") || strings.Contains(w, "is not positive") {
			warned++
		}
	}
	if warned != 7 {
		t.Errorf("%d implicit id warnings, want 7:\n%s", warned, strings.Join(p.Warnings, "\n"))
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"inc.thrift":  {Data: []byte(`include "deep.thrift"`)},
		"deep.thrift": {Data: []byte(`struct D {}`)},
	}
	tests := []struct{ name, src, want string }{
		{"id too big", "struct S { 32768: i32 a }", "field id 32768 is out of range"},
		{"duplicate id", "struct S { 1: i32 a, 1: i32 b }", `field "b" of struct "S" has id 1, already used by field "a"`},
		{"types need a direct include", "include \"inc.thrift\"\nstruct S { 1: deep.D d }", `undefined type "deep.D"`},
		{"duplicate name", "struct S { 1: i32 a, 2: string a }", `field "a" is already defined in struct "S"`},
		{"void field", "struct S { 1: void a }", "void is only allowed as a function's return type"},
		{"void map value", "struct S { 1: map<string, void> a }", "void is only allowed"},
		{"undefined type", "struct S { 1: Foo a }", `undefined type "Foo" in field "a" of struct "S"`},
		{"undefined included type", "struct S { 1: other.Foo a }", `undefined type "other.Foo"`},
		{"dotted name", "struct S { 1: i32 a.b }", `field name "a.b" must not contain a dot`},
		{"dotted definition", "struct a.b { }", `struct name "a.b" must not contain a dot`},
		{"keyword definition name", "struct list { }", "expected struct name, found \"list\""},
		{"missing type", "struct S { 1: a }", "expected field name"},
		{"union two defaults", "union U { 1: i32 a = 1, 2: i32 b = 2 }", "already has one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, files, tt.want)
		})
	}
}

func TestRequiredness(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		struct S { 1: required i32 a, 2: optional i32 b, 3: i32 c }
		union U { 1: i32 a, 2: required i32 b }
		exception E { 1: required string why }
		service X { void f(1: optional i32 a, 2: required i32 b) throws (1: required E e) }
	`, nil)
	want := func(fields []*Field, rs ...Requiredness) {
		t.Helper()
		for i, f := range fields {
			if f.Required != rs[i] {
				t.Errorf("%s: requiredness %d, want %d", f.Name, f.Required, rs[i])
			}
		}
	}
	want(p.Root.Structs["S"].Fields, Required, Optional, Default)
	want(p.Root.Structs["U"].Fields, Optional, Optional) // union members are optional
	want(p.Root.Structs["E"].Fields, Required)
	fn := p.Service("X").Function("f")
	want(fn.Args, Default, Required) // optional is ignored on arguments
	want(fn.Throws, Default)         // required is ignored in throws
}

func TestAnnotationsEverywhere(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		namespace go x.y (ns = "1")
		typedef i32 (t.type = "2") Int (t.def = "3")
		const Int C = 1 (c = "4")
		enum E { A = 1 (ev = "5"); B } (e = "6")
		struct S {
			1: list<i32> (t.list = "7") a (f = "8", flag, g = 'single';)
			2: map<string (t.key = "k"), S (t.ref = "r")> (t.map = "m") b
		} (s = "9")
		union U { 1: i32 a } (u = "10")
		exception X { 1: i32 a } (x = "11")
		service Svc {
			S (t.ret = "12") get(1: i32 id (arg = "13")) throws (1: X x (thr = "14")) (fn = "15", api.get = "/s/:id")
		} (svc = "16")
	`, nil)
	r := p.Root
	get := func(as Annotations, key, want string) {
		t.Helper()
		if v, ok := as.Get(key); !ok || v != want {
			t.Errorf("annotation %s = %q, %v; want %q", key, v, ok, want)
		}
	}
	get(r.Namespaces[0].Annotations, "ns", "1")
	get(r.Typedefs["Int"].Type.Annotations, "t.type", "2")
	get(r.Typedefs["Int"].Annotations, "t.def", "3")
	get(r.Consts["C"].Annotations, "c", "4")
	get(r.Enums["E"].Values[0].Annotations, "ev", "5")
	get(r.Enums["E"].Annotations, "e", "6")
	a := r.Structs["S"].Fields[0]
	get(a.Type.Annotations, "t.list", "7")
	get(a.Annotations, "f", "8")
	get(a.Annotations, "flag", "1") // a bare flag reads "1", as in the Apache compiler
	get(a.Annotations, "g", "single")
	b := r.Structs["S"].Fields[1]
	get(b.Type.Annotations, "t.map", "m")
	get(b.Type.Key.Annotations, "t.key", "k")
	get(b.Type.Value.Annotations, "t.ref", "r")
	get(r.Structs["S"].Annotations, "s", "9")
	get(r.Structs["U"].Annotations, "u", "10")
	get(r.Structs["X"].Annotations, "x", "11")
	fn := r.Services["Svc"].Functions[0]
	get(fn.Returns.Annotations, "t.ret", "12")
	get(fn.Args[0].Annotations, "arg", "13")
	get(fn.Throws[0].Annotations, "thr", "14")
	get(fn.Annotations, "fn", "15")
	get(fn.Annotations, "api.get", "/s/:id")
	get(r.Services["Svc"].Annotations, "svc", "16")
	if got := len(a.Annotations); got != 3 {
		t.Errorf("field a has %d annotations, want 3", got)
	}
	if _, ok := a.Annotations.Get("missing"); ok {
		t.Errorf("Get of a missing key succeeded")
	}
	if pos := a.Annotations[1].Pos; pos.Line != 7 || pos.Column == 0 {
		t.Errorf("annotation position %v", pos)
	}
}

func TestDocComments(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `/**
 * The file.
 */
namespace * docs

// Not a doc comment.
/**
 * A struct.
 *
 * Two paragraphs.
 */
struct S {
  /** Field one. */
  1: i32 a
  /* not a doc */
  2: i32 b
  /// Slash doc,
  /// two lines.
  3: i32 c
}

/** Before an enum. */ enum E {
  /** The value. */ A
}

service Svc {
  /** Function doc. */
  void f()
}
/**/ const i32 NO_DOC = 1
`, nil)
	r := p.Root
	tests := []struct{ what, got, want string }{
		{"file", r.Doc, "The file."},
		{"struct", r.Structs["S"].Doc, "A struct.\n\nTwo paragraphs."},
		{"field a", r.Structs["S"].Fields[0].Doc, "Field one."},
		{"field b", r.Structs["S"].Fields[1].Doc, ""},
		{"field c", r.Structs["S"].Fields[2].Doc, "Slash doc,\ntwo lines."},
		{"enum", r.Enums["E"].Doc, "Before an enum."},
		{"enum value", r.Enums["E"].Values[0].Doc, "The value."},
		{"function", r.Services["Svc"].Functions[0].Doc, "Function doc."},
		{"const", r.Consts["NO_DOC"].Doc, ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s doc = %q, want %q", tt.what, tt.got, tt.want)
		}
	}
}

// includeFS is a tree of files for the include tests: the root includes a
// file next to it, one in a subdirectory and one only an include directory
// has; there is a diamond (both a and b include base).
func includeFS() fstest.MapFS {
	return fstest.MapFS{
		"idl/root.thrift": {Data: []byte(`
			include "a.thrift"
			include "sub/b.thrift"
			include "lib.thrift"
			include "base.thrift"
			service Root extends b.Middle {
				a.A one(1: lib.L l) throws (1: base.Oops o)
			}
			struct Uses { 1: a.A a, 2: b.B b }
		`)},
		"idl/a.thrift":        {Data: []byte("include \"base.thrift\"\nstruct A { 1: base.Id id }\n")},
		"idl/sub/b.thrift":    {Data: []byte("include \"base.thrift\"\nstruct B { 1: base.Id id }\nservice Middle extends base.Base { void mid() }\n")},
		"idl/base.thrift":     {Data: []byte("typedef i64 Id\nexception Oops {}\nservice Base { void ping() }\n")},
		"idl/sub/base.thrift": {Data: []byte("typedef i64 Id\nservice Base { void pong() }\n")},
		"include/lib.thrift":  {Data: []byte("struct L {}\n")},
		"include/base.thrift": {Data: []byte("this file is shadowed and never read {\n")},
	}
}

func TestIncludesThroughFS(t *testing.T) {
	t.Parallel()
	p, err := ParseFile("idl/root.thrift", Options{FS: includeFS(), IncludeDirs: []string{"include"}})
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, p)
	var paths []string
	for _, f := range p.Files {
		paths = append(paths, f.Path)
	}
	// Depth first, each file once; sub/b.thrift finds the base.thrift next
	// to it (sub/base.thrift) before idl/base.thrift, since the including
	// file's directory comes first.
	want := "idl/root.thrift idl/a.thrift idl/base.thrift idl/sub/b.thrift idl/sub/base.thrift include/lib.thrift"
	if len(p.Root.Includes) != 4 || p.Root.Includes[3] != p.Files[2] {
		t.Errorf("root includes %d files; base.thrift should be the one a.thrift included", len(p.Root.Includes))
	}
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("files:\n%s\nwant\n%s", got, want)
	}
	root := p.Service("Root")
	if root.Extends != p.Service("b.Middle") || root.Extends.Extends == nil || root.Extends.Extends.File.Path != "idl/sub/base.thrift" {
		t.Errorf("Root does not extend b.Middle extending sub/base.Base")
	}
	var names []string
	for _, fn := range root.AllFunctions() {
		names = append(names, fn.Name)
	}
	if got := strings.Join(names, " "); got != "one mid pong" {
		t.Errorf("AllFunctions = %s", got)
	}
	if fn := root.Function("pong"); fn == nil || fn.Service.Name != "Base" {
		t.Errorf("inherited pong not found")
	}
	one := root.Function("one")
	if one.Args[0].Type.Struct.File.Path != "include/lib.thrift" || one.Throws[0].Type.Struct.FullName() != "base.Oops" {
		t.Errorf("types across includes not resolved")
	}
	if p.Service("base.Base") == nil || p.Service("nope.Base") != nil || p.Service("Middle") != nil {
		t.Errorf("Program.Service lookups wrong")
	}
}

func TestIncludeSearchPath(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"first/x.thrift":  {Data: []byte("struct X { 1: i32 first }")},
		"second/x.thrift": {Data: []byte("struct X { 1: i32 second }")},
		"second/y.thrift": {Data: []byte("struct Y {}")},
	}
	p := mustParse(t, "include \"x.thrift\"\ninclude \"y.thrift\"\nstruct S { 1: x.X x, 2: y.Y y }", files, "first", "second")
	if p.Files[1].Path != "first/x.thrift" || p.Files[2].Path != "second/y.thrift" {
		t.Errorf("include dirs not searched in order: %s, %s", p.Files[1].Path, p.Files[2].Path)
	}
	_, err := parseString(t, `include "z.thrift"`, files, "first", "second")
	if err == nil || !strings.Contains(err.Error(), `cannot find include "z.thrift" (searched ., first, second)`) {
		t.Errorf("error = %v", err)
	}
}

func TestIncludeErrors(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"self.thrift": {Data: []byte(`include "self.thrift"`)},
		"a.thrift":    {Data: []byte(`include "b.thrift"`)},
		"b.thrift":    {Data: []byte(`include "c.thrift"`)},
		"c.thrift":    {Data: []byte(`include "a.thrift"`)},
		"bad.thrift":  {Data: []byte(`struct {`)},
		"dir.thrift":  {Mode: fs.ModeDir},
	}
	tests := []struct{ name, src, want string }{
		{"missing", `include "missing.thrift"`, `cannot find include "missing.thrift"`},
		{"directory", `include "dir.thrift"`, `cannot find include "dir.thrift"`},
		{"escapes the FS", `include "../x.thrift"`, `cannot find include "../x.thrift"`},
		{"self", `include "self.thrift"`, "include cycle: self.thrift -> self.thrift"},
		{"root", `include "test.thrift"`, "include cycle: test.thrift -> test.thrift"},
		{"long cycle", `include "a.thrift"`, "include cycle: a.thrift -> b.thrift -> c.thrift -> a.thrift"},
		{"syntax error in include", `include "bad.thrift"`, `bad.thrift:1:8: expected struct name, found "{"`},
		{"not a string", `include shared`, "expected include file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, files, tt.want)
		})
	}
}

func TestIncludeDepthLimit(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{}
	for i := 0; i < maxIncludeDepth+5; i++ {
		files[strconv.Itoa(i)+".thrift"] = &fstest.MapFile{Data: []byte("include \"" + strconv.Itoa(i+1) + ".thrift\"")}
	}
	files[strconv.Itoa(maxIncludeDepth+5)+".thrift"] = &fstest.MapFile{}
	wantErrors(t, `include "0.thrift"`, files, "includes nested more than 100 deep")
}

func TestServices(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		exception Ex { 1: string m }
		typedef Ex AliasEx
		service A { void a() oneway void fire(1: i32 x), i32 both() }
		service B extends A { i32 both() ; void b() throws (1: AliasEx e) }
	`, nil)
	b := p.Service("B")
	if b.Function("both").Service != b {
		t.Errorf("B.both should override A.both")
	}
	if got := len(b.AllFunctions()); got != 4 {
		t.Errorf("AllFunctions has %d, want 4 (both once)", got)
	}
	if !b.Function("fire").Oneway {
		t.Errorf("fire is not oneway")
	}
	if p.Service("test.B") != b {
		t.Errorf("the root's prefix does not find B")
	}
}

func TestServiceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"extends struct", "struct S {}\nservice X extends S {}", `service "X" extends "S", which is a struct, not a service`},
		{"extends undefined", "service X extends Y {}", `service "X" extends undefined service "Y"`},
		{"extends self", "service X extends X {}", "service inheritance cycle: X -> X"},
		{"duplicate method", "service X { void f(), void f() }", `function "f" is already defined in service "X"`},
		{"oneway returns", "service X { oneway i32 f() }", `oneway function "f" of service "X" must return void`},
		{"oneway throws", "exception E {}\nservice X { oneway void f() throws (1: E e) }", "cannot throw exceptions"},
		{"throws struct", "struct S {}\nservice X { void f() throws (1: S s) }", `"S" in the throws clause of function "f" of service "X" is not an exception`},
		{"throws i32", "service X { void f() throws (1: i32 s) }", "is not an exception"},
		{"void argument", "service X { void f(1: void a) }", "void is only allowed"},
		{"duplicate argument", "service X { void f(1: i32 a, 2: i32 a) }", `field "a" is already defined in the arguments of function "f"`},
		{"service as type", "service X {}\nstruct S { 1: X x }", `"X" is a service, not a type`},
		{"duplicate service", "service X {}\nstruct X {}", `"X" is already defined at test.thrift:1:1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, nil, tt.want)
		})
	}
}

func TestTypedefs(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		typedef C A
		typedef B2 C
		typedef list<A> B2
		typedef S D
		struct S { 1: D self }
	`, nil)
	a := p.Root.Typedefs["A"]
	if a.Type.Kind != KindTypedef || a.Type.Typedef.Name != "C" {
		t.Fatalf("A does not name C")
	}
	if u := a.Type.Underlying(); u.Kind != KindList || u.Elem.Typedef != a {
		t.Errorf("A's underlying type is %v", u.Name)
	}
	self := p.Root.Structs["S"].Fields[0].Type
	if self.Kind != KindTypedef || self.Underlying().Struct != p.Root.Structs["S"] {
		t.Errorf("recursive struct through typedef not linked")
	}
	wantErrors(t, "typedef A B\ntypedef B C\ntypedef C A", nil, "typedef cycle: B -> A -> C -> B")
	wantErrors(t, "typedef A A", nil, "typedef cycle: A -> A")
	wantErrors(t, "typedef void V", nil, "void is only allowed")
	wantErrors(t, "senum S { \"a\" }\ntypedef S T", nil, `senum "S" cannot be used as a type`)
}

func TestSyntax(t *testing.T) {
	t.Parallel()
	p := mustParse(t, `
		cpp_include "<map>"
		namespace * all
		namespace py.twisted tw
		namespace smalltalk.category Thrift.Test
		namespace go "quoted/name"
		cpp_namespace old.style
		struct A { 1: i32 a } ;
		struct B { 1: list cpp_type "std::vector<int>" <i32> a, 2: list<i32> cpp_type "x" b, 3: map cpp_type "m" <i32, i32> c }
		struct C { 1: required string & ref, 2: A &a2 }
		service S { async void old(1: i32 x), void keywords(1: i32 namespace, 2: i32 include, 3: i32 async, 4: i32 oneway, 5: i32 service) }
	`, nil)
	r := p.Root
	var ns []string
	for _, n := range r.Namespaces {
		ns = append(ns, n.Scope+"="+n.Name)
	}
	if got := strings.Join(ns, " "); got != "*=all py.twisted=tw smalltalk.category=Thrift.Test go=quoted/name cpp=old.style" {
		t.Errorf("namespaces: %s", got)
	}
	if len(r.CppIncludes) != 1 || r.CppIncludes[0] != "<map>" {
		t.Errorf("cpp includes: %v", r.CppIncludes)
	}
	if !r.Structs["C"].Fields[0].Reference || !r.Structs["C"].Fields[1].Reference {
		t.Errorf("& references not kept")
	}
	if !r.Services["S"].Functions[0].Oneway {
		t.Errorf("async not read as oneway")
	}
	if got := len(r.Services["S"].Functions[1].Args); got != 5 {
		t.Errorf("keyword-named arguments: %d", got)
	}
	var defs []string
	for _, d := range r.Definitions {
		switch d := d.(type) {
		case *Struct:
			defs = append(defs, d.Name)
		case *Service:
			defs = append(defs, d.Name)
		}
	}
	if strings.Join(defs, "") != "ABCS" {
		t.Errorf("declaration order: %v", defs)
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unterminated string", `const string X = "abc`, []string{"test.thrift:1:18: string literal not terminated"}},
		{"string over a line", "const string X = \"a\nb\"", []string{"test.thrift:1:18: string literal not terminated before the end of the line"}},
		{"unterminated comment", "/* never", []string{"test.thrift:1:1: comment not terminated"}},
		{"bad byte", "struct S {\x00}", []string{"unexpected byte 0x00"}},
		{"bad char", "struct S { 1: i32 a $ }", []string{`unexpected character '$'`}},
		{"lone sign", "const i32 X = -", []string{`unexpected character '-'`}},
		{"annotation value", `struct S {} (a = 1)`, []string{"expected annotation value (a string literal)"}},
		{"namespace scope", "namespace", []string{"expected namespace scope, found end of file"}},
		{"recovery", "struct A { 1: }\nstruct B { 1: i32 }\nstruct C { 1: i32 c }\nstruct D { x }", []string{
			"test.thrift:1:15: expected type", "test.thrift:2:19: expected field name", "test.thrift:4:14: expected field name"}},
		{"positions after tabs", "struct S {\n\t1: i32\n}", []string{"test.thrift:3:1: expected field name"}},
		{"stray token", "struct S {} }", []string{"test.thrift:1:13: expected a definition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantErrors(t, tt.src, nil, tt.want...)
		})
	}
}

// TestNestingLimit makes sure deep nesting is an error, not a stack
// overflow, and that the limit leaves real files plenty of room.
func TestNestingLimit(t *testing.T) {
	t.Parallel()
	nestType := func(n int) string {
		return "struct S { 1: " + strings.Repeat("list<", n) + "i32" + strings.Repeat(">", n) + " a }"
	}
	nestValue := func(n int) string {
		return "const list<i32> X = " + strings.Repeat("[", n) + strings.Repeat("]", n)
	}
	mustParse(t, nestType(maxDepth), nil)
	wantErrors(t, nestType(maxDepth+1), nil, "types nested more than 100 deep")
	wantErrors(t, nestType(100000), nil, "types nested more than 100 deep")
	wantErrors(t, nestValue(100000), nil, "constant values nested more than 100 deep")
	wantErrors(t, "struct S { 1: i32 a "+strings.Repeat("xsd_attrs { 1: i32 a ", 200), nil, "xsd_attrs nested more than 100 deep")
	_, err := parseString(t, nestValue(maxDepth), nil)
	if err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("100 levels of value: %v", err) // parses, but [[...]] is not a list<i32>
	}
}

func TestErrorsType(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{"b.thrift": {Data: []byte("struct B { 1: Nope n }")}}
	_, err := parseString(t, "include \"b.thrift\"\nstruct Z { 1: Missing m }\nstruct A { 1: Gone g }", files)
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("%T is not Errors", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Pos.String())
	}
	// Sorted by file name, then line and column.
	if strings.Join(got, " ") != "b.thrift:1:15 test.thrift:2:15 test.thrift:3:15" {
		t.Errorf("order: %v", got)
	}
	var one *Error
	if !errors.As(err, &one) || one != list[0] {
		t.Errorf("errors.As does not find the first *Error")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 3 || lines[0] != `b.thrift:1:15: undefined type "Nope" in field "n" of struct "B"` {
		t.Errorf("Error() = %q", err.Error())
	}
	if (&Error{Msg: "m"}).Error() != "m" || (&Error{Pos: Pos{File: "f"}, Msg: "m"}).Error() != "f: m" {
		t.Errorf("Error() without a full position")
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseFile("testdata/no-such-file.thrift", Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/no-such-file.thrift: cannot read file:") {
		t.Errorf("error = %v", err)
	}
	_, err = ParseFile("missing.thrift", Options{FS: fstest.MapFS{}})
	var list Errors
	if !errors.As(err, &list) || len(list) != 1 {
		t.Errorf("error = %v", err)
	}
}

func TestProgramService(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{
		"name.with.dots.thrift": {Data: []byte("service Dotted {}\nstruct T {}")},
		"other.thrift":          {Data: []byte("service Other {}")},
	}
	p := mustParse(t, "include \"name.with.dots.thrift\"\ninclude \"other.thrift\"\nservice Mine extends name.with.dots.Dotted {}\nstruct U { 1: name.with.dots.T t }", files)
	tests := []struct {
		name string
		want string // FullName, or "" for nil
	}{
		{"Mine", "test.Mine"},
		{"test.Mine", "test.Mine"},
		{"other.Other", "other.Other"},
		{"Other", ""}, // a bare name is the root's only
		{"name.with.dots.Dotted", "name.with.dots.Dotted"},
		{"with.dots.Dotted", ""},
		{"other.Mine", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got := ""
		if s := p.Service(tt.name); s != nil {
			got = s.FullName()
		}
		if got != tt.want {
			t.Errorf("Service(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if (*Program)(nil).Service("x") != nil {
		t.Errorf("nil Program found a service")
	}
}

func TestWarnings(t *testing.T) {
	t.Parallel()
	p := mustParse(t, "senum S { \"a\" }\nstruct X { i32 a, 1: slist b }\nenum E { A }\nenum F { A }\nconst E Y = F.A", nil)
	want := []string{
		"test.thrift:1:1: senum S is deprecated",
		"test.thrift:2:16: no field id for a",
		"test.thrift:2:22: slist is deprecated",
		"test.thrift:5:13: F.A is taken as E.A",
	}
	got := strings.Join(p.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("warnings:\n%s\nwant %q", got, w)
		}
	}
	if len(p.Root.Senums["S"]) != 1 {
		t.Errorf("senum not kept")
	}
}

func TestByteOrderMarkAndCRLF(t *testing.T) {
	t.Parallel()
	src := "\xEF\xBB\xBF/**\r\n * Doc.\r\n */\r\nstruct S {\r\n  1: i32 a // c\r\n  2: string b = \"x\"\r\n}\r\n"
	p := mustParse(t, src, nil)
	s := p.Root.Structs["S"]
	if s.Doc != "Doc." || len(s.Fields) != 2 || s.Fields[1].Pos != (Pos{File: "test.thrift", Line: 6, Column: 3}) {
		t.Errorf("doc %q, fields %d, pos %v", s.Doc, len(s.Fields), s.Fields[1].Pos)
	}
	if s.Pos != (Pos{File: "test.thrift", Line: 4, Column: 1}) {
		t.Errorf("struct at %v; the byte order mark must not count as a column", s.Pos)
	}
}

// TestParseFromMemoryWithOSIncludes parses a root held in memory whose
// includes come from disk: beside the root's name, then the include dirs.
func TestParseFromMemoryWithOSIncludes(t *testing.T) {
	t.Parallel()
	src := []byte("include \"common.thrift\"\ninclude \"sub/inner.thrift\"\nservice S extends inner.InnerBase {}")
	p, err := Parse("testdata/golden/memory.thrift", src, Options{IncludeDirs: []string{goldenIncludeDir}})
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, p)
	if len(p.Files) != 3 || p.Files[1].Path != "testdata/golden/inc/common.thrift" || p.Files[2].Path != "testdata/golden/sub/inner.thrift" {
		t.Errorf("files %v", p.Files)
	}
	if got := len(p.Service("S").AllFunctions()); got != 3 {
		t.Errorf("S has %d functions with inherited ones, want 3", got)
	}
}

func TestTooManyErrors(t *testing.T) {
	t.Parallel()
	_, err := parseString(t, strings.Repeat("struct S { 1: Missing m }\n", 500), nil)
	var list Errors
	if !errors.As(err, &list) || len(list) != maxErrors+1 || !strings.Contains(err.Error(), "too many errors") {
		t.Errorf("%d errors, want %d and a note", len(list), maxErrors+1)
	}
}

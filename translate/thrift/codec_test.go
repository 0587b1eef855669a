package thrift

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/translate"
)

const rulesIDL = `
enum E { A = 1, B = 2 }
typedef Inner Alias
struct Inner { 1: required i32 n, 2: optional string s = "x", 3: i32 d = 7 }
union U { 1: i32 i, 2: string s }
struct R {
  1: i8 b, 2: i16 s, 3: i32 i, 4: i64 l, 5: double d, 6: bool t, 7: string str, 8: binary bin, 9: uuid u, 10: E e,
  11: list<i32> li, 12: set<string> ss, 13: map<string, i32> ms, 14: map<i64, E> mi, 15: map<E, i32> me,
  16: map<double, i32> md, 17: set<Inner> si, 18: Alias inner, 19: U un, 20: list<R> rec, 21: map<Inner, i32> mk,
  22: optional i32 opt = 5, 23: map<i8, string> m8
}
service S {
  void f(1: R r)
  R g(1: i32 x = 3, 2: required string y)
}
`

func rulesMethod(t testing.TB, proto, fn string, maxDepth int) *Method {
	t.Helper()
	p := loadRules(t)
	c, err := NewCodec(proto, maxDepth)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Method(p.Service("S").Function(fn))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func loadRules(t testing.TB) *idl.Program {
	if p, ok := idlCache.Load("rules"); ok {
		return p.(*idl.Program)
	}
	p := parseIDL(t, rulesIDL)
	idlCache.Store("rules", p)
	return p
}

// TestRequestRules checks the JSON rules of the package documentation on
// the request side: what is accepted (and how it reads back) and what is a
// 400 naming the field.
func TestRequestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string // the r argument
		out  string // r read back, when accepted
		errs []string
	}{
		{"i8 range", `{"b":300}`, "", []string{`field "r.b": 300 is out of range for i8 (-128 to 127)`}},
		{"i8 min", `{"b":-128,"s":"-32768"}`, `{"b":-128,"s":-32768}`, nil},
		{"i16 range", `{"s":32768}`, "", []string{`field "r.s": 32768 is out of range for i16 (-32768 to 32767)`}},
		{"i64 exact", `{"l":9007199254740993}`, `{"l":"9007199254740993"}`, nil},
		{"i64 string", `{"l":"-9223372036854775808"}`, `{"l":"-9223372036854775808"}`, nil},
		{"i64 range", `{"l":"9223372036854775808"}`, "", []string{`field "r.l": "9223372036854775808" is out of range for i64`}},
		{"fraction", `{"i":1.5}`, "", []string{`field "r.i": "1.5" is not an integer`}},
		{"exponent", `{"i":1e3}`, "", []string{`field "r.i": "1e3" is not an integer`}},
		{"hex string", `{"i":"0x10"}`, "", []string{`field "r.i": "0x10" is not an integer`}},
		{"bool as int", `{"i":true}`, "", []string{`field "r.i": want an integer (i32), got a bool`}},
		{"double special", `{"d":"-Infinity"}`, `{"d":"-Infinity"}`, nil},
		{"double string", `{"d":"2.5"}`, `{"d":2.5}`, nil},
		{"double large", `{"d":1e308}`, `{"d":1e+308}`, nil},
		{"double overflow", `{"d":1e400}`, "", []string{`field "r.d": "1e400" is out of range for double`}},
		{"double underflow", `{"d":1e-400}`, `{"d":0}`, nil},
		{"double word", `{"d":"inf"}`, "", []string{`field "r.d": "inf" is not a number`}},
		{"bool string", `{"t":"true"}`, "", []string{`field "r.t": want true or false, got "\"true\""`}},
		{"binary url-safe unpadded", `{"bin":"-_8"}`, `{"bin":"+/8="}`, nil},
		{"binary bad", `{"bin":"***"}`, "", []string{`field "r.bin": binary values are base64 (standard or URL-safe alphabet): illegal base64 data at input byte 0`}},
		{"string escapes", `{"str":"\ud83d\ude00\u0000\"\\"}`, `{"str":"😀\u0000\"\\"}`, nil},
		{"uuid bad", `{"u":"0011"}`, "", []string{`field "r.u": want a uuid string such as "00112233-4455-6677-8899-aabbccddeeff", got "\"0011\""`}},
		{"enum name", `{"e":"B"}`, `{"e":"B"}`, nil},
		{"enum number", `{"e":2}`, `{"e":"B"}`, nil},
		{"enum undeclared number", `{"e":3}`, "", []string{`field "r.e": 3 is not a value of enum test.E`}},
		{"enum unknown name", `{"e":"C"}`, "", []string{`field "r.e": "C" is not a value of enum test.E`}},
		{"set duplicate", `{"ss":["a","b","a"]}`, "", []string{`field "r.ss[2]": duplicate set element "\"a\""`}},
		{"set of structs duplicate after defaults", `{"si":[{"n":1},{"n":1,"d":7}]}`, "", []string{`field "r.si[1]": duplicate set element "{\"n\":1,\"d\":7}"`}},
		{"set of structs", `{"si":[{"n":1},{"n":2}]}`, `{"si":[{"n":1,"d":7},{"n":2,"d":7}]}`, nil},
		{"map int keys", `{"mi":{"-5":"A","7":2}}`, `{"mi":{"-5":"A","7":"B"}}`, nil},
		{"map int key form", `{"mi":{"01":"A"}}`, "", []string{`field "r.mi[01]": map key: "01" is not an integer`}},
		{"map int key duplicate", `{"mi":{"-0":"A","0":"B"}}`, "", []string{`field "r.mi[0]": duplicate map key`}},
		{"map i8 key range", `{"m8":{"128":"x"}}`, "", []string{`field "r.m8[128]": map key: 128 is out of range for i8 (-128 to 127)`}},
		{"map enum keys", `{"me":{"A":1,"2":2}}`, `{"me":{"A":1,"B":2}}`, nil},
		{"map enum key duplicate", `{"me":{"A":1,"1":2}}`, "", []string{`field "r.me[1]": duplicate map key`}},
		{"map double keys as pairs", `{"md":[{"key":1.5,"value":1},{"value":2,"key":"NaN"}]}`, `{"md":[{"key":1.5,"value":1},{"key":"NaN","value":2}]}`, nil},
		{"map pairs wanted", `{"md":{"1.5":1}}`, "", []string{`field "r.md": want an array of {"key": ..., "value": ...} objects for map<double, i32>, got an object`}},
		{"map pair extra member", `{"md":[{"key":1,"value":1,"v":2}]}`, "", []string{`field "r.md[0].v": unknown member: a map entry has only "key" and "value"`}},
		{"map pair missing value", `{"md":[{"key":1}]}`, "", []string{`field "r.md[0]": a map entry needs both "key" and "value"`}},
		{"map struct keys", `{"mk":[{"key":{"n":1},"value":1}]}`, `{"mk":[{"key":{"n":1,"d":7},"value":1}]}`, nil},
		{"map null value", `{"ms":{"a":null}}`, "", []string{`field "r.ms[a]": null is not a value of type i32`}},
		{"union one", `{"un":{"s":"x"}}`, `{"un":{"s":"x"}}`, nil},
		{"union null member", `{"un":{"i":null,"s":"x"}}`, `{"un":{"s":"x"}}`, nil},
		{"union none", `{"un":{}}`, "", []string{`field "r.un": union test.U must have exactly one field set, not 0`}},
		{"union two", `{"un":{"i":1,"s":"x"}}`, "", []string{`field "r.un": union test.U must have exactly one field set, not 2`}},
		{"required missing", `{"inner":{"s":"y"}}`, "", []string{`field "r.inner.n": missing required field`}},
		{"defaults", `{"inner":{"n":1}}`, `{"inner":{"n":1,"d":7}}`, nil},
		{"optional default stays unset", `{}`, `{}`, nil},
		{"null is absent", `{"i":null,"inner":null}`, `{}`, nil},
		{"null in list", `{"li":[1,null]}`, "", []string{`field "r.li[1]": null is not a value of type i32`}},
		{"unknown fields", `{"zz":1,"i":1,"yy":{}}`, "", []string{`field "r.zz": unknown field "zz" in struct test.R`, `field "r.yy": unknown field "yy" in struct test.R`}},
		{"twice", `{"i":1,"i":2}`, "", []string{`field "r.i": given twice`}},
		{"wrong container", `{"li":{}}`, "", []string{`field "r.li": want an array for list<i32>, got an object`}},
		{"wrong struct", `{"inner":[]}`, "", []string{`field "r.inner": want an object for struct test.Inner, got an array`}},
		{"errors in lists", `{"li":[1,"x",2.5],"rec":[{"b":999}]}`, "", []string{`field "r.li[1]": "x" is not an integer`,
			`field "r.li[2]": "2.5" is not an integer`, `field "r.rec[0].b": 999 is out of range for i8 (-128 to 127)`}},
	}
	for _, tt := range tests {
		for _, proto := range protocols {
			t.Run(tt.name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				m := rulesMethod(t, proto, "f", 0)
				b, err := m.EncodeArgs([]byte(`{"r":` + tt.in + `}`))
				if tt.errs != nil {
					checkBadRequest(t, err, tt.errs)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				out, err := m.DecodeArgs(b)
				if err != nil {
					t.Fatal(err)
				}
				if want := `{"r":` + tt.out + `}`; string(out) != want {
					t.Errorf("read back %s, want %s", out, want)
				}
			})
		}
	}
}

// checkBadRequest checks that err is INVALID_ARGUMENT with exactly these
// violation descriptions, each naming its field.
func checkBadRequest(t *testing.T, err error, want []string) {
	t.Helper()
	var e *translate.Error
	if !errors.As(err, &e) || e.Code != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	var got []string
	for _, d := range e.Details {
		var br errdetails.BadRequest
		if d.UnmarshalTo(&br) == nil {
			for _, v := range br.FieldViolations {
				got = append(got, v.Description)
				if v.Field == "" || !strings.Contains(v.Description, `"`+v.Field+`"`) {
					t.Errorf("violation %q does not name its field %q", v.Description, v.Field)
				}
			}
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestArgumentRules(t *testing.T) {
	t.Parallel()
	m := rulesMethod(t, "compact", "g", 0)
	b, err := m.EncodeArgs([]byte(`{"y":"why"}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := m.DecodeArgs(b); string(out) != `{"x":3,"y":"why"}` {
		t.Errorf("argument default: %s", out)
	}
	_, err = m.EncodeArgs([]byte(`{}`))
	checkBadRequest(t, err, []string{`field "y": missing required field`})
	_, err = m.EncodeArgs([]byte(`[]`))
	if e := translate.FromError(err); e == nil || e.Code != codes.InvalidArgument || e.Message != "want an object for struct g_args, got an array" {
		t.Errorf("got %v", err)
	}
	_, err = m.EncodeArgs([]byte("{\"y\":\"\xff\"}"))
	checkBadRequest(t, err, []string{`field "y": string is not valid UTF-8`})
	_, err = m.EncodeArgs([]byte(`{"y":`))
	if e := translate.FromError(err); e == nil || e.Code != codes.InvalidArgument {
		t.Errorf("got %v", err)
	}
}

// TestDepth: the nesting limit holds both ways.
func TestDepth(t *testing.T) {
	t.Parallel()
	nest := func(n int) string {
		return strings.Repeat(`{"rec":[`, n) + `{}` + strings.Repeat(`]}`, n)
	}
	for _, proto := range protocols {
		m := rulesMethod(t, proto, "f", 10)
		// r is level 1; each {"rec":[...]} adds a list and a struct.
		if _, err := m.EncodeArgs([]byte(`{"r":` + nest(4) + `}`)); err != nil {
			t.Errorf("%s: 9 levels: %v", proto, err)
		}
		_, err := m.EncodeArgs([]byte(`{"r":` + nest(5) + `}`))
		if e := translate.FromError(err); e == nil || !strings.Contains(e.Message, "nested deeper than the limit of 10 levels") {
			t.Errorf("%s: 11 levels: %v", proto, err)
		}
		deep := rulesMethod(t, proto, "f", 0)
		b, err := deep.EncodeArgs([]byte(`{"r":` + nest(5) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.DecodeArgs(b); err == nil || !strings.Contains(err.Error(), "nests deeper than the limit of 10 levels") {
			t.Errorf("%s: decoding 11 levels: %v", proto, err)
		}
		// A deeply nested value where no field is: skipped without recursion.
		_, err = m.EncodeArgs([]byte(`{"r":{"zz":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}}`))
		checkBadRequest(t, err, []string{`field "r.zz": unknown field "zz" in struct test.R`})
	}
}

// TestViolationsBounded: a request with very many problems gets a bounded
// answer.
func TestViolationsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"r":{`)
	for i := range 300 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"f%d":1`, i)
	}
	b.WriteString(`}}`)
	_, err := rulesMethod(t, "binary", "f", 0).EncodeArgs([]byte(b.String()))
	e := translate.FromError(err)
	if e == nil || !strings.HasSuffix(e.Message, "; and 295 more") || len(e.Details) != 1 {
		t.Fatalf("got %v", err)
	}
	var br errdetails.BadRequest
	if e.Details[0].UnmarshalTo(&br) != nil || len(br.FieldViolations) != translate.MaxViolations {
		t.Errorf("%d violations in the details", len(br.FieldViolations))
	}
}

// TestReplyRules: what a reply may hold. Bytes are built with the encoder,
// as a server with another IDL version, or a broken one, would send them.
func TestReplyRules(t *testing.T) {
	t.Parallel()
	type field struct {
		wt    wireType
		id    int16
		write func(e *encoder)
	}
	i32 := func(v int32) func(e *encoder) { return func(e *encoder) { e.i32(v) } }
	str := func(s string) func(e *encoder) { return func(e *encoder) { e.string(s) } }
	tests := []struct {
		name   string
		fields []field // of the R value, field 0 of g's result
		out    string
		err    string
	}{
		{"unknown field skipped", []field{{tI32, 3, i32(1)}, {tString, 99, str("new")}, {tI32, 100, i32(5)}}, `{"i":1}`, ""},
		{"type mismatch skipped", []field{{tString, 3, str("not an i32")}, {tI32, 1, i32(7)}}, `{}`, ""},
		{"field twice", []field{{tI32, 3, i32(1)}, {tI32, 3, i32(2)}}, "", "field i of test.R is sent twice"},
		{"union two", []field{{tStruct, 19, func(e *encoder) {
			var last int16
			e.fieldHeader(tI32, 1, &last)
			e.i32(1)
			e.fieldHeader(tString, 2, &last)
			e.string("x")
			e.stop()
		}}}, "", "union test.U has 2 fields set, not exactly one"},
		{"union none", []field{{tStruct, 19, func(e *encoder) { e.stop() }}}, "", "union test.U has 0 fields set, not exactly one"},
		{"list of the wrong type", []field{{tList, 11, func(e *encoder) { e.listHeader(tString, 1); e.string("x") }}}, "", "list<i32> holds string elements"},
		{"empty list of the wrong type", []field{{tList, 11, func(e *encoder) { e.listHeader(tString, 0) }}}, `{"li":[]}`, ""},
		{"map of the wrong type", []field{{tMap, 13, func(e *encoder) { e.mapHeader(tI32, tI32, 1); e.i32(1); e.i32(1) }}}, "", "map<string, i32> holds i32 keys and i32 values"},
		{"invalid utf-8", []field{{tString, 7, str("a\xffb")}}, `{"str":"a\ufffdb"}`, ""},
		{"undeclared enum", []field{{tI32, 10, i32(42)}, {tMap, 15, func(e *encoder) { e.mapHeader(tI32, tI32, 1); e.i32(-1); e.i32(0) }}}, `{"e":42,"me":{"-1":0}}`, ""},
		{"required not checked", []field{{tStruct, 18, func(e *encoder) { e.stop() }}}, `{"inner":{}}`, ""},
		{"truncated", []field{{tString, 7, func(e *encoder) { e.binaryLen(10); e.buf = append(e.buf, "abc"...) }}}, "", "length 10 exceeds the"},
		{"huge list", []field{{tList, 11, func(e *encoder) { e.listHeader(tI32, 1<<30) }}}, "", "container of 1073741824 elements cannot fit"},
		{"negative length", []field{{tString, 7, func(e *encoder) { e.binaryLen(-1) }}}, "", ""},
	}
	for _, tt := range tests {
		for _, proto := range protocols {
			t.Run(tt.name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				m := rulesMethod(t, proto, "g", 0)
				e := encoder{compact: proto == "compact"}
				var last int16
				e.fieldHeader(tStruct, 0, &last)
				var inner int16
				for _, f := range tt.fields {
					e.fieldHeader(f.wt, f.id, &inner)
					f.write(&e)
				}
				e.stop()
				e.stop()
				res, err := m.DecodeResult(e.buf)
				if tt.err != "" || tt.out == "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("got %v, want an error with %q", err, tt.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(res.Success) != tt.out {
					t.Errorf("got %s, want %s", res.Success, tt.out)
				}
			})
		}
	}
}

// TestMissingResult: a non-void function's empty result is an error, not
// a zero value; a void one's is success.
func TestMissingResult(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		if _, err := rulesMethod(t, proto, "g", 0).DecodeResult([]byte{0}); !errors.Is(err, ErrMissingResult) {
			t.Errorf("%s: %v", proto, err)
		}
		if res, err := rulesMethod(t, proto, "f", 0).DecodeResult([]byte{0}); err != nil || res.Success != nil {
			t.Errorf("%s void: %v %v", proto, res, err)
		}
	}
}

// TestOutputBounded: a reply that renders much larger than it is on the
// wire stops at the output limit.
func TestOutputBounded(t *testing.T) {
	t.Parallel()
	m := rulesMethod(t, "compact", "g", 0)
	m.maxOut = 1 << 20
	e := encoder{compact: true}
	var last int16
	e.fieldHeader(tStruct, 0, &last)
	var inner int16
	e.fieldHeader(tList, 20, &inner) // list<R>: each empty R is one byte, "{}," three
	e.listHeader(tStruct, 1<<20)
	for range 1 << 20 {
		e.stop()
	}
	e.stop()
	e.stop()
	if _, err := m.DecodeResult(e.buf); err == nil || !strings.Contains(err.Error(), "renders to more than 1048576 bytes") {
		t.Fatalf("got %v", err)
	}
}

// TestRecursiveDefault: a default that would expand forever is refused
// when the function is compiled. (The parser checks that defaults fit
// their types, so that is all that is left to the codec.)
func TestRecursiveDefault(t *testing.T) {
	t.Parallel()
	p := parseIDL(t, `struct A { 1: A next = {"next": {}} } service S { void f(1: A a) }`)
	c, _ := NewCodec("binary", 0)
	_, err := c.Method(p.Service("S").Function("f"))
	if err == nil || err.Error() != "function f: default of field next: default value nests too deeply (a recursive default?)" {
		t.Fatalf("got %v", err)
	}
}

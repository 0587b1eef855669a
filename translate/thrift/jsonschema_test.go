package thrift

import (
	"encoding/json"
	"strings"
	"testing"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
)

const docIDL = `
/** Colors, by name. */
enum Color {
  RED = 1,
  /** The green one. */
  GREEN = 2
}
typedef i64 Id
/** A point. */
struct Point { 1: required i32 x, 2: optional i32 y, 3: required i32 z = 3 }
union Shape { 1: Point p, 2: string name }
struct All {
  1: bool b, 2: byte i8, 3: i16 s, 4: i32 i, 5: i64 l, 6: double d, 7: string str, 8: binary bin, 9: uuid u,
  10: Color c, 11: list<i32> li, 12: set<string> ss, 13: map<string, i64> ms, 14: map<i32, Point> mi,
  15: map<Color, bool> me, 16: map<Point, string> mp, 17: All self, 18: Shape shape,
  /** An id. */
  19: Id id
}
/** Nothing there. */
exception NotFound { 1: string message } (http.status = "404")
exception Oops { 1: string why }
struct Query { 1: i32 page, 2: list<string> tags, 3: Point at, 4: Query next, 5: map<string, string> skipped }
/** Echo and friends. */
service Svc {
  /** Echoes.

      Whatever it gets. */
  All echo(1: All a, 2: string note) throws (1: NotFound nf, 2: Oops oops)
  i64 find(1: Id id, 2: Query q)
  oneway void fire(1: string msg)
  void nothing()
}
`

func docFunction(t *testing.T, name string) *idl.Function {
	t.Helper()
	p := parseIDL(t, docIDL)
	return p.Service("Svc").Function(name)
}

func thriftCompact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestThriftTypeSchemas: each IDL type in the JSON mapping of doc.go.
func TestThriftTypeSchemas(t *testing.T) {
	tc, err := NewTranscoder("b", docFunction(t, "echo"), Binding{Body: "*"})
	if err != nil {
		t.Fatal(err)
	}
	defs := jsonschema.NewDefinitions()
	tc.Operation(defs)
	all := defs.Get("test.All")
	if all == nil {
		t.Fatalf("no test.All among %v", defs.Names())
	}
	tests := []struct{ property, want string }{
		{"b", `{"type":"boolean"}`},
		{"i8", `{"type":"integer","format":"int8","minimum":-128,"maximum":127}`},
		{"s", `{"type":"integer","format":"int16","minimum":-32768,"maximum":32767}`},
		{"i", `{"type":"integer","format":"int32"}`},
		{"l", `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}`},
		{"d", `{"type":"number","format":"double"}`},
		{"str", `{"type":"string"}`},
		{"bin", `{"type":"string","format":"byte","contentEncoding":"base64"}`},
		{"u", `{"type":"string","format":"uuid"}`},
		{"c", `{"$ref":"#/components/schemas/test.Color"}`},
		{"li", `{"type":"array","items":{"type":"integer","format":"int32"}}`},
		{"ss", `{"type":"array","items":{"type":"string"},"uniqueItems":true}`},
		{"ms", `{"type":"object","additionalProperties":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}}`},
		{"mi", `{"type":"object","additionalProperties":{"$ref":"#/components/schemas/test.Point"},"propertyNames":{"pattern":"^-?[0-9]+$"}}`},
		{"me", `{"type":"object","additionalProperties":{"type":"boolean"},"propertyNames":{"$ref":"#/components/schemas/test.Color"}}`},
		{"mp", `{"description":"A map keyed by Point, as a list of key/value pairs.","type":"array","items":{"type":"object","properties":{"key":{"$ref":"#/components/schemas/test.Point"},"value":{"type":"string"}},"required":["key","value"]}}`},
		{"self", `{"$ref":"#/components/schemas/test.All"}`},
		{"shape", `{"$ref":"#/components/schemas/test.Shape"}`},
		{"id", `{"description":"An id.","type":"string","format":"int64","pattern":"^-?[0-9]+$"}`},
	}
	for _, tt := range tests {
		t.Run(tt.property, func(t *testing.T) {
			if got := thriftCompact(t, all.Properties.Get(tt.property)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	for name, want := range map[string]string{
		"test.Color": `{"description":"Colors, by name.\n\n- GREEN: The green one.","type":"string","enum":["RED","GREEN"]}`,
		// z has a default, so a request may leave it out.
		"test.Point": `{"description":"A point.","type":"object","properties":{"x":{"type":"integer","format":"int32"},"y":{"type":"integer","format":"int32"},"z":{"type":"integer","format":"int32"}},"required":["x"]}`,
		"test.Shape": `{"description":"A union: exactly one field is set.","type":"object","properties":{"p":{"$ref":"#/components/schemas/test.Point"},"name":{"type":"string"}},"minProperties":1,"maxProperties":1}`,
	} {
		if got := thriftCompact(t, defs.Get(name)); got != want {
			t.Errorf("%s:\ngot  %s\nwant %s", name, got, want)
		}
	}
}

// allSample sets every field of All; it goes through the codec and back,
// so what is checked against the schema is what a reply renders.
const allSample = `{"b":true,"i8":-128,"s":300,"i":-5,"l":"9007199254740993","d":1.5,"str":"x","bin":"aGk=",
"u":"00112233-4455-6677-8899-aabbccddeeff","c":"GREEN","li":[1,2],"ss":["a","b"],"ms":{"k":"-3"},
"mi":{"7":{"x":1,"z":2}},"me":{"RED":true},"mp":[{"key":{"x":1},"value":"v"}],
"self":{"i":1,"self":{"str":"deep"}},"shape":{"name":"circle"},"id":"12"}`

// TestThriftRepliesMatchSchema renders a struct as replies are rendered
// (the codec's decoder) and checks it against the documented schema.
func TestThriftRepliesMatchSchema(t *testing.T) {
	p := parseIDL(t, docIDL)
	st := p.Root.Structs["All"]
	tc, err := NewTranscoder("b", p.Service("Svc").Function("echo"), Binding{Body: "*"})
	if err != nil {
		t.Fatal(err)
	}
	defs := jsonschema.NewDefinitions()
	od := tc.Operation(defs)
	for _, proto := range []string{"binary", "compact"} {
		c, err := NewCodec(proto, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, sample := range []string{allSample, `{}`} {
			b, err := c.EncodeStruct(st, []byte(sample))
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.DecodeStruct(st, b)
			if err != nil {
				t.Fatal(err)
			}
			if problems := defs.ValidateJSON(od.Response.Schema, out); len(problems) > 0 {
				t.Errorf("%s: %s does not match:\n%s", proto, out, strings.Join(problems, "\n"))
			}
		}
	}
	for _, bad := range []string{`{"l":5}`, `{"c":"BLUE"}`, `{"mp":{"k":"v"}}`, `{"shape":{}}`, `{"i8":200}`, `{"self":{"ss":["a","a"]}}`} {
		if problems := defs.ValidateJSON(od.Response.Schema, []byte(bad)); len(problems) == 0 {
			t.Errorf("%s passes", bad)
		}
	}
}

// TestThriftOperation: where arguments come from, replies, exceptions.
func TestThriftOperation(t *testing.T) {
	tests := []struct {
		name    string
		fn      string
		binding Binding
		check   func(t *testing.T, od translate.OperationDoc)
	}{
		{"body keyed by argument", "echo", Binding{Body: "*", PathFields: []string{"note"}}, func(t *testing.T, od translate.OperationDoc) {
			if od.Tag != "test.Svc" || od.TagDescription != "Echo and friends." || !strings.HasPrefix(od.Description, "Echoes.") {
				t.Errorf("texts %q %q %q", od.Tag, od.TagDescription, od.Description)
			}
			// note comes from the path, so the body holds a alone.
			if got := thriftCompact(t, od.Request.Schema); got != `{"description":"The arguments, by name.","type":"object","properties":{"a":{"$ref":"#/components/schemas/test.All"}}}` {
				t.Errorf("body %s", got)
			}
			if len(od.Query) != 0 {
				t.Errorf("a route with a body documents no query: %v", od.Query)
			}
			if len(od.Errors) != 2 {
				t.Fatalf("errors %+v", od.Errors)
			}
			nf, oops := od.Errors[0], od.Errors[1]
			if nf.Status != 404 || !strings.Contains(nf.Description, "Nothing there.") ||
				thriftCompact(t, nf.Detail) != `{"allOf":[{"$ref":"#/components/schemas/test.NotFound"},{"type":"object","properties":{"@type":{"const":"thrift/test.NotFound"}},"required":["@type"]}]}` {
				t.Errorf("NotFound %+v %s", nf, thriftCompact(t, nf.Detail))
			}
			if oops.Status != DefaultExceptionStatus {
				t.Errorf("Oops status %d", oops.Status)
			}
		}},
		{"configured exception status", "echo", Binding{Body: "a", ExceptionStatus: map[string]int{"Oops": 409}}, func(t *testing.T, od translate.OperationDoc) {
			if od.Errors[1].Status != 409 {
				t.Errorf("Oops status %d", od.Errors[1].Status)
			}
			if got := thriftCompact(t, od.Request.Schema); got != `{"$ref":"#/components/schemas/test.All"}` {
				t.Errorf("body is argument a: %s", got)
			}
		}},
		{"query without a body", "find", Binding{PathFields: []string{"id"}}, func(t *testing.T, od translate.OperationDoc) {
			var names []string
			for _, q := range od.Query {
				names = append(names, q.Name)
			}
			// Scalars and lists of them, through struct fields; the
			// recursion through next stops, maps are not query values.
			if got := strings.Join(names, " "); got != "q.page q.tags q.at.x q.at.y q.at.z" {
				t.Errorf("query %s", got)
			}
			if od.Request != nil {
				t.Error("a route without a body documents one")
			}
			if got := thriftCompact(t, od.Response.Schema); got != `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}` {
				t.Errorf("reply %s", got)
			}
		}},
		{"annotated bindings", "find", Binding{PathFields: []string{"q.page"}, Body: "q", Query: map[string]string{"tag": "q.tags"},
			Headers: map[string]string{"id": "X-Id"}}, func(t *testing.T, od translate.OperationDoc) {
			if len(od.Query) != 1 || od.Query[0].Name != "tag" || len(od.Headers) != 1 || od.Headers[0].Name != "X-Id" {
				t.Errorf("query %+v headers %+v", od.Query, od.Headers)
			}
			// The body is q without what the path and the query set.
			if got := thriftCompact(t, od.Request.Schema); got != `{"type":"object","properties":{"at":{"$ref":"#/components/schemas/test.Point"},"next":{"$ref":"#/components/schemas/test.Query"},"skipped":{"type":"object","additionalProperties":{"type":"string"}}}}` {
				t.Errorf("body %s", got)
			}
		}},
		{"oneway", "fire", Binding{Body: "*"}, func(t *testing.T, od translate.OperationDoc) {
			if od.Status != 202 || thriftCompact(t, od.Response.Schema) != `{"type":"object","maxProperties":0}` {
				t.Errorf("oneway %d %s", od.Status, thriftCompact(t, od.Response.Schema))
			}
		}},
		{"void", "nothing", Binding{}, func(t *testing.T, od translate.OperationDoc) {
			if od.Status != 200 || thriftCompact(t, od.Response.Schema) != `{"type":"object","maxProperties":0}` {
				t.Errorf("void %d %s", od.Status, thriftCompact(t, od.Response.Schema))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc, err := NewTranscoder("b", docFunction(t, tt.fn), tt.binding)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, tc.Operation(jsonschema.NewDefinitions()))
		})
	}
}

// TestThriftDefinitionsShared: two backends parsing the same file share
// its definitions; another file's type of the same name gets its own.
func TestThriftDefinitionsShared(t *testing.T) {
	defs := jsonschema.NewDefinitions()
	for range 2 {
		tc, err := NewTranscoder("b", docFunction(t, "echo"), Binding{Body: "*"})
		if err != nil {
			t.Fatal(err)
		}
		tc.Operation(defs)
	}
	other, err := idl.Parse("elsewhere/test.thrift", []byte(`struct Point { 1: string label }
service S { Point p() }`), idl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := NewTranscoder("b", other.Service("S").Function("p"), Binding{})
	if err != nil {
		t.Fatal(err)
	}
	od := tc.Operation(defs)
	if got := thriftCompact(t, od.Response.Schema); got != `{"$ref":"#/components/schemas/test.Point-2"}` {
		t.Errorf("another file's Point: %s (have %v)", got, defs.Names())
	}
	if defs.Get("test.All-2") != nil {
		t.Error("the same file's types were defined twice")
	}
}

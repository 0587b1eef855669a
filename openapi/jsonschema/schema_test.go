package jsonschema

import (
	"encoding/json"
	"strings"
	"testing"
)

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		s    *Schema
		want string
	}{
		{"any value", &Schema{}, `{}`},
		{"never", Never(), `false`},
		{"one type is a string", &Schema{Type: Types{"string"}}, `{"type":"string"}`},
		{"several types are an array", &Schema{Type: Types{"string", "null"}}, `{"type":["string","null"]}`},
		{"properties keep their order", &Schema{Type: Types{"object"}, Properties: Properties{
			{"zeta", &Schema{}}, {"alpha", &Schema{Type: Types{"integer"}}}}, AdditionalProperties: Never()},
			`{"type":"object","properties":{"zeta":{},"alpha":{"type":"integer"}},"additionalProperties":false}`},
		{"reference", Ref("a.B"), `{"$ref":"#/components/schemas/a.B"}`},
		{"zero bounds are written", &Schema{Minimum: Float(0), MaxProperties: Int(0)}, `{"minimum":0,"maxProperties":0}`},
		{"const empty string", &Schema{Const: ""}, `{"const":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := marshal(t, tt.s)
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			var back Schema
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatal(err)
			}
			if again := marshal(t, &back); again != got {
				t.Errorf("read back as %s", again)
			}
		})
	}
}

func TestNullable(t *testing.T) {
	tests := []struct {
		name              string
		in                *Schema
		nullable, nonNull string
	}{
		{"a type gains null", &Schema{Type: Types{"string"}, Format: "date-time"},
			`{"type":["string","null"],"format":"date-time"}`, `{"type":"string","format":"date-time"}`},
		{"already nullable", &Schema{Type: Types{"string", "null"}}, `{"type":["string","null"]}`, `{"type":"string"}`},
		{"any value accepts null already", &Schema{Description: "x"}, `{"description":"x"}`, `{"description":"x"}`},
		{"a reference is wrapped", &Schema{Ref: RefPrefix + "A", Description: "d"},
			`{"description":"d","anyOf":[{"$ref":"#/components/schemas/A"},{"type":"null"}]}`,
			`{"$ref":"#/components/schemas/A","description":"d"}`},
		{"an enum is wrapped", &Schema{Type: Types{"string"}, Enum: []any{"A"}},
			`{"anyOf":[{"type":"string","enum":["A"]},{"type":"null"}]}`, `{"type":"string","enum":["A"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := marshal(t, tt.in)
			n := Nullable(tt.in)
			if got := marshal(t, n); got != tt.nullable {
				t.Errorf("Nullable: got %s, want %s", got, tt.nullable)
			}
			if marshal(t, tt.in) != before {
				t.Error("Nullable changed its argument")
			}
			if got := marshal(t, NonNull(n)); got != tt.nonNull {
				t.Errorf("NonNull: got %s, want %s", got, tt.nonNull)
			}
		})
	}
}

func TestDefinitions(t *testing.T) {
	d := NewDefinitions()
	type id string
	builds := 0
	node := d.Define(id("node"), "x.Node", func() *Schema {
		builds++
		// A type that contains itself gets a reference, not a loop.
		return &Schema{Type: Types{"object"}, Properties: Properties{
			{"next", d.Define(id("node"), "x.Node", func() *Schema { t.Fatal("built twice"); return nil })},
			{"name", &Schema{Type: Types{"string"}}},
		}, Required: []string{"name"}}
	})
	if builds != 1 || marshal(t, node) != `{"$ref":"#/components/schemas/x.Node"}` {
		t.Fatalf("builds %d, ref %s", builds, marshal(t, node))
	}
	if got := marshal(t, d.Get("x.Node").Properties.Get("next")); got != `{"$ref":"#/components/schemas/x.Node"}` {
		t.Errorf("recursion: %s", got)
	}
	other := d.Define(id("other node"), "x.Node", func() *Schema { return &Schema{} })
	if got := marshal(t, other); got != `{"$ref":"#/components/schemas/x.Node-2"}` {
		t.Errorf("a second type named x.Node: %s", got)
	}
	if got := strings.Join(d.Names(), " "); got != "x.Node x.Node-2" {
		t.Errorf("names %s", got)
	}
	if d.Resolve(node) != d.Get("x.Node") || d.Resolve(Ref("nothing")) != nil {
		t.Error("Resolve")
	}

	without := d.Without(node, "name")
	if got := marshal(t, without); got != `{"type":"object","properties":{"next":{"$ref":"#/components/schemas/x.Node"}}}` {
		t.Errorf("Without: %s", got)
	}
	if d.Get("x.Node").Properties.Get("name") == nil || len(d.Get("x.Node").Required) != 1 {
		t.Error("Without changed the definition")
	}
	if d.Without(node, "absent") != node {
		t.Error("Without copies a schema it leaves whole")
	}
}

func TestValidate(t *testing.T) {
	d := NewDefinitions()
	d.Define("color", "Color", func() *Schema { return &Schema{Type: Types{"string"}, Enum: []any{"RED", "GREEN"}} })
	d.Define("num", "Number", func() *Schema { return &Schema{Type: Types{"integer"}, Enum: []any{int32(0), int32(1)}} })
	tests := []struct {
		name     string
		s        *Schema
		ok, fail []string
	}{
		{"types", &Schema{Type: Types{"integer", "null"}}, []string{`1`, `null`, `-0`}, []string{`1.5`, `"1"`, `true`}},
		{"number", &Schema{Type: Types{"number"}, Minimum: Float(0), Maximum: Float(10)}, []string{`0`, `9.5`}, []string{`-1`, `11`}},
		{"references and enums", Ref("Color"), []string{`"RED"`}, []string{`"BLUE"`, `1`}},
		{"numeric enums", Ref("Number"), []string{`0`, `1`}, []string{`2`}},
		{"reference to nothing", Ref("Missing"), nil, []string{`1`}},
		{"pattern and length", &Schema{Type: Types{"string"}, Pattern: `^[0-9]+$`, MinLength: Int(1), MaxLength: Int(3)},
			[]string{`"123"`}, []string{`""`, `"1234"`, `"12a"`}},
		{"formats", &Schema{AnyOf: []*Schema{{Format: "date-time"}, {Type: Types{"number"}}}}, []string{`"2024-01-02T03:04:05Z"`, `1`}, []string{`"tomorrow"`}},
		{"base64", &Schema{Type: Types{"string"}, Format: "byte"}, []string{`"aGk="`, `""`}, []string{`"%%"`}},
		{"uuid", &Schema{Type: Types{"string"}, Format: "uuid"}, []string{`"00112233-4455-6677-8899-aabbccddeeff"`}, []string{`"0011"`}},
		{"objects", &Schema{Type: Types{"object"}, Required: []string{"a"}, Properties: Properties{{"a", &Schema{Type: Types{"string"}}}},
			AdditionalProperties: &Schema{Type: Types{"integer"}}, PropertyNames: &Schema{Pattern: `^[a-z]+$`}},
			[]string{`{"a":"x"}`, `{"a":"x","b":1}`}, []string{`{}`, `{"a":1}`, `{"a":"x","b":"y"}`, `{"a":"x","B":1}`}},
		{"closed objects", &Schema{Properties: Properties{{"a", &Schema{}}}, AdditionalProperties: Never()},
			[]string{`{"a":null}`}, []string{`{"b":1}`}},
		{"property counts", &Schema{MinProperties: Int(1), MaxProperties: Int(1)}, []string{`{"a":1}`}, []string{`{}`, `{"a":1,"b":2}`}},
		{"arrays", &Schema{Type: Types{"array"}, Items: &Schema{Type: Types{"string"}}, UniqueItems: true},
			[]string{`[]`, `["a","b"]`}, []string{`["a","a"]`, `[1]`, `{}`}},
		{"contains", &Schema{Contains: &Schema{Required: []string{"@type"}, Properties: Properties{{"@type", &Schema{Const: "x"}}}}},
			[]string{`[{"@type":"y"},{"@type":"x"}]`}, []string{`[{"@type":"y"}]`, `[]`}},
		{"allOf", &Schema{AllOf: []*Schema{{Required: []string{"a"}}, {Required: []string{"b"}}}}, []string{`{"a":1,"b":2}`}, []string{`{"a":1}`}},
		{"oneOf", &Schema{OneOf: []*Schema{{Type: Types{"integer"}}, {Type: Types{"number"}}}}, []string{`1.5`}, []string{`1`, `"a"`}},
		{"const", &Schema{Const: "x"}, []string{`"x"`}, []string{`"y"`}},
		{"never", Never(), nil, []string{`null`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range tt.ok {
				if problems := d.ValidateJSON(tt.s, []byte(v)); len(problems) > 0 {
					t.Errorf("%s: %v", v, problems)
				}
			}
			for _, v := range tt.fail {
				if problems := d.ValidateJSON(tt.s, []byte(v)); len(problems) == 0 {
					t.Errorf("%s passes", v)
				}
			}
		})
	}
	problems := d.ValidateJSON(&Schema{Properties: Properties{{"a/b", &Schema{Type: Types{"array"}, Items: &Schema{Type: Types{"string"}}}}}},
		[]byte(`{"a/b":["x",2]}`))
	if len(problems) != 1 || !strings.HasPrefix(problems[0], "/a~1b/1: ") {
		t.Errorf("problems name their JSON pointer: %v", problems)
	}
}

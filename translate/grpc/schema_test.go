package grpc

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
)

// docProto exercises the JSON mapping: every scalar, enums, the
// well-known types, maps, repeated fields, a oneof, recursion, json_name,
// field_behavior and deprecation, and the binding shapes an operation can
// take.
const docProto = `syntax = "proto3";

package doctest.v1;

import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/api/httpbody.proto";
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Things, kept.
service Things {
  // Gets a thing.
  //
  // By its name.
  rpc Get(GetRequest) returns (Kinds) {
    option (google.api.http) = {get: "/v1/{name=shelves/*/things/*}"};
  }
  rpc Update(UpdateRequest) returns (Kinds) {
    option (google.api.http) = {patch: "/v1/{kinds.s=shelves/*/things/*}" body: "kinds"};
  }
  rpc Archive(ArchiveRequest) returns (Kinds) {
    option (google.api.http) = {post: "/v1/{name=things/*}:archive" body: "*" response_body: "self"};
  }
  rpc List(ListRequest) returns (ListReply) {
    option (google.api.http) = {get: "/v1/things" response_body: "items"};
  }
  rpc Upload(UploadRequest) returns (google.api.HttpBody) {
    option (google.api.http) = {put: "/v1/{name}/data" body: "data"};
  }
  rpc Old(GetRequest) returns (google.protobuf.Empty) {
    option deprecated = true;
    option (google.api.http) = {delete: "/v1/{name}"};
  }
}

enum Color {
  COLOR_UNSPECIFIED = 0;
  RED = 1; // The red one.
  GREEN = 2;
}

// A node of a list.
message Inner {
  string x = 1;
  Inner next = 2;
}

message Kinds {
  int32 i32 = 1;
  int64 i64 = 2;
  uint32 u32 = 3;
  uint64 u64 = 4;
  sint32 s32 = 5;
  sint64 s64 = 6;
  fixed32 f32 = 7;
  fixed64 f64 = 8;
  sfixed32 sf32 = 9;
  sfixed64 sf64 = 10;
  float flt = 11;
  double dbl = 12;
  bool b = 13;
  // A string.
  string s = 14;
  bytes by = 15;
  Color color = 16;
  repeated int64 r_i64 = 17;
  repeated Color r_color = 18;
  map<int32, string> by_i32 = 19;
  map<bool, Inner> by_bool = 20;
  map<string, google.protobuf.Int32Value> wrapped = 21;
  oneof choice {
    string a = 22;
    Inner inner = 23;
  }
  Kinds self = 24;
  google.protobuf.Any any = 25;
  google.protobuf.Timestamp ts = 26;
  google.protobuf.Duration dur = 27;
  google.protobuf.FieldMask mask = 28;
  google.protobuf.Struct st = 29;
  google.protobuf.Value val = 30;
  google.protobuf.ListValue list = 31;
  google.protobuf.Empty empty = 32;
  google.protobuf.BoolValue bv = 33;
  google.protobuf.Int64Value i64v = 34;
  google.protobuf.BytesValue byv = 35;
  optional int32 opt = 36;
  string json_named = 37 [json_name = "custom"];
  string needed = 38 [(google.api.field_behavior) = REQUIRED];
  string made = 39 [(google.api.field_behavior) = OUTPUT_ONLY];
  int32 old = 40 [deprecated = true];
}

message GetRequest {
  string name = 1;
  google.protobuf.FieldMask read_mask = 2;
  Inner filter = 3;
  map<string, string> labels = 4;
  repeated Color colors = 5;
  google.protobuf.Struct extra = 6;
  google.protobuf.Duration max_age = 7;
  google.protobuf.Int64Value min = 8;
  repeated Inner skipped = 9;
  map<string, Inner> skipped_too = 10;
}

message UpdateRequest {
  Kinds kinds = 1;
  google.protobuf.FieldMask update_mask = 2;
}

message ArchiveRequest {
  string name = 1;
  string reason = 2;
}

message ListRequest {}

message ListReply {
  repeated Inner items = 1;
}

message UploadRequest {
  string name = 1;
  google.api.HttpBody data = 2;
}
`

// docSet compiles docProto.
func docSet(t *testing.T) *descriptors.Set {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "doctest", "v1", "doc.proto")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(docProto), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := descriptors.Compile(context.Background(), []string{"doctest/v1/doc.proto"}, []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	set, err := descriptors.NewSet("doc", "b", descriptors.Source{Kind: descriptors.SourceProto, Ref: "doc.proto"}, fds)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func message(t *testing.T, set *descriptors.Set, name string) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := set.Files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

func compact(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMessageSchemaFields: each field's schema in the default mapping
// (lowerCamel names, enums as names, unpopulated fields rendered).
func TestMessageSchemaFields(t *testing.T) {
	set := docSet(t)
	defs := jsonschema.NewDefinitions()
	ref := binding.MessageSchema(defs, message(t, set, "doctest.v1.Kinds"), binding.Mapping{EmitUnpopulated: true})
	if got := compact(t, ref); got != `{"$ref":"#/components/schemas/doctest.v1.Kinds"}` {
		t.Fatalf("reference %s", got)
	}
	kinds := defs.Get("doctest.v1.Kinds")
	tests := []struct{ property, want string }{
		{"i32", `{"type":"integer","format":"int32"}`},
		{"i64", `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}`},
		{"u32", `{"type":"integer","format":"uint32","minimum":0,"maximum":4294967295}`},
		{"u64", `{"type":"string","format":"uint64","pattern":"^[0-9]+$"}`},
		{"s32", `{"type":"integer","format":"int32"}`},
		{"s64", `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}`},
		{"f32", `{"type":"integer","format":"uint32","minimum":0,"maximum":4294967295}`},
		{"f64", `{"type":"string","format":"uint64","pattern":"^[0-9]+$"}`},
		{"sf32", `{"type":"integer","format":"int32"}`},
		{"sf64", `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}`},
		{"flt", `{"type":"number","format":"float"}`},
		{"dbl", `{"type":"number","format":"double"}`},
		{"b", `{"type":"boolean"}`},
		{"s", `{"description":"A string.","type":"string"}`},
		{"by", `{"type":"string","format":"byte","contentEncoding":"base64"}`},
		{"color", `{"$ref":"#/components/schemas/doctest.v1.Color"}`},
		{"rI64", `{"type":"array","items":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}}`},
		{"rColor", `{"type":"array","items":{"$ref":"#/components/schemas/doctest.v1.Color"}}`},
		{"byI32", `{"type":"object","additionalProperties":{"type":"string"},"propertyNames":{"pattern":"^-?[0-9]+$"}}`},
		{"byBool", `{"type":"object","additionalProperties":{"$ref":"#/components/schemas/doctest.v1.Inner"},"propertyNames":{"enum":["true","false"]}}`},
		{"wrapped", `{"type":"object","additionalProperties":{"type":["integer","null"],"format":"int32"}}`},
		// Oneof members are left out when unset, never null.
		{"a", `{"description":"Member of oneof choice: at most one of a, inner is set.","type":"string"}`},
		{"inner", `{"$ref":"#/components/schemas/doctest.v1.Inner","description":"Member of oneof choice: at most one of a, inner is set."}`},
		// Recursion is a reference to the definition being built.
		{"self", `{"anyOf":[{"$ref":"#/components/schemas/doctest.v1.Kinds"},{"type":"null"}]}`},
		{"any", `{"description":"A message of the type \"@type\" names, with its fields beside \"@type\"; a well-known type's JSON (a Timestamp's string, say) is under \"value\".","type":["object","null"],"properties":{"@type":{"description":"The type's URL, such as \"type.googleapis.com/google.rpc.ErrorInfo\".","type":"string"}},"required":["@type"]}`},
		{"ts", `{"type":["string","null"],"format":"date-time"}`},
		{"dur", `{"description":"A duration: seconds with up to nine decimals and an \"s\" (\"1.5s\").","type":["string","null"],"pattern":"^-?[0-9]+(\\.[0-9]{1,9})?s$"}`},
		{"mask", `{"description":"Field paths, comma-separated, in lowerCamelCase (\"title,author.name\").","type":["string","null"]}`},
		{"st", `{"description":"Any JSON object.","type":["object","null"]}`},
		{"val", `{"description":"Any JSON value."}`},
		{"list", `{"description":"Any JSON array.","type":["array","null"]}`},
		{"empty", `{"type":["object","null"],"maxProperties":0}`},
		{"bv", `{"type":["boolean","null"]}`},
		{"i64v", `{"type":["string","null"],"format":"int64","pattern":"^-?[0-9]+$"}`},
		{"byv", `{"type":["string","null"],"format":"byte","contentEncoding":"base64"}`},
		// proto3 optional: a synthetic oneof, left out when unset.
		{"opt", `{"type":"integer","format":"int32"}`},
		{"custom", `{"type":"string"}`},
		{"needed", `{"description":"Required.","type":"string"}`},
		{"made", `{"type":"string","readOnly":true}`},
		{"old", `{"type":"integer","format":"int32","deprecated":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.property, func(t *testing.T) {
			ps := kinds.Properties.Get(tt.property)
			if ps == nil {
				t.Fatalf("no property %s", tt.property)
			}
			if got := compact(t, ps); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if got := compact(t, kinds.Required); got != `["needed"]` {
		t.Errorf("required %s, want [needed] (field_behavior REQUIRED)", got)
	}
	if got := compact(t, defs.Get("doctest.v1.Color")); got != `{"description":"- RED: The red one.","type":"string","enum":["COLOR_UNSPECIFIED","RED","GREEN"]}` {
		t.Errorf("enum %s", got)
	}
	if got := defs.Get("doctest.v1.Inner").Description; got != "A node of a list." {
		t.Errorf("message description %q", got)
	}
}

// TestMessageSchemaMappings: the options that change the JSON change the
// schema, under a definition name of their own.
func TestMessageSchemaMappings(t *testing.T) {
	set := docSet(t)
	md := message(t, set, "doctest.v1.Kinds")
	tests := []struct {
		name    string
		m       binding.Mapping
		def     string
		checks  map[string]string // property -> schema
		missing []string
	}{
		{"default", binding.Mapping{EmitUnpopulated: true}, "doctest.v1.Kinds",
			map[string]string{"rI64": `{"type":"array","items":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}}`,
				"ts": `{"type":["string","null"],"format":"date-time"}`},
			[]string{"r_i64", "json_named"}},
		{"proto names", binding.Mapping{UseProtoNames: true, EmitUnpopulated: true}, "doctest.v1.Kinds-proto_names",
			map[string]string{"r_i64": `{"type":"array","items":{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}}`,
				"json_named": `{"type":"string"}`},
			[]string{"rI64", "custom"}},
		{"enum numbers", binding.Mapping{UseEnumNumbers: true, EmitUnpopulated: true}, "doctest.v1.Kinds-enum_numbers",
			map[string]string{"color": `{"$ref":"#/components/schemas/doctest.v1.Color-enum_numbers"}`}, nil},
		{"omit unpopulated: nothing is null", binding.Mapping{}, "doctest.v1.Kinds-omit_unpopulated",
			map[string]string{"ts": `{"type":"string","format":"date-time"}`,
				"self": `{"$ref":"#/components/schemas/doctest.v1.Kinds-omit_unpopulated"}`,
				// A wrapper is null when a client unsets it, whatever the mapping.
				"bv": `{"type":["boolean","null"]}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defs := jsonschema.NewDefinitions()
			binding.MessageSchema(defs, md, tt.m)
			def := defs.Get(tt.def)
			if def == nil {
				t.Fatalf("no definition %s (have %v)", tt.def, defs.Names())
			}
			for prop, want := range tt.checks {
				if got := compact(t, def.Properties.Get(prop)); got != want {
					t.Errorf("%s: got %s, want %s", prop, got, want)
				}
			}
			for _, prop := range tt.missing {
				if def.Properties.Get(prop) != nil {
					t.Errorf("property %s should not be there", prop)
				}
			}
		})
	}
	defs := jsonschema.NewDefinitions()
	binding.MessageSchema(defs, md, binding.Mapping{UseEnumNumbers: true})
	if got := compact(t, defs.Get("doctest.v1.Color-enum_numbers")); got != `{"description":"- 0: COLOR_UNSPECIFIED\n- 1: RED (The red one.)\n- 2: GREEN","type":"integer","format":"int32","enum":[0,1,2]}` {
		t.Errorf("enum as numbers: %s", got)
	}
}

// kindsSample sets every field of doctest.v1.Kinds, recursion included.
const kindsSample = `{
  "i32": -5, "i64": "-9007199254740993", "u32": 4000000000, "u64": "18446744073709551615",
  "s32": -1, "s64": "-2", "f32": 3, "f64": "4", "sf32": -3, "sf64": "-4",
  "flt": 1.5, "dbl": 2.25, "b": true, "s": "text", "by": "aGk=", "color": "RED",
  "rI64": ["1", "-2"], "rColor": ["RED", "GREEN"],
  "byI32": {"-7": "minus seven"}, "byBool": {"true": {"x": "t"}}, "wrapped": {"k": 3},
  "inner": {"x": "in", "next": {"x": "deeper"}},
  "self": {"s": "me", "self": {"i32": 1}},
  "any": {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1s"},
  "ts": "2024-01-02T03:04:05.678Z", "dur": "1.500s", "mask": "a,b.c",
  "st": {"k": [1, "x"]}, "val": [null, true], "list": [1, {"a": 2}], "empty": {},
  "bv": false, "i64v": "12", "byv": "AAE=", "opt": 0, "custom": "named",
  "needed": "yes", "made": "by the server", "old": 1
}`

// TestRenderedRepliesMatchSchema renders a message with protojson in
// every mapping and checks the JSON against the schema documented for
// that mapping: the document describes what clients actually get, set
// fields and unset ones alike.
func TestRenderedRepliesMatchSchema(t *testing.T) {
	set := docSet(t)
	md := message(t, set, "doctest.v1.Kinds")
	full := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: set.Types}).Unmarshal([]byte(kindsSample), full); err != nil {
		t.Fatal(err)
	}
	for _, m := range []binding.Mapping{
		{}, {EmitUnpopulated: true}, {UseProtoNames: true}, {UseEnumNumbers: true, EmitUnpopulated: true},
		{UseProtoNames: true, UseEnumNumbers: true, EmitUnpopulated: true},
	} {
		for _, msg := range []*dynamicpb.Message{full, dynamicpb.NewMessage(md)} {
			out, err := protojson.MarshalOptions{UseProtoNames: m.UseProtoNames, UseEnumNumbers: m.UseEnumNumbers,
				EmitUnpopulated: m.EmitUnpopulated, Resolver: set.Types}.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			defs := jsonschema.NewDefinitions()
			s := binding.MessageSchema(defs, md, m)
			if problems := defs.ValidateJSON(s, out); len(problems) > 0 {
				t.Errorf("mapping %+v: %s\ndoes not match its schema:\n%s", m, out, strings.Join(problems, "\n"))
			}
		}
	}
}

// TestSchemaRefusesWrongShapes: the validator the document tests rely on
// does refuse what the mapping never renders.
func TestSchemaRefusesWrongShapes(t *testing.T) {
	set := docSet(t)
	defs := jsonschema.NewDefinitions()
	s := binding.MessageSchema(defs, message(t, set, "doctest.v1.Kinds"), binding.Mapping{EmitUnpopulated: true})
	for _, bad := range []string{
		`{"i64": 5}`, // a 64-bit integer as a number
		`{"color": 1}`,
		`{"color": "BLUE"}`,
		`{"ts": "yesterday"}`,
		`{"byI32": {"x": "not an integer key"}}`,
		`{"self": {"self": {"b": "yes"}}}`,
		`{"any": {"value": 1}}`,
		`{"rI64": "1"}`,
		`{"empty": {"a": 1}}`,
	} {
		if problems := defs.ValidateJSON(s, []byte(bad)); len(problems) == 0 {
			t.Errorf("%s passes", bad)
		}
	}
}

func operation(t *testing.T, set *descriptors.Set, method string, opts binding.Options) (translate.OperationDoc, *jsonschema.Definitions) {
	t.Helper()
	d, err := set.Files.FindDescriptorByName(protoreflect.FullName("doctest.v1.Things." + method))
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MethodDescriptor)
	rules := descriptors.HTTPRules(md)
	rule := rules[0]
	var fields []string
	for _, seg := range strings.Split(rule.Path, "{")[1:] {
		name, _, _ := strings.Cut(seg, "}")
		name, _, _ = strings.Cut(name, "=")
		fields = append(fields, name)
	}
	br, err := binding.NewRule(md, fields, rule.Body, rule.ResponseBody, set.Types, opts)
	if err != nil {
		t.Fatal(err)
	}
	defs := jsonschema.NewDefinitions()
	return NewTranscoder(br, nil).Operation(defs), defs
}

func paramNames(ps []translate.ParamDoc) string {
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return strings.Join(names, " ")
}

// TestOperation: what each binding shape documents.
func TestOperation(t *testing.T) {
	set := docSet(t)
	def := binding.Options{EmitUnpopulated: true}
	tests := []struct {
		method string
		opts   binding.Options
		check  func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions)
	}{
		{"Get", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if od.Summary != "" || od.Description != "Gets a thing.\n\nBy its name." || od.Tag != "doctest.v1.Things" || od.TagDescription != "Things, kept." {
				t.Errorf("texts: %q %q %q %q", od.Summary, od.Description, od.Tag, od.TagDescription)
			}
			if got := paramNames(od.PathParams); got != "name" {
				t.Errorf("path params %s", got)
			}
			// Maps of messages and repeated messages cannot be set from the
			// query; recursion (filter.next.next...) stops at the first repeat.
			if got := paramNames(od.Query); got != "readMask filter.x labels colors extra maxAge min" {
				t.Errorf("query %s", got)
			}
			for _, q := range od.Query {
				switch q.Name {
				case "labels":
					if !q.Map {
						t.Error("labels is not a map parameter")
					}
				case "extra":
					if !q.JSONText {
						t.Error("a Struct parameter is not JSON text")
					}
				case "min":
					if got := compact(t, q.Schema); got != `{"type":"string","format":"int64","pattern":"^-?[0-9]+$"}` {
						t.Errorf("a wrapper parameter cannot be null: %s", got)
					}
				case "maxAge":
					if q.Schema.Pattern != "" {
						t.Error("a Duration parameter takes Go's form too, which the pattern refuses")
					}
				}
			}
			if od.Request != nil {
				t.Error("a GET has a body")
			}
			if got := compact(t, od.Response.Schema); got != `{"$ref":"#/components/schemas/doctest.v1.Kinds"}` {
				t.Errorf("response %s", got)
			}
		}},
		{"Get", binding.Options{UseProtoNames: true}, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if got := paramNames(od.Query); got != "read_mask filter.x labels colors extra max_age min" {
				t.Errorf("query with proto names %s", got)
			}
			if got := compact(t, od.Response.Schema); got != `{"$ref":"#/components/schemas/doctest.v1.Kinds-proto_names-omit_unpopulated"}` {
				t.Errorf("response %s", got)
			}
		}},
		{"Update", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if got := paramNames(od.PathParams); got != "kinds.s" {
				t.Errorf("path params %s", got)
			}
			// The body is one field: the rest are the query's.
			if got := paramNames(od.Query); got != "updateMask" {
				t.Errorf("query %s", got)
			}
			// The path sets kinds.s: the body's s would be overwritten.
			body := od.Request.Schema
			if body.Ref != "" || body.Properties.Get("s") != nil || body.Properties.Get("i32") == nil {
				t.Errorf("body %s", compact(t, body))
			}
			if defs.Get("doctest.v1.Kinds").Properties.Get("s") == nil {
				t.Error("leaving s out of the body changed the shared definition")
			}
		}},
		{"Archive", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if len(od.Query) != 0 {
				t.Errorf(`body "*" takes no query parameters: %s`, paramNames(od.Query))
			}
			if got := compact(t, od.Request.Schema); got != `{"type":"object","properties":{"reason":{"type":"string"}}}` {
				t.Errorf("body %s", got)
			}
			// An unset response_body message renders as {}, not null.
			if got := compact(t, od.Response.Schema); got != `{"$ref":"#/components/schemas/doctest.v1.Kinds"}` {
				t.Errorf("response_body self: %s", got)
			}
		}},
		{"List", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if got := compact(t, od.Response.Schema); got != `{"type":"array","items":{"$ref":"#/components/schemas/doctest.v1.Inner"}}` {
				t.Errorf("response_body items: %s", got)
			}
		}},
		{"Upload", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if od.Request.MediaType != translate.AnyMediaType || od.Request.Schema != nil {
				t.Errorf("HttpBody request %+v", od.Request)
			}
			if od.Response.MediaType != translate.AnyMediaType || od.Response.Schema != nil {
				t.Errorf("HttpBody reply %+v", od.Response)
			}
		}},
		{"Old", def, func(t *testing.T, od translate.OperationDoc, defs *jsonschema.Definitions) {
			if !od.Deprecated {
				t.Error("a deprecated method is not")
			}
			if got := compact(t, od.Response.Schema); got != `{"type":"object","maxProperties":0}` {
				t.Errorf("Empty reply %s", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			od, defs := operation(t, set, tt.method, tt.opts)
			tt.check(t, od, defs)
		})
	}
}

package diff_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// compileSet compiles one .proto source into a set, as an upload of it
// would be.
func compileSet(t *testing.T, src string) *descriptors.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "t.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := descriptors.Compile(context.Background(), []string{"t.proto"}, []string{dir})
	if err != nil {
		t.Fatalf("compiling:\n%s\n%v", src, err)
	}
	return newSet(t, fds)
}

func newSet(t *testing.T, fds *descriptorpb.FileDescriptorSet) *descriptors.Set {
	t.Helper()
	s, err := descriptors.NewSet("t", "b", descriptors.Source{Kind: descriptors.SourceUpload}, fds)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// render is a change on one line: "!" marks a breaking one.
func render(cs []diff.Change) []string {
	out := []string{}
	for _, c := range cs {
		mark := " "
		if c.Breaking {
			mark = "!"
		}
		out = append(out, fmt.Sprintf("%s %s %s %s: %s", mark, c.Kind, c.Element, c.Path, c.Message))
	}
	return out
}

const proto3 = `syntax = "proto3";
package t.v1;
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "switchboard/v1/options.proto";
`

const proto2 = `syntax = "proto2";
package t.v1;
`

// service wraps rpc lines in a service whose messages exist in every case.
func service(rpcs string) string {
	return proto3 + `
message Req { string name = 1; }
message Res { string name = 1; }
message Other { string name = 1; }
service S {
` + rpcs + `
}
`
}

// policyService is service with one method Get whose
// switchboard.v1.policy option holds opt ("" for no option).
func policyService(opt string) string {
	rpc := "rpc Get(Req) returns (Res);"
	if opt != "" {
		rpc = "rpc Get(Req) returns (Res) { option (switchboard.v1.policy) = {" + opt + "}; }"
	}
	return service(rpc)
}

// TestSets: every kind of change, old to new (forward) and new to old
// (backward): what one direction removes the other adds, and only one of
// the two is usually breaking.
func TestSets(t *testing.T) {
	tests := []struct {
		name          string
		old, new      string
		forward, back []string
	}{
		{
			name: "no change",
			old:  proto3 + "message A { string x = 1; }",
			new:  proto3 + "message A { string x = 1; }",
		},
		{
			name: "comments only",
			old:  proto3 + "// A thing.\nmessage A { string x = 1; }",
			new:  proto3 + "// A better thing.\nmessage A {\n  // The x.\n  string x = 1;\n}",
		},
		{
			name:    "field removed",
			old:     proto3 + "message A { string x = 1; int32 y = 2; }",
			new:     proto3 + "message A { string x = 1; }",
			forward: []string{"! removed field t.v1.A.y: field t.v1.A.y (number 2) removed"},
			back:    []string{"  added field t.v1.A.y: field t.v1.A.y (number 2, int32) added"},
		},
		{
			name:    "field removed with its name and number reserved",
			old:     proto3 + "message A { string x = 1; int32 y = 2; }",
			new:     proto3 + "message A { string x = 1; reserved 2; reserved \"y\"; }",
			forward: []string{"! removed field t.v1.A.y: field t.v1.A.y (number 2) removed"},
			back:    []string{"  added field t.v1.A.y: field t.v1.A.y (number 2, int32) added"},
		},
		{
			name:    "scalar type",
			old:     proto3 + "message A { int32 n = 1; }",
			new:     proto3 + "message A { int64 n = 1; }",
			forward: []string{"! changed field t.v1.A.n: field t.v1.A.n changed type from int32 to int64"},
			back:    []string{"! changed field t.v1.A.n: field t.v1.A.n changed type from int64 to int32"},
		},
		{
			name:    "signedness",
			old:     proto3 + "message A { int32 n = 1; }",
			new:     proto3 + "message A { uint32 n = 1; }",
			forward: []string{"! changed field t.v1.A.n: field t.v1.A.n changed type from int32 to uint32"},
			back:    []string{"! changed field t.v1.A.n: field t.v1.A.n changed type from uint32 to int32"},
		},
		{
			name:    "message type",
			old:     proto3 + "message P { string n = 1; } message Q { string n = 1; } message A { P who = 1; }",
			new:     proto3 + "message P { string n = 1; } message Q { string n = 1; } message A { Q who = 1; }",
			forward: []string{"! changed field t.v1.A.who: field t.v1.A.who changed type from t.v1.P to t.v1.Q"},
			back:    []string{"! changed field t.v1.A.who: field t.v1.A.who changed type from t.v1.Q to t.v1.P"},
		},
		{
			name:    "enum type",
			old:     proto3 + "enum E { E_0 = 0; } enum F { F_0 = 0; } message A { E e = 1; }",
			new:     proto3 + "enum E { E_0 = 0; } enum F { F_0 = 0; } message A { F e = 1; }",
			forward: []string{"! changed field t.v1.A.e: field t.v1.A.e changed type from t.v1.E to t.v1.F"},
			back:    []string{"! changed field t.v1.A.e: field t.v1.A.e changed type from t.v1.F to t.v1.E"},
		},
		{
			name:    "singular to repeated",
			old:     proto3 + "message A { string tag = 1; }",
			new:     proto3 + "message A { repeated string tag = 1; }",
			forward: []string{"! changed field t.v1.A.tag: field t.v1.A.tag changed type from string to repeated string"},
			back:    []string{"! changed field t.v1.A.tag: field t.v1.A.tag changed type from repeated string to string"},
		},
		{
			// Wire compatible, but an array is not an object in JSON.
			name:    "repeated to map",
			old:     proto3 + "message A { message L { string key = 1; string value = 2; } repeated L labels = 1; }",
			new:     proto3 + "message A { message L { string key = 1; string value = 2; } map<string, string> labels = 1; }",
			forward: []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from repeated t.v1.A.L to map<string, string>"},
			back:    []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from map<string, string> to repeated t.v1.A.L"},
		},
		{
			name:    "map value type",
			old:     proto3 + "message A { map<string, string> labels = 1; }",
			new:     proto3 + "message A { map<string, int32> labels = 1; }",
			forward: []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from map<string, string> to map<string, int32>"},
			back:    []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from map<string, int32> to map<string, string>"},
		},
		{
			name:    "map key type",
			old:     proto3 + "message A { map<string, string> labels = 1; }",
			new:     proto3 + "message A { map<int64, string> labels = 1; }",
			forward: []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from map<string, string> to map<int64, string>"},
			back:    []string{"! changed field t.v1.A.labels: field t.v1.A.labels changed type from map<int64, string> to map<string, string>"},
		},
		{
			name:    "renamed, number kept",
			old:     proto3 + "message A { string page_count = 1; }",
			new:     proto3 + "message A { string pages = 1; }",
			forward: []string{`! changed field t.v1.A.page_count: field t.v1.A.page_count (number 1) renamed to pages (JSON name "pages", was "pageCount")`},
			back:    []string{`! changed field t.v1.A.pages: field t.v1.A.pages (number 1) renamed to page_count (JSON name "pageCount", was "pages")`},
		},
		{
			// JSON bodies keep working, but query parameters and
			// use_proto_names answers use the proto name.
			name:    "renamed, JSON name kept",
			old:     proto3 + `message A { string title = 1 [json_name = "title"]; }`,
			new:     proto3 + `message A { string heading = 1 [json_name = "title"]; }`,
			forward: []string{`! changed field t.v1.A.title: field t.v1.A.title (number 1) renamed to heading (JSON name "title" kept)`},
			back:    []string{`! changed field t.v1.A.heading: field t.v1.A.heading (number 1) renamed to title (JSON name "title" kept)`},
		},
		{
			name:    "JSON name",
			old:     proto3 + "message A { string title = 1; }",
			new:     proto3 + `message A { string title = 1 [json_name = "bookTitle"]; }`,
			forward: []string{`! changed field t.v1.A.title: field t.v1.A.title changed JSON name from "title" to "bookTitle"`},
			back:    []string{`! changed field t.v1.A.title: field t.v1.A.title changed JSON name from "bookTitle" to "title"`},
		},
		{
			name:    "number",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { string x = 2; }",
			forward: []string{"! changed field t.v1.A.x: field t.v1.A.x changed number from 1 to 2"},
			back:    []string{"! changed field t.v1.A.x: field t.v1.A.x changed number from 2 to 1"},
		},
		{
			name: "numbers swapped",
			old:  proto3 + "message A { string x = 1; string y = 2; }",
			new:  proto3 + "message A { string x = 2; string y = 1; }",
			forward: []string{
				"! changed field t.v1.A.x: field t.v1.A.x changed number from 1 to 2",
				"! changed field t.v1.A.y: field t.v1.A.y changed number from 2 to 1",
			},
			back: []string{
				"! changed field t.v1.A.x: field t.v1.A.x changed number from 2 to 1",
				"! changed field t.v1.A.y: field t.v1.A.y changed number from 1 to 2",
			},
		},
		{
			name:    "into a oneof",
			old:     proto3 + "message A { string x = 1; string y = 2; }",
			new:     proto3 + "message A { oneof pick { string x = 1; string y = 2; } }",
			forward: []string{"! changed field t.v1.A.x: field t.v1.A.x moved into oneof pick", "! changed field t.v1.A.y: field t.v1.A.y moved into oneof pick"},
			back:    []string{"! changed field t.v1.A.x: field t.v1.A.x moved out of oneof pick", "! changed field t.v1.A.y: field t.v1.A.y moved out of oneof pick"},
		},
		{
			name:    "between oneofs",
			old:     proto3 + "message A { oneof a { string x = 1; } oneof b { string y = 2; } }",
			new:     proto3 + "message A { oneof a { string y = 2; } oneof b { string x = 1; } }",
			forward: []string{"! changed field t.v1.A.x: field t.v1.A.x moved from oneof a to oneof b", "! changed field t.v1.A.y: field t.v1.A.y moved from oneof b to oneof a"},
			back:    []string{"! changed field t.v1.A.x: field t.v1.A.x moved from oneof b to oneof a", "! changed field t.v1.A.y: field t.v1.A.y moved from oneof a to oneof b"},
		},
		{
			// proto3 optional is a synthetic oneof: presence, not membership.
			name:    "presence",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { optional string x = 1; }",
			forward: []string{"  changed field t.v1.A.x: field t.v1.A.x changed presence from implicit to explicit"},
			back:    []string{"  changed field t.v1.A.x: field t.v1.A.x changed presence from explicit to implicit"},
		},
		{
			name:    "field_behavior REQUIRED",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { string x = 1 [(google.api.field_behavior) = REQUIRED]; }",
			forward: []string{"! changed field t.v1.A.x: field t.v1.A.x became required (google.api.field_behavior = REQUIRED)"},
			back:    []string{"  changed field t.v1.A.x: field t.v1.A.x is no longer required (google.api.field_behavior = REQUIRED removed)"},
		},
		{
			name:    "other field_behavior",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { string x = 1 [(google.api.field_behavior) = OUTPUT_ONLY]; }",
			forward: nil,
			back:    nil,
		},
		{
			name:    "new required field",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { string x = 1; string y = 2 [(google.api.field_behavior) = REQUIRED]; }",
			forward: []string{"! added field t.v1.A.y: field t.v1.A.y (number 2, string) added as required (google.api.field_behavior = REQUIRED)"},
			back:    []string{"! removed field t.v1.A.y: field t.v1.A.y (number 2) removed"},
		},
		{
			name:    "proto2 required",
			old:     proto2 + "message A { optional string x = 1; }",
			new:     proto2 + "message A { required string x = 1; }",
			forward: []string{"! changed field t.v1.A.x: field t.v1.A.x became required (proto2 required)"},
			back:    []string{"! changed field t.v1.A.x: field t.v1.A.x is no longer proto2 required"},
		},
		{
			name:    "proto2 default",
			old:     proto2 + `message A { optional string x = 1 [default = "a"]; optional int32 n = 2; }`,
			new:     proto2 + `message A { optional string x = 1 [default = "b"]; optional int32 n = 2 [default = 7]; }`,
			forward: []string{`! changed field t.v1.A.n: field t.v1.A.n changed default from none to "7"`, `! changed field t.v1.A.x: field t.v1.A.x changed default from "a" to "b"`},
			back:    []string{`! changed field t.v1.A.n: field t.v1.A.n changed default from "7" to none`, `! changed field t.v1.A.x: field t.v1.A.x changed default from "b" to "a"`},
		},
		{
			name:    "nested message field",
			old:     proto3 + "message A { message B { string x = 1; } B b = 1; }",
			new:     proto3 + "message A { message B { bytes x = 1; } B b = 1; }",
			forward: []string{"! changed field t.v1.A.B.x: field t.v1.A.B.x changed type from string to bytes"},
			back:    []string{"! changed field t.v1.A.B.x: field t.v1.A.B.x changed type from bytes to string"},
		},
		{
			name:    "message and enum removed",
			old:     proto3 + "message A { string x = 1; } message Gone { string x = 1; } enum E { E_0 = 0; }",
			new:     proto3 + "message A { string x = 1; }",
			forward: []string{"  removed enum t.v1.E: enum t.v1.E removed", "  removed message t.v1.Gone: message t.v1.Gone removed"},
			back:    []string{"  added enum t.v1.E: enum t.v1.E added", "  added message t.v1.Gone: message t.v1.Gone added"},
		},
		{
			name:    "nested declarations go with their message",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { string x = 1; } message B { message C { enum D { D_0 = 0; } } enum E { E_0 = 0; } }",
			forward: []string{"  added message t.v1.B: message t.v1.B added"},
			back:    []string{"  removed message t.v1.B: message t.v1.B removed"},
		},
		{
			name:    "nested message added to a kept message",
			old:     proto3 + "message A { string x = 1; }",
			new:     proto3 + "message A { message B { string y = 1; } string x = 1; }",
			forward: []string{"  added message t.v1.A.B: message t.v1.A.B added"},
			back:    []string{"  removed message t.v1.A.B: message t.v1.A.B removed"},
		},
		{
			name:    "enum value removed",
			old:     proto3 + "enum E { E_0 = 0; E_A = 1; E_B = 2; }",
			new:     proto3 + "enum E { E_0 = 0; E_A = 1; }",
			forward: []string{"! removed enum_value t.v1.E.E_B: enum value t.v1.E.E_B (2) removed"},
			back:    []string{"  added enum_value t.v1.E.E_B: enum value t.v1.E.E_B (2) added"},
		},
		{
			name:    "enum value number",
			old:     proto3 + "enum E { E_0 = 0; E_A = 1; }",
			new:     proto3 + "enum E { E_0 = 0; E_A = 2; }",
			forward: []string{"! changed enum_value t.v1.E.E_A: enum value t.v1.E.E_A changed number from 1 to 2"},
			back:    []string{"! changed enum_value t.v1.E.E_A: enum value t.v1.E.E_A changed number from 2 to 1"},
		},
		{
			// JSON carries enum names: a new name is a removed value.
			name:    "enum value renamed",
			old:     proto3 + "enum E { E_0 = 0; E_A = 1; }",
			new:     proto3 + "enum E { E_0 = 0; E_ALPHA = 1; }",
			forward: []string{"! changed enum_value t.v1.E.E_A: enum value t.v1.E.E_A (1) renamed to E_ALPHA"},
			back:    []string{"! changed enum_value t.v1.E.E_ALPHA: enum value t.v1.E.E_ALPHA (1) renamed to E_A"},
		},
		{
			name:    "enum alias added",
			old:     proto3 + "enum E { option allow_alias = true; E_0 = 0; E_A = 1; E_AA = 1; }",
			new:     proto3 + "enum E { option allow_alias = true; E_0 = 0; E_A = 1; E_AA = 1; E_ALPHA = 1; }",
			forward: []string{"  added enum_value t.v1.E.E_ALPHA: enum value t.v1.E.E_ALPHA (1) added"},
			back:    []string{"! removed enum_value t.v1.E.E_ALPHA: enum value t.v1.E.E_ALPHA (1) removed"},
		},
		{
			name:    "service removed",
			old:     service("rpc Get(Req) returns (Res);") + "service T { rpc A(Req) returns (Res); rpc B(Req) returns (Res); }",
			new:     service("rpc Get(Req) returns (Res);"),
			forward: []string{"! removed service t.v1.T: service t.v1.T removed (with its 2 methods)"},
			back:    []string{"  added service t.v1.T: service t.v1.T added"},
		},
		{
			name:    "method removed",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/{name}"}; } rpc Ping(Req) returns (Res);`),
			new:     service(`rpc Ping(Req) returns (Res);`),
			forward: []string{"! removed method t.v1.S.Get: method t.v1.S.Get removed (it served GET /v1/{name})"},
			back:    []string{"  added method t.v1.S.Get: method t.v1.S.Get added (at GET /v1/{name})"},
		},
		{
			name:    "method without binding removed",
			old:     service(`rpc Get(Req) returns (Res); rpc Ping(Req) returns (Res);`),
			new:     service(`rpc Ping(Req) returns (Res);`),
			forward: []string{"! removed method t.v1.S.Get: method t.v1.S.Get removed"},
			back:    []string{"  added method t.v1.S.Get: method t.v1.S.Get added"},
		},
		{
			name:    "request type",
			old:     service("rpc Get(Req) returns (Res);"),
			new:     service("rpc Get(Other) returns (Res);"),
			forward: []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed request type from t.v1.Req to t.v1.Other"},
			back:    []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed request type from t.v1.Other to t.v1.Req"},
		},
		{
			name:    "response type",
			old:     service("rpc Get(Req) returns (Res);"),
			new:     service("rpc Get(Req) returns (Other);"),
			forward: []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed response type from t.v1.Res to t.v1.Other"},
			back:    []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed response type from t.v1.Other to t.v1.Res"},
		},
		{
			name:    "server streaming",
			old:     service("rpc Get(Req) returns (Res);"),
			new:     service("rpc Get(Req) returns (stream Res);"),
			forward: []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed from unary to server streaming"},
			back:    []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed from server streaming to unary"},
		},
		{
			name:    "bidirectional streaming",
			old:     service("rpc Get(stream Req) returns (Res);"),
			new:     service("rpc Get(stream Req) returns (stream Res);"),
			forward: []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed from client streaming to bidirectional streaming"},
			back:    []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed from bidirectional streaming to client streaming"},
		},
		{
			name:    "idempotency level",
			old:     service("rpc Get(Req) returns (Res);"),
			new:     service("rpc Get(Req) returns (Res) { option idempotency_level = NO_SIDE_EFFECTS; }"),
			forward: []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed idempotency_level from IDEMPOTENCY_UNKNOWN to NO_SIDE_EFFECTS"},
			back:    []string{"! changed method t.v1.S.Get: method t.v1.S.Get changed idempotency_level from NO_SIDE_EFFECTS to IDEMPOTENCY_UNKNOWN"},
		},
		{
			name:    "HTTP path",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/{name=books/*}"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v2/{name=books/*}"}; }`),
			forward: []string{"! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from GET /v1/{name=books/*} to GET /v2/{name=books/*}"},
			back:    []string{"! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from GET /v2/{name=books/*} to GET /v1/{name=books/*}"},
		},
		{
			name:    "HTTP method",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/{name}"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {post: "/v1/{name}" body: "*"}; }`),
			forward: []string{`! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from GET /v1/{name} to POST /v1/{name} (body "*")`},
			back:    []string{`! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from POST /v1/{name} (body "*") to GET /v1/{name}`},
		},
		{
			name:    "HTTP body",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {post: "/v1/x" body: "*"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {post: "/v1/x" body: "name"}; }`),
			forward: []string{`! changed http_rule t.v1.S.Get: HTTP binding POST /v1/x of t.v1.S.Get changed body from "*" to "name"`},
			back:    []string{`! changed http_rule t.v1.S.Get: HTTP binding POST /v1/x of t.v1.S.Get changed body from "name" to "*"`},
		},
		{
			name:    "HTTP response_body",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x" response_body: "name"}; }`),
			forward: []string{`! changed http_rule t.v1.S.Get: HTTP binding GET /v1/x of t.v1.S.Get changed response_body from none to "name"`},
			back:    []string{`! changed http_rule t.v1.S.Get: HTTP binding GET /v1/x of t.v1.S.Get changed response_body from "name" to none`},
		},
		{
			name:    "additional binding",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x" additional_bindings {post: "/v1/x:get" body: "*"}}; }`),
			forward: []string{`  added http_rule t.v1.S.Get: HTTP binding POST /v1/x:get (body "*") of t.v1.S.Get added`},
			back:    []string{`! removed http_rule t.v1.S.Get: HTTP binding POST /v1/x:get (body "*") of t.v1.S.Get removed`},
		},
		{
			name:    "additional binding changed",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x" additional_bindings {get: "/v1/y"}}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x" additional_bindings {get: "/v1/z"}}; }`),
			forward: []string{`! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from GET /v1/y to GET /v1/z`},
			back:    []string{`! changed http_rule t.v1.S.Get: HTTP binding of t.v1.S.Get changed from GET /v1/z to GET /v1/y`},
		},
		{
			name: "annotation dropped",
			old:  service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x" additional_bindings {get: "/v1/y"}}; }`),
			new:  service(`rpc Get(Req) returns (Res);`),
			forward: []string{
				`! removed http_rule t.v1.S.Get: HTTP binding GET /v1/x of t.v1.S.Get removed`,
				`! removed http_rule t.v1.S.Get: HTTP binding GET /v1/y of t.v1.S.Get removed`,
			},
			back: []string{
				`  added http_rule t.v1.S.Get: HTTP binding GET /v1/x of t.v1.S.Get added`,
				`  added http_rule t.v1.S.Get: HTTP binding GET /v1/y of t.v1.S.Get added`,
			},
		},
		{
			name:    "service removed with its bindings",
			old:     service("rpc Get(Req) returns (Res);") + `service T { rpc A(Req) returns (Res) { option (google.api.http) = {get: "/v1/a" additional_bindings {post: "/v1/a" body: "*"}}; } rpc B(Req) returns (Res) { option (google.api.http) = {delete: "/v1/b"}; } }`,
			new:     service("rpc Get(Req) returns (Res);"),
			forward: []string{"! removed service t.v1.T: service t.v1.T removed (with its 2 methods, serving GET /v1/a, POST /v1/a, DELETE /v1/b)"},
			back:    []string{"  added service t.v1.T: service t.v1.T added"},
		},
		// The switchboard.v1.policy option: what opens a method wider is
		// breaking, what closes it further is news.
		{
			name:    "policy option removed",
			old:     policyService(`policy: "members", scopes: ["shop.read"], rate_limit: {rate: 5, per: "1m", burst: 10}`),
			new:     policyService(""),
			forward: []string{`! removed policy t.v1.S.Get: switchboard.v1.policy option of t.v1.S.Get removed (it had policy "members"; scope shop.read; rate limit 5 per 1m0s, burst 10, key client_ip)`},
			back:    []string{`  added policy t.v1.S.Get: switchboard.v1.policy option of t.v1.S.Get added (policy "members"; scope shop.read; rate limit 5 per 1m0s, burst 10, key client_ip)`},
		},
		{
			name:    "policy option removed with its binding kept",
			old:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; option (switchboard.v1.policy) = {policy: "members"}; }`),
			new:     service(`rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/x"}; }`),
			forward: []string{`! removed policy t.v1.S.Get: switchboard.v1.policy option of t.v1.S.Get removed (it had policy "members")`},
			back:    []string{`  added policy t.v1.S.Get: switchboard.v1.policy option of t.v1.S.Get added (policy "members")`},
		},
		{
			name:    "policy name changed",
			old:     policyService(`policy: "members"`),
			new:     policyService(`policy: "anyone"`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from "members" to "anyone"`},
			back:    []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from "anyone" to "members"`},
		},
		{
			name:    "policy name dropped",
			old:     policyService(`policy: "members", scopes: ["a"]`),
			new:     policyService(`scopes: ["a"]`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from "members" to none`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from none to "members"`},
		},
		{
			name:    "policy name to none",
			old:     policyService(`policy: "members"`),
			new:     policyService(`policy: "none"`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from "members" to "none"`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get changed policy from "none" to "members"`},
		},
		{
			name:    "scopes",
			old:     policyService(`scopes: ["a", "b", "c"]`),
			new:     policyService(`scopes: ["a"]`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get no longer requires scopes b, c`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get now requires scopes b, c`},
		},
		{
			name: "scope replaced",
			old:  policyService(`scopes: ["a"]`),
			new:  policyService(`scopes: ["b"]`),
			forward: []string{
				`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get no longer requires scope a`,
				`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get now requires scope b`,
			},
			back: []string{
				`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get no longer requires scope b`,
				`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get now requires scope a`,
			},
		},
		{
			name:    "scopes reordered",
			old:     policyService(`scopes: ["a", "b"]`),
			new:     policyService(`scopes: ["b", "a"]`),
			forward: nil,
			back:    nil,
		},
		{
			name:    "rate limit removed",
			old:     policyService(`policy: "members", rate_limit: {rate: 5, burst: 10}`),
			new:     policyService(`policy: "members"`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get removed its rate limit (5 per 1s, burst 10, key client_ip)`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get added a rate limit (5 per 1s, burst 10, key client_ip)`},
		},
		{
			name:    "rate limit rate",
			old:     policyService(`rate_limit: {rate: 5, per: "1m", burst: 10}`),
			new:     policyService(`rate_limit: {rate: 50, per: "1m", burst: 10}`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 5 per 1m0s, burst 10, key client_ip to 50 per 1m0s, burst 10, key client_ip (a higher rate)`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get tightened its rate limit from 50 per 1m0s, burst 10, key client_ip to 5 per 1m0s, burst 10, key client_ip`},
		},
		{
			name:    "rate limit period",
			old:     policyService(`rate_limit: {rate: 5, per: "1m", burst: 10}`),
			new:     policyService(`rate_limit: {rate: 5, per: "1s", burst: 10}`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 5 per 1m0s, burst 10, key client_ip to 5 per 1s, burst 10, key client_ip (a higher rate)`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get tightened its rate limit from 5 per 1s, burst 10, key client_ip to 5 per 1m0s, burst 10, key client_ip`},
		},
		{
			name:    "rate limit burst up, rate down",
			old:     policyService(`rate_limit: {rate: 10, burst: 10}`),
			new:     policyService(`rate_limit: {rate: 5, burst: 100}`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 10 per 1s, burst 10, key client_ip to 5 per 1s, burst 100, key client_ip (a larger burst)`},
			back:    []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 5 per 1s, burst 100, key client_ip to 10 per 1s, burst 10, key client_ip (a higher rate)`},
		},
		{
			name:    "rate limit key",
			old:     policyService(`rate_limit: {rate: 5, burst: 10}`),
			new:     policyService(`rate_limit: {rate: 5, burst: 10, key: "header:X-Client"}`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 5 per 1s, burst 10, key client_ip to 5 per 1s, burst 10, key header:X-Client (key from client_ip to header:X-Client)`},
			back:    []string{`! changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get loosened its rate limit from 5 per 1s, burst 10, key header:X-Client to 5 per 1s, burst 10, key client_ip (key from header:X-Client to client_ip)`},
		},
		{
			name:    "rate limit said differently",
			old:     policyService(`rate_limit: {rate: 5, per: "60s", burst: 10, key: "client_ip"}`),
			new:     policyService(`rate_limit: {rate: 5, per: "1m", burst: 10}`),
			forward: nil,
			back:    nil,
		},
		{
			name:    "policy rate limit made invalid",
			old:     policyService(`policy: "members", rate_limit: {rate: 5, per: "1m", burst: 10}`),
			new:     policyService(`policy: "members", rate_limit: {rate: 5, per: "soon", burst: 10}`),
			forward: []string{`! changed policy t.v1.S.Get: switchboard.v1.policy option of t.v1.S.Get is no longer valid: t.v1.S.Get: switchboard.v1.policy rate_limit.per "soon" is not a positive duration`},
			back:    []string{`  changed policy t.v1.S.Get: switchboard.v1.policy of t.v1.S.Get added a rate limit (5 per 1m0s, burst 10, key client_ip)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := compileSet(t, tt.old), compileSet(t, tt.new)
			for _, dir := range []struct {
				name     string
				from, to *descriptors.Set
				want     []string
			}{{"forward", old, new, tt.forward}, {"back", new, old, tt.back}} {
				got := render(diff.Sets(dir.from, dir.to))
				want := dir.want
				if want == nil {
					want = []string{}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s:\ngot  %s\nwant %s", dir.name, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
				}
			}
		})
	}
}

// TestFirstVersion: with nothing before, the set's top-level declarations
// are added and nothing breaks.
func TestFirstVersion(t *testing.T) {
	s := compileSet(t, service(`rpc Get(Req) returns (Res);`)+"enum E { E_0 = 0; }")
	got := render(diff.Sets(nil, s))
	want := []string{
		"  added service t.v1.S: service t.v1.S added",
		"  added enum t.v1.E: enum t.v1.E added",
		"  added message t.v1.Other: message t.v1.Other added",
		"  added message t.v1.Req: message t.v1.Req added",
		"  added message t.v1.Res: message t.v1.Res added",
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if b := diff.Breaking(diff.Sets(nil, s)); len(b) != 0 {
		t.Errorf("a first version breaks %v", b)
	}
	if cs := diff.Sets(s, s); len(cs) != 0 {
		t.Errorf("a set against itself: %v", cs)
	}
}

// TestDeterministic: the order of the files in the set, and of the
// declarations in a file, do not change the answer.
func TestDeterministic(t *testing.T) {
	old := compileSet(t, service(`rpc A(Req) returns (Res); rpc B(Req) returns (Res);`)+"message M { string a = 1; string b = 2; string c = 3; }")
	newSrc := service(`rpc C(Req) returns (Other);`) + "message M { int32 c = 3; }"
	first := diff.Sets(old, compileSet(t, newSrc))
	reversed := compileSet(t, newSrc)
	fds := &descriptorpb.FileDescriptorSet{File: slices.Clone(reversed.FDS.GetFile())}
	slices.Reverse(fds.File)
	second := diff.Sets(old, newSet(t, fds))
	if !slices.Equal(first, second) {
		t.Errorf("file order changed the diff:\n%v\n%v", first, second)
	}
	if !slices.IsSortedFunc(first, func(a, b diff.Change) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("not sorted by path: %v", first)
	}
}

func TestBreakingJoinAndOrder(t *testing.T) {
	cs := []diff.Change{
		{Kind: diff.Added, Element: diff.ElementField, Path: "a", Message: "one"},
		{Kind: diff.Removed, Breaking: true, Element: diff.ElementField, Path: "b", Message: "two"},
		{Kind: diff.Added, Element: diff.ElementField, Path: "c", Message: "three"},
		{Kind: diff.Changed, Breaking: true, Element: diff.ElementField, Path: "d", Message: "four"},
	}
	if got := diff.Breaking(cs); len(got) != 2 || got[0].Message != "two" || got[1].Message != "four" {
		t.Errorf("Breaking = %v", got)
	}
	var order []string
	for _, c := range diff.BreakingFirst(cs) {
		order = append(order, c.Message)
	}
	if strings.Join(order, ",") != "two,four,one,three" {
		t.Errorf("BreakingFirst order %v", order)
	}
	if cs[0].Message != "one" {
		t.Error("BreakingFirst reordered its argument")
	}
	for _, tt := range []struct {
		max  int
		want string
	}{{0, "one; two; three; four"}, {4, "one; two; three; four"}, {2, "one; two; and 2 more"}} {
		if got := diff.Join(cs, tt.max); got != tt.want {
			t.Errorf("Join(%d) = %q, want %q", tt.max, got, tt.want)
		}
	}
}

// TestLibraryGolden: the testdata library set against an edited copy
// (testdata/library/v1/library.proto here) touching most kinds of change.
func TestLibraryGolden(t *testing.T) {
	fds, err := descriptors.ReadSetFile("../../testdata/library.pb")
	if err != nil {
		t.Fatal(err)
	}
	old := newSet(t, fds)
	fds, err = descriptors.Compile(context.Background(), []string{"library/v1/library.proto"}, []string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(diff.BreakingFirst(diff.Sets(old, newSet(t, fds))), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "library_v1_edited.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./descriptors/diff -update writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (-update to accept):\n%s", path, got)
	}
}

// compileFiles compiles the named .proto sources (roots: those compiled,
// their imports included) into a set from source.
func compileFiles(t *testing.T, source descriptors.SourceKind, files map[string]string, roots ...string) *descriptors.Set {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fds, err := descriptors.Compile(context.Background(), roots, []string{dir})
	if err != nil {
		t.Fatalf("compiling %v: %v", roots, err)
	}
	s, err := descriptors.NewSet("t", "b", descriptors.Source{Kind: source}, fds)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const libx = proto3 + `
message Req { string name = 1; }
message Res { string name = 1; }
service Lib {
  rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/{name=books/*}"}; }
  rpc Put(Req) returns (Res) { option (google.api.http) = {put: "/v1/{name=books/*}" body: "*"}; }
}
`

// libxFewer is libx without Put.
const libxFewer = proto3 + `
message Req { string name = 1; }
message Res { string name = 1; }
service Lib {
  rpc Get(Req) returns (Res) { option (google.api.http) = {get: "/v1/{name=books/*}"}; }
}
`

const extra = `syntax = "proto3";
package x.v1;
import "libx.proto";
message Extra { t.v1.Req req = 1; }
`

// TestImportedServices: the gateway does not route the services of a
// file another file of an upload imports (descriptors.Set.ExposedServices),
// so the diff compares only the exposed services, on both sides. An upload
// adding a file that imports the old service file removes the service for
// clients, and says so.
func TestImportedServices(t *testing.T) {
	v1 := map[string]string{"libx.proto": libx}
	v2 := map[string]string{"libx.proto": libx, "extra.proto": extra}
	tests := []struct {
		name          string
		source        descriptors.SourceKind
		old, new      map[string]string
		oldRoots      []string
		newRoots      []string
		forward, back []string
	}{
		{
			name: "service file becomes imported", source: descriptors.SourceUpload,
			old: v1, oldRoots: []string{"libx.proto"},
			new: v2, newRoots: []string{"libx.proto", "extra.proto"},
			forward: []string{
				"! removed service t.v1.Lib: service t.v1.Lib removed (with its 2 methods, serving GET /v1/{name=books/*}, PUT /v1/{name=books/*}): " +
					"its file libx.proto is now imported by extra.proto, and the gateway does not expose the services of files an upload imports",
				"  added message x.v1.Extra: message x.v1.Extra added",
			},
			back: []string{
				"  added service t.v1.Lib: service t.v1.Lib added: its file libx.proto is no longer imported by another file of the set",
				"  removed message x.v1.Extra: message x.v1.Extra removed",
			},
		},
		{
			// Only the importing file named: the upload as protoc
			// --include_imports makes it.
			name: "importing file as the only root", source: descriptors.SourceUpload,
			old: v1, oldRoots: []string{"libx.proto"},
			new: v2, newRoots: []string{"extra.proto"},
			forward: []string{
				"! removed service t.v1.Lib: service t.v1.Lib removed (with its 2 methods, serving GET /v1/{name=books/*}, PUT /v1/{name=books/*}): " +
					"its file libx.proto is now imported by extra.proto, and the gateway does not expose the services of files an upload imports",
				"  added message x.v1.Extra: message x.v1.Extra added",
			},
			back: []string{
				"  added service t.v1.Lib: service t.v1.Lib added: its file libx.proto is no longer imported by another file of the set",
				"  removed message x.v1.Extra: message x.v1.Extra removed",
			},
		},
		{
			// Imported on both sides: exposed on neither, so a method it
			// loses is no client's concern.
			name: "imported on both sides", source: descriptors.SourceUpload,
			old: v2, oldRoots: []string{"extra.proto"},
			new: map[string]string{"libx.proto": libxFewer, "extra.proto": extra}, newRoots: []string{"extra.proto"},
		},
		{
			// Sets from the config expose what it lists, whichever file
			// defines it: the rule is the uploads'.
			name: "not an upload", source: descriptors.SourceFile,
			old: v1, oldRoots: []string{"libx.proto"},
			new: v2, newRoots: []string{"libx.proto", "extra.proto"},
			forward: []string{"  added message x.v1.Extra: message x.v1.Extra added"},
			back:    []string{"  removed message x.v1.Extra: message x.v1.Extra removed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := compileFiles(t, tt.source, tt.old, tt.oldRoots...)
			new := compileFiles(t, tt.source, tt.new, tt.newRoots...)
			for _, dir := range []struct {
				name     string
				from, to *descriptors.Set
				want     []string
			}{{"forward", old, new, tt.forward}, {"back", new, old, tt.back}} {
				got := render(diff.Sets(dir.from, dir.to))
				want := dir.want
				if want == nil {
					want = []string{}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s:\ngot  %s\nwant %s", dir.name, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
				}
			}
		})
	}
}

// TestExposedServices: the rule itself.
func TestExposedServices(t *testing.T) {
	names := func(s *descriptors.Set) string {
		var out []string
		for _, sd := range s.ExposedServices() {
			out = append(out, string(sd.FullName()))
		}
		return strings.Join(out, ",")
	}
	extraSvc := extra + "service X { rpc Do(t.v1.Req) returns (t.v1.Res); }\n"
	files := map[string]string{"libx.proto": libx, "extra.proto": extraSvc}
	up := compileFiles(t, descriptors.SourceUpload, files, "extra.proto")
	if got := names(up); got != "x.v1.X" {
		t.Errorf("upload: exposed %q, want x.v1.X", got)
	}
	if !up.ImportedFiles()["libx.proto"] || up.ImportedFiles()["extra.proto"] {
		t.Errorf("upload: imported files %v", up.ImportedFiles())
	}
	if len(up.Services()) != 2 {
		t.Errorf("Services() = %d, want both", len(up.Services()))
	}
	file := compileFiles(t, descriptors.SourceFile, files, "extra.proto")
	if got := names(file); got != "t.v1.Lib,x.v1.X" {
		t.Errorf("file set: exposed %q, want both", got)
	}
	if file.ImportedFiles() != nil {
		t.Errorf("file set: imported files %v, want nil", file.ImportedFiles())
	}
}

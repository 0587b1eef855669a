package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./openapi -update to accept); got:\n%s", path, got)
	}
}

// TestDemoDocument: the document of the demo's gateway, every protocol and
// policy in it, as JSON and YAML, stable byte for byte.
func TestDemoDocument(t *testing.T) {
	g := demoGateway(t)
	doc := Build(g.State(), g.PolicySummary, Options{Servers: []string{"http://127.0.0.1:8080"}})
	checkDocument(t, doc)
	js, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "demo.json", js)
	ym, err := doc.YAML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "demo.yaml", ym)

	// The YAML says what the JSON says.
	var fromJSON, fromYAML any
	if err := json.Unmarshal(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(ym, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(fromJSON), normalize(fromYAML)) {
		t.Error("the YAML and the JSON differ")
	}

	// Building again from the same state gives the same bytes.
	again, _ := Build(g.State(), g.PolicySummary, Options{Servers: []string{"http://127.0.0.1:8080"}}).JSON()
	if !bytes.Equal(js, again) {
		t.Error("two builds of one state differ")
	}
}

// normalize makes decoded JSON and YAML comparable: YAML decodes numbers
// as int or float64, JSON as float64.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int:
		return float64(x)
	}
	return v
}

// TestDocumentFollowsSchemaChanges: a registration adds its paths, a
// rollback takes back what the newer version added, a removal the rest.
func TestDocumentFollowsSchemaChanges(t *testing.T) {
	g := gatewayOf(t, `
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["127.0.0.1:1"]}
  echo:
    grpc: {endpoints: ["127.0.0.1:1"]}
services:
  - name: library.v1.LibraryService
    backend: library
`)
	paths := func() map[string]*PathItem {
		doc := Build(g.State(), g.PolicySummary, Options{})
		checkDocument(t, doc)
		return doc.Paths
	}
	if _, ok := paths()["/v1/echo/{message}"]; ok {
		t.Fatal("echo is documented before it is registered")
	}
	v1, err := descriptors.ReadSetFile("../testdata/echo.pb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Register("echo", "echo", v1); err != nil {
		t.Fatal(err)
	}
	after := paths()
	if item := after["/v1/echo/{message}"]; item == nil || item.Get == nil || item.Get.OperationID != "echo.v1.EchoService.Echo_get" {
		t.Fatalf("after registering echo: %v", keys(after))
	}
	if after["/v1/echo"] == nil || after["/v1/echo"].Post == nil || after["/v1/echo"].Post.OperationID != "echo.v1.EchoService.Echo_post" {
		t.Error("the additional binding is not documented")
	}
	if _, ok := after["/v1/{name}"]; !ok {
		t.Error("the library's paths went away")
	}

	// Version 2 adds a binding; rolling back to version 1 removes it.
	v2 := proto.Clone(v1).(*descriptorpb.FileDescriptorSet)
	for _, f := range v2.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				rule := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule)
				rule.AdditionalBindings = append(rule.AdditionalBindings,
					&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v2/echo/{message}"}})
				proto.SetExtension(m.GetOptions(), annotations.E_Http, rule)
			}
		}
	}
	if _, err := g.Register("echo", "echo", v2); err != nil {
		t.Fatal(err)
	}
	if _, ok := paths()["/v2/echo/{message}"]; !ok {
		t.Fatal("version 2's binding is not documented")
	}
	if _, err := g.Rollback("echo"); err != nil {
		t.Fatal(err)
	}
	rolled := paths()
	if _, ok := rolled["/v2/echo/{message}"]; ok {
		t.Error("the rollback left version 2's binding documented")
	}
	if _, ok := rolled["/v1/echo/{message}"]; !ok {
		t.Error("the rollback took version 1's binding too")
	}
	if err := g.Remove("echo"); err != nil {
		t.Fatal(err)
	}
	if _, ok := paths()["/v1/echo/{message}"]; ok {
		t.Error("a removed set is still documented")
	}
}

func keys(m map[string]*PathItem) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestOpenAPIPath: templates as OpenAPI paths and parameters.
func TestOpenAPIPath(t *testing.T) {
	tests := []struct {
		template, path string
		params         []pathParam
	}{
		{"/v1/shelves/{shelf}", "/v1/shelves/{shelf}", []pathParam{{name: "shelf", field: "shelf", segments: "*"}}},
		{"/v1/{name=shelves/*/books/*}", "/v1/{name}", []pathParam{{name: "name", field: "name",
			pattern: `^shelves/[^/]+/books/[^/]+$`, segments: "shelves/*/books/*", multi: true}}},
		{"/v1/{book.name=shelves/*/books/*}:archive", "/v1/{book.name}:archive", []pathParam{{name: "book.name", field: "book.name",
			pattern: `^shelves/[^/]+/books/[^/]+$`, segments: "shelves/*/books/*", multi: true}}},
		{"/v1/files/{path=**}", "/v1/files/{path}", []pathParam{{name: "path", field: "path",
			pattern: `^(?:[^/]+(?:/[^/]+)*)?$`, segments: "**", multi: true}}},
		{"/v1/{name=files/**}", "/v1/{name}", []pathParam{{name: "name", field: "name",
			pattern: `^files(?:/[^/]+)*$`, segments: "files/**", multi: true}}},
		{"/v1/{id=a.b}/x", "/v1/{id}/x", []pathParam{{name: "id", field: "id", pattern: `^a\.b$`, segments: "a.b"}}},
		{"/v1/*/items/**", "/v1/{segment1}/items/{segment2}", []pathParam{{name: "segment1", segments: "*"},
			{name: "segment2", pattern: `^(?:[^/]+(?:/[^/]+)*)?$`, segments: "**", multi: true}}},
		{"/v1/a%20b:do%2Fit", "/v1/a%20b:do%2Fit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			tmpl, err := routes.ParseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			path, params := openAPIPath(tmpl)
			if path != tt.path {
				t.Errorf("path %s, want %s", path, tt.path)
			}
			if !reflect.DeepEqual(params, tt.params) {
				t.Errorf("params\n%+v, want\n%+v", params, tt.params)
			}
		})
	}
}

// TestRoutesOfOneShape: routes whose paths OpenAPI cannot tell apart share
// one path item (and, for one method, one operation) that says which
// pattern leads where.
func TestRoutesOfOneShape(t *testing.T) {
	dir := t.TempDir()
	src := `syntax = "proto3";
package shapes.v1;
import "google/api/annotations.proto";
service Shapes {
  // Gets a shelf.
  rpc GetShelf(Named) returns (Shelf) { option (google.api.http) = {get: "/v1/{name=shelves/*}"}; }
  // Gets a book.
  rpc GetBook(Named) returns (Book) { option (google.api.http) = {get: "/v1/{name=shelves/*/books/*}"}; }
  rpc Rename(Renamed) returns (Book) { option (google.api.http) = {patch: "/v1/{book.name=shelves/*/books/*}" body: "book"}; }
}
message Named { string name = 1; bool deep = 2; }
message Renamed { Book book = 1; }
message Shelf { string name = 1; }
message Book { string name = 1; string title = 2; }
`
	if err := os.MkdirAll(filepath.Join(dir, "shapes", "v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shapes", "v1", "shapes.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	g := gatewayOf(t, `
descriptors:
  - proto: [shapes/v1/shapes.proto]
    import_paths: [`+dir+`]
backends:
  b:
    grpc: {endpoints: ["127.0.0.1:1"]}
services:
  - name: shapes.v1.Shapes
    backend: b
`)
	doc := Build(g.State(), nil, Options{})
	checkDocument(t, doc)
	if len(doc.Paths) != 1 {
		t.Fatalf("paths %v, want one", keys(doc.Paths))
	}
	item := doc.Paths["/v1/{name}"]
	if item == nil || item.Get == nil || item.Patch == nil {
		t.Fatalf("paths %v", keys(doc.Paths))
	}
	get := item.Get
	if get.Summary != "Gets a book. / Gets a shelf." ||
		!strings.Contains(get.Description, "- `/v1/{name=shelves/*/books/*}`: shapes.v1.Shapes.GetBook: Gets a book.") ||
		!strings.Contains(get.Description, "- `/v1/{name=shelves/*}`: shapes.v1.Shapes.GetShelf: Gets a shelf.") {
		t.Errorf("summary %q, description %q", get.Summary, get.Description)
	}
	if p := get.Parameters[0].Schema.Pattern; p != `^(?:shelves/[^/]+/books/[^/]+|shelves/[^/]+)$` {
		t.Errorf("pattern %s", p)
	}
	ok := get.Responses["200"].Content["application/json"].Schema
	if len(ok.AnyOf) != 2 || ok.AnyOf[0].Ref != "#/components/schemas/shapes.v1.Book" || ok.AnyOf[1].Ref != "#/components/schemas/shapes.v1.Shelf" {
		t.Errorf("200: %s", mustJSON(t, ok))
	}
	// PATCH takes the path's name for book.name, and says so.
	if p := item.Patch.Parameters[0]; p.Name != "name" || !strings.HasPrefix(p.Description, "Sets book.name.") {
		t.Errorf("PATCH parameter %+v", p)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSecurityFromPolicies: schemes from what routes' policies accept,
// named plainly when there is one of a kind, and the answers policies add.
func TestSecurityFromPolicies(t *testing.T) {
	g := demoGateway(t)
	summaries := map[string]policy.Summary{
		"/v1/shelves": {Policies: []string{"a"}, JWTIssuers: []string{"https://one"}, Scopes: []string{"read"}},
		"/v1/ping":    {Policies: []string{"b"}, JWTIssuers: []string{"https://two", "https://three"}, APIKeyHeader: "X-Key"},
		"/v1/sum/{num1}/{num2}": {Policies: []string{"c"}, APIKeyHeader: "X-Other", ExtAuthz: "http://authz",
			Claims: map[string]string{"tier": "gold"}, RateLimited: []string{"c"}},
		"/v1/add64": {Policies: []string{"d"}, RateLimited: []string{"d"}},
	}
	doc := Build(g.State(), func(r *routes.Route) policy.Summary { return summaries[r.Pattern] }, Options{})
	checkDocument(t, doc)
	if got := mustJSON(t, doc.Components.SecuritySchemes); got != `{"apiKey-X-Key":{"type":"apiKey","description":"An API key in the X-Key header.","name":"X-Key","in":"header"},`+
		`"apiKey-X-Other":{"type":"apiKey","description":"An API key in the X-Other header.","name":"X-Other","in":"header"},`+
		`"bearer-1":{"type":"http","description":"A JWT issued by https://one.","scheme":"bearer","bearerFormat":"JWT"},`+
		`"bearer-2":{"type":"http","description":"A JWT issued by https://three or https://two.","scheme":"bearer","bearerFormat":"JWT"}}` {
		t.Errorf("schemes %s", got)
	}
	tests := []struct {
		path, security, description string
		codes                       []string
		absent                      []string
	}{
		{"/v1/shelves", `[{"bearer-1":["read"]}]`, "Needs a JWT (Authorization: Bearer), with the scopes read.", []string{"401", "403"}, []string{"429"}},
		{"/v1/ping", `[{"bearer-2":[]},{"apiKey-X-Key":[]}]`, "Needs a JWT (Authorization: Bearer) or an API key (X-Key).", []string{"401", "403"}, []string{"429"}},
		{"/v1/sum/{num1}/{num2}", `[{"apiKey-X-Other":[]}]`,
			"Needs an API key (X-Other), with the claims tier=gold. An external service authorizes each request. Rate limited: past the limit, 429 with Retry-After.",
			[]string{"401", "403", "429"}, nil},
		{"/v1/add64", `null`, "Rate limited: past the limit, 429 with Retry-After.", []string{"403", "429"}, []string{"401"}},
		{"/v1/add64x", "", "", nil, nil},
	}
	for _, tt := range tests {
		item := doc.Paths[tt.path]
		if item == nil {
			continue
		}
		op := item.Get
		if got := mustJSON(t, op.Security); got != tt.security {
			t.Errorf("%s: security %s, want %s", tt.path, got, tt.security)
		}
		if !strings.HasSuffix(op.Description, tt.description) {
			t.Errorf("%s: description %q, want it to end in %q", tt.path, op.Description, tt.description)
		}
		for _, c := range tt.codes {
			if op.Responses[c] == nil {
				t.Errorf("%s: no %s answer", tt.path, c)
			}
		}
		for _, c := range tt.absent {
			if op.Responses[c] != nil {
				t.Errorf("%s: a %s answer it cannot give", tt.path, c)
			}
		}
	}
	if ok := doc.Paths["/v1/add64"].Get.Responses["200"]; ok.Headers["RateLimit"] == nil {
		t.Error("a rate-limited route's answers carry RateLimit headers")
	}
	if doc.Paths["/v1/orders/{id}"].Get.Responses["403"] != nil {
		t.Error("a route without policies can answer 403")
	}
}

// TestServersAndInfo: the options, and what a document says without them.
func TestServersAndInfo(t *testing.T) {
	g := demoGateway(t)
	plain := Build(g.State(), nil, Options{})
	if plain.Servers != nil || !strings.Contains(plain.Info.Description, "not to the admin listener") ||
		plain.Info.Title != "Switchboard gateway" || plain.Info.Version != "generation 3" {
		t.Errorf("defaults: %+v %+v", plain.Servers, plain.Info)
	}
	set := Build(g.State(), nil, Options{Title: "Shop", Version: "7", Description: "d", Servers: []string{"https://a", "https://b"}})
	if mustJSON(t, set.Servers) != `[{"url":"https://a"},{"url":"https://b"}]` || set.Info != (Info{Title: "Shop", Version: "7", Description: "d"}) {
		t.Errorf("options: %+v %+v", set.Servers, set.Info)
	}
}

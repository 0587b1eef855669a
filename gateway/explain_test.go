package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAdminExplain: GET and POST /admin/explain say what a request would
// do, without calling the backend, and refuse malformed questions.
func TestAdminExplain(t *testing.T) {
	rs, addr := startRecorder(t)
	tg := startGateway(t, `
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["`+addr+`"]}, timeout: 2s}
services:
  - {name: library.v1.LibraryService, backend: rec, unannotated: true}
`)
	r := do(t, "GET", tg.admin.URL+"/admin/explain?method=GET&url=/v1/shelves/1/books/2", nil, nil)
	if r.status != 200 {
		t.Fatalf("GET explain: %d %s", r.status, r.body)
	}
	var ex struct {
		Route       struct{ Pattern, Target string }
		Bindings    []struct{ From, Field, Value string }
		MessageJSON json.RawMessage `json:"message_json"`
		MessageText string          `json:"message_text"`
		Backend     struct{ Name string }
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Route.Pattern != "/v1/{name=shelves/*/books/*}" || ex.Backend.Name != "rec" || len(ex.Bindings) != 1 ||
		ex.Bindings[0].Value != "shelves/1/books/2" || !strings.Contains(ex.MessageText, `name: "shelves/1/books/2"`) {
		t.Errorf("explanation: %s", r.body)
	}
	post := do(t, "POST", tg.admin.URL+"/admin/explain", []byte(`{"method":"POST","url":"/v1/shelves/1/books","body":"{\"title\":\"x\"}"}`),
		map[string]string{"Content-Type": "application/json"})
	if post.status != 200 || !strings.Contains(string(post.body), `\"title\": \"x\"`) && !strings.Contains(string(post.body), `"title": "x"`) {
		t.Errorf("POST explain: %d %s", post.status, post.body)
	}
	rs.mu.Lock()
	calls := rs.calls
	rs.mu.Unlock()
	if calls != 0 {
		t.Errorf("explain called the backend %d times", calls)
	}
	for _, c := range []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"no url", "GET", "/admin/explain?method=GET", "", "", 400},
		{"a url that is not a path", "GET", "/admin/explain?url=javascript:alert(1)", "", "", 400},
		{"post without JSON", "POST", "/admin/explain", "text/plain", "{}", 415},
		{"unknown field", "POST", "/admin/explain", "application/json", `{"url":"/v1/x","evil":1}`, 400},
		{"bad header name", "POST", "/admin/explain", "application/json", `{"url":"/v1/x","headers":{"bad header":"1"}}`, 400},
		{"too large", "POST", "/admin/explain", "application/json", `{"url":"/v1/x","body":"` + strings.Repeat("a", 2<<20) + `"}`, 413},
		{"no route", "GET", "/admin/explain?url=/nowhere", "", "", 200},
	} {
		h := map[string]string{}
		if c.ctype != "" {
			h["Content-Type"] = c.ctype
		}
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		if r := do(t, c.method, tg.admin.URL+c.path, body, h); r.status != c.want {
			t.Errorf("%s: %d, want %d: %.200s", c.name, r.status, c.want, r.body)
		}
	}
}

// TestAdminSetAsProto: a set's files as .proto source, for people.
func TestAdminSetAsProto(t *testing.T) {
	tg := startGateway(t, `
descriptors:
  - {name: library, file: "{root}/library.pb"}
backends:
  library: {grpc: {endpoints: ["127.0.0.1:1"]}}
services:
  - {name: library.v1.LibraryService, backend: library}
`)
	r := do(t, "GET", tg.admin.URL+"/admin/descriptors/library/proto", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "service LibraryService") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET proto: %d %s %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := do(t, "GET", tg.admin.URL+"/admin/descriptors/%3Cscript%3E/proto", nil, nil); r.status != 404 {
		t.Errorf("unknown set: %d", r.status)
	}
}

// TestMount: a mounted path answers GET and HEAD before the routes; other
// methods fall through to the table.
func TestMount(t *testing.T) {
	g := startGateway(t, `
descriptors:
  - file: {root}/library.pb
backends:
  library: {grpc: {endpoints: ["127.0.0.1:1"]}}
`)
	g.g.Mount("/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"openapi":"3.1.0"}`)) }))
	if r := do(t, "GET", g.http.URL+"/openapi.json", nil, nil); r.status != 200 || string(r.body) != `{"openapi":"3.1.0"}` {
		t.Errorf("GET: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", g.http.URL+"/openapi.json", nil, nil); r.status != 404 {
		t.Errorf("POST: %d", r.status)
	}
}

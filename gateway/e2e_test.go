package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const libraryConfig = `
limits: {max_body_bytes: 65536}
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 2s
  down:
    grpc: {endpoints: ["%s"]}
    timeout: 1s
    retry: {attempts: 2, backoff: 10ms, on: [UNAVAILABLE]}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
routes:
  - get: /v1/down/{name=shelves/*/books/*}
    backend: down
    grpc: library.v1.LibraryService/GetBook
  - get: /v2/{name=shelves/*/books/*}
    backend: library
    grpc: library.v1.LibraryService.GetBook
    json: {use_proto_names: true, emit_unpopulated: true, use_enum_numbers: true}
  - post: /v2/strict/{parent=shelves/*}/books
    backend: library
    grpc: library.v1.LibraryService/CreateBook
    body: book
    json: {strict: true}
`

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func libraryGateway(t testing.TB) *testGateway {
	t.Helper()
	mockAddr := startMock(t, "library.pb", "library.yaml")
	return startGateway(t, fmt.Sprintf(libraryConfig, mockAddr, closedAddr(t)))
}

// TestEndToEnd drives real HTTP requests through the gateway to the mock
// gRPC backend and compares status, content type and body with golden files.
func TestEndToEnd(t *testing.T) {
	tg := libraryGateway(t)
	json := map[string]string{"Content-Type": "application/json", "X-Request-Id": "test-request"}
	rid := map[string]string{"X-Request-Id": "test-request"}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantType   string
	}{
		{"get_nested_path", "GET", "/v1/shelves/1/books/1", "", rid, 200, "application/json"},
		{"get_other_book", "GET", "/v1/shelves/1/books/2", "", rid, 200, "application/json"},
		{"get_options_per_route", "GET", "/v2/shelves/1/books/2", "", rid, 200, "application/json"},
		{"get_not_found_details", "GET", "/v1/shelves/1/books/404", "", rid, 404, "application/json"},
		{"list_books_query", "GET", "/v1/shelves/1/books?page_size=2&filter.author.name=Ursula%20K.%20Le%20Guin", "", rid, 200, "application/json"},
		{"search_nested_query", "GET", "/v1/books:search?filter.author.name=Ursula%20K.%20Le%20Guin&filter.genres=FICTION&filter.labels[lang]=en&page_size=5", "", rid, 200, "application/json"},
		{"search_post_additional_binding", "POST", "/v1/books:search", `{"filter":{"author":{"name":"Ursula K. Le Guin"}}}`, json, 200, "application/json"},
		{"create_body_field", "POST", "/v1/shelves/1/books", `{"title":"The Left Hand of Darkness","author":{"name":"Ursula K. Le Guin"},"pageCount":"304"}`, json, 200, "application/json"},
		{"update_field_mask", "PATCH", "/v1/shelves/1/books/1?update_mask=title,rating", `{"title":"The Dispossessed","rating":4.7}`, json, 200, "application/json"},
		{"archive_custom_verb", "POST", "/v1/shelves/1/books/1:archive", `{"reason":"worn out"}`, json, 200, "application/json"},
		{"delete_empty", "DELETE", "/v1/shelves/1/books/1", "", rid, 200, "application/json"},
		{"list_shelves_response_body", "GET", "/v1/shelves", "", rid, 200, "application/json"},
		{"files_multi_segment", "GET", "/v1/files/covers/2024/dispossessed.png", "", rid, 200, "application/json"},
		{"cover_http_body", "GET", "/v1/shelves/1/books/1/cover", "", rid, 200, "text/plain"},
		{"ping_unannotated", "POST", "/library.v1.LibraryService/Ping", `{"message":"hello"}`, json, 200, "application/json"},
		{"bad_query_param", "GET", "/v1/shelves/1/books?page_size=many", "", rid, 400, "application/json"},
		{"bad_body_type", "POST", "/v1/shelves/1/books", `{"pageCount":"lots"}`, json, 400, "application/json"},
		{"bad_json", "POST", "/v1/shelves/1/books", `{"title":`, json, 400, "application/json"},
		{"strict_unknown_fields", "POST", "/v2/strict/shelves/1/books", `{"title":"x","colour":"red","author":{"nom":"y"}}`, json, 400, "application/json"},
		{"unsupported_media_type", "POST", "/v1/shelves/1/books", `title=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Request-Id": "test-request"}, 415, "application/json"},
		{"no_route", "GET", "/v1/nothing/here", "", rid, 404, "application/json"},
		{"wrong_method", "PUT", "/v1/shelves", "", rid, 405, "application/json"},
		{"no_route_near_miss", "GET", "/v1/shelves/7", "", rid, 404, "application/json"},
		{"backend_unavailable_stub", "GET", "/v1/shelves/9/books/down", "", rid, 503, "application/json"},
		{"backend_down", "GET", "/v1/down/shelves/1/books/1", "", rid, 503, "application/json"},
		{"body_too_large", "POST", "/v1/shelves/1/books", `{"title":"` + strings.Repeat("x", 70000) + `"}`, json, 413, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			resp := do(t, tt.method, tg.http.URL+tt.path, body, tt.header)
			if resp.status != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", resp.status, tt.wantStatus, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("content type = %q, want %q", ct, tt.wantType)
			}
			if got := resp.header.Get("X-Request-Id"); got != "test-request" {
				t.Errorf("X-Request-Id = %q, want the client's", got)
			}
			golden(t, tt.name+".json", resp.body)
		})
	}
}

func TestMethodNotAllowedListsAllowed(t *testing.T) {
	tg := libraryGateway(t)
	resp := do(t, "PUT", tg.http.URL+"/v1/shelves", nil, nil)
	// GET, and what the gateway answers itself: HEAD for it, OPTIONS.
	if resp.status != http.StatusMethodNotAllowed || resp.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("status %d Allow %q, want 405 and GET, HEAD, OPTIONS", resp.status, resp.header.Get("Allow"))
	}
}

// TestHTTPConventions: HEAD is GET without a body, OPTIONS without a CORS
// policy lists the methods, and a client that accepts no JSON is told so
// before the backend is called.
func TestHTTPConventions(t *testing.T) {
	tg := libraryGateway(t)
	get := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil)
	head := do(t, "HEAD", tg.http.URL+"/v1/shelves/1/books/1", nil, nil)
	if head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Length") != get.header.Get("Content-Length") ||
		head.header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD: %d %q, headers %v; want GET's headers and no body", head.status, head.body, head.header)
	}
	opts := do(t, "OPTIONS", tg.http.URL+"/v1/shelves/1/books/1", nil, nil)
	if opts.status != 204 || !strings.Contains(opts.header.Get("Allow"), "GET") || !strings.Contains(opts.header.Get("Allow"), "OPTIONS") {
		t.Errorf("OPTIONS: %d Allow %q", opts.status, opts.header.Get("Allow"))
	}
	if r := do(t, "OPTIONS", tg.http.URL+"/v1/nowhere", nil, nil); r.status != 404 {
		t.Errorf("OPTIONS on no route: %d", r.status)
	}
	for accept, want := range map[string]int{
		"application/xml":                   406,
		"text/html, application/xhtml+xml":  406,
		"application/json;q=0, text/plain":  406,
		"application/json":                  200,
		"application/*":                     200,
		"*/*":                               200,
		"text/html, application/json;q=0.1": 200,
		"APPLICATION/JSON; charset=utf-8":   200,
		"":                                  200,
	} {
		r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, map[string]string{"Accept": accept})
		if r.status != want {
			t.Errorf("Accept %q: %d %s, want %d", accept, r.status, r.body, want)
		}
	}
}

// TestClientTimeoutShortensDeadline: the stub waits 3s, the backend allows
// 2s, the client asks for 100ms with Grpc-Timeout; 504 must come at the
// client's deadline.
func TestClientTimeoutShortensDeadline(t *testing.T) {
	tg := libraryGateway(t)
	start := time.Now()
	resp := do(t, "GET", tg.http.URL+"/v1/shelves/9/books/slow", nil, map[string]string{"Grpc-Timeout": "100m"})
	elapsed := time.Since(start)
	if resp.status != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504; body %s", resp.status, resp.body)
	}
	if elapsed >= 1900*time.Millisecond {
		t.Errorf("took %v: the client's 100ms deadline was not applied", elapsed)
	}
	// A client cannot lengthen the backend's 2s timeout.
	start = time.Now()
	resp = do(t, "GET", tg.http.URL+"/v1/shelves/9/books/slow", nil, map[string]string{"Grpc-Timeout": "10S"})
	if resp.status != http.StatusGatewayTimeout || time.Since(start) >= 2900*time.Millisecond {
		t.Errorf("status %d after %v; want 504 at the backend's 2s timeout", resp.status, time.Since(start))
	}
	if bad := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, map[string]string{"Grpc-Timeout": "1x"}); bad.status != 400 {
		t.Errorf("bad Grpc-Timeout: status %d, want 400", bad.status)
	}
}

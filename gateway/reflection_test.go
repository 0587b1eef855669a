package gateway_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestReflectionPinned loads the library schema from the backend's server
// reflection, serves it, and keeps serving it when the backend is replaced
// by one with another schema, until a refresh is asked for.
func TestReflectionPinned(t *testing.T) {
	addr, stop := startMockOn(t, "127.0.0.1:0", "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - reflection: library
backends:
  library:
    grpc: {endpoints: ["%s"]}
`, addr))
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 200 {
		t.Fatalf("route from reflection: %d %s", r.status, r.body)
	}
	r := do(t, "GET", tg.admin.URL+"/admin/descriptors/library-reflection", nil, nil)
	if si := decodeSet(t, r); si.Version != 1 || si.Backend != "library" || !strings.Contains(string(r.body), `"methods_without_http_rules": [
    "library.v1.LibraryService.Ping"`) {
		t.Errorf("reflection set: %s", r.body)
	}

	// The backend restarts with another schema: the routes stay pinned.
	stop()
	startMockOn(t, addr, "echo.pb", "echo.yaml")
	routes := do(t, "GET", tg.admin.URL+"/admin/routes", nil, nil)
	if !strings.Contains(string(routes.body), "/v1/{name=shelves/*/books/*}") || strings.Contains(string(routes.body), "/v1/echo") {
		t.Errorf("routes changed without a refresh: %s", routes.body)
	}

	r = do(t, "POST", tg.admin.URL+"/admin/descriptors/library-reflection/refresh", nil, nil)
	if si := decodeSet(t, r); r.status != 200 || si.Version != 2 || len(si.Svcs) != 1 || si.Svcs[0] != "echo.v1.EchoService" {
		t.Fatalf("refresh: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/echo/again", nil, nil); r.status != 200 {
		t.Errorf("echo after refresh: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 404 {
		t.Errorf("library route after refresh: %d", r.status)
	}
	// Refreshing a set that was not loaded by reflection is refused.
	if r := do(t, "POST", tg.admin.URL+"/admin/descriptors/nope/refresh", nil, nil); r.status != 404 {
		t.Errorf("refresh of an unknown set: %d", r.status)
	}
}

package admin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

const openAPIConfig = `
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
`

func openAPIGateway(t *testing.T) (*gateway.Gateway, http.Handler) {
	t.Helper()
	cfg, err := config.Parse([]byte(openAPIConfig), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, slog.New(slog.DiscardHandler), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g, admin.Handler(g, nil, g.Ready, admin.WithToken("openapi-test-token-0123456789"))
}

func serve(h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.Host = "localhost" // a name /admin/* answers to
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestOpenAPIEndpoints: the document is open to API users while /admin/*
// wants the token, follows schema changes, and is revalidated by ETag.
func TestOpenAPIEndpoints(t *testing.T) {
	g, h := openAPIGateway(t)
	if rec := serve(h, http.MethodGet, "/admin/routes", nil); rec.Code != http.StatusUnauthorized {
		t.Fatalf("/admin/routes without the token: %d", rec.Code)
	}
	tests := []struct {
		path, contentType, starts string
	}{
		{"/openapi.json", "application/json", "{\n  \"openapi\": \"3.1.0\""},
		{"/openapi.yaml", "application/yaml", "openapi: 3.1.0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := serve(h, http.MethodGet, tt.path, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tt.contentType || !strings.HasPrefix(rec.Body.String(), tt.starts) {
				t.Fatalf("%d %s %.60q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
			etag := rec.Header().Get("ETag")
			if again := serve(h, http.MethodGet, tt.path, map[string]string{"If-None-Match": etag}); again.Code != http.StatusNotModified || again.Body.Len() > 0 {
				t.Errorf("If-None-Match %s: %d", etag, again.Code)
			}
			if head := serve(h, http.MethodHead, tt.path, nil); head.Code != http.StatusOK || head.Body.Len() > 0 || head.Header().Get("Content-Length") != rec.Header().Get("Content-Length") {
				t.Errorf("HEAD: %d, %d bytes, length %s", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
			}
		})
	}
	if rec := serve(h, http.MethodPost, "/openapi.json", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /openapi.json: %d", rec.Code)
	}

	before := serve(h, http.MethodGet, "/openapi.json", nil)
	fds, err := descriptors.ReadSetFile("../testdata/echo.pb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Register("echo", "echo", fds); err != nil {
		t.Fatal(err)
	}
	after := serve(h, http.MethodGet, "/openapi.json", map[string]string{"If-None-Match": before.Header().Get("ETag")})
	if after.Code != http.StatusOK {
		t.Fatalf("after a registration, the old ETag still matches: %d", after.Code)
	}
	var doc struct {
		Info  struct{ Version string }
		Paths map[string]any
	}
	if err := json.Unmarshal(after.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/v1/echo/{message}"]; !ok {
		t.Errorf("the registered set's path is missing: %v", doc.Paths)
	}
}

func TestOpenAPIListed(t *testing.T) {
	for _, p := range []string{"/openapi.json", "/openapi.yaml"} {
		if !slices.ContainsFunc(admin.Endpoints, func(e admin.Endpoint) bool { return e.Path == p }) {
			t.Errorf("GET / does not list %s", p)
		}
	}
}

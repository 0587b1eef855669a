package observability

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		giveID     string
		wantSameID bool
	}{
		{"client id kept", "abc-123", true},
		{"empty id replaced", "", false},
		{"unsafe id replaced", "x\r\nSet-Cookie: y", false},
		{"long id replaced", strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			m := NewMetrics()
			h := Middleware(slog.New(slog.NewJSONHandler(&logs, nil)), m, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				info := FromContext(r.Context())
				info.SetRoute("/v1/{name}", "library")
				info.SetError("NOT_FOUND", errors.New("book 9 missing"))
				w.WriteHeader(http.StatusNotFound)
			}))
			req := httptest.NewRequest("GET", "/v1/x", nil)
			if tt.giveID != "" {
				req.Header.Set("X-Request-Id", tt.giveID)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			id := rec.Header().Get("X-Request-Id")
			if (id == tt.giveID) != tt.wantSameID || len(id) == 0 || len(id) > 128 {
				t.Errorf("X-Request-Id = %q (client sent %q)", id, tt.giveID)
			}
			var entry map[string]any
			if err := json.Unmarshal(logs.Bytes(), &entry); err != nil {
				t.Fatalf("log line is not JSON: %v: %s", err, logs.String())
			}
			for k, want := range map[string]any{"route": "/v1/{name}", "backend": "library", "status": float64(404),
				"grpc_code": "NOT_FOUND", "error": "book 9 missing", "request_id": id, "level": "WARN"} {
				if entry[k] != want {
					t.Errorf("log %s = %v, want %v", k, entry[k], want)
				}
			}
			mrec := httptest.NewRecorder()
			m.Handler().ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
			if !strings.Contains(mrec.Body.String(), `switchboard_http_requests_total{backend="library",method="GET",route="/v1/{name}",status="404"} 1`) {
				t.Error("request not counted by route, backend and status")
			}
		})
	}
}

func TestMethodLabelBounded(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	h := Middleware(slog.New(slog.NewJSONHandler(io.Discard, nil)), m, nil, http.NotFoundHandler())
	for _, method := range []string{"X0", "X1", "PURGE", "GET"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/nope", nil))
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `method="OTHER",route="",status="404"} 3`) || strings.Contains(body, `method="X0"`) {
		t.Errorf("unknown methods not folded into OTHER:\n%s", body)
	}
}

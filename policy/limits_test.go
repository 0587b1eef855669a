package policy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	h := Limits(BodyLimits{MaxBody: 10}, echo)
	tests := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
	}{
		{"small body", func() *http.Request { return httptest.NewRequest("POST", "/", strings.NewReader("12345")) }, 200},
		{"declared too large", func() *http.Request {
			return httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 11)))
		}, 413},
		{"chunked too large is cut at the limit", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("x", 100)))
			r.ContentLength = -1
			return r
		}, 413},
		{"duplicate content length", func() *http.Request {
			r := httptest.NewRequest("POST", "/", strings.NewReader("1"))
			r.Header["Content-Length"] = []string{"1", "1"}
			return r
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req())
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
		})
	}
}

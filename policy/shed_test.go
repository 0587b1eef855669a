package policy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestShed: beyond the limit, requests are refused at once with 503 and
// Retry-After; the ones admitted are served; a freed slot admits again.
func TestShed(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := Shed(2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 200 {
				t.Errorf("admitted request: %d", rec.Code)
			}
		}()
	}
	<-entered
	<-entered
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "limits.max_inflight_requests") {
		t.Errorf("third request: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	close(release)
	wg.Wait()
	h2 := Shed(2, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Errorf("after the slots freed: %d", rec.Code)
	}
	// A zero limit is none: many at once all pass.
	unlimited := Shed(0, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 100 {
		rec := httptest.NewRecorder()
		unlimited.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 {
			t.Fatalf("no limit: %d", rec.Code)
		}
	}
}

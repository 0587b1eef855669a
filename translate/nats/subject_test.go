package nats

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
)

func TestParseSubject(t *testing.T) {
	fields := []string{"id", "order.id", "version"}
	for _, tc := range []struct {
		tmpl, want string // want "" = valid
	}{
		{"orders.{id}.get", ""},
		{"orders.{order.id}.get", ""},
		{"orders.v{version}.{id}", ""},
		{"{id}", ""},
		{"orders.get", ""},
		{"", "empty"},
		{"orders.{nope}.get", "{nope} is not a path variable (the route has id, order.id, version)"},
		{"orders.{id.get", "'{' without a closing '}'"},
		{"orders.id}.get", "'}' without an opening '{'"},
		{"orders.{}.get", "bad variable {}"},
		{"orders.*.get", "wildcards"},
		{"orders.>", "wildcards"},
		{"orders..get", "empty token"},
		{".orders", "empty token"},
		{"orders.{id}.", "empty token"},
		{"orders. x", "whitespace"},
		{"orders.\x00", "control"},
	} {
		_, err := parseSubject(tc.tmpl, fields, false)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.tmpl, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.tmpl, err, tc.want)
		}
	}
	if _, err := parseSubject("a.{id}", nil, false); err == nil || !strings.Contains(err.Error(), "the route has none") {
		t.Errorf("no path fields: %v", err)
	}
}

// Path values arrive percent-decoded: every one of these reached the
// handler in a real net/http server. None may change the subject's shape.
func TestSubjectInjectionRefused(t *testing.T) {
	b := &recordingBackend{}
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.get"})
	lead := target(t, b, []string{"id"}, Route{Subject: "{id}.get"})
	for _, tc := range []struct {
		name, value, want string
		tg                *pipeline.Target
	}{
		{"dot (%2E)", ".", "must not contain '.'", tg},
		{"two tokens", "a.b", "must not contain '.'", tg},
		{"traversal (%2E%2E%2F)", "../x", "must not contain '.'", tg},
		{"star", "*", "wildcards", tg},
		{"gt", ">", "wildcards", tg},
		{"star inside", "a*", "wildcards", tg},
		{"space (%20)", " ", "whitespace", tg},
		{"tab", "a\tb", "whitespace", tg},
		{"NUL (%00)", "\x00", "control", tg},
		{"CRLF (%0D%0A)", "a\r\nPUB x 1", "whitespace", tg},
		{"DEL", "a\x7f", "control", tg},
		{"NBSP", "a\u00a0b", "whitespace", tg},
		{"invalid UTF-8", "a\xffb", "UTF-8", tg},
		{"empty", "", "must not be empty", tg},
		{"too long", strings.Repeat("x", MaxValueBytes+1), "longer than 256 bytes", tg},
		{"$JS namespace", "$JS", "reserved NATS subject", lead},
		{"_INBOX", "_INBOX", "reserved NATS subject", lead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.calls = nil
			rec := call(t, tc.tg, http.MethodGet, "", nil, "id", tc.value)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Code != 3 || !strings.Contains(e.Message, tc.want) || !strings.Contains(e.Message, "path variable") {
				t.Errorf("error %+v, want INVALID_ARGUMENT naming the variable and %q", e, tc.want)
			}
			if len(b.calls) != 0 {
				t.Errorf("backend was called with %q", b.calls[0].Method)
			}
		})
	}
	// What is fine: unicode letters, '/', '-', '$' inside a later token.
	for _, v := range []string{"42", "a-b_c", "ünïcödé", "a/b", "$x", "_INBOX"} {
		b.calls = nil
		rec := call(t, tg, http.MethodGet, "", nil, "id", v)
		if rec.Code != http.StatusOK || len(b.calls) != 1 || b.calls[0].Method != "orders."+v+".get" {
			t.Errorf("%q: status %d, calls %v", v, rec.Code, b.calls)
		}
	}
}

// The whole path through a real mux: net/http decodes the escapes before
// the route sees them, which is what the checks above rely on.
func TestSubjectInjectionThroughMux(t *testing.T) {
	b := &recordingBackend{}
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.get"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		tg.ServeRoute(w, r, routes.Params{{FieldPath: "id", Value: r.PathValue("id")}})
	})
	for path, want := range map[string]int{
		"/v1/orders/42":         http.StatusOK,
		"/v1/orders/%2E":        http.StatusBadRequest,
		"/v1/orders/a%2Eb":      http.StatusBadRequest,
		"/v1/orders/%2A":        http.StatusBadRequest,
		"/v1/orders/%3E":        http.StatusBadRequest,
		"/v1/orders/%20":        http.StatusBadRequest,
		"/v1/orders/%00":        http.StatusBadRequest,
		"/v1/orders/a%0D%0Ab":   http.StatusBadRequest,
		"/v1/orders/%2E%2E%2Fx": http.StatusBadRequest,
	} {
		b.calls = nil
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d: %s", path, rec.Code, want, rec.Body)
		}
		if want != http.StatusOK && len(b.calls) > 0 {
			t.Errorf("%s reached subject %q", path, b.calls[0].Method)
		}
	}
}

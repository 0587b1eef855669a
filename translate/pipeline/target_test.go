package pipeline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// echo is a transcoder that sends the body as is and renders the reply as
// is; decodeErr, when set, is what Decode reports (an application error
// found in the reply).
type echo struct {
	body      translate.BodyKind
	fwd       *translate.Forwarding
	delivery  translate.Delivery
	decodeErr error
	decoded   atomic.Int32
}

func (e *echo) Body() translate.BodyKind          { return e.body }
func (e *echo) Forwarding() *translate.Forwarding { return e.fwd }
func (e *echo) Describe() string                  { return "echo" }
func (e *echo) Encode(req *translate.Request, call *translate.Call) error {
	call.Method, call.Body, call.Delivery = "echo", req.Body, e.delivery
	return nil
}
func (e *echo) Decode(_ *translate.Call, reply *translate.Reply) (*translate.Response, error) {
	e.decoded.Add(1)
	if e.decodeErr != nil {
		return nil, e.decodeErr
	}
	return &translate.Response{Body: reply.Body, ContentType: "application/json"}, nil
}

// recorder is a backend that answers with the call's body and remembers
// what it was sent.
type recorder struct {
	calls    atomic.Int32
	md       metadata.MD
	deadline time.Duration
}

func (r *recorder) Invoke(ctx context.Context, call *translate.Call) (*translate.Reply, error) {
	r.calls.Add(1)
	r.md = call.Metadata
	if dl, ok := ctx.Deadline(); ok {
		r.deadline = time.Until(dl)
	}
	return &translate.Reply{Body: call.Body}, nil
}
func (r *recorder) Close() error { return nil }

func serve(tg *Target, method, body string, header http.Header) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "/x", rd)
	for k, vs := range header {
		req.Header[k] = vs
	}
	req = req.WithContext(observability.WithInfo(req.Context(), &observability.Info{ID: "req-1"}))
	rec := httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, req.Body, 64)
	tg.ServeRoute(rec, req, routes.Params{})
	return rec
}

func TestBodyRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		kind       translate.BodyKind
		body, ct   string
		wantStatus int
		wantBody   string
	}{
		{"json", translate.BodyJSON, `{"a":1}`, "application/json", 200, `{"a":1}`},
		{"json without a type", translate.BodyJSON, `{"a":1}`, "", 200, `{"a":1}`},
		{"json as text", translate.BodyJSON, `{"a":1}`, "text/plain", 415, ""},
		{"json in latin1", translate.BodyJSON, `{"a":1}`, "application/json; charset=latin1", 415, ""},
		{"empty with any type", translate.BodyJSON, ``, "text/plain", 200, ``},
		{"any", translate.BodyAny, `a,b`, "text/csv", 200, `a,b`},
		{"none is not read", translate.BodyNone, `{"a":1}`, "text/plain", 200, ``},
		{"over the limit", translate.BodyJSON, strings.Repeat("1", 65), "application/json", 413, ""},
		{"over the limit, unread", translate.BodyNone, strings.Repeat("1", 65), "application/json", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &recorder{}
			tg := Unguarded("b", b, &echo{body: tt.kind}, nil)
			rec := serve(tg, "POST", tt.body, http.Header{"Content-Type": {tt.ct}})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == 200 && rec.Body.String() != tt.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tt.wantBody)
			}
			if tt.wantStatus != 200 && b.calls.Load() != 0 {
				t.Error("a refused request reached the backend")
			}
		})
	}
}

func TestDeliveryStatus(t *testing.T) {
	t.Parallel()
	for d, want := range map[translate.Delivery]int{translate.DeliveryReply: 200, translate.DeliveryOneway: 202, translate.DeliveryAck: 202} {
		rec := serve(Unguarded("b", &recorder{}, &echo{delivery: d}, nil), "POST", "", nil)
		if rec.Code != want {
			t.Errorf("delivery %d: status %d, want %d", d, rec.Code, want)
		}
	}
}

// TestClientDeadlineEveryProtocol: the timeout headers shorten the call's
// deadline whatever the protocol, and never lengthen the backend's.
func TestClientDeadline(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		header  http.Header
		atLeast time.Duration
		atMost  time.Duration
		status  int
	}{
		{http.Header{"Request-Timeout": {"2s"}}, time.Second, 2 * time.Second, 200},
		{http.Header{"X-Request-Timeout": {"0.5"}}, 0, 500 * time.Millisecond, 200},
		{http.Header{"Grpc-Timeout": {"3S"}}, 2 * time.Second, 3 * time.Second, 200},
		{http.Header{"Request-Timeout": {"1h"}}, time.Minute, 10 * time.Minute, 200}, // the backend's 10m wins
		{http.Header{"Request-Timeout": {"soon"}}, 0, 0, 400},
		{http.Header{"Request-Timeout": {"1s", "2s"}}, 0, 0, 400},
	} {
		b := &recorder{}
		tg := New("b", resilience.Wrap("b", b, resilience.Policy{Timeout: 10 * time.Minute}, nil), &echo{}, nil, Options{})
		rec := serve(tg, "POST", "", tt.header)
		if rec.Code != tt.status {
			t.Errorf("%v: status %d, want %d: %s", tt.header, rec.Code, tt.status, rec.Body)
			continue
		}
		if tt.status == 200 && (b.deadline <= tt.atLeast || b.deadline > tt.atMost) {
			t.Errorf("%v: deadline in %v, want in (%v, %v]", tt.header, b.deadline, tt.atLeast, tt.atMost)
		}
	}
}

func TestForwarding(t *testing.T) {
	t.Parallel()
	fwd := &translate.Forwarding{Headers: []string{"Authorization", "X-Tenant"}, ClientPrefix: "Grpc-Metadata-",
		Reserved: func(k string) bool { return strings.HasPrefix(k, "grpc-") }, ProxyHeaders: true, PrintableOnly: true}
	tests := []struct {
		name    string
		header  http.Header
		want    map[string]string
		wantErr string
	}{
		{"allow-listed and prefixed", http.Header{"Authorization": {"Bearer t"}, "Grpc-Metadata-Trace": {"x"}, "Cookie": {"c"}},
			map[string]string{"authorization": "Bearer t", "trace": "x", "x-request-id": "req-1", "x-forwarded-host": "example.com"}, ""},
		{"binary metadata", http.Header{"Grpc-Metadata-Blob-Bin": {"AAE="}}, map[string]string{"blob-bin": "\x00\x01"}, ""},
		{"bad base64", http.Header{"Grpc-Metadata-Blob-Bin": {"%%"}}, nil, "not valid base64"},
		{"reserved key", http.Header{"Grpc-Metadata-Grpc-Timeout": {"1S"}}, nil, "may not set"},
		{"hop-by-hop key", http.Header{"Grpc-Metadata-Connection": {"close"}}, nil, "may not set"},
		{"spoofed request id", http.Header{"Grpc-Metadata-X-Request-Id": {"mine"}}, nil, "may not set"},
		{"second authorization", http.Header{"Authorization": {"a"}, "Grpc-Metadata-Authorization": {"b"}}, nil, "may not set"},
		{"control characters", http.Header{"X-Tenant": {"a\x01b"}}, nil, "printable ASCII"},
		{"non-ASCII prefixed value", http.Header{"Grpc-Metadata-Name": {"é"}}, nil, "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &recorder{}
			rec := serve(Unguarded("b", b, &echo{fwd: fwd}, nil), "GET", "", tt.header)
			if tt.wantErr != "" {
				if rec.Code != 400 || !strings.Contains(rec.Body.String(), tt.wantErr) {
					t.Fatalf("status %d %s, want 400 %q", rec.Code, rec.Body, tt.wantErr)
				}
				return
			}
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			for k, v := range tt.want {
				if got := b.md.Get(k); len(got) != 1 || got[0] != v {
					t.Errorf("metadata %s = %q, want %q", k, got, v)
				}
			}
			if _, ok := b.md["cookie"]; ok {
				t.Error("a header not on the list was forwarded")
			}
		})
	}
}

// TestDecodeInsideAttempt: what Decode reads out of a reply is the
// attempt's outcome. A declared application error (a Thrift exception) is
// the backend answering as its API says: never retried, and a success for
// the breaker; a reply the gateway cannot read is not retried either.
func TestDecodeInsideAttempt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		decodeErr  error
		wantStatus int
	}{
		{"declared", translate.Declared(503, "busy"), 503},
		{"unreadable reply", &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, Message: "garbage"}, 502},
	} {
		tc := &echo{decodeErr: tt.decodeErr}
		b := &recorder{}
		policy := resilience.Policy{Retry: resilience.Retry{Attempts: 3, On: []codes.Code{codes.Unavailable, codes.Internal}},
			Breaker: resilience.Breaker{Failures: 1, Cooldown: time.Minute}}
		tg := New("b", resilience.Wrap("b", b, policy, nil), tc, nil, Options{})
		for i := range 3 {
			rec := serve(tg, "POST", "", nil)
			if rec.Code != tt.wantStatus {
				t.Errorf("%s #%d: status %d %s, want %d (the breaker must not open)", tt.name, i, rec.Code, rec.Body, tt.wantStatus)
			}
		}
		if b.calls.Load() != 3 || tc.decoded.Load() != 3 {
			t.Errorf("%s: %d calls, %d decodes for 3 requests; want no retries", tt.name, b.calls.Load(), tc.decoded.Load())
		}
	}
}

func TestChecks(t *testing.T) {
	t.Parallel()
	b := &recorder{}
	deny := func(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
		if r.Header.Get("Authorization") == "" {
			e := translate.Errorf(codes.Unauthenticated, "no credentials")
			e.Header = http.Header{"Www-Authenticate": {"Bearer"}}
			return nil, e
		}
		r2 := r.Clone(r.Context())
		r2.Header.Set("X-User-Id", "u1")
		return r2, nil
	}
	tg := Unguarded("b", b, &echo{fwd: &translate.Forwarding{Headers: []string{"X-User-Id"}}}, nil).WithChecks(deny)
	rec := serve(tg, "GET", "", nil)
	if rec.Code != 401 || rec.Header().Get("Www-Authenticate") != "Bearer" || b.calls.Load() != 0 {
		t.Fatalf("refused: %d %v, %d calls", rec.Code, rec.Header(), b.calls.Load())
	}
	rec = serve(tg, "GET", "", http.Header{"Authorization": {"x"}})
	if rec.Code != 200 || b.md.Get("x-user-id")[0] != "u1" {
		t.Fatalf("admitted: %d, metadata %v", rec.Code, b.md)
	}
}

func TestBackendErrorFacts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err    error
		status int
	}{
		{translate.Declared(422, "bad order"), 422},
		{&translate.Error{Code: codes.NotFound, DeclaredStatus: 418}, 404}, // a declared status only counts for the application
		{translate.Refuse(translate.ReasonBadGateway, "garbage"), 502},
		{errors.New("boom"), 500},
	} {
		tg := Unguarded("b", &recorder{}, &echo{decodeErr: tt.err}, nil)
		if rec := serve(tg, "GET", "", nil); rec.Code != tt.status {
			t.Errorf("%v: status %d, want %d", tt.err, rec.Code, tt.status)
		}
	}
}

func TestMalformedQueryRefused(t *testing.T) {
	t.Parallel()
	b := &recorder{}
	tg := Unguarded("b", b, &echo{}, nil)
	for _, q := range []string{"a=%zz", "a=1;b=2"} {
		req := httptest.NewRequest("GET", "/x?"+q, nil)
		rec := httptest.NewRecorder()
		tg.ServeRoute(rec, req, routes.Params{})
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "query string does not parse") {
			t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
		}
	}
	if b.calls.Load() != 0 {
		t.Error("the backend was called")
	}
}

func TestHasDotSegment(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]bool{
		"a/b":       false,
		"a.b/c..d":  false,
		"..":        true,
		".":         true,
		"a/../b":    true,
		"..%2fetc":  true, // a ** value keeps %2F encoded; a backend may decode it
		"..%2Fetc":  true,
		"%2e%2e/x":  true, // double encoding (%252e arrives as %2e)
		"%2E":       true,
		`..\..\win`: true,
		"..%5cwin":  true,
		"x/．．/y":    true, // fullwidth full stops
		"x∕..∕y":    true, // division slash
		"%2e%2ex":   false,
		"a%2fb":     false,
		"...":       false,
	} {
		if got := hasDotSegment(give); got != want {
			t.Errorf("hasDotSegment(%q) = %v, want %v", give, got, want)
		}
	}
}

func TestMetadataAliasSpellings(t *testing.T) {
	t.Parallel()
	fwd := &translate.Forwarding{Headers: []string{"Authorization", "X-Api-Key"}, ClientPrefix: "Grpc-Metadata-", PrintableOnly: true}
	for _, h := range []string{
		"Grpc-Metadata-Authorization-Bin", "Grpc-Metadata-X_Forwarded_For", "Grpc-Metadata-X.Forwarded.For",
		"Grpc-Metadata-X-Forwarded-Client-Cert", "Grpc-Metadata-X-Forwarded-Prefix", "Grpc-Metadata-X-Envoy-Original-Path",
		"Grpc-Metadata-X_Api_Key", "Grpc-Metadata-Cookie-Bin", "Grpc-Metadata-True-Client-Ip",
	} {
		v := "x"
		if strings.HasSuffix(h, "-Bin") {
			v = "eA=="
		}
		b := &recorder{}
		rec := serve(Unguarded("b", b, &echo{fwd: fwd}, nil), "GET", "", http.Header{h: {v}})
		if rec.Code != 400 || b.calls.Load() != 0 {
			t.Errorf("%s: %d %s, want 400 and no call", h, rec.Code, rec.Body)
		}
	}
	b := &recorder{}
	if rec := serve(Unguarded("b", b, &echo{fwd: fwd}, nil), "GET", "", http.Header{"Grpc-Metadata-X-Tenant": {"acme"}}); rec.Code != 200 {
		t.Errorf("an ordinary key: %d %s", rec.Code, rec.Body)
	}
}

// failing answers UNAVAILABLE from the server (so the call may have
// reached the application) and counts the calls.
type failing struct{ calls atomic.Int32 }

func (f *failing) Invoke(context.Context, *translate.Call) (*translate.Reply, error) {
	f.calls.Add(1)
	return nil, &translate.Error{Code: codes.Unavailable, Message: "busy", Application: true, FromServer: true}
}
func (f *failing) Close() error { return nil }

// TestRetriesOnlyIdempotent: a POST is never sent twice after a failure
// that may have reached the backend; a GET, a PUT and a route marked
// idempotent are retried.
func TestRetriesOnlyIdempotent(t *testing.T) {
	t.Parallel()
	policy := resilience.Policy{Retry: resilience.Retry{Attempts: 3, On: []codes.Code{codes.Unavailable}}}
	for _, tt := range []struct {
		method     string
		idempotent bool
		want       int32
	}{
		{"POST", false, 1},
		{"PATCH", false, 1},
		{"GET", false, 3},
		{"PUT", false, 3},
		{"DELETE", false, 3},
		{"POST", true, 3},
	} {
		f := &failing{}
		tg := New("b", resilience.Wrap("b", f, policy, nil), &echo{}, nil, Options{})
		if tt.idempotent {
			tg = tg.WithIdempotent()
		}
		serve(tg, tt.method, "", nil)
		if got := f.calls.Load(); got != tt.want {
			t.Errorf("%s (idempotent route %v): %d backend calls, want %d", tt.method, tt.idempotent, got, tt.want)
		}
	}
}

package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/mock/natsmock"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// recordingBackend records calls and answers with reply (or {}).
type recordingBackend struct {
	mu    sync.Mutex
	calls []*translate.Call
	reply *translate.Reply
	err   error
}

func (b *recordingBackend) Invoke(_ context.Context, c *translate.Call) (*translate.Reply, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, c)
	if b.err != nil {
		return nil, b.err
	}
	if b.reply != nil {
		return b.reply, nil
	}
	return &translate.Reply{Body: []byte("{}")}, nil
}

func (b *recordingBackend) Close() error { return nil }

func TestRequestReply(t *testing.T) {
	s := startServer(t, 0, "")
	svc := client(t, s.ClientURL())
	var got *natsgo.Msg
	respond(t, svc, "orders.*.get", func(m *natsgo.Msg) {
		got = m
		reply := natsgo.NewMsg(m.Reply)
		reply.Data = []byte(`{"id":"42","status":"SHIPPED"}`)
		reply.Header.Set("X-Order-Version", "3")
		reply.Header.Set("Nats-Internal", "hidden")
		reply.Header.Set("Content-Length", "999")
		reply.Header.Set("X-Request-Id", "spoofed")
		_ = m.RespondMsg(reply)
	})
	tg := target(t, backend(t, s.ClientURL()), []string{"id"}, Route{Subject: "orders.{id}.get", Headers: []string{"x-tenant"}})
	rec := call(t, tg, http.MethodGet, "", http.Header{
		"X-Tenant":    {"acme"},
		"X-Secret":    {"do not forward"},
		"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"Tracestate":  {"congo=t61rcWkgMzE"},
	}, "id", "42")

	if rec.Code != http.StatusOK || rec.Body.String() != `{"id":"42","status":"SHIPPED"}` {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// Reply headers: the safe one passes, the rest does not.
	h := rec.Header()
	if h.Get("X-Order-Version") != "3" {
		t.Errorf("X-Order-Version missing: %v", h)
	}
	for _, k := range []string{"Nats-Internal", "X-Request-Id"} {
		if _, ok := h[k]; ok {
			t.Errorf("reply header %s leaked: %v", k, h)
		}
	}
	if h.Get("Content-Length") != "30" {
		t.Errorf("Content-Length %q", h.Get("Content-Length"))
	}
	// Request headers: allow-listed, request id, trace context; not others.
	if got == nil || got.Subject != "orders.42.get" {
		t.Fatalf("service got %v", got)
	}
	for k, want := range map[string]string{
		"X-Tenant":     "acme",
		"X-Request-Id": "req-1",
		"Traceparent":  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Tracestate":   "congo=t61rcWkgMzE",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("NATS header %s = %q, want %q (all %v)", k, v, want, got.Header)
		}
	}
	if v := got.Header.Get("X-Secret"); v != "" {
		t.Errorf("X-Secret forwarded")
	}
}

// Reply headers a NATS message can carry but HTTP cannot, or must not.
func TestCopyReplyHeaders(t *testing.T) {
	dst := http.Header{}
	copyReplyHeaders(dst, map[string][]string{
		"x-order-version":             {"3", "4"},
		"Bad Name":                    {"x"},
		"X-Bad-Value":                 {"a\x00b", "ok"},
		"Nats-Service-Error":          {"boom"},
		"Nats-Service-Error-Code":     {"500"},
		"Status":                      {"503"},
		"Description":                 {"No Responders"},
		"Transfer-Encoding":           {"chunked"},
		"Connection":                  {"close"},
		"Content-Type":                {"text/plain"},
		"Content-Encoding":            {"gzip"},
		"Server":                      {"backend"},
		"Set-Cookie":                  {"a=b"},
		"Access-Control-Allow-Origin": {"*"},
		"Location":                    {"https://evil.example"},
		"Strict-Transport-Security":   {"max-age=0"},
	}, false)
	// Headers that act for the gateway's whole origin never pass.
	want := http.Header{"X-Order-Version": {"3", "4"}, "X-Bad-Value": {"ok"}}
	if len(dst) != len(want) {
		t.Errorf("got %v, want %v", dst, want)
	}
	for k, vs := range want {
		if strings.Join(dst[k], ",") != strings.Join(vs, ",") {
			t.Errorf("%s = %v, want %v", k, dst[k], vs)
		}
	}
	dst = http.Header{}
	copyReplyHeaders(dst, map[string][]string{"content-encoding": {"gzip"}}, true)
	if dst.Get("Content-Encoding") != "gzip" {
		t.Errorf("pass-through Content-Encoding dropped")
	}
}

func TestReplyContentType(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     []byte
		header   map[string]string
		wantType string
	}{
		{"json", []byte(`[1,2]`), nil, "application/json"},
		{"not json", []byte("plain words"), nil, "application/octet-stream"},
		{"binary", []byte{0, 1, 2}, nil, "application/octet-stream"},
		{"from reply header", []byte("a,b\n"), map[string]string{"content-type": "text/csv"}, "text/csv"},
		{"empty", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := map[string][]string{}
			for k, v := range tc.header {
				md[k] = []string{v}
			}
			b := &recordingBackend{reply: &translate.Reply{Body: tc.body, Header: md}}
			rec := call(t, target(t, b, nil, Route{Subject: "x"}), http.MethodGet, "", nil)
			if rec.Code != http.StatusOK || rec.Body.String() != string(tc.body) {
				t.Errorf("status %d body %q", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
		})
	}
}

func TestRequestFailures(t *testing.T) {
	s := startServer(t, 0, "")
	svc := client(t, s.ClientURL())
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the connection closes
	respond(t, svc, "slow.get", func(m *natsgo.Msg) {
		<-release
		_ = m.Respond([]byte(`{}`))
	})
	// The gateway's resilience wrapper supplies the deadline.
	const deadline = 500 * time.Millisecond
	b := resilience.Wrap("orders", backend(t, s.ClientURL()), resilience.Policy{Timeout: deadline}, nil)
	for _, tc := range []struct {
		subject          string
		wantStatus       int
		wantCode         int
		wantMsg          string
		minTime, maxTime time.Duration
	}{
		// No responders is known at once, not at the deadline.
		{"nobody.get", http.StatusServiceUnavailable, 14, "no responders for subject nobody.get", 0, deadline / 2},
		{"slow.get", http.StatusGatewayTimeout, 4, "did not answer in time", deadline, deadline + 500*time.Millisecond},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			begin := time.Now()
			rec := call(t, target(t, b, nil, Route{Subject: tc.subject}), http.MethodGet, "", nil)
			took := time.Since(begin)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("error %+v", e)
			}
			if took < tc.minTime || took > tc.maxTime {
				t.Errorf("took %v, want %v to %v", took, tc.minTime, tc.maxTime)
			}
		})
	}
}

func TestRequestBodies(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	for _, tc := range []struct {
		name        string
		route       Route
		contentType string
		body        string
		wantStatus  int
		wantMsg     string
		wantSent    string // the payload the backend got, when accepted
	}{
		{name: "json", body: `{"a":1}`, wantStatus: 200, wantSent: `{"a":1}`},
		{name: "json with charset", contentType: "application/json; charset=UTF-8", body: `[]`, wantStatus: 200, wantSent: `[]`},
		{name: "no body", wantStatus: 200},
		{name: "not json", body: `{"a":`, wantStatus: 400, wantMsg: "request body is not valid JSON"},
		{name: "trailing garbage", body: `{} {}`, wantStatus: 400, wantMsg: "request body is not valid JSON"},
		{name: "text/plain", contentType: "text/plain", body: `{}`, wantStatus: 415, wantMsg: "unsupported Content-Type"},
		{name: "latin1 json", contentType: "application/json; charset=latin1", body: `{}`, wantStatus: 415},
		{name: "too deep", body: deep, wantStatus: 400, wantMsg: "nested too deeply: the limit is 64 levels"},
		{name: "deep but within limit", route: Route{MaxDepth: 100}, body: deep, wantStatus: 200, wantSent: deep},
		{name: "brackets in strings do not count", body: `"` + strings.Repeat("[", 100) + `"`, wantStatus: 200, wantSent: `"` + strings.Repeat("[", 100) + `"`},
		{name: "raw passes anything", route: Route{Raw: true}, contentType: "text/plain", body: "not { json", wantStatus: 200, wantSent: "not { json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &recordingBackend{}
			r := tc.route
			r.Subject = "x"
			h := http.Header{}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			rec := call(t, target(t, b, nil, r), http.MethodPost, tc.body, h)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantStatus != 200 {
				if e := decodeError(t, rec); !strings.Contains(e.Message, tc.wantMsg) {
					t.Errorf("message %q, want %q", e.Message, tc.wantMsg)
				}
				if len(b.calls) > 0 {
					t.Error("backend called")
				}
				return
			}
			if len(b.calls) != 1 || string(b.calls[0].Body) != tc.wantSent {
				t.Errorf("sent %v", b.calls)
			}
			if r.Raw && tc.contentType != "" {
				if got := b.calls[0].Metadata.Get("content-type"); len(got) != 1 || got[0] != tc.contentType {
					t.Errorf("raw Content-Type not forwarded: %v", b.calls[0].Metadata)
				}
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	b := &recordingBackend{}
	tg := target(t, b, nil, Route{Subject: "x"})
	req := strings.NewReader(`{"a":"` + strings.Repeat("x", 100) + `"}`)
	rec := callWith(t, tg, http.MethodPost, req, func(r *http.Request, w http.ResponseWriter) {
		r.Body = http.MaxBytesReader(w, r.Body, 32)
	})
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "exceeds the limit of 32 bytes") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	// Over the server's max_payload (1 MiB) but under the HTTP limit: 413
	// from nats.go's own check, before anything is sent.
	s := startServer(t, 0, "")
	tg = target(t, backend(t, s.ClientURL()), nil, Route{Subject: "x", Raw: true})
	rec = call(t, tg, http.MethodPost, strings.Repeat("x", 2<<20), nil)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "maximum payload of 1048576 bytes") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

// The micro protocol's error headers become the common error body, with
// the code header as the HTTP status; data with @type are details.
func TestMicroErrors(t *testing.T) {
	s := startServer(t, 0, "")
	svc := client(t, s.ClientURL())
	ms, err := micro.AddService(svc, micro.Config{Name: "orders", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Stop() })
	err = ms.AddEndpoint("fail", micro.HandlerFunc(func(req micro.Request) {
		code := strings.Split(req.Subject(), ".")[1]
		var data []byte
		if code == "404" {
			data = []byte(`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ORDER_NOT_FOUND"}`)
		}
		if code == "409" {
			data = []byte(`{"internal":"stack trace"}`)
		}
		_ = req.Error(code, "failed with "+code, data, micro.WithHeaders(micro.Headers{"X-Order-Version": {"3"}}))
	}), micro.WithEndpointSubject("fail.*"))
	if err != nil {
		t.Fatal(err)
	}
	_ = svc.Flush()
	tg := target(t, backend(t, s.ClientURL()), []string{"code"}, Route{Subject: "fail.{code}"})
	for _, tc := range []struct {
		code       string
		wantStatus int
		wantCode   int // gRPC
		details    int
	}{
		{"400", 400, 3, 0},
		{"401", 401, 16, 0},
		{"403", 403, 7, 0},
		{"404", 404, 5, 1},
		{"409", 409, 10, 0},
		{"422", 422, 3, 0},
		{"429", 429, 8, 0},
		{"500", 500, 13, 0},
		{"503", 503, 14, 0},
		{"504", 504, 4, 0},
		{"418", 418, 2, 0},
		{"abc", 500, 2, 0},
		{"200", 500, 2, 0},
	} {
		t.Run(tc.code, func(t *testing.T) {
			rec := call(t, tg, http.MethodGet, "", nil, "code", tc.code)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Code != tc.wantCode || e.Message != "failed with "+tc.code {
				t.Errorf("error %+v", e)
			}
			// Details: the service's, then the request id the gateway adds.
			if len(e.Details) != tc.details+1 {
				t.Errorf("details %s", e.Details)
			}
			if rec.Header().Get("X-Order-Version") != "3" || rec.Header().Get("Nats-Service-Error") != "" {
				t.Errorf("headers %v", rec.Header())
			}
		})
	}
}

// A typed route: JSON in, shop.v1.Order protobuf on the wire, and
// shop.v1.OrderStatus protobuf back out as JSON, against the NATS mock.
func TestTypedRoundTrip(t *testing.T) {
	set := shop(t)
	order, status := message(t, set, "shop.v1.Order"), message(t, set, "shop.v1.OrderStatus")
	s := startServer(t, 0, "")
	stubs, err := natsmock.LoadStubs("../../testdata/stubs/orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mockConn := client(t, s.ClientURL())
	resp, err := natsmock.New(mockConn, stubs, natsmock.TypesForSubject{
		"orders.typed.status": {Request: order, Reply: status, Resolver: set.Types},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Stop() })

	// Record what travels on the wire, too.
	wire := make(chan []byte, 16)
	respond(t, client(t, s.ClientURL()), "orders.typed.status", func(m *natsgo.Msg) {
		wire <- m.Data
	})

	b := backend(t, s.ClientURL())
	tg := target(t, b, nil, Route{Subject: "orders.typed.status", Request: order, Reply: status, Resolver: set.Types})
	rec := call(t, tg, http.MethodPost, `{"id":"42","items":[{"sku":"BOOK","quantity":1}],"totalCents":"2398","placedAt":"2026-11-20T09:30:00Z"}`, nil)
	if want := `{"id":"42","status":"STATUS_SHIPPED","message":"on its way"}`; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("status %d body %s, want %s", rec.Code, rec.Body, want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// The recording subscriber is not the responder: its copy may arrive
	// after the reply did, so wait for it.
	var got []byte
	select {
	case got = <-wire:
	case <-time.After(10 * time.Second):
		t.Fatal("the recording subscriber never saw the message")
	}
	m := dynamicpb.NewMessage(order)
	if err := proto.Unmarshal(got, m); err != nil || !strings.Contains(protojson.Format(m), "BOOK") {
		t.Errorf("wire is not a shop.v1.Order: %v %q", err, got)
	}

	// Unpopulated fields are rendered, like grpc-gateway: an empty id is
	// the mock's 400, a different id gets PENDING with every field.
	rec = call(t, tg, http.MethodPost, `{"id":"7"}`, nil)
	if want := `{"id":"7","status":"STATUS_PENDING","message":"received"}`; rec.Body.String() != want {
		t.Errorf("body %s, want %s", rec.Body, want)
	}
	rec = call(t, tg, http.MethodPost, "", nil)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "an order needs an id") {
		t.Errorf("empty order: %d %s", rec.Code, rec.Body)
	}

	// Unknown fields are ignored, as on gRPC routes, unless the route is strict.
	if rec := call(t, tg, http.MethodPost, `{"id":"1","nope":true}`, nil); rec.Code != 200 {
		t.Errorf("unknown field on a lenient route: %d %s", rec.Code, rec.Body)
	}
	strict := target(t, b, []string{}, Route{Subject: "orders.typed.status", Request: order, Reply: status, Strict: true})
	if rec := call(t, strict, http.MethodPost, `{"id":"1","nope":true}`, nil); rec.Code != 400 ||
		!strings.Contains(rec.Body.String(), `unknown field \"nope\"`) {
		t.Errorf("unknown field on a strict route: %d %s", rec.Code, rec.Body)
	}

	// JSON that is not an Order: 400 naming the problem, nothing sent.
	for body, want := range map[string]string{
		`{"totalCents":"many"}`:     `request body is not a valid shop.v1.Order`,
		`{"id":`:                    `request body is not valid JSON`,
		`{"items":[{"quantity":"x"`: `request body is not valid JSON`,
	} {
		rec := call(t, tg, http.MethodPost, body, nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %s, want %s", body, rec.Code, rec.Body, want)
		}
	}

	// A reply that is not an OrderStatus: 502, INTERNAL.
	respond(t, client(t, s.ClientURL()), "orders.garbage", func(m *natsgo.Msg) { _ = m.Respond([]byte{0xff, 0xff, 0xff}) })
	tg = target(t, b, nil, Route{Subject: "orders.garbage", Reply: status})
	rec = call(t, tg, http.MethodGet, "", nil)
	if rec.Code != http.StatusBadGateway || decodeError(t, rec).Code != 13 || !strings.Contains(rec.Body.String(), "not a shop.v1.OrderStatus") {
		t.Errorf("garbage reply: %d %s", rec.Code, rec.Body)
	}
}

func TestNewTargetErrors(t *testing.T) {
	set := shop(t)
	order := message(t, set, "shop.v1.Order")
	b := &recordingBackend{}
	for _, tc := range []struct {
		name  string
		route Route
		want  string
	}{
		{"bad mode", Route{Subject: "a", Mode: "stream"}, `mode "stream"`},
		{"bad subject", Route{Subject: "a.{id}"}, "not a path variable"},
		{"raw and typed", Route{Subject: "a", Raw: true, Request: order}, "raw route cannot also be typed"},
		{"reply type on publish", Route{Subject: "a", Mode: ModePublish, Reply: order}, "needs mode request"},
		{"nats header", Route{Subject: "a", Headers: []string{"Nats-Msg-Id"}}, "cannot be forwarded"},
		{"hop-by-hop header", Route{Subject: "a", Headers: []string{"connection"}}, "cannot be forwarded"},
		{"bad header name", Route{Subject: "a", Headers: []string{"x tenant"}}, "not a valid HTTP header name"},
		{"negative depth", Route{Subject: "a", MaxDepth: -1}, "negative"},
	} {
		if _, err := NewTranscoder("orders", nil, tc.route); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}", Mode: ModeJetStream, Request: order})
	if d := tg.Describe(); d != "nats jetstream orders.{id} (shop.v1.Order -> -)" || tg.Backend() != "orders" {
		t.Errorf("Describe %q", d)
	}
}

func TestAckBodyShape(t *testing.T) {
	b, _ := json.Marshal(Ack{Stream: "ORDERS", Seq: 1})
	if string(b) != `{"stream":"ORDERS","seq":1,"duplicate":false}` {
		t.Errorf("%s", b)
	}
}

// TestNoRespondersAndTheBreaker: nobody serving a fixed subject is the
// service being down, and opens the breaker; nobody serving a subject
// filled from the path may be the client's doing, and never opens it.
func TestNoRespondersAndTheBreaker(t *testing.T) {
	s := startServer(t, 0, "")
	for _, tc := range []struct {
		name     string
		subject  string
		fields   []string
		wantOpen bool
	}{
		{"fixed subject", "inventory.get", nil, true},
		{"subject from the path", "inventory.{sku}.get", []string{"sku"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := resilience.Wrap("orders", backend(t, s.ClientURL()),
				resilience.Policy{Timeout: time.Second, Breaker: resilience.Breaker{Failures: 3, Cooldown: time.Minute}}, nil)
			tg := target(t, b, tc.fields, Route{Subject: tc.subject})
			for i := range 5 {
				rec := call(t, tg, http.MethodGet, "", nil, "sku", fmt.Sprintf("sku%d", i))
				if rec.Code != http.StatusServiceUnavailable {
					t.Fatalf("call %d: status %d: %s", i, rec.Code, rec.Body)
				}
			}
			if got := b.Status().Breaker.State; (got == "open") != tc.wantOpen {
				t.Errorf("breaker %s after 5 calls nobody answered; want open: %v", got, tc.wantOpen)
			}
		})
	}
}

package natsmock

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/mock"
)

const responderStubs = `
stubs:
  - subject: orders.*.get
    match: {tokens.1: "42"}
    response: {id: "42", total_cents: 2398}
    headers: {x-order-version: "3"}
  - subject: orders.*.get
    match: {subject: orders.7.get}
    response: {id: "{{request.tokens.1}}"}
  - subject: orders.*.get
    error:
      code: 404
      message: order not found
      details:
        - {"@type": google.rpc.ErrorInfo, reason: ORDER_NOT_FOUND}
  - subject: orders.*.quote
    match: {customer.tier: gold}
    response: {discount: 10, echo: "{{request.body}}"}
  - subject: orders.*.quote
    match: {body: hello}
    response: {text: "{{request.body}}"}
  - subject: orders.*.quote
    error: {code: FAILED_PRECONDITION}
  - subject: orders.*.pay
    match: {subject: orders.1.pay}
    error: {code: 409, message: already paid}
  - subject: orders.empty
`

func TestResponder(t *testing.T) {
	nc := start(t, responderStubs, nil)
	for _, tc := range []struct {
		name, subject, body string
		wantData            string // JSON compared semantically; "" = empty
		wantCode, wantError string
		wantHeader          map[string]string
	}{
		{name: "token match", subject: "orders.42.get", wantData: `{"id":"42","total_cents":2398}`,
			wantHeader: map[string]string{"X-Order-Version": "3"}},
		{name: "subject match and token template", subject: "orders.7.get", wantData: `{"id":"7"}`},
		{name: "fallback error", subject: "orders.8.get", wantCode: "404", wantError: "order not found",
			wantData: `[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ORDER_NOT_FOUND"}]`},
		{name: "body field match", subject: "orders.1.quote", body: `{"customer":{"tier":"gold"}}`,
			wantData: `{"discount":10,"echo":{"customer":{"tier":"gold"}}}`},
		{name: "non-JSON body is a string", subject: "orders.1.quote", body: `hello`, wantData: `{"text":"hello"}`},
		{name: "gRPC code mapped to HTTP", subject: "orders.1.quote", body: `{}`, wantCode: "400", wantError: "Bad Request"},
		{name: "409", subject: "orders.1.pay", wantCode: "409", wantError: "already paid"},
		{name: "no response is an empty object", subject: "orders.empty", wantData: `{}`},
		{name: "no stub matches", subject: "orders.2.pay", wantCode: "501", wantError: "no stub matches subject orders.2.pay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := request(t, nc, tc.subject, []byte(tc.body))
			if got := m.Header.Get(micro.ErrorCodeHeader); got != tc.wantCode {
				t.Errorf("error code %q, want %q", got, tc.wantCode)
			}
			if got := m.Header.Get(micro.ErrorHeader); got != tc.wantError {
				t.Errorf("error %q, want %q", got, tc.wantError)
			}
			if !sameJSON(string(m.Data), tc.wantData) {
				t.Errorf("data %s, want %s", m.Data, tc.wantData)
			}
			for k, v := range tc.wantHeader {
				if got := m.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q (all: %v)", k, got, v, m.Header)
				}
			}
		})
	}
}

func sameJSON(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// Overlapping subjects are two subscriptions that both see a request; the
// request must still get exactly one reply, from the first fitting stub.
func TestResponderOverlapAnswersOnce(t *testing.T) {
	nc := start(t, `
stubs:
  - subject: orders.42.get
    match: {tokens.0: nope}
    response: {from: never}
  - subject: orders.*.get
    match: {tokens.1: "42"}
    response: {from: wildcard}
  - subject: orders.42.get
    response: {from: literal}
  - subject: orders.>
    response: {from: tail}
`, nil)
	for subject, want := range map[string]string{
		"orders.42.get": `{"from":"wildcard"}`,
		"orders.1.get":  `{"from":"tail"}`,
		"orders.x":      `{"from":"tail"}`,
	} {
		inbox := nc.NewRespInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.PublishRequest(subject, inbox, nil); err != nil {
			t.Fatal(err)
		}
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		if string(m.Data) != want {
			t.Errorf("%s: %s, want %s", subject, m.Data, want)
		}
		if extra, err := sub.NextMsg(200 * time.Millisecond); err == nil {
			t.Errorf("%s: second reply %s", subject, extra.Data)
		}
		_ = sub.Unsubscribe()
	}
}

func TestResponderDelay(t *testing.T) {
	nc := start(t, `
stubs:
  - subject: slow.get
    delay: 500ms
    response: {ok: true}
  - subject: very.slow.get
    delay: 1h
    response: {ok: true}
`, nil)
	begin := time.Now()
	// Two at once: delays must not queue behind each other.
	done := make(chan time.Duration, 2)
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := nc.RequestWithContext(ctx, "slow.get", nil); err != nil {
				t.Error(err)
			}
			done <- time.Since(begin)
		}()
	}
	for range 2 {
		// One after the other, the second would take 1s.
		if d := <-done; d < 500*time.Millisecond || d > 900*time.Millisecond {
			t.Errorf("delayed reply after %v, want about 500ms each, concurrently", d)
		}
	}
	// An hour-long delay in flight must not hold up Stop (Cleanup; goleak
	// checks its goroutine is gone).
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := nc.RequestWithContext(ctx, "very.slow.get", nil); err == nil {
		t.Error("very slow stub answered")
	}
}

func TestResponderTyped(t *testing.T) {
	types := shopTypes(t)
	nc := start(t, `
stubs:
  - subject: orders.typed.status
    match: {total_cents: 0}
    error: {code: 400, message: empty order}
  - subject: orders.typed.status
    match: {items.0.sku: BOOK}
    response: {id: "{{request.id}}", status: STATUS_SHIPPED, message: "{{request.placed_at}}"}
`, TypesForSubject{"orders.typed.status": types})

	order := dynamicpb.NewMessage(types.Request)
	if err := protojson.Unmarshal([]byte(`{"id":"42","items":[{"sku":"BOOK","quantity":1}],"totalCents":"1999","placedAt":"2026-11-20T09:30:00Z"}`), order); err != nil {
		t.Fatal(err)
	}
	b, _ := proto.Marshal(order)
	m := request(t, nc, "orders.typed.status", b)
	if m.Header.Get(micro.ErrorHeader) != "" {
		t.Fatalf("error %v", m.Header)
	}
	status := dynamicpb.NewMessage(types.Reply)
	if err := proto.Unmarshal(m.Data, status); err != nil {
		t.Fatal(err)
	}
	got, _ := protojson.MarshalOptions{}.Marshal(status)
	if want := `{"id":"42","status":"STATUS_SHIPPED","message":"2026-11-20T09:30:00Z"}`; !sameJSON(string(got), want) {
		t.Errorf("reply %s, want %s", got, want)
	}

	// Unpopulated fields are visible to match: an empty order is 0 cents.
	m = request(t, nc, "orders.typed.status", nil)
	if m.Header.Get(micro.ErrorCodeHeader) != "400" || m.Header.Get(micro.ErrorHeader) != "empty order" {
		t.Errorf("empty order: %v", m.Header)
	}
	// Bytes that are not an Order: 400.
	m = request(t, nc, "orders.typed.status", []byte{0xff, 0xff})
	if m.Header.Get(micro.ErrorCodeHeader) != "400" || !strings.Contains(m.Header.Get(micro.ErrorHeader), "cannot decode request as shop.v1.Order") {
		t.Errorf("garbage: %v", m.Header)
	}
}

func TestNewErrors(t *testing.T) {
	types := shopTypes(t)
	s := startServer(t)
	nc := connect(t, s)
	for _, tc := range []struct {
		name  string
		stubs []mock.Stub
		types TypesForSubject
		want  string
	}{
		{"bad subject", []mock.Stub{{Method: "a..b"}}, nil, "empty token"},
		{"types for no stub", []mock.Stub{{Method: "a.b"}}, TypesForSubject{"a.c": types}, `types given for "a.c", which no stub uses`},
		{"typed response does not fit", []mock.Stub{{Method: "a.b", Response: map[string]any{"nope": 1}}},
			TypesForSubject{"a.b": types}, `response does not fit shop.v1.OrderStatus`},
		{"typed template does not fit", []mock.Stub{{Method: "a.b", Response: map[string]any{"id": "{{request.id}}", "status": 7.5}}},
			TypesForSubject{"a.b": types}, `response does not fit`},
		{"nats header", []mock.Stub{{Method: "a.b", Headers: map[string]string{"nats-msg-id": "x"}}}, nil, "Nats-* headers"},
		{"trailers", []mock.Stub{{Method: "a.b", Trailers: map[string]string{"x": "y"}}}, nil, "no trailers"},
		{"bad code", []mock.Stub{{Method: "a.b", Error: &mock.StubError{Code: "302"}}}, nil, "error code 302"},
		{"bad template", []mock.Stub{{Method: "a.b", Response: "{{ nope }}"}}, nil, "is not a template"},
		{"half types", []mock.Stub{{Method: "a.b"}}, TypesForSubject{"a.b": {Request: types.Request}}, "need both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(nc, &mock.Stubs{Stubs: tc.stubs}, tc.types, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// The demo's stub file loads, and answers as its comments say.
func TestOrdersStubFile(t *testing.T) {
	stubs, err := LoadStubs("../../testdata/stubs/orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	types := shopTypes(t)
	s := startServer(t)
	r, err := New(connect(t, s), stubs, TypesForSubject{"orders.typed.status": types}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	nc := connect(t, s)

	m := request(t, nc, "orders.42.get", nil)
	var order map[string]any
	if err := json.Unmarshal(m.Data, &order); err != nil || order["id"] != "42" || m.Header.Get("X-Order-Version") != "3" {
		t.Errorf("orders.42.get: %s %v %v", m.Data, m.Header, err)
	}
	m = request(t, nc, "orders.7.get", nil)
	if !strings.Contains(string(m.Data), `"id":"7"`) {
		t.Errorf("orders.7.get: %s", m.Data)
	}
	m = request(t, nc, "orders.99.get", nil)
	if m.Header.Get(micro.ErrorCodeHeader) != "404" || !strings.Contains(string(m.Data), "ORDER_NOT_FOUND") {
		t.Errorf("orders.99.get: %v %s", m.Header, m.Data)
	}
	m = request(t, nc, "orders.5.quote", []byte(`{"items":[{"sku":"A","quantity":2}]}`))
	if want := `{"currency":"EUR","id":"5","items":[{"quantity":2,"sku":"A"}]}`; !sameJSON(string(m.Data), want) {
		t.Errorf("orders.5.quote: %s, want %s", m.Data, want)
	}
	m = request(t, nc, "orders.5.quote", nil)
	if m.Header.Get(micro.ErrorCodeHeader) != "400" {
		t.Errorf("orders.5.quote without items: %v", m.Header)
	}
	// Discovery: the mock is a micro service.
	m = request(t, nc, "$SRV.PING.natsmock", nil)
	if !strings.Contains(string(m.Data), `"name":"natsmock"`) {
		t.Errorf("ping: %s", m.Data)
	}
	_ = natsgo.ErrTimeout
}

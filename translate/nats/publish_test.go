package nats

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/translate/resilience"
)

func TestPublish(t *testing.T) {
	s := startServer(t, 0, "")
	subConn := client(t, s.ClientURL())
	sub, err := subConn.SubscribeSync("orders.*.created")
	if err != nil {
		t.Fatal(err)
	}
	// The server must have the subscription before anything is published.
	if err := subConn.Flush(); err != nil {
		t.Fatal(err)
	}
	b := backend(t, s.ClientURL())
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.created", Mode: ModePublish, Headers: []string{"X-Tenant"}})
	rec := call(t, tg, http.MethodPost, `{"total":5}`, http.Header{"X-Tenant": {"acme"}}, "id", "42")
	if rec.Code != http.StatusAccepted || rec.Body.String() != `{"subject":"orders.42.created"}` {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "orders.42.created" || string(m.Data) != `{"total":5}` || m.Header.Get("X-Tenant") != "acme" || m.Header.Get("X-Request-Id") != "req-1" {
		t.Errorf("subscriber saw %s %s %v", m.Subject, m.Data, m.Header)
	}
	// Core publish has no message id: nothing JetStream would read.
	if m.Header.Get("Nats-Msg-Id") != "" {
		t.Errorf("publish carried Nats-Msg-Id")
	}

	// A closed connection: 503, never 202.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	rec = call(t, tg, http.MethodPost, `{}`, nil, "id", "43")
	if rec.Code != http.StatusServiceUnavailable || decodeError(t, rec).Code != 14 {
		t.Errorf("after Close: %d %s", rec.Code, rec.Body)
	}
}

// While reconnecting, publishes go to the reconnect buffer until it is
// full; then 503.
func TestPublishReconnectBufferFull(t *testing.T) {
	s := startServer(t, 0, "")
	b, err := Connect("orders", ConnOptions{URL: s.ClientURL(), ReconnectWait: time.Hour, ReconnectBufferBytes: 1024}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	stopServer(s)
	eventually(t, "disconnect", func() bool { return b.Ready() != nil })
	tg := target(t, b, nil, Route{Subject: "orders.created", Mode: ModePublish})
	body := `"` + strings.Repeat("x", 400) + `"`
	var codes []int
	for range 4 {
		codes = append(codes, call(t, tg, http.MethodPost, body, nil).Code)
	}
	if codes[0] != http.StatusAccepted || codes[3] != http.StatusServiceUnavailable {
		t.Errorf("statuses %v: want 202 while the buffer has room, then 503", codes)
	}
}

func TestJetStream(t *testing.T) {
	b, err := Connect("orders", ConnOptions{
		URL:      EmbeddedURL,
		StoreDir: t.TempDir(),
		Streams:  []StreamConfig{{Name: "ORDERS", Subjects: []string{"orders.*.created"}}},
	}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.created", Mode: ModeJetStream})

	type ack struct {
		Stream    string `json:"stream"`
		Seq       uint64 `json:"seq"`
		Duplicate bool   `json:"duplicate"`
	}
	post := func(id, key string) (int, ack, string) {
		h := http.Header{}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		rec := call(t, tg, http.MethodPost, `{"id":"`+id+`"}`, h, "id", id)
		var a ack
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		return rec.Code, a, rec.Body.String()
	}

	code, a, body := post("1", "")
	if code != http.StatusAccepted || a != (ack{"ORDERS", 1, false}) || !strings.Contains(body, `"duplicate":false`) {
		t.Fatalf("first: %d %s", code, body)
	}
	code, a, body = post("2", "key-7f3a")
	if code != http.StatusAccepted || a != (ack{"ORDERS", 2, false}) {
		t.Fatalf("keyed: %d %s", code, body)
	}
	// The retried POST: acknowledged again, stored once.
	code, a, body = post("2", "key-7f3a")
	if code != http.StatusAccepted || a != (ack{"ORDERS", 2, true}) {
		t.Fatalf("retry: %d %s", code, body)
	}
	// Without a key, two POSTs are two messages.
	code, a, _ = post("3", "")
	code2, a2, _ := post("3", "")
	if code != http.StatusAccepted || code2 != http.StatusAccepted || a.Duplicate || a2.Duplicate || a2.Seq != a.Seq+1 {
		t.Errorf("keyless: %v %v", a, a2)
	}

	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Errorf("stream holds %d messages, want 4", info.State.Msgs)
	}
	m, err := stream.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Nats-Msg-Id") != "key-7f3a" || m.Header.Get("X-Request-Id") != "req-1" || string(m.Data) != `{"id":"2"}` {
		t.Errorf("stored %s %v", m.Data, m.Header)
	}

	// A bad key is refused before anything is sent.
	for _, key := range []string{"has space", strings.Repeat("k", 257), "ünï"} {
		rec := call(t, tg, http.MethodPost, `{}`, http.Header{"Idempotency-Key": {key}}, "id", "9")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Idempotency-Key") {
			t.Errorf("key %q: %d %s", key, rec.Code, rec.Body)
		}
	}
	rec := call(t, tg, http.MethodPost, `{}`, http.Header{"Idempotency-Key": {"a", "b"}}, "id", "9")
	if rec.Code != http.StatusBadRequest {
		t.Errorf("two keys: %d", rec.Code)
	}
}

func TestJetStreamFailures(t *testing.T) {
	s := startServer(t, 0, "")
	// Something that takes the message but never acknowledges: the ack
	// never comes, as when a stream's leader is lost.
	respond(t, client(t, s.ClientURL()), "silent.created", func(*natsgo.Msg) {})
	// Something that answers, but is no stream.
	respond(t, client(t, s.ClientURL()), "service.created", func(m *natsgo.Msg) { _ = m.Respond([]byte(`{"ok":true}`)) })
	b := resilience.Wrap("orders", backend(t, s.ClientURL()), resilience.Policy{Timeout: 200 * time.Millisecond}, nil)
	for _, tc := range []struct {
		subject    string
		wantStatus int
		wantCode   int
		wantMsg    string
	}{
		{"nostream.created", http.StatusServiceUnavailable, 14, "no stream for subject nostream.created"},
		{"silent.created", http.StatusGatewayTimeout, 4, "did not acknowledge in time"},
		{"service.created", http.StatusBadGateway, 13, "invalid acknowledgement"},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			begin := time.Now()
			rec := call(t, target(t, b, nil, Route{Subject: tc.subject, Mode: ModeJetStream}), http.MethodPost, `{}`, nil)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if e := decodeError(t, rec); e.Code != tc.wantCode || !strings.Contains(e.Message, tc.wantMsg) {
				t.Errorf("error %+v", e)
			}
			// No JetStream-internal retry on "no responders": immediate.
			if tc.wantStatus == http.StatusServiceUnavailable && time.Since(begin) > 150*time.Millisecond {
				t.Errorf("no stream took %v", time.Since(begin))
			}
		})
	}
}

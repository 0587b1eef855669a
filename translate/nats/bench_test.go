package nats

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
)

// BenchmarkRequest compares one request/reply through the Target (HTTP
// request in, subject built and checked, body validated, headers carried,
// reply written) with the same request made directly with nats.go, against
// the same echo service on a loopback server. The difference is the
// gateway's own cost.
//
// The gateway's request is made as net/http's server hands one to a
// handler (http.NewRequestWithContext), not parsed from text by
// httptest.NewRequest: that parse, with a 4 KiB reader of its own per
// request, is no part of the gateway (net/http's server reuses its reader
// per connection) and cost the gateway's side about a tenth of the call,
// half of it in collections of the small heap.
func BenchmarkRequest(b *testing.B) {
	s := startServer(b, 0, "")
	payload := []byte(`{"id":"42","items":[{"sku":"BOOK","quantity":1}],"total_cents":2398}`)
	respond(b, client(b, s.ClientURL()), "orders.*.get", func(m *natsgo.Msg) { _ = m.Respond(m.Data) })
	be := backend(b, s.ClientURL())

	b.Run("direct", func(b *testing.B) {
		nc := be.Conn()
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := nc.RequestWithContext(ctx, "orders.42.get", payload)
			cancel()
			if err != nil || len(m.Data) != len(payload) {
				b.Fatal(err)
			}
		}
	})
	b.Run("gateway", func(b *testing.B) {
		tg := target(b, be, []string{"id"}, Route{Subject: "orders.{id}.get"})
		params := routes.Params{{FieldPath: "id", Value: "42"}}
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, err := http.NewRequestWithContext(observability.WithInfo(ctx, &observability.Info{ID: "req-1"}),
				http.MethodPost, "/v1/orders/42", bytes.NewReader(payload))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			tg.ServeRoute(rec, req, params)
			cancel()
			if rec.Code != http.StatusOK || rec.Body.Len() != len(payload) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}

package nats

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// echoBackend answers every request with its own body, from memory.
type echoBackend struct{}

func (echoBackend) Invoke(_ context.Context, call *translate.Call) (*translate.Reply, error) {
	return &translate.Reply{Body: call.Body}, nil
}
func (echoBackend) Close() error { return nil }

// discard is a ResponseWriter that keeps nothing but its header map.
type discard struct {
	h    http.Header
	code int
	n    int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// BenchmarkOverhead is BenchmarkRequest's gateway variant with NATS taken
// away (a backend echoing from memory, a request built without parsing
// one): what the Target adds to a request/reply.
func BenchmarkOverhead(b *testing.B) {
	payload := []byte(`{"id":"42","items":[{"sku":"BOOK","quantity":1}],"total_cents":2398}`)
	tg := target(b, echoBackend{}, []string{"id"}, Route{Subject: "orders.{id}.get"})
	params := routes.Params{{FieldPath: "id", Value: "42"}}
	u, _ := url.Parse("/v1/orders/42")
	w := &discard{}
	b.ReportAllocs()
	for b.Loop() {
		r := &http.Request{Method: "POST", URL: u, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(payload)), ContentLength: int64(len(payload)), RemoteAddr: "192.0.2.1:1234", Host: "example.com"}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r = r.WithContext(observability.WithInfo(ctx, &observability.Info{ID: "req-1"}))
		w.h, w.code, w.n = http.Header{}, 0, 0
		tg.ServeRoute(w, r, params)
		cancel()
		if w.code != http.StatusOK || w.n != len(payload) {
			b.Fatal(w.code)
		}
	}
}

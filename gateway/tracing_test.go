package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// TestTracing: the gateway continues the client's trace with a server span
// named after the route, and the backend sees that span as its parent.
func TestTracing(t *testing.T) {
	rs, addr := startRecorder(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
descriptors:
  - file: ../testdata/library.pb
backends:
  rec:
    grpc: {endpoints: ["%s"]}
services:
  - name: library.v1.LibraryService
    backend: rec
    unannotated: true
`, addr)), "tracing.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tr := observability.NewTracingWith(spans, observability.TracingOptions{})
	g, err := gateway.New(context.Background(), cfg, quietLog(), observability.NewMetrics(), gateway.WithTracing(tr))
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{g: g}
	tg.http = newServer(t, g)

	const clientTrace = "0af7651916cd43dd8448eb211c80319c"
	const clientSpan = "b7ad6b7169203331"
	r := do(t, "POST", tg.http.URL+pingPath, []byte(`{}`), map[string]string{
		"Content-Type": "application/json", "Traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	g.Close()
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want the backend attempt and the request", len(ended))
	}
	attempt, span := ended[0], ended[1]
	if attempt.Name() != "backend rec" || attempt.Parent().SpanID() != span.SpanContext().SpanID() {
		t.Errorf("attempt span %q with parent %s; want \"backend rec\" under the request's span", attempt.Name(), attempt.Parent().SpanID())
	}
	if span.Name() != "POST /library.v1.LibraryService/Ping" || span.SpanContext().TraceID().String() != clientTrace ||
		span.Parent().SpanID().String() != clientSpan {
		t.Errorf("span %q trace %s parent %s; want the route's name, continuing the client's trace",
			span.Name(), span.SpanContext().TraceID(), span.Parent().SpanID())
	}
	rs.mu.Lock()
	tp := rs.md.Get("traceparent")
	rs.mu.Unlock()
	want := "00-" + clientTrace + "-" + span.SpanContext().SpanID().String() + "-01"
	if len(tp) != 1 || tp[0] != want {
		t.Errorf("backend traceparent %q, want %q (the gateway's span as parent)", tp, want)
	}
	if !strings.Contains(fmt.Sprint(span.Attributes()), "http.route") {
		t.Errorf("span attributes lack http.route: %v", span.Attributes())
	}
}

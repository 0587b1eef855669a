package observability

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingOptions configure OpenTelemetry tracing.
type TracingOptions struct {
	Exporter    string  // "" or "none", "stdout", "otlp"
	Endpoint    string  // otlp: host:port of an OTLP/gRPC collector
	Insecure    bool    // otlp: plaintext
	SampleRatio float64 // of root spans; a sampled parent is always followed
	ServiceName string
}

// Tracing makes one server span per request, continuing the client's W3C
// trace context, and hands its own context on to the backend: the request's
// Traceparent and Tracestate headers are rewritten, and every protocol
// forwards those, so backends see the gateway's span as their parent.
// A value per gateway; the global OpenTelemetry provider is left alone.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// NewTracing builds the exporter and provider; nil with no error when
// tracing is off. out receives the stdout exporter's spans.
func NewTracing(opts TracingOptions, out io.Writer) (*Tracing, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch opts.Exporter {
	case "", "none":
		return nil, nil
	case "stdout":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(out))
	case "otlp":
		o := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(opts.Endpoint)}
		if opts.Insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		exp, err = otlptracegrpc.New(context.Background(), o...)
	default:
		return nil, fmt.Errorf("tracing exporter %q: want none, stdout or otlp", opts.Exporter)
	}
	if err != nil {
		return nil, err
	}
	return newTracing(sdktrace.NewBatchSpanProcessor(exp), opts), nil
}

// NewTracingWith uses the span processor given, for tests.
func NewTracingWith(sp sdktrace.SpanProcessor, opts TracingOptions) *Tracing {
	return newTracing(sp, opts)
}

func newTracing(sp sdktrace.SpanProcessor, opts TracingOptions) *Tracing {
	name := opts.ServiceName
	if name == "" {
		name = "switchboard"
	}
	ratio := opts.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(name))),
	)
	return &Tracing{
		provider: tp,
		tracer:   tp.Tracer("github.com/switchboard-gw/switchboard"),
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Shutdown flushes spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// start opens the request's server span and rewrites its trace headers.
func (t *Tracing) start(r *http.Request) (context.Context, trace.Span) {
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.EscapedPath())))
	r.Header.Del("Traceparent")
	r.Header.Del("Tracestate")
	t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx, span
}

// end names the span after its route and records the outcome.
func end(span trace.Span, method string, o outcome, status int) {
	if o.route != "" {
		span.SetName(method + " " + o.route)
		span.SetAttributes(semconv.HTTPRoute(o.route))
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(status), attribute.String("switchboard.backend", o.backend))
	if o.code != "" {
		span.SetAttributes(attribute.String("rpc.grpc.status_code", o.code))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, o.code)
	}
	span.End()
}

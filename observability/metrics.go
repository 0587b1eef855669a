package observability

import (
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's Prometheus metrics, on a registry of their own
// (not the global one) so that tests and several gateways in one process do
// not collide.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	backendCalls    *prometheus.CounterVec
	backendDuration *prometheus.HistogramVec
	breakerState    *prometheus.GaugeVec
	ejected         *prometheus.GaugeVec
	ejections       *prometheus.CounterVec
	hedges          *prometheus.CounterVec
	retries         *prometheus.CounterVec
	streamsOpen     *prometheus.GaugeVec
	streamMessages  *prometheus.CounterVec
	schemaSwaps     *prometheus.CounterVec
	policyRefusals  *prometheus.CounterVec
	policyDecisions *prometheus.CounterVec
	storeErrors     *prometheus.CounterVec
	configReloads   *prometheus.CounterVec
}

// NewMetrics registers the gateway metrics and the Go runtime collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_http_requests_total",
			Help: "HTTP requests by route, backend, method and status.",
		}, []string{"route", "backend", "method", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "HTTP request latency by route and backend.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"route", "backend"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		backendCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_backend_calls_total",
			Help: "Backend call attempts by backend and gRPC code (retries count separately).",
		}, []string{"backend", "code"}),
		backendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_backend_call_duration_seconds",
			Help:    "Backend call attempt latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"backend"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_backend_breaker_open",
			Help: "1 while the backend's circuit breaker is open or half-open.",
		}, []string{"backend"}),
		ejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_backend_endpoint_ejected",
			Help: "1 while outlier detection has the backend's endpoint out of rotation.",
		}, []string{"backend", "endpoint"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_backend_endpoint_ejections_total",
			Help: "Times outlier detection took the backend's endpoint out of rotation.",
		}, []string{"backend", "endpoint"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_backend_hedges_total",
			Help: "Hedged attempts by backend and outcome: sent, or won (its reply was used).",
		}, []string{"backend", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_backend_retries_total",
			Help: "Retries by backend and outcome: sent, or over_budget (refused by the retry budget).",
		}, []string{"backend", "outcome"}),
		streamsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_streams_open",
			Help: "Streams open now, by route and backend.",
		}, []string{"route", "backend"}),
		streamMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_stream_messages_total",
			Help: "Messages carried by streams, by route, backend and direction: in (from the client) or out (to it).",
		}, []string{"route", "backend", "direction"}),
		schemaSwaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_schema_changes_total",
			Help: "Schema registrations, removals and rollbacks by outcome.",
		}, []string{"op", "outcome"}),
		policyRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_policy_refusals_total",
			Help: "Requests refused by the policy stage, by policy, check and reason.",
		}, []string{"policy", "check", "reason"}),
		policyDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_policy_authenticated_total",
			Help: "Requests authenticated, by policy, method (jwt, api_key, ext_authz) and principal (API key name or JWT issuer).",
		}, []string{"policy", "method", "principal"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_policy_store_errors_total",
			Help: "Policy checks that could not reach their store or service, by store and the fail mode applied.",
		}, []string{"store", "fail"}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_config_reloads_total",
			Help: "Config reloads (SIGHUP, a changed file, POST /admin/reload) by outcome: ok or refused.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.configReloads)
	reg.MustRegister(m.requests, m.requestDuration, m.inFlight, m.backendCalls, m.backendDuration,
		m.breakerState, m.ejected, m.ejections, m.hedges, m.retries, m.streamsOpen, m.streamMessages, m.schemaSwaps, m.policyRefusals, m.policyDecisions, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// BackendCall records one backend attempt.
func (m *Metrics) BackendCall(backend, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.backendCalls.WithLabelValues(backend, code).Inc()
	m.backendDuration.WithLabelValues(backend).Observe(d.Seconds())
}

// BackendMetrics are one backend's per-attempt metrics with their label
// values resolved once rather than hashed and looked up on every attempt.
// A nil *BackendMetrics records nothing.
type BackendMetrics struct {
	name     string
	calls    *prometheus.CounterVec
	duration prometheus.Observer
	// byCode holds the calls counter of each gRPC code once used: a code
	// shows in the exposition only after a call ended with it, as before.
	byCode [17]atomic.Pointer[prometheus.Counter]
}

// Backend returns the per-attempt metrics of backend; nil when m is nil.
func (m *Metrics) Backend(backend string) *BackendMetrics {
	if m == nil {
		return nil
	}
	return &BackendMetrics{name: backend, calls: m.backendCalls, duration: m.backendDuration.WithLabelValues(backend)}
}

// Call records one backend attempt, as Metrics.BackendCall does.
func (b *BackendMetrics) Call(code codes.Code, d time.Duration) {
	if b == nil {
		return
	}
	var c prometheus.Counter
	if int(code) < len(b.byCode) {
		if p := b.byCode[code].Load(); p != nil {
			c = *p
		} else {
			c = b.counter(code)
		}
	} else {
		c = b.calls.WithLabelValues(b.name, code.String())
	}
	c.Inc()
	b.duration.Observe(d.Seconds())
}

// counter resolves and keeps code's counter (a function of its own, so
// that only this first call puts one on the heap).
func (b *BackendMetrics) counter(code codes.Code) prometheus.Counter {
	c := b.calls.WithLabelValues(b.name, code.String())
	b.byCode[code].Store(&c)
	return c
}

// BreakerOpen records the breaker state of a backend.
func (m *Metrics) BreakerOpen(backend string, open bool) {
	if m == nil {
		return
	}
	v := 0.0
	if open {
		v = 1
	}
	m.breakerState.WithLabelValues(backend).Set(v)
}

// EndpointEjected records an endpoint's ejection or return.
func (m *Metrics) EndpointEjected(backend, endpoint string, ejected bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ejected {
		v = 1
		m.ejections.WithLabelValues(backend, endpoint).Inc()
	}
	m.ejected.WithLabelValues(backend, endpoint).Set(v)
}

// Hedge counts a hedged attempt: "sent", or "won" when its reply was used.
func (m *Metrics) Hedge(backend, outcome string) {
	if m == nil {
		return
	}
	m.hedges.WithLabelValues(backend, outcome).Inc()
}

// Retry counts a retry: "sent", or "over_budget" when the budget refused it.
func (m *Metrics) Retry(backend, outcome string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(backend, outcome).Inc()
}

// StreamCounters are one stream's metrics, resolved once when it opens.
type StreamCounters struct {
	open    prometheus.Gauge
	in, out prometheus.Counter
}

// StreamOpened counts a stream of route and backend as open until
// Closed; nil-safe.
func (m *Metrics) StreamOpened(route, backend string) *StreamCounters {
	if m == nil {
		return nil
	}
	c := &StreamCounters{open: m.streamsOpen.WithLabelValues(route, backend),
		in:  m.streamMessages.WithLabelValues(route, backend, "in"),
		out: m.streamMessages.WithLabelValues(route, backend, "out")}
	c.open.Inc()
	return c
}

// In counts a message from the client.
func (c *StreamCounters) In() {
	if c != nil {
		c.in.Inc()
	}
}

// Out counts a message to the client.
func (c *StreamCounters) Out() {
	if c != nil {
		c.out.Inc()
	}
}

// Closed ends the stream.
func (c *StreamCounters) Closed() {
	if c != nil {
		c.open.Dec()
	}
}

// SchemaChange records an admin or startup schema operation.
func (m *Metrics) SchemaChange(op string, ok bool) {
	if m == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "refused"
	}
	m.schemaSwaps.WithLabelValues(op, outcome).Inc()
}

// PolicyRefusal counts a request the policy stage refused.
func (m *Metrics) PolicyRefusal(policy, check, reason string) {
	if m == nil {
		return
	}
	m.policyRefusals.WithLabelValues(policy, check, reason).Inc()
}

// Authenticated counts a request that proved who it is. principal must
// come from the config (an API key's name, an issuer), never from the
// request, or a client could grow the label set.
func (m *Metrics) Authenticated(policy, method, principal string) {
	if m == nil {
		return
	}
	m.policyDecisions.WithLabelValues(policy, method, principal).Inc()
}

// StoreError counts a check that could not reach its store (Redis, an
// external authorization service) and the fail mode it applied.
func (m *Metrics) StoreError(store, fail string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(store, fail).Inc()
}

// ConfigReload counts a config reload and whether it took effect.
func (m *Metrics) ConfigReload(ok bool) {
	if m == nil {
		return
	}
	outcome := "ok"
	if !ok {
		outcome = "refused"
	}
	m.configReloads.WithLabelValues(outcome).Inc()
}

package resilience

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate"
)

// Policy is one backend's resilience configuration. Zero values disable the
// feature they configure.
type Policy struct {
	// Timeout bounds the whole call, retries included. A shorter deadline
	// already on the context (a client's Grpc-Timeout) wins.
	Timeout time.Duration
	Retry   Retry
	Breaker Breaker
	// MaxConcurrent bounds calls in flight; callers beyond it wait until their
	// deadline and then fail with UNAVAILABLE (503): the backend is full,
	// the client did nothing wrong.
	MaxConcurrent int
	// MaxConcurrentStreams bounds the backend's open streams; one more is
	// refused at once with UNAVAILABLE (503). 0 is unlimited.
	MaxConcurrentStreams int
	// Outlier ejects failing endpoints; Failures 0 never ejects.
	Outlier Outlier
	// Log is where breaker and ejection changes are logged, once each;
	// nil discards.
	Log *slog.Logger
}

// Retry retries an attempt that failed with one of On, up to Attempts
// attempts in all, and only when another attempt cannot repeat a side
// effect: the call is idempotent (Call.Idempotent), or the backend says the
// request never reached the application (Error.Retryable). Between
// attempts it sleeps a random time up to Backoff, doubled each time (full
// jitter, so that clients do not retry in step).
type Retry struct {
	Attempts int
	Backoff  time.Duration
	On       []codes.Code
	// PerTryTimeout bounds each attempt beside the overall Timeout; 0 is
	// none.
	PerTryTimeout time.Duration
	// Budget is the share of this backend's calls in flight that may be
	// retries at once (Envoy's retry budget; gRPC's retry throttling has
	// the same aim): a backend failing every call sees at most
	// (1 + Budget) times the offered load. 0 means DefaultRetryBudget.
	// MinRetries retries are always allowed at once.
	Budget float64
}

// Retry budget defaults.
const (
	DefaultRetryBudget = 0.2
	MinRetries         = 3
)

// Breaker opens after Failures consecutive failures for Cooldown, then
// admits Probes calls at once (0 means 1) until one of them decides.
type Breaker struct {
	Failures int
	Cooldown time.Duration
	Probes   int
}

// tripCodes are the outcomes that say the backend, not the request, is in
// trouble; a NOT_FOUND or INVALID_ARGUMENT never opens a breaker.
var tripCodes = []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss}

// errBreakerOpen marks a call the breaker refused.
var errBreakerOpen = errors.New("circuit breaker open")

// Backend is a protocol backend under one backend's policy. It is itself a
// translate.Backend, and Do runs a route's reply decoding inside each
// attempt.
type Backend struct {
	name    string
	next    translate.Backend
	policy  Policy
	breaker *breaker
	slots   chan struct{}
	metrics *observability.Metrics
	// calls are the per-attempt metrics, their labels resolved once.
	calls *observability.BackendMetrics
	// spanName and spanKind start each attempt's span, made once.
	spanName string
	spanKind trace.SpanStartOption
	// active are calls in flight, retrying the retries among them: the
	// retry budget's two sides. Hedges in flight count as retries.
	active, retrying atomic.Int64
	// hedges are hedged attempts sent, hedgesWon those whose reply won.
	hedges, hedgesWon atomic.Int64
	// latency is recent successful attempts' latency, for Hedge.P95.
	latency latencies
	// endpoints steer attempts away from ejected endpoints and count
	// each endpoint's calls.
	endpoints *endpoints
	// streams holds a token per open stream under MaxConcurrentStreams.
	streams       chan struct{}
	activeStreams atomic.Int64
}

var _ translate.Backend = (*Backend)(nil)

// Wrap returns next wrapped in policy. metrics may be nil.
func Wrap(name string, next translate.Backend, policy Policy, metrics *observability.Metrics) *Backend {
	if policy.Retry.Budget <= 0 {
		policy.Retry.Budget = DefaultRetryBudget
	}
	b := &Backend{name: name, next: next, policy: policy, metrics: metrics, calls: metrics.Backend(name),
		spanName: "backend " + name, spanKind: trace.WithSpanKind(trace.SpanKindClient)}
	b.endpoints = &endpoints{backend: name, now: time.Now, log: policy.Log,
		onEject: func(addr string, ejected bool) { metrics.EndpointEjected(name, addr, ejected) }}
	if policy.Outlier.Failures > 0 {
		b.endpoints.outlier = policy.Outlier.withDefaults()
	}
	if e, ok := next.(interface{ Endpoints() []string }); ok {
		b.endpoints.known = e.Endpoints
	}
	if policy.Breaker.Failures > 0 {
		b.breaker = &breaker{
			failures: policy.Breaker.Failures,
			probes:   max(1, policy.Breaker.Probes),
			cooldown: policy.Breaker.Cooldown,
			now:      time.Now,
			onChange: func(open bool) {
				metrics.BreakerOpen(name, open)
				if policy.Log == nil {
					return
				}
				if open {
					policy.Log.Warn("circuit breaker opened", slog.String("backend", name),
						slog.Int("failures", policy.Breaker.Failures), slog.String("cooldown", policy.Breaker.Cooldown.String()))
				} else {
					policy.Log.Info("circuit breaker closed", slog.String("backend", name))
				}
			},
		}
	}
	if policy.MaxConcurrent > 0 {
		b.slots = make(chan struct{}, policy.MaxConcurrent)
	}
	if policy.MaxConcurrentStreams > 0 {
		b.streams = make(chan struct{}, policy.MaxConcurrentStreams)
	}
	return b
}

// retryable reports whether a failed attempt may be tried again: by code
// (two statuses with the same code and different messages are the same
// case), and only when it cannot repeat a side effect.
func (b *Backend) retryable(err error, call *translate.Call) bool {
	var final finalError
	if errors.Is(err, errBreakerOpen) || errors.As(err, &final) {
		// An open breaker: waiting out a backoff cannot close it. A final
		// outcome: the backend answered, and asking again would only
		// repeat the answer, or a side effect.
		return false
	}
	e := translate.FromError(err)
	if !slices.Contains(b.policy.Retry.On, e.Code) {
		return false
	}
	return call.Idempotent || e.Retryable
}

// takeRetry reserves one retry within the budget.
func (b *Backend) takeRetry() bool {
	allowed := max(int64(MinRetries), int64(math.Ceil(b.policy.Retry.Budget*float64(b.active.Load()))))
	if b.retrying.Add(1) > allowed {
		b.retrying.Add(-1)
		return false
	}
	return true
}

// maxBackoff bounds one sleep between attempts, whatever the config: the
// call's own timeout makes longer ones pointless.
const maxBackoff = time.Minute

// backoff is the full-jitter sleep before retry n (1-based): a random
// time up to Backoff doubled n-1 times, at most maxBackoff.
func (b *Backend) backoff(n int) time.Duration {
	d := b.policy.Retry.Backoff
	if d <= 0 {
		return 0
	}
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Invoke runs call under the policy.
func (b *Backend) Invoke(ctx context.Context, call *translate.Call) (*translate.Reply, error) {
	return b.DoHedged(ctx, call, nil, Hedge{})
}

// Unwrap is the protocol backend, for the capabilities some protocols
// offer beside calls (server reflection, readiness).
func (b *Backend) Unwrap() translate.Backend { return b.next }

// Do runs call under the policy. decode, when not nil, runs on each
// attempt's reply inside that attempt, so that an application error it
// reads out of a reply (a declared Thrift exception) is that attempt's
// outcome in metrics, logs and traces.
//
// How outcomes count, the same for every protocol:
//   - a declared application error (Error.Application with a
//     DeclaredStatus: a Thrift exception, a NATS micro error) is the
//     backend answering as its API says: a success for the breaker, never
//     retried;
//   - a reply the gateway cannot decode or render (not an application
//     error) says nothing the gateway can trust about the backend: the
//     breaker ignores it and it is not retried;
//   - any failure once a deadline the caller set has passed is the
//     caller's: the breaker ignores it;
//   - anything else counts by code (tripCodes) and is retried by code.
func (b *Backend) Do(ctx context.Context, call *translate.Call, decode func(*translate.Reply) error) (*translate.Reply, error) {
	return b.DoHedged(ctx, call, decode, Hedge{})
}

// DoHedged is Do with a route's hedging: when the call is idempotent and
// waits for a reply, each attempt that has not answered after h's delay
// is raced by up to h.Max more (see Hedge). decode runs on the winning
// reply only.
func (b *Backend) DoHedged(ctx context.Context, call *translate.Call, decode func(*translate.Reply) error, h Hedge) (*translate.Reply, error) {
	var d Decoder
	if decode != nil {
		d = decodeFunc(decode)
	}
	return b.DoDecoded(ctx, call, d, h)
}

// Decoder renders a reply inside the attempt that received it (Do's
// decode, as an interface).
type Decoder interface {
	Decode(*translate.Reply) error
}

type decodeFunc func(*translate.Reply) error

func (f decodeFunc) Decode(r *translate.Reply) error { return f(r) }

// DoDecoded is DoHedged with the decoding step as an interface, which a
// caller can implement on a value it allocates anyway, rather than a
// closure allocated per call; d may be nil.
func (b *Backend) DoDecoded(ctx context.Context, call *translate.Call, decode Decoder, h Hedge) (*translate.Reply, error) {
	// A deadline the caller set shorter than the policy's says nothing about
	// the backend when it fires: such timeouts must not open the breaker,
	// or any client could open it for everyone with Grpc-Timeout: 1n.
	var callerDeadline time.Time
	if dl, ok := ctx.Deadline(); ok && (b.policy.Timeout <= 0 || time.Until(dl) < b.policy.Timeout) {
		callerDeadline = dl
	}
	if b.policy.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.policy.Timeout)
		defer cancel()
	}
	if b.slots != nil {
		if err := ctx.Err(); err != nil {
			// Already out of time: say so, whether or not a slot is free
			// (select would pick either at random).
			return nil, translate.FromError(err)
		}
		select {
		case b.slots <- struct{}{}:
			defer func() { <-b.slots }()
		case <-ctx.Done():
			return nil, &translate.Error{Code: codes.Unavailable, Retryable: true,
				Message: "backend " + b.name + " is at its concurrency limit", Cause: ctx.Err(),
				Header: http.Header{"Retry-After": {"1"}}}
		}
	}
	b.active.Add(1)
	defer b.active.Add(-1)
	reply, err := b.try(ctx, call, decode, callerDeadline, h)
	for n := 1; err != nil && n < b.policy.Retry.Attempts && b.retryable(err, call); n++ {
		retried, rerr, ok := b.retry(ctx, call, decode, callerDeadline, h, n)
		if !ok {
			break
		}
		reply, err = retried, rerr
	}
	if err != nil {
		return nil, unwrapFinal(err)
	}
	return reply, nil
}

// retry makes attempt n+1 within the retry budget, after its backoff; ok
// is false when the budget is spent or the call is out of time, and the
// previous outcome stands.
func (b *Backend) retry(ctx context.Context, call *translate.Call, decode Decoder,
	callerDeadline time.Time, h Hedge, n int) (*translate.Reply, error, bool) {
	if !b.takeRetry() {
		b.metrics.Retry(b.name, "over_budget")
		return nil, nil, false
	}
	defer b.retrying.Add(-1)
	t := time.NewTimer(b.backoff(n))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, nil, false
	case <-t.C:
	}
	if ctx.Err() != nil {
		// Both were ready and select chose the timer: an attempt now
		// would start past the deadline.
		return nil, nil, false
	}
	reply, err := b.try(ctx, call, decode, callerDeadline, h)
	if !errors.Is(err, errBreakerOpen) {
		// Counted once it went out: an open breaker refused it unsent.
		observability.FromContext(ctx).AddRetry()
		b.metrics.Retry(b.name, "sent")
	}
	return reply, err, true
}

// finalError marks an attempt's error that must not be retried.
type finalError struct{ error }

func (f finalError) Unwrap() error { return f.error }

func unwrapFinal(err error) error {
	if f, ok := err.(finalError); ok {
		return f.error
	}
	return err
}

// attempt makes one attempt. r is the hedging race it runs in, nil when
// unhedged, id its place in it: an attempt decodes its reply only once it
// has won the race, and one that lost (cancelled, or answered after the
// winner) says nothing about the backend and reports nothing.
func (b *Backend) attempt(ctx context.Context, call *translate.Call, decode Decoder, callerDeadline time.Time,
	r *race, id int32) (*translate.Reply, error) {
	t, ok := b.breaker.allow()
	if !ok {
		return nil, &translate.Error{Code: codes.Unavailable, Message: "circuit breaker open for backend " + b.name,
			Cause: errBreakerOpen, Retryable: true,
			Header: http.Header{"Retry-After": {strconv.Itoa(max(1, int(math.Ceil(b.breaker.remaining().Seconds()))))}}}
	}
	if b.policy.Retry.PerTryTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.policy.Retry.PerTryTimeout)
		defer cancel()
	}
	p := &pick{set: b.endpoints, race: r}
	if r != nil {
		b.endpoints.mu.Lock()
		r.picks = append(r.picks, p)
		b.endpoints.mu.Unlock()
	}
	// The chooser's context lives in the pick: one allocation for both.
	p.ctx = translate.ChooserContext{Context: ctx, Chooser: p}
	ctx = &p.ctx
	// A panic in the backend or in decode (net/http recovers it and the
	// gateway goes on) must not keep the breaker's probe or the
	// endpoint's slot.
	settled := false
	defer func() {
		if !settled {
			b.breaker.abandon(t)
			p.done(verdictNeutral, "")
		}
	}()
	// One client span per attempt, under the request's server span, so
	// retries and backend latency show in traces. Without a server span
	// (tracing off) there is nothing to hang one on: span stays a no-op
	// and no attribute is built.
	span, traced := trace.SpanFromContext(ctx), false
	if span.SpanContext().IsValid() {
		traced = true
		ctx, span = span.TracerProvider().Tracer("github.com/switchboard-gw/switchboard").
			Start(ctx, b.spanName, b.spanKind,
				trace.WithAttributes(attribute.String("switchboard.backend", b.name), attribute.String("rpc.method", call.Method)))
	}
	defer span.End()
	start := time.Now()
	reply, err := b.next.Invoke(ctx, call)
	if r != nil && !r.settle(id, err, b) {
		settled = true
		return b.lost(t, p, span, traced, reply, err, start)
	}
	decodeFailed := false
	if err == nil && decode != nil {
		err = decode.Decode(reply)
		decodeFailed = err != nil
	}
	code, healthy, declared, endpoint, source := codes.OK, false, false, "", ""
	if reply != nil {
		endpoint = reply.Endpoint
	}
	if err != nil {
		e := translate.FromError(err)
		code, healthy, source = e.Code, e.BackendHealthy, "transport"
		if e.Endpoint != "" {
			endpoint = e.Endpoint
		}
		switch {
		case e.Application:
			source = "application"
			declared = e.DeclaredStatus != 0
		case decodeFailed:
			source = "reply"
		}
		if traced {
			span.SetStatus(otelcodes.Error, code.String())
		}
	}
	end := time.Now() // one clock reading for the deadline check and the latency
	callersFault := !callerDeadline.IsZero() && !end.Before(callerDeadline)
	if info := observability.Lookup(ctx); info != nil {
		info.SetUpstream(endpoint, source)
	}
	if traced {
		span.SetAttributes(attribute.String("rpc.grpc.status_code", code.String()))
	}
	// A caller that went away, or whose own deadline fired, or a failure
	// the backend reports as the request's own, says nothing about the
	// backend's health.
	// So does a message only buffered while the connection is down, and a
	// reply the gateway could not read.
	unconfirmed := err == nil && reply != nil && reply.Unconfirmed
	settled = true
	switch {
	case code == codes.Canceled || callersFault || healthy || unconfirmed || (decodeFailed && !declared && source == "reply"):
		b.breaker.abandon(t)
		p.done(verdictNeutral, endpoint)
	case declared:
		b.breaker.done(t, false)
		p.done(verdictSuccess, endpoint)
	default:
		failed := slices.Contains(tripCodes, code)
		b.breaker.done(t, failed)
		p.done(verdictOf(failed), endpoint)
	}
	elapsed := end.Sub(start)
	if code == codes.OK {
		b.latency.add(elapsed)
	}
	b.calls.Call(code, elapsed)
	if declared || source == "reply" {
		return reply, finalError{err}
	}
	return reply, err
}

func (b *Backend) Close() error {
	b.endpoints.reset()
	return b.next.Close()
}

// Metrics are the metrics the backend reports to, or nil.
func (b *Backend) Metrics() *observability.Metrics { return b.metrics }

// Status is one backend's resilience as the admin API shows it.
type Status struct {
	Breaker BreakerState `json:"breaker"`
	// InFlight are calls running now, Retrying the retries among them.
	InFlight int64 `json:"in_flight"`
	Retrying int64 `json:"retrying"`
	// RetryBudget is how many retries may run at once now.
	RetryBudget   int64 `json:"retry_budget"`
	MaxConcurrent int   `json:"max_concurrent,omitempty"`
	// Streams are streams open now.
	Streams              int64 `json:"streams"`
	MaxConcurrentStreams int   `json:"max_concurrent_streams,omitempty"`
	// Hedges are hedged attempts sent since start (routes with hedge:),
	// HedgesWon those whose reply was used.
	Hedges    int64 `json:"hedges"`
	HedgesWon int64 `json:"hedges_won"`
	// LatencyP95 is the p95 latency of recent successful attempts, in
	// milliseconds, once there are enough of them (hedge: {delay: p95}).
	LatencyP95 float64 `json:"latency_p95_ms,omitempty"`
	// Endpoints are the backend's endpoints: the protocol's health
	// checks beside ejection, calls in flight and recent errors.
	Endpoints []EndpointStatus `json:"endpoints,omitempty"`
}

// Status reports the backend's breaker, calls in flight and retry budget.
func (b *Backend) Status() Status {
	active := b.active.Load()
	return Status{
		Breaker:              b.breaker.state(),
		InFlight:             active,
		Retrying:             b.retrying.Load(),
		RetryBudget:          max(int64(MinRetries), int64(math.Ceil(b.policy.Retry.Budget*float64(active)))),
		MaxConcurrent:        b.policy.MaxConcurrent,
		Streams:              b.activeStreams.Load(),
		MaxConcurrentStreams: b.policy.MaxConcurrentStreams,
		Hedges:               b.hedges.Load(),
		HedgesWon:            b.hedgesWon.Load(),
		LatencyP95:           float64(b.latency.p95.Load()) / float64(time.Millisecond),
		Endpoints:            b.endpointStatus(),
	}
}

// endpointStatus merges the protocol's view of its endpoints with the
// shared layer's.
func (b *Backend) endpointStatus() []EndpointStatus {
	if h, ok := b.next.(translate.HealthReporter); ok {
		return b.endpoints.status(h.EndpointHealth())
	}
	var listed []translate.EndpointHealth
	if b.endpoints.known != nil {
		for _, addr := range b.endpoints.known() {
			listed = append(listed, translate.EndpointHealth{Address: addr, Healthy: true})
		}
	}
	return b.endpoints.status(listed)
}

func verdictOf(failed bool) verdict {
	if failed {
		return verdictFailure
	}
	return verdictSuccess
}

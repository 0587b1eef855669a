package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBackend answers with the errors in script, in order, then successes.
type fakeBackend struct {
	mu     sync.Mutex
	script []error
	calls  atomic.Int32
	block  chan struct{} // when set, calls wait on it or their context
	// entered, when set, is closed by the first call, before it blocks.
	entered     chan struct{}
	enteredOnce sync.Once
}

func (f *fakeBackend) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	f.calls.Add(1)
	if f.entered != nil {
		f.enteredOnce.Do(func() { close(f.entered) })
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.script) > 0 {
		err := f.script[0]
		f.script = f.script[1:]
		if err != nil {
			return nil, err
		}
	}
	return &translate.Reply{Body: []byte("ok")}, nil
}

func (f *fakeBackend) Close() error { return nil }

func unavailable(msg string) error { return status.Error(codes.Unavailable, msg) }

func TestRetry(t *testing.T) {
	t.Parallel()
	retry := Retry{Attempts: 3, Backoff: time.Millisecond, On: []codes.Code{codes.Unavailable}}
	neverSent := func(msg string) error {
		return &translate.Error{Code: codes.Unavailable, Message: msg, Retryable: true}
	}
	tests := []struct {
		name       string
		script     []error
		retry      Retry
		idempotent bool
		wantCode   codes.Code
		wantCalls  int32
	}{
		{"succeeds after two unavailable with different messages", []error{unavailable("a"), unavailable("b")},
			retry, true, codes.OK, 3},
		{"gives up after attempts", []error{unavailable("a"), unavailable("b"), unavailable("c"), nil},
			retry, true, codes.Unavailable, 3},
		{"does not retry other codes", []error{status.Error(codes.NotFound, "no"), nil},
			retry, true, codes.NotFound, 1},
		{"no retry configured", []error{unavailable("a"), nil}, Retry{}, true, codes.Unavailable, 1},
		// A call that may have reached the application is sent once,
		// unless it is idempotent...
		{"not idempotent, maybe delivered", []error{unavailable("a"), nil}, retry, false, codes.Unavailable, 1},
		// ...while one that provably never left is retried either way.
		{"not idempotent, never sent", []error{neverSent("refused"), neverSent("refused"), nil}, retry, false, codes.OK, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeBackend{script: tt.script}
			b := Wrap("test", f, Policy{Retry: tt.retry}, nil)
			_, err := b.Invoke(context.Background(), &translate.Call{Idempotent: tt.idempotent})
			if got := translate.FromError(err); (err == nil) != (tt.wantCode == codes.OK) || (err != nil && got.Code != tt.wantCode) {
				t.Errorf("err = %v, want code %v", err, tt.wantCode)
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	t.Parallel()
	f := &fakeBackend{script: []error{unavailable("a"), unavailable("b"), unavailable("c")}}
	b := Wrap("test", f, Policy{Timeout: 30 * time.Millisecond,
		Retry: Retry{Attempts: 3, Backoff: time.Hour, On: []codes.Code{codes.Unavailable}}}, nil)
	start := time.Now()
	_, err := b.Invoke(context.Background(), &translate.Call{Idempotent: true})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %v; want a failure at the deadline, not after the backoff", err, time.Since(start))
	}
	if f.calls.Load() != 1 {
		t.Errorf("calls = %d, want 1", f.calls.Load())
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestBreaker(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(0, 0)}
	var changes []bool
	br := &breaker{failures: 3, probes: 1, cooldown: 10 * time.Second, now: clock.now, onChange: func(open bool) { changes = append(changes, open) }}

	// Successes reset the count: failures must be consecutive.
	for i := 0; i < 10; i++ {
		for _, failed := range []bool{true, true, false} {
			tk, ok := br.allow()
			if !ok {
				t.Fatal("breaker opened on non-consecutive failures")
			}
			br.done(tk, failed)
		}
	}
	// A slow call admitted while closed, finishing later.
	slow, _ := br.allow()
	for i := 0; i < 3; i++ {
		tk, ok := br.allow()
		if !ok {
			t.Fatalf("refused before the third failure (i=%d)", i)
		}
		br.done(tk, true)
	}
	if _, ok := br.allow(); ok {
		t.Fatal("breaker not open after 3 consecutive failures")
	}
	clock.t = clock.t.Add(11 * time.Second)
	probe, ok := br.allow()
	if !ok || !probe.probe {
		t.Fatal("half-open breaker refused the probe")
	}
	if _, ok := br.allow(); ok {
		t.Fatal("half-open breaker admitted a second caller while the probe runs")
	}
	br.done(slow, false) // the old call's success must not close it or free the probe slot
	if _, ok := br.allow(); ok {
		t.Fatal("a call admitted before the trip took the probe's place")
	}
	br.done(probe, true) // probe failed: open again
	if _, ok := br.allow(); ok {
		t.Fatal("breaker closed after a failed probe")
	}
	clock.t = clock.t.Add(11 * time.Second)
	probe, ok = br.allow()
	if !ok {
		t.Fatal("no probe after the second cooldown")
	}
	br.abandon(probe) // a cancelled probe frees the slot without deciding
	probe, ok = br.allow()
	if !ok {
		t.Fatal("abandoned probe kept the slot")
	}
	br.done(probe, false)
	tk, ok := br.allow()
	if !ok {
		t.Fatal("breaker still open after a successful probe")
	}
	br.done(tk, false)
	if want := []bool{true, false}; len(changes) != 2 || changes[0] != want[0] || changes[1] != want[1] {
		t.Errorf("state changes = %v, want %v", changes, want)
	}
}

// TestBreakerIgnoresCallerDeadlines: timeouts the caller chose shorter than
// the policy's cannot open the breaker for everyone.
func TestBreakerIgnoresCallerDeadlines(t *testing.T) {
	t.Parallel()
	f := &fakeBackend{block: make(chan struct{})}
	b := Wrap("lib", f, Policy{Timeout: time.Minute, Breaker: Breaker{Failures: 2, Cooldown: time.Minute}}, nil)
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := b.Invoke(ctx, &translate.Call{})
		cancel()
		if translate.FromError(err).Code != codes.DeadlineExceeded {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	close(f.block)
	if _, err := b.Invoke(context.Background(), &translate.Call{}); err != nil {
		t.Errorf("after caller timeouts: %v (the breaker opened)", err)
	}
}

func TestBreakerIgnoresClientErrors(t *testing.T) {
	t.Parallel()
	script := make([]error, 10)
	for i := range script {
		script[i] = status.Error(codes.NotFound, "missing")
	}
	f := &fakeBackend{script: script}
	b := Wrap("test", f, Policy{Breaker: Breaker{Failures: 2, Cooldown: time.Minute}}, nil)
	for i := 0; i < 10; i++ {
		_, err := b.Invoke(context.Background(), &translate.Call{})
		if translate.FromError(err).Code != codes.NotFound {
			t.Fatalf("call %d: %v, want NOT_FOUND (breaker must not open on client errors)", i, err)
		}
	}
}

func TestBreakerOpenIsUnavailable(t *testing.T) {
	t.Parallel()
	f := &fakeBackend{script: []error{unavailable("x"), unavailable("y")}}
	b := Wrap("lib", f, Policy{Breaker: Breaker{Failures: 2, Cooldown: time.Minute}}, nil)
	for i := 0; i < 2; i++ {
		_, _ = b.Invoke(context.Background(), &translate.Call{})
	}
	_, err := b.Invoke(context.Background(), &translate.Call{})
	e := translate.FromError(err)
	if e.Code != codes.Unavailable || e.Message != "circuit breaker open for backend lib" || f.calls.Load() != 2 {
		t.Errorf("got %v after %d calls; want the breaker to answer without calling", err, f.calls.Load())
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	f := &fakeBackend{block: make(chan struct{}), entered: make(chan struct{})}
	b := Wrap("lib", f, Policy{MaxConcurrent: 1}, nil)
	done := make(chan error, 1)
	go func() {
		_, err := b.Invoke(context.Background(), &translate.Call{})
		done <- err
	}()
	<-f.entered // the first call holds the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := b.Invoke(ctx, &translate.Call{})
	// The backend is full, not the client at fault: 503, not 429.
	if e := translate.FromError(err); e.Code != codes.Unavailable || e.Header.Get("Retry-After") == "" {
		t.Errorf("second call: %v, want UNAVAILABLE with Retry-After", err)
	}
	close(f.block)
	if err := <-done; err != nil {
		t.Errorf("first call: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause = %v, want the context's deadline", err)
	}
}

// unavailableAtDeadline fails the way a dial cut short by the caller's
// deadline does: UNAVAILABLE, once the deadline has passed.
type unavailableAtDeadline struct{ calls atomic.Int32 }

func (u *unavailableAtDeadline) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	if u.calls.Add(1) > 1 {
		return &translate.Reply{Body: []byte("ok")}, nil
	}
	<-ctx.Done()
	return nil, status.Error(codes.Unavailable, "dial tcp: i/o timeout")
}

func (u *unavailableAtDeadline) Close() error { return nil }

// TestBreakerIgnoresFailuresPastCallerDeadline: whatever code a failure
// carries, once the caller's own deadline has passed it is the caller's.
func TestBreakerIgnoresFailuresPastCallerDeadline(t *testing.T) {
	t.Parallel()
	u := &unavailableAtDeadline{}
	b := Wrap("lib", u, Policy{Timeout: time.Minute, Breaker: Breaker{Failures: 1, Cooldown: time.Minute}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err := b.Invoke(ctx, &translate.Call{})
	cancel()
	if err == nil {
		t.Fatal("the stalled call succeeded")
	}
	if _, err := b.Invoke(context.Background(), &translate.Call{}); err != nil {
		t.Errorf("the breaker opened on the caller's deadline: %v", err)
	}
}

// TestConcurrencyLimitOutOfTime: a call already out of time is a deadline,
// never a concurrency refusal, whether or not a slot is free.
func TestConcurrencyLimitOutOfTime(t *testing.T) {
	t.Parallel()
	b := Wrap("lib", &fakeBackend{}, Policy{MaxConcurrent: 4}, nil)
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		<-ctx.Done()
		_, err := b.Invoke(ctx, &translate.Call{})
		cancel()
		if c := translate.FromError(err).Code; c != codes.DeadlineExceeded {
			t.Fatalf("code %v, want DEADLINE_EXCEEDED", c)
		}
	}
}

// TestRetryBudget: with every call failing at once, the retries that may
// run together are capped at the budget's share of the calls in flight
// (20% of 50 = 10), so an outage is not multiplied by the retry count.
func TestRetryBudget(t *testing.T) {
	t.Parallel()
	const callers = 50
	f := &budgetProbe{first: callers, gate1: make(chan struct{}), gate2: make(chan struct{}),
		entered: make(chan struct{}, callers), blocked: make(chan struct{}, callers)}
	b := Wrap("lib", f, Policy{Retry: Retry{Attempts: 5, On: []codes.Code{codes.Unavailable}, Budget: 0.2}}, nil)
	returned := make(chan struct{}, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = b.Invoke(context.Background(), &translate.Call{Idempotent: true})
			returned <- struct{}{}
		}()
	}
	for range callers {
		<-f.entered // every first attempt is in flight
	}
	close(f.gate1) // and they all fail together
	retries, gaveUp := 0, 0
	for retries+gaveUp < callers {
		select {
		case <-f.blocked:
			retries++
		case <-returned:
			gaveUp++
		}
	}
	if retries > 10 || retries < MinRetries {
		t.Errorf("%d retries ran at once, want between %d and 10", retries, MinRetries)
	}
	close(f.gate2)
	wg.Wait()
	if total := f.calls.Load(); total > callers+10+10*4 {
		t.Errorf("%d backend calls for %d requests", total, callers)
	}
}

// budgetProbe fails the first `first` calls once gate1 opens, and holds
// every later call (a retry) until gate2 opens, saying so on blocked.
type budgetProbe struct {
	first            int32
	calls            atomic.Int32
	gate1, gate2     chan struct{}
	entered, blocked chan struct{}
}

func (p *budgetProbe) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	if p.calls.Add(1) <= p.first {
		p.entered <- struct{}{}
		<-p.gate1
	} else {
		select {
		case p.blocked <- struct{}{}:
		default:
		}
		<-p.gate2
	}
	return nil, status.Error(codes.Unavailable, "down")
}

func (p *budgetProbe) Close() error { return nil }

// TestPerTryTimeout: each attempt gets its own deadline, so a hung attempt
// is abandoned and retried within the overall timeout.
func TestPerTryTimeout(t *testing.T) {
	t.Parallel()
	f := &hangOnce{}
	b := Wrap("lib", f, Policy{Timeout: time.Minute,
		Retry: Retry{Attempts: 2, On: []codes.Code{codes.DeadlineExceeded}, PerTryTimeout: 50 * time.Millisecond}}, nil)
	if _, err := b.Invoke(context.Background(), &translate.Call{Idempotent: true}); err != nil {
		t.Fatalf("err = %v, want the second attempt to succeed", err)
	}
	if f.calls.Load() != 2 {
		t.Errorf("calls = %d, want 2", f.calls.Load())
	}
}

type hangOnce struct{ calls atomic.Int32 }

func (h *hangOnce) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	if h.calls.Add(1) == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &translate.Reply{}, nil
}

func (h *hangOnce) Close() error { return nil }

// TestBreakerOpenRetryAfter: an open breaker answers at once with how long
// it stays open.
func TestBreakerOpenRetryAfter(t *testing.T) {
	t.Parallel()
	f := &fakeBackend{script: []error{unavailable("a")}}
	b := Wrap("lib", f, Policy{Breaker: Breaker{Failures: 1, Cooldown: 30 * time.Second}}, nil)
	_, _ = b.Invoke(context.Background(), &translate.Call{})
	_, err := b.Invoke(context.Background(), &translate.Call{})
	if e := translate.FromError(err); e.Code != codes.Unavailable || e.Header.Get("Retry-After") != "30" {
		t.Errorf("err = %v, header %v; want UNAVAILABLE with Retry-After: 30", err, e.Header)
	}
}

// TestNoAttemptPastTheDeadline: once the call's own timeout has fired, no
// further attempt starts, whatever the backoff draws.
func TestNoAttemptPastTheDeadline(t *testing.T) {
	t.Parallel()
	for range 20 {
		f := &hangAlways{}
		b := Wrap("lib", f, Policy{Timeout: 5 * time.Millisecond,
			Retry: Retry{Attempts: 5, Backoff: time.Nanosecond, On: []codes.Code{codes.DeadlineExceeded}}}, nil)
		_, err := b.Invoke(context.Background(), &translate.Call{Idempotent: true})
		if translate.FromError(err).Code != codes.DeadlineExceeded {
			t.Fatalf("err = %v", err)
		}
		if n := f.calls.Load(); n != 1 {
			t.Fatalf("%d attempts, want 1: the others would start past the deadline", n)
		}
	}
}

// hangAlways holds every call until its context ends.
type hangAlways struct{ calls atomic.Int32 }

func (h *hangAlways) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h *hangAlways) Close() error { return nil }

// panicOnRetry fails the first call and panics on the second.
type panicOnRetry struct{ calls atomic.Int32 }

func (p *panicOnRetry) Invoke(context.Context, *translate.Call) (*translate.Reply, error) {
	if p.calls.Add(1) == 1 {
		return nil, unavailable("a")
	}
	panic("backend bug")
}

func (p *panicOnRetry) Close() error { return nil }

// TestRetryBudgetSurvivesPanics: a retry that panics (net/http recovers
// handler panics) gives its budget back.
func TestRetryBudgetSurvivesPanics(t *testing.T) {
	t.Parallel()
	b := Wrap("lib", &panicOnRetry{}, Policy{Retry: Retry{Attempts: 2, Backoff: time.Nanosecond, On: []codes.Code{codes.Unavailable}}}, nil)
	func() {
		defer func() { _ = recover() }()
		_, _ = b.Invoke(context.Background(), &translate.Call{Idempotent: true})
	}()
	if st := b.Status(); st.Retrying != 0 || st.InFlight != 0 {
		t.Errorf("after a panic: %+v, want nothing in flight", st)
	}
}

// TestHugeBackoff: no overflow or panic whatever the configured backoff.
func TestHugeBackoff(t *testing.T) {
	t.Parallel()
	b := Wrap("lib", &fakeBackend{}, Policy{Retry: Retry{Attempts: 10, Backoff: time.Duration(math.MaxInt64), On: []codes.Code{codes.Unavailable}}}, nil)
	for n := 1; n < 10; n++ {
		if d := b.backoff(n); d < 0 || d > maxBackoff {
			t.Errorf("backoff(%d) = %v", n, d)
		}
	}
}

// TestBreakerHalfOpenProbes: a half-open breaker admits at most Probes
// calls at once; the rest are refused at once, without a backend call.
func TestBreakerHalfOpenProbes(t *testing.T) {
	t.Parallel()
	for _, probes := range []int{1, 3} {
		t.Run(fmt.Sprint(probes), func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Unix(1000, 0)}
			f := &fakeBackend{script: []error{unavailable("down")}}
			b := Wrap("lib", f, Policy{Breaker: Breaker{Failures: 1, Cooldown: time.Second, Probes: probes}}, nil)
			b.breaker.now = clock.now
			b.Invoke(context.Background(), &translate.Call{})
			if st := b.Status().Breaker.State; st != "open" {
				t.Fatalf("breaker %s after a failure, want open", st)
			}
			clock.t = clock.t.Add(time.Second)
			f.calls.Store(0)
			f.block, f.entered = make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			var refused atomic.Int32
			for range 20 {
				wg.Go(func() {
					_, err := b.Invoke(context.Background(), &translate.Call{})
					if errors.Is(err, errBreakerOpen) || (err != nil && translate.FromError(err).Code == codes.Unavailable) {
						refused.Add(1)
					}
				})
			}
			<-f.entered
			// Refusals take no backend call: wait for them all.
			waitFor(t, func() bool { return refused.Load() >= int32(20-probes) })
			if got := f.calls.Load(); got != int32(probes) {
				t.Errorf("half-open admitted %d calls, want %d", got, probes)
			}
			if st := b.Status().Breaker; st.State != "half-open" || st.Probes != probes {
				t.Errorf("breaker = %+v, want half-open with %d probes", st, probes)
			}
			close(f.block)
			wg.Wait()
			if st := b.Status().Breaker.State; st != "closed" {
				t.Errorf("breaker %s after good probes, want closed", st)
			}
		})
	}
}

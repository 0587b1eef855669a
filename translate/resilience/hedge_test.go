package resilience

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate"
)

// scripted answers call n (from 1) as its fn says.
type scripted struct {
	calls atomic.Int32
	fn    func(ctx context.Context, n int32) (*translate.Reply, error)
}

func (s *scripted) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	return s.fn(ctx, s.calls.Add(1))
}

func (s *scripted) Close() error { return nil }

// slowFirst holds the first call for d (or until its context ends), and
// answers the others at once; each reply names its call.
func slowFirst(d time.Duration) *scripted {
	return &scripted{fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
		if n == 1 && d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &translate.Reply{Body: []byte{byte('0' + n)}}, nil
	}}
}

// TestHedgeCancelsTheLoser: the first attempt hangs, the hedge answers:
// the call succeeds with the hedge's reply, decoded once; the first
// attempt's context is cancelled, and neither the breaker nor the metrics
// count it as a failure.
func TestHedgeCancelsTheLoser(t *testing.T) {
	t.Parallel()
	firstEnded := make(chan error, 1)
	f := &scripted{fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
		if n == 1 {
			<-ctx.Done()
			firstEnded <- ctx.Err()
			return nil, status.Error(codes.Canceled, "cancelled")
		}
		return &translate.Reply{Body: []byte("hedge")}, nil
	}}
	m := observability.NewMetrics()
	b := Wrap("lib", f, Policy{Timeout: time.Minute, Breaker: Breaker{Failures: 1, Cooldown: time.Minute}}, m)
	var decoded []string
	reply, err := b.DoHedged(context.Background(), &translate.Call{Idempotent: true}, func(r *translate.Reply) error {
		decoded = append(decoded, string(r.Body))
		return nil
	}, Hedge{Delay: 5 * time.Millisecond, Max: 1})
	if err != nil || string(reply.Body) != "hedge" {
		t.Fatalf("reply %v, err %v; want the hedge's reply", reply, err)
	}
	if len(decoded) != 1 || decoded[0] != "hedge" {
		t.Errorf("decoded %q, want the winner's reply once", decoded)
	}
	select {
	case cause := <-firstEnded:
		if !errors.Is(cause, context.Canceled) {
			t.Errorf("first attempt ended with %v, want its context cancelled", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first attempt was not cancelled")
	}
	waitFor(t, func() bool { return b.Status().Retrying == 0 })
	st := b.Status()
	if st.Breaker.State != "closed" || st.Breaker.ConsecutiveFailures != 0 {
		t.Errorf("breaker %+v, want closed with no failure", st.Breaker)
	}
	if st.Hedges != 1 || st.HedgesWon != 1 {
		t.Errorf("hedges %d won %d, want 1 and 1", st.Hedges, st.HedgesWon)
	}
	if codes := backendCodes(t, m); len(codes) != 1 || codes["OK"] != 1 {
		t.Errorf("backend calls by code %v, want one OK and nothing else", codes)
	}
}

// TestHedgeWhen: which calls get a hedge. The first attempt takes 50ms
// and the delay is 1ms, so a hedge, when allowed, surely goes.
func TestHedgeWhen(t *testing.T) {
	t.Parallel()
	const slow = 50 * time.Millisecond
	tests := []struct {
		name       string
		first      time.Duration
		hedge      Hedge
		policy     Policy
		call       translate.Call
		warm       int // successful calls made first, for the p95
		spendRetry bool
		wantHedges int64
		wantBody   string
	}{
		{name: "slow attempt is hedged", first: slow, hedge: Hedge{Delay: time.Millisecond, Max: 1},
			call: translate.Call{Idempotent: true}, wantHedges: 1, wantBody: "2"},
		{name: "fast backend", first: 0, hedge: Hedge{Delay: time.Second, Max: 1},
			call: translate.Call{Idempotent: true}, wantBody: "1"},
		{name: "not idempotent", first: slow, hedge: Hedge{Delay: time.Millisecond, Max: 1},
			call: translate.Call{}, wantBody: "1"},
		{name: "one-way", first: slow, hedge: Hedge{Delay: time.Millisecond, Max: 1},
			call: translate.Call{Idempotent: true, Delivery: translate.DeliveryOneway}, wantBody: "1"},
		{name: "no hedge configured", first: slow, call: translate.Call{Idempotent: true}, wantBody: "1"},
		{name: "p95 with too few samples", first: slow, hedge: Hedge{P95: true, Max: 1}, warm: P95MinSamples - 1,
			call: translate.Call{Idempotent: true}, wantBody: "1"},
		{name: "p95 with enough samples", first: slow, hedge: Hedge{P95: true, Max: 1}, warm: P95MinSamples,
			call: translate.Call{Idempotent: true}, wantHedges: 1, wantBody: "2"},
		{name: "retry budget spent", first: slow, hedge: Hedge{Delay: time.Millisecond, Max: 1}, spendRetry: true,
			call: translate.Call{Idempotent: true}, wantBody: "1"},
		{name: "no free concurrency slot", first: slow, hedge: Hedge{Delay: time.Millisecond, Max: 1},
			policy: Policy{MaxConcurrent: 1}, call: translate.Call{Idempotent: true}, wantBody: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := slowFirst(tt.first)
			b := Wrap("lib", f, tt.policy, nil)
			if tt.warm > 0 {
				// Warm up on an instant backend, then put the slow one in.
				warm := &fakeBackend{}
				b.next = warm
				for range tt.warm {
					if _, err := b.Invoke(context.Background(), &translate.Call{}); err != nil {
						t.Fatal(err)
					}
				}
				b.next = f
			}
			if tt.spendRetry {
				// Every retry the budget allows is in flight elsewhere.
				b.retrying.Add(MinRetries)
				defer b.retrying.Add(-MinRetries)
			}
			call := tt.call
			reply, err := b.DoHedged(context.Background(), &call, nil, tt.hedge)
			if err != nil || string(reply.Body) != tt.wantBody {
				t.Fatalf("reply %v, err %v; want %q", reply, err, tt.wantBody)
			}
			if got := b.Status().Hedges; got != tt.wantHedges {
				t.Errorf("hedges = %d, want %d", got, tt.wantHedges)
			}
			if got := int64(f.calls.Load()); got != 1+tt.wantHedges {
				t.Errorf("backend calls = %d, want %d", got, 1+tt.wantHedges)
			}
			waitFor(t, func() bool { return b.Status().Retrying == (map[bool]int64{true: MinRetries})[tt.spendRetry] })
		})
	}
}

// TestHedgeOutcomes: how the copies' outcomes decide the call.
func TestHedgeOutcomes(t *testing.T) {
	t.Parallel()
	hang := func(ctx context.Context) (*translate.Reply, error) { <-ctx.Done(); return nil, ctx.Err() }
	tests := []struct {
		name       string
		fn         func(ctx context.Context, n int32) (*translate.Reply, error)
		hedge      Hedge
		wantCode   codes.Code
		wantBody   string
		wantHedges int64
	}{
		{
			// UNAVAILABLE from one copy (its endpoint is down) leaves the
			// race to the other.
			name: "a failed copy waits for the other",
			fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
				if n == 1 {
					time.Sleep(20 * time.Millisecond)
					return nil, unavailable("endpoint down")
				}
				time.Sleep(60 * time.Millisecond)
				return &translate.Reply{Body: []byte("2")}, nil
			},
			hedge: Hedge{Delay: time.Millisecond, Max: 1}, wantBody: "2", wantHedges: 1,
		},
		{
			// The backend answered, with an error: that is the reply.
			name: "an answer wins, error or not",
			fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
				if n == 1 {
					time.Sleep(20 * time.Millisecond)
					return nil, status.Error(codes.NotFound, "no such book")
				}
				return hang(ctx)
			},
			hedge: Hedge{Delay: time.Millisecond, Max: 1}, wantCode: codes.NotFound, wantHedges: 1,
		},
		{
			name: "two hedges",
			fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
				if n < 3 {
					return hang(ctx)
				}
				return &translate.Reply{Body: []byte("3")}, nil
			},
			hedge: Hedge{Delay: time.Millisecond, Max: 2}, wantBody: "3", wantHedges: 2,
		},
		{
			name: "every copy fails",
			fn: func(ctx context.Context, n int32) (*translate.Reply, error) {
				time.Sleep(time.Duration(n) * 20 * time.Millisecond)
				return nil, unavailable("down")
			},
			hedge: Hedge{Delay: time.Millisecond, Max: 1}, wantCode: codes.Unavailable, wantHedges: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &scripted{fn: tt.fn}
			b := Wrap("lib", f, Policy{Timeout: time.Minute}, nil)
			reply, err := b.DoHedged(context.Background(), &translate.Call{Idempotent: true}, nil, tt.hedge)
			if code := codes.OK; err != nil && translate.FromError(err).Code != tt.wantCode || err == nil && code != tt.wantCode {
				t.Fatalf("err = %v, want code %v", err, tt.wantCode)
			}
			if err == nil && string(reply.Body) != tt.wantBody {
				t.Errorf("reply %q, want %q", reply.Body, tt.wantBody)
			}
			if got := b.Status().Hedges; got != tt.wantHedges {
				t.Errorf("hedges = %d, want %d", got, tt.wantHedges)
			}
			waitFor(t, func() bool { return b.Status().Retrying == 0 })
		})
	}
}

// TestHedgedPanic: a copy that panics before any other wins panics the
// caller (net/http recovers it), as an unhedged attempt would, and gives
// its budget back.
func TestHedgedPanic(t *testing.T) {
	t.Parallel()
	f := &scripted{fn: func(context.Context, int32) (*translate.Reply, error) { panic("backend bug") }}
	b := Wrap("lib", f, Policy{}, nil)
	func() {
		defer func() {
			if p := recover(); p != "backend bug" {
				t.Errorf("recovered %v, want the backend's panic", p)
			}
		}()
		_, _ = b.DoHedged(context.Background(), &translate.Call{Idempotent: true}, nil, Hedge{Delay: time.Hour, Max: 1})
	}()
	if st := b.Status(); st.Retrying != 0 || st.InFlight != 0 {
		t.Errorf("after a panic: %+v, want nothing in flight", st)
	}
}

// TestLatencyP95: the p95 of the ring, none below the minimum of samples.
func TestLatencyP95(t *testing.T) {
	t.Parallel()
	var l latencies
	for i := 1; i < P95MinSamples; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	if l.p95.Load() != 0 {
		t.Fatalf("p95 %v with %d samples", time.Duration(l.p95.Load()), P95MinSamples-1)
	}
	for i := P95MinSamples; i <= 100; i++ {
		l.add(time.Duration(i) * time.Millisecond)
	}
	if got := time.Duration(l.p95.Load()); got != 95*time.Millisecond {
		t.Errorf("p95 of 1..100ms = %v, want 95ms", got)
	}
	for range 10 * latencyRing {
		l.add(time.Millisecond) // the old latencies leave the ring
	}
	if got := time.Duration(l.p95.Load()); got != time.Millisecond {
		t.Errorf("p95 = %v after the backend sped up, want 1ms", got)
	}
}

// waitFor polls cond: a loser ends on its own after the call returns.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
	}
}

// backendCodes are switchboard_backend_calls_total by code.
func backendCodes(t *testing.T, m *observability.Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_backend_calls_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if strings.EqualFold(lp.GetName(), "code") {
					out[lp.GetValue()] += mt.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

package ratelimit

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: closed Redis
// clients, stopped servers, silent listeners. go-redis probes a server it
// could not dial once a second from a goroutine that notices a closed
// client only after its sleep; that one may outlive Close briefly.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}

// fakeClock drives a Memory's clock by hand.
type fakeClock struct{ now time.Duration }

func (c *fakeClock) advance(d time.Duration) { c.now += d }

// memoryAt is a Memory whose clock is c.
func memoryAt(c *fakeClock, maxKeys, shards int) *Memory {
	m := newMemory(maxKeys, shards)
	m.now = func() int64 { return int64(c.now) }
	return m
}

func allowed(remaining int64, reset time.Duration) Decision {
	return Decision{Allowed: true, Remaining: remaining, Reset: reset}
}

func refused(retryAfter, reset time.Duration) Decision {
	return Decision{RetryAfter: retryAfter, Reset: reset}
}

func TestGCRA(t *testing.T) {
	const ms = time.Millisecond
	type step struct {
		advance time.Duration // before the Take
		want    Decision
	}
	tests := []struct {
		name  string
		limit Limit
		steps []step
	}{{
		name:  "fresh key allows exactly Burst at once",
		limit: Limit{Rate: 10, Per: time.Second, Burst: 5},
		steps: []step{
			{0, allowed(4, 100*ms)},
			{0, allowed(3, 200*ms)},
			{0, allowed(2, 300*ms)},
			{0, allowed(1, 400*ms)},
			{0, allowed(0, 500*ms)},
			{0, refused(100*ms, 500*ms)},
			{0, refused(100*ms, 500*ms)},
		},
	}, {
		name:  "after the burst, one per emission interval",
		limit: Limit{Rate: 10, Per: time.Second, Burst: 3},
		steps: []step{
			{0, allowed(2, 100*ms)},
			{0, allowed(1, 200*ms)},
			{0, allowed(0, 300*ms)},
			{0, refused(100*ms, 300*ms)}, // RetryAfter is the emission interval
			{100 * ms, allowed(0, 300*ms)},
			{0, refused(100*ms, 300*ms)},
			{50 * ms, refused(50*ms, 250*ms)},
			{50 * ms, allowed(0, 300*ms)},
		},
	}, {
		name:  "refill: part of the bucket, then all of it",
		limit: Limit{Rate: 10, Per: time.Second, Burst: 3},
		steps: []step{
			{0, allowed(2, 100*ms)},
			{0, allowed(1, 200*ms)},
			{0, allowed(0, 300*ms)},
			// 250ms later two and a half intervals have drained; this
			// request takes one of the two whole ones.
			{250 * ms, allowed(1, 150*ms)},
			{0, allowed(0, 250*ms)},
			{0, refused(50*ms, 250*ms)},
			{time.Hour, allowed(2, 100*ms)},
		},
	}, {
		name:  "refusals take nothing",
		limit: Limit{Rate: 1, Per: time.Second, Burst: 2},
		steps: []step{
			{0, allowed(1, time.Second)},
			{0, allowed(0, 2*time.Second)},
			{0, refused(time.Second, 2*time.Second)},
			{0, refused(time.Second, 2*time.Second)},
			{0, refused(time.Second, 2*time.Second)},
			{time.Second, allowed(0, 2*time.Second)},
		},
	}, {
		name:  "fractional rate: 0.5 per second",
		limit: Limit{Rate: 0.5, Per: time.Second, Burst: 1},
		steps: []step{
			{0, allowed(0, 2*time.Second)},
			{0, refused(2*time.Second, 2*time.Second)},
			{time.Second, refused(time.Second, time.Second)},
			{time.Second, allowed(0, 2*time.Second)},
		},
	}, {
		name:  "per minute",
		limit: Limit{Rate: 30, Per: time.Minute, Burst: 2},
		steps: []step{
			{0, allowed(1, 2*time.Second)},
			{0, allowed(0, 4*time.Second)},
			{0, refused(2*time.Second, 4*time.Second)},
			{1500 * ms, refused(500*ms, 2500*ms)},
			{500 * ms, allowed(0, 4*time.Second)},
			{4 * time.Second, allowed(1, 2*time.Second)},
		},
	}, {
		name:  "burst 1 is a plain rate",
		limit: Limit{Rate: 4, Per: time.Second, Burst: 1},
		steps: []step{
			{0, allowed(0, 250*ms)},
			{0, refused(250*ms, 250*ms)},
			{249 * ms, refused(1*ms, 1*ms)},
			{1 * ms, allowed(0, 250*ms)},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Hour} // not 0: a fresh key must not depend on it
			m := memoryAt(clock, 0, memoryShards)
			for i, s := range tt.steps {
				clock.advance(s.advance)
				got, err := m.Take(context.Background(), "k", tt.limit)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != s.want {
					t.Errorf("step %d (+%s): got %+v, want %+v", i, s.advance, got, s.want)
				}
			}
		})
	}
}

func TestGCRAKeysAreSeparate(t *testing.T) {
	clock := &fakeClock{}
	m := memoryAt(clock, 0, memoryShards)
	l := Limit{Rate: 1, Per: time.Second, Burst: 1}
	for _, key := range []string{"a", "b", "login|a"} {
		if d, _ := m.Take(context.Background(), key, l); !d.Allowed {
			t.Errorf("first Take of %q refused", key)
		}
	}
	if d, _ := m.Take(context.Background(), "a", l); d.Allowed {
		t.Error("second Take of \"a\" allowed")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		limit Limit
		want  []string // in the message; none for a valid limit
	}{
		{Limit{Rate: 200, Per: time.Second, Burst: 50}, nil},
		{Limit{Rate: 0.5, Per: time.Second, Burst: 1}, nil},
		{Limit{Rate: 1, Per: time.Minute, Burst: 1}, nil},
		{Limit{Rate: 1e6, Per: time.Second, Burst: 1}, nil}, // one per µs exactly
		{Limit{Rate: 1, Per: 24 * time.Hour, Burst: 36500}, nil},
		{Limit{Rate: 0, Per: time.Second, Burst: 1}, []string{"rate must"}},
		{Limit{Rate: -1, Per: time.Second, Burst: 1}, []string{"rate must"}},
		{Limit{Rate: math.NaN(), Per: time.Second, Burst: 1}, []string{"rate must", "NaN"}},
		{Limit{Rate: math.Inf(1), Per: time.Second, Burst: 1}, []string{"rate must", "+Inf"}},
		{Limit{Rate: math.Inf(-1), Per: time.Second, Burst: 1}, []string{"rate must"}},
		{Limit{Rate: 1, Per: 0, Burst: 1}, []string{"per must"}},
		{Limit{Rate: 1, Per: -time.Second, Burst: 1}, []string{"per must"}},
		{Limit{Rate: 1, Per: time.Second, Burst: 0}, []string{"burst must"}},
		{Limit{Rate: 1, Per: time.Second, Burst: -5}, []string{"burst must"}},
		{Limit{}, []string{"rate must", "per must", "burst must"}},
		{Limit{Rate: 2e6, Per: time.Second, Burst: 1}, []string{"more than one request per 1µs"}},
		{Limit{Rate: 1e-300, Per: time.Second, Burst: 1}, []string{"to refill"}},
		{Limit{Rate: 1, Per: time.Hour, Burst: math.MaxInt64}, []string{"to refill"}},
		{Limit{Rate: 1, Per: 24 * time.Hour, Burst: 36600}, []string{"to refill"}},
	}
	for _, tt := range tests {
		err := tt.limit.Validate()
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.limit, err)
		case tt.want != nil && err == nil:
			t.Errorf("%s: Validate() = nil, want an error", tt.limit)
		case err != nil:
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: Validate() = %q, want it to say %q", tt.limit, err, w)
				}
			}
		}
		// Take refuses what Validate refuses, and does not panic.
		if _, takeErr := NewMemory(1).Take(context.Background(), "k", tt.limit); (takeErr == nil) != (err == nil) {
			t.Errorf("%s: Take error %v, Validate error %v", tt.limit, takeErr, err)
		}
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		limit Limit
		want  time.Duration
	}{
		{Limit{Rate: 200, Per: time.Second, Burst: 50}, 250 * time.Millisecond},
		{Limit{Rate: 0.5, Per: time.Second, Burst: 1}, 2 * time.Second},
		{Limit{Rate: 30, Per: time.Minute, Burst: 10}, 20 * time.Second},
		// The emission interval is rounded to the nanosecond first.
		{Limit{Rate: 3, Per: time.Second, Burst: 3}, 3 * 333333333},
		{Limit{Rate: 0, Per: time.Second, Burst: 3}, 0},
	}
	for _, tt := range tests {
		if got := tt.limit.Window(); got != tt.want {
			t.Errorf("%s: Window() = %s, want %s", tt.limit, got, tt.want)
		}
	}
}

func TestBoundKey(t *testing.T) {
	short := strings.Repeat("k", MaxKeyLen)
	if got := boundKey(short); got != short {
		t.Errorf("a %d-byte key was changed to %q", len(short), got)
	}
	if got := boundKey(""); got != "" {
		t.Errorf("the empty key was changed to %q", got)
	}
	long := short + "k"
	// python3 -c "import hashlib; print(hashlib.sha256(b'k'*257).hexdigest())"
	const want = "sha256:a5de0e3c93b4322bf1d2e6cc13119219d665142374de7f2b06bae237759c73e2"
	got := boundKey(long)
	if got != want {
		t.Errorf("boundKey(257 bytes) = %q, want %q", got, want)
	}
	if boundKey(long) != got || boundKey(long+"x") == got {
		t.Error("boundKey is not a function of the whole key")
	}
}

// TestGCRAArithmetic checks gcra against the proof of its bound: over any
// run of requests, the ones allowed number at most Burst plus the whole
// intervals between the first and the last.
func TestGCRAArithmetic(t *testing.T) {
	const interval, burst = 7, 4
	var tat int64
	first, n := int64(-1), int64(0)
	for now := int64(0); now < 1000; now += now%3 + 1 {
		s := gcra(tat, now, interval, burst)
		if !s.allowed {
			continue
		}
		tat = s.tat
		if first < 0 {
			first = now
		}
		n++
		if bound := burst + (now-first)/interval; n > bound {
			t.Fatalf("at %d: %d allowed since %d, bound %d", now, n, first, bound)
		}
	}
}

package resilience

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// pooledBackend balances over its endpoints as a protocol does, through
// translate.Choose, and fails every call to an endpoint marked down.
type pooledBackend struct {
	addrs []string
	next  atomic.Uint32
	mu    sync.Mutex
	down  map[string]bool
	calls map[string]int
	// hold, when set, blocks calls until closed (or their context ends);
	// arrived gets one value per blocked call.
	hold    chan struct{}
	arrived chan string
	// sticky starts every pick at the first endpoint, as a balancer that
	// has one favourite would.
	sticky bool
}

func newPooled(n int) *pooledBackend {
	p := &pooledBackend{down: map[string]bool{}, calls: map[string]int{}}
	for i := range n {
		p.addrs = append(p.addrs, fmt.Sprintf("10.0.0.%d:9000", i+1))
	}
	return p
}

func (p *pooledBackend) Endpoints() []string { return p.addrs }

func (p *pooledBackend) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	first := int(p.next.Add(1)) % len(p.addrs)
	if p.sticky {
		first = 0
	}
	addr := p.addrs[translate.Choose(ctx, len(p.addrs), first, func(i int) string { return p.addrs[i] })]
	p.mu.Lock()
	p.calls[addr]++
	down, hold := p.down[addr], p.hold
	p.mu.Unlock()
	if hold != nil {
		p.arrived <- addr
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, &translate.Error{Code: codes.Canceled, Endpoint: addr}
		}
	}
	if down {
		return nil, &translate.Error{Code: codes.Unavailable, Message: "down", Endpoint: addr}
	}
	return &translate.Reply{Body: []byte("ok"), Endpoint: addr}, nil
}

func (p *pooledBackend) Close() error { return nil }

func (p *pooledBackend) set(addr string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[addr] = down
}

// callsTo returns and resets the calls each endpoint took.
func (p *pooledBackend) callsTo() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls = map[string]int{}
	return c
}

func stateOf(b *Backend, addr string) EndpointStatus {
	for _, st := range b.Status().Endpoints {
		if st.Address == addr {
			return st
		}
	}
	return EndpointStatus{}
}

func callN(t *testing.T, b *Backend, n int) (failed int) {
	t.Helper()
	for range n {
		if _, err := b.Invoke(context.Background(), &translate.Call{}); err != nil {
			failed++
		}
	}
	return failed
}

// TestOutlierEjection: a failing endpoint is ejected after Failures in a
// row, calls go elsewhere, it comes back on probation when its time is up,
// a failed probe ejects it for longer, a good one brings it back.
func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pool := newPooled(3)
	bad := pool.addrs[1]
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 3, BaseEjection: 10 * time.Second}}, nil)
	b.endpoints.now = clock.now
	pool.set(bad, true)

	// Round robin sends every third call to the bad endpoint: after its
	// third failure it is out.
	if failed := callN(t, b, 9); failed != 3 {
		t.Fatalf("%d of 9 calls failed, want 3 (one per visit to the bad endpoint until ejected)", failed)
	}
	if st := stateOf(b, bad); st.State != "ejected" || st.Ejections != 1 || !st.EjectedUntil.Equal(clock.t.Add(10*time.Second)) {
		t.Fatalf("bad endpoint = %+v, want ejected once for 10s", st)
	}
	pool.callsTo()
	if failed := callN(t, b, 30); failed != 0 {
		t.Fatalf("%d calls failed while the bad endpoint was ejected", failed)
	}
	if c := pool.callsTo(); c[bad] != 0 || c[pool.addrs[0]] == 0 || c[pool.addrs[2]] == 0 {
		t.Fatalf("calls while ejected = %v, want none to %s and some to each other", c, bad)
	}

	// Time up: on probation; still failing, one call ejects it again, for
	// twice as long.
	clock.t = clock.t.Add(10 * time.Second)
	if st := stateOf(b, bad); st.State != "probation" {
		t.Fatalf("after its ejection = %+v, want probation", st)
	}
	if failed := callN(t, b, 3); failed != 1 {
		t.Fatalf("%d of 3 calls failed on probation, want 1 (the probe)", failed)
	}
	if st := stateOf(b, bad); st.State != "ejected" || st.Ejections != 2 || !st.EjectedUntil.Equal(clock.t.Add(20*time.Second)) {
		t.Fatalf("after a failed probe = %+v, want ejected a second time for 20s", st)
	}

	// Repaired: the probe succeeds and it takes its share again.
	pool.set(bad, false)
	clock.t = clock.t.Add(20 * time.Second)
	pool.callsTo()
	if failed := callN(t, b, 30); failed != 0 {
		t.Fatalf("%d calls failed after the repair", failed)
	}
	if st := stateOf(b, bad); st.State != "in" || st.ConsecutiveFailures != 0 {
		t.Fatalf("after a good probe = %+v, want in", st)
	}
	if c := pool.callsTo(); c[bad] < 5 {
		t.Fatalf("calls after return = %v, want the repaired endpoint to take its share", c)
	}
}

// TestOutlierEjectionCap: never more than MaxEjectedPercent of the
// endpoints, and never all of them, are out at once.
func TestOutlierEjectionCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoints, down, percent, wantOut int
	}{
		{1, 1, 100, 0}, // the only endpoint: the backend breaker's job
		{2, 2, 100, 1}, // never all
		{4, 4, 50, 2},
		{10, 3, 10, 1}, // at least one, whatever the share
		{4, 1, 50, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d endpoints, %d down, %d%%", tt.endpoints, tt.down, tt.percent), func(t *testing.T) {
			t.Parallel()
			pool := newPooled(tt.endpoints)
			for _, addr := range pool.addrs[:tt.down] {
				pool.set(addr, true)
			}
			b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 1, MaxEjectedPercent: tt.percent}}, nil)
			callN(t, b, 10*tt.endpoints)
			out := 0
			for _, st := range b.Status().Endpoints {
				if st.State == "ejected" {
					out++
				}
			}
			if out != tt.wantOut {
				t.Errorf("%d endpoints ejected, want %d", out, tt.wantOut)
			}
		})
	}
}

// TestOutlierProbationProbes: an endpoint back from ejection takes at
// most Probes calls at once until one of them succeeds.
func TestOutlierProbationProbes(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pool := newPooled(2)
	bad := pool.addrs[0]
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 1, BaseEjection: time.Second, Probes: 2}}, nil)
	b.endpoints.now = clock.now
	pool.set(bad, true)
	callN(t, b, 2)
	if st := stateOf(b, bad); st.State != "ejected" {
		t.Fatalf("bad endpoint = %+v, want ejected", st)
	}
	pool.set(bad, false)
	clock.t = clock.t.Add(time.Second)
	pool.callsTo()
	hold := make(chan struct{})
	pool.mu.Lock()
	pool.hold, pool.arrived = hold, make(chan string, 20)
	pool.mu.Unlock()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { b.Invoke(context.Background(), &translate.Call{}) })
	}
	for range 10 {
		<-pool.arrived
	}
	if c := pool.callsTo(); c[bad] != 2 {
		t.Errorf("calls on probation = %v, want exactly 2 (the probes) to %s", c, bad)
	}
	close(hold)
	wg.Wait()
	if st := stateOf(b, bad); st.State != "in" {
		t.Errorf("after good probes = %+v, want in", st)
	}
}

// TestOutlierIgnoresCallers: calls the caller cancelled say nothing of the
// endpoint.
func TestOutlierIgnoresCallers(t *testing.T) {
	t.Parallel()
	pool := newPooled(2)
	pool.hold, pool.arrived = make(chan struct{}), make(chan string, 20)
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 1}}, nil)
	for range 6 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.Invoke(ctx, &translate.Call{})
		}()
		<-pool.arrived
		cancel()
		<-done
	}
	for _, st := range b.Status().Endpoints {
		if st.State != "in" || st.Calls != 0 || st.InFlight != 0 {
			t.Errorf("%+v: cancelled calls counted against the endpoint", st)
		}
	}
}

// TestHedgeGoesElsewhere: a hedge goes to another endpoint than the copy
// it races.
func TestHedgeGoesElsewhere(t *testing.T) {
	t.Parallel()
	pool := newPooled(2)
	hold := make(chan struct{})
	pool.hold, pool.arrived, pool.sticky = hold, make(chan string, 4), true
	b := Wrap("lib", pool, Policy{}, nil)
	done := make(chan error)
	go func() {
		_, err := b.DoHedged(context.Background(), &translate.Call{Idempotent: true}, nil, Hedge{Delay: time.Millisecond, Max: 1})
		done <- err
	}()
	first, second := <-pool.arrived, <-pool.arrived
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Errorf("the hedge went to %s, the endpoint it races", second)
	}
}

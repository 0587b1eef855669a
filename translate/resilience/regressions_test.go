package resilience

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/translate"
)

// An endpoint on probation counts as out for the ejection cap: else the
// other one could be ejected too, every endpoint would be refused, and the
// fallback would send unbounded calls to both.
func TestOutlierProbationCountsAgainstTheCap(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pool := newPooled(2)
	a, bb := pool.addrs[0], pool.addrs[1]
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 1, BaseEjection: time.Second, Probes: 1, MaxEjectedPercent: 50}}, nil)
	b.endpoints.now = clock.now
	s := b.endpoints

	// A fails once: ejected.
	p := &pick{set: s}
	if !p.Admit(a) {
		t.Fatal("a refused")
	}
	p.done(verdictFailure, "")
	if st := stateOf(b, a); st.State != "ejected" {
		t.Fatalf("a = %+v, want ejected", st)
	}
	clock.t = clock.t.Add(2 * time.Second)
	// A back on probation; its one probe goes out and hangs.
	probe := &pick{set: s}
	if !probe.Admit(a) {
		t.Fatal("probe refused")
	}
	// B fails once: the cap (1 of 2) should keep it in, since A is not
	// in rotation.
	q := &pick{set: s}
	if !q.Admit(bb) {
		t.Fatal("b refused")
	}
	q.done(verdictFailure, "")
	t.Logf("a: %+v", stateOf(b, a))
	t.Logf("b: %+v", stateOf(b, bb))
	if st := stateOf(b, bb); st.State == "ejected" {
		t.Errorf("b ejected while a is on probation with its probe out: no endpoint left in rotation")
	}
	// Now ten more calls at once: where do they go?
	var picks []*pick
	for i := range 10 {
		p := &pick{set: s}
		ctx := translate.WithEndpointChooser(context.Background(), p)
		translate.Choose(ctx, 2, i%2, func(i int) string { return pool.addrs[i] })
		picks = append(picks, p)
	}
	sa, sb := stateOf(b, a), stateOf(b, bb)
	t.Logf("in flight: a (probation, probes: 1) %d, b (ejected) %d", sa.InFlight, sb.InFlight)
	if sa.InFlight > 1 {
		t.Errorf("a on probation has %d calls in flight, outlier.probes is 1", sa.InFlight)
	}
	for _, p := range picks {
		p.done(verdictNeutral, "")
	}
	probe.done(verdictNeutral, "")
}

// An ejected endpoint's share is spread over the others, not handed whole
// to its neighbour in the ring.
func TestOutlierEjectedShareIsSpread(t *testing.T) {
	pool := newPooled(4)
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 1, BaseEjection: time.Hour}}, nil)
	pool.set(pool.addrs[1], true)
	callN(t, b, 8)
	pool.set(pool.addrs[1], false)
	pool.callsTo()
	callN(t, b, 300)
	c := pool.callsTo()
	t.Logf("calls with %s ejected: %v", pool.addrs[1], c)
	if c[pool.addrs[2]] > c[pool.addrs[0]]*3/2 {
		t.Errorf("%s took %d calls, %s %d: the ejected endpoint's share all went to its neighbour",
			pool.addrs[2], c[pool.addrs[2]], pool.addrs[0], c[pool.addrs[0]])
	}
}

// With probes: 2, one probe succeeding brings the endpoint back in; the
// other, failing later, is an ordinary failure, not a failed probe.
func TestOutlierStaleProbeIsAnOrdinaryFailure(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pool := newPooled(3)
	a := pool.addrs[0]
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 3, BaseEjection: time.Second, Probes: 2}}, nil)
	b.endpoints.now = clock.now
	s := b.endpoints
	for range 3 {
		p := &pick{set: s}
		p.Admit(a)
		p.done(verdictFailure, "")
	}
	clock.t = clock.t.Add(2 * time.Second)
	p1, p2 := &pick{set: s}, &pick{set: s}
	if !p1.Admit(a) || !p2.Admit(a) {
		t.Fatal("probes refused")
	}
	p1.done(verdictSuccess, "")
	if st := stateOf(b, a); st.State != "in" {
		t.Fatalf("after a good probe: %+v", st)
	}
	p2.done(verdictFailure, "")
	if st := stateOf(b, a); st.State != "in" {
		t.Errorf("an endpoint back in (and with outlier.failures 3) ejected by one stale probe's failure: %+v", st)
	}
}

// A hedge avoids the endpoint of a copy of the same call that already
// finished, not only of those still running.
func TestHedgeAvoidsFinishedCopysEndpoint(t *testing.T) {
	pool := newPooled(3)
	b := Wrap("lib", pool, Policy{}, nil)
	s := b.endpoints
	r := &race{}
	p1 := &pick{set: s, race: r}
	r.picks = append(r.picks, p1)
	p1.Admit(pool.addrs[0])
	p1.done(verdictFailure, "") // failed softly, the race goes on
	p3 := &pick{set: s, race: r}
	r.picks = append(r.picks, p3)
	if p3.Admit(pool.addrs[0]) {
		t.Errorf("third copy admitted to %s, where the first copy went", pool.addrs[0])
	}
	p3.done(verdictNeutral, "")
}

// Many concurrent calls, hedged, with ejections and the admin view: under
// -race, and every counter back to zero at the end.
func TestEndpointCountsDoNotDrift(t *testing.T) {
	pool := newPooled(3)
	b := Wrap("lib", pool, Policy{Outlier: Outlier{Failures: 2, BaseEjection: 100 * time.Millisecond, Probes: 1},
		Breaker: Breaker{Failures: 50, Cooldown: 50 * time.Millisecond, Probes: 2}}, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = b.Status()
			pool.set(pool.addrs[1], time.Now().UnixNano()%3 == 0)
			time.Sleep(time.Millisecond)
		}
	})
	var calls sync.WaitGroup
	for g := range 16 {
		calls.Go(func() {
			for i := range 200 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+(g+i)%5)*time.Millisecond)
				_, _ = b.DoHedged(ctx, &translate.Call{Idempotent: true, Delivery: translate.DeliveryReply}, nil, Hedge{Delay: 10 * time.Microsecond, Max: 2})
				cancel()
			}
		})
	}
	calls.Wait()
	close(stop)
	wg.Wait()
	// Hedges may still be finishing: wait for the last to give back its
	// endpoint.
	waitFor(t, func() bool {
		b.endpoints.mu.Lock()
		defer b.endpoints.mu.Unlock()
		for _, ep := range b.endpoints.state {
			if ep.inFlight != 0 || ep.probes != 0 {
				return false
			}
		}
		return true
	})
	b.endpoints.mu.Lock()
	defer b.endpoints.mu.Unlock()
	for addr, ep := range b.endpoints.state {
		if ep.inFlight != 0 || ep.probes != 0 {
			t.Errorf("%s: in flight %d, probes %d after all calls ended", addr, ep.inFlight, ep.probes)
		}
	}
	b.breaker.mu.Lock()
	defer b.breaker.mu.Unlock()
	if b.breaker.probing < 0 || b.breaker.probing > b.breaker.probes {
		t.Errorf("breaker probing %d", b.breaker.probing)
	}
}

// panicky picks an endpoint through the chooser, then panics (a protocol
// or decode bug; net/http recovers handler panics and the gateway goes on).
type panicky struct{ addrs []string }

func (p *panicky) Endpoints() []string { return p.addrs }
func (p *panicky) Invoke(ctx context.Context, _ *translate.Call) (*translate.Reply, error) {
	translate.Choose(ctx, len(p.addrs), 0, func(i int) string { return p.addrs[i] })
	panic("bug")
}
func (p *panicky) Close() error { return nil }

// A panicking attempt gives back its endpoint's in-flight count and, on
// probation, its probe slot: else the endpoint would stay on probation for
// good, refused by Admit.
func TestPanicFreesProbeSlot(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	pp := &panicky{addrs: []string{"10.0.0.1:1", "10.0.0.2:1"}}
	b := Wrap("lib", pp, Policy{Outlier: Outlier{Failures: 1, BaseEjection: time.Second}}, nil)
	b.endpoints.now = clock.now
	p := &pick{set: b.endpoints}
	p.Admit(pp.addrs[0])
	p.done(verdictFailure, "")
	clock.t = clock.t.Add(2 * time.Second)
	func() {
		defer func() { _ = recover() }()
		_, _ = b.Invoke(context.Background(), &translate.Call{})
	}()
	st := stateOf(b, pp.addrs[0])
	t.Logf("after the panic: %+v", st)
	if st.InFlight != 0 {
		t.Errorf("in flight %d after the call panicked", st.InFlight)
	}
	q := &pick{set: b.endpoints}
	if !q.Admit(pp.addrs[0]) {
		t.Errorf("endpoint on probation refuses every probe: its only slot leaked with the panic")
	}
	q.done(verdictNeutral, "")
}

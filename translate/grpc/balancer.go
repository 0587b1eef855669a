package grpc

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/attributes"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/base"
	"google.golang.org/grpc/resolver"

	"github.com/switchboard-gw/switchboard/translate"
)

// Our own balancers, on grpc-go's base balancer (one SubConn per address,
// client-side health checking when the service config asks for it): the
// picker must offer endpoints to the resilience layer's EndpointChooser,
// which ejects failing endpoints. grpc-go's own outlier detection is only
// reachable through its xDS packages.
const (
	roundRobinBalancer   = "switchboard_round_robin"
	leastRequestBalancer = "switchboard_least_request"
)

func init() {
	balancer.Register(base.NewBalancerBuilder(roundRobinBalancer, pickerBuilder{}, base.Config{HealthCheck: true}))
	balancer.Register(base.NewBalancerBuilder(leastRequestBalancer, pickerBuilder{leastRequest: true}, base.Config{HealthCheck: true}))
}

// endpointTracker is shared by one backend's addresses (through their
// balancer attributes): which are ready, as the last picker saw them.
type endpointTracker struct {
	mu    sync.Mutex
	ready map[string]bool
}

type trackerKey struct{}

// loadKey holds an address's calls in flight, for least request; it lives
// in the address, so that it outlives pickers.
type loadKey struct{}

// withBalancerState gives each address the backend's tracker and its own
// load counter.
func withBalancerState(addrs []resolver.Address, t *endpointTracker) {
	for i := range addrs {
		addrs[i].BalancerAttributes = attributes.New(trackerKey{}, t).WithValue(loadKey{}, new(atomic.Int64))
	}
}

type pickerBuilder struct{ leastRequest bool }

func (pb pickerBuilder) Build(info base.PickerBuildInfo) balancer.Picker {
	if len(info.ReadySCs) == 0 {
		return base.NewErrPicker(balancer.ErrNoSubConnAvailable)
	}
	p := &picker{leastRequest: pb.leastRequest, next: rand.Uint32()}
	ready := map[string]bool{}
	var tracker *endpointTracker
	for sc, sci := range info.ReadySCs {
		load, _ := sci.Address.BalancerAttributes.Value(loadKey{}).(*atomic.Int64)
		if load == nil {
			load = new(atomic.Int64)
		}
		p.ready = append(p.ready, readySubConn{sc: sc, addr: sci.Address.Addr, load: load})
		ready[sci.Address.Addr] = true
		if t, ok := sci.Address.BalancerAttributes.Value(trackerKey{}).(*endpointTracker); ok {
			tracker = t
		}
	}
	if tracker != nil {
		tracker.mu.Lock()
		tracker.ready = ready
		tracker.mu.Unlock()
	}
	return p
}

type readySubConn struct {
	sc   balancer.SubConn
	addr string
	load *atomic.Int64
}

type picker struct {
	ready        []readySubConn
	leastRequest bool
	next         uint32 // atomically incremented
}

// Pick starts at the next address round robin, or with least request at
// the less loaded of two chosen at random (power of two choices), and
// offers the addresses from there to the attempt's EndpointChooser.
func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	n := len(p.ready)
	first := int(atomic.AddUint32(&p.next, 1) % uint32(n))
	if p.leastRequest && n > 1 {
		a, b := rand.IntN(n), rand.IntN(n-1)
		if b >= a {
			b++
		}
		if p.ready[b].load.Load() < p.ready[a].load.Load() {
			a = b
		}
		first = a
	}
	i := translate.Choose(info.Ctx, n, first, p.addr)
	r := p.ready[i]
	if !p.leastRequest {
		return balancer.PickResult{SubConn: r.sc}, nil
	}
	r.load.Add(1)
	return balancer.PickResult{SubConn: r.sc, Done: func(balancer.DoneInfo) { r.load.Add(-1) }}, nil
}

func (p *picker) addr(i int) string { return p.ready[i].addr }

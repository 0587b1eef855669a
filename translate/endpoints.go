package translate

import (
	"context"
	"math/rand/v2"
)

// EndpointChooser is how the shared resilience layer steers one attempt
// among a backend's endpoints without owning the protocol's balancing: it
// rides in the attempt's context, and a protocol that balances over
// endpoints offers them, in its own order, to Admit. An endpoint that is
// ejected, on probation with its probes in flight, or already tried by a
// copy of the same call (a hedge) is refused.
type EndpointChooser interface {
	// Admit reports whether addr may take the attempt; the first endpoint
	// admitted is the one the protocol must use. Admitting one endpoint
	// releases any the attempt was admitted to before (a protocol may pick
	// again, as grpc-go does when its picker changes).
	Admit(addr string) bool
	// Fallback says the protocol uses addr although none was admitted:
	// every endpoint is refused, and a call to one beats no call at all.
	Fallback(addr string)
}

type chooserKey struct{}

// WithEndpointChooser returns ctx carrying c for the protocol's balancer.
func WithEndpointChooser(ctx context.Context, c EndpointChooser) context.Context {
	return context.WithValue(ctx, chooserKey{}, c)
}

// ChooserContext is WithEndpointChooser as a value, for a caller that
// keeps it inside a struct of its own and so saves an allocation on every
// attempt: set both fields and use its address as the attempt's context.
type ChooserContext struct {
	context.Context
	Chooser EndpointChooser
}

func (c *ChooserContext) Value(key any) any {
	if key == (chooserKey{}) {
		return c.Chooser
	}
	return c.Context.Value(key)
}

// Choose picks one of n endpoints for the attempt in ctx: first, when
// the context's chooser admits it, else the first admitted of the others
// from a random one on (walking on from first would hand a refused
// endpoint's whole share to its neighbour), or, when it admits none,
// first itself after telling the chooser. With no chooser in ctx it is
// first. addr names endpoint i.
func Choose(ctx context.Context, n, first int, addr func(i int) string) int {
	c, _ := ctx.Value(chooserKey{}).(EndpointChooser)
	if c == nil || n == 0 {
		return first
	}
	if c.Admit(addr(first)) {
		return first
	}
	if n > 1 {
		start := rand.IntN(n - 1)
		for k := range n - 1 {
			i := (first + 1 + (start+k)%(n-1)) % n
			if c.Admit(addr(i)) {
				return i
			}
		}
	}
	c.Fallback(addr(first))
	return first
}

// EndpointHealth is what a protocol's own checks say of one endpoint.
type EndpointHealth struct {
	Address string `json:"address"`
	// Healthy is false while the protocol passes the endpoint over: its
	// health check fails, or it refused a connection.
	Healthy bool `json:"healthy"`
	// Detail says why it is not healthy, or what checks it.
	Detail string `json:"detail,omitempty"`
}

// HealthReporter is a backend whose protocol checks its endpoints.
type HealthReporter interface {
	EndpointHealth() []EndpointHealth
}

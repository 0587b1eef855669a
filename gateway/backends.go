package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/protocol"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// registry is the config's protocols as the gateway uses them.
func registry(cfg *config.Config) (protocol.Registry, error) {
	var reg protocol.Registry
	for _, p := range cfg.Protocols() {
		pp, ok := p.(protocol.Protocol)
		if !ok {
			return nil, fmt.Errorf("protocol %s cannot build backends (it does not implement protocol.Protocol)", p.Name())
		}
		reg = append(reg, pp)
	}
	return reg, nil
}

// newBackend builds one backend with its protocol and wraps it in the
// shared resilience policy.
func (g *Gateway) newBackend(ctx context.Context, name string) (*protocol.Backend, error) {
	bc := g.cfg.Backends[name]
	p, ok := g.protocols.Get(bc.Protocol)
	if !ok {
		return nil, fmt.Errorf("no protocol section")
	}
	client, err := p.NewBackend(ctx, name, &bc, protocol.Env{Log: g.log})
	if err != nil {
		return nil, err
	}
	return &protocol.Backend{Name: name, Config: &bc, Client: client,
		Guarded: resilience.Wrap(name, client, policyOf(bc, g.log), g.metrics)}, nil
}

func policyOf(bc config.Backend, log *slog.Logger) resilience.Policy {
	p := resilience.Policy{
		Log:           log,
		Timeout:       bc.Timeout.D(config.DefaultBackendTimeout),
		Retry:         resilience.Retry{Attempts: bc.Retry.Attempts, Backoff: bc.Retry.Backoff.D(50 * time.Millisecond)},
		Breaker:       resilience.Breaker{Failures: bc.Breaker.Failures, Cooldown: bc.Breaker.Cooldown.D(0)},
		MaxConcurrent: bc.MaxConcurrent,
	}
	for _, s := range bc.Retry.On {
		if c, err := config.ParseCode(s); err == nil { // validated at load
			p.Retry.On = append(p.Retry.On, c)
		}
	}
	return p
}

// buildError collects every problem found while building a route table, so
// that validate and an admin upload report them all at once.
type buildError struct{ problems []string }

func (e *buildError) Error() string { return joinLines(e.problems) }

// buildTable resolves every route of snap: each protocol's own services,
// then the config's explicit routes in file order.
func (g *Gateway) buildTable(snap *descriptors.Snapshot) (*routes.Table, error) {
	b := &protocol.Build{Config: g.cfg, Schemas: snap, Backends: g.backends}
	var rs []*routes.Route
	for _, p := range g.protocols {
		rs = append(rs, p.ServiceRoutes(b)...)
	}
	for i, rc := range g.cfg.Routes {
		p, ok := g.protocols.Get(rc.Protocol)
		if !ok {
			continue // config validation named it
		}
		r := p.Route(b, i)
		if r == nil {
			continue
		}
		if tg, ok := r.Target.(*pipeline.Target); ok && rc.RawPaths {
			r.Target = tg.WithRawPaths()
		}
		rs = append(rs, r)
	}
	table, err := routes.NewTable(rs)
	if err != nil {
		b.Errorf("%v", err)
	}
	if len(b.Problems) > 0 {
		return nil, &buildError{b.Problems}
	}
	return table, nil
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
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
func (g *Gateway) newBackend(ctx context.Context, cfg *config.Config, name string) (*protocol.Backend, error) {
	bc := cfg.Backends[name]
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
		Log:     log,
		Timeout: bc.Timeout.D(config.DefaultBackendTimeout),
		Retry: resilience.Retry{Attempts: bc.Retry.Attempts, Backoff: bc.Retry.Backoff.D(50 * time.Millisecond),
			PerTryTimeout: bc.Retry.PerTryTimeout.D(0)},
		Breaker: resilience.Breaker{Failures: bc.Breaker.Failures, Cooldown: bc.Breaker.Cooldown.D(0),
			Probes: bc.Breaker.Probes},
		MaxConcurrent:        bc.MaxConcurrent,
		MaxConcurrentStreams: bc.MaxConcurrentStreams,
	}
	if o := bc.Outlier; o != nil {
		p.Outlier = resilience.Outlier{Failures: o.Failures, BaseEjection: o.BaseEjection.D(0), MaxEjection: o.MaxEjection.D(0),
			MaxEjectedPercent: o.MaxEjectedPercent, Probes: o.Probes}
	}
	if bc.Retry.Budget != nil {
		p.Retry.Budget = *bc.Retry.Budget
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
type buildError struct {
	problems []string
	// conflict: routes of the change collide with routes already served.
	conflict bool
}

func (e *buildError) Error() string { return joinLines(e.problems) }

func (e *buildError) Is(target error) bool { return target == ErrConflict && e.conflict }

// buildTable resolves every route of snap: each protocol's own services,
// then the config's explicit routes in file order. upload, when set, is
// the descriptor set being registered: its routes may not take requests
// that routes of another origin serve. Without one (at start, in
// validate), the config's routes may not take requests from the
// descriptor sets' annotations, nor the reverse.
func (g *Gateway) buildTable(rt *runtime, snap *descriptors.Snapshot, upload *descriptors.Set) (*routes.Table, error) {
	cfg := rt.cfg
	b := &protocol.Build{Config: cfg, Schemas: snap, Backends: rt.backends, Broken: rt.broken}
	var rs []*routes.Route
	for _, p := range g.protocols {
		for _, r := range p.ServiceRoutes(b) {
			if r.Origin == "" {
				r.Origin = cfg.File
			}
			rs = append(rs, r)
		}
	}
	for i, rc := range cfg.Routes {
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
		if tg, ok := r.Target.(*pipeline.Target); ok && rc.Idempotent {
			r.Target = tg.WithIdempotent()
		}
		if tg, ok := r.Target.(*pipeline.Target); ok && rc.Stream != nil {
			if tg.Streaming() == translate.Unary {
				msg := "applies to streaming routes; " + tg.Describe() + " is a unary call"
				if rc.Protocol == "thrift" {
					msg = "Thrift has no streaming: every function is a unary call"
				}
				b.Problem(cfg.RouteKey(i)+".stream", "%s", msg)
				continue
			}
			r.Target = tg.WithStreamLimits(protocol.StreamLimits(cfg.Limits.Streams.Over(rc.Stream)))
		}
		if tg, ok := r.Target.(*pipeline.Target); ok && rc.Hedge != nil {
			r.Target = tg.WithHedge(resilience.Hedge{Delay: rc.Hedge.Delay.D, P95: rc.Hedge.Delay.P95, Max: rc.Hedge.Max})
		}
		r.Origin = cfg.File
		if rc.Policy != "" {
			// The config's policy: replaces what the method's option says.
			r.Policy = routes.PolicyRef{Service: r.Policy.Service, Route: rc.Policy}
		}
		rs = append(rs, r)
	}
	for _, r := range rs {
		g.attachPolicy(rt, b, r)
	}
	if g.state.Load() == nil {
		g.warnings = append(g.warnings, b.Warnings...)
	}
	table, err := routes.NewTable(rs)
	var conflicts *routes.ConflictError
	if err != nil {
		b.Errorf("%v", err)
	}
	if len(b.Problems) > 0 {
		return nil, &buildError{problems: b.Problems, conflict: errors.As(err, &conflicts)}
	}
	if shadows := shadowing(rs, cfg.File, upload); len(shadows) > 0 {
		return nil, &overlapError{origin: shadowOrigin(cfg.File, upload), shadows: shadows}
	}
	return table, nil
}

// shadowing finds the routes of the new origin (the upload, or at start
// the config file) that can take requests another origin's routes serve;
// at start, also the descriptor sets' routes that can take the config's.
func shadowing(rs []*routes.Route, configFile string, upload *descriptors.Set) []routes.Shadow {
	origin := shadowOrigin(configFile, upload)
	var mine, others []*routes.Route
	for _, r := range rs {
		if r.Origin == origin {
			mine = append(mine, r)
		} else {
			others = append(others, r)
		}
	}
	out := routes.Shadowing(mine, others)
	if upload == nil {
		out = append(out, routes.Shadowing(others, mine)...)
	}
	return out
}

func shadowOrigin(configFile string, upload *descriptors.Set) string {
	if upload != nil {
		return upload.Origin()
	}
	return configFile
}

// overlapError refuses a route table in which routes of one origin could
// take requests that another origin's routes serve.
type overlapError struct {
	origin  string
	shadows []routes.Shadow
}

// maxListed bounds the overlaps a message lists; the rest are counted.
const maxListed = 5

func (e *overlapError) Error() string {
	lines := []string{fmt.Sprintf("routes of %s overlap routes of another origin; a request could go to either (%d):", e.origin, len(e.shadows))}
	for i, s := range e.shadows {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("  and %d more", len(e.shadows)-maxListed))
			break
		}
		lines = append(lines, "  "+s.String()+", already served by "+s.Existing.Origin)
	}
	return joinLines(lines)
}

func (e *overlapError) Is(target error) bool { return target == ErrConflict }

// attachPolicy gives r's target its policy chain.
func (g *Gateway) attachPolicy(rt *runtime, b *protocol.Build, r *routes.Route) {
	if r.Policy.IsZero() && !rt.policies.HasGlobalCORS() {
		return
	}
	chain, err := rt.policies.Route(r.Policy, r.Source)
	if err != nil {
		b.Errorf("%s: %v", r.Source, err)
		return
	}
	tg, ok := r.Target.(*pipeline.Target)
	if chain == nil || !ok {
		return
	}
	r.Target = tg.WithPolicy(chain)
}

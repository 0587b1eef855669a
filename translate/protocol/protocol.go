// Package protocol is the contract between the gateway and a backend
// protocol. A protocol is one package that implements Protocol; the
// gateway is handed a registry of them as a value and loops over it to
// validate the config, build backends and build routes, so adding a
// protocol is that package plus one registry line (see translate/builtin).
package protocol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// Protocol is one backend protocol.
type Protocol interface {
	// config.Protocol: the YAML the protocol adds and its validation.
	config.Protocol
	// Title is the name messages use: "gRPC", "Thrift", "NATS".
	Title() string
	// NewBackend builds the protocol client for backend name from its
	// config (bc.Section is the protocol's own section). It must not wait
	// for the upstream: a gateway starts while a backend is down.
	NewBackend(ctx context.Context, name string, bc *config.Backend, env Env) (translate.Backend, error)
	// ServiceRoutes are the routes the protocol exposes on its own (the
	// services of its top-level config sections).
	ServiceRoutes(b *Build) []*routes.Route
	// Route builds explicit route i of the config, whose Protocol is this
	// one. Problems go to b; nil means the route was not built.
	Route(b *Build, i int) *routes.Route
}

// Env is what a backend may use beside its config.
type Env struct {
	Log *slog.Logger
}

// Registry lists the protocols a gateway speaks, in the order their names
// appear in messages.
type Registry []Protocol

// Config is the registry as config sees it.
func (r Registry) Config() config.Protocols {
	ps := make(config.Protocols, len(r))
	for i, p := range r {
		ps[i] = p
	}
	return ps
}

// Get returns the protocol named name.
func (r Registry) Get(name string) (Protocol, bool) {
	for _, p := range r {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Backend is one built backend as routes see it.
type Backend struct {
	Name   string
	Config *config.Backend
	// Client is the protocol client NewBackend returned; protocols type
	// assert it back to their own type.
	Client translate.Backend
	// Guarded is Client under the backend's resilience policy: what
	// routes call.
	Guarded *resilience.Backend
}

// Build is one route-table build: what a protocol reads to make its
// routes, and where it reports problems. Problems are collected, not
// returned, so that one run names every one.
type Build struct {
	Config   *config.Config
	Schemas  *descriptors.Snapshot
	Backends map[string]*Backend
	// Broken are backends that could not be built: their problem is
	// already reported, so routes on them are skipped without another.
	Broken   map[string]bool
	Problems []string
	// Warnings are what is not exposed and why, for validate and logs.
	Warnings []string
}

// ErrBroken is Backend's answer for a backend that could not be built;
// Problem and Errorf drop problems that carry it.
var ErrBroken = errors.New("backend could not be built")

// Warnf notes something the build skipped that a user should know of.
func (b *Build) Warnf(format string, args ...any) {
	b.Warnings = append(b.Warnings, fmt.Sprintf(format, args...))
}

func carriesBroken(args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, ErrBroken) {
			return true
		}
	}
	return false
}

// Problem reports a problem positioned at config key path key.
func (b *Build) Problem(key, format string, args ...any) {
	if carriesBroken(args) {
		return
	}
	b.Problems = append(b.Problems, b.Config.Problem(key, format, args...).String())
}

// Errorf reports a problem with no config position (a schema's).
func (b *Build) Errorf(format string, args ...any) {
	if carriesBroken(args) {
		return
	}
	b.Problems = append(b.Problems, fmt.Sprintf(format, args...))
}

// Backend returns backend name if its protocol is p, or an error naming
// what is wrong.
func (b *Build) Backend(name string, p Protocol) (*Backend, error) {
	be, ok := b.Backends[name]
	if !ok && b.Broken[name] {
		return nil, fmt.Errorf("backend %q: %w", name, ErrBroken)
	}
	if !ok && b.Config.Backends[name].Protocol == "" {
		if _, declared := b.Config.Backends[name]; !declared && name != "" {
			// Config validation names it, with its position; an upload's
			// backend is checked before the build.
			return nil, fmt.Errorf("unknown backend %q (have: %s): %w", name, strings.Join(b.Config.BackendNames(), ", "), ErrBroken)
		}
	}
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (have: %s)", name, strings.Join(b.Config.BackendNames(), ", "))
	}
	if be.Config.Protocol != p.Name() {
		return nil, fmt.Errorf("backend %q is not a %s backend", name, p.Title())
	}
	return be, nil
}

// Target binds a route's transcoder to backend be through the pipeline.
// res renders error details (nil: the built-in types only).
func (b *Build) Target(be *Backend, tc translate.Transcoder, res translate.Resolver) *pipeline.Target {
	l := b.Config.Limits
	return pipeline.New(be.Name, be.Guarded, tc, res, pipeline.Options{MaxJSONValues: l.MaxJSONValues, MaxJSONContainers: l.MaxJSONContainers,
		Stream: StreamLimits(l.Streams)})
}

// StreamLimits are the pipeline's stream limits from the config's.
func StreamLimits(l config.StreamLimits) pipeline.StreamLimits {
	return pipeline.StreamLimits{MaxDuration: l.MaxDuration.D(0), IdleTimeout: l.IdleTimeout.D(0), KeepAlive: l.KeepAlive.D(0),
		MaxMessageBytes: l.MaxMessageBytes, MaxUploadBytes: l.MaxUploadBytes}
}

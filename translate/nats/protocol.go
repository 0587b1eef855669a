package nats

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// Protocol plugs NATS into the gateway: backends.B.nats (an embedded
// server or a cluster) and routes with a nats: {subject, mode} target.
type Protocol struct{}

var _ protocol.Protocol = Protocol{}

// BackendConfig is backends.B.nats.
type BackendConfig struct {
	URL                  string          `yaml:"url"`       // "embedded" or nats://host:4222[,nats://...]
	StoreDir             string          `yaml:"store_dir"` // embedded JetStream storage
	Listen               string          `yaml:"listen"`    // embedded server client address
	Streams              []StreamSection `yaml:"streams"`   // created on the embedded server
	CredentialsFile      string          `yaml:"credentials_file"`
	Token                string          `yaml:"token"`
	User                 string          `yaml:"user"`
	Password             string          `yaml:"password"`
	TLS                  *config.TLS     `yaml:"tls"`
	ReconnectWait        config.Duration `yaml:"reconnect_wait"`
	MaxReconnects        *int            `yaml:"max_reconnects"`
	ReconnectBufferBytes int             `yaml:"reconnect_buffer_bytes"`
}

// StreamSection is a JetStream stream the embedded server creates.
type StreamSection struct {
	Name     string   `yaml:"name"`
	Subjects []string `yaml:"subjects"`
}

// RouteConfig are the keys of a route with a NATS target.
type RouteConfig struct {
	NATS *RouteTarget `yaml:"nats"`
	JSON config.JSON  `yaml:"json"`
}

// RouteTarget is routes[i].nats.
type RouteTarget struct {
	Subject string `yaml:"subject"` // template: "orders.{id}.created"
	Mode    string `yaml:"mode"`    // request (default) | publish | jetstream | subscribe
	Raw     bool   `yaml:"raw"`     // pass the body through unvalidated
	// Request and Reply name protobuf message types of the loaded
	// descriptors: JSON is transcoded to protobuf on the wire and back.
	// A subscription's messages are of the Reply type.
	Request string   `yaml:"request"`
	Reply   string   `yaml:"reply"`
	Headers []string `yaml:"headers"`
	// Stream (subscribe only) reads a JetStream stream instead of core
	// NATS; MaxPending (core subscribe only) bounds the messages buffered
	// for a slow client.
	Stream     string `yaml:"stream"`
	MaxPending *int   `yaml:"max_pending"`
}

func (Protocol) Name() string             { return "nats" }
func (Protocol) Title() string            { return "NATS" }
func (Protocol) TargetHint() string       { return "nats: {subject: ...}" }
func (Protocol) NewBackendSection() any   { return &BackendConfig{} }
func (Protocol) NewRouteSection() any     { return &RouteConfig{} }
func (Protocol) Sections() map[string]any { return nil }

// Validate checks the NATS backends and the NATS routes' targets.
func (p Protocol) Validate(c *config.Config) config.Problems {
	var ps config.Problems
	add := func(key, format string, args ...any) { ps = append(ps, c.Problem(key, format, args...)) }
	for _, name := range c.BackendsOf(p.Name()) {
		nc := c.Backends[name].Section.(*BackendConfig)
		key := "backends." + name + ".nats"
		if nc.URL == "" {
			add(key+".url", `required: "embedded" or nats://host:port`)
		} else if nc.URL != EmbeddedURL && !strings.HasPrefix(nc.URL, "nats://") && !strings.HasPrefix(nc.URL, "tls://") {
			add(key+".url", "invalid url %q (want embedded, nats://host:port or tls://host:port, comma-separated)", nc.URL)
		}
		if nc.URL != EmbeddedURL && (nc.StoreDir != "" || len(nc.Streams) > 0 || nc.Listen != "") {
			add(key, "store_dir, listen and streams apply to the embedded server only")
		}
		if nc.URL == EmbeddedURL && (nc.CredentialsFile != "" || nc.TLS != nil) {
			add(key, "credentials_file and tls apply to external servers, not the embedded one")
		}
		if nc.Token != "" && nc.User != "" {
			add(key, "set token or user and password, not both")
		}
		ps = append(ps, nc.TLS.Check(c, key+".tls")...)
	}
	for i, r := range c.Routes {
		if r.Protocol != p.Name() {
			continue
		}
		key := fmt.Sprintf("routes[%d].nats", i)
		nr := r.Section.(*RouteConfig).NATS
		if nr == nil {
			add(key+".subject", "required")
			continue
		}
		if nr.Subject == "" {
			add(key+".subject", "required")
		}
		switch nr.Mode {
		case "", ModeRequest, ModePublish, ModeJetStream, ModeSubscribe:
		default:
			add(key+".mode", "unknown mode %q (want request, publish, jetstream or subscribe)", nr.Mode)
		}
		if nr.Raw && (nr.Request != "" || nr.Reply != "") {
			add(key+".raw", "raw excludes typed request and reply")
		}
		if nr.Mode == ModeSubscribe {
			for _, pr := range validateSubscribe(c, i, key, nr) {
				add(pr.key, "%s", pr.msg)
			}
			continue
		}
		if nr.Stream != "" {
			add(key+".stream", "applies to mode subscribe only (a jetstream publish finds its stream by subject)")
		}
		if nr.MaxPending != nil {
			add(key+".max_pending", "applies to mode subscribe only")
		}
	}
	return ps
}

type keyProblem struct{ key, msg string }

// validateSubscribe checks a subscribe route: GET only, no body or publish
// options, and its stream and buffer.
func validateSubscribe(c *config.Config, i int, key string, nr *RouteTarget) []keyProblem {
	var ps []keyProblem
	add := func(k, format string, args ...any) { ps = append(ps, keyProblem{k, fmt.Sprintf(format, args...)}) }
	if method, _, _ := c.Routes[i].MethodPath(); method != "" && method != "GET" {
		add(key+".mode", "subscribe needs a GET route (this one is %s)", method)
	}
	// A subscription sends nothing: options about the message it would
	// send have nothing to act on.
	if nr.Raw {
		add(key+".raw", "does not apply to mode subscribe (it sends no body; messages come back as JSON envelopes)")
	}
	if nr.Request != "" {
		add(key+".request", "does not apply to mode subscribe (it sends no body; reply types the messages)")
	}
	if len(nr.Headers) > 0 {
		add(key+".headers", "does not apply to mode subscribe (it publishes no message to carry them)")
	}
	if c.Routes[i].Hedge != nil {
		add(fmt.Sprintf("routes[%d].hedge", i), "does not apply to mode subscribe (a stream is never hedged)")
	}
	if nr.Stream != "" {
		if problem := streamNameProblem(nr.Stream); problem != "" {
			add(key+".stream", "%s", problem)
		}
		if nr.MaxPending != nil {
			add(key+".max_pending", "applies to core subscriptions only: a stream's messages are pulled one at a time")
		}
	}
	if nr.MaxPending != nil && (*nr.MaxPending < 1 || *nr.MaxPending > MaxPendingLimit) {
		add(key+".max_pending", "must be between 1 and %d", MaxPendingLimit)
	}
	return ps
}

// NewBackend connects, starting the embedded server when the config asks
// for one; it does not wait for an external server.
func (Protocol) NewBackend(_ context.Context, name string, bc *config.Backend, env protocol.Env) (translate.Backend, error) {
	nc := bc.Section.(*BackendConfig)
	opts := ConnOptions{
		URL:                  nc.URL,
		StoreDir:             nc.StoreDir,
		EmbeddedListen:       nc.Listen,
		CredentialsFile:      nc.CredentialsFile,
		Token:                nc.Token,
		User:                 nc.User,
		Password:             nc.Password,
		ReconnectWait:        nc.ReconnectWait.D(0),
		ReconnectBufferBytes: nc.ReconnectBufferBytes,
	}
	if nc.MaxReconnects != nil {
		opts.MaxReconnects = *nc.MaxReconnects
	}
	for _, s := range nc.Streams {
		opts.Streams = append(opts.Streams, StreamConfig(s))
	}
	if t := nc.TLS; t != nil {
		opts.TLS = &TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
	}
	return Connect(name, opts, env.Log)
}

// ServiceRoutes: NATS routes are all explicit.
func (Protocol) ServiceRoutes(*protocol.Build) []*routes.Route { return nil }

// Route binds explicit route i's subject template; typed payloads resolve
// their message types from the current schemas.
func (p Protocol) Route(b *protocol.Build, i int) *routes.Route {
	cfg := b.Config
	rc := cfg.Routes[i]
	sec := rc.Section.(*RouteConfig)
	method, path, _ := rc.MethodPath()
	fail := func(err error) *routes.Route {
		b.Problem(fmt.Sprintf("routes[%d].nats", i), "%v", err)
		return nil
	}
	be, err := b.Backend(rc.Backend, p)
	if err != nil {
		return fail(err)
	}
	tmpl, err := routes.ParseTemplate(path)
	if err != nil {
		return fail(err)
	}
	jo := cfg.JSON.Merge(sec.JSON).Mapping()
	t := sec.NATS
	nr := Route{Subject: t.Subject, Mode: t.Mode, Raw: t.Raw, Stream: t.Stream,
		Headers: append(append([]string{}, be.Config.Headers...), t.Headers...), MaxDepth: cfg.Limits.MaxJSONDepth,
		Strict: jo.Strict, UseProtoNames: jo.UseProtoNames, UseEnumNumbers: jo.UseEnumNumbers, OmitUnpopulated: !jo.EmitUnpopulated}
	if t.MaxPending != nil {
		nr.MaxPending = *t.MaxPending
	}
	if t.Mode == ModeSubscribe {
		nr.Headers = nil // the backend's headers: a subscription sends none
	}
	for _, typed := range []struct {
		name string
		dst  *protoreflect.MessageDescriptor
	}{{t.Request, &nr.Request}, {t.Reply, &nr.Reply}} {
		if typed.name == "" {
			continue
		}
		md, set := findMessage(b.Schemas, typed.name)
		if md == nil {
			return fail(fmt.Errorf("message type %s is not in any descriptor set", typed.name))
		}
		*typed.dst = md
		nr.Resolver = set.Types
	}
	tc, err := NewTranscoder(rc.Backend, tmpl.FieldPaths(), nr)
	if err != nil {
		return fail(err)
	}
	source := fmt.Sprintf("%s:%d", cfg.File, cfg.Line(cfg.RouteKey(i)))
	return &routes.Route{Method: method, Pattern: path, Template: tmpl, Source: source, Target: b.Target(be, tc, nr.Resolver)}
}

func findMessage(snap *descriptors.Snapshot, name string) (protoreflect.MessageDescriptor, *descriptors.Set) {
	for _, s := range snap.Sets() {
		if d, err := s.Files.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
			if md, ok := d.(protoreflect.MessageDescriptor); ok {
				return md, s
			}
		}
	}
	return nil, nil
}

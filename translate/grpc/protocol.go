package grpc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// Protocol plugs gRPC into the gateway: backends.B.grpc, the top-level
// services list exposed through google.api.http annotations, and routes
// with a grpc: method target.
type Protocol struct{}

var _ protocol.Protocol = Protocol{}

// BackendConfig is backends.B.grpc.
type BackendConfig struct {
	Endpoints       []string         `yaml:"endpoints"`
	TLS             *config.TLS      `yaml:"tls"`
	Keepalive       config.Keepalive `yaml:"keepalive"`
	MaxMessageBytes int              `yaml:"max_message_bytes"`
	// Balancing picks the endpoint of each call: round_robin (default) or
	// least_request.
	Balancing string `yaml:"balancing"`
	// Health, when present, asks each endpoint's grpc.health.v1 service and
	// takes an endpoint that answers NOT_SERVING out of rotation.
	Health *HealthConfig `yaml:"health"`
}

// HealthConfig is backends.B.grpc.health.
type HealthConfig struct {
	// Service is the name asked of grpc.health.v1.Health/Watch; "" asks
	// about the server as a whole.
	Service string `yaml:"service"`
}

// RouteConfig are the keys of a route with a gRPC target.
type RouteConfig struct {
	// GRPC names the method: "library.v1.LibraryService/GetBook" or
	// "library.v1.LibraryService.GetBook".
	GRPC         string      `yaml:"grpc"`
	Body         string      `yaml:"body"`
	ResponseBody string      `yaml:"response_body"`
	JSON         config.JSON `yaml:"json"`
}

// ServiceConfig exposes a gRPC service through its google.api.http
// annotations (an entry of the top-level services list).
type ServiceConfig struct {
	Name    string `yaml:"name"`
	Backend string `yaml:"backend"`
	// Unannotated exposes methods without annotations at POST
	// /pkg.Service/Method; off by default.
	Unannotated *bool       `yaml:"unannotated"`
	JSON        config.JSON `yaml:"json"`
	// Policy is the service's policy, chained after the global one.
	Policy string `yaml:"policy"`
}

const servicesKey = "services"

func (Protocol) Name() string             { return "grpc" }
func (Protocol) Title() string            { return "gRPC" }
func (Protocol) TargetHint() string       { return "grpc: package.Service/Method" }
func (Protocol) NewBackendSection() any   { return &BackendConfig{} }
func (Protocol) NewRouteSection() any     { return &RouteConfig{} }
func (Protocol) Sections() map[string]any { return map[string]any{servicesKey: &[]ServiceConfig{}} }

func services(c *config.Config) []ServiceConfig {
	return config.SectionList[ServiceConfig](c, servicesKey)
}

// Validate checks the gRPC backends, the services list, and that server
// reflection is asked of gRPC backends only.
func (p Protocol) Validate(c *config.Config) config.Problems {
	var ps config.Problems
	add := func(key, format string, args ...any) { ps = append(ps, c.Problem(key, format, args...)) }
	for _, name := range c.BackendsOf(p.Name()) {
		bc := c.Backends[name].Section.(*BackendConfig)
		key := "backends." + name + ".grpc"
		ps = append(ps, c.CheckEndpoints(key+".endpoints", bc.Endpoints)...)
		ps = append(ps, bc.TLS.Check(c, key+".tls")...)
		if _, ok := balancers[bc.Balancing]; !ok {
			add(key+".balancing", "unknown balancing %q (want %s)", bc.Balancing, balancerNames())
		}
		if bc.Health != nil {
			if msg := healthServiceProblem(bc.Health.Service); msg != "" {
				add(key+".health.service", "%s", msg)
			}
		}
		for j, h := range c.Backends[name].Headers {
			if reservedForClients(strings.ToLower(h)) {
				add(fmt.Sprintf("backends.%s.headers[%d]", name, j), "%s is gRPC transport metadata and cannot be forwarded", h)
			}
		}
	}
	for i, d := range c.Descriptors {
		if b, ok := c.Backends[d.Reflection]; ok && d.Reflection != "" && b.Protocol != p.Name() {
			add(fmt.Sprintf("descriptors[%d].reflection", i), "backend %q is not a gRPC backend", d.Reflection)
		}
	}
	seen := map[string]bool{}
	have := strings.Join(c.BackendNames(), ", ")
	for i, s := range services(c) {
		key := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add(key+".name", "missing service name")
		} else if seen[s.Name] {
			add(key+".name", "service %s is listed twice", s.Name)
		}
		seen[s.Name] = true
		b, ok := c.Backends[s.Backend]
		switch {
		case s.Backend == "":
			add(key+".backend", "missing backend (have: %s)", have)
		case !ok:
			add(key+".backend", "unknown backend %q (have: %s)", s.Backend, have)
		case b.Protocol != p.Name():
			add(key+".backend", "backend %q is not a gRPC backend", s.Backend)
		}
		if msg := c.PolicyProblem(s.Policy); msg != "" {
			add(key+".policy", "%s", msg)
		}
	}
	return ps
}

// NewBackend dials the backend without waiting for it.
func (Protocol) NewBackend(_ context.Context, name string, bc *config.Backend, _ protocol.Env) (translate.Backend, error) {
	gc := bc.Section.(*BackendConfig)
	opts := Options{
		Endpoints:        gc.Endpoints,
		KeepaliveTime:    gc.Keepalive.Time.D(0),
		KeepaliveTimeout: gc.Keepalive.Timeout.D(20 * time.Second),
		MaxMessageBytes:  gc.MaxMessageBytes,
		Balancing:        gc.Balancing,
	}
	if gc.Health != nil {
		opts.Health = &HealthCheck{Service: gc.Health.Service}
	}
	if t := gc.TLS; t != nil {
		opts.TLS = &TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
	}
	return Dial(name, opts)
}

// FetchReflection asks the backend's server reflection for its schema,
// waiting up to ctx's deadline for a backend that is reconnecting.
//
// A backend that just restarted can fail the first stream on a connection
// it closed ("error reading from server: EOF") before grpc-go notices, so
// an UNAVAILABLE is tried again, a few times, within ctx.
func (b *Backend) FetchReflection(ctx context.Context) (*descriptorpb.FileDescriptorSet, error) {
	for attempt := 1; ; attempt++ {
		fds, err := descriptors.FetchReflection(ctx, waitForReady{b.conn})
		if err == nil || attempt == 3 || status.Code(errors.Unwrap(err)) != codes.Unavailable && !strings.Contains(err.Error(), "code = Unavailable") {
			return fds, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// waitForReady makes reflection calls wait, up to their deadline, for a
// backend that is reconnecting, instead of failing on the first attempt.
type waitForReady struct{ grpc.ClientConnInterface }

func (w waitForReady) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return w.ClientConnInterface.NewStream(ctx, desc, method, append(opts, grpc.WaitForReady(true))...)
}

// ServiceRoutes exposes the services of every descriptor set through
// their HTTP annotations: those the services list names, and every
// service of a set uploaded for a backend.
func (p Protocol) ServiceRoutes(b *protocol.Build) []*routes.Route {
	cfg := b.Config
	svcs := services(cfg)
	var rs []*routes.Route
	cfgSvc := map[string]int{}
	for i, s := range svcs {
		cfgSvc[s.Name] = i
	}
	exposed := map[protoreflect.FullName]string{} // service -> set name
	// Sets loaded from the config come first, so that the services they
	// expose are routed from them and an upload that repeats one conflicts.
	sets := b.Schemas.Sets()
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].Backend == "" && sets[j].Backend != "" })
	for _, set := range sets {
		// An upload built with --include_imports carries the files it
		// imports; their services are not the upload's to expose (the
		// schema check on upload uses the same rule).
		for _, sd := range set.ExposedServices() {
			backend := set.Backend
			jsonOpts := cfg.JSON
			svcPolicy := ""
			// Methods without an HTTP rule stay internal unless a listed
			// service opts in: an edge must not publish what nobody asked.
			unannotated := false
			if i, listed := cfgSvc[string(sd.FullName())]; listed {
				sc := svcs[i]
				if backend == "" {
					backend = sc.Backend
				}
				jsonOpts = jsonOpts.Merge(sc.JSON)
				svcPolicy = sc.Policy
				if sc.Unannotated != nil {
					unannotated = *sc.Unannotated
				}
			}
			if backend == "" {
				continue // schema loaded, service not exposed
			}
			if _, dup := exposed[sd.FullName()]; dup && set.Backend == "" {
				continue // the first config set defining a listed service wins
			}
			exposed[sd.FullName()] = set.Name
			srs := p.serviceRoutes(b, set, sd, backend, jsonOpts, unannotated, svcPolicy)
			if _, listed := cfgSvc[string(sd.FullName())]; listed && len(srs) == 0 && !unannotated && sd.Methods().Len() > 0 {
				b.Warnf("service %s exposes no routes: none of its methods has a google.api.http rule (unannotated: true serves them at POST /%s/METHOD)",
					sd.FullName(), sd.FullName())
			}
			for _, r := range srs {
				r.Origin = set.Origin()
				rs = append(rs, r)
			}
		}
	}
	for i, sc := range svcs {
		if _, ok := exposed[protoreflect.FullName(sc.Name)]; !ok {
			b.Problem(fmt.Sprintf("services[%d].name", i),
				"service %s is not in any descriptor set (have: %s)", sc.Name, strings.Join(serviceNames(b.Schemas), ", "))
		}
	}
	return rs
}

func serviceNames(snap *descriptors.Snapshot) []string {
	var names []string
	for _, set := range snap.Sets() {
		for _, sd := range set.Services() {
			names = append(names, string(sd.FullName()))
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

func (p Protocol) serviceRoutes(b *protocol.Build, set *descriptors.Set, sd protoreflect.ServiceDescriptor,
	backend string, jsonOpts config.JSON, unannotated bool, svcPolicy string) []*routes.Route {
	var rs []*routes.Route
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		md := methods.Get(i)
		source := string(md.FullName())
		rules := descriptors.HTTPRules(md)
		if len(rules) == 0 {
			if !unannotated {
				continue
			}
			rules = []descriptors.HTTPBinding{{Method: "POST", Path: "/" + string(sd.FullName()) + "/" + string(md.Name()), Body: "*"}}
		}
		for _, rule := range rules {
			r, err := p.route(b, set, md, backend, rule, jsonOpts, source)
			if err != nil {
				b.Errorf("%s: %v", source, err)
				continue
			}
			if r.Policy, err = methodPolicy(md, svcPolicy); err != nil {
				b.Errorf("%v", err)
				continue
			}
			rs = append(rs, r)
		}
	}
	return rs
}

func (p Protocol) route(b *protocol.Build, set *descriptors.Set, md protoreflect.MethodDescriptor, backend string,
	rule descriptors.HTTPBinding, jsonOpts config.JSON, source string) (*routes.Route, error) {
	tmpl, err := routes.ParseTemplate(rule.Path)
	if err != nil {
		return nil, err
	}
	opts := BindingOptions(jsonOpts, b.Config.Limits.MaxJSONDepth)
	opts.PatchFieldMask = rule.Method == "PATCH"
	br, err := binding.NewRule(md, tmpl.FieldPaths(), rule.Body, rule.ResponseBody, set.Types, opts)
	if err != nil {
		return nil, err
	}
	be, err := b.Backend(backend, p)
	if err != nil {
		return nil, err
	}
	var tc translate.Transcoder = NewTranscoder(br, be.Config.Headers)
	if md.IsStreamingClient() || md.IsStreamingServer() {
		if tc, err = streamTranscoder(md, tmpl, rule, br, set.Types, opts, be.Config.Headers); err != nil {
			return nil, err
		}
	}
	target := b.Target(be, tc, set.Types)
	return &routes.Route{Method: rule.Method, Pattern: rule.Path, Template: tmpl, Source: source, Target: target}, nil
}

// streamTranscoder binds a streaming method. Its messages are JSON both
// ways: a google.api.HttpBody stream (raw bytes) is not transcoded.
func streamTranscoder(md protoreflect.MethodDescriptor, tmpl *routes.Template, rule descriptors.HTTPBinding, br *binding.Rule,
	types translate.Resolver, opts binding.Options, headers []string) (*StreamTranscoder, error) {
	if br.ReplyIsHTTPBody() || br.BodyIsHTTPBody() {
		return nil, fmt.Errorf("a stream of google.api.HttpBody is not supported: stream messages are JSON")
	}
	messages := br
	if md.IsStreamingClient() && !br.HasBody() {
		var err error
		if messages, err = binding.NewRule(md, tmpl.FieldPaths(), "*", rule.ResponseBody, types, opts); err != nil {
			return nil, err
		}
	}
	return NewStreamTranscoder(br, messages, headers), nil
}

// BindingOptions are the binding options of a JSON mapping and depth limit.
func BindingOptions(j config.JSON, depth int) binding.Options {
	m := j.Mapping()
	return binding.Options{UseProtoNames: m.UseProtoNames, EmitUnpopulated: m.EmitUnpopulated,
		UseEnumNumbers: m.UseEnumNumbers, Strict: m.Strict, MaxDepth: depth}
}

// Route builds explicit route i: a method of any loaded descriptor set.
func (p Protocol) Route(b *protocol.Build, i int) *routes.Route {
	cfg := b.Config
	rc := cfg.Routes[i]
	gc := rc.Section.(*RouteConfig)
	method, path, _ := rc.MethodPath()
	source := fmt.Sprintf("%s:%d", cfg.File, cfg.Line(cfg.RouteKey(i)))
	name := strings.TrimPrefix(gc.GRPC, "/")
	full := name
	if svc, m, ok := strings.Cut(name, "/"); ok {
		full = svc + "." + m
	}
	var md protoreflect.MethodDescriptor
	var set *descriptors.Set
	for _, s := range b.Schemas.Sets() {
		d, err := s.Files.FindDescriptorByName(protoreflect.FullName(full))
		if err == nil {
			if m, ok := d.(protoreflect.MethodDescriptor); ok {
				md, set = m, s
				break
			}
		}
	}
	if md == nil {
		b.Problem(fmt.Sprintf("routes[%d].grpc", i), "method %s is not in any descriptor set", gc.GRPC)
		return nil
	}
	r, err := p.route(b, set, md, rc.Backend,
		descriptors.HTTPBinding{Method: method, Path: path, Body: gc.Body, ResponseBody: gc.ResponseBody},
		cfg.JSON.Merge(gc.JSON), source)
	if err != nil {
		b.Problem(cfg.RouteKey(i), "%v", err)
		return nil
	}
	// The route's own policy: is the gateway's to apply; the service's
	// comes from its services entry, as for the annotated routes.
	svcPolicy := ""
	for _, sc := range services(cfg) {
		if sc.Name == string(md.Parent().FullName()) {
			svcPolicy = sc.Policy
		}
	}
	if r.Policy, err = methodPolicy(md, svcPolicy); err != nil {
		b.Problem(fmt.Sprintf("routes[%d].grpc", i), "%v", err)
		return nil
	}
	return r
}

// methodPolicy is the policy reference of a route built from md: its
// service's policy, and its switchboard.v1.policy option.
func methodPolicy(md protoreflect.MethodDescriptor, svcPolicy string) (routes.PolicyRef, error) {
	ref := routes.PolicyRef{Service: svcPolicy}
	opt, ok, err := descriptors.PolicyOption(md)
	if err != nil || !ok {
		return ref, err
	}
	ref.Schema, ref.Scopes = opt.Policy, opt.Scopes
	if rl := opt.RateLimit; rl != nil {
		ref.RateLimit = &routes.RateSpec{Rate: rl.Rate, Per: rl.Per, Burst: rl.Burst, Key: rl.Key}
	}
	return ref, nil
}

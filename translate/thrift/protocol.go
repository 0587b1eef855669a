package thrift

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/config"
	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// Protocol plugs Thrift into the gateway: backends.B.thrift with the IDL
// parsed at start, the top-level thrift_services list exposed through IDL
// annotations, and routes with a thrift: Service.function target.
type Protocol struct{}

var _ protocol.Protocol = Protocol{}

// BackendConfig is backends.B.thrift.
type BackendConfig struct {
	Endpoints       []string        `yaml:"endpoints"`
	IDL             string          `yaml:"idl"`
	IncludeDirs     []string        `yaml:"include_dirs"`
	Protocol        string          `yaml:"protocol"`  // binary (default) | compact
	Transport       string          `yaml:"transport"` // framed (default) | buffered
	Multiplexed     bool            `yaml:"multiplexed"`
	ConnectTimeout  config.Duration `yaml:"connect_timeout"`
	PoolSize        int             `yaml:"pool_size"`
	MaxMessageBytes int             `yaml:"max_message_bytes"`
	// Health, when present, checks each endpoint, and calls pass over
	// those failing.
	Health *HealthConfig `yaml:"health"`
}

// HealthConfig is backends.B.thrift.health; present, even empty, it turns
// checks on.
type HealthConfig struct {
	Interval setDuration `yaml:"interval"` // default 5s, at least 100ms
	Timeout  setDuration `yaml:"timeout"`  // default 1s, below interval
	// Method is a function of the IDL taking no arguments, "ping" or
	// "Service.ping", that each check calls; "" only connects.
	Method string `yaml:"method"`
}

// setDuration is a duration that knows it was written, so that an
// explicit 0 is refused rather than taken as the default; one that did not
// decode (a problem already) stays unset.
type setDuration struct {
	config.Duration
	set bool
}

func (d *setDuration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.Duration.UnmarshalYAML(n); err != nil {
		return err
	}
	d.set = true
	return nil
}

// or is the duration written, or def.
func (d setDuration) or(def time.Duration) time.Duration {
	if d.set {
		return time.Duration(d.Duration)
	}
	return def
}

// RouteConfig are the keys of a route with a Thrift target.
type RouteConfig struct {
	// Thrift names the function: "Calculator.add".
	Thrift string `yaml:"thrift"`
	Body   string `yaml:"body"`
	// Exceptions map exception names to HTTP statuses.
	Exceptions map[string]int `yaml:"exceptions"`
}

// ServiceConfig exposes a Thrift service of a backend's IDL through its
// annotations (the CloudWeGo api.* dialect) and POST /Service/function.
type ServiceConfig struct {
	Name        string         `yaml:"name"`
	Backend     string         `yaml:"backend"`
	Unannotated *bool          `yaml:"unannotated"`
	Exceptions  map[string]int `yaml:"exceptions"`
	// Policy is the service's policy, chained after the global one.
	Policy string `yaml:"policy"`
}

const servicesKey = "thrift_services"

func (Protocol) Name() string             { return "thrift" }
func (Protocol) Title() string            { return "Thrift" }
func (Protocol) TargetHint() string       { return "thrift: Service.method" }
func (Protocol) NewBackendSection() any   { return &BackendConfig{} }
func (Protocol) NewRouteSection() any     { return &RouteConfig{} }
func (Protocol) Sections() map[string]any { return map[string]any{servicesKey: &[]ServiceConfig{}} }

func services(c *config.Config) []ServiceConfig {
	return config.SectionList[ServiceConfig](c, servicesKey)
}

// Validate checks the Thrift backends, the thrift_services list and the
// Thrift routes' targets and exception statuses.
func (p Protocol) Validate(c *config.Config) config.Problems {
	var ps config.Problems
	add := func(key, format string, args ...any) { ps = append(ps, c.Problem(key, format, args...)) }
	for _, name := range c.BackendsOf(p.Name()) {
		t := c.Backends[name].Section.(*BackendConfig)
		key := "backends." + name + ".thrift"
		ps = append(ps, c.CheckEndpoints(key+".endpoints", t.Endpoints)...)
		if t.IDL == "" {
			add(key+".idl", "required: the .thrift file to parse")
		}
		if _, err := parseProtocol(t.Protocol); err != nil {
			add(key+".protocol", "unknown protocol %q (want binary or compact)", t.Protocol)
		}
		if _, err := parseTransport(t.Transport); err != nil {
			add(key+".transport", "unknown transport %q (want framed or buffered)", t.Transport)
		}
		if t.Health != nil {
			t.Health.check(add, key+".health", t)
		}
	}
	have := strings.Join(c.BackendNames(), ", ")
	for i, s := range services(c) {
		key := fmt.Sprintf("thrift_services[%d]", i)
		if s.Name == "" {
			add(key+".name", "missing service name")
		}
		b, ok := c.Backends[s.Backend]
		switch {
		case s.Backend == "":
			add(key+".backend", "missing backend (have: %s)", have)
		case !ok:
			add(key+".backend", "unknown backend %q (have: %s)", s.Backend, have)
		case b.Protocol != p.Name():
			add(key+".backend", "backend %q is not a Thrift backend", s.Backend)
		}
		checkStatuses(add, key, s.Exceptions)
		if msg := c.PolicyProblem(s.Policy); msg != "" {
			add(key+".policy", "%s", msg)
		}
	}
	for i, r := range c.Routes {
		if r.Protocol != p.Name() {
			continue
		}
		key := fmt.Sprintf("routes[%d]", i)
		rc := r.Section.(*RouteConfig)
		if !strings.Contains(rc.Thrift, ".") {
			add(key+".thrift", "want Service.method, got %q", rc.Thrift)
		}
		checkStatuses(add, key, rc.Exceptions)
	}
	return ps
}

func checkStatuses(add func(key, format string, args ...any), key string, exceptions map[string]int) {
	for name, st := range exceptions {
		if st < 400 || st > 599 {
			add(key+".exceptions."+name, "HTTP status %d: want 400-599", st)
		}
	}
}

// client is a Thrift backend with the IDL its routes are built from.
type client struct {
	*Backend
	program     *idl.Program
	protocol    string
	multiplexed bool
}

// NewBackend parses the backend's IDL and builds its connection pool; it
// does not connect.
func (Protocol) NewBackend(_ context.Context, name string, bc *config.Backend, env protocol.Env) (translate.Backend, error) {
	tc := bc.Section.(*BackendConfig)
	prog, err := idl.ParseFile(tc.IDL, idl.Options{IncludeDirs: tc.IncludeDirs})
	if err != nil {
		return nil, err
	}
	opts := Options{
		Endpoints:       tc.Endpoints,
		Protocol:        tc.Protocol,
		Transport:       tc.Transport,
		Multiplexed:     tc.Multiplexed,
		ConnectTimeout:  tc.ConnectTimeout.D(0),
		PoolSize:        tc.PoolSize,
		MaxMessageBytes: tc.MaxMessageBytes,
		Log:             env.Log,
	}
	if h := tc.Health; h != nil {
		opts.Health = &HealthCheck{Interval: h.Interval.D(0), Timeout: h.Timeout.D(0)}
		if h.Method != "" {
			// Validate checked it, unless the IDL did not parse then.
			if opts.Health.Method, err = healthMethod(prog, h.Method, tc.Multiplexed); err != nil {
				return nil, fmt.Errorf("thrift.health.method: %w", err)
			}
		}
	}
	tb, err := Dial(name, opts)
	if err != nil {
		return nil, err
	}
	return &client{Backend: tb, program: prog, protocol: tb.Protocol(), multiplexed: tc.Multiplexed}, nil
}

// ServiceRoutes exposes each thrift_services entry through its IDL
// annotations.
func (p Protocol) ServiceRoutes(b *protocol.Build) []*routes.Route {
	var rs []*routes.Route
	for i, ts := range services(b.Config) {
		key := fmt.Sprintf("thrift_services[%d]", i)
		be, err := b.Backend(ts.Backend, p)
		if err != nil {
			b.Problem(key+".backend", "%v", err)
			continue
		}
		c := be.Client.(*client)
		svc := c.program.Service(ts.Name)
		if svc == nil {
			b.Problem(key+".name", "no service %s in %s", ts.Name, be.Config.Section.(*BackendConfig).IDL)
			continue
		}
		ars, err := AnnotatedRoutes(svc)
		if err != nil {
			b.Problem(key, "%v", err)
			continue
		}
		// Functions without annotations stay internal unless asked for.
		unannotated := ts.Unannotated != nil && *ts.Unannotated
		for _, ar := range ars {
			if !unannotated && ar.Path == "/"+svc.Name+"/"+ar.Function.Name {
				continue
			}
			tmpl, err := routes.ParseTemplate(ar.Path)
			if err != nil {
				b.Problem(key, "%s.%s: %v", svc.Name, ar.Function.Name, err)
				continue
			}
			bind := ar.Binding
			bind.ExceptionStatus = ts.Exceptions
			bind.MaxDepth = depth(b.Config.Limits.MaxJSONDepth)
			bind.Protocol = c.protocol
			if c.multiplexed {
				bind.ServiceName = svc.Name
			}
			tc, err := NewTranscoder(ts.Backend, ar.Function, bind)
			if err != nil {
				b.Problem(key, "%v", err)
				continue
			}
			rs = append(rs, &routes.Route{Method: ar.Method, Pattern: ar.Path, Template: tmpl,
				Source: svc.Name + "." + ar.Function.Name, Target: b.Target(be, tc, nil), Policy: routes.PolicyRef{Service: ts.Policy}})
		}
	}
	return rs
}

// Route binds explicit route i, one function of its backend's IDL, to a
// template.
func (p Protocol) Route(b *protocol.Build, i int) *routes.Route {
	cfg := b.Config
	rc := cfg.Routes[i]
	tr := rc.Section.(*RouteConfig)
	method, path, _ := rc.MethodPath()
	r, err := p.route(b, rc.Backend, tr, method, path, fmt.Sprintf("%s:%d", cfg.File, cfg.Line(cfg.RouteKey(i))))
	if err != nil {
		b.Problem(fmt.Sprintf("routes[%d].thrift", i), "%v", err)
		return nil
	}
	// Its service's policy, as for the service's annotated routes.
	svc, _, _ := strings.Cut(tr.Thrift, ".")
	for _, ts := range services(cfg) {
		if ts.Name == svc && ts.Backend == rc.Backend {
			r.Policy.Service = ts.Policy
		}
	}
	return r
}

func (p Protocol) route(b *protocol.Build, backend string, tr *RouteConfig, method, path, source string) (*routes.Route, error) {
	be, err := b.Backend(backend, p)
	if err != nil {
		return nil, err
	}
	c := be.Client.(*client)
	svc, fn, err := c.function(tr.Thrift)
	if err != nil {
		return nil, err
	}
	tmpl, err := routes.ParseTemplate(path)
	if err != nil {
		return nil, err
	}
	body := tr.Body
	if body == "" && method != "GET" && method != "DELETE" && method != "HEAD" {
		body = "*" // an object keyed by argument name
	}
	bind := Binding{PathFields: tmpl.FieldPaths(), Body: body, ExceptionStatus: tr.Exceptions,
		MaxDepth: depth(b.Config.Limits.MaxJSONDepth), Protocol: c.protocol, Headers: HeaderBindings(fn)}
	if c.multiplexed {
		bind.ServiceName = svc.Name
	}
	tc, err := NewTranscoder(backend, fn, bind)
	if err != nil {
		return nil, err
	}
	return &routes.Route{Method: method, Pattern: path, Template: tmpl, Source: source, Target: b.Target(be, tc, nil)}, nil
}

// depth caps the JSON depth limit at the codec's own maximum: its decoder
// recurses, and Thrift payloads nest far less than JSON ones.
func depth(d int) int { return min(d, MaxDepthLimit) }

// function finds "Service.function" in the backend's IDL.
func (c *client) function(name string) (*idl.Service, *idl.Function, error) {
	i := strings.LastIndex(name, ".")
	if i < 0 {
		return nil, nil, fmt.Errorf("want Service.function, got %q", name)
	}
	svc := c.program.Service(name[:i])
	if svc == nil {
		return nil, nil, fmt.Errorf("no service %s in the backend's IDL", name[:i])
	}
	fn := svc.Function(name[i+1:])
	if fn == nil {
		return nil, nil, fmt.Errorf("no function %s in service %s", name[i+1:], svc.Name)
	}
	return svc, fn, nil
}

package gateway

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate/binding"
	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
	natsbackend "github.com/switchboard-gw/switchboard/translate/nats"
	thriftbackend "github.com/switchboard-gw/switchboard/translate/thrift"
)

// buildError collects every problem found while building a route table, so
// that validate and an admin upload report them all at once.
type buildError struct{ problems []string }

func (e *buildError) Error() string { return strings.Join(e.problems, "\n") }

func (e *buildError) add(format string, args ...any) {
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

func (e *buildError) err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return e
}

// buildTable resolves every route of snap: the services exposed through
// their HTTP annotations and the explicit routes of the config.
func (g *Gateway) buildTable(snap *descriptors.Snapshot) (*routes.Table, error) {
	be := &buildError{}
	var rs []*routes.Route
	cfgSvc := map[string]int{}
	for i, s := range g.cfg.Services {
		cfgSvc[s.Name] = i
	}
	exposed := map[protoreflect.FullName]string{} // service -> set name
	// Sets loaded from the config come first, so that the services they
	// expose are routed from them and an upload that repeats one conflicts.
	sets := snap.Sets()
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].Backend == "" && sets[j].Backend != "" })
	for _, set := range sets {
		imported := importedFiles(set)
		for _, sd := range set.Services() {
			if imported[sd.ParentFile().Path()] {
				// An upload built with --include_imports carries the files it
				// imports; their services are not the upload's to expose.
				continue
			}
			backend := set.Backend
			jsonOpts := g.cfg.JSON
			unannotated := true
			if i, listed := cfgSvc[string(sd.FullName())]; listed {
				sc := g.cfg.Services[i]
				if backend == "" {
					backend = sc.Backend
				}
				jsonOpts = jsonOpts.Merge(sc.JSON)
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
			rs = append(rs, g.serviceRoutes(be, set, sd, backend, jsonOpts, unannotated)...)
		}
	}
	for i, sc := range g.cfg.Services {
		if _, ok := exposed[protoreflect.FullName(sc.Name)]; !ok {
			be.add("%s", g.cfg.Problem(fmt.Sprintf("services[%d].name", i),
				"service %s is not in any descriptor set (have: %s)", sc.Name, strings.Join(serviceNames(snap), ", ")))
		}
	}
	for i := range g.cfg.ThriftServices {
		rs = append(rs, g.thriftServiceRoutes(be, i)...)
	}
	for i := range g.cfg.Routes {
		if r := g.configRoute(be, snap, i); r != nil {
			rs = append(rs, r)
		}
	}
	table, err := routes.NewTable(rs)
	if err != nil {
		be.add("%v", err)
	}
	if err := be.err(); err != nil {
		return nil, err
	}
	return table, nil
}

// importedFiles names the files of an uploaded set that another of its
// files imports. Sets from the config expose only the services it lists,
// and reflection sets what the server serves, so only uploads need this.
func importedFiles(set *descriptors.Set) map[string]bool {
	if set.Source != "admin" {
		return nil
	}
	imported := map[string]bool{}
	for _, f := range set.FDS.GetFile() {
		for _, dep := range f.GetDependency() {
			imported[dep] = true
		}
	}
	return imported
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

// HTTPRule is one google.api.http binding of a method, additional bindings
// flattened.
type HTTPRule struct {
	Method, Path, Body, ResponseBody string
}

func (g *Gateway) serviceRoutes(be *buildError, set *descriptors.Set, sd protoreflect.ServiceDescriptor,
	backend string, jsonOpts config.JSON, unannotated bool) []*routes.Route {
	var rs []*routes.Route
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		md := methods.Get(i)
		source := string(md.FullName())
		if md.IsStreamingClient() || md.IsStreamingServer() {
			continue // REST transcoding of streams is not supported
		}
		bindings := HTTPRules(md)
		if len(bindings) == 0 {
			if !unannotated {
				continue
			}
			bindings = []HTTPRule{{Method: "POST", Path: "/" + string(sd.FullName()) + "/" + string(md.Name()), Body: "*"}}
		}
		for _, b := range bindings {
			r, err := g.route(set, md, backend, b, jsonOpts, source)
			if err != nil {
				be.add("%s: %v", source, err)
				continue
			}
			rs = append(rs, r)
		}
	}
	return rs
}

func (g *Gateway) route(set *descriptors.Set, md protoreflect.MethodDescriptor, backend string,
	b HTTPRule, jsonOpts config.JSON, source string) (*routes.Route, error) {
	tmpl, err := routes.ParseTemplate(b.Path)
	if err != nil {
		return nil, err
	}
	opts := bindingOptions(jsonOpts, g.cfg.Limits.MaxJSONDepth)
	opts.PatchFieldMask = b.Method == "PATCH"
	rule, err := binding.NewRule(md, tmpl.FieldPaths(), b.Body, b.ResponseBody, set.Types, opts)
	if err != nil {
		return nil, err
	}
	be, ok := g.backends[backend]
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (have: %s)", backend, strings.Join(g.cfg.BackendNames(), ", "))
	}
	if be.grpc == nil {
		return nil, fmt.Errorf("backend %q is not a gRPC backend", backend)
	}
	target := grpcbackend.NewTarget(backend, be.wrapped, rule, set.Types, be.headers)
	return &routes.Route{Method: b.Method, Pattern: b.Path, Template: tmpl, Source: source, Target: target}, nil
}

func bindingOptions(j config.JSON, depth int) binding.Options {
	return binding.Options{
		UseProtoNames: j.UseProtoNames != nil && *j.UseProtoNames,
		// grpc-gateway v2's default marshaller emits unpopulated fields;
		// clients moving from it expect them.
		EmitUnpopulated: j.EmitUnpopulated == nil || *j.EmitUnpopulated,
		UseEnumNumbers:  j.UseEnumNumbers != nil && *j.UseEnumNumbers,
		Strict:          j.Strict != nil && *j.Strict,
		MaxDepth:        depth,
	}
}

// configRoute resolves explicit route i of the config.
func (g *Gateway) configRoute(be *buildError, snap *descriptors.Snapshot, i int) *routes.Route {
	rc := g.cfg.Routes[i]
	key := g.cfg.RouteKey(i)
	method, path, _ := rc.MethodPath()
	source := fmt.Sprintf("%s:%d", g.cfg.File, g.cfg.Line(key))
	kind, _ := rc.Target()
	var r *routes.Route
	var err error
	switch kind {
	case "grpc":
		return g.grpcConfigRoute(be, snap, i, method, path, source)
	case "thrift":
		r, err = g.thriftRoute(rc.Backend, rc.Thrift, method, path, rc.Body, rc.Exceptions, source)
	case "nats":
		r, err = g.natsRoute(snap, rc, method, path, source)
	}
	if err != nil {
		be.add("%s", g.cfg.Problem(fmt.Sprintf("routes[%d].%s", i, kind), "%v", err))
		return nil
	}
	return r
}

func (g *Gateway) grpcConfigRoute(be *buildError, snap *descriptors.Snapshot, i int, method, path, source string) *routes.Route {
	rc := g.cfg.Routes[i]
	name := strings.TrimPrefix(rc.GRPC, "/")
	full := name
	if svc, m, ok := strings.Cut(name, "/"); ok {
		full = svc + "." + m
	}
	var md protoreflect.MethodDescriptor
	var set *descriptors.Set
	for _, s := range snap.Sets() {
		d, err := s.Files.FindDescriptorByName(protoreflect.FullName(full))
		if err == nil {
			if m, ok := d.(protoreflect.MethodDescriptor); ok {
				md, set = m, s
				break
			}
		}
	}
	if md == nil {
		be.add("%s", g.cfg.Problem(fmt.Sprintf("routes[%d].grpc", i), "method %s is not in any descriptor set", rc.GRPC))
		return nil
	}
	r, err := g.route(set, md, rc.Backend,
		HTTPRule{Method: method, Path: path, Body: rc.Body, ResponseBody: rc.ResponseBody},
		g.cfg.JSON.Merge(rc.JSON), source)
	if err != nil {
		be.add("%s", g.cfg.Problem(g.cfg.RouteKey(i), "%v", err))
		return nil
	}
	return r
}

// thriftRoute binds one function of a Thrift backend's IDL to a template.
func (g *Gateway) thriftRoute(backendName, function, method, path, body string, exceptions map[string]int, source string) (*routes.Route, error) {
	b, ok := g.backends[backendName]
	if !ok || b.thrift == nil {
		return nil, fmt.Errorf("backend %q is not a Thrift backend", backendName)
	}
	svc, fn, err := b.thriftFunction(function)
	if err != nil {
		return nil, err
	}
	tmpl, err := routes.ParseTemplate(path)
	if err != nil {
		return nil, err
	}
	if body == "" && method != "GET" && method != "DELETE" && method != "HEAD" {
		body = "*" // an object keyed by argument name
	}
	binding := thriftbackend.Binding{PathFields: tmpl.FieldPaths(), Body: body, ExceptionStatus: exceptions,
		MaxDepth: thriftDepth(g.cfg.Limits.MaxJSONDepth), Protocol: b.thriftProto}
	if b.multiplexed {
		binding.ServiceName = svc.Name
	}
	target, err := thriftbackend.NewTarget(backendName, b.wrapped, fn, binding)
	if err != nil {
		return nil, err
	}
	return &routes.Route{Method: method, Pattern: path, Template: tmpl, Source: source, Target: target}, nil
}

// thriftServiceRoutes exposes a Thrift service through its IDL annotations.
func (g *Gateway) thriftServiceRoutes(be *buildError, i int) []*routes.Route {
	ts := g.cfg.ThriftServices[i]
	key := fmt.Sprintf("thrift_services[%d]", i)
	b, ok := g.backends[ts.Backend]
	if !ok || b.thrift == nil {
		be.add("%s", g.cfg.Problem(key+".backend", "backend %q is not a Thrift backend", ts.Backend))
		return nil
	}
	svc := b.thrift.Service(ts.Name)
	if svc == nil {
		be.add("%s", g.cfg.Problem(key+".name", "no service %s in %s", ts.Name, g.cfg.Backends[ts.Backend].Thrift.IDL))
		return nil
	}
	ars, err := thriftbackend.AnnotatedRoutes(svc)
	if err != nil {
		be.add("%s", g.cfg.Problem(key, "%v", err))
		return nil
	}
	unannotated := ts.Unannotated == nil || *ts.Unannotated
	var rs []*routes.Route
	for _, ar := range ars {
		if !unannotated && ar.Path == "/"+svc.Name+"/"+ar.Function.Name {
			continue
		}
		tmpl, err := routes.ParseTemplate(ar.Path)
		if err != nil {
			be.add("%s", g.cfg.Problem(key, "%s.%s: %v", svc.Name, ar.Function.Name, err))
			continue
		}
		binding := ar.Binding
		binding.ExceptionStatus = ts.Exceptions
		binding.MaxDepth = thriftDepth(g.cfg.Limits.MaxJSONDepth)
		binding.Protocol = b.thriftProto
		if b.multiplexed {
			binding.ServiceName = svc.Name
		}
		target, err := thriftbackend.NewTarget(ts.Backend, b.wrapped, ar.Function, binding)
		if err != nil {
			be.add("%s", g.cfg.Problem(key, "%v", err))
			continue
		}
		rs = append(rs, &routes.Route{Method: ar.Method, Pattern: ar.Path, Template: tmpl,
			Source: svc.Name + "." + ar.Function.Name, Target: target})
	}
	return rs
}

// natsRoute binds a subject template to a route; typed payloads resolve
// their message types from the current schemas.
func (g *Gateway) natsRoute(snap *descriptors.Snapshot, rc config.Route, method, path, source string) (*routes.Route, error) {
	b, ok := g.backends[rc.Backend]
	if !ok || b.nats == nil {
		return nil, fmt.Errorf("backend %q is not a NATS backend", rc.Backend)
	}
	tmpl, err := routes.ParseTemplate(path)
	if err != nil {
		return nil, err
	}
	jo := bindingOptions(g.cfg.JSON.Merge(rc.JSON), g.cfg.Limits.MaxJSONDepth)
	nr := natsbackend.Route{Subject: rc.NATS.Subject, Mode: rc.NATS.Mode, Raw: rc.NATS.Raw,
		Headers: append(append([]string{}, b.headers...), rc.NATS.Headers...), MaxDepth: g.cfg.Limits.MaxJSONDepth,
		Strict: jo.Strict, UseProtoNames: jo.UseProtoNames, UseEnumNumbers: jo.UseEnumNumbers, OmitUnpopulated: !jo.EmitUnpopulated}
	for _, typed := range []struct {
		name string
		dst  *protoreflect.MessageDescriptor
	}{{rc.NATS.Request, &nr.Request}, {rc.NATS.Reply, &nr.Reply}} {
		if typed.name == "" {
			continue
		}
		md, set := findMessage(snap, typed.name)
		if md == nil {
			return nil, fmt.Errorf("message type %s is not in any descriptor set", typed.name)
		}
		*typed.dst = md
		nr.Resolver = set.Types
	}
	target, err := natsbackend.NewTarget(rc.Backend, b.wrapped, tmpl.FieldPaths(), nr)
	if err != nil {
		return nil, err
	}
	return &routes.Route{Method: method, Pattern: path, Template: tmpl, Source: source, Target: target}, nil
}

// thriftDepth caps the JSON depth limit at the Thrift codec's own maximum:
// its decoder recurses, and Thrift payloads nest far less than JSON ones.
func thriftDepth(d int) int { return min(d, thriftbackend.MaxDepthLimit) }

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

// HTTPRules returns the google.api.http bindings of md, additional ones
// flattened; none if it has no annotation.
func HTTPRules(md protoreflect.MethodDescriptor) []HTTPRule {
	rule, ok := descriptors.HTTPRule(md)
	if !ok {
		return nil
	}
	var out []HTTPRule
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		b := HTTPRule{Body: r.GetBody(), ResponseBody: r.GetResponseBody()}
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			b.Method, b.Path = "GET", p.Get
		case *annotations.HttpRule_Put:
			b.Method, b.Path = "PUT", p.Put
		case *annotations.HttpRule_Post:
			b.Method, b.Path = "POST", p.Post
		case *annotations.HttpRule_Delete:
			b.Method, b.Path = "DELETE", p.Delete
		case *annotations.HttpRule_Patch:
			b.Method, b.Path = "PATCH", p.Patch
		case *annotations.HttpRule_Custom:
			b.Method, b.Path = strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
		default:
			continue
		}
		out = append(out, b)
	}
	return out
}

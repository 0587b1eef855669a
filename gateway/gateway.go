package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/klauspost/compress/gzhttp"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/policy/framing"
	"github.com/switchboard-gw/switchboard/policy/jwtauth"
	"github.com/switchboard-gw/switchboard/policy/tlsconf"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/protocol"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// Gateway serves the routes of its current State.
type Gateway struct {
	cfg     *config.Config
	log     *slog.Logger
	metrics *observability.Metrics
	tracing *observability.Tracing
	// protocols are the config's, as the gateway calls them.
	protocols protocol.Registry
	// warnings from the first build, for validate and the start-up log.
	warnings []string
	// budget bounds the memory request bodies hold, gateway-wide.
	budget *policy.Budget
	// reloadMu serialises reloads; retired are runtimes replaced by a
	// reload whose backends and policies close once requests on them
	// have had time to finish.
	reloadMu sync.Mutex
	retired  []*runtime
	// transform adjusts every config read from the file (the demo points
	// it at its mocks).
	transform func(*config.Config) error

	jwtOptions jwtauth.Options
	// mounts are fixed paths the gateway answers before its routes
	// (Mount), read-only once it serves.
	mounts    map[string]http.Handler
	onFailure func(observability.Failure)

	state    atomic.Pointer[State]
	draining atomic.Bool
	// drain ends when shutdown starts, and every stream with it; streams
	// counts those still being served.
	drain      context.Context
	startDrain context.CancelFunc
	streams    sync.WaitGroup
	// mu serialises schema changes; readers never take it.
	mu sync.Mutex
}

var _ http.Handler = (*Gateway)(nil)

// Option adjusts a Gateway as New builds it.
type Option func(*Gateway)

// WithTracing traces requests with tr instead of what the config says.
func WithTracing(tr *observability.Tracing) Option { return func(g *Gateway) { g.tracing = tr } }

// WithFailures hands every failed request (status 400 and above) to fn,
// after its access log line: the admin API keeps the recent ones.
func WithFailures(fn func(observability.Failure)) Option {
	return func(g *Gateway) { g.onFailure = fn }
}

// WithJWTOptions sets how identity providers' keys are fetched (tests
// shorten the refresh gaps).
func WithJWTOptions(o jwtauth.Options) Option { return func(g *Gateway) { g.jwtOptions = o } }

// ErrInvalidSchema wraps every refusal of a schema change caused by its
// content (link errors, conflicts), as opposed to an unknown name.
var ErrInvalidSchema = errors.New("invalid schema")

// ErrConflict refuses a change whose routes or services another origin
// (a descriptor set, the config) already has.
var ErrConflict = errors.New("conflict")

// ErrChanged refuses a change that raced with another one.
var ErrChanged = errors.New("concurrent change")

// New dials the backends, loads the descriptor sets the config names and
// builds the first route table. It fails with every problem found.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, metrics *observability.Metrics, opts ...Option) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, metrics: metrics}
	g.drain, g.startDrain = context.WithCancel(context.Background())
	reg, err := registry(cfg)
	if err != nil {
		return nil, err
	}
	g.protocols = reg
	g.budget = policy.NewBudget(cfg.Limits.MaxInflightBodyBytes, "limits.max_inflight_body_bytes")
	for _, o := range opts {
		o(g)
	}
	if g.tracing == nil {
		tc := cfg.Tracing
		tr, err := observability.NewTracing(observability.TracingOptions{Exporter: tc.Exporter, Endpoint: tc.Endpoint,
			Insecure: tc.Insecure, SampleRatio: tc.SampleRatio, ServiceName: tc.ServiceName}, os.Stdout)
		if err != nil {
			return nil, config.Problems{cfg.Problem("tracing", "%v", err)}
		}
		g.tracing = tr
	}
	var problems []string
	for _, l := range []struct {
		key string
		tc  *config.ListenerTLS
	}{{"tls", cfg.TLS}, {"admin.tls", cfg.Admin.TLS}} {
		if l.tc == nil {
			continue
		}
		// Load the files once now, so that validate names what is wrong
		// with them; Run loads them again and watches them.
		rl, err := tlsconf.Server(tlsOptions(*l.tc, log))
		if err != nil {
			problems = append(problems, cfg.Problem(l.key, "%s", strings.TrimPrefix(err.Error(), "tls: ")).String())
			continue
		}
		_ = rl.Close()
	}
	st, bproblems := g.build(ctx, cfg, nil)
	problems = append(problems, bproblems...)
	if st.Table != nil && st.Table.Len() == 0 {
		g.warnings = append(g.warnings, cfg.File+": the config exposes no routes")
	}
	if len(problems) > 0 {
		g.closeRuntime(st.rt, nil)
		g.closeTracing()
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	g.state.Store(st)
	return g, nil
}

// build makes what cfg describes: its policies, its backends (those of
// prev whose settings are unchanged are kept, with their connections),
// its descriptor sets and the route table. It returns every problem found;
// the State is complete only without problems.
func (g *Gateway) build(ctx context.Context, cfg *config.Config, prev *State) (*State, []string) {
	var problems []string
	var engine *policy.Engine
	if prev != nil && samePolicies(prev.rt.cfg, cfg) {
		// Unchanged: keep the engine, with its rate limit buckets and its
		// identity providers' keys.
		engine = prev.rt.policies
	} else {
		var ps config.Problems
		engine, ps = policy.New(cfg, policy.Options{Log: g.log, Metrics: g.metrics, JWT: g.jwtOptions})
		for _, p := range ps {
			problems = append(problems, p.String())
		}
	}
	if engine == nil {
		// Routes still build, so that one run reports every problem.
		engine = policy.Empty()
	}
	rt := &runtime{cfg: cfg, backends: map[string]*protocol.Backend{}, broken: map[string]bool{}, policies: engine}
	for _, name := range cfg.BackendNames() {
		if cfg.Backends[name].Protocol == "" {
			rt.broken[name] = true // the config's own problem, reported by config
			continue
		}
		if prev != nil {
			if old, ok := prev.rt.backends[name]; ok {
				if reflect.DeepEqual(*old.Config, cfg.Backends[name]) {
					rt.backends[name] = old // unchanged: keep its connections
					continue
				}
				if r, ok := old.Client.(interface{ RestartOnChange() bool }); ok && r.RestartOnChange() {
					// An embedded server cannot be swapped under its
					// clients: keep it, and say a restart applies the change.
					rt.backends[name] = old
					rt.restartNeeded = append(rt.restartNeeded, "backends."+name)
					continue
				}
			}
		}
		b, err := g.newBackend(ctx, cfg, name)
		if err != nil {
			// Go on: validate names every problem in one run, and the
			// routes of a backend that could not be built are skipped.
			problems = append(problems, cfg.Problem("backends."+name, "%v", err).String())
			rt.broken[name] = true
			continue
		}
		rt.backends[name] = b
	}
	snap := descriptors.NewSnapshot()
	for i, dc := range cfg.Descriptors {
		set, err := g.loadDescriptor(ctx, rt, dc)
		if err != nil {
			problems = append(problems, cfg.Problem(fmt.Sprintf("descriptors[%d]", i), "%v", err).String())
			continue
		}
		snap = snap.With(set)
	}
	if prev != nil {
		// Sets registered through the admin API outlive a reload, as long
		// as their backend does.
		for _, set := range prev.Schemas.Sets() {
			if set.Source.Kind != descriptors.SourceUpload {
				continue
			}
			if _, ok := rt.backends[set.Backend]; !ok {
				problems = append(problems, fmt.Sprintf("%s: registered set %q uses backend %q, which the new config lacks; remove the set first", cfg.File, set.Name, set.Backend))
				continue
			}
			snap = snap.Carried(prev.Schemas, set.Name)
		}
	}
	st := &State{Schemas: snap, rt: rt}
	// Build the routes of what did load, so that one run reports every problem.
	table, err := g.buildTable(rt, snap, nil)
	if err != nil {
		problems = append(problems, err.Error())
	}
	st.Table = table
	return st, problems
}

func (g *Gateway) loadDescriptor(ctx context.Context, rt *runtime, dc config.Descriptor) (*descriptors.Set, error) {
	switch {
	case dc.File != "":
		fds, err := descriptors.ReadSetFile(dc.File)
		if err != nil {
			return nil, err
		}
		return descriptors.NewSet(dc.Name, "", descriptors.Source{Kind: descriptors.SourceFile, Ref: dc.File}, fds)
	case len(dc.Proto) > 0:
		fds, err := descriptors.Compile(ctx, dc.Proto, dc.ImportPaths)
		if err != nil {
			return nil, err
		}
		return descriptors.NewSet(dc.Name, "", descriptors.Source{Kind: descriptors.SourceProto, Ref: strings.Join(dc.Proto, ",")}, fds)
	default:
		fds, err := g.fetchReflection(ctx, rt, dc.Reflection)
		if err != nil {
			return nil, err
		}
		return descriptors.NewSet(dc.Name, dc.Reflection, descriptors.Source{Kind: descriptors.SourceReflection, Ref: dc.Reflection}, fds)
	}
}

func (g *Gateway) fetchReflection(ctx context.Context, rt *runtime, backendName string) (*descriptorpb.FileDescriptorSet, error) {
	b, ok := rt.backends[backendName]
	var r reflector
	if ok {
		r, ok = b.Client.(reflector)
	}
	if !ok {
		return nil, fmt.Errorf("backend %q has no server reflection", backendName)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fds, err := r.FetchReflection(ctx)
	if err != nil {
		return nil, fmt.Errorf("server reflection of backend %s: %w", backendName, err)
	}
	return fds, nil
}

// reflector is a backend whose server describes its own schema.
type reflector interface {
	FetchReflection(ctx context.Context) (*descriptorpb.FileDescriptorSet, error)
}

// Warnings are what the first build noticed but did not refuse: methods
// that are not exposed, a config with no routes.
func (g *Gateway) Warnings() []string { return g.warnings }

// State returns the state requests are served from now.
func (g *Gateway) State() *State { return g.state.Load() }

// change builds a new state from the current one with fn and swaps it in,
// or leaves the current state serving if the new one does not build.
// changed names the set the change adds or restores ("" for none): its
// routes may not take requests another origin's routes serve.
func (g *Gateway) change(op, changed string, fn func(*descriptors.Snapshot) (*descriptors.Snapshot, error)) (*State, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.state.Load()
	snap, err := fn(cur.Schemas)
	if err == nil {
		var table *routes.Table
		var upload *descriptors.Set
		if changed != "" {
			upload, _ = snap.Set(changed)
		}
		if table, err = g.buildTable(cur.rt, snap, upload); err == nil {
			st := &State{Schemas: snap, Table: table, rt: cur.rt}
			g.state.Store(st)
			g.metrics.SchemaChange(op, true)
			g.log.Info("schemas changed", "op", op, "generation", snap.Generation(), "routes", table.Len())
			return st, nil
		}
		err = fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	g.metrics.SchemaChange(op, false)
	g.log.Warn("schema change refused", "op", op, "error", err)
	return nil, err
}

// Register adds or replaces the set name, exposing its services through
// backend. Nothing changes if the set does not link, its routes conflict,
// or it breaks clients of the version it replaces (RegisterWith says which
// changes, and can allow them).
func (g *Gateway) Register(name, backendName string, fds *descriptorpb.FileDescriptorSet) (*descriptors.Set, error) {
	set, _, err := g.RegisterWith(name, backendName, fds, RegisterOptions{})
	return set, err
}

// RegisterWith is Register with options. It returns the registered set
// and how it differs from the version it replaced (everything added for
// a first version); a refusal for breaking changes is a *BreakingError,
// which wraps ErrConflict.
func (g *Gateway) RegisterWith(name, backendName string, fds *descriptorpb.FileDescriptorSet, opts RegisterOptions) (*descriptors.Set, []diff.Change, error) {
	if rt := g.state.Load().rt; rt.backends[backendName] == nil {
		return nil, nil, fmt.Errorf("%w: unknown backend %q (have: %s)", ErrInvalidSchema, backendName, strings.Join(rt.cfg.BackendNames(), ", "))
	}
	set, err := descriptors.NewSet(name, backendName, descriptors.Source{Kind: descriptors.SourceUpload}, fds)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	var changes []diff.Change
	st, err := g.change("register", name, func(s *descriptors.Snapshot) (*descriptors.Snapshot, error) {
		// Again under the lock: a reload that removed the backend may have
		// landed since the check above.
		if rt := g.state.Load().rt; rt.backends[backendName] == nil {
			return nil, fmt.Errorf("%w: unknown backend %q (have: %s)", ErrInvalidSchema, backendName, strings.Join(rt.cfg.BackendNames(), ", "))
		}
		cur, ok := s.Set(name)
		if ok && cur.Source.Kind != descriptors.SourceUpload {
			// The config's sets are the operator's: an upload replacing one
			// would move its services to the upload's backend.
			return nil, fmt.Errorf("%w: set %q was loaded from %s, not uploaded; an upload may not replace it", ErrConflict, name, cur.Source)
		}
		if err := redefined(s, set); err != nil {
			return nil, err
		}
		// Under the lock: the version compared is the one replaced.
		if changes, err = checkBreaking(cur, set, opts); err != nil {
			return nil, err
		}
		return s.With(set), nil
	})
	if err != nil {
		return nil, nil, err
	}
	now, _ := st.Schemas.Set(name)
	if b := diff.Breaking(changes); len(b) > 0 {
		g.log.Warn("descriptor set registered with breaking changes", "set", name, "version", now.Version, "breaking", len(b), "changes", diff.Join(b, maxChangesListed))
	}
	return now, changes, nil
}

// redefined refuses a set that defines a service another set already
// defines (which one a call would use would depend on load order), or
// that gives a message, enum or service another set has a different
// definition: a typed route built on the other set's message would
// otherwise change under it. The same file, byte for byte, in two sets is
// fine: uploads carry the files they import.
func redefined(s *descriptors.Snapshot, set *descriptors.Set) error {
	var dups []string
	for _, sd := range set.Services() {
		for _, other := range s.Sets() {
			if other.Name == set.Name {
				continue
			}
			if _, err := other.Files.FindDescriptorByName(sd.FullName()); err == nil {
				dups = append(dups, fmt.Sprintf("service %s is already registered by %s", sd.FullName(), other.Origin()))
			}
		}
	}
	for _, f := range set.FDS.GetFile() {
		fd, err := set.Files.FindFileByPath(f.GetName())
		if err != nil {
			continue
		}
		ours := fileBytes(fd)
		for _, other := range s.Sets() {
			if other.Name == set.Name {
				continue
			}
			theirs := map[string][]byte{} // by path: a file defines many names
			for _, name := range topLevelNames(fd) {
				d, err := other.Files.FindDescriptorByName(name)
				if err != nil {
					continue
				}
				path := d.ParentFile().Path()
				if _, ok := theirs[path]; !ok {
					theirs[path] = fileBytes(d.ParentFile())
				}
				if path != fd.Path() || !bytes.Equal(theirs[path], ours) {
					dups = append(dups, fmt.Sprintf("%s is defined differently by %s (%s)", name, other.Origin(), d.ParentFile().Path()))
				}
			}
		}
	}
	if len(dups) > 0 {
		slices.Sort(dups)
		dups = slices.Compact(dups)
		if len(dups) > 10 {
			dups = append(dups[:10], fmt.Sprintf("and %d more", len(dups)-10))
		}
		return fmt.Errorf("%w: %s", ErrConflict, strings.Join(dups, "; "))
	}
	return nil
}

// fileBytes is a file's descriptor in a form two sets can compare.
func fileBytes(fd protoreflect.FileDescriptor) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(protodesc.ToFileDescriptorProto(fd))
	return b
}

// topLevelNames are the messages, enums and services a file declares at
// its top level (nested ones go with their parents).
func topLevelNames(fd protoreflect.FileDescriptor) []protoreflect.FullName {
	var out []protoreflect.FullName
	for i := 0; i < fd.Messages().Len(); i++ {
		out = append(out, fd.Messages().Get(i).FullName())
	}
	for i := 0; i < fd.Enums().Len(); i++ {
		out = append(out, fd.Enums().Get(i).FullName())
	}
	for i := 0; i < fd.Services().Len(); i++ {
		out = append(out, fd.Services().Get(i).FullName())
	}
	return out
}

// Remove drops the set name and its routes.
func (g *Gateway) Remove(name string) error {
	_, err := g.change("remove", "", func(s *descriptors.Snapshot) (*descriptors.Snapshot, error) { return s.Without(name) })
	return err
}

// Rollback restores the previous version of the set name.
func (g *Gateway) Rollback(name string) (*descriptors.Set, error) {
	st, err := g.change("rollback", name, func(s *descriptors.Snapshot) (*descriptors.Snapshot, error) {
		rolled, err := s.RolledBack(name)
		if err != nil {
			return nil, err
		}
		restored, _ := rolled.Set(name)
		if err := redefined(s, restored); err != nil {
			return nil, err
		}
		return rolled, nil
	})
	if err != nil {
		return nil, err
	}
	cur, _ := st.Schemas.Set(name)
	return cur, nil
}

// Refresh asks the backend of a reflection-loaded set for its schema again
// and pins the answer as a new version.
func (g *Gateway) Refresh(ctx context.Context, name string) (*descriptors.Set, error) {
	cur, ok := g.state.Load().Schemas.Set(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", descriptors.ErrUnknownSet, name)
	}
	backendName, isReflection := cur.Source.Ref, cur.Source.Kind == descriptors.SourceReflection
	if !isReflection {
		return nil, fmt.Errorf("%w: set %q was not loaded by reflection (source %s)", ErrInvalidSchema, name, cur.Source)
	}
	fds, err := g.fetchReflection(ctx, g.state.Load().rt, backendName)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	set, err := descriptors.NewSet(name, cur.Backend, cur.Source, fds)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSchema, err)
	}
	st, err := g.change("refresh", name, func(s *descriptors.Snapshot) (*descriptors.Snapshot, error) {
		// The fetch ran unlocked: refuse to undo a removal or an upload
		// that landed meanwhile.
		if now, ok := s.Set(name); !ok || now.Version != cur.Version || now.Source != cur.Source {
			return nil, fmt.Errorf("%w: set %q changed during the refresh", ErrChanged, name)
		}
		if err := redefined(s, set); err != nil {
			return nil, err
		}
		return s.With(set), nil
	})
	if err != nil {
		return nil, err
	}
	now, _ := st.Schemas.Set(name)
	return now, nil
}

// ServeHTTP matches the request against the current route table and hands it
// to the route's target.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := g.stateOf(r)
	path := r.URL.EscapedPath()
	if h, ok := g.mounts[path]; ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.ServeHTTP(w, r)
		return
	}
	if policy.IsPreflight(r) {
		// A preflight never reaches a backend, even on a path with an
		// OPTIONS route: it carries no credentials, and the global
		// policy let it through without them.
		g.preflight(w, r, st, path)
		return
	}
	route, params, err := st.Table.Match(r.Method, path)
	if err != nil && r.Method == http.MethodHead {
		// HEAD is GET without the body (RFC 9110 §9.3.2); net/http drops
		// what the handler writes and keeps the headers.
		route, params, err = st.Table.Match(http.MethodGet, path)
	}
	if err != nil {
		var mna *routes.MethodNotAllowedError
		switch {
		case errors.As(err, &mna):
			allowed := allowedMethods(mna.Allowed)
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			if r.Method == http.MethodOptions {
				// Without a CORS policy, OPTIONS says what the path takes.
				w.WriteHeader(http.StatusNoContent)
				return
			}
			translate.Fail(w, r, translate.Refuse(translate.ReasonMethodNotAllowed,
				"method %s is not allowed on %s (allowed: %s)", r.Method, path, strings.Join(allowed, ", ")), nil)
		case errors.Is(err, routes.ErrNotFound):
			translate.Fail(w, r, &translate.Error{Code: codes.NotFound, Message: "no route for " + r.Method + " " + path}, nil)
		default:
			translate.Fail(w, r, translate.Errorf(codes.InvalidArgument, "%v", err), nil)
		}
		return
	}
	observability.FromContext(r.Context()).SetRoute(route.Pattern, route.Target.Backend())
	if s, ok := route.Target.(interface{ Streaming() translate.StreamKind }); ok && s.Streaming() != translate.Unary {
		// A stream ends when the gateway shuts down, which waits for it
		// to say so (a hijacked WebSocket is not net/http's to wait for).
		if g.drain.Err() != nil {
			translate.Fail(w, r, &translate.Error{Code: codes.Unavailable, Message: "the gateway is shutting down",
				Header: http.Header{"Retry-After": {"1"}}}, nil)
			return
		}
		g.streams.Add(1)
		defer g.streams.Done()
		w, r = uncompressed(w), r.WithContext(pipeline.WithDrain(r.Context(), g.drain))
	}
	route.Target.ServeRoute(w, r, params)
}

// preflight answers a CORS preflight from the policy of the route the
// requested method would reach; a path without one gets what any OPTIONS
// gets, which a browser takes as a refusal.
func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request, st *State, path string) {
	methods := st.Table.Methods(path)
	if len(methods) == 0 {
		translate.Fail(w, r, &translate.Error{Code: codes.NotFound, Message: "no route for OPTIONS " + path}, nil)
		return
	}
	methods = allowedMethods(methods)
	want := r.Header.Get("Access-Control-Request-Method")
	route, _, err := st.Table.Match(want, path)
	if err != nil && want == http.MethodHead {
		route, _, err = st.Table.Match(http.MethodGet, path)
	}
	if err == nil {
		observability.FromContext(r.Context()).SetRoute(route.Pattern, route.Target.Backend())
		if p, ok := route.Target.(interface{ Policy() *policy.Chain }); ok && p.Policy().CORS() {
			p.Policy().Preflight(w, r, methods)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	w.WriteHeader(http.StatusNoContent)
}

// Mount answers GET and HEAD on path with h, before the route table: the
// OpenAPI document on the public listener, say. Call it before serving.
func (g *Gateway) Mount(path string, h http.Handler) {
	if g.mounts == nil {
		g.mounts = map[string]http.Handler{}
	}
	g.mounts[path] = h
}

// allowedMethods adds what the gateway answers itself to a path's
// methods: HEAD where GET is, and OPTIONS.
func allowedMethods(methods []string) []string {
	out := append([]string(nil), methods...)
	if slices.Contains(out, http.MethodGet) && !slices.Contains(out, http.MethodHead) {
		out = append(out, http.MethodHead)
	}
	if !slices.Contains(out, http.MethodOptions) {
		out = append(out, http.MethodOptions)
	}
	sort.Strings(out)
	return out
}

// Handler is the full request path: observability around the global
// policies around the router.
func (g *Gateway) Handler() http.Handler {
	limits := policy.Limits(policy.BodyLimits{MaxBody: g.cfg.Limits.MaxBodyBytes, Budget: g.budget}, g)
	// Shedding comes first after the framing guard, which must see every
	// request (it counts them against the heads the listener scanned): a
	// shed request costs a log line, a metric and nothing else.
	// The global policy runs before route matching: a request it refuses
	// costs no route lookup and reaches no backend.
	shed := policy.Shed(g.cfg.Limits.MaxInflightRequests, g.global(compress(limits)))
	guarded := framing.Guard(shed, func(w http.ResponseWriter, r *http.Request, err error) {
		translate.Fail(w, r, err, nil)
	})
	return observability.MiddlewareWith(g.log, g.metrics, g.tracing, g.onFailure, guarded)
}

// PolicySummary is what a route asks of its callers: the policies of its
// chain and the credentials, scopes and limits they need.
func (g *Gateway) PolicySummary(r *routes.Route) policy.Summary {
	var c *policy.Chain
	if p, ok := r.Target.(interface{ Policy() *policy.Chain }); ok {
		c = p.Policy()
	}
	return g.State().rt.policies.Summary(c)
}

// global runs the global policy of the state a request is served from,
// which it pins for the rest of the request: a reload in between cannot
// give it one config's policies and another's routes.
func (g *Gateway) global(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := g.state.Load()
		r, err := st.rt.policies.CheckGlobalWith(w, r, stateKey{}, st)
		if err != nil {
			translate.Fail(w, r, err, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type stateKey struct{}

// stateOf is the state the request was pinned to, or the current one.
func (g *Gateway) stateOf(r *http.Request) *State {
	if st, ok := r.Context().Value(stateKey{}).(*State); ok {
		return st
	}
	return g.state.Load()
}

// Close closes every backend connection, the policies' key refreshers
// and stores, and flushes traces.
func (g *Gateway) Close() {
	g.reloadMu.Lock()
	retired := g.retired
	g.retired = nil
	g.reloadMu.Unlock()
	for _, rt := range retired {
		g.closeRuntime(rt, rt.keep)
	}
	if st := g.state.Load(); st != nil {
		g.closeRuntime(st.rt, nil)
	}
	g.closeTracing()
}

// closeRuntime closes rt's policies and the backends keep does not hold.
func (g *Gateway) closeRuntime(rt *runtime, keep map[string]*protocol.Backend) {
	if rt == nil {
		return
	}
	if !rt.keepPolicies {
		rt.policies.Close()
	}
	for name, b := range rt.backends {
		if keep != nil && keep[name] == b {
			continue
		}
		_ = b.Guarded.Close()
	}
}

func (g *Gateway) closeTracing() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.tracing.Shutdown(ctx); err != nil {
		g.log.Warn("flushing traces", "error", err)
	}
}

// ClientURL returns the URL a backend's clients use (a NATS backend's
// embedded server, say), for tools that talk to the same upstream, like
// the demo's mock responder.
func (g *Gateway) ClientURL(backendName string) (string, bool) {
	b, ok := g.State().rt.backends[backendName]
	if !ok {
		return "", false
	}
	u, ok := b.Client.(interface{ ClientURL() string })
	if !ok {
		return "", false
	}
	return u.ClientURL(), true
}

func joinLines(lines []string) string { return strings.Join(lines, "\n") }

// compress gzips responses to clients that accept it once they are large
// enough to gain from it, as Envoy's compressor does; responses that are
// already encoded, or of types that do not compress, pass as they are.
func compress(h http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024))
	if err != nil {
		return h // the options are constant: never happens
	}
	gz := wrap(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			// A WebSocket's handshake: gzhttp would hold back its 101.
			h.ServeHTTP(w, r)
			return
		}
		gz.ServeHTTP(w, r)
	})
}

// uncompressed is the response writer beneath the gateway's compression,
// for a streaming route: gzhttp holds a response head until the first
// body byte, which a quiet stream may not send for long.
func uncompressed(w http.ResponseWriter) http.ResponseWriter {
	switch gw := w.(type) {
	case *gzhttp.GzipResponseWriter:
		return gw.ResponseWriter
	case gzhttp.GzipResponseWriterWithCloseNotify:
		return gw.ResponseWriter
	case *gzhttp.NoGzipResponseWriter:
		return gw.ResponseWriter
	}
	return w
}

// Endpoints lists, per backend, the upstream addresses its protocol client
// dials (none for an embedded server), for checks such as validate --dial.
func (g *Gateway) Endpoints() map[string][]string {
	out := map[string][]string{}
	for name, b := range g.State().rt.backends {
		if eps := endpointsOf(b); eps != nil {
			out[name] = eps
		}
	}
	return out
}

// BodyBytesHeld is what request bodies hold now against
// limits.max_inflight_body_bytes: bytes read and their decoded cost.
func (g *Gateway) BodyBytesHeld() int64 { return g.budget.Used() }

// BackendStatus is one backend as GET /admin/backends shows it; its
// endpoints, with their health and ejection, are in Status.
type BackendStatus struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	// Ready is empty when the backend's connection is up (or it keeps
	// none), else why not.
	Ready string `json:"ready,omitempty"`
	resilience.Status
}

// Backends lists every backend with its breaker, calls in flight and
// retry budget, by name.
func (g *Gateway) Backends() []BackendStatus {
	var out []BackendStatus
	rt := g.State().rt
	for _, name := range rt.cfg.BackendNames() {
		b, ok := rt.backends[name]
		if !ok {
			continue
		}
		st := BackendStatus{Name: name, Protocol: b.Config.Protocol, Status: b.Guarded.Status()}
		if err := readiness(b); err != nil {
			st.Ready = err.Error()
		}
		out = append(out, st)
	}
	return out
}

// endpointsOf are the addresses a backend's client dials, when it says.
func endpointsOf(b *protocol.Backend) []string {
	if e, ok := b.Client.(interface{ Endpoints() []string }); ok {
		return e.Endpoints()
	}
	return nil
}

// readiness is why a backend that keeps a connection (NATS) has none, or
// nil.
func readiness(b *protocol.Backend) error {
	if r, ok := b.Client.(interface{ Ready() error }); ok {
		return r.Ready()
	}
	return nil
}

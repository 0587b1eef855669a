package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy/clientaddr"
	"github.com/switchboard-gw/switchboard/policy/jwtauth"
	"github.com/switchboard-gw/switchboard/policy/ratelimit"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// Check is one policy step of a route, run before the body is read: it
// refuses the request with an error (its *translate.Error Header, such as
// WWW-Authenticate or Retry-After, is sent with the error body), may set
// response headers on w, and may return a request carrying what it
// learned (an identity) in its context or headers. A nil request means r.
type Check func(w http.ResponseWriter, r *http.Request) (*http.Request, error)

// Engine holds the compiled policies of one config: the global one, run
// before a request is matched to a route, and the named ones, which routes
// chain after it.
type Engine struct {
	log      *slog.Logger
	metrics  *observability.Metrics
	resolver clientaddr.Resolver
	global   *compiled
	named    map[string]*compiled

	verifier *jwtauth.Verifier
	memory   *ratelimit.Memory
	redis    *ratelimit.Redis
	// redisFailOpen: while Redis cannot be reached, limits that use it
	// allow requests (and say so in logs and metrics) rather than refuse.
	redisFailOpen bool
	redisDown     atomic.Bool
	lastProbe     atomic.Int64 // unix nanoseconds of the last readiness probe
	client        *http.Client
	// broken: the config's policies did not compile; routes get none, and
	// the problems were already reported.
	broken bool
	// reserved are the headers any policy sets for a backend (identity,
	// ext_authz answers): a client's copies are removed from every request,
	// whatever its route, so that a backend reached by an open route and
	// a guarded one alike never takes a client's word for an identity.
	reserved *compiled
}

// Options are what an Engine needs beyond the config.
type Options struct {
	Log     *slog.Logger
	Metrics *observability.Metrics
	// JWT overrides the key fetching options (tests shorten the gaps).
	JWT jwtauth.Options
	// Client calls external authorization services; default a client
	// with no redirects and the policy's timeout.
	Client *http.Client
}

// MaxKeys bounds the in-memory rate limit keys of one gateway.
const MaxKeys = 100_000

// New compiles cfg's policies. It fails with every problem found, each
// naming its key.
func New(cfg *config.Config, o Options) (*Engine, config.Problems) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: o.Log, metrics: o.Metrics, named: map[string]*compiled{}, client: o.Client,
		memory: ratelimit.NewMemory(MaxKeys)}
	if e.client == nil {
		e.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	var ps config.Problems
	add := func(key, format string, args ...any) { ps = append(ps, cfg.Problem(key, format, args...)) }

	trusted, err := clientaddr.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		add(prefixKey("trusted_proxies", err), "%v", err)
	}
	e.resolver = clientaddr.Resolver{Trusted: trusted}
	switch strings.ToLower(cfg.ForwardedHeader) {
	case "", "x-forwarded-for":
	case "forwarded":
		e.resolver.Header = clientaddr.HeaderForwarded
	default:
		add("forwarded_header", "unknown header %q (want X-Forwarded-For or Forwarded: the one your proxies maintain)", cfg.ForwardedHeader)
	}

	if rs := cfg.Stores.Redis; rs != nil {
		switch rs.Fail {
		case "", "open":
			e.redisFailOpen = true
		case "closed":
		default:
			add("stores.redis.fail", "unknown fail mode %q (want open or closed)", rs.Fail)
		}
		if rs.URL == "" {
			add("stores.redis.url", "required (redis://host:port/db)")
		} else if r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: rs.URL, Timeout: rs.Timeout.D(0)}); err != nil {
			add("stores.redis.url", "%v", err)
		} else {
			e.redis = r
		}
	}

	var issuers []jwtauth.Issuer
	seenIssuer := map[string]string{} // issuer -> key of its first declaration
	names := make([]string, 0, len(cfg.Policies))
	for name := range cfg.Policies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := "policies." + name
		if name == config.PolicyNone || name == "" {
			add(key, "%q cannot name a policy: it means no policy", name)
			continue
		}
		c, cps := e.compile(cfg, name, cfg.Policies[name])
		ps = append(ps, cps...)
		e.named[name] = c
		for i, j := range jwtIssuersOf(cfg.Policies[name]) {
			jkey := fmt.Sprintf("%s.authenticate.jwt[%d]", key, i)
			iss := jwtIssuer(j)
			if err := iss.Validate(); err != nil {
				add(jkey, "%v", err)
				continue
			}
			if prev, dup := seenIssuer[iss.Issuer]; dup {
				// One verifier holds every issuer: two policies naming the
				// same issuer must trust it the same way.
				if !sameIssuer(issuers, iss) {
					add(jkey+".issuer", "issuer %s is configured differently at %s; configure it once and name the policy", iss.Issuer, prev)
				}
				continue
			}
			seenIssuer[iss.Issuer] = jkey
			issuers = append(issuers, iss)
		}
	}
	e.reserved = &compiled{name: "(reserved headers)"}
	for _, name := range names {
		p, ok := e.named[name]
		if !ok {
			continue
		}
		for _, h := range p.stripped {
			if !slices.Contains(e.reserved.stripped, h) {
				e.reserved.stripped = append(e.reserved.stripped, h)
			}
		}
	}
	if cfg.Policy != "" {
		if g, ok := e.named[cfg.Policy]; ok {
			e.global = g
			if g.needsAuth() {
				add("policy", "the global policy %s needs an identity (require, forward or a rate limit by subject) but does not authenticate", cfg.Policy)
			}
		}
		// An unknown name is the config's problem, reported by config.
	}
	if len(issuers) > 0 && len(ps) == 0 {
		jo := o.JWT
		jo.Log = o.Log
		v, err := jwtauth.New(issuers, jo)
		if err != nil {
			add("policies", "%v", err)
		} else {
			e.verifier = v
		}
	}
	if len(ps) > 0 {
		e.Close()
		return nil, ps
	}
	return e, nil
}

// Empty is an engine with no policies, for a gateway whose config's
// policies did not compile (it is being validated, not served).
func Empty() *Engine {
	return &Engine{log: slog.New(slog.DiscardHandler), named: map[string]*compiled{}, memory: ratelimit.NewMemory(1), broken: true}
}

// HasGlobalCORS reports a global policy that answers CORS, which every
// route's chain then carries.
func (e *Engine) HasGlobalCORS() bool { return e.global != nil && e.global.cors != nil }

// Close stops the key refreshers and closes the store connections.
func (e *Engine) Close() {
	if e.verifier != nil {
		e.verifier.Close()
	}
	if e.redis != nil {
		_ = e.redis.Close()
	}
}

// Ready says what the policy stage lacks, for /readyz detail: nil when
// every store and identity provider it uses answers. Only a store whose
// fail mode refuses requests makes the gateway unready.
func (e *Engine) Ready() (detail []string, err error) {
	if e.redis != nil {
		if e.redis.Ready() != nil {
			// Only a failing store is probed, and at most once a second:
			// probes and scrapers may ask often.
			if last := e.lastProbe.Load(); time.Since(time.Unix(0, last)) >= time.Second && e.lastProbe.CompareAndSwap(last, time.Now().UnixNano()) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = e.redis.Probe(ctx)
				cancel()
			}
		}
		if rerr := e.redis.Ready(); rerr != nil {
			mode := "open"
			if !e.redisFailOpen {
				mode = "closed"
				err = fmt.Errorf("rate limit store: %w", rerr)
			}
			detail = append(detail, fmt.Sprintf("stores.redis unreachable (fail %s): %v", mode, rerr))
		}
	}
	if e.verifier != nil {
		for _, s := range e.verifier.Status() {
			if s.Keys == 0 && s.LastError != "" {
				detail = append(detail, fmt.Sprintf("identity provider %s: no keys: %s", s.Issuer, s.LastError))
			}
		}
	}
	return detail, err
}

// Global wraps next (route matching onwards) in the global policy: the
// client address is settled for every request, then the global checks
// run before the route table is consulted.
func (e *Engine) Global(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := e.CheckGlobal(w, r)
		if err != nil {
			translate.Fail(w, r, err, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckGlobal settles the client address and runs the global policy; the
// request it returns carries what they learned. For a server whose engine
// changes (a config reload), it is Global with the engine chosen per
// request.
func (e *Engine) CheckGlobal(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	return e.CheckGlobalWith(w, r, nil, nil)
}

// CheckGlobalWith is CheckGlobal that also puts val under key (when key is
// not nil) in the context of the request it returns, in the context the
// policy stage makes anyway: one allocation and request copy fewer than a
// context.WithValue of the caller's own. The gateway pins the state a
// request is served from this way.
func (e *Engine) CheckGlobalWith(w http.ResponseWriter, r *http.Request, key, val any) (*http.Request, error) {
	f, r := factsOfWith(r, key, val)
	f.addr = e.resolver.ClientAddr(r)
	info := observability.FromContext(r.Context())
	if f.addr.IsValid() {
		info.SetClient(f.addr.String())
	}
	if e.reserved != nil {
		if err := e.reserved.strip(r, f); err != nil {
			return r, err
		}
	}
	if e.global != nil {
		if err := e.global.strip(r, f); err != nil {
			return r, err
		}
		if err := e.run(w, r, f, e.global, isPreflight(r)); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Chain is the route-level part of a route's policy chain: its service's
// policy and its own, after the global one, which Global ran.
type Chain struct {
	e     *Engine
	steps []*compiled
	// cors is the most specific CORS policy of the whole chain.
	cors *corsPolicy
}

// Route builds the chain of a route, or nil when it has nothing beyond
// the global policy. An error names a policy the config lacks or a
// schema option that does not compile.
func (e *Engine) Route(ref routes.PolicyRef, source string) (*Chain, error) {
	if e.broken {
		return nil, nil
	}
	c := &Chain{e: e}
	if e.global != nil {
		c.cors = e.global.cors
	}
	add := func(name string) error {
		p, ok := e.named[name]
		if !ok {
			return fmt.Errorf("unknown policy %q", name)
		}
		// A policy named twice in one chain (the service's and the
		// route's, or the global one again) runs once: twice would count
		// each request twice against its rate limit.
		if p == e.global || slices.Contains(c.steps, p) {
			return nil
		}
		c.steps = append(c.steps, p)
		return nil
	}
	if ref.Service != "" && ref.Service != config.PolicyNone && ref.Route != config.PolicyNone {
		if err := add(ref.Service); err != nil {
			return nil, err
		}
	}
	switch {
	case ref.Route != "":
		if ref.Route != config.PolicyNone {
			if err := add(ref.Route); err != nil {
				return nil, err
			}
		}
	default:
		if ref.Schema != "" && ref.Schema != config.PolicyNone {
			if err := add(ref.Schema); err != nil {
				return nil, fmt.Errorf("switchboard.v1.policy: %w", err)
			}
		}
		if len(ref.Scopes) > 0 || ref.RateLimit != nil {
			p, err := e.fromSchema(ref, source)
			if err != nil {
				return nil, err
			}
			c.steps = append(c.steps, p)
		}
	}
	authenticated := e.global != nil && e.global.auth != nil
	for _, p := range c.steps {
		if p.cors != nil {
			c.cors = p.cors
		}
		authenticated = authenticated || p.auth != nil
		if (p.require != nil || p.rate.byIdentity() || len(p.forward) > 0) && !authenticated && p.needsAuth() {
			return nil, fmt.Errorf("policy %s requires an identity, but no policy before it in the chain authenticates", p.name)
		}
	}
	if len(c.steps) == 0 && c.cors == nil {
		return nil, nil
	}
	return c, nil
}

// Check runs the chain for one request; it is a pipeline check.
func (c *Chain) Check(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	f, r := factsOf(r)
	for _, p := range c.steps {
		if err := p.strip(r, f); err != nil {
			return nil, err
		}
	}
	if c.cors != nil {
		if err := c.cors.actual(w, r); err != nil {
			return nil, c.e.refused(r, c.cors.policy, "cors", "origin_not_allowed", err)
		}
	}
	for _, p := range c.steps {
		if err := c.e.run(w, r, f, p, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// CORS reports whether the chain answers browsers' cross-origin requests.
func (c *Chain) CORS() bool { return c != nil && c.cors != nil }

// AllowsOrigin reports whether the chain's CORS policy allows origin;
// configured is false when the chain has none (a WebSocket then accepts
// only its own origin).
func (c *Chain) AllowsOrigin(origin string) (allowed, configured bool) {
	if !c.CORS() {
		return false, false
	}
	return c.cors.allows(origin), true
}

// Preflight answers a CORS preflight for a path whose routes take
// methods; the caller found the route the requested method matches.
func (c *Chain) Preflight(w http.ResponseWriter, r *http.Request, methods []string) {
	if reason, err := c.cors.preflight(w, r, methods); err != nil {
		translate.Fail(w, r, c.e.refused(r, c.cors.policy, "cors", reason, err), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// run applies one policy's checks, cheapest and least revealing first:
// the address lists, a rate limit that needs no identity (so a flood of
// bad tokens is limited before it costs signature checks), then
// authentication, authorization, a rate limit by identity, and the
// identity's headers for the backend. A preflight carries no credentials
// and passes only the address and address-keyed checks.
func (e *Engine) run(w http.ResponseWriter, r *http.Request, f *facts, p *compiled, preflight bool) error {
	if reason := p.checkAddr(f.addr); reason != "" {
		return e.refused(r, p.name, "address", reason, translate.Errorf(codes.PermissionDenied, "the client address is not allowed"))
	}
	if p.rate != nil && !p.rate.byIdentity() {
		if err := e.limit(w, r, f, p); err != nil {
			return err
		}
	}
	if preflight {
		return nil
	}
	if p.auth != nil {
		id, err := p.auth.authenticate(r.Context(), e, r, f)
		if err != nil {
			var ae *authError
			if errors.As(err, &ae) {
				return e.refused(r, p.name, ae.check, ae.reason, ae.err)
			}
			return e.refused(r, p.name, "authenticate", "error", translate.Errorf(codes.Internal, "authentication failed"))
		}
		f.identity = id
		info := observability.FromContext(r.Context())
		info.SetPrincipal(id.principal())
		e.metrics.Authenticated(p.name, id.Method, id.metricPrincipal())
	}
	if p.require != nil {
		if reason, err := p.require.check(f.identity); err != nil {
			return e.refused(r, p.name, "authorize", reason, err)
		}
	}
	if p.rate != nil && p.rate.byIdentity() {
		if err := e.limit(w, r, f, p); err != nil {
			return err
		}
	}
	for _, fw := range p.forward {
		// A fact the identity lacks (no such claim, a value a header cannot
		// carry) is forwarded empty, not left out: a backend argument bound
		// to the header (Thrift's api.header) must not be left for the
		// client to fill through the query or the body.
		f.setHeader(r, fw.header, fw.value(f.identity, r))
	}
	return nil
}

// refused records a refusal in the metrics and the access log and
// returns the error the client gets.
func (e *Engine) refused(r *http.Request, policy, check, reason string, err error) error {
	e.metrics.PolicyRefusal(policy, check, reason)
	observability.FromContext(r.Context()).SetRefusal(policy, check, reason)
	var te *translate.Error
	if errors.As(err, &te) {
		return te
	}
	return translate.Errorf(codes.PermissionDenied, "%v", err)
}

// compiled is one named policy, ready to run.
type compiled struct {
	name        string
	allow, deny clientaddr.Prefixes
	cors        *corsPolicy
	rate        *rateLimit
	auth        *authenticator
	require     *requirement
	forward     []forwardRule
	// stripped are the canonical names of every header the policy sets
	// for the backend, removed from the client's request first.
	stripped []string
}

// needsAuth: the policy's own require, identity-keyed rate limit or
// forward rules need an identity from an authenticate step before them
// or in the policy itself.
func (p *compiled) needsAuth() bool {
	return p.auth == nil && (p.require != nil || p.rate.byIdentity() || p.forwardsIdentity())
}

func (p *compiled) forwardsIdentity() bool {
	for _, fw := range p.forward {
		if fw.from != "client_cert" {
			return true
		}
	}
	return false
}

// strip removes the client's copies of the headers the policy sets,
// unless an earlier policy of the chain set them for this request.
func (p *compiled) strip(r *http.Request, f *facts) error {
	for _, name := range p.stripped {
		if f.wasSet(name) {
			continue
		}
		r.Header.Del(name)
		low := strings.ToLower(name)
		if !slices.Contains(f.reserved, low) {
			f.reserved = append(f.reserved, low)
		}
	}
	return nil
}

// checkAddr says why the client address is refused ("" if it is not).
// An address that could not be read is in no allow list.
func (p *compiled) checkAddr(a netip.Addr) string {
	if len(p.deny) > 0 && p.deny.Contains(a) {
		return "denied"
	}
	if len(p.allow) > 0 && !p.allow.Contains(a) {
		return "not_allowed"
	}
	return ""
}

// IsPreflight reports a CORS preflight: an OPTIONS request with Origin and
// Access-Control-Request-Method.
func IsPreflight(r *http.Request) bool { return isPreflight(r) }

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// canonical is a header name as net/http keys it.
func canonical(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// unavailable is the 503 a check answers when what it needs cannot be
// reached and its fail mode is closed.
func unavailable(format string, args ...any) *translate.Error {
	e := translate.Errorf(codes.Unavailable, format, args...)
	e.Header = http.Header{"Retry-After": {"1"}}
	return e
}

// prefixKey names the entry of a CIDR list that did not parse.
func prefixKey(key string, err error) string {
	var pe *clientaddr.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s[%d]", key, pe.Index)
	}
	return key
}

// Summary is what a route's policy chain asks of a caller, for tools that
// describe the API (OpenAPI's security schemes, explain).
type Summary struct {
	// Policies are the chain's policy names, global first.
	Policies []string `json:"policies,omitempty"`
	// JWTIssuers are the issuers whose bearer tokens authenticate.
	JWTIssuers []string `json:"jwt_issuers,omitempty"`
	// APIKeyHeader is the header an API key travels in, "" for none.
	APIKeyHeader string `json:"api_key_header,omitempty"`
	// ExtAuthz is the URL of an external authorization service.
	ExtAuthz string `json:"ext_authz,omitempty"`
	// Scopes must all be held; Claims must match.
	Scopes []string          `json:"scopes,omitempty"`
	Claims map[string]string `json:"claims,omitempty"`
	// RateLimited names the policies with a rate limit.
	RateLimited []string `json:"rate_limited,omitempty"`
	CORS        bool     `json:"cors,omitempty"`
}

// Summary describes the whole chain of a route: the global policy, then
// c's (c may be nil: the global policy alone).
func (e *Engine) Summary(c *Chain) Summary {
	var steps []*compiled
	if e.global != nil {
		steps = append(steps, e.global)
	}
	if c != nil {
		steps = append(steps, c.steps...)
	}
	var s Summary
	for _, p := range steps {
		s.Policies = append(s.Policies, p.name)
		if p.auth != nil {
			if p.auth.jwt != nil {
				s.JWTIssuers = append(s.JWTIssuers, p.auth.jwt.issuers...)
			}
			if p.auth.apiKeys != nil {
				s.APIKeyHeader = p.auth.apiKeys.header
			}
			if p.auth.ext != nil {
				s.ExtAuthz = p.auth.ext.url
			}
		}
		if p.require != nil {
			s.Scopes = append(s.Scopes, p.require.scopes...)
			for k, v := range p.require.claims {
				if s.Claims == nil {
					s.Claims = map[string]string{}
				}
				s.Claims[k] = v
			}
		}
		if p.rate != nil {
			s.RateLimited = append(s.RateLimited, p.name)
		}
		if p.cors != nil {
			s.CORS = true
		}
	}
	return s
}

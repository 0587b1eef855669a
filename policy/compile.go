package policy

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/policy/clientaddr"
	"github.com/switchboard-gw/switchboard/policy/jwtauth"
	"github.com/switchboard-gw/switchboard/policy/ratelimit"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// Defaults of a policy's optional settings.
const (
	DefaultAPIKeyHeader    = "X-Api-Key"
	DefaultExtAuthzTimeout = time.Second
	DefaultJWTLeeway       = 30 * time.Second
	DefaultCORSMaxAge      = 10 * time.Minute
)

// reservedHeaders may not be set by forward rules or ext_authz answers:
// the gateway, the transport or a proxy gives them their meaning.
var reservedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Host", "Content-Type", "Content-Length",
	"Content-Encoding", "Transfer-Encoding", "Te", "Trailer", "Connection", "Upgrade", "Keep-Alive", "X-Request-Id",
	"Traceparent", "Tracestate", "Grpc-Timeout", "Request-Timeout", "X-Request-Timeout", "Accept", "Origin",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"}

func (e *Engine) compile(cfg *config.Config, name string, pc config.Policy) (*compiled, config.Problems) {
	var ps config.Problems
	key := "policies." + name
	add := func(k, format string, args ...any) {
		if k == "" {
			ps = append(ps, cfg.Problem(key, format, args...))
			return
		}
		ps = append(ps, cfg.Problem(key+"."+k, format, args...))
	}
	p := &compiled{name: name}
	var err error
	if p.allow, err = clientaddr.ParsePrefixes(pc.Allow); err != nil {
		add(prefixKey("allow", err), "%v", err)
	}
	if p.deny, err = clientaddr.ParsePrefixes(pc.Deny); err != nil {
		add(prefixKey("deny", err), "%v", err)
	}
	if pc.CORS != nil {
		c, cps := compileCORS(name, pc.CORS)
		for _, cp := range cps {
			add("cors."+cp.key, "%s", cp.msg)
		}
		p.cors = c
	}
	if pc.RateLimit != nil {
		rl := pc.RateLimit
		r, msgs := e.compileRate(name, routes.RateSpec{Rate: rl.Rate, Per: time.Duration(rl.Per), Burst: rl.Burst, Key: rl.Key}, rl.Store)
		for _, m := range msgs {
			add("rate_limit."+m.key, "%s", m.msg)
		}
		p.rate = r
	}
	if a := pc.Authenticate; a != nil {
		auth, aps := e.compileAuth(name, a)
		for _, m := range aps {
			add(strings.TrimSuffix("authenticate."+m.key, "."), "%s", m.msg)
		}
		p.auth = auth
	}
	if rq := pc.Require; rq != nil {
		p.require = &requirement{scopes: rq.Scopes, claims: rq.Claims}
		for i, s := range rq.Scopes {
			if s == "" || strings.ContainsAny(s, " \t") {
				add(fmt.Sprintf("require.scopes[%d]", i), "a scope is one word, not %q", s)
			}
		}
		if len(rq.Scopes) == 0 && len(rq.Claims) == 0 {
			add("require", "name scopes or claims to require")
		}
	}
	froms := make([]string, 0, len(pc.Forward))
	for from := range pc.Forward {
		froms = append(froms, from)
	}
	sort.Strings(froms)
	seen := map[string]string{}
	for _, from := range froms {
		h := pc.Forward[from]
		k := "forward." + from
		if msg := forwardableHeader(h); msg != "" {
			add(k, "%s", msg)
			continue
		}
		c := canonical(h)
		if prev, dup := seen[c]; dup {
			add(k, "header %s already carries %s", h, prev)
			continue
		}
		seen[c] = from
		if from == "" {
			add(k, "name a claim, or api_key, client_cert or subject")
			continue
		}
		p.forward = append(p.forward, forwardRule{from: from, header: c})
		p.stripped = append(p.stripped, c)
	}
	if p.auth != nil && p.auth.ext != nil {
		for _, h := range p.auth.ext.forward {
			if !slices.Contains(p.stripped, h) {
				p.stripped = append(p.stripped, h)
			}
		}
	}
	return p, ps
}

// forwardableHeader says why h cannot carry an identity to a backend, or "".
func forwardableHeader(h string) string {
	if !translate.ValidHeaderName(h) || !translate.ValidMetadataKey(strings.ToLower(h)) {
		return fmt.Sprintf("%q is not a header name", h)
	}
	if translate.HopByHop(h) {
		return fmt.Sprintf("%s is hop-by-hop", h)
	}
	c := canonical(h)
	for _, r := range reservedHeaders {
		if c == r {
			return fmt.Sprintf("%s has a meaning of its own; choose another header (e.g. X-User-Id)", h)
		}
	}
	if strings.HasPrefix(c, "Grpc-") || strings.HasPrefix(c, "Access-Control-") {
		return fmt.Sprintf("%s is in a reserved family of headers", h)
	}
	return ""
}

type keyMsg struct{ key, msg string }

func (e *Engine) compileRate(policy string, spec routes.RateSpec, store string) (*rateLimit, []keyMsg) {
	var ms []keyMsg
	r := &rateLimit{policy: policy, limit: ratelimit.Limit{Rate: spec.Rate, Per: spec.Per, Burst: spec.Burst}}
	if r.limit.Per == 0 {
		r.limit.Per = time.Second
	}
	if err := r.limit.Validate(); err != nil {
		ms = append(ms, keyMsg{"rate", err.Error()})
	}
	switch k := spec.Key; {
	case k == "" || k == "client_ip":
		r.key = keyClientIP
	case k == "subject":
		r.key = keySubject
	case k == "api_key":
		r.key = keyAPIKey
	case k == "client_cert":
		r.key = keyClientCert
	case strings.HasPrefix(k, "header:"):
		r.key, r.header = keyHeader, canonical(strings.TrimPrefix(k, "header:"))
		if !translate.ValidHeaderName(r.header) {
			ms = append(ms, keyMsg{"key", fmt.Sprintf("%q does not name a header", k)})
		}
	default:
		ms = append(ms, keyMsg{"key", fmt.Sprintf("unknown key %q (want client_ip, subject, api_key, client_cert or header:NAME)", k)})
	}
	switch store {
	case "", "memory":
		r.store = e.memory
		r.storeName = "memory"
	case "redis":
		if e.redis == nil {
			ms = append(ms, keyMsg{"store", "store redis needs stores.redis"})
		} else {
			r.store, r.storeName, r.shared = e.redis, "redis", true
		}
	default:
		ms = append(ms, keyMsg{"store", fmt.Sprintf("unknown store %q (want memory or redis)", store)})
	}
	return r, ms
}

func (e *Engine) compileAuth(policy string, a *config.Authenticate) (*authenticator, []keyMsg) {
	var ms []keyMsg
	auth := &authenticator{policy: policy}
	if len(a.JWT) > 0 {
		auth.jwt = &jwtMethod{e: e}
		for i, j := range a.JWT {
			auth.jwt.issuers = append(auth.jwt.issuers, j.Issuer)
			switch j.UnavailableStatus {
			case 0, http.StatusUnauthorized, http.StatusServiceUnavailable:
			default:
				ms = append(ms, keyMsg{fmt.Sprintf("jwt[%d].unavailable_status", i), "must be 401 or 503"})
			}
			auth.jwt.unavailable = append(auth.jwt.unavailable, j.UnavailableStatus)
		}
	}
	if k := a.APIKeys; k != nil {
		m := &apiKeyMethod{header: canonical(k.Header)}
		if k.Header == "" {
			m.header = DefaultAPIKeyHeader
		}
		if msg := forwardableHeader(m.header); msg != "" && m.header != "Authorization" {
			ms = append(ms, keyMsg{"api_keys.header", msg})
		}
		if len(k.Keys) == 0 {
			ms = append(ms, keyMsg{"api_keys.keys", "list at least one key: {name: NAME, sha256: HEX}"})
		}
		names := map[string]bool{}
		for i, key := range k.Keys {
			kk := fmt.Sprintf("api_keys.keys[%d]", i)
			sum, err := hex.DecodeString(key.SHA256)
			if err != nil || len(sum) != 32 {
				ms = append(ms, keyMsg{kk + ".sha256", "want the 64 hex digits of the key's SHA-256 (sha256sum), not the key itself"})
				continue
			}
			if key.Name == "" || !printableName(key.Name) {
				ms = append(ms, keyMsg{kk + ".name", "name the key with printable ASCII (logs and metrics use it)"})
				continue
			}
			if names[key.Name] {
				ms = append(ms, keyMsg{kk + ".name", fmt.Sprintf("key name %q is used twice", key.Name)})
			}
			names[key.Name] = true
			m.keys = append(m.keys, apiKey{name: key.Name, sum: [32]byte(sum), scopes: key.Scopes})
		}
		auth.apiKeys = m
	}
	if x := a.ExtAuthz; x != nil {
		m := &extAuthz{e: e, timeout: x.Timeout.D(DefaultExtAuthzTimeout), failOpen: x.Fail == "open"}
		switch x.Fail {
		case "", "closed", "open":
		default:
			ms = append(ms, keyMsg{"ext_authz.fail", fmt.Sprintf("unknown fail mode %q (want closed or open)", x.Fail)})
		}
		u, err := url.Parse(x.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ms = append(ms, keyMsg{"ext_authz.url", fmt.Sprintf("want an http or https URL, not %q", x.URL)})
		} else {
			m.url = u.String()
		}
		for i, h := range x.Headers {
			if !translate.ValidHeaderName(h) {
				ms = append(ms, keyMsg{fmt.Sprintf("ext_authz.headers[%d]", i), fmt.Sprintf("%q is not a header name", h)})
				continue
			}
			m.headers = append(m.headers, canonical(h))
		}
		for i, h := range x.Forward {
			if msg := forwardableHeader(h); msg != "" {
				ms = append(ms, keyMsg{fmt.Sprintf("ext_authz.forward[%d]", i), msg})
				continue
			}
			m.forward = append(m.forward, canonical(h))
		}
		auth.ext = m
	}
	if auth.jwt == nil && auth.apiKeys == nil && auth.ext == nil {
		ms = append(ms, keyMsg{"", "name at least one of jwt, api_keys, ext_authz"})
	}
	return auth, ms
}

func printableName(s string) bool {
	if len(s) > 128 {
		return false
	}
	return translate.PrintableASCII(s)
}

// jwtIssuersOf lists a policy's issuers.
func jwtIssuersOf(p config.Policy) []config.JWTIssuer {
	if p.Authenticate == nil {
		return nil
	}
	return p.Authenticate.JWT
}

func jwtIssuer(j config.JWTIssuer) jwtauth.Issuer {
	return jwtauth.Issuer{Issuer: j.Issuer, JWKSURL: j.JWKSURL, Audiences: j.Audiences,
		Algorithms: j.Algorithms, Leeway: j.Leeway.D(DefaultJWTLeeway)}
}

func sameIssuer(have []jwtauth.Issuer, iss jwtauth.Issuer) bool {
	for _, h := range have {
		if h.Issuer == iss.Issuer {
			return h.JWKSURL == iss.JWKSURL && slices.Equal(h.Audiences, iss.Audiences) &&
				slices.Equal(h.Algorithms, iss.Algorithms) && h.Leeway == iss.Leeway
		}
	}
	return false
}

// fromSchema compiles the policy a method's switchboard.v1.policy option
// declares without naming one of the config's: its scopes and rate limit.
func (e *Engine) fromSchema(ref routes.PolicyRef, source string) (*compiled, error) {
	p := &compiled{name: "schema:" + source}
	if len(ref.Scopes) > 0 {
		p.require = &requirement{scopes: ref.Scopes}
	}
	if ref.RateLimit != nil {
		r, ms := e.compileRate(p.name, *ref.RateLimit, "")
		if len(ms) > 0 {
			return nil, fmt.Errorf("switchboard.v1.policy rate_limit.%s: %s", ms[0].key, ms[0].msg)
		}
		p.rate = r
	}
	return p, nil
}

package policy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/policy/jwtauth"
	"github.com/switchboard-gw/switchboard/policy/tlsconf"
	"github.com/switchboard-gw/switchboard/translate"
)

// authenticator is a policy's authenticate: any one method that succeeds
// authenticates the request.
type authenticator struct {
	policy  string
	jwt     *jwtMethod
	apiKeys *apiKeyMethod
	ext     *extAuthz
}

// authError is a refusal by authentication or ext_authz: err is what the
// client gets, reason what logs and metrics get.
type authError struct {
	check, reason string
	err           *translate.Error
}

func (e *authError) Error() string { return e.err.Error() }

// Bounds on credentials, checked before any work is done on them.
const (
	maxAPIKeyBytes = 512
	maxTokenBytes  = 16 << 10
)

func (a *authenticator) authenticate(ctx context.Context, e *Engine, r *http.Request, f *facts) (*Identity, error) {
	var failure *authError
	tokenSent := false
	if a.apiKeys != nil {
		if vs := r.Header.Values(a.apiKeys.header); len(vs) > 0 {
			id, err := a.apiKeys.check(vs)
			if err == nil {
				return a.finish(id, r), nil
			}
			failure = err
		}
	}
	if a.jwt != nil {
		token, present, err := bearer(r)
		tokenSent = present
		switch {
		case err != nil:
			if failure == nil {
				failure = err
			}
		case present:
			id, err := a.jwt.check(ctx, token)
			if err == nil {
				return a.finish(id, r), nil
			}
			if err.err.Code == codes.Unavailable || failure == nil {
				failure = err
			}
		}
	}
	if a.ext != nil && (failure == nil || failure.err.Code != codes.Unavailable) {
		id, err := a.ext.check(ctx, r, f)
		if err == nil {
			return a.finish(id, r), nil
		}
		return nil, err
	}
	if failure == nil {
		failure = &authError{"authenticate", "missing_credentials",
			translate.Errorf(codes.Unauthenticated, "authentication required: %s", a.hint())}
	}
	if failure.err.Code == codes.Unauthenticated {
		failure.err.Header = a.challenge(tokenSent)
	}
	return nil, failure
}

// finish adds what every identity carries: the client certificate.
func (a *authenticator) finish(id *Identity, r *http.Request) *Identity {
	id.ClientCert = tlsconf.ClientSubject(r.TLS)
	return id
}

// hint says which credentials the policy takes, for the 401 message.
func (a *authenticator) hint() string {
	var ways []string
	if a.jwt != nil {
		ways = append(ways, "Authorization: Bearer TOKEN")
	}
	if a.apiKeys != nil {
		ways = append(ways, a.apiKeys.header+": KEY")
	}
	if len(ways) == 0 {
		return "this route's authorization service refused the request"
	}
	return "send " + strings.Join(ways, " or ")
}

// challenge is the 401's WWW-Authenticate (RFC 6750 §3): invalid_token
// when a token was sent; the reason stays in the log.
func (a *authenticator) challenge(tokenSent bool) http.Header {
	h := http.Header{}
	if a.jwt != nil {
		v := `Bearer realm="switchboard"`
		if tokenSent {
			v += `, error="invalid_token"`
		}
		h.Add("WWW-Authenticate", v)
	}
	if a.apiKeys != nil {
		h.Add("WWW-Authenticate", `ApiKey realm="switchboard", header="`+a.apiKeys.header+`"`)
	}
	if len(h) == 0 {
		h.Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	return h
}

// bearer finds the request's bearer token. Tokens in the query string are
// never read: they end up in logs and browser histories.
func bearer(r *http.Request) (token string, present bool, err *authError) {
	vs := r.Header.Values("Authorization")
	if len(vs) == 0 {
		return "", false, nil
	}
	if len(vs) > 1 {
		return "", true, &authError{"authenticate", "repeated_authorization",
			translate.Errorf(codes.Unauthenticated, "send one Authorization header")}
	}
	scheme, tok, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false, nil // another scheme: not ours to judge
	}
	tok = strings.TrimLeft(tok, " ")
	if len(tok) > maxTokenBytes {
		return "", true, &authError{"authenticate", "too_large",
			translate.Errorf(codes.Unauthenticated, "the credentials were not accepted")}
	}
	return tok, true, nil
}

// KeyWait bounds how long a request waits for an identity provider's keys.
const KeyWait = time.Second

// jwtMethod verifies bearer tokens of the policy's issuers.
type jwtMethod struct {
	e       *Engine
	issuers []string
	// unavailable is each issuer's answer while its keys cannot be had.
	unavailable []int
}

func (m *jwtMethod) check(ctx context.Context, token string) (*Identity, *authError) {
	if m.e.verifier == nil {
		return nil, &authError{"authenticate", "no_verifier", translate.Errorf(codes.Internal, "authentication is not available")}
	}
	// A request waits for the identity provider's keys (the first fetch,
	// a refresh for an unknown kid) no longer than KeyWait.
	ctx, cancel := context.WithTimeout(ctx, KeyWait)
	defer cancel()
	cl, err := m.e.verifier.Verify(ctx, token)
	if err != nil {
		var je *jwtauth.Error
		if !errors.As(err, &je) {
			return nil, &authError{"authenticate", "error", &translate.Error{Code: codes.Unauthenticated,
				Message: "the credentials were not accepted", Cause: err}}
		}
		if je.Kind == jwtauth.Unavailable {
			status := m.unavailableStatus("")
			if status == http.StatusUnauthorized {
				return nil, &authError{"authenticate", je.Reason, &translate.Error{Code: codes.Unauthenticated,
					Message: "the credentials were not accepted", Cause: je}}
			}
			ue := unavailable("the identity provider's keys cannot be fetched; retry shortly")
			ue.Cause = je
			return nil, &authError{"authenticate", je.Reason, ue}
		}
		return nil, &authError{"authenticate", je.Reason, &translate.Error{Code: codes.Unauthenticated,
			Message: "the credentials were not accepted", Cause: je}}
	}
	if !m.trusts(cl.Issuer) {
		// The verifier holds every policy's issuers; this policy trusts
		// only its own.
		return nil, &authError{"authenticate", "issuer_not_trusted", &translate.Error{Code: codes.Unauthenticated,
			Message: "the credentials were not accepted", Cause: fmt.Errorf("issuer %s is not trusted by this policy", cl.Issuer)}}
	}
	return &Identity{Method: "jwt", Subject: cl.Subject, Issuer: cl.Issuer, Claims: cl.Raw, Scopes: cl.Scopes}, nil
}

func (m *jwtMethod) trusts(iss string) bool {
	for _, i := range m.issuers {
		if i == iss {
			return true
		}
	}
	return false
}

// unavailableStatus: with several issuers, the strictest answer (401)
// wins only if every issuer asks for it.
func (m *jwtMethod) unavailableStatus(string) int {
	for _, s := range m.unavailable {
		if s != http.StatusUnauthorized {
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusUnauthorized
}

// apiKeyMethod checks a key in a header against the SHA-256 sums the
// config holds.
type apiKeyMethod struct {
	header string
	keys   []apiKey
}

type apiKey struct {
	name   string
	sum    [32]byte
	scopes []string
}

func (m *apiKeyMethod) check(vs []string) (*Identity, *authError) {
	refused := func(reason string) *authError {
		return &authError{"authenticate", reason, translate.Errorf(codes.Unauthenticated, "the credentials were not accepted")}
	}
	if len(vs) > 1 {
		return nil, refused("repeated_api_key")
	}
	if len(vs[0]) > maxAPIKeyBytes {
		return nil, refused("too_large")
	}
	sum := sha256.Sum256([]byte(vs[0]))
	// Every key is compared, in constant time, so that neither the time
	// nor the position of a match says anything about the keys.
	var found *apiKey
	for i := range m.keys {
		if subtle.ConstantTimeCompare(sum[:], m.keys[i].sum[:]) == 1 && found == nil {
			found = &m.keys[i]
		}
	}
	if found == nil {
		return nil, refused("unknown_api_key")
	}
	// The subject says it is a key, so that no identity provider's user
	// named like a key can pass for it at a backend or share its bucket.
	return &Identity{Method: "api_key", Subject: "api_key:" + found.name, APIKey: found.name, Scopes: found.scopes}, nil
}

// extAuthz asks an HTTP service, in the forward-auth style of Traefik,
// nginx's auth_request and oauth2-proxy: a GET to its URL with the chosen
// request headers and X-Forwarded-Method, -Uri, -Host, -Proto and -For.
type extAuthz struct {
	e        *Engine
	url      string
	headers  []string
	forward  []string
	timeout  time.Duration
	failOpen bool
}

// maxAuthzBody is how much of an answer's body is read (and dropped) so
// that the connection can be reused.
const maxAuthzBody = 64 << 10

func (x *extAuthz) check(ctx context.Context, r *http.Request, f *facts) (*Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, x.url, nil)
	if err != nil {
		return nil, &authError{"ext_authz", "error", translate.Errorf(codes.Internal, "authorization service URL: %v", err)}
	}
	for _, h := range x.headers {
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	req.Header.Set("X-Forwarded-Method", r.Method)
	req.Header.Set("X-Forwarded-Uri", normalizedURI(r.URL))
	req.Header.Set("X-Forwarded-Host", r.Host)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	req.Header.Set("X-Forwarded-Proto", proto)
	if f.addr.IsValid() {
		req.Header.Set("X-Forwarded-For", f.addr.String())
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := x.e.client.Do(req)
	if err != nil {
		mode := "closed"
		if x.failOpen {
			mode = "open"
		}
		x.e.metrics.StoreError("ext_authz", mode)
		if x.failOpen {
			x.e.log.Warn("authorization service unreachable; letting the request through (fail: open)", "url", x.url, "error", err)
			return &Identity{Method: "ext_authz"}, nil
		}
		ue := unavailable("the authorization service did not answer; retry shortly")
		ue.Cause = err
		return nil, &authError{"ext_authz", "unavailable", ue}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAuthzBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		for _, h := range x.forward {
			v := resp.Header.Get(h)
			if v == "" {
				continue
			}
			if len(v) > 4096 || !translate.PrintableASCII(v) {
				x.e.log.Warn("authorization service answered a header the backend cannot take; dropped", "header", h)
				continue
			}
			f.setHeader(r, h, v)
		}
		return &Identity{Method: "ext_authz"}, nil
	}
	status := resp.StatusCode
	if status < 400 || status > 599 {
		status = http.StatusForbidden
	}
	te := &translate.Error{Code: translate.CodeForHTTPStatus(status), DeclaredStatus: status, Application: true,
		Message: "the authorization service refused the request", Cause: fmt.Errorf("ext_authz %s answered %d", x.url, resp.StatusCode)}
	if v := resp.Header.Values("WWW-Authenticate"); status == http.StatusUnauthorized && len(v) > 0 {
		te.Header = http.Header{"Www-Authenticate": v}
	}
	return nil, &authError{"ext_authz", "denied_" + strconv.Itoa(resp.StatusCode), te}
}

// requirement is a policy's require: scopes and claim values.
type requirement struct {
	scopes []string
	claims map[string]string
}

func (q *requirement) check(id *Identity) (reason string, err *translate.Error) {
	if id == nil {
		return "no_identity", translate.Errorf(codes.PermissionDenied, "this route needs an authenticated identity")
	}
	for _, s := range q.scopes {
		if !slices.Contains(id.Scopes, s) {
			e := translate.Errorf(codes.PermissionDenied, "missing scope %s", s)
			if id.Method == "jwt" {
				// RFC 6750 §3.1: the scope the client must ask its
				// provider for.
				e.Header = http.Header{"Www-Authenticate": {`Bearer realm="switchboard", error="insufficient_scope", scope="` + strings.Join(q.scopes, " ") + `"`}}
			}
			return "missing_scope", e
		}
	}
	for name, want := range q.claims {
		if !claimMatches(id.Claims[name], want) {
			// The expected value is the operator's, not the client's to learn.
			return "claim_mismatch", translate.Errorf(codes.PermissionDenied, "the identity's claims do not grant access to this route")
		}
	}
	return "", nil
}

// claimMatches: a string claim equals want, or an array claim holds it;
// numbers and booleans compare by their JSON text.
func claimMatches(v any, want string) bool {
	switch c := v.(type) {
	case string:
		return c == want
	case json.Number:
		return c.String() == want
	case bool:
		return strconv.FormatBool(c) == want
	case []any:
		for _, x := range c {
			if claimMatches(x, want) {
				return true
			}
		}
	}
	return false
}

// forwardRule copies one identity fact to a header for the backend.
type forwardRule struct {
	from, header string
}

func (fw forwardRule) value(id *Identity, r *http.Request) string {
	var v string
	switch fw.from {
	case "client_cert":
		v = tlsconf.ClientSubject(r.TLS)
	case "api_key":
		if id != nil {
			v = id.APIKey
		}
	case "subject":
		if id != nil {
			v = id.Subject
		}
	default:
		if id != nil {
			v = claimText(id.Claims[fw.from])
		}
	}
	// The value becomes a header and gRPC metadata: printable ASCII only.
	if len(v) > 4096 || !translate.PrintableASCII(v) {
		return ""
	}
	return v
}

func claimText(v any) string {
	switch c := v.(type) {
	case nil:
		return ""
	case string:
		return c
	case json.Number:
		return c.String()
	case bool:
		return strconv.FormatBool(c)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// principal names the identity in the access log.
func (id *Identity) principal() string {
	switch id.Method {
	case "api_key":
		return id.Subject
	case "jwt":
		return id.Subject
	}
	return id.Method
}

// metricPrincipal is a label from the config, never from the request.
func (id *Identity) metricPrincipal() string {
	switch id.Method {
	case "api_key":
		return id.APIKey
	case "jwt":
		return id.Issuer
	}
	return ""
}

// normalizedURI is the request's path and query for an authorization
// service, with percent-encoded unreserved characters decoded and the
// remaining escapes upper-cased (RFC 3986 §6.2.2): "/v1/%61dmin" is the
// path "/v1/admin" to the router, and must be to the service too, or a
// rule on "/v1/admin" could be walked around.
func normalizedURI(u *url.URL) string {
	p := u.EscapedPath()
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && ishex(p[i+1]) && ishex(p[i+2]) {
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteString(strings.ToUpper(p[i+1 : i+3]))
			}
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	if u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String()
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

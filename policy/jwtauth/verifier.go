// Package jwtauth verifies JWT bearer tokens (compact JWS) against the
// public keys that identity providers publish as a JWKS, found through OIDC
// discovery or configured directly.
//
// Keys are fetched and refreshed in the background, one goroutine per
// issuer; a request never fetches by itself and never waits past its own
// context. Algorithms are pinned per issuer and each key is used only for
// algorithms of its own type, which rules out "none" and the RSA-key-as-HMAC
// confusion. go-jose does the JWS parsing and the cryptography.
package jwtauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Bounds checked before anything in a token is decoded.
const (
	MaxTokenBytes  = 16 << 10 // the whole compact token
	MaxHeaderBytes = 4 << 10  // the decoded JOSE header
)

// Defaults for Options' zero values.
const (
	DefaultClientTimeout   = 5 * time.Second
	DefaultRefreshInterval = 5 * time.Minute
	DefaultMinRefreshGap   = 10 * time.Second
	DefaultMaxKeySetBytes  = 256 << 10
)

// Options tune key fetching. The zero value is usable.
type Options struct {
	// Client fetches discovery documents and key sets. Default: a client
	// with a DefaultClientTimeout timeout that refuses redirects away from
	// https. A client without a timeout is bounded by DefaultClientTimeout
	// per request all the same.
	Client *http.Client
	// RefreshInterval is how often each issuer's keys are fetched again.
	// Default DefaultRefreshInterval. After a failure the fetch is retried
	// sooner: after 1s, doubling up to RefreshInterval.
	RefreshInterval time.Duration
	// MinRefreshGap: tokens with an unknown kid trigger at most one fetch
	// per gap per issuer, however many arrive. Default DefaultMinRefreshGap.
	MinRefreshGap time.Duration
	// MaxKeySetBytes bounds discovery documents and JWKS bodies. Default
	// DefaultMaxKeySetBytes.
	MaxKeySetBytes int64
	// Log receives key fetch events (not per-request refusals: those are
	// returned). Default: discarded.
	Log *slog.Logger
}

// Verifier verifies tokens of the configured issuers. It is safe for
// concurrent use.
type Verifier struct {
	opts       Options
	log        *slog.Logger
	fetcher    *fetcher
	ownsClient bool

	issuers map[string]*issuerState // by exact "iss"; read-only after New
	order   []*issuerState          // configuration order, for Status

	// verified holds tokens already checked (cache.go).
	verified tokenCache

	cancel    context.CancelFunc
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New validates the issuers and starts one goroutine per issuer that fetches
// its keys (discovery, then JWKS) and refreshes them. It does not wait for
// the network: requests arriving before the first fetch wait for it within
// their own context. Close stops the goroutines.
func New(issuers []Issuer, o Options) (*Verifier, error) {
	if len(issuers) == 0 {
		return nil, errors.New("jwtauth: no issuers configured")
	}
	switch {
	case o.RefreshInterval < 0:
		return nil, fmt.Errorf("jwtauth: options: RefreshInterval negative (%s)", o.RefreshInterval)
	case o.MinRefreshGap < 0:
		return nil, fmt.Errorf("jwtauth: options: MinRefreshGap negative (%s)", o.MinRefreshGap)
	case o.MaxKeySetBytes < 0:
		return nil, fmt.Errorf("jwtauth: options: MaxKeySetBytes negative (%d)", o.MaxKeySetBytes)
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefreshGap == 0 {
		o.MinRefreshGap = DefaultMinRefreshGap
	}
	if o.MaxKeySetBytes == 0 {
		o.MaxKeySetBytes = DefaultMaxKeySetBytes
	}
	ownsClient := o.Client == nil
	if ownsClient {
		o.Client = defaultClient()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	timeout := o.Client.Timeout
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}

	v := &Verifier{
		opts:       o,
		log:        o.Log,
		fetcher:    &fetcher{client: o.Client, timeout: timeout, maxBytes: o.MaxKeySetBytes},
		ownsClient: ownsClient,
		issuers:    make(map[string]*issuerState, len(issuers)),
		closed:     make(chan struct{}),
	}
	for n, is := range issuers {
		if err := is.Validate(); err != nil {
			return nil, fmt.Errorf("jwtauth: issuers[%d]: %w", n, err)
		}
		if _, dup := v.issuers[is.Issuer]; dup {
			return nil, fmt.Errorf("jwtauth: issuers[%d]: issuer %q configured twice", n, is.Issuer)
		}
		s := newIssuerState(is)
		v.issuers[is.Issuer] = s
		v.order = append(v.order, s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	for _, s := range v.order {
		v.wg.Add(1)
		go s.run(ctx, v)
	}
	return v, nil
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Fetches are minutes apart: a kept-alive connection would only idle,
	// and would outlive Close.
	t.DisableKeepAlives = true
	t.MaxResponseHeaderBytes = 64 << 10
	return &http.Client{
		Timeout:   DefaultClientTimeout,
		Transport: t,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			if err := checkFetchURL(req.URL.String()); err != nil {
				return fmt.Errorf("redirect to %s: %w", req.URL, err)
			}
			return nil
		},
	}
}

// Close stops the background fetches, abandoning any in flight, and waits
// for their goroutines. Verify keeps working with the keys held. A Client
// given in Options is left as it is, idle connections included.
func (v *Verifier) Close() {
	v.closeOnce.Do(func() {
		close(v.closed)
		v.cancel()
		v.wg.Wait()
		if v.ownsClient {
			v.opts.Client.CloseIdleConnections()
		}
	})
}

// IssuerStatus is an issuer's key state, for readiness checks and the admin
// API.
type IssuerStatus struct {
	Issuer      string    `json:"issuer"`
	JWKSURL     string    `json:"jwks_url,omitempty"`    // configured or discovered; empty before discovery
	Keys        int       `json:"keys"`                  // usable keys held; 0 means tokens of this issuer cannot be verified
	KeyIDs      []string  `json:"kids,omitempty"`        // their kids, sorted
	LastFetch   time.Time `json:"last_fetch,omitzero"`   // last successful fetch; zero if none yet
	LastAttempt time.Time `json:"last_attempt,omitzero"` // last fetch, successful or not
	LastError   string    `json:"last_error,omitempty"`  // of the last attempt; empty when it succeeded
}

// Status reports each issuer's key state, in configuration order.
func (v *Verifier) Status() []IssuerStatus {
	out := make([]IssuerStatus, 0, len(v.order))
	for _, s := range v.order {
		out = append(out, s.snapshot())
	}
	return out
}

// Claims of a verified token.
type Claims struct {
	Issuer, Subject string
	Audience        []string
	Scopes          []string       // from "scope" (space-separated string) or else "scp" (string or array)
	Raw             map[string]any // every claim, as decoded JSON (numbers as json.Number)
	Expiry          time.Time
}

// Verify checks a compact JWS token: structure, size, algorithm pinned for
// its issuer, signature with a key of that issuer (by kid; a token without
// kid is tried against each key of a fitting type), iss exact, aud holding
// one of the issuer's audiences, exp required and in the future, nbf and iat
// if present, all with the issuer's leeway. It returns *Error on every
// failure.
//
// Only a token whose kid is unknown (or an issuer with no keys yet) can make
// it wait, for a key fetch, and never past ctx.
//
// Claims of a token verified earlier come from a cache (cache.go) and are
// shared: callers must not change them.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if c, ok := v.verified.get(token, time.Now()); ok {
		return c, nil
	}
	c, err := v.verify(ctx, token)
	if err != nil {
		return nil, err // not a typed nil in a non-nil interface
	}
	return c, nil
}

var (
	maxHeaderSegment = base64.RawURLEncoding.EncodedLen(MaxHeaderBytes)
	strictBase64URL  = base64.RawURLEncoding.Strict()
)

func (v *Verifier) verify(ctx context.Context, token string) (*Claims, *Error) {
	payloadSeg, e := checkShape(token)
	if e != nil {
		return nil, e
	}
	payload, err := strictBase64URL.DecodeString(payloadSeg)
	if err != nil {
		return nil, refuse(Malformed, ReasonMalformed, "claims segment: %v", err)
	}
	// The claims are read before the signature is checked only to find the
	// issuer (and so its algorithms and keys); they are trusted only after.
	raw, err := decodeClaims(payload)
	if err != nil {
		return nil, refuse(Malformed, ReasonMalformed, "claims: %v", err)
	}
	iss, _ := raw["iss"].(string)
	s := v.issuers[iss]
	if s == nil {
		if _, present := raw["iss"]; !present {
			return nil, refuse(Invalid, ReasonUnknownIssuer, "no iss claim")
		}
		return nil, refuse(Invalid, ReasonUnknownIssuer, "iss %s is not configured", quoted(fmt.Sprint(raw["iss"])))
	}

	tok, err := jwt.ParseSigned(token, s.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, refuse(Invalid, ReasonAlgNotAllowed, "issuer %s: %v", s.cfg.Issuer, err)
		}
		return nil, refuse(Malformed, ReasonMalformed, "%v", err)
	}
	h := tok.Headers[0] // compact serialization: exactly one
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		// go-jose honours b64=false; a JWT never uses it (RFC 7797 §7).
		if _, ok := h.ExtraHeaders[name]; ok {
			return nil, refuse(Invalid, ReasonUnsupportedHeader, "header %q present", name)
		}
	}
	set, e := v.checkSignature(ctx, s, tok, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if e != nil {
		return nil, e
	}
	now := time.Now()
	c, e := s.checkClaims(iss, raw, now)
	if e == nil {
		v.verified.put(token, c, s, set, now)
	}
	return c, e
}

// checkShape checks size, three segments, header size and that every
// segment is canonical unpadded base64url, before any decoding. Canonical
// matters: Go's decoder ignores newlines and non-zero trailing bits, so
// otherwise many strings would verify as the same token. It returns the
// claims segment.
func checkShape(token string) (string, *Error) {
	if len(token) > MaxTokenBytes {
		return "", refuse(Malformed, ReasonTooLarge, "token of %d bytes exceeds %d", len(token), MaxTokenBytes)
	}
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", refuse(Malformed, ReasonMalformed, "not three dot-separated segments")
	}
	if len(header) > maxHeaderSegment {
		return "", refuse(Malformed, ReasonTooLarge, "header of %d encoded bytes exceeds %d (%d decoded)", len(header), maxHeaderSegment, MaxHeaderBytes)
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return "", refuse(Malformed, ReasonMalformed, "not three dot-separated segments")
	}
	if header == "" || payload == "" {
		return "", refuse(Malformed, ReasonMalformed, "empty header or claims segment")
	}
	for _, seg := range [...]struct{ name, s string }{{"header", header}, {"claims", payload}, {"signature", sig}} {
		if !canonicalBase64URL(seg.s) {
			return "", refuse(Malformed, ReasonMalformed, "%s segment is not canonical base64url", seg.name)
		}
	}
	return payload, nil
}

// base64URLValue maps base64url characters to their value, others to 0xff.
var base64URLValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

func canonicalBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if base64URLValue[s[i]] == 0xff {
			return false
		}
	}
	if len(s) == 0 {
		return true
	}
	last := base64URLValue[s[len(s)-1]]
	switch len(s) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0 // 12 bits carry one byte
	case 3:
		return last&0x03 == 0 // 18 bits carry two bytes
	}
	return true
}

// decodeClaims decodes a JSON object, numbers as json.Number so that no
// precision is lost in Raw.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null, not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	return m, nil
}

func (v *Verifier) checkSignature(ctx context.Context, s *issuerState, tok *jwt.JSONWebToken, kid string, alg jose.SignatureAlgorithm) (*keySet, *Error) {
	set := s.keys.Load()
	if set == nil || (kid != "" && len(set.byKID[kid]) == 0) {
		// Kid-less tokens do not trigger a refresh once keys are held:
		// nothing says a newer key would help them.
		s.awaitRefresh(ctx, v)
		set = s.keys.Load()
		if set == nil {
			detail := "no keys fetched yet"
			if last := s.lastError(); last != "" {
				detail += "; last error: " + last
			}
			return nil, refuse(Unavailable, ReasonKeysUnavailable, "issuer %s: %s", s.cfg.Issuer, detail)
		}
	}
	candidates := set.all
	if kid != "" {
		candidates = set.byKID[kid]
		if len(candidates) == 0 {
			return nil, refuse(Invalid, ReasonUnknownKID, "issuer %s has no key with kid %s", s.cfg.Issuer, quoted(kid))
		}
	}
	fitting := false
	for _, k := range candidates {
		if !k.fits(alg) {
			continue
		}
		fitting = true
		if err := tok.Claims(k.key); err == nil {
			return set, nil
		}
	}
	if !fitting {
		return nil, refuse(Invalid, ReasonAlgKeyMismatch, "issuer %s: no key with kid %s fits alg %s", s.cfg.Issuer, quoted(kid), alg)
	}
	return nil, refuse(Invalid, ReasonBadSignature, "issuer %s, kid %s, alg %s", s.cfg.Issuer, quoted(kid), alg)
}

// maxNumericDate keeps absurd dates (1e300) inside time.Time's range.
const maxNumericDate = 1e12 // seconds: year ~33658

func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	f = math.Max(-maxNumericDate, math.Min(maxNumericDate, f))
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

func (s *issuerState) checkClaims(iss string, raw map[string]any, now time.Time) (*Claims, *Error) {
	c := &Claims{Issuer: iss, Raw: raw}

	expv, ok := raw["exp"]
	if !ok {
		return nil, refuse(Invalid, ReasonMissingExp, "issuer %s: token has no exp", iss)
	}
	if c.Expiry, ok = numericDate(expv); !ok {
		return nil, refuse(Invalid, ReasonBadClaim, "exp is not a number")
	}
	if !now.Before(c.Expiry.Add(s.leeway)) {
		return nil, refuse(Invalid, ReasonExpired, "expired at %s (now %s, leeway %s)", c.Expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), s.leeway)
	}
	if v, ok := raw["nbf"]; ok {
		nbf, ok := numericDate(v)
		if !ok {
			return nil, refuse(Invalid, ReasonBadClaim, "nbf is not a number")
		}
		if now.Add(s.leeway).Before(nbf) {
			return nil, refuse(Invalid, ReasonNotYetValid, "not valid before %s (now %s, leeway %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), s.leeway)
		}
	}
	if v, ok := raw["iat"]; ok {
		iat, ok := numericDate(v)
		if !ok {
			return nil, refuse(Invalid, ReasonBadClaim, "iat is not a number")
		}
		if iat.After(now.Add(s.leeway)) {
			return nil, refuse(Invalid, ReasonIssuedInFuture, "issued at %s (now %s, leeway %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), s.leeway)
		}
	}

	audv, ok := raw["aud"]
	if !ok {
		return nil, refuse(Invalid, ReasonWrongAudience, "issuer %s: token has no aud", iss)
	}
	if c.Audience, ok = stringOrStrings(audv); !ok {
		return nil, refuse(Invalid, ReasonBadClaim, "aud is neither a string nor an array of strings")
	}
	if !containsAny(c.Audience, s.cfg.Audiences) {
		return nil, refuse(Invalid, ReasonWrongAudience, "aud %s holds none of %q", quoted(strings.Join(c.Audience, " ")), s.cfg.Audiences)
	}

	if v, ok := raw["sub"]; ok {
		if c.Subject, ok = v.(string); !ok {
			return nil, refuse(Invalid, ReasonBadClaim, "sub is not a string")
		}
	}
	if v, ok := raw["scope"]; ok {
		str, ok := v.(string)
		if !ok {
			return nil, refuse(Invalid, ReasonBadClaim, "scope is not a string")
		}
		c.Scopes = strings.Fields(str)
	} else if v, ok := raw["scp"]; ok {
		list, ok := stringOrStrings(v)
		if !ok {
			return nil, refuse(Invalid, ReasonBadClaim, "scp is neither a string nor an array of strings")
		}
		for _, item := range list {
			c.Scopes = append(c.Scopes, strings.Fields(item)...)
		}
	}
	return c, nil
}

func stringOrStrings(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			str, ok := item.(string)
			if !ok {
				return nil, false
			}
			out = append(out, str)
		}
		return out, true
	}
	return nil, false
}

func containsAny(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

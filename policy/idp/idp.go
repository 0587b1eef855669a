// Package idp is a small OpenID provider for tests and the demo: it serves a
// discovery document and a JWKS whose keys can rotate, and mints tokens,
// including deliberately bad ones for attack tests. It has no login, no
// /token endpoint and no persistence: keys live in memory.
//
// Use Start to serve on loopback, or Handler with an httptest server followed
// by SetIssuer(server.URL).
package idp

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Paths the provider serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
)

// Options configure a Provider.
type Options struct {
	// Algorithm the provider signs with: ES256 (default), ES384, ES512,
	// RS256/384/512, PS256/384/512 or EdDSA.
	Algorithm string
	// RSABits is the size of generated RSA keys; default 2048.
	RSABits int
	// Key is the first signing key instead of a fresh one: the demo signs
	// with a fixed key so that the tokens it prints stay the same.
	Key crypto.Signer
}

// Header shapes the JOSE header and the signature of a token made by
// MintWith. The zero value signs like Mint.
type Header struct {
	// Alg is written as "alg" and picks how the token is signed: "none"
	// leaves the signature empty; HS256/HS384/HS512 MAC with HMACSecret;
	// anything else signs with Key (or the current key). Default: the
	// provider's algorithm, or Key's natural one (RS256, ES256/384/512, EdDSA).
	Alg string
	// KeyID is written as "kid". Default: the signing key's kid (for a
	// foreign Key, its RFC 7638 thumbprint, which is what another Provider
	// would publish for it).
	KeyID string
	// OmitKeyID leaves "kid" out.
	OmitKeyID bool
	// Extra header fields, set after the others so they can override them;
	// a nil value removes the field (e.g. "typ").
	Extra map[string]any
	// Key signs instead of the provider's current key, e.g. another
	// provider's key or one that was never published.
	Key crypto.Signer
	// HMACSecret is the MAC key for HS* algorithms, e.g. the bytes of an RSA
	// public key for the algorithm-confusion attack.
	HMACSecret []byte
}

type signingKey struct {
	signer crypto.Signer
	kid    string
	alg    string
	public jose.JSONWebKey
}

// Provider is an OpenID provider on loopback: discovery, a JWKS that can
// rotate, and token minting. It is safe for concurrent use.
type Provider struct {
	alg      string
	rsaBits  int
	fixedKey crypto.Signer

	mu            sync.Mutex
	issuer        string
	discoveryIss  *string // overrides the discovery "issuer" when set
	keys          []*signingKey
	rawJWKs       []json.RawMessage
	server        *http.Server
	serverStopped chan struct{}

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
	down             atomic.Bool
	delay            atomic.Int64 // time.Duration

	closed    chan struct{} // releases delayed answers on Close
	closeOnce sync.Once
}

// New makes a provider with one fresh key. It serves nothing until Start,
// or until Handler is mounted somewhere.
func New(opts Options) (*Provider, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = "ES256"
	}
	if opts.RSABits == 0 {
		opts.RSABits = 2048
	}
	p := &Provider{alg: opts.Algorithm, rsaBits: opts.RSABits, closed: make(chan struct{}), fixedKey: opts.Key}
	k, err := p.newSigningKey()
	if err != nil {
		return nil, err
	}
	p.keys = []*signingKey{k}
	return p, nil
}

func (p *Provider) newSigningKey() (*signingKey, error) {
	signer := p.fixedKey
	p.fixedKey = nil // a rotation makes a fresh key
	var err error
	if signer == nil {
		if signer, err = newKey(p.alg, p.rsaBits); err != nil {
			return nil, err
		}
	}
	kid, err := Thumbprint(signer.Public())
	if err != nil {
		return nil, err
	}
	return &signingKey{
		signer: signer,
		kid:    kid,
		alg:    p.alg,
		public: jose.JSONWebKey{Key: signer.Public(), KeyID: kid, Algorithm: p.alg, Use: "sig"},
	}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key, base64url:
// the kid a Provider publishes for it.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("idp: thumbprint of %T: %w", pub, err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background;
// the issuer becomes http://ADDR.
func (p *Provider) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("idp: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	p.mu.Lock()
	if p.server != nil {
		p.mu.Unlock()
		ln.Close()
		return errors.New("idp: already started")
	}
	p.server, p.serverStopped = srv, stopped
	p.issuer = "http://" + ln.Addr().String()
	p.mu.Unlock()
	go func() {
		defer close(stopped)
		_ = srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return nil
}

// SetIssuer sets the issuer URL, for a Handler served elsewhere (e.g.
// httptest.NewServer(p.Handler()) then p.SetIssuer(srv.URL)).
func (p *Provider) SetIssuer(url string) {
	p.mu.Lock()
	p.issuer = url
	p.mu.Unlock()
}

// Issuer is the provider's issuer URL, e.g. http://127.0.0.1:PORT; empty
// until Start or SetIssuer.
func (p *Provider) Issuer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.issuer
}

// Close stops the server started by Start, if any, and releases answers held
// back by SetDelay.
func (p *Provider) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.closed)
		p.mu.Lock()
		srv, stopped := p.server, p.serverStopped
		p.mu.Unlock()
		if srv != nil {
			err = srv.Close()
			<-stopped
		}
	})
	return err
}

// Handler serves the discovery document and the JWKS.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		p.discoveryFetches.Add(1)
		if !p.hold(w, r) {
			return
		}
		p.mu.Lock()
		iss := p.issuer
		if p.discoveryIss != nil {
			iss = *p.discoveryIss
		}
		p.mu.Unlock()
		doc := map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              p.Issuer() + JWKSPath,
			"id_token_signing_alg_values_supported": []string{p.alg},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
		}
		writeJSON(w, "application/json", doc)
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		p.jwksFetches.Add(1)
		if !p.hold(w, r) {
			return
		}
		writeJSON(w, "application/jwk-set+json", map[string]any{"keys": p.publishedKeys()})
	})
	return mux
}

// hold applies SetDown and SetDelay; false means the answer was given (or
// abandoned) already.
func (p *Provider) hold(w http.ResponseWriter, r *http.Request) bool {
	if d := time.Duration(p.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return false
		case <-p.closed:
			http.Error(w, "provider closed", http.StatusServiceUnavailable)
			return false
		}
	}
	if p.down.Load() {
		http.Error(w, "provider down (SetDown)", http.StatusServiceUnavailable)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func (p *Provider) publishedKeys() []json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]json.RawMessage, 0, len(p.keys)+len(p.rawJWKs))
	for _, k := range p.keys {
		b, err := k.public.MarshalJSON()
		if err != nil {
			continue // cannot happen for the key types newKey makes
		}
		out = append(out, b)
	}
	return append(out, p.rawJWKs...)
}

func (p *Provider) current() *signingKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1]
}

// Mint signs claims with the current key. Defaults: iss = Issuer(),
// iat = now, exp = now+1h; claims given override them, and a claim given as
// nil is left out (e.g. "exp": nil for a token without exp). time.Time
// values are written as NumericDate (seconds since the epoch).
func (p *Provider) Mint(claims map[string]any) (string, error) {
	return p.MintWith(Header{}, claims)
}

// MintWith signs with explicit header fields and key choice, for attack
// tests; see Header. Claims are treated as in Mint.
func (p *Provider) MintWith(h Header, claims map[string]any) (string, error) {
	now := time.Now()
	body := map[string]any{
		"iss": p.Issuer(),
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range claims {
		switch v := v.(type) {
		case nil:
			delete(body, k)
		case time.Time:
			body[k] = v.Unix()
		default:
			body[k] = v
		}
	}

	signer, kid, alg := h.Key, "", h.Alg
	if signer == nil {
		cur := p.current()
		signer, kid = cur.signer, cur.kid
		if alg == "" {
			alg = cur.alg
		}
	} else {
		var err error
		if kid, err = Thumbprint(signer.Public()); err != nil {
			return "", err
		}
		if alg == "" {
			if alg, err = naturalAlgorithm(signer.Public()); err != nil {
				return "", err
			}
		}
	}
	if h.KeyID != "" {
		kid = h.KeyID
	}
	header := map[string]any{"alg": alg, "typ": "JWT"}
	if !h.OmitKeyID {
		header["kid"] = kid
	}
	for k, v := range h.Extra {
		if v == nil {
			delete(header, k)
			continue
		}
		header[k] = v
	}
	return compact(header, body, alg, signer, h.HMACSecret)
}

// Rotate makes a new current key. The JWKS publishes it and keeps the
// earlier ones (as providers do while old tokens are still valid); call
// DropOldKeys to publish the current key alone.
func (p *Provider) Rotate() error {
	k, err := p.newSigningKey()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.keys = append(p.keys, k)
	p.mu.Unlock()
	return nil
}

// DropOldKeys stops publishing every key but the current one.
func (p *Provider) DropOldKeys() {
	p.mu.Lock()
	p.keys = p.keys[len(p.keys)-1:]
	p.mu.Unlock()
}

// PublicKey is the current key's public half, e.g. to forge an HS256 token
// keyed with the RSA public key's bytes.
func (p *Provider) PublicKey() crypto.PublicKey { return p.current().signer.Public() }

// SigningKey is the current private key, e.g. to sign a token for another
// issuer with this provider's key (Header.Key).
func (p *Provider) SigningKey() crypto.Signer { return p.current().signer }

// KeyID is the current key's kid.
func (p *Provider) KeyID() string { return p.current().kid }

// Algorithm is the algorithm the provider signs with.
func (p *Provider) Algorithm() string { return p.alg }

// PublishRawJWK adds a JWK to the published set verbatim, e.g. a symmetric
// "oct" key or a huge one, to test what a verifier does with it.
func (p *Provider) PublishRawJWK(jwk json.RawMessage) {
	p.mu.Lock()
	p.rawJWKs = append(p.rawJWKs, jwk)
	p.mu.Unlock()
}

// SetDiscoveryIssuer makes the discovery document claim another issuer
// (a mismatch a verifier must refuse); "" restores the real one.
func (p *Provider) SetDiscoveryIssuer(iss string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if iss == "" {
		p.discoveryIss = nil
		return
	}
	p.discoveryIss = &iss
}

// JWKSFetches is how many JWKS requests arrived, answered or not
// (tests count refreshes).
func (p *Provider) JWKSFetches() int64 { return p.jwksFetches.Load() }

// DiscoveryFetches is how many discovery requests arrived.
func (p *Provider) DiscoveryFetches() int64 { return p.discoveryFetches.Load() }

// SetDown makes the JWKS and discovery answer 503.
func (p *Provider) SetDown(down bool) { p.down.Store(down) }

// SetDelay makes the JWKS and discovery answer after d, or give up when the
// request is cancelled or the provider closed; 0 answers at once.
func (p *Provider) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

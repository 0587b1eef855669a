package idp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, opts Options) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func fetchJWKS(t *testing.T, p *Provider) jose.JSONWebKeySet {
	t.Helper()
	code, body := get(t, p.Issuer()+JWKSPath)
	if code != http.StatusOK {
		t.Fatalf("jwks: %d %s", code, body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// Tokens minted by the provider verify with go-jose against its published
// JWKS, for every algorithm it supports.
func TestMintVerifiesWithPublishedKeys(t *testing.T) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			p := start(t, Options{Algorithm: alg})
			tok, err := p.Mint(map[string]any{"sub": "alice", "aud": "api"})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Headers[0].KeyID != p.KeyID() {
				t.Fatalf("kid %q, want %q", parsed.Headers[0].KeyID, p.KeyID())
			}
			set := fetchJWKS(t, p)
			var claims jwt.Claims
			if err := parsed.Claims(set, &claims); err != nil {
				t.Fatalf("verify with the JWKS: %v", err)
			}
			if err := claims.Validate(jwt.Expected{Issuer: p.Issuer(), AnyAudience: jwt.Audience{"api"}, Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if claims.Expiry == nil || claims.IssuedAt == nil || claims.Subject != "alice" {
				t.Fatalf("claims %+v", claims)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	p := start(t, Options{})
	code, body := get(t, p.Issuer()+DiscoveryPath)
	if code != http.StatusOK {
		t.Fatalf("discovery: %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != p.Issuer() || doc["jwks_uri"] != p.Issuer()+JWKSPath {
		t.Fatalf("discovery %v", doc)
	}
	p.SetDiscoveryIssuer("https://other.example")
	_, body = get(t, p.Issuer()+DiscoveryPath)
	if !strings.Contains(string(body), "https://other.example") {
		t.Fatalf("override not served: %s", body)
	}
	if p.DiscoveryFetches() != 2 {
		t.Fatalf("discovery fetches %d", p.DiscoveryFetches())
	}
}

func TestRotate(t *testing.T) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	p := start(t, Options{})
	first := p.KeyID()
	if err := p.Rotate(); err != nil {
		t.Fatal(err)
	}
	if p.KeyID() == first {
		t.Fatal("Rotate kept the kid")
	}
	set := fetchJWKS(t, p)
	if len(set.Keys) != 2 || len(set.Key(first)) != 1 || len(set.Key(p.KeyID())) != 1 {
		t.Fatalf("after Rotate the JWKS has %d keys", len(set.Keys))
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("the JWKS publishes a private key")
		}
	}
	p.DropOldKeys()
	if set := fetchJWKS(t, p); len(set.Keys) != 1 || set.Keys[0].KeyID != p.KeyID() {
		t.Fatalf("after DropOldKeys the JWKS has %d keys", len(set.Keys))
	}
	if p.JWKSFetches() != 2 {
		t.Fatalf("JWKSFetches %d, want 2", p.JWKSFetches())
	}
}

func TestMintWith(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.SetIssuer("http://127.0.0.1:1")
	decodeHeader := func(tok string) map[string]any {
		t.Helper()
		raw, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{"ES256", "HS256", "RS256"})
		if err != nil {
			// "none" cannot be parsed by go-jose: decode by hand.
			seg := strings.SplitN(tok, ".", 2)[0]
			b, derr := jwtDecode(seg)
			if derr != nil {
				t.Fatal(err, derr)
			}
			var h map[string]any
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			return h
		}
		h := map[string]any{"alg": raw.Signatures[0].Header.Algorithm, "kid": raw.Signatures[0].Header.KeyID}
		for k, v := range raw.Signatures[0].Header.ExtraHeaders {
			h[string(k)] = v
		}
		return h
	}

	tok, err := p.MintWith(Header{Alg: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tok, ".") || decodeHeader(tok)["alg"] != "none" {
		t.Fatalf("none token %q", tok)
	}

	tok, err = p.MintWith(Header{Alg: "HS256", HMACSecret: []byte("0123456789abcdef0123456789abcdef"), KeyID: "x", Extra: map[string]any{"typ": nil, "foo": "bar"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatal(err)
	}
	if err := parsed.Claims([]byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatalf("HS256 token does not verify with its secret: %v", err)
	}
	h := decodeHeader(tok)
	if h["kid"] != "x" || h["foo"] != "bar" || h["typ"] != nil {
		t.Fatalf("header %v", h)
	}

	tok, err = p.MintWith(Header{OmitKeyID: true}, map[string]any{"exp": nil, "iat": time.Unix(5, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeHeader(tok); h["kid"] != "" {
		t.Fatalf("kid %v present", h["kid"])
	}
	var claims map[string]any
	parsed, _ = jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err := parsed.Claims(p.PublicKey(), &claims); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["exp"]; ok || claims["iat"] != 5.0 || claims["iss"] != "http://127.0.0.1:1" {
		t.Fatalf("claims %v", claims)
	}

	if _, err := p.MintWith(Header{Alg: "RS256"}, nil); err == nil {
		t.Fatal("RS256 with an EC key was signed")
	}
	if _, err := p.MintWith(Header{Alg: "HS256"}, nil); err == nil {
		t.Fatal("HS256 without a secret was signed")
	}
	if _, err := New(Options{Algorithm: "HS256"}); err == nil {
		t.Fatal("New accepted HS256")
	}
}

func jwtDecode(seg string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(seg)
}

func TestDownAndDelay(t *testing.T) {
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	p.SetIssuer(srv.URL)

	p.SetDown(true)
	if code, _ := get(t, srv.URL+JWKSPath); code != http.StatusServiceUnavailable {
		t.Fatalf("down: %d", code)
	}
	if code, _ := get(t, srv.URL+DiscoveryPath); code != http.StatusServiceUnavailable {
		t.Fatalf("down: %d", code)
	}
	p.SetDown(false)

	p.SetDelay(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+JWKSPath, nil)
	start := time.Now()
	_, err = http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed request: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the delay held past the request's deadline")
	}
	// Close releases delayed answers at once.
	arrived := p.JWKSFetches()
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, _ := get(t, srv.URL+JWKSPath)
		if code != http.StatusServiceUnavailable {
			t.Errorf("after Close: %d", code)
		}
	}()
	// The provider counts a request as it arrives: wait until this one is
	// being held.
	for deadline := time.Now().Add(5 * time.Second); p.JWKSFetches() == arrived; {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the provider")
		}
		runtime.Gosched()
	}
	_ = p.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release a delayed answer")
	}
}

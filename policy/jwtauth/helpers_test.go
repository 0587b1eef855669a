package jwtauth

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-gw/switchboard/policy/idp"
)

func TestMain(m *testing.M) {
	// Close must stop every goroutine the verifier started, fetches in
	// flight included.
	goleak.VerifyTestMain(m)
}

const testAudience = "switchboard-api"

// startProvider serves a provider on loopback for the test's duration.
func startProvider(tb testing.TB, alg string) *idp.Provider {
	tb.Helper()
	p, err := idp.New(idp.Options{Algorithm: alg})
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

func issuerOf(p *idp.Provider) Issuer {
	return Issuer{Issuer: p.Issuer(), Audiences: []string{testAudience}, Algorithms: []string{p.Algorithm()}}
}

// newVerifier is closed at the end of the test, before the providers
// started earlier (cleanups run last-in first-out).
func newVerifier(tb testing.TB, o Options, issuers ...Issuer) *Verifier {
	tb.Helper()
	v, err := New(issuers, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(v.Close)
	return v
}

func mint(tb testing.TB, p *idp.Provider, claims map[string]any) string {
	tb.Helper()
	return mintWith(tb, p, idp.Header{}, claims)
}

func mintWith(tb testing.TB, p *idp.Provider, h idp.Header, claims map[string]any) string {
	tb.Helper()
	if claims == nil {
		claims = map[string]any{}
	}
	if _, ok := claims["aud"]; !ok {
		claims["aud"] = testAudience
	}
	tok, err := p.MintWith(h, claims)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func verify(tb testing.TB, v *Verifier, token string, timeout time.Duration) (*Claims, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return v.Verify(ctx, token)
}

// mustVerify waits for the first key fetch if need be.
func mustVerify(tb testing.TB, v *Verifier, token string) *Claims {
	tb.Helper()
	c, err := verify(tb, v, token, 5*time.Second)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return c
}

func wantRefusal(tb testing.TB, err error, kind Kind, reason string) *Error {
	tb.Helper()
	if err == nil {
		tb.Fatalf("Verify accepted the token; want %s/%s", kind, reason)
	}
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("Verify error %T %v is not *Error", err, err)
	}
	if e.Kind != kind || e.Reason != reason {
		tb.Fatalf("Verify refused with %s/%s (%v); want %s/%s", e.Kind, e.Reason, err, kind, reason)
	}
	return e
}

// eventually polls cond for up to 5s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newHTTPTestServer serves p.Handler() on an httptest server closed at the
// end of the test, and returns its URL.
func newHTTPTestServer(tb testing.TB, p *idp.Provider) string {
	srv := httptest.NewServer(p.Handler())
	tb.Cleanup(srv.Close)
	return srv.URL
}

package jwtauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/policy/idp"
)

// FuzzVerify feeds arbitrary strings to Verify: it must not panic, must
// answer *Error on refusal, and must accept only what the provider minted
// with valid claims. Acceptance is judged on the signed part (header and
// claims): an ECDSA signature has a second valid form (s and n-s), which
// changes the string but not what was signed.
func FuzzVerify(f *testing.F) {
	p := startProvider(f, "ES256")
	// No refreshes while fuzzing: unknown kids are refused at once.
	v := newVerifier(f, Options{MinRefreshGap: time.Hour}, issuerOf(p))

	signedParts := map[string]bool{}
	addValid := func(tok string) {
		mustVerify(f, v, tok) // the first one also loads the keys
		signedParts[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
	}
	addValid(mint(f, p, map[string]any{"sub": "alice", "scope": "read"}))
	addValid(mint(f, p, map[string]any{"aud": []string{"x", testAudience}, "nbf": time.Now().Add(-time.Minute)}))
	addValid(mintWith(f, p, idp.Header{OmitKeyID: true}, nil))

	now := time.Now()
	f.Add(mint(f, p, map[string]any{"exp": now.Add(-time.Hour)}))
	f.Add(mint(f, p, map[string]any{"aud": "other"}))
	f.Add(mint(f, p, map[string]any{"exp": nil}))
	f.Add(mintWith(f, p, idp.Header{Alg: "none"}, nil))
	f.Add(mintWith(f, p, idp.Header{KeyID: "other"}, nil))
	f.Add(forgeLastByte(f, mint(f, p, nil)))

	f.Fuzz(func(t *testing.T, token string) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		c, err := v.Verify(ctx, token)
		if err == nil {
			i := strings.LastIndexByte(token, '.')
			if i < 0 || !signedParts[token[:i]] {
				t.Fatalf("accepted a token the provider did not mint valid: %q", token)
			}
			if c == nil || c.Issuer != p.Issuer() {
				t.Fatalf("accepted with claims %+v", c)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind < Malformed || e.Kind > Unavailable || e.Reason == "" || c != nil {
			t.Fatalf("refusal %T %v with claims %v", err, err, c)
		}
	})
}

package jwtauth

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkVerifyCachedKey is the steady state: keys held, a valid token.
// "repeat" sends the same token again (a client's session: served from
// the verified-token cache); "fresh" a different token each time, so
// every call checks a signature, as the first call of each token does.
func BenchmarkVerifyCachedKey(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		p := startProvider(b, alg)
		v := newVerifier(b, Options{}, issuerOf(p))
		b.Run(alg+"/repeat", func(b *testing.B) {
			token := mint(b, p, map[string]any{"sub": "bench-user", "scope": "read write"})
			mustVerify(b, v, token)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/fresh", func(b *testing.B) {
			const n = 512
			tokens := make([]string, n)
			for i := range tokens {
				tokens[i] = mint(b, p, map[string]any{"sub": fmt.Sprintf("bench-user-%d", i), "scope": "read write"})
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Past n the tokens repeat; the cache is emptied so
				// that every call does the full check.
				if i%n == 0 {
					v.verified.mu.Lock()
					v.verified.m = nil
					v.verified.mu.Unlock()
				}
				if _, err := v.Verify(ctx, tokens[i%n]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

package jwtauth

import (
	"context"
	"testing"
)

// BenchmarkVerifyCachedKey is the steady state: keys held, a valid token.
func BenchmarkVerifyCachedKey(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			p := startProvider(b, alg)
			v := newVerifier(b, Options{}, issuerOf(p))
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
	}
}

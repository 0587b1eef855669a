package resilience

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestNth: the selection finds what sorting finds, duplicates included.
func TestNth(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= latencyRing; n++ {
		for _, spread := range []int64{3, 1000} {
			s := make([]time.Duration, n)
			for i := range s {
				s[i] = time.Duration(r.Int64N(spread))
			}
			sorted := slices.Sorted(slices.Values(s))
			for _, k := range []int{0, n / 2, n - 1, int(0.95*float64(n)+0.999) - 1} {
				if k < 0 {
					continue
				}
				c := slices.Clone(s)
				if got := nth(c, k); got != sorted[k] {
					t.Fatalf("nth(%v, %d) = %v, want %v", s, k, got, sorted[k])
				}
			}
		}
	}
}

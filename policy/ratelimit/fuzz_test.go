package ratelimit

import (
	"context"
	"testing"
	"time"
)

// FuzzMemoryTake drives Memory through arbitrary limits and request times
// and holds every Decision to GCRA's invariants. Each byte of steps is one
// request: its low two bits pick one of four keys (the store holds two, so
// keys are dropped and come back), the rest how many eighths of an
// emission interval pass first. The seeds are in testdata/fuzz.
func FuzzMemoryTake(f *testing.F) {
	keys := [4]string{"k0", "k1", "k2", "k3"}
	f.Fuzz(func(t *testing.T, rate float64, per int64, burst int64, steps []byte) {
		l := Limit{Rate: rate, Per: time.Duration(per), Burst: burst}
		clock := &fakeClock{}
		crowded := memoryAt(clock, 2, memoryShards)
		alone := memoryAt(clock, 1, 1) // one key, never dropped
		p, validErr := l.params()
		if _, err := crowded.Take(context.Background(), "probe", l); (err == nil) != (validErr == nil) {
			t.Fatalf("%s: Take error %v, Validate error %v", l, err, validErr)
		}
		if validErr != nil {
			return
		}
		if w := l.Window(); w != p.window() || w <= 0 || w > MaxWindow {
			t.Fatalf("%s: Window() = %s", l, w)
		}

		var first time.Duration = -1
		var allowedAlone int64
		for _, b := range steps {
			advance := p.interval / 8 * time.Duration(b>>2)
			if clock.now > MaxWindow-advance {
				return // a century of uptime is beyond what the store promises
			}
			clock.advance(advance)

			d, err := crowded.Take(context.Background(), keys[b&3], l)
			if err != nil {
				t.Fatalf("%s: Take: %v", l, err)
			}
			if d.Remaining < 0 || d.Remaining > l.Burst {
				t.Fatalf("%s: Remaining %d outside [0, %d]", l, d.Remaining, l.Burst)
			}
			if d.Allowed != (d.RetryAfter == 0) || d.RetryAfter < 0 || d.RetryAfter > p.interval {
				t.Fatalf("%s: Allowed %v with RetryAfter %s (interval %s)", l, d.Allowed, d.RetryAfter, p.interval)
			}
			if d.Reset < 0 || d.Reset > p.window() || d.Allowed && d.Reset < p.interval {
				t.Fatalf("%s: %+v: Reset outside its range (window %s)", l, d, p.window())
			}
			if !d.Allowed && d.Remaining != 0 {
				t.Fatalf("%s: refused with %d remaining", l, d.Remaining)
			}
			if n := crowded.Len(); n > 2 {
				t.Fatalf("Len() = %d, over 2", n)
			}

			// Burst plus one per whole interval since the first, at most.
			if d, _ := alone.Take(context.Background(), "k", l); d.Allowed {
				if first < 0 {
					first = clock.now
				}
				allowedAlone++
				if bound := l.Burst + int64((clock.now-first)/p.interval); allowedAlone > bound {
					t.Fatalf("%s: %d allowed in %s, bound %d", l, allowedAlone, clock.now-first, bound)
				}
			}
		}
	})
}

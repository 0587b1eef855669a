package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/policy/ratelimit/redistest"
)

// benchLimit lets most requests through, as a gateway mostly does.
var benchLimit = Limit{Rate: 1e6, Per: time.Second, Burst: 1000}

func benchmarkStore(b *testing.B, s Store) {
	ctx := context.Background()
	b.Run("one-key", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Take(ctx, "client-203.0.113.7", benchLimit); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Goroutines each walk their own run through 10,000 client keys.
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	b.Run("parallel-many-keys", func(b *testing.B) {
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1)) * 7919
			for pb.Next() {
				i++
				if _, err := s.Take(ctx, keys[i%len(keys)], benchLimit); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkMemoryTake(b *testing.B) {
	b.ReportAllocs()
	benchmarkStore(b, NewMemory(0))
}

func BenchmarkRedisTake(b *testing.B) {
	srv := redistest.Start(b)
	// A generous timeout: a loaded machine is slow, not down.
	r, err := NewRedis(RedisOptions{URL: srv.URL(), Timeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	benchmarkStore(b, r)
}

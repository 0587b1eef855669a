package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slow keeps every key's bucket short of full for an hour, so that no key
// is ever dropped for being idle.
var slow = Limit{Rate: 1, Per: time.Hour, Burst: 1}

func TestNewMemoryShares(t *testing.T) {
	for _, maxKeys := range []int{0, 1, 5, 63, 64, 65, 1000} {
		m := NewMemory(maxKeys)
		want := maxKeys
		if maxKeys == 0 {
			want = DefaultMaxKeys
		}
		total := 0
		for i := range m.shards {
			if m.shards[i].maxKeys < 1 {
				t.Errorf("NewMemory(%d): shard %d holds no key", maxKeys, i)
			}
			total += m.shards[i].maxKeys
		}
		if total != want {
			t.Errorf("NewMemory(%d): shards hold %d keys in all, want %d", maxKeys, total, want)
		}
	}
}

func TestMemoryBounded(t *testing.T) {
	for _, maxKeys := range []int{1, 5, 1000} {
		clock := &fakeClock{}
		m := memoryAt(clock, maxKeys, memoryShards)
		for i := range 10 * maxKeys {
			d, err := m.Take(context.Background(), "client-"+strconv.Itoa(i), slow)
			if err != nil || !d.Allowed {
				t.Fatalf("maxKeys %d: Take of new key %d = %+v, %v; want allowed", maxKeys, i, d, err)
			}
			if n := m.Len(); n > maxKeys {
				t.Fatalf("maxKeys %d: %d keys held after %d distinct keys", maxKeys, n, i+1)
			}
		}
		if n := m.Len(); n < maxKeys*15/16 {
			t.Errorf("maxKeys %d: only %d keys held at the end", maxKeys, n)
		}
	}
}

func TestMemoryDropsIdleKeysFirst(t *testing.T) {
	clock := &fakeClock{}
	m := memoryAt(clock, 16, 1)
	quick := Limit{Rate: 1000, Per: time.Second, Burst: 1}
	for i := range 8 {
		m.Take(context.Background(), "live-"+strconv.Itoa(i), slow)
		m.Take(context.Background(), "idle-"+strconv.Itoa(i), quick)
	}
	clock.advance(time.Second) // the idle keys' buckets are full again
	if d, _ := m.Take(context.Background(), "new", quick); !d.Allowed {
		t.Fatal("new key refused")
	}
	if n := m.Len(); n != 9 {
		t.Errorf("Len() = %d, want the 8 live keys and the new one", n)
	}
	for i := range 8 {
		if d, _ := m.Take(context.Background(), "live-"+strconv.Itoa(i), slow); d.Allowed {
			t.Errorf("live-%d was dropped while idle keys could go", i)
		}
	}
}

func TestMemoryDropsLiveKeysWhenFull(t *testing.T) {
	clock := &fakeClock{}
	m := memoryAt(clock, 32, 1)
	for i := range 32 {
		m.Take(context.Background(), "live-"+strconv.Itoa(i), slow)
	}
	if d, _ := m.Take(context.Background(), "new", slow); !d.Allowed {
		t.Fatal("new key refused")
	}
	// A sixteenth went to make room, then the new key came in.
	if n := m.Len(); n != 31 {
		t.Errorf("Len() = %d, want 31", n)
	}
	live := 0
	for key := range m.shards[0].tats {
		if strings.HasPrefix(key, "live-") {
			live++
		}
	}
	if live != 30 {
		t.Errorf("%d live keys held, want 30: only the 2 dropped may start over", live)
	}
}

func TestMemoryHostileKeys(t *testing.T) {
	clock := &fakeClock{}
	m := memoryAt(clock, 0, memoryShards)
	huge := strings.Repeat("x", 1<<20)
	for _, key := range []string{huge, huge[:len(huge)-1] + "y", ""} {
		if d, err := m.Take(context.Background(), key, slow); err != nil || !d.Allowed {
			t.Errorf("first Take of a %d-byte key = %+v, %v; want allowed", len(key), d, err)
		}
		if d, err := m.Take(context.Background(), key, slow); err != nil || d.Allowed {
			t.Errorf("second Take of a %d-byte key = %+v, %v; want refused", len(key), d, err)
		}
	}
	sum := sha256.Sum256([]byte(huge))
	hashed := "sha256:" + hex.EncodeToString(sum[:])
	found := false
	for i := range m.shards {
		for key := range m.shards[i].tats {
			if len(key) > MaxKeyLen {
				t.Errorf("a %d-byte key is held as it is", len(key))
			}
			found = found || key == hashed
		}
	}
	if !found {
		t.Errorf("the 1 MiB key is not held as %s", hashed)
	}
	if n := m.Len(); n != 3 {
		t.Errorf("Len() = %d, want 3", n)
	}
}

// TestMemoryParallelKeys runs shards' eviction under the race detector.
func TestMemoryParallelKeys(t *testing.T) {
	m := NewMemory(128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := strconv.Itoa(g) + "-" + strconv.Itoa(i%300)
				if _, err := m.Take(context.Background(), key, Limit{Rate: 100, Per: time.Second, Burst: 3}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n > 128 {
		t.Errorf("Len() = %d, over 128", n)
	}
}

// hammer has workers Take from key through stores (worker i uses
// stores[i%len(stores)]) for about d, and counts what they were allowed.
// elapsed runs from just before the first Take began to just after the
// last one returned, so every clock reading a store made for these
// requests falls inside it.
func hammer(t *testing.T, stores []Store, workers int, key string, l Limit, d time.Duration) (allowed int64, elapsed time.Duration) {
	t.Helper()
	type result struct {
		allowed     int64
		first, last time.Time
		err         error
	}
	results := make([]result, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := &results[w]
			store := stores[w%len(stores)]
			<-start
			r.first = time.Now()
			for stop := r.first.Add(d); time.Now().Before(stop); {
				dec, err := store.Take(context.Background(), key, l)
				if err != nil {
					r.err = err
					break
				}
				if dec.Allowed {
					r.allowed++
				}
			}
			r.last = time.Now()
		})
	}
	close(start)
	wg.Wait()
	first, last := results[0].first, results[0].last
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("Take: %v", r.err)
		}
		allowed += r.allowed
		if r.first.Before(first) {
			first = r.first
		}
		if r.last.After(last) {
			last = r.last
		}
	}
	return allowed, last.Sub(first) // monotonic readings, as the stores' clocks
}

// checkAccuracy holds allowed to GCRA's bound: at most Burst plus one per
// whole emission interval elapsed (exactly: see TestGCRAArithmetic), and
// at least 95% of that while requests never stop coming.
func checkAccuracy(t *testing.T, l Limit, allowed int64, elapsed time.Duration) {
	t.Helper()
	p, err := l.params()
	if err != nil {
		t.Fatal(err)
	}
	bound := p.burst + int64(elapsed/p.interval)
	t.Logf("%d allowed in %s, bound %d (%.1f%%)", allowed, elapsed, bound, 100*float64(allowed)/float64(bound))
	if allowed > bound {
		t.Errorf("%d allowed in %s, more than burst %d + rate × elapsed = %d", allowed, elapsed, l.Burst, bound)
	}
	if float64(allowed) < 0.95*float64(bound) {
		t.Errorf("%d allowed in %s, less than 95%% of burst %d + rate × elapsed = %d", allowed, elapsed, l.Burst, bound)
	}
}

func TestMemoryAccuracyUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 1.5s")
	}
	l := Limit{Rate: 200, Per: time.Second, Burst: 50}
	allowed, elapsed := hammer(t, []Store{NewMemory(0)}, 16, "hot", l, 1500*time.Millisecond)
	checkAccuracy(t, l, allowed, elapsed)
}

package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is how many keys a Memory holds when NewMemory is given 0.
const DefaultMaxKeys = 100_000

// memoryShards spreads keys over this many locks so that parallel requests
// for different keys rarely wait on each other.
const memoryShards = 64

// Memory is the in-process store. It never fails for a Limit that passes
// Validate, and holds at most maxKeys keys.
//
// Each key costs one map entry: the key (at most MaxKeyLen bytes, see
// boundKey) and its theoretical arrival time. A shard that is full when a
// new key arrives first drops the keys whose arrival time has passed: their
// buckets are full again, the same as a key never seen, so dropping them
// changes no decision. If that frees too little it drops arbitrary keys
// until a sixteenth of the shard is free, so the sweep is paid once per
// many new keys. Under that pressure (more live keys than maxKeys, such as
// a flood of distinct client addresses) a dropped key's bucket starts over
// full before its time: that is the price of bounded memory.
type Memory struct {
	seed   maphash.Seed // per store, so clients cannot aim their keys at one shard
	shards []memoryShard
	// now is the clock in nanoseconds since the store began; tests set it.
	now func() int64
}

type memoryShard struct {
	mu      sync.Mutex
	tats    map[string]int64 // key → theoretical arrival time (ns)
	maxKeys int
	_       [40]byte // keep neighbouring shards' locks off one cache line
}

// NewMemory makes a Memory holding at most maxKeys keys; maxKeys <= 0 means
// DefaultMaxKeys.
func NewMemory(maxKeys int) *Memory {
	return newMemory(maxKeys, memoryShards)
}

func newMemory(maxKeys, shards int) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	// Every shard must be able to hold a key.
	shards = min(shards, maxKeys)
	start := time.Now()
	m := &Memory{
		seed:   maphash.MakeSeed(),
		shards: make([]memoryShard, shards),
		now:    func() int64 { return int64(time.Since(start)) },
	}
	for i := range m.shards {
		// The shares add up to maxKeys exactly.
		m.shards[i].maxKeys = maxKeys / shards
		if i < maxKeys%shards {
			m.shards[i].maxKeys++
		}
		m.shards[i].tats = make(map[string]int64)
	}
	return m
}

// Take takes one request from key's bucket under l. It fails only when l
// does not pass Validate; ctx is not consulted, as nothing here waits.
func (m *Memory) Take(_ context.Context, key string, l Limit) (Decision, error) {
	p, err := l.params()
	if err != nil {
		return Decision{}, err
	}
	key = boundKey(key)
	s := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]

	s.mu.Lock()
	// Read under the lock, so that the times one key's requests see only
	// go forward in the order they are decided.
	now := m.now()
	tat, known := s.tats[key]
	if !known {
		tat = now
	}
	step := gcra(tat, now, int64(p.interval), p.burst)
	if step.allowed {
		if !known && len(s.tats) >= s.maxKeys {
			s.makeRoom(now)
		}
		s.tats[key] = step.tat
	}
	s.mu.Unlock()

	return Decision{
		Allowed:    step.allowed,
		Remaining:  step.remaining,
		RetryAfter: time.Duration(step.retryAfter),
		Reset:      time.Duration(step.reset),
	}, nil
}

// makeRoom frees at least one place, keeping the shard's keys a sixteenth
// below its maximum when it has to drop live ones.
func (s *memoryShard) makeRoom(now int64) {
	for key, tat := range s.tats {
		if tat <= now {
			delete(s.tats, key)
		}
	}
	keep := s.maxKeys - max(1, s.maxKeys/16)
	for key := range s.tats {
		if len(s.tats) <= keep {
			break
		}
		// Map order is unspecified, which is as good as any choice here.
		delete(s.tats, key)
	}
}

// Len is how many keys m holds, including ones whose buckets are full again
// but that no new key has needed the room of yet.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

// Package ratelimit limits how often one key (a client address, a subject,
// an API key, a header value: the caller builds the key string) may pass a
// policy. Limits follow GCRA, the generic cell rate algorithm in the
// "leaky bucket as a meter" form of redis-cell and throttled: a Limit
// allows Burst requests at once and then Rate requests per Per.
//
// Memory keeps the buckets in the gateway process, in bounded memory;
// Redis keeps them in a Redis server so that several gateway instances
// share one limit.
//
// A key names one bucket; the Limit passed with it says only how fast the
// bucket drains. Two policies that limit the same client must therefore
// put their own names in the key (for example "login|203.0.113.7"), or they
// would drain each other's bucket.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
)

// Limit allows Burst requests at once, then Rate requests per Per.
type Limit struct {
	Rate  float64       // requests per Per, > 0
	Per   time.Duration // > 0
	Burst int64         // >= 1
}

// Bounds of a valid Limit beyond the obvious signs. The emission interval
// must be at least a microsecond because the Redis store counts in Redis'
// own microseconds; a full bucket must refill within about a century so
// that every time the stores compute (a clock plus a window) fits in an
// int64 of nanoseconds and is exact in the doubles Redis' Lua counts in.
const (
	MinInterval = time.Microsecond
	MaxWindow   = 100 * 365 * 24 * time.Hour
)

// Validate says what is wrong with l (rate, per, burst), for config errors.
func (l Limit) Validate() error {
	_, err := l.params()
	return err
}

// Window is the time in which a full bucket refills: Burst × Per / Rate
// (Burst emission intervals, each rounded to the nanosecond). It is 0 for a
// Limit that does not pass Validate.
func (l Limit) Window() time.Duration {
	p, err := l.params()
	if err != nil {
		return 0
	}
	return p.window()
}

// String is l as a config would say it, e.g. "200 per 1s, burst 50".
func (l Limit) String() string {
	return fmt.Sprintf("%g per %s, burst %d", l.Rate, l.Per, l.Burst)
}

// params is a valid Limit in the integers GCRA runs on.
type params struct {
	interval time.Duration // T, the emission interval Per/Rate
	burst    int64
}

func (p params) window() time.Duration { return p.interval * time.Duration(p.burst) }

func (l Limit) params() (params, error) {
	var problems []string
	if math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) || l.Rate <= 0 {
		problems = append(problems, fmt.Sprintf("rate must be a finite number above 0, not %g", l.Rate))
	}
	if l.Per <= 0 {
		problems = append(problems, fmt.Sprintf("per must be a duration above 0, not %s", l.Per))
	}
	if l.Burst < 1 {
		problems = append(problems, fmt.Sprintf("burst must be at least 1, not %d", l.Burst))
	}
	if len(problems) == 0 {
		// As floats first: Per/Rate of a tiny rate overflows an int64.
		interval := float64(l.Per) / l.Rate
		p := params{burst: l.Burst}
		if interval*float64(l.Burst) <= float64(MaxWindow) {
			p.interval = time.Duration(math.Round(interval))
		}
		// Rounding can tip either bound, so the integers decide.
		tooSlow := p.interval == 0 && interval >= 1 ||
			p.interval >= MinInterval && p.burst > int64(MaxWindow/p.interval)
		switch {
		case tooSlow:
			problems = append(problems, fmt.Sprintf("burst %d at rate %g per %s takes longer than 100 years to refill", l.Burst, l.Rate, l.Per))
		case p.interval < MinInterval:
			problems = append(problems, fmt.Sprintf("rate %g per %s is more than one request per %s", l.Rate, l.Per, MinInterval))
		default:
			return p, nil
		}
	}
	return params{}, fmt.Errorf("rate limit %s: %s", l, strings.Join(problems, "; "))
}

// Decision is the outcome of one Take.
type Decision struct {
	Allowed    bool
	Remaining  int64         // requests that would still be allowed now
	RetryAfter time.Duration // when refused: until one more request is allowed (> 0)
	Reset      time.Duration // until the bucket is full again
}

// Store takes one request from key's bucket under l.
//
// The key alone names the bucket; l travels with each request and says
// only how fast it drains, so the caller puts the policy name in the key.
type Store interface {
	Take(ctx context.Context, key string, l Limit) (Decision, error)
}

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Redis)(nil)
)

// gcraStep is one GCRA decision, in the integer time unit of its inputs.
type gcraStep struct {
	allowed    bool
	tat        int64 // the theoretical arrival time to keep (if allowed)
	remaining  int64
	retryAfter int64
	reset      int64
}

// gcra decides one request at now for a bucket whose theoretical arrival
// time is tat (a fresh bucket's is now or earlier), with emission interval
// T and capacity Burst×T:
//
//	tat'     = max(tat, now) + T
//	allowed  ⇔ tat' − Burst×T ≤ now
//
// A fresh bucket thus passes exactly Burst requests at one instant and then
// one per T. Remaining counts the further whole intervals that fit before
// now; Reset is how far tat lies ahead of now. A refused request leaves tat
// alone. The Lua script in redis.go is the same computation.
//
// Callers keep now + Burst×T within int64 (see MaxWindow).
func gcra(tat, now, interval, burst int64) gcraStep {
	tat = max(tat, now)
	next := tat + interval
	allowAt := next - burst*interval
	if allowAt > now {
		// tat never exceeds now + Burst×T, so nothing remains and retry ≤ T.
		return gcraStep{tat: tat, retryAfter: allowAt - now, reset: tat - now}
	}
	return gcraStep{allowed: true, tat: next, remaining: (now - allowAt) / interval, reset: next - now}
}

// MaxKeyLen is the longest key either store keeps as it is; longer keys
// are replaced by their SHA-256, so that a key built from an attacker's
// header cannot blow up memory or Redis keys.
const MaxKeyLen = 256

// boundKey is key, or "sha256:" and its hex digest when key is longer than
// MaxKeyLen. A short key could spell such a digest only if the client chose
// the whole key, which callers do not allow (the policy name comes first).
func boundKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	h := sha256.New()
	// Through a small buffer: []byte(key) would copy a huge key whole.
	var buf [512]byte
	for rest := key; rest != ""; {
		n := copy(buf[:], rest)
		h.Write(buf[:n])
		rest = rest[n:]
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

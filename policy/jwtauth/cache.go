package jwtauth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// A token is verified once and then served from this cache until it
// expires, its issuer's key set changes, or a minute passes, as Envoy's
// jwt_authn caches verified tokens: a signature check costs tens of
// microseconds (ECDSA, RSA), a lookup well under one.
const (
	maxCachedTokens = 10_000
	cacheTTL        = time.Minute
)

type cachedToken struct {
	claims *Claims
	// keys is the issuer's key set the token was verified with: a
	// refresh that changes it (a key withdrawn) sends the token through
	// the full check again.
	keys  *keySet
	state *issuerState
	until time.Time
}

// tokenCache maps the SHA-256 of a token, not the token (up to 16 KiB),
// so that it holds a bounded 10,000 small entries.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

func (c *tokenCache) get(token string, now time.Time) (*Claims, bool) {
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	e, ok := c.m[sum]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) || e.state.keys.Load() != e.keys {
		return nil, false
	}
	return e.claims, true
}

func (c *tokenCache) put(token string, cl *Claims, s *issuerState, keys *keySet, now time.Time) {
	until := now.Add(cacheTTL)
	if cl.Expiry.Before(until) {
		until = cl.Expiry
	}
	if !now.Before(until) || keys == nil {
		return
	}
	sum := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		// Full: start over. A flood of distinct valid tokens costs a
		// signature check each, as it would with no cache.
		c.m = make(map[[32]byte]cachedToken, 256)
	}
	c.m[sum] = cachedToken{claims: cl, keys: keys, state: s, until: until}
}

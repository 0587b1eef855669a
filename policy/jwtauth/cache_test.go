package jwtauth

import (
	"testing"
	"time"
)

// TestVerifiedCache: a verified token is served from the cache, but not
// past its expiry and not once its key was withdrawn.
func TestVerifiedCache(t *testing.T) {
	p := startProvider(t, "ES256")
	v := newVerifier(t, Options{MinRefreshGap: 10 * time.Millisecond}, issuerOf(p))
	tok := mint(t, p, nil)
	first, err := verify(t, v, tok, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	again, err := verify(t, v, tok, 2*time.Second)
	if err != nil || again != first {
		t.Fatalf("second verify: %v (same claims: %v), want the cached claims", err, again == first)
	}

	// A token that expires in a second is cached only until then.
	short := mint(t, p, map[string]any{"exp": time.Now().Add(time.Second).Unix()})
	if _, err := verify(t, v, short, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.verified.get(short, time.Now().Add(2*time.Second)); ok {
		t.Error("an expired token was served from the cache")
	}

	// Withdraw the key: once the verifier sees the new key set, the old
	// token must be checked again, and fail.
	if err := p.Rotate(); err != nil {
		t.Fatal(err)
	}
	p.DropOldKeys()
	fresh := mint(t, p, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := verify(t, v, fresh, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rotated key was never fetched")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := verify(t, v, tok, time.Second); err == nil {
		t.Error("a token whose key was withdrawn still verified (from the cache)")
	}
}

func TestVerifiedCacheBounded(t *testing.T) {
	var c tokenCache
	s := &issuerState{}
	ks := &keySet{}
	s.keys.Store(ks)
	now := time.Now()
	for i := range maxCachedTokens * 3 {
		c.put(string(rune(i))+"token", &Claims{Expiry: now.Add(time.Hour)}, s, ks, now)
	}
	if n := len(c.m); n > maxCachedTokens {
		t.Errorf("cache holds %d entries, bound %d", n, maxCachedTokens)
	}
}

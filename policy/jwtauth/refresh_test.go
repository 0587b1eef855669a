package jwtauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/policy/idp"
)

// 100 distinct unknown kids at once cost at most two JWKS fetches: one
// they all join, and at most one more after MinRefreshGap.
func TestUnknownKIDFlood(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	const gap = 300 * time.Millisecond
	v := newVerifier(t, Options{MinRefreshGap: gap}, issuerOf(p))
	mustVerify(t, v, mint(t, p, nil))

	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = mintWith(t, p, idp.Header{KeyID: fmt.Sprintf("unknown-%d", i)}, nil)
	}
	time.Sleep(gap) // so the flood may trigger one fetch at once
	// Slow answers keep that fetch in flight while the flood arrives.
	p.SetDelay(100 * time.Millisecond)
	before := p.JWKSFetches()

	var wg sync.WaitGroup
	errs := make([]error, len(tokens))
	for i, tok := range tokens {
		wg.Go(func() { _, errs[i] = verify(t, v, tok, 3*time.Second) })
	}
	wg.Wait()
	for _, err := range errs {
		wantRefusal(t, err, Invalid, ReasonUnknownKID)
	}
	time.Sleep(3 * gap) // let a deferred fetch, if any, happen
	if grew := p.JWKSFetches() - before; grew > 2 {
		t.Fatalf("JWKS fetched %d times for the flood; want at most 2", grew)
	}
	// The keys held survive all this.
	mustVerify(t, v, mint(t, p, nil))
}

// After the provider rotates, a token under the new kid makes the verifier
// refresh, and is accepted.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "RS256")
	const gap = 20 * time.Millisecond
	v := newVerifier(t, Options{MinRefreshGap: gap}, issuerOf(p))
	oldToken := mint(t, p, nil)
	mustVerify(t, v, oldToken)

	if err := p.Rotate(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * gap)
	before := p.JWKSFetches()
	newToken := mint(t, p, nil)
	mustVerify(t, v, newToken)
	if p.JWKSFetches() != before+1 {
		t.Fatalf("JWKS fetched %d times for the rotation; want 1", p.JWKSFetches()-before)
	}
	mustVerify(t, v, oldToken) // the old key is still published

	// The provider drops the old key and rotates again: after the refresh
	// the newest key verifies and the dropped one is gone.
	if err := p.Rotate(); err != nil {
		t.Fatal(err)
	}
	p.DropOldKeys()
	time.Sleep(2 * gap)
	mustVerify(t, v, mint(t, p, nil))
	_, err := verify(t, v, oldToken, time.Second)
	wantRefusal(t, err, Invalid, ReasonUnknownKID)
	if st := v.Status()[0]; st.Keys != 1 || st.KeyIDs[0] != p.KeyID() {
		t.Fatalf("status %+v; want only %s", st, p.KeyID())
	}
}

// A provider that is down before the first fetch makes requests fail fast
// as Unavailable.
func TestJWKSDownBeforeFirstFetch(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.SetDown(true)
	v := newVerifier(t, Options{}, issuerOf(p))
	token := mint(t, p, nil)

	start := time.Now()
	_, err := verify(t, v, token, 200*time.Millisecond)
	e := wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Verify hung for %s", time.Since(start))
	}
	t.Logf("refused after %s: %v", time.Since(start), e)
	eventually(t, "the failure in Status", func() bool { return strings.Contains(v.Status()[0].LastError, "503") })
}

func TestJWKSRecoversAfterDown(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.SetDown(true)
	v := newVerifier(t, Options{MinRefreshGap: 10 * time.Millisecond}, issuerOf(p))
	token := mint(t, p, nil)
	_, err := verify(t, v, token, 200*time.Millisecond)
	wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)

	p.SetDown(false)
	// Not a wait for an event: the behaviour under test is that a request
	// after MinRefreshGap (10ms) triggers a fetch itself.
	time.Sleep(20 * time.Millisecond)
	mustVerify(t, v, token)
	if st := v.Status()[0]; st.LastError != "" || st.Keys != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A JWKS that answers after 10s does not hold a request with a 100ms
// deadline, and Close abandons the fetch.
func TestJWKSSlow(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.SetDelay(10 * time.Second)
	v, err := New([]Issuer{issuerOf(p)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, p, nil)

	start := time.Now()
	_, err = verify(t, v, token, 100*time.Millisecond)
	wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Verify hung for %s", time.Since(start))
	}
	start = time.Now()
	v.Close()
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Close hung for %s", time.Since(start))
	}
}

// Keys fetched before the provider went down stay in use.
func TestKeysKeptWhenJWKSDown(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	v := newVerifier(t, Options{RefreshInterval: 20 * time.Millisecond, MinRefreshGap: time.Millisecond}, issuerOf(p))
	token := mint(t, p, nil)
	mustVerify(t, v, token)

	p.SetDown(true)
	eventually(t, "a failed refresh", func() bool { return v.Status()[0].LastError != "" })
	mustVerify(t, v, token)
	// An unknown kid is refused as such, not as Unavailable: keys are held.
	_, err := verify(t, v, mintWith(t, p, idp.Header{KeyID: "rotated?"}, nil), 200*time.Millisecond)
	wantRefusal(t, err, Invalid, ReasonUnknownKID)
	if st := v.Status()[0]; st.Keys != 1 || st.LastFetch.IsZero() || !strings.Contains(st.LastError, "503") {
		t.Fatalf("status %+v", st)
	}
}

// A discovery document for another issuer is refused (OIDC Discovery §4.3).
func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.SetDiscoveryIssuer("https://login.example.com")
	v := newVerifier(t, Options{}, issuerOf(p))
	_, err := verify(t, v, mint(t, p, nil), 2*time.Second)
	wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)
	if last := v.Status()[0].LastError; !strings.Contains(last, "does not match") || !strings.Contains(last, "/.well-known/openid-configuration") {
		t.Fatalf("last error %q does not name the mismatch and the URL", last)
	}
	if n := p.JWKSFetches(); n != 0 {
		t.Fatalf("JWKS fetched %d times after a bad discovery", n)
	}
}

func TestOversizeJWKS(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	pad, err := json.Marshal(map[string]string{"kty": "EC", "kid": "pad", "x": strings.Repeat("A", DefaultMaxKeySetBytes)})
	if err != nil {
		t.Fatal(err)
	}
	p.PublishRawJWK(pad)
	v := newVerifier(t, Options{}, issuerOf(p))
	_, err = verify(t, v, mint(t, p, nil), 2*time.Second)
	wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)
	if last := v.Status()[0].LastError; !strings.Contains(last, "exceeds") || !strings.Contains(last, idp.JWKSPath) {
		t.Fatalf("last error %q does not name the size and the URL", last)
	}
}

func TestOversizeDiscovery(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	v := newVerifier(t, Options{MaxKeySetBytes: 64}, issuerOf(p))
	_, err := verify(t, v, mint(t, p, nil), 2*time.Second)
	wantRefusal(t, err, Unavailable, ReasonKeysUnavailable)
	if last := v.Status()[0].LastError; !strings.Contains(last, "discovery") || !strings.Contains(last, "exceeds") {
		t.Fatalf("last error %q", last)
	}
}

// Requests arriving before the first fetch completes wait for it (within
// their ctx) rather than failing.
func TestFirstRequestsWaitForFirstFetch(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.SetDelay(50 * time.Millisecond)
	v := newVerifier(t, Options{}, issuerOf(p))
	token := mint(t, p, nil)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := verify(t, v, token, 5*time.Second); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	wg.Wait()
	if n := p.JWKSFetches(); n != 1 {
		t.Fatalf("JWKS fetched %d times; want 1", n)
	}
}

// recordingHandler counts log records by message.
type recordingHandler struct {
	mu       sync.Mutex
	messages map[string]int
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages[r.Message]++
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }
func (h *recordingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.messages[msg]
}

// A provider that stays down is logged once per failure streak, not at
// every retry or request; a skipped key once, not at every refresh.
func TestFailuresLoggedOncePerStreak(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	p.PublishRawJWK(json.RawMessage(`{"kty":"oct","kid":"sym","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`))
	logs := &recordingHandler{messages: map[string]int{}}
	v := newVerifier(t, Options{RefreshInterval: 5 * time.Millisecond, MinRefreshGap: time.Millisecond, Log: slog.New(logs)}, issuerOf(p))
	token := mint(t, p, nil)
	mustVerify(t, v, token)

	p.SetDown(true)
	start := p.JWKSFetches() + p.DiscoveryFetches()
	eventually(t, "several failed refreshes", func() bool { return p.JWKSFetches()+p.DiscoveryFetches() > start+5 })
	for range 20 {
		mustVerify(t, v, token)
	}
	p.SetDown(false)
	eventually(t, "recovery", func() bool { return logs.count("jwtauth: fetching keys works again") == 1 })

	if n := logs.count("jwtauth: fetching keys failed; keeping the keys held"); n != 1 {
		t.Fatalf("failure logged %d times; want once", n)
	}
	if n := logs.count("jwtauth: JWKS key skipped"); n != 1 {
		t.Fatalf("skipped key logged %d times; want once", n)
	}
	if n := logs.count("jwtauth: keys loaded"); n != 1 {
		t.Fatalf("unchanged keys logged as loaded %d times; want once", n)
	}
}

package jwtauth

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// issuerState is an issuer's configuration and keys. One goroutine (run)
// does every fetch; Verify only reads the key snapshot, and on a miss asks
// run for a refresh and waits for it within its own ctx.
type issuerState struct {
	cfg    Issuer
	algs   []jose.SignatureAlgorithm
	leeway time.Duration

	keys atomic.Pointer[keySet]

	// kick asks run for a refresh. Buffered 1: any number of asks while one
	// is pending coalesce.
	kick chan struct{}

	mu sync.Mutex
	// next is closed when the fetch in flight, or the one a Verify has
	// claimed, completes; nil when none is.
	next chan struct{}
	// lastStart is when the last fetch started (or was claimed); it bounds
	// request-triggered fetches to one per MinRefreshGap.
	lastStart time.Time
	status    IssuerStatus

	// Owned by run.
	jwksURL      string
	discoveredAt time.Time
	failing      bool
	lastSkipped  string
}

func newIssuerState(cfg Issuer) *issuerState {
	s := &issuerState{
		cfg:    cfg,
		leeway: cfg.Leeway,
		kick:   make(chan struct{}, 1),
		// The first fetch is claimed at once, so requests arriving before
		// run starts wait for it rather than asking for another.
		next:      make(chan struct{}),
		lastStart: time.Now(),
		status:    IssuerStatus{Issuer: cfg.Issuer, JWKSURL: cfg.JWKSURL},
		jwksURL:   cfg.JWKSURL,
	}
	if s.leeway == 0 {
		s.leeway = DefaultLeeway
	}
	for _, a := range cfg.Algorithms {
		s.algs = append(s.algs, jose.SignatureAlgorithm(a))
	}
	return s
}

// run fetches the keys now, then every RefreshInterval (sooner, with
// backoff, after a failure), and when a request asks.
func (s *issuerState) run(ctx context.Context, v *Verifier) {
	defer v.wg.Done()
	backoff := time.Second
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := s.refresh(ctx, v); err != nil {
			if ctx.Err() != nil {
				return
			}
			timer.Reset(min(backoff, v.opts.RefreshInterval))
			backoff = min(2*backoff, v.opts.RefreshInterval)
		} else {
			timer.Reset(v.opts.RefreshInterval)
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.kick:
			s.mu.Lock()
			claimed := s.next != nil
			wait := v.opts.MinRefreshGap - time.Since(s.lastStart)
			s.mu.Unlock()
			if !claimed && wait > 0 {
				// Asked inside the gap: fetch once the gap is over.
				if !sleep(ctx, wait) {
					return
				}
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// refresh fetches the keys once and publishes them, then wakes the waiters.
// On failure the keys held stay in use.
func (s *issuerState) refresh(ctx context.Context, v *Verifier) error {
	s.mu.Lock()
	if s.next == nil {
		s.next = make(chan struct{})
	}
	done := s.next
	s.lastStart = time.Now()
	// Every ask made before this point is answered by this fetch; a stale
	// one left in kick would cost a second fetch.
	select {
	case <-s.kick:
	default:
	}
	s.mu.Unlock()

	set, err := s.fetch(ctx, v)
	now := time.Now()

	s.mu.Lock()
	s.status.LastAttempt = now
	if s.jwksURL != "" {
		s.status.JWKSURL = s.jwksURL
	}
	if err == nil {
		old := s.keys.Swap(set)
		s.status.LastFetch, s.status.LastError = now, ""
		s.status.KeyIDs, s.status.Keys = set.kids, len(set.all)
		if !set.sameKIDs(old) {
			v.log.Info("jwtauth: keys loaded", "issuer", s.cfg.Issuer, "url", s.jwksURL, "kids", set.kids)
		}
	} else {
		s.status.LastError = err.Error()
	}
	s.next = nil
	s.mu.Unlock()
	close(done)

	switch {
	case err == nil && s.failing:
		s.failing = false
		v.log.Info("jwtauth: fetching keys works again", "issuer", s.cfg.Issuer)
	case err != nil && ctx.Err() != nil:
		// Closing: not a provider fault.
	case err != nil && !s.failing:
		// Once per failure streak: a provider that is down would otherwise
		// fill the log at every retry.
		s.failing = true
		held := 0
		if ks := s.keys.Load(); ks != nil {
			held = len(ks.all)
		}
		v.log.Warn("jwtauth: fetching keys failed; keeping the keys held", "issuer", s.cfg.Issuer, "keys_held", held, "err", err)
	case err != nil:
		v.log.Debug("jwtauth: fetching keys failed again", "issuer", s.cfg.Issuer, "err", err)
	}
	return err
}

func (s *issuerState) fetch(ctx context.Context, v *Verifier) (*keySet, error) {
	if s.cfg.JWKSURL == "" && (s.jwksURL == "" || time.Since(s.discoveredAt) >= v.opts.RefreshInterval) {
		u, err := v.fetcher.discover(ctx, s.cfg.Issuer)
		if err != nil {
			return nil, err
		}
		s.jwksURL, s.discoveredAt = u, time.Now()
	}
	set, skipped, err := v.fetcher.jwks(ctx, s.jwksURL)
	s.logSkipped(v.log, skipped)
	if err != nil && s.cfg.JWKSURL == "" {
		s.jwksURL = "" // the provider may have moved it: discover again next time
	}
	return set, err
}

// logSkipped logs keys that will never be used, when that list changes
// rather than at every refresh.
func (s *issuerState) logSkipped(log *slog.Logger, skipped []skippedKey) {
	var b []byte
	for _, k := range skipped {
		b = append(b, k.kid...)
		b = append(b, 0)
		b = append(b, k.why...)
		b = append(b, 0)
	}
	if string(b) == s.lastSkipped {
		return
	}
	s.lastSkipped = string(b)
	for _, k := range skipped {
		log.Warn("jwtauth: JWKS key skipped", "issuer", s.cfg.Issuer, "index", k.index, "kid", k.kid, "why", k.why)
	}
}

// awaitRefresh is called when the keys held cannot verify a token (none
// yet, or no key with its kid). It joins the fetch in flight, or starts one
// if the last began at least MinRefreshGap ago, and waits for it until ctx
// is done. Inside the gap it only asks for a fetch once the gap is over and
// returns at once: a flood of unknown kids costs one fetch per gap and
// holds no request.
func (s *issuerState) awaitRefresh(ctx context.Context, v *Verifier) {
	s.mu.Lock()
	done := s.next
	if done == nil {
		if time.Since(s.lastStart) >= v.opts.MinRefreshGap {
			done = make(chan struct{})
			s.next, s.lastStart = done, time.Now()
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-v.closed:
	}
}

func (s *issuerState) snapshot() IssuerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.KeyIDs = append([]string(nil), st.KeyIDs...)
	return st
}

func (s *issuerState) lastError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status.LastError
}

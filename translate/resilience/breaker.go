package resilience

import (
	"sync"
	"time"
)

// breaker opens after Failures consecutive failures, stays open for
// Cooldown, then lets at most Probes calls through at once (half-open):
// a probe's success closes it, a probe's failure opens it again.
//
// We do not use go-resiliency's breaker: its successes never reset the error
// count (3 errors among 300 successes open it), half-open admits every caller
// at once, and its timer goroutine cannot be stopped. This one has no
// goroutines at all: state changes happen on calls.
type breaker struct {
	failures int
	probes   int
	cooldown time.Duration
	now      func() time.Time
	onChange func(open bool)

	mu          sync.Mutex
	consecutive int
	openUntil   time.Time // zero when closed
	// gen counts openings: only the probes of the current half-open
	// period decide it, not a slow one from an earlier period.
	gen     int
	probing int // half-open probes in flight
}

// ticket is what allow hands to a call admitted through the breaker; the
// call gives it back to done or abandon. Only a probe's ticket decides a
// half-open breaker: a slow call admitted before the breaker opened cannot
// take a probe's place.
type ticket struct {
	probe bool
	gen   int
}

// allow reports whether a call may go ahead; when it does, the caller must
// report the outcome with done or abandon.
func (b *breaker) allow() (ticket, bool) {
	if b == nil {
		return ticket{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return ticket{}, true
	}
	if b.now().Before(b.openUntil) || b.probing >= b.probes {
		return ticket{}, false
	}
	b.probing++
	return ticket{probe: true, gen: b.gen}, true
}

// current reports whether t is a probe of the half-open period now.
func (b *breaker) current(t ticket) bool { return t.probe && t.gen == b.gen && !b.openUntil.IsZero() }

// done records a call's outcome.
func (b *breaker) done(t ticket, failed bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	wasOpen := !b.openUntil.IsZero()
	switch {
	case b.current(t):
		b.probing--
		if failed {
			b.openLocked()
		} else {
			b.consecutive, b.openUntil, b.probing = 0, time.Time{}, 0
		}
	case wasOpen:
		// A call admitted before the breaker opened, or a probe of an
		// earlier half-open period: the current probes decide.
	case failed:
		b.consecutive++
		if b.consecutive >= b.failures {
			b.openLocked()
		}
	default:
		b.consecutive = 0
	}
	isOpen := !b.openUntil.IsZero()
	b.mu.Unlock()
	if wasOpen != isOpen && b.onChange != nil {
		b.onChange(isOpen)
	}
}

func (b *breaker) openLocked() {
	b.openUntil = b.now().Add(b.cooldown)
	b.gen++
	b.probing = 0
}

// abandon ends a call that says nothing about the backend (the caller went
// away or set its own short deadline): a probe's slot is freed, no count
// changes.
func (b *breaker) abandon(t ticket) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if b.current(t) {
		b.probing--
	}
	b.mu.Unlock()
}

// remaining is how long the breaker stays open; at least a second for a
// Retry-After header, 0 when closed.
func (b *breaker) remaining() time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return 0
	}
	return max(time.Until(b.openUntil), time.Second)
}

// BreakerState is what an operator sees of a breaker.
type BreakerState struct {
	State string `json:"state"` // "closed", "open" or "half-open"
	// ConsecutiveFailures counts toward opening it.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// OpenUntil is when an open breaker admits a probe.
	OpenUntil time.Time `json:"open_until,omitzero"`
	// Probes are a half-open breaker's probes in flight.
	Probes int `json:"probes,omitempty"`
}

func (b *breaker) state() BreakerState {
	if b == nil {
		return BreakerState{State: "none"}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BreakerState{State: "closed", ConsecutiveFailures: b.consecutive}
	switch {
	case b.openUntil.IsZero():
	case b.now().Before(b.openUntil):
		st.State, st.OpenUntil = "open", b.openUntil
	default:
		st.State, st.Probes = "half-open", b.probing
	}
	return st
}

// open reports whether the breaker refuses calls now (open, or half-open
// with all its probes in flight).
func (b *breaker) open() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && (b.now().Before(b.openUntil) || b.probing >= b.probes)
}

package resilience

import (
	"sync"
	"time"
)

// breaker opens after Failures consecutive failures, stays open for
// Cooldown, then lets exactly one probe through (half-open): the probe's
// success closes it, its failure opens it again.
//
// We do not use go-resiliency's breaker: its successes never reset the error
// count (3 errors among 300 successes open it), half-open admits every caller
// at once, and its timer goroutine cannot be stopped. This one has no
// goroutines at all: state changes happen on calls.
type breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time
	onChange func(open bool)

	mu          sync.Mutex
	consecutive int
	openUntil   time.Time // zero when closed
	probing     bool      // a half-open probe is in flight
}

// ticket is what allow hands to a call admitted through the breaker; the
// call gives it back to done or abandon. Only the probe's ticket decides a
// half-open breaker: a slow call admitted before the breaker opened cannot
// take the probe's place.
type ticket struct{ probe bool }

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
	if b.now().Before(b.openUntil) || b.probing {
		return ticket{}, false
	}
	b.probing = true
	return ticket{probe: true}, true
}

// done records a call's outcome.
func (b *breaker) done(t ticket, failed bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	wasOpen := !b.openUntil.IsZero()
	switch {
	case t.probe:
		b.probing = false
		if failed {
			b.openUntil = b.now().Add(b.cooldown)
		} else {
			b.consecutive, b.openUntil = 0, time.Time{}
		}
	case wasOpen:
		// A call admitted before the breaker opened: the probe decides.
	case failed:
		b.consecutive++
		if b.consecutive >= b.failures {
			b.openUntil = b.now().Add(b.cooldown)
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

// abandon ends a call that says nothing about the backend (the caller went
// away or set its own short deadline): a probe's slot is freed, no count
// changes.
func (b *breaker) abandon(t ticket) {
	if b == nil || !t.probe {
		return
	}
	b.mu.Lock()
	b.probing = false
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
	case b.now().Before(b.openUntil) && !b.probing:
		st.State, st.OpenUntil = "open", b.openUntil
	default:
		st.State = "half-open"
	}
	return st
}

// open reports whether the breaker refuses calls now (open, or half-open
// with its probe in flight).
func (b *breaker) open() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && (b.now().Before(b.openUntil) || b.probing)
}

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

// allow reports whether a call may go ahead; when it returns true the caller
// must report the outcome with done.
func (b *breaker) allow() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true
	}
	if b.now().Before(b.openUntil) || b.probing {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) done(failed bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	wasOpen := !b.openUntil.IsZero()
	probe := b.probing
	b.probing = false
	if !failed {
		b.consecutive = 0
		b.openUntil = time.Time{}
	} else {
		b.consecutive++
		if probe || b.consecutive >= b.failures {
			b.openUntil = b.now().Add(b.cooldown)
		}
	}
	isOpen := !b.openUntil.IsZero()
	b.mu.Unlock()
	if wasOpen != isOpen && b.onChange != nil {
		b.onChange(isOpen)
	}
}

// abandon ends a call that says nothing about the backend (the caller went
// away): a half-open probe slot is freed, no count changes.
func (b *breaker) abandon() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

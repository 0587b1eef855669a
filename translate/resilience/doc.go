// Package resilience wraps any translate.Backend with the policies every
// backend shares: a deadline, retries on chosen codes with jittered backoff,
// a circuit breaker, a concurrency limit, and per route, hedged attempts
// of idempotent calls (Hedge). Protocol packages never retry or
// break circuits themselves; they report what happened and this layer decides.
package resilience

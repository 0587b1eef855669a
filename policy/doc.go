// Package policy owns the checks a request passes before it reaches a
// route's target, each a small http.Handler wrapper. The global ones here
// harden request framing and size; per-route checks (authentication,
// authorization, rate limits) will sit beside them.
package policy

package policy

import (
	"net/http"
	"strconv"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/policy/ratelimit"
	"github.com/switchboard-gw/switchboard/policy/tlsconf"
	"github.com/switchboard-gw/switchboard/translate"
)

// keyKind is what a rate limit counts requests by.
type keyKind uint8

const (
	keyClientIP keyKind = iota
	keySubject
	keyAPIKey
	keyClientCert
	keyHeader
)

var keyKindNames = [...]string{"client_ip", "subject", "api_key", "client_cert", "header"}

type rateLimit struct {
	policy    string
	limit     ratelimit.Limit
	key       keyKind
	header    string
	store     ratelimit.Store
	storeName string
	// shared: the store is Redis, which may fail.
	shared bool
}

// byIdentity: the key is known only once the request authenticated.
func (rl *rateLimit) byIdentity() bool {
	return rl != nil && (rl.key == keySubject || rl.key == keyAPIKey)
}

// keyOf is the bucket a request draws from. A request without the fact
// its limit is keyed by (no such header, no identity) is counted by its
// client address instead, never in one bucket shared by all such
// requests, which one client could empty for everyone.
func (rl *rateLimit) keyOf(r *http.Request, f *facts) string {
	var v string
	switch rl.key {
	case keySubject:
		if f.identity != nil && f.identity.Subject != "" {
			// Two issuers' users may share a sub: the bucket is the
			// issuer's and the subject's.
			v = f.identity.Issuer + "\x00" + f.identity.Subject
		}
	case keyAPIKey:
		if f.identity != nil {
			v = f.identity.APIKey
		}
	case keyClientCert:
		v = tlsconf.ClientSubject(r.TLS)
	case keyHeader:
		v = r.Header.Get(rl.header)
	}
	kind := keyKindNames[rl.key]
	if v == "" {
		kind, v = "client_ip", addrKey(f)
	}
	// The policy's name keeps two policies' buckets apart.
	return rl.policy + "\x00" + kind + "\x00" + v
}

// addrKey is the bucket of a client address: the address itself for IPv4,
// its /64 for IPv6, where one subscriber holds a whole /64 and could
// otherwise take a fresh bucket per address.
func addrKey(f *facts) string {
	if !f.addr.IsValid() {
		return "unknown"
	}
	if f.addr.Is6() {
		if p, err := f.addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return f.addr.String()
}

// limit takes one request from the policy's bucket: the RateLimit headers
// go on every answer, a refusal is 429 with Retry-After.
func (e *Engine) limit(w http.ResponseWriter, r *http.Request, f *facts, p *compiled) error {
	rl := p.rate
	d, err := rl.store.Take(r.Context(), rl.keyOf(r, f), rl.limit)
	if err != nil && r.Context().Err() != nil {
		// The client went away while the store answered: nothing is
		// wrong with the store, and nobody is waiting for an answer.
		return translate.FromError(r.Context().Err())
	}
	if err != nil {
		mode := "open"
		if !e.redisFailOpen {
			mode = "closed"
		}
		e.metrics.StoreError(rl.storeName, mode)
		if e.redisDown.CompareAndSwap(false, true) {
			e.log.Error("rate limit store unreachable", "store", rl.storeName, "fail", mode, "error", err)
		}
		if e.redisFailOpen {
			return nil
		}
		ue := unavailable("the rate limit store cannot be reached; retry shortly")
		ue.Cause = err
		return e.refused(r, p.name, "rate_limit", "store_unavailable", ue)
	}
	if rl.shared && e.redisDown.CompareAndSwap(true, false) {
		e.log.Info("rate limit store reachable again", "store", rl.storeName)
	}
	ratelimit.SetHeaders(w.Header(), p.name, rl.limit, d)
	if d.Allowed {
		return nil
	}
	te := translate.Errorf(codes.ResourceExhausted, "rate limit of policy %s exceeded: %s requests per %s, bursts of %d; retry after %ss",
		p.name, strconv.FormatFloat(rl.limit.Rate, 'g', -1, 64), rl.limit.Per, rl.limit.Burst, w.Header().Get("Retry-After"))
	return e.refused(r, p.name, "rate_limit", "exceeded", te)
}

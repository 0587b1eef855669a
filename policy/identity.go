package policy

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
)

// Identity is who a request proved to be.
type Identity struct {
	// Method is how: jwt, api_key or ext_authz.
	Method string
	// Subject is the token's sub, or the API key's name.
	Subject string
	Issuer  string
	// Claims are the token's claims, as decoded JSON.
	Claims map[string]any
	Scopes []string
	// APIKey is the name of the key the request sent.
	APIKey string
	// ClientCert is the subject of the verified client certificate.
	ClientCert string
}

// facts are what the policy stage learns about one request as it passes
// the global policy and then its route's; one goroutine writes them.
type facts struct {
	addr     netip.Addr
	identity *Identity
	// set are the canonical header names the gateway itself set for the
	// backend (identity, ext_authz answers); a later policy's strip must
	// not remove them, and the pipeline forwards them as metadata.
	set []string
	// reserved are the lower-cased names of every header a policy of the
	// request's chain sets; a client's copies, in any form, are dropped.
	reserved []string
	// tab is the request's account with the body budget, when Limits
	// opened one after the facts were made (see TabFrom).
	tab *Tab
	// ctx carries the facts: the request's context with them, in the same
	// allocation.
	ctx factsContext
}

type factsKey struct{}

// factsContext is context.WithValue(parent, factsKey{}, f), kept in f,
// with a value of the caller's beside it (CheckGlobalWith).
type factsContext struct {
	context.Context
	f        *facts
	key, val any
}

func (c *factsContext) Value(key any) any {
	switch {
	case key == (factsKey{}):
		return c.f
	case c.key != nil && key == c.key:
		return c.val
	}
	return c.Context.Value(key)
}

func factsOf(r *http.Request) (*facts, *http.Request) { return factsOfWith(r, nil, nil) }

// factsOfWith is factsOf, which also puts val under key in the context
// when key is not nil.
func factsOfWith(r *http.Request, key, val any) (*facts, *http.Request) {
	if f, ok := r.Context().Value(factsKey{}).(*facts); ok {
		if key != nil {
			r = r.WithContext(context.WithValue(r.Context(), key, val))
		}
		return f, r
	}
	f := &facts{}
	f.ctx = factsContext{Context: r.Context(), f: f, key: key, val: val}
	return f, r.WithContext(&f.ctx)
}

// Forwarded returns the canonical names of the request headers the policy
// stage set for the backend (identity, ext_authz answers): every protocol
// forwards them, whatever its own header list, and a client may not set
// them any other way.
func Forwarded(ctx context.Context) []string {
	if f, ok := ctx.Value(factsKey{}).(*facts); ok {
		return f.set
	}
	return nil
}

func (f *facts) setHeader(r *http.Request, name, value string) {
	r.Header.Set(name, value)
	if !slices.Contains(f.set, name) {
		f.set = append(f.set, name)
	}
}

func (f *facts) wasSet(name string) bool { return slices.Contains(f.set, name) }

// Reserved returns the lower-cased names of the headers the request's
// policies set for the backend: a client's own copies, under any prefix
// that would make them metadata, must be dropped.
func Reserved(ctx context.Context) []string {
	if f, ok := ctx.Value(factsKey{}).(*facts); ok {
		return f.reserved
	}
	return nil
}

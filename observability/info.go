package observability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// Info is what the layers below learn about a request and the access log and
// metrics report: the route it matched, the backend it called, the outcome.
// Set with the setters; they are safe to call from the handler goroutine
// while the middleware reads after it returns.
type Info struct {
	ID string

	mu      sync.Mutex
	route   string
	backend string
	code    string // gRPC code name of the outcome, "" for OK
	err     error  // cause, logged never sent
	retries int
	// endpoint is the upstream address of the last attempt; source says
	// who made a failure: "application", "transport" or "gateway".
	endpoint, source string
	// What the policy stage learned: the client address it settled on,
	// who the request proved to be, and the check that refused it.
	client, principal      string
	policy, check, refusal string
	// A stream's framing ("ndjson", "sse", "json", "websocket") and its
	// messages each way, for the line logged when it ends.
	stream          string
	msgsIn, msgsOut int
}

type infoKey struct{}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// FromContext returns the request's Info, or a throwaway one when the request
// did not pass the middleware (tests, direct calls), so callers need no nil checks.
func FromContext(ctx context.Context) *Info {
	if info, ok := ctx.Value(infoKey{}).(*Info); ok {
		return info
	}
	return &Info{}
}

// Lookup returns the request's Info, or nil when the request did not
// pass the middleware: for a caller on every request that has nothing to
// record then, and should not make a throwaway Info to record it in.
func Lookup(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// SetRoute records the matched route pattern and backend.
func (i *Info) SetRoute(route, backend string) {
	i.mu.Lock()
	i.route, i.backend = route, backend
	i.mu.Unlock()
}

// SetError records the outcome code and the cause of a failed request.
func (i *Info) SetError(code string, err error) {
	i.mu.Lock()
	i.code, i.err = code, err
	i.mu.Unlock()
}

// SetUpstream records the endpoint the last attempt went to and, for a
// failure, who made it.
func (i *Info) SetUpstream(endpoint, source string) {
	i.mu.Lock()
	if endpoint != "" {
		i.endpoint = endpoint
	}
	i.source = source
	i.mu.Unlock()
}

// SetClient records the client address the policy stage settled on.
func (i *Info) SetClient(addr string) {
	i.mu.Lock()
	i.client = addr
	i.mu.Unlock()
}

// SetPrincipal records who the request authenticated as: a subject, an
// API key's name.
func (i *Info) SetPrincipal(p string) {
	i.mu.Lock()
	i.principal = p
	i.mu.Unlock()
}

// SetRefusal records the policy, check and reason that refused the
// request.
func (i *Info) SetRefusal(policy, check, reason string) {
	i.mu.Lock()
	i.policy, i.check, i.refusal = policy, check, reason
	i.mu.Unlock()
}

// AddRetry counts one retried backend attempt.
func (i *Info) AddRetry() {
	i.mu.Lock()
	i.retries++
	i.mu.Unlock()
}

// Route is the matched route pattern and backend.
func (i *Info) Route() (route, backend string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.route, i.backend
}

// SetStream records a stream's framing and the messages it carried so
// far, in from the client and out to it.
func (i *Info) SetStream(framing string, in, out int) {
	i.mu.Lock()
	i.stream, i.msgsIn, i.msgsOut = framing, in, out
	i.mu.Unlock()
}

// outcome is what the access log and metrics report of a request.
type outcome struct {
	route, backend, code string
	err                  error
	retries              int
	endpoint, source     string
	client, principal    string
	policy, check        string
	refusal              string
	stream               string
	msgsIn, msgsOut      int
}

func (i *Info) snapshot() outcome {
	i.mu.Lock()
	defer i.mu.Unlock()
	return outcome{i.route, i.backend, i.code, i.err, i.retries, i.endpoint, i.source,
		i.client, i.principal, i.policy, i.check, i.refusal, i.stream, i.msgsIn, i.msgsOut}
}

// NewRequestID returns 16 random bytes in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts a client's id only if it is short and plain, since it
// is echoed into logs, headers and backend metadata.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// RequestID is the id a request goes by: the client's, when it is short and
// plain, or a new one.
func RequestID(fromClient string) string {
	if validRequestID(fromClient) {
		return fromClient
	}
	return NewRequestID()
}

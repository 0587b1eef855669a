package grpc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // registers the client-side health checker
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translate"
)

// Options configure one gRPC backend.
type Options struct {
	Endpoints []string
	TLS       *TLS // nil means plaintext
	// Keepalive pings an idle connection every KeepaliveTime and drops it if
	// no answer comes within KeepaliveTimeout. Zero disables pings.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// MaxMessageBytes bounds replies; 0 means 4 MiB, grpc-go's default.
	MaxMessageBytes int
	// Balancing is "round_robin" (also "") or "least_request".
	Balancing string
	// Health, when set, watches each endpoint's grpc.health.v1 status and
	// takes an endpoint out of rotation while it is not SERVING.
	Health *HealthCheck
}

// HealthCheck configures client-side health checking (gRFC A17).
type HealthCheck struct {
	// Service is the name asked of grpc.health.v1.Health/Watch; "" asks
	// about the server as a whole.
	Service string
}

// balancers maps the balancing: values to our balancers' names
// (balancer.go).
var balancers = map[string]string{
	"":              roundRobinBalancer,
	"round_robin":   roundRobinBalancer,
	"least_request": leastRequestBalancer, // power of two choices
}

func balancerNames() string { return "round_robin or least_request" }

// healthServiceProblem says what is wrong with a health service name, or "".
func healthServiceProblem(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		return fmt.Sprintf("%q is not a service name (want e.g. library.v1.LibraryService, or \"\" for the server as a whole)", s)
	}
	return ""
}

// serviceConfig is the JSON service config for opts: the balancer, and
// healthCheckConfig when health checking is on.
func serviceConfig(opts Options) (string, error) {
	lb, ok := balancers[opts.Balancing]
	if !ok {
		return "", fmt.Errorf("unknown balancing %q (want %s)", opts.Balancing, balancerNames())
	}
	sc := map[string]any{"loadBalancingConfig": []map[string]any{{lb: map[string]any{}}}}
	if opts.Health != nil {
		if msg := healthServiceProblem(opts.Health.Service); msg != "" {
			return "", fmt.Errorf("health service: %s", msg)
		}
		sc["healthCheckConfig"] = map[string]string{"serviceName": opts.Health.Service}
	}
	b, err := json.Marshal(sc)
	return string(b), err
}

// TLS configures a TLS connection; see translate.TLS.
type TLS = translate.TLS

// Backend is a gRPC backend: one grpc.ClientConn over all endpoints, balanced
// round robin (or least request), reused by every request. With health
// checking on, grpc-go watches each endpoint's grpc.health.v1 status on its
// connection and the balancer passes over endpoints that are not SERVING;
// when none is left, calls fail UNAVAILABLE at once.
type Backend struct {
	name      string
	conn      *grpc.ClientConn
	endpoints []string
	tracker   *endpointTracker
	health    *HealthCheck
	// addrNames caches the text of the peer addresses calls see, which
	// every call reports: a connection keeps one *net.TCPAddr.
	addrNames     sync.Map // *net.TCPAddr -> string
	addrNameCount atomic.Int32
}

// Endpoints are the backend's host:port addresses, for checks that dial
// them (validate --dial).
func (b *Backend) Endpoints() []string { return b.endpoints }

var _ translate.Backend = (*Backend)(nil)

var schemeSeq atomic.Uint64

// Dial builds the connection; it does not wait for the endpoints to be up,
// so a gateway starts even while a backend is down.
func Dial(name string, opts Options) (*Backend, error) {
	if len(opts.Endpoints) == 0 {
		return nil, fmt.Errorf("backend %s: no endpoints", name)
	}
	sc, err := serviceConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		cfg, err := opts.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		creds = credentials.NewTLS(cfg)
	}
	// A manual resolver per backend, under a scheme of its own, hands all
	// endpoints to the round_robin balancer without a global registration.
	r := manual.NewBuilderWithScheme(fmt.Sprintf("switchboard%d", schemeSeq.Add(1)))
	// Each address carries its own host as the server name, so that TLS
	// checks the certificate against the endpoint and :authority names it,
	// not the backend's config name; tls.server_name overrides both.
	addrs := make([]resolver.Address, len(opts.Endpoints))
	for i, ep := range opts.Endpoints {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			return nil, fmt.Errorf("backend %s: endpoint %q: %w", name, ep, err)
		}
		authority := ep // grpc-go's TLS strips the port when it checks the name
		if opts.TLS != nil && opts.TLS.ServerName != "" {
			authority = opts.TLS.ServerName
		}
		addrs[i] = resolver.Address{Addr: ep, ServerName: authority}
	}
	tracker := &endpointTracker{}
	withBalancerState(addrs, tracker)
	r.InitialState(resolver.State{Addresses: addrs})
	maxMsg := opts.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = 4 << 20
	}
	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.ForceCodecV2(Codec{})),
		grpc.WithUserAgent("switchboard"),
	}
	if opts.KeepaliveTime > 0 {
		dialOpts = append(dialOpts, grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: opts.KeepaliveTime, Timeout: opts.KeepaliveTimeout, PermitWithoutStream: true,
		}))
	}
	conn, err := grpc.NewClient(r.Scheme()+":///"+name, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	return &Backend{name: name, conn: conn, endpoints: append([]string(nil), opts.Endpoints...), tracker: tracker, health: opts.Health}, nil
}

var _ translate.HealthReporter = (*Backend)(nil)

// EndpointHealth says which endpoints the balancer may pick: connected,
// and SERVING when health checking is on. The connection starts idle and
// connects on the first call, so before one every endpoint is "idle".
func (b *Backend) EndpointHealth() []translate.EndpointHealth {
	state := b.conn.GetState()
	b.tracker.mu.Lock()
	ready := b.tracker.ready
	b.tracker.mu.Unlock()
	out := make([]translate.EndpointHealth, len(b.endpoints))
	for i, ep := range b.endpoints {
		h := translate.EndpointHealth{Address: ep}
		switch {
		case state == connectivity.Idle || (state == connectivity.Connecting && ready == nil):
			h.Healthy, h.Detail = true, "idle: connects on the first call"
		case state != connectivity.TransientFailure && state != connectivity.Shutdown && ready[ep]:
			h.Healthy = true
			if b.health != nil {
				h.Detail = "grpc.health.v1: SERVING"
			}
		case b.health != nil:
			h.Detail = "not connected, or not SERVING (grpc.health.v1)"
		default:
			h.Detail = "not connected"
		}
		out[i] = h
	}
	return out
}

// Conn is the backend's connection, for server reflection.
func (b *Backend) Conn() grpc.ClientConnInterface { return b.conn }

// Invoke sends call.Body as is and returns the reply bytes. A failure is a
// *translate.Error carrying the backend's headers and trailers as
// Grpc-Metadata-* response headers.
func (b *Backend) Invoke(ctx context.Context, call *translate.Call) (*translate.Reply, error) {
	if len(call.Metadata) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, call.Metadata)
	}
	// Everything grpc-go writes back through call options, in one
	// allocation instead of one each.
	inv := new(invocation)
	inv.opts = [...]grpc.CallOption{grpc.Header(&inv.reply.Header), grpc.Trailer(&inv.reply.Trailer), grpc.Peer(&inv.peer)}
	err := b.conn.Invoke(ctx, call.Method, &call.Body, &inv.reply.Body, inv.opts[:]...)
	if inv.peer.Addr != nil {
		inv.reply.Endpoint = b.addrName(inv.peer.Addr)
	}
	if err != nil {
		e := b.mapError(ctx, err, inv.reply.Header, inv.reply.Trailer)
		e.Endpoint = inv.reply.Endpoint
		return nil, e
	}
	return &inv.reply, nil
}

// addrName is a.String(), cached for TCP addresses. Reconnections bring new
// address values, so the cache starts over when it has seen many.
func (b *Backend) addrName(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if s, ok := b.addrNames.Load(tcp); ok {
		return s.(string)
	}
	s := tcp.String()
	if b.addrNameCount.Add(1) > 256 {
		b.addrNames.Clear()
		b.addrNameCount.Store(0)
	}
	b.addrNames.Store(tcp, s)
	return s
}

// invocation is one unary call's reply and the options that fill it in.
type invocation struct {
	reply translate.Reply
	peer  peer.Peer
	opts  [3]grpc.CallOption
}

func (b *Backend) mapError(ctx context.Context, err error, header, trailer metadata.MD) *translate.Error {
	st, _ := status.FromError(err)
	e := translate.FromError(st.Err())
	e.Cause = err
	e.Header = http.Header{}
	MetadataToHeader(e.Header, header)
	MetadataToHeader(e.Header, trailer)
	// A status grpc-go made up on our side of the wire (no headers arrived)
	// carries dial errors and addresses: keep those in the log, not the body.
	fromServer := len(header) > 0 || len(trailer) > 0
	e.FromServer, e.Application = fromServer, fromServer
	// Only a failure to connect proves the server never saw the call:
	// grpc-go also says UNAVAILABLE, with no headers, when a connection
	// drops after the request went out (a crash, a reset).
	e.Retryable = e.Code == codes.Unavailable && !fromServer && neverSent(st.Message())
	switch {
	case e.Code == codes.DeadlineExceeded && (ctx.Err() != nil || !fromServer):
		e.Message = "backend " + b.name + " did not answer in time"
	case e.Code == codes.Canceled && ctx.Err() != nil:
		e.Message = "request cancelled"
	case e.Code == codes.Canceled && !fromServer:
		// Not the caller: the connection was closed under the call (the
		// gateway is shutting down), which the caller sees as unavailable.
		// A call in flight may have reached the server: not retryable.
		e.Code, e.Message, e.Details = codes.Unavailable, "backend "+b.name+" is closed", nil
		e.Retryable = false
	case e.Code == codes.Unavailable && !fromServer:
		e.Message = "backend " + b.name + " is unavailable"
		e.Details = nil
	case e.Code == codes.ResourceExhausted && strings.Contains(st.Message(), "grpc: received message") &&
		strings.Contains(st.Message(), "larger than max"):
		// Our own receive limit, not the backend's quota: a 429 would tell
		// the client to retry what can never fit.
		e.Code, e.Reason, e.Details = codes.Internal, translate.ReasonBadGateway, nil
		e.Application = false
		e.Message = "backend " + b.name + " sent a reply larger than max_message_bytes"
	case e.Code == codes.Internal && !fromServer && strings.Contains(st.Message(), "grpc: "):
		e.Message = "backend " + b.name + " sent an invalid reply"
	}
	return e
}

// Close closes the connection.
func (b *Backend) Close() error {
	err := b.conn.Close()
	if status.Code(err) == codes.Canceled { // already closed
		return nil
	}
	return err
}

// MetadataToHeader copies gRPC metadata into HTTP headers as Grpc-Metadata-*;
// binary (-bin) values are base64, as in the gRPC HTTP/2 mapping.
func MetadataToHeader(h http.Header, md metadata.MD) {
	translate.MetadataToHeader(h, MetadataHeaderPrefix, md, isReservedMetadata)
}

// isReservedMetadata filters transport-level keys that mean nothing to an
// HTTP client, or that would contradict the gateway's own headers.
func isReservedMetadata(k string) bool {
	switch k {
	case "content-type", "grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-encoding",
		"grpc-accept-encoding", "grpc-timeout", "te", "trailer", "user-agent":
		return true
	}
	return strings.HasPrefix(k, ":")
}

// neverSent recognises grpc-go's messages for a call that found no
// connection to send on: a dial that failed, an address that resolved to
// nothing, endpoints all out of rotation by their health checks.
func neverSent(msg string) bool {
	for _, m := range []string{"Error while dialing", "connection refused", "produced zero addresses", "no such host",
		"health check failed"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

package thrift

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Options configure one Thrift backend.
type Options struct {
	Endpoints []string // host:port, called round robin
	Protocol  string   // "binary" (default) or "compact"
	Transport string   // "framed" (default) or "buffered"
	// Multiplexed says the server runs a TMultiplexedProcessor: method
	// names on the wire are "Service:method" (the Transcoder adds the prefix,
	// from Binding.ServiceName) and replies may carry the bare name.
	Multiplexed bool
	// ConnectTimeout bounds a TCP connect, within the call's deadline;
	// 0 means 2s.
	ConnectTimeout time.Duration
	// PoolSize bounds the connections to each endpoint, busy and idle; a
	// call waits (within its deadline) for one to be free. 0 means 16.
	PoolSize int
	// MaxMessageBytes bounds a reply: its frame, or the whole message when
	// buffered, and so every string, binary and container in it. 0 means
	// 16 MiB.
	MaxMessageBytes int
	// Health, when set, checks every endpoint until Close.
	Health *HealthCheck
	// Log, when set, hears of endpoints turning unhealthy and back.
	Log *slog.Logger
}

const (
	defaultConnectTimeout = 2 * time.Second
	defaultPoolSize       = 16
	// defaultCallTimeout is the deadline of a call whose context has none:
	// every read and write on a connection has a deadline, so that a
	// server that accepts and never answers cannot hold a connection and
	// a goroutine forever.
	defaultCallTimeout = 30 * time.Second
	// maxIdle retires a pooled connection unused for this long: NATs and
	// firewalls drop idle flows without telling either end, and a call on
	// such a connection would wait for its whole deadline.
	maxIdle = 60 * time.Second
	// downFor is how long an endpoint that refused a connection is passed
	// over while another endpoint is up.
	downFor = time.Second
)

// Backend is a Thrift backend: a bounded pool of connections per endpoint,
// each carrying one call at a time. It implements translate.Backend.
type Backend struct {
	name           string
	compact        bool
	framed         bool
	multiplexed    bool
	maxMsg         int
	connectTimeout time.Duration
	callTimeout    time.Duration // for calls whose context has no deadline
	endpoints      []*endpoint
	next           atomic.Uint64
	closed         atomic.Bool
	health         *HealthCheck // nil: no checks
	log            *slog.Logger
	stopChecks     context.CancelFunc
	checkers       sync.WaitGroup
}

var _ translate.Backend = (*Backend)(nil)

type endpoint struct {
	addr string
	// slots holds a token per call using a connection. A connection is
	// made only when none is idle, so open connections never outnumber
	// the tokens: the pool's bound.
	slots     chan struct{}
	mu        sync.Mutex
	idle      []*conn // most recently used last
	open      map[*conn]struct{}
	downUntil atomic.Int64 // unix nanoseconds
	// failing is set while the health check fails, and reason says why;
	// an endpoint is healthy until a check says otherwise, so a gateway
	// serves at once.
	failing atomic.Bool
	reason  atomic.Pointer[string]
}

// up reports whether ep should take calls while another endpoint is up.
func (ep *endpoint) up(now int64) bool {
	return ep.downUntil.Load() <= now && !ep.failing.Load()
}

type conn struct {
	nc  net.Conn
	br  *bufio.Reader
	seq int32
	// rc is nc's raw connection, for the liveness check; nil where there
	// is none (the check then passes).
	rc        syscall.RawConn
	wbuf      []byte
	idleSince time.Time
	// deadline is the one set on nc: a call sets its own only when it
	// differs, and an expired one is cleared before the liveness check.
	deadline time.Time
}

func newConn(nc net.Conn) *conn {
	c := &conn{nc: nc, br: bufio.NewReader(nc)}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	return c
}

// Dial checks the options and builds the pool. It does not connect:
// connections are made on demand, so a gateway starts while a backend is
// down. Health checks, when asked for, start here and stop in Close.
func Dial(name string, opts Options) (*Backend, error) {
	if len(opts.Endpoints) == 0 {
		return nil, fmt.Errorf("backend %s: no endpoints", name)
	}
	p, err := parseProtocol(opts.Protocol)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	t, err := parseTransport(opts.Transport)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	if opts.PoolSize < 0 || opts.ConnectTimeout < 0 || opts.MaxMessageBytes < 0 || opts.MaxMessageBytes > maxMessageLimit {
		return nil, fmt.Errorf("backend %s: pool size, connect timeout and max message bytes must be positive (or 0 for the default)", name)
	}
	b := &Backend{
		name:           name,
		compact:        p == protoCompact,
		framed:         t == transportFramed,
		multiplexed:    opts.Multiplexed,
		maxMsg:         cmpOr(opts.MaxMessageBytes, DefaultMaxMessageBytes),
		connectTimeout: cmpOr(opts.ConnectTimeout, defaultConnectTimeout),
		callTimeout:    defaultCallTimeout,
		log:            opts.Log,
	}
	if opts.Health != nil {
		h, err := opts.Health.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("backend %s: %w", name, err)
		}
		b.health = &h
	}
	pool := cmpOr(opts.PoolSize, defaultPoolSize)
	for _, ep := range opts.Endpoints {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			return nil, fmt.Errorf("backend %s: endpoint %q: want host:port", name, ep)
		}
		b.endpoints = append(b.endpoints, &endpoint{addr: ep, slots: make(chan struct{}, pool), open: map[*conn]struct{}{}})
	}
	if b.health != nil {
		b.startChecks()
	}
	return b, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Endpoints are the backend's host:port addresses, for checks that dial
// them (validate --dial).
func (b *Backend) Endpoints() []string {
	eps := make([]string, len(b.endpoints))
	for i, ep := range b.endpoints {
		eps[i] = ep.addr
	}
	return eps
}

// Protocol is the protocol the backend speaks, "binary" or "compact": the
// one its targets must encode in.
func (b *Backend) Protocol() string {
	if b.compact {
		return "compact"
	}
	return "binary"
}

// callError says at which step a call failed, which decides its status.
type callError struct {
	step step
	err  error
}

type step int

const (
	stepWait    step = iota // waiting for a free connection
	stepDial                // connecting: nothing was sent
	stepSend                // writing the request
	stepReceive             // reading the reply: the connection failed
	stepReply               // the reply made no sense or broke a limit
)

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// Invoke sends call.Body, the encoded args struct, as a CALL (or ONEWAY)
// message and returns the reply's result struct. It does not retry.
func (b *Backend) Invoke(ctx context.Context, call *translate.Call) (*translate.Reply, error) {
	if b.closed.Load() {
		return nil, &translate.Error{Code: codes.Unavailable, Message: "backend " + b.name + " is closed"}
	}
	if call.Delivery != translate.DeliveryReply && call.Delivery != translate.DeliveryOneway {
		return nil, &translate.Error{Code: codes.Unimplemented, Message: "backend " + b.name + ": Thrift has no acknowledged delivery"}
	}
	if b.multiplexed && !strings.Contains(call.Method, ":") {
		return nil, &translate.Error{Code: codes.Internal, Message: "backend " + b.name + " is multiplexed but the route names no service",
			Cause: fmt.Errorf("method %q has no \"Service:\" prefix", call.Method)}
	}
	// Without a deadline on ctx the call gets the backend's own. It goes on
	// the connection, not into a context of its own: the context is only
	// watched for cancellation.
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(b.callTimeout)
	}
	ep := b.pick(ctx)
	c, err := b.acquire(ctx, ep, deadline)
	if err != nil {
		e := b.mapError(ctx, deadline, err)
		e.Endpoint = ep.addr
		return nil, e
	}
	reply, reusable, err := b.roundTrip(ctx, c, call, deadline)
	if err != nil {
		ep.discard(c)
		e := b.mapError(ctx, deadline, err)
		e.Endpoint = ep.addr
		return nil, e
	}
	reply.Endpoint = ep.addr
	if reusable {
		b.release(ep, c)
	} else {
		ep.discard(c)
	}
	return reply, nil
}

// pick chooses an endpoint round robin, passing over those that recently
// refused a connection or fail their health check while any other is up,
// and offers them in that order to the attempt's chooser
// (translate.Choose), which may refuse some.
func (b *Backend) pick(ctx context.Context) *endpoint {
	eps := b.endpoints
	n := len(eps)
	start := int(b.next.Add(1) % uint64(n))
	if n == 1 {
		translate.Choose(ctx, 1, 0, func(int) string { return eps[0].addr })
		return eps[0]
	}
	now := time.Now().UnixNano()
	// On the stack for the usual few endpoints: pick is on every call.
	var buf [8]*endpoint
	up := buf[:0]
	for i := range n {
		if ep := eps[(start+i)%n]; ep.up(now) {
			up = append(up, ep)
		}
	}
	if len(up) == 0 {
		// Every endpoint fails its health check or refused a connection:
		// try those that did not refuse one, before those that did.
		for i := range n {
			if ep := eps[(start+i)%n]; ep.downUntil.Load() <= now {
				up = append(up, ep)
			}
		}
	}
	if len(up) == 0 {
		return eps[translate.Choose(ctx, n, start, func(i int) string { return eps[i].addr })]
	}
	return up[translate.Choose(ctx, len(up), 0, func(i int) string { return up[i].addr })]
}

// acquire takes a connection slot, waiting within the deadline, and then
// an idle connection that is still good, or a new one.
func (b *Backend) acquire(ctx context.Context, ep *endpoint, deadline time.Time) (*conn, error) {
	select {
	case ep.slots <- struct{}{}:
	default:
		t := time.NewTimer(time.Until(deadline))
		select {
		case ep.slots <- struct{}{}:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, &callError{stepWait, fmt.Errorf("all %d connections to %s busy: %w", cap(ep.slots), ep.addr, ctx.Err())}
		case <-t.C:
			return nil, &callError{stepWait, fmt.Errorf("all %d connections to %s busy: %w", cap(ep.slots), ep.addr, context.DeadlineExceeded)}
		}
	}
	for {
		ep.mu.Lock()
		var c *conn
		if n := len(ep.idle); n > 0 {
			c = ep.idle[n-1]
			ep.idle = ep.idle[:n-1]
		}
		ep.mu.Unlock()
		if c == nil {
			break
		}
		if time.Since(c.idleSince) < maxIdle && c.br.Buffered() == 0 && c.alive() {
			return c, nil
		}
		ep.close(c)
	}
	d := net.Dialer{Timeout: b.connectTimeout, Deadline: deadline}
	nc, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		<-ep.slots
		if ctx.Err() == nil && time.Now().Before(deadline) {
			ep.downUntil.Store(time.Now().Add(downFor).UnixNano())
		}
		return nil, &callError{stepDial, err}
	}
	c := newConn(nc)
	ep.mu.Lock()
	ep.open[c] = struct{}{}
	closed := b.closed.Load()
	ep.mu.Unlock()
	if closed {
		ep.discard(c)
		return nil, &callError{stepDial, errors.New("backend closed")}
	}
	ep.downUntil.Store(0)
	return c, nil
}

// release returns a connection to the idle list. Idle connections are
// reused last in, first out, which keeps the fewest warm; those at the
// bottom that have waited past maxIdle are closed here, or a burst would
// leave them open for good.
func (b *Backend) release(ep *endpoint, c *conn) {
	now := time.Now()
	c.idleSince = now
	ep.mu.Lock()
	if b.closed.Load() {
		ep.mu.Unlock()
		ep.discard(c)
		return
	}
	var expired []*conn
	for len(ep.idle) > 0 && now.Sub(ep.idle[0].idleSince) >= maxIdle {
		expired = append(expired, ep.idle[0])
		ep.idle = ep.idle[1:]
	}
	ep.idle = append(ep.idle, c)
	ep.mu.Unlock()
	<-ep.slots
	for _, old := range expired {
		ep.close(old)
	}
}

// discard closes a connection that carried a call and frees its slot.
func (ep *endpoint) discard(c *conn) {
	ep.close(c)
	<-ep.slots
}

func (ep *endpoint) close(c *conn) {
	ep.mu.Lock()
	delete(ep.open, c)
	ep.mu.Unlock()
	_ = c.nc.Close()
}

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads
// and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes the call and reads its reply on c. The context's
// deadline becomes the connection's, and cancelling the context moves the
// deadline to the past, so no read or write outlives the call. reusable is
// false when that cancellation has started: it may still be about to set
// a past deadline, which must not land on the connection's next call.
func (b *Backend) roundTrip(ctx context.Context, c *conn, call *translate.Call, deadline time.Time) (_ *translate.Reply, reusable bool, _ error) {
	if !deadline.Equal(c.deadline) {
		if err := c.nc.SetDeadline(deadline); err != nil {
			return nil, false, &callError{stepSend, err}
		}
		c.deadline = deadline
	}
	var stop func() bool
	if ctx.Done() != nil { // a context that can never be cancelled needs no watch
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	reply, err := b.exchange(c, call)
	if stop != nil && !stop() {
		reusable = false
	} else {
		// After a oneway call the server may still answer (an EXCEPTION
		// for a method it does not know): that stray reply would be read
		// as the next call's. Such a connection is not reused.
		reusable = err == nil && call.Delivery != translate.DeliveryOneway
	}
	// The call's deadline stays on the connection while it is idle: the
	// next call sets its own, and acquire clears one that expired
	// before the liveness check, which it would fail.
	return reply, reusable, err
}

// exchange writes one message and reads the answer.
func (b *Backend) exchange(c *conn, call *translate.Call) (*translate.Reply, error) {

	c.seq++
	if c.seq <= 0 {
		c.seq = 1
	}
	typ := Call
	if call.Delivery == translate.DeliveryOneway {
		// C++ and Java send ONEWAY; Apache's Go client sends CALL, which
		// a server may answer. ONEWAY is what the protocol means.
		typ = Oneway
	}
	c.wbuf = appendMessage(c.wbuf[:0], b.compact, b.framed, call.Method, typ, c.seq, call.Body)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return nil, &callError{stepSend, err}
	}
	if len(c.wbuf) > 64<<10 {
		c.wbuf = nil // do not keep a large request's buffer in the pool
	}
	if typ == Oneway {
		return &translate.Reply{}, nil
	}
	msg, err := readMessage(c.br, b.compact, b.framed, b.maxMsg, nil, call.Method)
	if err != nil {
		var ioe *ioError
		if errors.As(err, &ioe) {
			return nil, &callError{stepReceive, ioe.err}
		}
		return nil, &callError{stepReply, err}
	}
	if msg.SeqID != c.seq {
		return nil, &callError{stepReply, fmt.Errorf("reply has sequence id %d, want %d", msg.SeqID, c.seq)}
	}
	if !b.replyName(msg.Name, call.Method) {
		return nil, &callError{stepReply, fmt.Errorf("reply is for method %q, want %q", msg.Name, call.Method)}
	}
	switch msg.Type {
	case Reply:
		return &translate.Reply{Body: msg.Body}, nil
	case Exception:
		ae, err := decodeAppException(msg.Body, b.compact)
		if err != nil {
			return nil, &callError{stepReply, fmt.Errorf("TApplicationException: %w", err)}
		}
		return nil, ae
	}
	return nil, &callError{stepReply, fmt.Errorf("unexpected %s message in reply", msg.Type)}
}

// replyName accepts the name sent, and for a multiplexed call the bare
// method name: TMultiplexedProcessor strips the service before the
// service's processor writes the reply.
func (b *Backend) replyName(got, sent string) bool {
	if got == sent {
		return true
	}
	if _, bare, ok := strings.Cut(sent, ":"); ok && b.multiplexed {
		return got == bare
	}
	return false
}

// mapError turns a failed call into the gateway's error. Messages name the
// backend, never an address: the address and the underlying error are the
// Cause, for logs.
//
//	waiting for a connection past the deadline   DEADLINE_EXCEEDED  504
//	any step, the call's deadline passed           DEADLINE_EXCEEDED  504
//	any step, the client went away                 CANCELLED          499
//	connect refused or timed out                   UNAVAILABLE        503
//	writing the request failed                     UNAVAILABLE        503
//	the connection failed before the reply ended   UNAVAILABLE        502
//	the reply is malformed, over a limit, or has
//	  the wrong sequence id, name or message type  INTERNAL           502
//	TApplicationException                          see appError
func (b *Backend) mapError(ctx context.Context, deadline time.Time, err error) *translate.Error {
	var ae *ApplicationException
	if errors.As(err, &ae) {
		return b.appError(ae)
	}
	var ce *callError
	if !errors.As(err, &ce) {
		return translate.FromError(err)
	}
	e := &translate.Error{Cause: err,
		// Nothing was written before a connection was ours: the server
		// never saw the call.
		Retryable:  ce.step == stepWait || ce.step == stepDial,
		FromServer: ce.step == stepReply}
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		e.Code, e.Message = codes.Canceled, "request cancelled"
	case ctx.Err() != nil || ce.step != stepDial && isTimeout(err) || !time.Now().Before(deadline):
		e.Code, e.Message = codes.DeadlineExceeded, "backend "+b.name+" did not answer in time"
	case ce.step == stepDial || ce.step == stepSend:
		e.Code, e.Message = codes.Unavailable, "backend "+b.name+" is unavailable"
	case ce.step == stepReceive:
		e.Code, e.Reason = codes.Unavailable, translate.ReasonBadGateway
		e.Message = "backend " + b.name + " closed the connection before replying"
	default:
		e.Code, e.Reason = codes.Internal, translate.ReasonBadGateway
		e.Message = "backend " + b.name + " sent an invalid reply"
	}
	return e
}

// appError maps a TApplicationException. The server's message is passed
// on, as a gRPC backend's status message is.
//
//	UNKNOWN_METHOD             UNIMPLEMENTED     501
//	VALIDATION_FAILED          INVALID_ARGUMENT  400
//	INTERNAL_ERROR             INTERNAL          502
//	the other protocol errors  INTERNAL          502
//	UNKNOWN and anything else  UNKNOWN           502
func (b *Backend) appError(ae *ApplicationException) *translate.Error {
	// The server's processor answered: the transport worked.
	e := &translate.Error{Cause: ae, Application: true, FromServer: true}
	switch ae.Type {
	case AppExUnknownMethod:
		e.Code = codes.Unimplemented
		e.Message = "backend " + b.name + " does not implement the method"
	case AppExValidationFailed:
		e.Code = codes.InvalidArgument
		e.Message = "backend " + b.name + " rejected the request"
	case AppExInvalidMessageType, AppExWrongMethodName, AppExBadSequenceID, AppExMissingResult,
		AppExInternalError, AppExProtocolError, AppExInvalidTransform, AppExInvalidProtocol, AppExUnsupportedClient:
		e.Code, e.Reason = codes.Internal, translate.ReasonBadGateway
		e.Message = "backend " + b.name + " failed (" + AppExceptionName(ae.Type) + ")"
	default:
		e.Code, e.Reason = codes.Unknown, translate.ReasonBadGateway
		e.Message = "backend " + b.name + " failed (" + AppExceptionName(ae.Type) + ")"
	}
	// The server's own text may carry its internals (Apache's generated
	// processors send "Internal error processing x: <handler error>"): it
	// reaches clients only when it is about their request; it stays in the
	// log otherwise.
	if ae.Message != "" && (ae.Type == AppExValidationFailed || ae.Type == AppExUnknownMethod) {
		msg := ae.Message
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		e.Message += ": " + strings.ToValidUTF8(msg, "?")
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Close closes every connection, idle or busy, and stops the health
// checks, waiting for them; calls in flight fail.
func (b *Backend) Close() error {
	b.closed.Store(true)
	if b.stopChecks != nil {
		b.stopChecks()
		b.checkers.Wait()
	}
	for _, ep := range b.endpoints {
		ep.mu.Lock()
		for c := range ep.open {
			_ = c.nc.Close()
		}
		ep.idle = nil
		clear(ep.open)
		ep.mu.Unlock()
	}
	return nil
}

// alive reports whether a pooled connection can still be used: the peer
// has not closed it and sent nothing unasked. The check is a non-blocking
// read where the platform allows it (see conncheck_unix.go).
func (c *conn) alive() bool {
	if c.rc == nil {
		return true
	}
	if !c.deadline.IsZero() {
		// The last call's deadline, left on the connection: once passed,
		// the read would fail on it rather than on the socket.
		if time.Now().Before(c.deadline) {
			return connAlive(c.rc)
		}
		if c.nc.SetDeadline(time.Time{}) != nil {
			return false
		}
		c.deadline = time.Time{}
	}
	return connAlive(c.rc)
}

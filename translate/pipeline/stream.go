package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/resilience"
	"github.com/switchboard-gw/switchboard/translate/stream"
)

// StreamLimits bound a streaming route.
type StreamLimits struct {
	// MaxDuration ends a stream, however busy, after this long.
	MaxDuration time.Duration
	// IdleTimeout ends a stream in which no message went either way for
	// this long; it also bounds each write to a client that stopped
	// reading.
	IdleTimeout time.Duration
	// KeepAlive is how often an idle Server-Sent Events stream gets a
	// comment, and a WebSocket a ping, so that proxies keep it open and a
	// dead peer is noticed.
	KeepAlive time.Duration
	// MaxMessageBytes bounds one message from the client (an NDJSON line,
	// a WebSocket frame).
	MaxMessageBytes int
	// MaxUploadBytes bounds all of a client stream's body; 0 is none.
	MaxUploadBytes int64
}

// Stream limit defaults.
const (
	DefaultStreamMaxDuration = time.Hour
	DefaultStreamIdleTimeout = 5 * time.Minute
	DefaultStreamKeepAlive   = 15 * time.Second
	DefaultStreamMaxMessage  = 4 << 20
)

func (l StreamLimits) withDefaults() StreamLimits {
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultStreamMaxDuration
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultStreamIdleTimeout
	}
	if l.KeepAlive <= 0 {
		l.KeepAlive = DefaultStreamKeepAlive
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultStreamMaxMessage
	}
	return l
}

// headWait is how long a server stream's response head waits for the
// first message: long enough for a stream that fails at once to answer
// with its own status, short enough for a client of a quiet stream.
const headWait = time.Second

var (
	errMaxDuration = errors.New("the stream reached its maximum duration")
	errIdle        = errors.New("the stream was idle too long")
	errShutdown    = errors.New("the gateway is shutting down")
)

type drainKey struct{}

// WithDrain returns ctx carrying drain, whose end ends every stream served
// under it: a gateway shutting down cannot wait for streams to finish on
// their own.
func WithDrain(ctx, drain context.Context) context.Context {
	return context.WithValue(ctx, drainKey{}, drain)
}

// streamCall is one stream being served: its context, the backend's
// stream, and what the access log and metrics learn of it.
type streamCall struct {
	t        *Target
	ctx      context.Context
	cancel   context.CancelCauseFunc
	s        *resilience.Stream
	req      translate.Request
	limits   StreamLimits
	idle     *time.Timer
	maxEnd   time.Time // when MaxDuration ends the stream
	undrain  func() bool
	r        *http.Request
	counters *observability.StreamCounters
	info     *observability.Info
	framing  string
	// in and out count messages each way; a WebSocket's two directions
	// run on two goroutines.
	in, out atomic.Int64
}

// limitEnded reports whether the gateway ended the stream: a shutdown or
// one of the route's limits (not the client, nor an error of its own).
func (c *streamCall) limitEnded() bool {
	cause := context.Cause(c.ctx)
	return errors.Is(cause, errShutdown) || errors.Is(cause, errMaxDuration) || errors.Is(cause, errIdle)
}

// touch restarts the idle clock: a message went one way or the other.
func (c *streamCall) touch() { c.idle.Reset(c.limits.IdleTimeout) }

func (c *streamCall) sent() {
	c.in.Add(1)
	c.counters.In()
	c.touch()
}

func (c *streamCall) received() {
	c.out.Add(1)
	c.counters.Out()
	c.touch()
}

// ended says how a stream ended: the route's own limits, the client
// going away, or what the backend said.
func (c *streamCall) ended(err error) *translate.Error {
	switch cause := context.Cause(c.ctx); {
	// The backend has the same deadline (gRPC passes it on) and may end
	// the stream a moment before the gateway's own timer says why.
	case errors.Is(cause, errMaxDuration) || !time.Now().Before(c.maxEnd) && translate.FromError(err).Code != codes.OK:
		return &translate.Error{Code: codes.DeadlineExceeded, Cause: err,
			Message: fmt.Sprintf("the stream reached its maximum duration of %s", c.limits.MaxDuration)}
	case errors.Is(cause, errIdle):
		return &translate.Error{Code: codes.DeadlineExceeded, Cause: err,
			Message: fmt.Sprintf("no message for %s: the stream was idle too long", c.limits.IdleTimeout)}
	case errors.Is(cause, errShutdown):
		return &translate.Error{Code: codes.Unavailable, Cause: err, Message: "the gateway is shutting down: reconnect"}
	}
	var ce clientError
	if errors.As(context.Cause(c.ctx), &ce) {
		var te *translate.Error
		if errors.As(ce.err, &te) {
			return te
		}
	}
	return translate.FromError(err)
}

// serveStream serves a streaming route: a WebSocket when the client asks
// for one (required both ways at once), else the HTTP framing of the
// client's choice for a server's stream, or an NDJSON body for a client's.
func (t *Target) serveStream(w http.ResponseWriter, r *http.Request, params routes.Params) {
	kind := t.stream.Kind()
	websocket := isWebSocket(r)
	var framing stream.Framing
	switch {
	case websocket:
		// Before the backend hears of it: a refused page must not start
		// the method with a visitor's credentials.
		if !t.originAllowed(r) {
			translate.Fail(w, r, &translate.Error{Code: codes.PermissionDenied,
				Message: "this origin may not open a WebSocket on this route"}, t.resolver)
			return
		}
	case kind == translate.BidiStream:
		w.Header().Set("Upgrade", "websocket")
		translate.Fail(w, r, translate.Refuse(translate.ReasonUpgradeRequired,
			"this route streams both ways: connect with a WebSocket (Upgrade: websocket)"), t.resolver)
		return
	case kind.ServerSends():
		f, ok := stream.Negotiate(r.Header.Values("Accept"))
		if !ok {
			translate.Fail(w, r, translate.Refuse(translate.ReasonNotAcceptable,
				"this route streams application/x-ndjson, text/event-stream or application/json, which the Accept header %q excludes",
				truncate(strings.Join(r.Header.Values("Accept"), ", "))), t.resolver)
			return
		}
		framing = f
	default: // a client's stream, one JSON reply
		if !AcceptsJSON(r.Header.Values("Accept")) {
			translate.Fail(w, r, translate.Refuse(translate.ReasonNotAcceptable,
				"this route replies with application/json, which the Accept header %q excludes", truncate(strings.Join(r.Header.Values("Accept"), ", "))), t.resolver)
			return
		}
		if ct := r.Header.Get("Content-Type"); !translate.IsNDJSONMediaType(ct) {
			translate.Fail(w, r, translate.Refuse(translate.ReasonUnsupportedMediaType,
				"unsupported Content-Type %s: send the stream as application/x-ndjson, one JSON message a line", strconv.Quote(ct)), t.resolver)
			return
		}
	}
	c, err := t.openStream(r, params, kind)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	defer c.close()
	switch {
	case websocket:
		c.framing = "websocket"
		c.serveWebSocket(w, r, kind)
	case kind == translate.ClientStream:
		c.framing = "ndjson"
		c.upload(w, r)
	default:
		c.framing = framing.String()
		c.download(w, r, framing)
	}
}

// openStream settles the stream's context (the route's limits, the
// client's deadline), builds its call and opens it at the backend.
func (t *Target) openStream(r *http.Request, params routes.Params, kind translate.StreamKind) (*streamCall, error) {
	var req translate.Request
	if err := t.request(r, params, &req); err != nil {
		return nil, err
	}
	if _, _, err := ClientTimeout(r.Header); err != nil {
		return nil, err
	}
	call := &translate.Call{}
	if err := t.call(r, &req, call); err != nil {
		return nil, err
	}
	limits := t.opts.Stream.withDefaults()
	ctx, cancel := context.WithCancelCause(r.Context())
	ctx, stop := context.WithTimeoutCause(ctx, limits.MaxDuration, errMaxDuration)
	if d, limited, _ := ClientTimeout(r.Header); limited {
		// A client may end its own stream sooner.
		var stop2 context.CancelFunc
		ctx, stop2 = withTimeout(ctx, d)
		prev := stop
		stop = func() { stop2(); prev() }
	}
	c := &streamCall{t: t, ctx: ctx, req: req, limits: limits, info: observability.FromContext(r.Context()), r: r,
		maxEnd: time.Now().Add(limits.MaxDuration)}
	c.cancel = func(cause error) {
		cancel(cause)
		stop()
	}
	c.idle = time.AfterFunc(limits.IdleTimeout, func() { cancel(errIdle) })
	c.undrain = func() bool { return false }
	if drain, ok := r.Context().Value(drainKey{}).(context.Context); ok {
		c.undrain = context.AfterFunc(drain, func() { cancel(errShutdown) })
	}
	s, err := t.backend.OpenStream(ctx, call, kind)
	if err != nil {
		c.idle.Stop()
		c.undrain()
		c.cancel(context.Canceled)
		return nil, c.ended(err)
	}
	c.s = s
	c.info.SetUpstream(s.Endpoint(), "")
	route, backend := c.info.Route()
	c.counters = t.backend.Metrics().StreamOpened(route, backend)
	return c, nil
}

// close ends the stream at the backend (a client that went away cancels
// it at once) and gives back its slot.
func (c *streamCall) close() {
	c.idle.Stop()
	c.undrain()
	c.cancel(context.Canceled)
	c.s.Close()
	c.counters.Closed()
	c.info.SetStream(c.framing, int(c.in.Load()), int(c.out.Load()))
}

// fail records how a stream ended for the access log and returns the
// status body a framing writes.
func (c *streamCall) fail(err error) []byte {
	e := c.ended(err)
	c.info.SetError(e.Code.String(), e)
	c.info.SetUpstream(e.Endpoint, "")
	return translate.MarshalStatus(e, e.Details, c.t.resolver, requestInfo(c.info.ID)...)
}

// download writes the backend's stream in framing, each message flushed
// as it comes; the next is read only once the client took this one, so
// a slow client slows the backend (gRPC's flow control) instead of
// filling the gateway's memory.
func (c *streamCall) download(w http.ResponseWriter, r *http.Request, framing stream.Framing) {
	// One reader ahead of the writer: a message that is already there
	// when the last was written joins it in one write to the client
	// (flushed once the reader has nothing more), while at most one waits
	// here, so a slow client still slows the backend.
	type recv struct {
		msg translate.StreamMessage
		err error
	}
	msgs := make(chan recv, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			m, err := c.s.Recv()
			msgs <- recv{m, err}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		// End the backend's stream, and let the reader deliver its last.
		c.cancel(context.Canceled)
		for {
			select {
			case <-msgs:
			case <-readerDone:
				return
			}
		}
	}()
	// Wait a moment for the first message, so that a stream that fails at
	// once gets an ordinary error response with its status; a quiet one
	// (a subscription) gets its response head then, so the client knows
	// it is connected.
	var first recv
	early := false
	select {
	case first = <-msgs:
	case <-time.After(headWait):
		early = true
	}
	if !early && first.err != nil && !errors.Is(first.err, io.EOF) {
		// Nothing sent yet: an ordinary error response, with its status.
		translate.Fail(w, r, c.ended(first.err), c.t.resolver)
		return
	}
	h := w.Header()
	if !early {
		// Once the head has gone (a quiet stream), the backend's
		// headers can only come as trailers.
		if md, herr := c.s.Header(); herr == nil {
			c.metadataTo(h, md)
		}
	}
	h.Add("Vary", "Accept") // the framing depends on it
	rc := http.NewResponseController(w)
	// The server's write timeout is for replies, not streams: each write
	// is bounded by the idle timeout instead.
	_ = rc.SetWriteDeadline(time.Time{})
	wr := stream.NewWriter(w, framing)
	wr.Start()
	wr.Hold(true)
	stopKeepAlive := c.keepAlive(func() error {
		_ = rc.SetWriteDeadline(time.Now().Add(c.limits.IdleTimeout))
		return wr.Ping()
	}, framing == stream.SSE)
	defer stopKeepAlive()
	if early {
		first = <-msgs
	}
	next := first
	for next.err == nil {
		js, derr := c.t.stream.DecodeMessage(next.msg)
		if derr != nil {
			next.err = derr
			break
		}
		_ = rc.SetWriteDeadline(time.Now().Add(c.limits.IdleTimeout))
		werr := wr.Message(js, next.msg.ID)
		if werr == nil && len(msgs) == 0 {
			werr = wr.Flush()
		}
		if werr != nil {
			// The client is gone or stopped reading: end the backend's
			// stream (close cancels it).
			c.info.SetError(codes.Canceled.String(), fmt.Errorf("writing to the client: %w", werr))
			return
		}
		c.received()
		next = <-msgs
	}
	stopKeepAlive()
	_ = rc.SetWriteDeadline(time.Now().Add(c.limits.IdleTimeout))
	c.trailersTo(h)
	if errors.Is(next.err, io.EOF) {
		_ = wr.Close()
		return
	}
	_ = wr.Error(c.fail(next.err))
}

// upload sends each line of an NDJSON body as a message of the client's
// stream, reading the next only once the backend took this one, then
// writes the backend's one reply.
func (c *streamCall) upload(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	body := policy.StreamBody(w, r, c.limits.MaxUploadBytes)
	lines := stream.NewLineReader(body, c.limits.MaxMessageBytes)
	// A read of the body does not end with the stream's context: when
	// that ends (shutdown, a limit, the backend gone), so does the read.
	stopUnblock := context.AfterFunc(c.ctx, func() {
		if c.limitEnded() {
			_ = rc.SetReadDeadline(time.Now())
		}
	})
	defer stopUnblock()
	for {
		// The server's read timeout is for request heads and bodies, not
		// streams: each line must come within the idle timeout instead.
		_ = rc.SetReadDeadline(time.Now().Add(c.limits.IdleTimeout))
		line, n, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			var wire []byte
			if err = c.t.checkShape(r, line); err == nil {
				wire, err = c.t.stream.EncodeMessage(&c.req, line)
			}
			if err != nil {
				err = atLine(err, n)
			}
			if err == nil {
				if serr := c.s.Send(wire); serr != nil {
					if errors.Is(serr, io.EOF) {
						break // the backend ended the stream: its reply says how
					}
					err = serr
				} else {
					// The message is the backend's now: what it held of
					// the body budget goes back.
					policy.TabFrom(r.Context()).Close()
					c.sent()
					continue
				}
			}
		}
		// A bad line, a body too long or too slow, a failed send: the
		// backend's stream is cancelled (close) and the client told why.
		if c.limitEnded() {
			// The stream ended first (shutdown, a limit): that is why.
			err = c.ended(err)
		} else {
			err = uploadError(err)
		}
		c.cancel(context.Canceled)
		translate.Fail(w, r, err, c.t.resolver)
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	if err := c.s.CloseSend(); err != nil {
		translate.Fail(w, r, c.ended(err), c.t.resolver)
		return
	}
	msg, err := c.s.Recv()
	if err != nil {
		translate.Fail(w, r, c.ended(err), c.t.resolver)
		return
	}
	c.received()
	js, err := c.t.stream.DecodeMessage(msg)
	if err != nil {
		translate.Fail(w, r, err, c.t.resolver)
		return
	}
	h := w.Header()
	if md, herr := c.s.Header(); herr == nil {
		c.metadataTo(h, md)
	}
	// The stream is over: its trailers are known and go as headers, as
	// a unary call's do.
	c.metadataTo(h, c.s.Trailer())
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(js)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(js)
}

// uploadError maps what went wrong reading a client's stream.
func uploadError(err error) error {
	var line *stream.LineError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &line):
		return translate.BadRequest(line.Error(), translate.Violation(fmt.Sprintf("(line %d)", line.Line), line.Reason))
	case errors.As(err, &tooBig):
		return translate.Refuse(translate.ReasonBodyTooLarge, "the stream exceeds the route's limit of %d bytes", tooBig.Limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &translate.Error{Code: codes.DeadlineExceeded, Reason: translate.ReasonRequestTimeout, Cause: err,
			Message: "no line of the stream arrived within the idle timeout"}
	}
	var e *translate.Error
	if errors.As(err, &e) {
		return e
	}
	return &translate.Error{Code: codes.InvalidArgument, Cause: err, Message: "the connection failed while the stream was read"}
}

// atLine says which line of the stream a message's problem is on.
func atLine(err error, n int) error { return prefixed(err, fmt.Sprintf("line %d: ", n)) }

// atMessage says which WebSocket message of the client's a problem is in.
func atMessage(err error, n int) error { return prefixed(err, fmt.Sprintf("message %d: ", n)) }

func prefixed(err error, prefix string) error {
	e := *translate.FromError(err)
	e.Message = prefix + e.Message
	return &e
}

// metadataTo copies backend metadata to response headers under the
// route's forwarding prefix (Grpc-Metadata-*), as a unary reply's.
func (c *streamCall) metadataTo(h http.Header, md metadata.MD) {
	if f := c.t.fwd; f != nil && f.ClientPrefix != "" && len(md) > 0 {
		translate.MetadataToHeader(h, f.ClientPrefix, md, f.Reserved)
	}
}

// trailersTo sends the backend's trailers as HTTP trailers, once the
// stream's body is written.
func (c *streamCall) trailersTo(h http.Header) {
	md := c.s.Trailer()
	if len(md) == 0 || c.t.fwd == nil || c.t.fwd.ClientPrefix == "" {
		return
	}
	tr := http.Header{}
	translate.MetadataToHeader(tr, c.t.fwd.ClientPrefix, md, c.t.fwd.Reserved)
	for k, vs := range tr {
		h[http.TrailerPrefix+k] = vs
	}
}

// keepAlive calls ping every KeepAlive until the returned stop is
// called (it waits for the pinger to end); with on false it does nothing.
func (c *streamCall) keepAlive(ping func() error, on bool) (stop func()) {
	if !on {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(c.limits.KeepAlive)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-c.ctx.Done():
				return
			case <-t.C:
				if ping() != nil {
					c.cancel(context.Canceled)
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// requestInfo is the request id detail a status body ends with.
func requestInfo(id string) []*anypb.Any {
	if id == "" {
		return nil
	}
	a, err := anypb.New(&errdetails.RequestInfo{RequestId: id})
	if err != nil {
		return nil
	}
	return []*anypb.Any{a}
}

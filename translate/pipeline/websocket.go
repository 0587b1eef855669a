package pipeline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/translate"
)

// A WebSocket carries any stream, and is the only way to stream both
// ways: one JSON message per text frame each way. An empty text frame
// from the client ends its side (the backend's stream is half-closed)
// while the backend's replies keep coming. The stream's end is the
// socket's close: 1000 when it ended well; otherwise a last text frame
// {"error": STATUS} (the same status body as any error) and the close
// code 4000 plus the gRPC code (4014 for UNAVAILABLE), the message as its
// reason.

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// clientError is the cause a stream is cancelled with when the client's
// side broke it (a message that does not encode, a binary frame).
type clientError struct{ err error }

func (e clientError) Error() string { return e.err.Error() }

// originAllowed: a browser may open a WebSocket from an origin the
// route's CORS policy allows or, without one, only from the gateway's own
// origin (a WebSocket is not subject to CORS: without this check any page
// could use a visitor's cookies on it). Clients that send no Origin are
// not browsers.
func (t *Target) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if allowed, configured := t.chain.AllowsOrigin(origin); configured {
		return allowed
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func (c *streamCall) serveWebSocket(w http.ResponseWriter, r *http.Request, kind translate.StreamKind) {
	// The server's timeouts are for requests: a socket's reads and writes
	// are bounded by the stream's own limits.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Checked above, against the route's CORS policy.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		c.info.SetError(codes.InvalidArgument.String(), err) // Accept answered the client
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(int64(c.limits.MaxMessageBytes))
	// Reads have a context of their own: coder/websocket closes the
	// connection when a read's context ends, and the stream's own end (a
	// limit, a bad message) must still be told in a last frame and a
	// close code.
	readCtx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	read := make(chan struct{})
	go func() {
		defer close(read)
		c.receiveFrames(readCtx, conn, kind)
	}()
	stop := c.keepAlive(func() error {
		ctx, cancel := context.WithTimeout(c.ctx, c.limits.IdleTimeout)
		defer cancel()
		return conn.Ping(ctx)
	}, true)
	var end error
	for {
		msg, err := c.s.Recv()
		if err != nil {
			end = err
			break
		}
		js, err := c.t.stream.DecodeMessage(msg)
		if err != nil {
			end = err
			break
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.limits.IdleTimeout)
		err = conn.Write(ctx, websocket.MessageText, js)
		cancel()
		if err != nil {
			end = clientError{err}
			break
		}
		c.received()
	}
	stop()
	c.closeSocket(conn, end)
	c.cancel(context.Canceled)
	stopReading()
	<-read
}

// closeSocket ends the socket as the stream ended.
func (c *streamCall) closeSocket(conn *websocket.Conn, end error) {
	if errors.Is(end, io.EOF) {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return
	}
	var ce clientError
	if errors.As(end, &ce) || errors.As(context.Cause(c.ctx), &ce) {
		var te *translate.Error
		if !errors.As(ce.err, &te) {
			// The client closed the socket, or it broke: nobody to tell.
			c.info.SetError(codes.Canceled.String(), ce.err)
			return
		}
		end = te // a message of the client's the stream could not take
	}
	e := c.ended(end)
	status := c.fail(end)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	frame := append(append([]byte(`{"error":`), status...), '}')
	_ = conn.Write(ctx, websocket.MessageText, frame)
	code := websocket.StatusCode(4000 + int(e.Code))
	if errors.Is(context.Cause(c.ctx), errShutdown) {
		code = websocket.StatusGoingAway
	}
	_ = conn.Close(code, closeReason(e.Message))
}

// closeReason fits a message in a close frame's 123 bytes, on a rune
// boundary.
func closeReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// receiveFrames sends each text frame the client sends as a message of
// its stream, until the client closes the socket or the stream ends.
func (c *streamCall) receiveFrames(ctx context.Context, conn *websocket.Conn, kind translate.StreamKind) {
	halfClosed := !kind.ClientSends()
	tab := policy.TabFrom(c.r.Context())
	for {
		typ, data, err := readFrame(ctx, conn, tab)
		if err != nil {
			var te *translate.Error
			if errors.As(err, &te) {
				// The body budget is spent: the message cannot be held.
				c.cancel(clientError{te})
				return
			}
			if c.ctx.Err() == nil {
				// The client closed the socket, or it broke: the
				// stream ends with it.
				c.cancel(clientError{err})
			}
			return
		}
		switch {
		case typ != websocket.MessageText:
			c.cancel(clientError{translate.BadRequest("send each message as a text frame of JSON")})
			return
		case len(data) == 0:
			// The client's side is done (or had nothing to send); the
			// backend's replies go on.
			if !halfClosed {
				halfClosed = true
				if err := c.s.CloseSend(); err != nil {
					c.cancel(clientError{err})
					return
				}
			}
			continue
		case halfClosed:
			c.cancel(clientError{translate.BadRequest("this stream takes no more messages from the client")})
			return
		}
		// A frame counts against the body budget as it arrives (readFrame),
		// and its JSON against the route's limits, until the backend has it.
		err = c.t.checkShape(c.r, data)
		var wire []byte
		if err == nil {
			wire, err = c.t.stream.EncodeMessage(&c.req, data)
		}
		if err != nil {
			c.cancel(clientError{atMessage(err, int(c.in.Load())+1)})
			return
		}
		if err := c.s.Send(wire); err != nil {
			if !errors.Is(err, io.EOF) {
				c.cancel(clientError{err})
			}
			return // io.EOF: the backend ended the stream; Recv says how
		}
		tab.Close()
		c.sent()
	}
}

// readFrame reads one message, charging the body budget as its bytes
// arrive: a message still being sent is held, and counts, too. The socket's
// read limit bounds it.
func readFrame(ctx context.Context, conn *websocket.Conn, tab *policy.Tab) (websocket.MessageType, []byte, error) {
	typ, rd, err := conn.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(policy.Meter(io.NopCloser(rd), tab))
	return typ, data, err
}

// Package framing refuses HTTP/1.x requests whose framing is ambiguous, the
// request-smuggling cases net/http lets through because it resolves them
// itself: Content-Length together with Transfer-Encoding (net/http drops
// the Content-Length and reads chunked), Transfer-Encoding in HTTP/1.0
// (net/http ignores it and reads the body as the next request), and the
// malformed heads a front end might read differently (obsolete line
// folding, whitespace before a colon, bare CR, conflicting Content-Length).
//
// A handler cannot see these: net/http has deleted the evidence by the time
// it runs. So Listener wraps each connection with a scanner that follows
// HTTP/1.1 framing over the bytes net/http reads, judging every head in
// order, and Guard, given the scanner through the request's context by
// ConnContext, refuses the Nth request on a connection if its Nth head was
// bad, or if any head before it was. A refusal is a 400 with
// "Connection: close", so nothing after it on the connection is read as a
// request. Wire all three:
//
//	srv := &http.Server{Handler: framing.Guard(h, write), ConnContext: framing.ConnContext}
//	srv.Serve(framing.Listener(lis))
//
// net/http answers OPTIONS * itself unless DisableGeneralOptionsHandler is
// set, so such a request never reaches Guard: a bad one is answered, and
// the request after it refused. Setting the option lets Guard refuse it.
//
// Every request the server reads must reach Guard, with its Method,
// RequestURI and Proto as net/http parsed them: Guard counts requests, so
// a wrapper outside it may log or measure but must always call through. A
// wrapper that answered a request itself would shift the count. Guard
// checks each request line against its head's and refuses the rest of the
// connection on a mismatch, but two identical request lines can hide a
// shift, so this is a backstop, not a licence.
//
// The scanner must see plaintext: under TLS, ConnContext gets a *tls.Conn,
// finds no scanner, and Guard passes requests through. The gateway serves
// plain HTTP/1.1.
package framing

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
)

// Listener wraps l so that every accepted conn scans the HTTP/1.x request
// heads read from it.
func Listener(l net.Listener) net.Listener { return &listener{l} }

type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, s: newScanner()}, nil
}

// conn scans what is read from it. Writes pass straight through.
type conn struct {
	net.Conn
	s *scanner
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.s.feed(p[:n])
	}
	return n, err
}

// CloseWrite keeps net/http's half-close before a lingering close, which it
// only does when the conn has the method.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for responses copied from files.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// NetConn returns the wrapped connection, as tls.Conn does.
func (c *conn) NetConn() net.Conn { return c.Conn }

type scannerKey struct{}

// ConnContext is an http.Server.ConnContext that makes the conn's scanner
// reachable from its requests. It also adopts the server's MaxHeaderBytes
// (the scanner's head bound follows it) and DisableGeneralOptionsHandler
// (whether OPTIONS * requests reach the handler, and so count).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	fc, ok := c.(*conn)
	if !ok {
		return ctx
	}
	if srv, ok := ctx.Value(http.ServerContextKey).(*http.Server); ok {
		fc.s.configure(srv)
	}
	return context.WithValue(ctx, scannerKey{}, fc.s)
}

// ConnState is an optional http.Server.ConnState that stops scanning a
// hijacked connection (a WebSocket, say), whose bytes are no longer HTTP.
func ConnState(c net.Conn, st http.ConnState) {
	if fc, ok := c.(*conn); ok && st == http.StateHijacked {
		fc.s.stop()
	}
}

// Guard refuses a request whose head was bad, or that came on a connection
// where an earlier head was, with 400 and "Connection: close", so net/http
// closes the conn after the response and reads no further request from it.
// write(w, r, err) writes the refusal and must use a 400 status; err is an
// Error (or wraps one), whose GRPCStatus is INVALID_ARGUMENT. When write is
// nil, a plain JSON {"code":3,"message":...} body is written.
//
// Requests that arrived over HTTP/2, or on a conn that did not come from
// Listener, pass through untouched: there is no HTTP/1 framing to judge.
func Guard(next http.Handler, write func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if write == nil {
		write = writeError
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := r.Context().Value(scannerKey{}).(*scanner)
		if !ok || r.ProtoMajor == 2 {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.claim(requestLine(r)); err != nil {
			w.Header().Set("Connection", "close")
			write(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError writes err as {"code":3,"message":...}, INVALID_ARGUMENT in
// the shape of a google.rpc.Status.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	msg, _ := json.Marshal(err.Error())
	body := make([]byte, 0, len(msg)+24)
	body = append(body, `{"code":3,"message":`...)
	body = append(body, msg...)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}

package thrift

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// eventTimeout bounds a wait for an event: it only turns an event that
// never comes into a failure instead of a hang, and is never slept.
const eventTimeout = 10 * time.Second

// fakeServer reads messages in framer's encoding and writes whatever reply
// returns for each; nil closes the connection. It counts connections.
func fakeServer(t *testing.T, f Framer, reply func(m *Message) []byte) (string, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	addr := rawServer(t, func(c net.Conn) {
		conns.Add(1)
		br := bufio.NewReader(c)
		for {
			m, err := f.ReadMessage(br)
			if err != nil {
				return
			}
			out := reply(m)
			if out == nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
	return addr, &conns
}

func mustFramer(t testing.TB, protocol, transport string) Framer {
	f, err := NewFramer(protocol, transport, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ping(ctx context.Context, b *Backend) (*translate.Reply, *translate.Error) {
	r, err := b.Invoke(ctx, &translate.Call{Method: "ping", Body: []byte{0}})
	if err != nil {
		return nil, translate.FromError(err)
	}
	return r, nil
}

func openConns(b *Backend) int {
	n := 0
	for _, ep := range b.endpoints {
		ep.mu.Lock()
		n += len(ep.open)
		ep.mu.Unlock()
	}
	return n
}

func checkNoAddress(t *testing.T, e *translate.Error) {
	t.Helper()
	if strings.Contains(e.Message, "127.0.0.1") || strings.Contains(e.Message, ":") && strings.Contains(e.Message, "dial") {
		t.Errorf("message shows an address: %q", e.Message)
	}
}

// TestFaults: servers that fail in every way end calls quickly with the
// documented status, the message hides the address, and the connection is
// not reused.
func TestFaults(t *testing.T) {
	t.Parallel()
	bf := mustFramer(t, "binary", "framed")
	tests := []struct {
		name      string
		transport string
		serve     func(c net.Conn)
		code      codes.Code
		status    int
	}{
		{"never replies", "framed", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, codes.DeadlineExceeded, 504},
		{"closes before replying", "framed", func(c net.Conn) { readOne(c, bf) }, codes.Unavailable, 502},
		{"closes mid-reply", "framed", func(c net.Conn) {
			m := readOne(c, bf)
			if m != nil {
				r := pingReplyBytes(bf, m)
				_, _ = c.Write(r[:len(r)-3])
			}
		}, codes.Unavailable, 502},
		{"closes mid-reply buffered", "buffered", func(c net.Conn) {
			f := mustFramer(t, "binary", "buffered")
			m := readOne(c, f)
			if m != nil {
				r := pingReplyBytes(f, m)
				_, _ = c.Write(r[:len(r)-1])
			}
		}, codes.Unavailable, 502},
		{"sends garbage", "framed", func(c net.Conn) {
			readOne(c, bf)
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_, _ = io.Copy(io.Discard, c)
		}, codes.Internal, 502},
		{"sends garbage buffered", "buffered", func(c net.Conn) {
			readOne(c, mustFramer(t, "binary", "buffered"))
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			_, _ = io.Copy(io.Discard, c)
		}, codes.Internal, 502},
		{"announces a 2 GiB frame", "framed", func(c net.Conn) {
			readOne(c, bf)
			_, _ = c.Write([]byte{0x7f, 0xff, 0xff, 0xff})
			_, _ = io.Copy(io.Discard, c)
		}, codes.Internal, 502},
		{"negative frame", "framed", func(c net.Conn) {
			readOne(c, bf)
			_, _ = c.Write([]byte{0xff, 0xff, 0xff, 0xfe})
			_, _ = io.Copy(io.Discard, c)
		}, codes.Internal, 502},
		{"wrong sequence id", "framed", func(c net.Conn) {
			if m := readOne(c, bf); m != nil {
				m.SeqID++
				_, _ = c.Write(pingReplyBytes(bf, m))
				_, _ = io.Copy(io.Discard, c)
			}
		}, codes.Internal, 502},
		{"wrong method name", "framed", func(c net.Conn) {
			if m := readOne(c, bf); m != nil {
				m.Name = "pong"
				_, _ = c.Write(pingReplyBytes(bf, m))
				_, _ = io.Copy(io.Discard, c)
			}
		}, codes.Internal, 502},
		{"replies with a CALL", "framed", func(c net.Conn) {
			if m := readOne(c, bf); m != nil {
				_, _ = c.Write(bf.AppendMessage(nil, &Message{Name: m.Name, Type: Call, SeqID: m.SeqID, Body: []byte{0}}))
				_, _ = io.Copy(io.Discard, c)
			}
		}, codes.Internal, 502},
		{"application exception", "framed", func(c net.Conn) {
			if m := readOne(c, bf); m != nil {
				_, _ = c.Write(bf.AppendApplicationException(nil, m.Name, m.SeqID, AppExInternalError, "boom"))
				_, _ = io.Copy(io.Discard, c)
			}
		}, codes.Internal, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := rawServer(t, tt.serve)
			b := dial(t, Options{Endpoints: []string{addr}, Transport: tt.transport})
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, e := ping(ctx, b)
			took := time.Since(start)
			if e == nil {
				t.Fatal("no error")
			}
			if e.Code != tt.code || e.Status() != tt.status {
				t.Errorf("got %v %d (%v), want %v %d", e.Code, e.Status(), e, tt.code, tt.status)
			}
			if took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			checkNoAddress(t, e)
			if n := openConns(b); n != 0 {
				t.Errorf("%d connections kept after the error", n)
			}
		})
	}
}

func readOne(c net.Conn, f Framer) *Message {
	m, err := f.ReadMessage(bufio.NewReader(c))
	if err != nil {
		return nil
	}
	return m
}

// pingReplyBytes answers m with "pong", without a testing.T (servers run
// on their own goroutines).
func pingReplyBytes(f Framer, m *Message) []byte {
	var e encoder
	e.compact = f.compact
	var last int16
	e.fieldHeader(tString, 0, &last)
	e.string("pong")
	e.stop()
	return f.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: e.buf})
}

// TestNeverRepliesHonoursDeadline: a server that accepts and never replies
// ends the call at its deadline, not when the server gives up, with or
// without a deadline on the context (then the backend's default applies).
func TestNeverRepliesHonoursDeadline(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	b := dial(t, Options{Endpoints: []string{addr}})
	for _, d := range []time.Duration{50 * time.Millisecond, 200 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		start := time.Now()
		_, e := ping(ctx, b)
		cancel()
		took := time.Since(start)
		if e == nil || e.Code != codes.DeadlineExceeded || e.Status() != 504 {
			t.Fatalf("got %v", e)
		}
		if took < d-20*time.Millisecond || took > d+500*time.Millisecond {
			t.Errorf("deadline %v: the call took %v", d, took)
		}
	}
	b.callTimeout = 100 * time.Millisecond
	start := time.Now()
	_, e := ping(context.Background(), b)
	if e == nil || e.Code != codes.DeadlineExceeded || time.Since(start) > time.Second {
		t.Fatalf("without a deadline: %v after %v", e, time.Since(start))
	}
}

// TestCancel: a client that goes away interrupts the read at once.
func TestCancel(t *testing.T) {
	t.Parallel()
	addr := rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	b := dial(t, Options{Endpoints: []string{addr}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, e := ping(ctx, b)
	if e == nil || e.Code != codes.Canceled || time.Since(start) > time.Second {
		t.Fatalf("got %v after %v", e, time.Since(start))
	}
}

// TestHostileLengthsAllocateLittle: a frame announced at 2 GiB, or at the
// limit and never sent, and a 2^31-element list in a reply, are refused
// without allocating what they announce.
func TestHostileLengthsAllocateLittle(t *testing.T) {
	// Not parallel: the measurement counts every allocation in the process.
	tests := []struct {
		name  string
		limit int
		reply func(f Framer, m *Message) []byte
	}{
		{"2 GiB frame", 0, func(Framer, *Message) []byte { return []byte{0x7f, 0xff, 0xff, 0xff} }},
		{"frame at the limit, never sent", 15 << 20, func(Framer, *Message) []byte { return []byte{0x00, 0xf0, 0, 0, 1, 2, 3} }},
		{"2^31 list", 0, func(f Framer, m *Message) []byte {
			body := []byte{byte(tList), 0, 0, byte(tI64), 0x7f, 0xff, 0xff, 0xff, 0}
			return f.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: body})
		}},
		{"2 GiB string", 0, func(f Framer, m *Message) []byte {
			body := []byte{byte(tString), 0, 0, 0x7f, 0xff, 0xff, 0xff, 'x'}
			return f.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: body})
		}},
	}
	for _, transport := range []string{"framed", "buffered"} {
		for _, tt := range tests {
			if transport == "buffered" && strings.Contains(tt.name, "frame") {
				continue
			}
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				f := mustFramer(t, "binary", transport)
				addr := rawServer(t, func(c net.Conn) {
					if m := readOne(c, f); m != nil {
						_, _ = c.Write(tt.reply(f, m))
						_, _ = io.Copy(io.Discard, c)
					}
				})
				b := dial(t, Options{Endpoints: []string{addr}, Transport: transport, MaxMessageBytes: tt.limit})
				tc, err := NewTranscoder("interop", interopFunc(t, "sum"), Binding{Protocol: b.Protocol()})
				if err != nil {
					t.Fatal(err)
				}
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				reply, err := b.Invoke(ctx, &translate.Call{Method: "sum", Body: []byte{0}})
				cancel()
				if err == nil {
					_, err = tc.reply(reply.Body)
				}
				runtime.ReadMemStats(&after)
				e := translate.FromError(err)
				if e == nil || e.Status() < 500 {
					t.Fatalf("got %v", e)
				}
				if grown := after.TotalAlloc - before.TotalAlloc; grown > 2<<20 {
					t.Errorf("allocated %d bytes", grown)
				}
				if e.Code != codes.DeadlineExceeded && openConns(b) != 0 {
					t.Error("connection kept")
				}
			})
		}
	}
}

// TestApplicationExceptions maps every TApplicationException type.
func TestApplicationExceptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    int32
		code   codes.Code
		status int
	}{
		{AppExUnknown, codes.Unknown, 502},
		{AppExUnknownMethod, codes.Unimplemented, 501},
		{AppExInvalidMessageType, codes.Internal, 502},
		{AppExWrongMethodName, codes.Internal, 502},
		{AppExBadSequenceID, codes.Internal, 502},
		{AppExMissingResult, codes.Internal, 502},
		{AppExInternalError, codes.Internal, 502},
		{AppExProtocolError, codes.Internal, 502},
		{AppExInvalidTransform, codes.Internal, 502},
		{AppExInvalidProtocol, codes.Internal, 502},
		{AppExUnsupportedClient, codes.Internal, 502},
		{AppExValidationFailed, codes.InvalidArgument, 400},
		{99, codes.Unknown, 502},
	}
	for _, proto := range protocols {
		f := mustFramer(t, proto, "framed")
		var next atomic.Int32
		addr, _ := fakeServer(t, f, func(m *Message) []byte {
			return f.AppendApplicationException(nil, m.Name, m.SeqID, tests[next.Add(1)-1].typ, "why")
		})
		b := dial(t, Options{Endpoints: []string{addr}, Protocol: proto})
		next.Store(0)
		for _, tt := range tests {
			_, e := ping(context.Background(), b)
			// The server's text reaches the client only for the exceptions
			// that are about the request; the others keep it in the cause.
			shown := tt.typ == AppExValidationFailed || tt.typ == AppExUnknownMethod
			if e == nil || e.Code != tt.code || e.Status() != tt.status || strings.HasSuffix(e.Message, ": why") != shown ||
				!strings.Contains(e.Error(), "why") {
				t.Errorf("%s %s: got %v (%d)", proto, AppExceptionName(tt.typ), e, e.Status())
			}
		}
	}
}

// TestPool: calls reuse connections, at most PoolSize per endpoint are
// open, endpoints are used round robin, and a pooled connection the
// server closed is replaced without failing a call.
func TestPool(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	t.Run("reuse", func(t *testing.T) {
		t.Parallel()
		addr, conns := fakeServer(t, f, func(m *Message) []byte { return pingReplyBytes(f, m) })
		b := dial(t, Options{Endpoints: []string{addr}})
		for range 5 {
			if _, e := ping(context.Background(), b); e != nil {
				t.Fatal(e)
			}
		}
		if conns.Load() != 1 {
			t.Errorf("%d connections for 5 sequential calls", conns.Load())
		}
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		// The server holds every call until the test lets one go, and the
		// test does so only while the pool is full: a call that slipped
		// past the bound would find two already held.
		var inFlight, most atomic.Int32
		arrived := make(chan struct{}, 8)
		release := make(chan struct{})
		stop := make(chan struct{})
		addr, conns := fakeServer(t, f, func(m *Message) []byte {
			n := inFlight.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			select {
			case arrived <- struct{}{}:
			case <-stop:
				return nil
			}
			select {
			case <-release:
			case <-stop:
				return nil
			}
			inFlight.Add(-1)
			return pingReplyBytes(f, m)
		})
		b := dial(t, Options{Endpoints: []string{addr}, PoolSize: 2})
		var wg sync.WaitGroup
		// After a failure, the server drops the calls it holds, and the
		// callers finish before the test does.
		t.Cleanup(func() { close(stop); wg.Wait() })
		for range 8 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
				defer cancel()
				if _, e := ping(ctx, b); e != nil {
					t.Error(e)
				}
			})
		}
		// Two calls fill the pool; each release then frees a connection for
		// one waiting call, which arrives before the next release.
		for i := range 10 {
			if i >= 2 {
				select {
				case release <- struct{}{}:
				case <-time.After(eventTimeout):
					t.Fatalf("release %d: no call held by the server", i-1)
				}
			}
			if i < 8 {
				select {
				case <-arrived:
				case <-time.After(eventTimeout):
					t.Fatalf("call %d never reached the server (%d connections)", i+1, conns.Load())
				}
			}
		}
		wg.Wait()
		if conns.Load() > 2 || most.Load() > 2 {
			t.Errorf("%d connections, %d calls at once, with a pool of 2", conns.Load(), most.Load())
		}
	})
	t.Run("busy until the deadline", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		held := make(chan struct{}, 1)
		addr, _ := fakeServer(t, f, func(m *Message) []byte {
			select {
			case held <- struct{}{}:
			default:
			}
			<-release
			return pingReplyBytes(f, m)
		})
		b := dial(t, Options{Endpoints: []string{addr}, PoolSize: 1})
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = ping(context.Background(), b)
		}()
		// The first call holds the only connection once the server has it.
		select {
		case <-held:
		case <-time.After(eventTimeout):
			close(release)
			t.Fatal("the first call never reached the server")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, e := ping(ctx, b)
		cancel()
		close(release)
		<-done
		if e == nil || e.Code != codes.DeadlineExceeded {
			t.Errorf("got %v", e)
		}
	})
	t.Run("round robin", func(t *testing.T) {
		t.Parallel()
		var hits [2]atomic.Int32
		a0, _ := fakeServer(t, f, func(m *Message) []byte { hits[0].Add(1); return pingReplyBytes(f, m) })
		a1, _ := fakeServer(t, f, func(m *Message) []byte { hits[1].Add(1); return pingReplyBytes(f, m) })
		b := dial(t, Options{Endpoints: []string{a0, a1}})
		for range 6 {
			if _, e := ping(context.Background(), b); e != nil {
				t.Fatal(e)
			}
		}
		if hits[0].Load() != 3 || hits[1].Load() != 3 {
			t.Errorf("hits %d and %d", hits[0].Load(), hits[1].Load())
		}
	})
	t.Run("down endpoint passed over", func(t *testing.T) {
		t.Parallel()
		up, _ := fakeServer(t, f, func(m *Message) []byte { return pingReplyBytes(f, m) })
		lis, _ := net.Listen("tcp", "127.0.0.1:0")
		down := lis.Addr().String()
		lis.Close()
		b := dial(t, Options{Endpoints: []string{down, up}})
		failed := 0
		for range 6 {
			if _, e := ping(context.Background(), b); e != nil {
				failed++
				if e.Code != codes.Unavailable || e.Status() != 503 {
					t.Errorf("got %v", e)
				}
				checkNoAddress(t, e)
			}
		}
		if failed != 1 {
			t.Errorf("%d of 6 calls failed; the down endpoint should be skipped after its first failure", failed)
		}
	})
}

// TestStaleConnection: a pooled connection the server closed while idle is
// noticed before use and replaced, so the next call succeeds.
func TestStaleConnection(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	var n atomic.Int32
	addr := rawServer(t, func(c net.Conn) {
		n.Add(1)
		if m := readOne(c, f); m != nil {
			_, _ = c.Write(pingReplyBytes(f, m))
		}
		// and close: the client's pooled connection is now dead
	})
	b := dial(t, Options{Endpoints: []string{addr}})
	for i := range 3 {
		if _, e := ping(context.Background(), b); e != nil {
			t.Fatalf("call %d: %v", i, e)
		}
		waitPeerClosed(t, b)
	}
	if n.Load() != 3 {
		t.Errorf("%d connections", n.Load())
	}
}

// waitPeerClosed waits until the server's close of b's one idle connection
// has reached it, as the pool's liveness check must then see: nothing in
// the backend waits for that FIN, so the test reads the connection until
// EOF (there is no data to steal: the reply was read).
func waitPeerClosed(t *testing.T, b *Backend) {
	t.Helper()
	ep := b.endpoints[0]
	ep.mu.Lock()
	idle := len(ep.idle)
	var nc net.Conn
	if idle == 1 {
		nc = ep.idle[0].nc
	}
	ep.mu.Unlock()
	if nc == nil {
		t.Fatalf("%d idle connections, want 1", idle)
	}
	_ = nc.SetReadDeadline(time.Now().Add(eventTimeout))
	defer nc.SetReadDeadline(time.Time{})
	var buf [1]byte
	if n, err := nc.Read(buf[:]); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
}

// TestOnewayMessage: oneway calls go out as ONEWAY and wait for nothing.
func TestOnewayMessage(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		f := mustFramer(t, proto, "buffered")
		got := make(chan MessageType, 1)
		addr, _ := fakeServer(t, f, func(m *Message) []byte {
			got <- m.Type
			return []byte{} // write nothing, keep the connection
		})
		b := dial(t, Options{Endpoints: []string{addr}, Protocol: proto, Transport: "buffered"})
		r, err := b.Invoke(context.Background(), &translate.Call{Method: "fire", Body: []byte{0}, Delivery: translate.DeliveryOneway})
		if err != nil || len(r.Body) != 0 {
			t.Fatalf("%v %v", r, err)
		}
		if typ := <-got; typ != Oneway {
			t.Errorf("%s: sent %v", proto, typ)
		}
	}
}

// TestMultiplexedNames: the prefix is required, and the reply may carry
// the bare name.
func TestMultiplexedNames(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	addr, _ := fakeServer(t, f, func(m *Message) []byte {
		_, bare, _ := strings.Cut(m.Name, ":")
		return pingReplyBytes(f, &Message{Name: bare, SeqID: m.SeqID})
	})
	b := dial(t, Options{Endpoints: []string{addr}, Multiplexed: true})
	if _, err := b.Invoke(context.Background(), &translate.Call{Method: "Interop:ping", Body: []byte{0}}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Invoke(context.Background(), &translate.Call{Method: "ping", Body: []byte{0}})
	if e := translate.FromError(err); e == nil || e.Code != codes.Internal {
		t.Fatalf("got %v", err)
	}
}

// TestClose: a closed backend fails calls, in flight and new.
func TestClose(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	received := make(chan struct{})
	var once sync.Once
	addr := rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := f.ReadMessage(br); err == nil {
			once.Do(func() { close(received) })
		}
		_, _ = io.Copy(io.Discard, br) // and never reply
	})
	b := dial(t, Options{Endpoints: []string{addr}})
	errc := make(chan *translate.Error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, e := ping(ctx, b)
		errc <- e
	}()
	// Close once the call is in flight: sent, and waiting for the reply.
	select {
	case <-received:
	case e := <-errc:
		t.Fatalf("the call ended before Close: %v", e)
	case <-time.After(eventTimeout):
		t.Fatal("the call never reached the server")
	}
	b.Close()
	if e := <-errc; e == nil {
		t.Error("call in flight survived Close")
	}
	if _, e := ping(context.Background(), b); e == nil || e.Code != codes.Unavailable {
		t.Errorf("after Close: %v", e)
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opts Options
		want string
	}{
		{Options{}, "backend x: no endpoints"},
		{Options{Endpoints: []string{"nohost"}}, `backend x: endpoint "nohost": want host:port`},
		{Options{Endpoints: []string{"a:1"}, Protocol: "json"}, `backend x: unknown thrift protocol "json": want binary or compact`},
		{Options{Endpoints: []string{"a:1"}, Transport: "http"}, `backend x: unknown thrift transport "http": want framed or buffered`},
		{Options{Endpoints: []string{"a:1"}, PoolSize: -1}, "backend x: pool size, connect timeout and max message bytes must be positive (or 0 for the default)"},
	}
	for _, tt := range tests {
		if _, err := Dial("x", tt.opts); err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v", tt.opts, err)
		}
	}
}

// TestFrameHeader is the framing on the wire: length, strict binary
// envelope, body.
func TestFrameHeader(t *testing.T) {
	t.Parallel()
	got := appendMessage(nil, false, true, "add", Call, 7, []byte{0})
	want := []byte{0, 0, 0, 16, 0x80, 0x01, 0x00, 0x01, 0, 0, 0, 3, 'a', 'd', 'd', 0, 0, 0, 7, 0}
	if string(got) != string(want) {
		t.Errorf("binary framed:\n got %x\nwant %x", got, want)
	}
	got = appendMessage(nil, true, false, "add", Oneway, 300, []byte{0})
	want = []byte{0x82, 0x81, 0xac, 0x02, 3, 'a', 'd', 'd', 0}
	if string(got) != string(want) {
		t.Errorf("compact buffered:\n got %x\nwant %x", got, want)
	}
	// Non-strict binary envelope: name length first.
	old := binary.BigEndian.AppendUint32(nil, 3)
	old = append(old, "add"...)
	old = append(old, byte(Reply))
	old = binary.BigEndian.AppendUint32(old, 9)
	old = append(old, 0)
	m, err := mustFramer(t, "binary", "buffered").ReadMessage(bufio.NewReader(strings.NewReader(string(old))))
	if err != nil || m.Name != "add" || m.Type != Reply || m.SeqID != 9 || len(m.Body) != 1 {
		t.Errorf("non-strict: %+v %v", m, err)
	}
	if _, err := mustFramer(t, "binary", "buffered").ReadMessage(bufio.NewReader(strings.NewReader(""))); !errors.Is(err, io.EOF) {
		t.Errorf("empty: %v", err)
	}
}

// TestIdleConnectionOutlivesCallDeadline: a pooled connection stays usable
// after the deadline of the call that last used it has passed, and one that
// carried a oneway call is not reused (the server may still answer it).
func TestIdleConnectionOutlivesCallDeadline(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	addr, conns := fakeServer(t, f, func(m *Message) []byte {
		if m.Type == Oneway {
			// A server that answers a oneway call anyway.
			return f.AppendApplicationException(nil, m.Name, m.SeqID, AppExUnknownMethod, "no such method")
		}
		return pingReplyBytes(f, m)
	})
	b := dial(t, Options{Endpoints: []string{addr}})
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if _, e := ping(ctx, b); e != nil {
			t.Fatalf("call %d: %v", i, e)
		}
		// Wait for the call's deadline, which was the connection's, to pass.
		<-ctx.Done()
		cancel()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for two calls in a row; want the pooled one reused", n)
	}
	if _, err := b.Invoke(context.Background(), &translate.Call{Method: "zip", Body: []byte{0}, Delivery: translate.DeliveryOneway}); err != nil {
		t.Fatalf("oneway: %v", err)
	}
	if _, e := ping(context.Background(), b); e != nil {
		t.Errorf("call after a answered oneway: %v (the stray reply was read as this call's)", e)
	}
}

package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
)

// Faults of streams against real gRPC servers on loopback: a client that
// goes away, one that stops reading, a backend that fails mid-stream, the
// stream limits, and a large upload. Every server, gateway and client is
// closed at cleanup: TestMain's goleak checks that nothing is left.

// tickWire is the protobuf wire form of stream.v1.Tick{at, note}.
func tickWire(at int64, note string) []byte {
	var b []byte
	if at != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(at))
	}
	if note != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, note)
	}
	return b
}

// tickFields reads a Tick's wire form; ok is false when it does not parse.
func tickFields(b []byte) (at int64, note string, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, "", false
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, "", false
			}
			at, b = int64(v), b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return 0, "", false
			}
			note, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, "", false
			}
			b = b[n:]
		}
	}
	return at, note, true
}

// tickerMethods are a hand-written stream.v1.Ticker: each field, when set,
// serves its method (raw Tick bytes in and out, the gateway's Codec); any
// other method is UNIMPLEMENTED.
type tickerMethods struct {
	watch  func(req []byte, s grpc.ServerStream) error
	upload func(s grpc.ServerStream) error
}

func (m tickerMethods) handle(_ any, s grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(s)
	switch {
	case method == "/stream.v1.Ticker/Watch" && m.watch != nil:
		var req []byte
		if err := s.RecvMsg(&req); err != nil {
			return err
		}
		return m.watch(req, s)
	case method == "/stream.v1.Ticker/Upload" && m.upload != nil:
		return m.upload(s)
	}
	return grpcstatus.Errorf(codes.Unimplemented, "%s is not served here", method)
}

// startTickerBackend serves m on loopback until the test ends and returns
// its address. (serveAnyMethod takes a *testing.T; benchmarks need this.)
func startTickerBackend(tb testing.TB, m tickerMethods) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(m.handle), grpc.ForceServerCodecV2(grpcbackend.Codec{}))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	tb.Cleanup(func() { srv.Stop(); <-done })
	return lis.Addr().String()
}

// tickerGateway serves stream.v1.Ticker's annotated routes from the
// backend at addr (backend "b"); backends adds to backends: and tail to
// the end of the config (routes:), where %[1]s is addr again.
func tickerGateway(tb testing.TB, addr, backends, tail string) *testGateway {
	tb.Helper()
	return startGateway(tb, fmt.Sprintf(`
descriptors:
  - file: {root}/stream.pb
backends:
  b:
    grpc: {endpoints: ["%[1]s"]}
    timeout: 5s
`+backends+`
services:
  - name: stream.v1.Ticker
    backend: b
`+tail, addr))
}

// ndjsonLine is one line of an NDJSON stream.
type ndjsonLine struct {
	Result *struct {
		At   string `json:"at"`
		Note string `json:"note"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseLine(t *testing.T, line string) ndjsonLine {
	t.Helper()
	var l ndjsonLine
	if err := json.Unmarshal([]byte(line), &l); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return l
}

// wsURL is the WebSocket URL of path on an httptest server's URL.
func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// TestStreamClientDisconnectCancelsBackend: a client that goes away after
// the first message, in each framing, cancels the backend's stream. The
// time from the client's close to the backend's stream context ending is
// logged (the issue asks for 100ms; not asserted, the machine is shared).
func TestStreamClientDisconnectCancelsBackend(t *testing.T) {
	type reader func(t *testing.T, url string) (close func())
	// httpFirst opens the stream with accept and reads until the first
	// message, framed, arrived whole (want); it returns what closes it.
	httpFirst := func(accept, want string) reader {
		return func(t *testing.T, url string) func() {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/ticks", nil)
			req.Header.Set("Accept", accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			var got []byte
			buf := make([]byte, 256)
			for !strings.Contains(string(got), want) {
				n, err := resp.Body.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					cancel()
					resp.Body.Close()
					t.Fatalf("reading the first message: %v (got %q, want %q)", err, got, want)
				}
			}
			return func() { cancel(); resp.Body.Close() }
		}
	}
	wsFirst := func(closeSocket func(*websocket.Conn)) reader {
		return func(t *testing.T, url string) func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, wsURL(url, "/v1/ticks"), nil)
			if err != nil {
				t.Fatal(err)
			}
			typ, b, err := conn.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(b) != `{"at":"1","note":"first"}` {
				conn.CloseNow()
				t.Fatalf("first frame %v %s %v", typ, b, err)
			}
			return func() { closeSocket(conn) }
		}
	}
	for _, c := range []struct {
		name string
		open reader
	}{
		{"ndjson", httpFirst("application/x-ndjson", `{"result":{"at":"1","note":"first"}}`+"\n")},
		{"sse", httpFirst("text/event-stream", `data: {"at":"1","note":"first"}`+"\n\n")},
		{"json array", httpFirst("application/json", `[`+"\n"+`{"at":"1","note":"first"}`)},
		// The TCP connection dropped, no close frame.
		{"websocket dropped", wsFirst(func(c *websocket.Conn) { _ = c.CloseNow() })},
		// A close handshake (1000) from the client.
		{"websocket closed", wsFirst(func(c *websocket.Conn) { _ = c.Close(websocket.StatusNormalClosure, "bye") })},
	} {
		t.Run(c.name, func(t *testing.T) {
			cancelled := make(chan time.Time, 1)
			addr := startTickerBackend(t, tickerMethods{watch: func(_ []byte, s grpc.ServerStream) error {
				first := tickWire(1, "first")
				if err := s.SendMsg(&first); err != nil {
					return err
				}
				<-s.Context().Done() // the stream now blocks until cancelled
				cancelled <- time.Now()
				return s.Context().Err()
			}})
			tg := tickerGateway(t, addr, "", "")
			closeClient := c.open(t, tg.http.URL)
			start := time.Now()
			closeClient()
			select {
			case at := <-cancelled:
				if at.Before(start) {
					t.Fatalf("the backend's stream was cancelled %v before the client closed", start.Sub(at))
				}
				t.Logf("%s: the backend saw the cancellation %v after the client closed", c.name, at.Sub(start))
			case <-time.After(10 * time.Second):
				t.Fatal("the backend's stream was not cancelled within 10s of the client going away")
			}
		})
	}
}

// TestStreamBackpressure: a client that reads one message and then stops
// slows the backend down (flow control all the way: TCP, the gateway's
// loop that reads the next message only once this one is written, gRPC's
// windows) instead of filling the gateway's memory; once it reads again
// every message arrives, in order, and the stream ends well.
//
// With the kernel's own socket buffers, which autotune to megabytes on
// loopback (net.ipv4.tcp_wmem's max, 4 MiB by default), tens of thousands
// of ~130-byte lines fit in the sockets alone: that case asserts the
// heap's bound and that the backend stalled. With both sockets of the
// client's connection pinned to 64 KiB, what is left is the gateway's and
// gRPC's buffering, and the backend's count is asserted small.
func TestStreamBackpressure(t *testing.T) {
	const total = 100_000
	for _, c := range []struct {
		name string
		// sockBuf, when not 0, pins the client's receive buffer and the
		// gateway's send buffer on the client's connection.
		sockBuf int
		maxSent int64
	}{
		{"kernel socket buffers", 0, total - 1},
		{"socket buffers pinned to 64KiB", 64 << 10, total / 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			testBackpressure(t, total, c.sockBuf, c.maxSent)
		})
	}
}

// sndBufListener sets each accepted connection's send buffer.
type sndBufListener struct {
	net.Listener
	size int
}

func (l sndBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

func testBackpressure(t *testing.T, total, sockBuf int, maxSent int64) {
	note := strings.Repeat("n", 90) // a Tick of ~96 bytes
	var sent atomic.Int64
	finished := make(chan error, 1)
	addr := startTickerBackend(t, tickerMethods{watch: func(_ []byte, s grpc.ServerStream) error {
		for i := range total {
			msg := tickWire(int64(i+1), note)
			if err := s.SendMsg(&msg); err != nil {
				finished <- err
				return err
			}
			sent.Add(1)
		}
		finished <- nil
		return nil
	}})
	tg := tickerGateway(t, addr, "", "")
	url := tg.http.URL
	transport := &http.Transport{}
	if sockBuf > 0 {
		srv := httptest.NewUnstartedServer(tg.g.Handler())
		srv.Listener = sndBufListener{srv.Listener, sockBuf}
		srv.Start()
		t.Cleanup(srv.Close)
		url = srv.URL
		transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(sockBuf)
			}
			return c, err
		}
	}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/v1/ticks", nil)
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if l := parseLine(t, first); l.Result == nil || l.Result.At != "1" {
		t.Fatalf("first line %q", first)
	}

	// The client holds the rest unread: the backend's sends must stall.
	var last int64 = -1
	stable := 0
	deadline := time.Now().Add(20 * time.Second)
	for stable < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the backend's count did not settle within 20s: %d of %d sent", sent.Load(), total)
		}
		time.Sleep(50 * time.Millisecond) // a poll interval, not an assertion
		if n := sent.Load(); n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("with the client not reading, the backend's sends stalled after %d of %d messages; heap in use grew by %.2f MiB (%d -> %d bytes)",
		last, total, float64(growth)/(1<<20), before.HeapInuse, after.HeapInuse)
	if last > maxSent {
		t.Errorf("the backend sent %d of %d messages to a client that read one, want at most %d: not bounded by flow control", last, total, maxSent)
	}
	if growth > 32<<20 {
		t.Errorf("the gateway's heap grew by %d bytes while the client did not read, want under 32 MiB", growth)
	}

	// Now read everything: all of it, in order, then a clean end.
	n := 1
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		l := parseLine(t, line)
		if l.Result == nil {
			t.Fatalf("after %d messages: %q", n, line)
		}
		n++
		if l.Result.At != strconv.Itoa(n) || l.Result.Note != note {
			t.Fatalf("message %d is %q", n, line)
		}
	}
	if n != total {
		t.Errorf("%d messages arrived, want %d", n, total)
	}
	select {
	case err := <-finished:
		if err != nil {
			t.Errorf("the backend's stream ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the backend did not finish")
	}
}

// TestWebSocketServerStreamErrorMidStream: a server stream that fails
// after two messages, read over a WebSocket: two text frames, then an
// {"error"} frame with the status, then close code 4000+14 (UNAVAILABLE).
func TestWebSocketServerStreamErrorMidStream(t *testing.T) {
	tg := startTicker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(tg.http.URL, "/v1/ticks?at=99"), &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Request-Id": {"ws-error"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for _, want := range []string{
		`{"at":"99","note":"first"}`,
		`{"at":"100","note":"last before the outage"}`,
		`{"error":{"code":14,"message":"ticker restarting","details":[{"@type":"type.googleapis.com/google.rpc.RequestInfo","requestId":"ws-error"}]}}`,
	} {
		typ, b, err := conn.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(b) != want {
			t.Fatalf("got %v %s %v, want the text frame %s", typ, b, err, want)
		}
	}
	_, _, err = conn.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4014 || ce.Reason != "ticker restarting" {
		t.Errorf("after the error frame: %v, want close 4014 \"ticker restarting\"", err)
	}
}

// TestStreamLimits: a route's idle timeout and maximum duration end its
// streams with DEADLINE_EXCEEDED naming the limit, cancelling the
// backend's stream; a backend's max_concurrent_streams refuses one more
// with 503 and Retry-After, and takes one again once a stream ends.
func TestStreamLimits(t *testing.T) {
	var cancels, uploads atomic.Int64
	addr := startTickerBackend(t, tickerMethods{upload: func(s grpc.ServerStream) error {
		defer uploads.Add(1)
		var count int64
		for {
			var m []byte
			if err := s.RecvMsg(&m); errors.Is(err, io.EOF) {
				out := tickWire(count, "received")
				return s.SendMsg(&out)
			} else if err != nil {
				return err
			}
			count++
		}
	}, watch: func(req []byte, s grpc.ServerStream) error {
		defer cancels.Add(1)
		at, _, _ := tickFields(req)
		for i := int64(1); ; i++ {
			msg := tickWire(i, "tick")
			if err := s.SendMsg(&msg); err != nil {
				return err
			}
			if at != 1 {
				// One message, then nothing until cancelled.
				<-s.Context().Done()
				return s.Context().Err()
			}
			// ?at=1: busy, a tick every 50ms until cancelled.
			select {
			case <-s.Context().Done():
				return s.Context().Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}})
	tg := tickerGateway(t, addr, `
  capped:
    grpc: {endpoints: ["%[1]s"]}
    max_concurrent_streams: 2`, `
routes:
  - get: /x/idle
    backend: b
    grpc: stream.v1.Ticker/Watch
    stream: {idle_timeout: 300ms}
  - get: /x/long
    backend: b
    grpc: stream.v1.Ticker/Watch
    stream: {max_duration: 500ms}
  - get: /x/brief
    backend: b
    grpc: stream.v1.Ticker/Watch
    stream: {max_duration: 100ms}
  - get: /x/capped
    backend: capped
    grpc: stream.v1.Ticker/Watch
  - post: /x/upload
    backend: b
    grpc: stream.v1.Ticker/Upload
    body: "*"
    stream: {max_upload_bytes: 1048576, max_message_bytes: 2048}
`)
	// endOf reads a stream on path to its end: messages, then the error
	// line, whose code and message it returns. It may run on any goroutine.
	endOf := func(path string) (code int, message string, err error) {
		resp, err := http.Get(tg.http.URL + path)
		if err != nil {
			return 0, "", err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, "", fmt.Errorf("status %d %s: %v", resp.StatusCode, body, err)
		}
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		var l ndjsonLine
		for i, line := range lines {
			l = ndjsonLine{}
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				return 0, "", fmt.Errorf("line %q: %v", line, err)
			}
			if last := i == len(lines)-1; last != (l.Error != nil) || !last && l.Result == nil {
				return 0, "", fmt.Errorf("body %s: want messages, then an error line", body)
			}
		}
		return l.Error.Code, l.Error.Message, nil
	}

	t.Run("limits end the stream", func(t *testing.T) {
		for _, c := range []struct {
			name, path string
			want       []string
		}{
			{"idle timeout", "/x/idle", []string{"300ms", "idle"}},
			// What the message says is TestStreamLimits/max_duration_named's.
			{"max duration, however busy", "/x/long?at=1", nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := cancels.Load()
				code, msg, err := endOf(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if code != int(codes.DeadlineExceeded) {
					t.Errorf("the stream ended with code %d %q, want 4 (DEADLINE_EXCEEDED)", code, msg)
				}
				for _, w := range c.want {
					if !strings.Contains(msg, w) {
						t.Errorf("error message %q does not say %q", msg, w)
					}
				}
				waitFor(t, "the backend's stream to be cancelled", func() bool { return cancels.Load() > before })
			})
		}
	})

	// BUG: a stream ended by its max_duration does not always say so.
	// The gateway passes the limit on as the backend's gRPC deadline, and
	// a grpc-go backend resets the stream (RST_STREAM CANCEL) at that
	// deadline; when the reset, or the backend's own DEADLINE_EXCEEDED
	// status, reaches the gateway before its own timer has cancelled the
	// stream's context, pipeline's streamCall.ended finds no cause on the
	// context and passes the backend's message on: "context deadline
	// exceeded" or "stream terminated by RST_STREAM with error code:
	// CANCEL" instead of "the stream reached its maximum duration of
	// 100ms". A race, so this runs rounds of 64 streams at once (100ms
	// each) until one goes wrong, 20 rounds at most: one stream alone
	// goes wrong about one time in fifteen on loopback.
	t.Run("max_duration named", func(t *testing.T) {
		const streams, rounds = 64, 20
		want := fmt.Sprintf("%d the stream reached its maximum duration of 100ms", codes.DeadlineExceeded)
		var wrong []string
		round := 0
		for ; round < rounds && len(wrong) == 0; round++ {
			got := make([]string, streams)
			var wg sync.WaitGroup
			for i := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, msg, err := endOf("/x/brief?at=1")
					if err != nil {
						got[i] = err.Error()
						return
					}
					got[i] = fmt.Sprintf("%d %s", code, msg)
				}()
			}
			wg.Wait()
			for _, g := range got {
				if g != want {
					wrong = append(wrong, g)
				}
			}
		}
		if len(wrong) > 0 {
			t.Errorf("in round %d, %d of %d streams ended by max_duration 100ms do not name it: %q", round, len(wrong), streams, wrong)
		}
	})

	t.Run("upload limits", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			body   io.Reader
			status int
			want   string
		}{
			{"within the limits", &ndjsonUpload{lines: 500, lineLen: 1024}, http.StatusOK, `{"at":"500","note":"received"}`},
			{"max_upload_bytes", &ndjsonUpload{lines: 2048, lineLen: 1024}, http.StatusRequestEntityTooLarge, "1048576 bytes"},
			{"max_message_bytes", &ndjsonUpload{lines: 2, lineLen: 4096}, http.StatusBadRequest, "line 1"},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := uploads.Load()
				req, _ := http.NewRequest("POST", tg.http.URL+"/x/upload", c.body)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
					t.Errorf("%d %s; want %d with %q", resp.StatusCode, body, c.status, c.want)
				}
				// Refused or not, the backend's stream has ended.
				waitFor(t, "the backend's stream to end", func() bool { return uploads.Load() > before })
			})
		}
	})

	t.Run("max_concurrent_streams", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		open := func() (*http.Response, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", tg.http.URL+"/x/capped", nil)
			resp, err := client.Do(req)
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			return resp, func() { cancel(); resp.Body.Close() }
		}
		var closers []func()
		defer func() {
			for _, c := range closers {
				c()
			}
		}()
		for i := range 2 {
			resp, closeIt := open()
			closers = append(closers, closeIt)
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("stream %d: %d %s", i+1, resp.StatusCode, b)
			}
			// Open for sure: its first message arrived.
			if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || parseLine(t, line).Result == nil {
				t.Fatalf("stream %d: first line %q %v", i+1, line, err)
			}
		}
		resp, closeThird := open()
		b, _ := io.ReadAll(resp.Body)
		closeThird()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a third stream with two open: %d Retry-After %q %s; want 503 with Retry-After",
				resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
		if !strings.Contains(string(b), "limit of 2 streams") {
			t.Errorf("the refusal %s does not name the limit", b)
		}
		// One ends: its slot is given back.
		closers[0]()
		waitFor(t, "a slot to free up", func() bool {
			resp, closeIt := open()
			defer closeIt()
			return resp.StatusCode == http.StatusOK
		})
	})
}

// waitFor polls cond every 20ms for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ndjsonUpload generates lines of exactly lineLen bytes,
// {"at":N,"note":"xxx…"}\n for N from 1 to lines, without holding more
// than one line.
type ndjsonUpload struct {
	lines, lineLen int
	n              int
	pending        []byte
	buf            []byte
}

func (u *ndjsonUpload) Read(p []byte) (int, error) {
	if len(u.pending) == 0 {
		if u.n == u.lines {
			return 0, io.EOF
		}
		u.n++
		u.buf = fmt.Appendf(u.buf[:0], `{"at":%d,"note":"`, u.n)
		for len(u.buf) < u.lineLen-3 {
			u.buf = append(u.buf, 'x')
		}
		u.buf = append(u.buf, '"', '}', '\n')
		u.pending = u.buf
	}
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

// TestClientStreamUploadBoundedMemory: a 200 MiB NDJSON upload, generated
// as it is sent, reaches the backend message by message, every one in
// order, while the process's heap (gateway, backend and client in one)
// stays within 50 MiB of where it started. The default limits.max_body_bytes
// (4 MiB) does not apply to a stream.
func TestClientStreamUploadBoundedMemory(t *testing.T) {
	const (
		lineLen = 1024
		size    = 200 << 20
		lines   = size / lineLen
	)
	var received, receivedBytes atomic.Int64
	var disorder atomic.Value
	addr := startTickerBackend(t, tickerMethods{upload: func(s grpc.ServerStream) error {
		for {
			var m []byte
			err := s.RecvMsg(&m)
			if errors.Is(err, io.EOF) {
				out := tickWire(received.Load(), "received")
				return s.SendMsg(&out)
			}
			if err != nil {
				return err
			}
			at, note, ok := tickFields(m)
			if n := received.Add(1); (!ok || at != n || len(note) < lineLen-30) && disorder.Load() == nil {
				disorder.Store(fmt.Sprintf("message %d: at %d, note of %d bytes, parses %v", n, at, len(note), ok))
			}
			receivedBytes.Add(int64(len(m)))
		}
	}})
	tg := tickerGateway(t, addr, "", "")

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	peak.Store(base.HeapInuse)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("POST", tg.http.URL+"/v1/ticks:upload", &ndjsonUpload{lines: lines, lineLen: lineLen})
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := client.Do(req)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)

	growth := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("uploaded %d MiB (%d lines) in %v: the backend got %d messages, %d bytes of protobuf; peak heap in use %.1f MiB above the baseline of %.1f MiB",
		size>>20, lines, elapsed.Round(time.Millisecond), received.Load(), receivedBytes.Load(),
		float64(growth)/(1<<20), float64(base.HeapInuse)/(1<<20))
	if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprintf(`{"at":"%d","note":"received"}`, lines) {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	if got := received.Load(); got != lines {
		t.Errorf("the backend received %d messages, want %d", got, lines)
	}
	if d := disorder.Load(); d != nil {
		t.Errorf("out of order or damaged: %s", d)
	}
	if growth > 50<<20 {
		t.Errorf("the heap grew by %.1f MiB during the upload, want under 50 MiB", float64(growth)/(1<<20))
	}
}

// TestStreamOutlivesServerReadTimeout: the listener's limits.read_timeout
// bounds reading a request, not a stream. Served by g.Run (the server a
// deployment uses, read_timeout 500ms here, 60s by default), a stream
// that lasts 1.5s ends well in every framing, and so does an upload whose
// lines come over 1.5s.
func TestStreamOutlivesServerReadTimeout(t *testing.T) {
	const n = 15 // a tick every 100ms: 1.5s, three times the read timeout
	addr := startTickerBackend(t, tickerMethods{
		watch: func(_ []byte, s grpc.ServerStream) error {
			for i := range n {
				msg := tickWire(int64(i+1), "tick")
				if err := s.SendMsg(&msg); err != nil {
					return err
				}
				select {
				case <-s.Context().Done():
					return s.Context().Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			return nil
		},
		upload: func(s grpc.ServerStream) error {
			var count int64
			for {
				var m []byte
				if err := s.RecvMsg(&m); errors.Is(err, io.EOF) {
					out := tickWire(count, "received")
					return s.SendMsg(&out)
				} else if err != nil {
					return err
				}
				count++
			}
		},
	})
	l := runConfig(t, fmt.Sprintf(`
listen: 127.0.0.1:0
limits: {read_timeout: 500ms}
descriptors:
  - file: ../testdata/stream.pb
backends:
  b:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
services:
  - name: stream.v1.Ticker
    backend: b
`, addr))
	base := "http://" + l.HTTP
	// The subtests run in parallel, after this function returned: what
	// they share ends at cleanup, after them.
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	for _, c := range []struct{ name, accept, result, end string }{
		{"ndjson", "application/x-ndjson", `{"result":{"at":"%[1]d","note":"tick"}}` + "\n", ""},
		{"sse", "text/event-stream", "id: %[1]d\ndata: {\"at\":\"%[1]d\",\"note\":\"tick\"}\n\n", ""},
		{"json array", "application/json", "%[2]s{\"at\":\"%[1]d\",\"note\":\"tick\"}", "\n]\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/ticks", nil)
			req.Header.Set("Accept", c.accept)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			var want strings.Builder
			for i := 1; i <= n; i++ {
				sep := ",\n"
				if i == 1 {
					sep = "[\n"
				}
				fmt.Fprintf(&want, c.result, i, sep)
			}
			want.WriteString(c.end)
			if err != nil || string(body) != want.String() {
				t.Errorf("a 1.5s stream behind a 500ms read timeout: %v; got\n%s\nwant\n%s", err, body, want.String())
			}
		})
	}

	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		conn, _, err := websocket.Dial(ctx, "ws://"+l.HTTP+"/v1/ticks", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		for i := 1; i <= n; i++ {
			_, b, err := conn.Read(ctx)
			if want := fmt.Sprintf(`{"at":"%d","note":"tick"}`, i); err != nil || string(b) != want {
				t.Fatalf("frame %d: %s %v, want %s", i, b, err, want)
			}
		}
		if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("after the last message: %v, want a normal close", err)
		}
	})

	t.Run("upload", func(t *testing.T) {
		t.Parallel()
		pr, pw := io.Pipe()
		go func() {
			for i := 1; i <= n; i++ {
				if _, err := fmt.Fprintf(pw, "{\"at\":%d}\n", i); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond) // a slow producer, not an assertion
			}
			pw.Close()
		}()
		defer pr.Close()
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/ticks:upload", pr)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if want := fmt.Sprintf(`{"at":"%d","note":"received"}`, n); resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("a 1.5s upload behind a 500ms read timeout: %d %s, want 200 %s", resp.StatusCode, body, want)
		}
	})
}

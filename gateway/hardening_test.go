package gateway_test

// Regression tests for the hardening commit: each guard is driven through a
// real loopback listener (httptest or gateway.Run), the way a client meets
// it.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
)

// hdLibraryConfig serves the library service from the mock; %s is the
// mock's address and the limits line is the test's.
const hdLibraryConfig = `
%s
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`

var hdJSON = map[string]string{"Content-Type": "application/json"}

// hdStatus is the google.rpc.Status body of an error response.
type hdStatus struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func hdDecodeStatus(t testing.TB, body []byte) hdStatus {
	t.Helper()
	var st hdStatus
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v: %s", err, body)
	}
	return st
}

// hdDo sends one request with h as its header (several values per name
// allowed) through client.
func hdDo(t testing.TB, client *http.Client, method, url string, body []byte, h http.Header) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// hdRaw writes req, a whole HTTP/1.1 request, on a new connection to addr
// and reads the response: for request lines a client would normalise.
func hdRaw(t testing.TB, addr, req string) response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(eventTimeout))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func hdHost(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// hdBackend is a gRPC server for any method: it records each call's
// metadata and request bytes and answers with reply (empty by default).
type hdBackend struct {
	mu     sync.Mutex
	calls  int
	md     metadata.MD
	req    []byte
	method string
	reply  []byte
}

func (s *hdBackend) handle(_ any, stream grpc.ServerStream) error {
	var in []byte
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	method, _ := grpc.MethodFromServerStream(stream)
	s.mu.Lock()
	s.calls++
	s.md, s.req, s.method = md, in, method
	out := append([]byte{}, s.reply...)
	s.mu.Unlock()
	return stream.SendMsg(&out)
}

func (s *hdBackend) snapshot() (calls int, md metadata.MD, req []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.md, s.req
}

func (s *hdBackend) setReply(b []byte) {
	s.mu.Lock()
	s.reply = b
	s.mu.Unlock()
}

func startHdBackend(t testing.TB) (*hdBackend, string) {
	t.Helper()
	b := &hdBackend{}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(b.handle), grpc.ForceServerCodecV2(grpcbackend.Codec{}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return b, lis.Addr().String()
}

// hdStringField reads string field num of a protobuf message.
func hdStringField(t testing.TB, b []byte, num protowire.Number) string {
	t.Helper()
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			t.Fatalf("bad protobuf: %v", protowire.ParseError(l))
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				t.Fatalf("bad protobuf: %v", protowire.ParseError(l))
			}
			return string(v)
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			t.Fatalf("bad protobuf: %v", protowire.ParseError(l))
		}
		b = b[l:]
	}
	return ""
}

// hdLogBuf keeps every log line for counting; safe for concurrent use.
type hdLogBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *hdLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count is how many lines contain every one of parts.
func (l *hdLogBuf) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// TestHardeningJSONShape: a body that would expand into more objects and
// arrays, or more values, than the limits is refused with 413 before a
// message is built from it, and lower configured limits are honoured.
func TestHardeningJSONShape(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, "", mockAddr))
	url := tg.http.URL + "/v1/shelves/1/books" // CreateBook, body "book"; Book.extra is a google.protobuf.Struct

	t.Run("500k empty lists", func(t *testing.T) {
		// 500,000 empty lists in a Struct: 1.5 MB of JSON, under the 4 MiB
		// default body limit, that would become 500,000 ListValue messages.
		body := []byte(`{"title":"bomb","extra":{"x":[` + strings.Repeat("[],", 499_999) + `[]]}}`)
		runtime.GC()
		var before, after, settled runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		r := do(t, "POST", url, body, hdJSON)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		runtime.GC()
		runtime.ReadMemStats(&settled)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %.300s", r.status, r.body)
		}
		if st := hdDecodeStatus(t, r.body); !strings.Contains(st.Message, "limits.max_json_containers") {
			t.Errorf("message %q does not name limits.max_json_containers", st.Message)
		}
		// A generous bound, not a benchmark: the shape scan stops at the
		// 20,001st container; decoding the whole body into messages
		// under -race on a shared machine is what would take seconds.
		if elapsed > 5*time.Second {
			t.Errorf("the 413 took %v", elapsed)
		}
		// The process allocates the body once on the client side (already
		// built above), the server's io.ReadAll copy (~2x 1.5 MB with its
		// growth) and small change. Building the 500,000 ListValue/Value
		// messages (dynamicpb, a few hundred bytes each) would take well
		// over 100 MB: 64 MB total allocation is far below that and far
		// above what the refusal needs.
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("413 in %v; allocated %d KiB; heap in use %d -> %d KiB after GC",
			elapsed, alloc>>10, before.HeapInuse>>10, settled.HeapInuse>>10)
		if alloc > 64<<20 {
			t.Errorf("the request allocated %d MiB; the body must be refused before it is expanded", alloc>>20)
		}
		if growth := int64(settled.HeapInuse) - int64(before.HeapInuse); growth > 32<<20 {
			t.Errorf("heap in use grew by %d MiB after the refusal", growth>>20)
		}
	})

	t.Run("300k numbers", func(t *testing.T) {
		// Three containers, 300,000 values: over max_json_values only.
		body := []byte(`{"title":"numbers","extra":{"x":[` + strings.Repeat("0,", 299_999) + `0]}}`)
		r := do(t, "POST", url, body, hdJSON)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %.300s", r.status, r.body)
		}
		if st := hdDecodeStatus(t, r.body); !strings.Contains(st.Message, "limits.max_json_values") {
			t.Errorf("message %q does not name limits.max_json_values", st.Message)
		}
	})

	t.Run("configured limits", func(t *testing.T) {
		low := startGateway(t, fmt.Sprintf(hdLibraryConfig, "limits: {max_json_values: 100, max_json_containers: 10}", mockAddr))
		lowURL := low.http.URL + "/v1/shelves/1/books"
		for _, tc := range []struct {
			name     string
			body     string
			status   int
			contains string
		}{
			// {} {} [ ...9 lists... ]: 12 containers.
			{"11 containers", `{"title":"c","extra":{"x":[` + strings.Repeat("[],", 8) + `[]]}}`, 413, "more than 10 objects and arrays (limits.max_json_containers)"},
			{"101 values", `{"title":"v","extra":{"x":[` + strings.Repeat("1,", 99) + `1]}}`, 413, "more than 100 JSON values (limits.max_json_values)"},
			{"within both", `{"title":"ok","tags":["a","b"],"extra":{"x":[1,2,[3]]}}`, 200, `"title":"ok"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := do(t, "POST", lowURL, []byte(tc.body), hdJSON)
				if r.status != tc.status || !strings.Contains(string(r.body), tc.contains) {
					t.Errorf("status %d body %s; want %d containing %q", r.status, r.body, tc.status, tc.contains)
				}
			})
		}
		// The default gateway takes what the low one refuses.
		if r := do(t, "POST", url, []byte(`{"title":"v","extra":{"x":[`+strings.Repeat("1,", 99)+`1]}}`), hdJSON); r.status != 200 {
			t.Errorf("default limits: status %d: %s", r.status, r.body)
		}
	})
}

// TestHardeningInflightBudget: with two slow uploads holding the in-flight
// body budget, a third request with a body gets 503 and Retry-After at
// once, requests without a body still pass, and once the uploads end a
// request with a body succeeds again.
func TestHardeningInflightBudget(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, "limits: {max_body_bytes: 1024, max_inflight_body_bytes: 3072}", mockAddr))

	type uploadEvents struct{ reading, done chan struct{} }
	events := map[string]*uploadEvents{}
	for _, id := range []string{"1", "2"} {
		events[id] = &uploadEvents{reading: make(chan struct{}), done: make(chan struct{})}
	}
	h := tg.g.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := events[r.Header.Get("X-Slow-Upload")]
		if ev == nil {
			h.ServeHTTP(w, r)
			return
		}
		defer close(ev.done)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	full := `{"message":"` + strings.Repeat("x", 1000-14) + `"}`
	if len(full) != 1000 {
		t.Fatalf("body of %d bytes", len(full))
	}
	// A body is charged as its bytes arrive: a client that trickles holds
	// only what it sent. Each slow upload sends 900 of its 1000 bytes.
	conns := map[string]net.Conn{}
	for _, id := range []string{"1", "2"} {
		conn, err := net.Dial("tcp", hdHost(srv))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(eventTimeout))
		conns[id] = conn
		if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\nX-Slow-Upload: %s\r\n\r\n%s",
			pingPath, len(full), id, full[:900]); err != nil {
			t.Fatal(err)
		}
	}
	// Polled, as a last resort: the charge happens inside the gateway's
	// body reader, after any hook a test could wrap around the handler.
	for deadline := time.Now().Add(eventTimeout); tg.g.BodyBytesHeld() < 1800; {
		if time.Now().After(deadline) {
			t.Fatalf("the slow uploads hold %d bytes, want 1800", tg.g.BodyBytesHeld())
		}
		runtime.Gosched()
	}

	start := time.Now()
	r := do(t, "POST", srv.URL+pingPath, []byte(`{"message":"`+strings.Repeat("y", 200)+`"}`), hdJSON)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("third upload: status %d Retry-After %q: %s; want 503 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	if st := hdDecodeStatus(t, r.body); !strings.Contains(st.Message, "limits.max_inflight_body_bytes") {
		t.Errorf("503 message %q does not name limits.max_inflight_body_bytes", st.Message)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the 503 took %v; it must not wait for the budget", d)
	}
	// No body, no budget.
	for _, tc := range []struct {
		method, path string
		body         []byte
	}{
		{"GET", "/v1/shelves/1/books/1", nil},
		{"DELETE", "/v1/shelves/1/books/1", nil},
		{"POST", pingPath, []byte{}},
	} {
		if r := do(t, tc.method, srv.URL+tc.path, tc.body, hdJSON); r.status == http.StatusServiceUnavailable || r.status >= 500 {
			t.Errorf("%s %s without a body while the budget is full: status %d: %s", tc.method, tc.path, r.status, r.body)
		}
	}

	// Upload 2's client goes away, giving back its bytes; then upload 1
	// finishes (its body and what it decodes into fit now).
	conns["2"].Close()
	await(t, events["2"].done, "upload 2's handler to return")
	if _, err := io.WriteString(conns["1"], full[900:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conns["1"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), full[12:40]) {
		t.Errorf("finished slow upload: status %d: %.200s", resp.StatusCode, b)
	}
	await(t, events["1"].done, "upload 1's handler to return")

	if r := do(t, "POST", srv.URL+pingPath, []byte(`{"message":"`+strings.Repeat("y", 200)+`"}`), hdJSON); r.status != 200 {
		t.Errorf("after the slow uploads ended: status %d: %s", r.status, r.body)
	}
	if held := tg.g.BodyBytesHeld(); held != 0 {
		t.Errorf("%d bytes still held after every request ended", held)
	}

	// A trickle of 10 bytes holds 10 bytes: a full-size body still fits.
	trickle, err := net.Dial("tcp", hdHost(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	fmt.Fprintf(trickle, "POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", pingPath, full[:10])
	if r := do(t, "POST", srv.URL+pingPath, []byte(full), hdJSON); r.status != 200 {
		t.Errorf("a full body beside a trickle: status %d: %.200s", r.status, r.body)
	}
}

func hdGzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hdZlib(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHardeningContentEncoding: gzip and deflate request bodies are decoded
// and capped at max_body_bytes once decoded; other codings are 415 and a
// broken stream is a 400.
func TestHardeningContentEncoding(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, "limits: {max_body_bytes: 1048576}", mockAddr))
	ping := []byte(`{"message":"hello compressed"}`)
	// 10 MB inside a JSON string, ~10 KB compressed: the compressed
	// length passes the up-front Content-Length check.
	bomb := []byte(`{"message":"` + strings.Repeat("0", 10<<20) + `"}`)
	gzBomb, zBomb := hdGzip(t, bomb), hdZlib(t, bomb)
	if len(gzBomb) > 64<<10 || len(zBomb) > 64<<10 {
		t.Fatalf("bombs of %d and %d bytes", len(gzBomb), len(zBomb))
	}
	malformed := append([]byte{}, hdGzip(t, ping)...)
	malformed[0] = 'x' // not the gzip magic
	truncated := hdGzip(t, ping)
	truncated = truncated[:len(truncated)-12]

	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for _, tc := range []struct {
		name     string
		coding   []string
		body     []byte
		status   int
		contains string
	}{
		{"gzip", []string{"gzip"}, hdGzip(t, ping), 200, `"message":"hello compressed"`},
		{"x-gzip", []string{"x-gzip"}, hdGzip(t, ping), 200, `"message":"hello compressed"`},
		{"deflate", []string{"deflate"}, hdZlib(t, ping), 200, `"message":"hello compressed"`},
		{"identity", []string{"identity"}, ping, 200, `"message":"hello compressed"`},
		{"gzip bomb", []string{"gzip"}, gzBomb, 413, "exceeds the limit of 1048576 bytes"},
		{"deflate bomb", []string{"deflate"}, zBomb, 413, "exceeds the limit of 1048576 bytes"},
		{"br", []string{"br"}, ping, 415, "br"},
		{"gzip, gzip", []string{"gzip, gzip"}, hdGzip(t, hdGzip(t, ping)), 415, "several content codings"},
		{"two gzip lines", []string{"gzip", "gzip"}, hdGzip(t, hdGzip(t, ping)), 415, "several content codings"},
		{"malformed gzip", []string{"gzip"}, malformed, 400, "gzip"},
		{"truncated gzip", []string{"gzip"}, truncated, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := hdDo(t, client, "POST", tg.http.URL+pingPath, tc.body,
				http.Header{"Content-Type": {"application/json"}, "Content-Encoding": tc.coding})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				st := hdDecodeStatus(t, r.body)
				if st.Message == "" || !strings.Contains(st.Message, tc.contains) {
					t.Errorf("message %q, want one containing %q", st.Message, tc.contains)
				}
				return
			}
			if !strings.Contains(string(r.body), tc.contains) {
				t.Errorf("body %s, want %q", r.body, tc.contains)
			}
		})
	}
}

// TestHardeningResponseCompression: a response of 1 KB or more goes out
// gzipped to a client that accepts it and decompresses to the plain
// response; a smaller one goes out as it is.
func TestHardeningResponseCompression(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, "", mockAddr))
	// Our own Accept-Encoding, and the bytes as sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	post := func(message string, accept string) response {
		h := http.Header{"Content-Type": {"application/json"}}
		if accept != "" {
			h.Set("Accept-Encoding", accept)
		}
		body, _ := json.Marshal(map[string]string{"message": message})
		r := hdDo(t, client, "POST", tg.http.URL+pingPath, body, h)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return r
	}

	large := strings.Repeat("a compressible sentence, ", 160) // ~4 KB reply
	plain := post(large, "")
	if ce := plain.header.Get("Content-Encoding"); ce != "" || !json.Valid(plain.body) || len(plain.body) < 1024 {
		t.Fatalf("without Accept-Encoding: Content-Encoding %q, %d bytes: %.100s", ce, len(plain.body), plain.body)
	}
	zipped := post(large, "gzip")
	if ce := zipped.header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("large reply with Accept-Encoding: gzip: Content-Encoding %q (%d bytes)", ce, len(zipped.body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if !bytes.Equal(got, plain.body) {
		t.Errorf("gunzipped reply differs from the plain one:\n%.200s\n%.200s", got, plain.body)
	}
	if len(zipped.body) >= len(plain.body) {
		t.Errorf("compressed %d bytes, plain %d", len(zipped.body), len(plain.body))
	}
	if ct := zipped.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("compressed reply Content-Type %q", ct)
	}
	// A cache must not hand the gzipped reply to a client that did not ask.
	if v := strings.Join(zipped.header.Values("Vary"), ","); !strings.Contains(strings.ToLower(v), "accept-encoding") {
		t.Errorf("compressed reply Vary %q, want Accept-Encoding", v)
	}
	if cl := zipped.header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(zipped.body)) {
		t.Errorf("compressed reply Content-Length %s for %d bytes", cl, len(zipped.body))
	}

	small := post("hi", "gzip")
	if ce := small.header.Get("Content-Encoding"); ce != "" || len(small.body) >= 1024 || !json.Valid(small.body) {
		t.Errorf("small reply: Content-Encoding %q, %d bytes: %s", ce, len(small.body), small.body)
	}
}

// TestHardeningSlowBody408: a body that does not arrive within the read
// timeout is a 408 whose body names no socket address.
func TestHardeningSlowBody408(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listen: 127.0.0.1:0
limits: {read_timeout: 300ms, shutdown_timeout: 5s}
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`, mockAddr)), "slow.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, quietLog(), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan gateway.Listeners, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- g.Run(ctx, nil, func(l gateway.Listeners) { started <- l }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var l gateway.Listeners
	select {
	case l = <-started:
	case err := <-runErr:
		runErr <- err
		t.Fatalf("Run ended before listening: %v", err)
	case <-time.After(eventTimeout):
		t.Fatal("Run did not start listening")
	}

	gz := hdGzip(t, []byte(`{"message":"`+strings.Repeat("z", 200)+`"}`))
	for _, tc := range []struct {
		name   string
		header string // after the request line
		chunks []string
	}{
		{"Content-Length", "Content-Length: 100\r\n", hdSplit(strings.Repeat(" ", 99))},
		{"chunked", "Transfer-Encoding: chunked\r\n", hdRepeat("1\r\n \r\n", 99)},
		// The timeout strikes inside the gzip decoder's read.
		{"gzip", fmt.Sprintf("Content-Encoding: gzip\r\nContent-Length: %d\r\n", len(gz)), hdSplit(string(gz[:len(gz)-1]))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdSlowBody408(t, l.HTTP, tc.header, tc.chunks)
		})
	}
}

func hdSplit(s string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i : i+1]
	}
	return out
}

func hdRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// hdSlowBody408 sends a request whose body comes one chunk per 100ms and
// expects a 408 naming no socket address before the chunks run out.
func hdSlowBody408(t *testing.T, addr, header string, chunks []string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(eventTimeout))
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n%s\r\n", pingPath, header); err != nil {
		t.Fatal(err)
	}
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp: resp, body: b, err: err}
	}()
	// The slow client: one chunk every 100ms, until the gateway answers;
	// the body is never complete.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var res result
	sent := 0
wait:
	for {
		select {
		case res = <-got:
			break wait
		case <-tick.C:
			if sent < len(chunks) {
				if _, err := io.WriteString(conn, chunks[sent]); err == nil {
					sent++
				}
			}
		}
	}
	if res.err != nil {
		t.Fatalf("no response after %d body chunks: %v", sent, res.err)
	}
	if res.resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d after %d body chunks, want 408: %s", res.resp.StatusCode, sent, res.body)
	}
	for _, a := range []string{"127.0.0.1", addr, conn.LocalAddr().String(), conn.RemoteAddr().String()} {
		if strings.Contains(string(res.body), a) {
			t.Errorf("the 408 body names the socket address %s: %s", a, res.body)
		}
	}
	if st := hdDecodeStatus(t, res.body); st.Message == "" {
		t.Errorf("408 without a message: %s", res.body)
	}
}

// hdRecorderConfig is the library service served by a recording backend
// (%s) that forwards X-Api-Key, with a raw_paths route.
const hdRecorderConfig = `
descriptors:
  - file: {root}/library.pb
backends:
  rec:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
    headers: [X-Api-Key]
services:
  - name: library.v1.LibraryService
    backend: rec
    unannotated: true
routes:
  - get: /raw/files/{path=**}
    backend: rec
    grpc: library.v1.LibraryService/GetFile
    raw_paths: true
  - get: /v1/shelves/{parent}/titles
    backend: rec
    grpc: library.v1.LibraryService/ListBooks
`

// TestHardeningPathValues: path values with NUL, CR, LF or (unless the
// route takes raw paths) dot segments are refused with a 400 naming the
// variable, and the backend never sees them.
func TestHardeningPathValues(t *testing.T) {
	be, addr := startHdBackend(t)
	tg := startGateway(t, fmt.Sprintf(hdRecorderConfig, addr))
	for _, tc := range []struct {
		name   string
		path   string
		status int
		field  string // the variable a 400 names
		value  string // the value a 200 hands the backend (GetFile's path, field 1)
	}{
		{"dot-dot segment", "/v1/shelves/%2E%2E/books/1", 400, "name", ""},
		{"lower-case dot-dot", "/v1/shelves/%2e%2e/books/1", 400, "name", ""},
		{"dot segment", "/v1/shelves/%2E/books/1", 400, "name", ""},
		{"dot-dot last", "/v1/shelves/1/books/%2E%2E", 400, "name", ""},
		{"NUL", "/v1/shelves/a%00b/books/1", 400, "name", ""},
		{"CRLF", "/v1/shelves/a%0D%0AX-Injected:%201/books/1", 400, "name", ""},
		{"single-segment decoded slash", "/v1/shelves/..%2Fsecret/titles", 400, "parent", ""},
		{"single-segment dot-dot", "/v1/shelves/%2E%2E/titles", 400, "parent", ""},
		{"** dot-dot", "/v1/files/a/%2E%2E/etc/passwd", 400, "path", ""},
		{"** bare dot-dot", "/v1/files/a/../etc/passwd", 400, "path", ""},
		{"** dot", "/v1/files/./a", 400, "path", ""},
		{"** NUL", "/v1/files/a%00.txt", 400, "path", ""},
		{"** LF", "/v1/files/a/%0A", 400, "path", ""},
		{"raw ** NUL", "/raw/files/a%00.txt", 400, "path", ""},
		{"raw ** CRLF", "/raw/files/a/%0D%0A/b", 400, "path", ""},
		{"plain book", "/v1/shelves/1/books/1", 200, "", ""},
		{"dots inside a segment", "/v1/files/a/..b/c.d./.e", 200, "", "a/..b/c.d./.e"},
		{"raw ** dot-dot", "/raw/files/a/%2E%2E/b", 200, "", "a/../b"},
		{"raw ** bare dot segments", "/raw/files/a/./../b", 200, "", "a/./../b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _, _ := be.snapshot()
			r := hdRaw(t, hdHost(tg.http), "GET "+tc.path+" HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
			after, _, req := be.snapshot()
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				if after != before {
					t.Errorf("the backend was called")
				}
				st := hdDecodeStatus(t, r.body)
				if want := fmt.Sprintf("path variable %q", tc.field); !strings.Contains(st.Message, want) {
					t.Errorf("message %q does not name %s", st.Message, want)
				}
				return
			}
			if after != before+1 {
				t.Fatalf("backend calls %d -> %d", before, after)
			}
			if tc.value != "" {
				if got := hdStringField(t, req, 1); got != tc.value {
					t.Errorf("backend got path %q, want %q", got, tc.value)
				}
			}
		})
	}
}

// TestHardeningMetadataAliases: a client may not set, through
// Grpc-Metadata-*, metadata named like a header the gateway or a proxy
// acts on, nor like one the backend forwards, even when the real header is
// absent; other client metadata still reaches the backend.
func TestHardeningMetadataAliases(t *testing.T) {
	be, addr := startHdBackend(t)
	tg := startGateway(t, fmt.Sprintf(hdRecorderConfig, addr))
	for _, name := range []string{
		"Grpc-Metadata-Authorization",
		"Grpc-Metadata-Proxy-Authorization",
		"Grpc-Metadata-Cookie",
		"Grpc-Metadata-Traceparent",
		"Grpc-Metadata-Tracestate",
		"Grpc-Metadata-X-Forwarded-For",
		"Grpc-Metadata-X-Forwarded-Host",
		"Grpc-Metadata-X-Forwarded-Proto",
		"Grpc-Metadata-Forwarded",
		"Grpc-Metadata-X-Real-Ip",
		"Grpc-Metadata-X-Request-Id",
		"Grpc-Metadata-X-Api-Key", // the backend's headers: [X-Api-Key]
	} {
		t.Run(name, func(t *testing.T) {
			before, _, _ := be.snapshot()
			r := do(t, "POST", tg.http.URL+pingPath, []byte(`{}`), map[string]string{"Content-Type": "application/json", name: "forged"})
			after, _, _ := be.snapshot()
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if st := hdDecodeStatus(t, r.body); !strings.Contains(st.Message, name) {
				t.Errorf("message %q does not name %s", st.Message, name)
			}
			if after != before {
				t.Errorf("the backend was called")
			}
		})
	}
	t.Run("ordinary metadata", func(t *testing.T) {
		r := do(t, "POST", tg.http.URL+pingPath, []byte(`{}`), map[string]string{
			"Content-Type": "application/json", "Grpc-Metadata-X-Tenant": "acme", "X-Api-Key": "k1"})
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		_, md, _ := be.snapshot()
		if got := md.Get("x-tenant"); len(got) != 1 || got[0] != "acme" {
			t.Errorf("x-tenant = %q, want [acme]", got)
		}
		if got := md.Get("x-api-key"); len(got) != 1 || got[0] != "k1" {
			t.Errorf("x-api-key = %q, want [k1] (the real header)", got)
		}
	})
}

// TestHardeningForwardedForLines: several X-Forwarded-For lines reach the
// backend as one list, ending with the client's address.
func TestHardeningForwardedForLines(t *testing.T) {
	be, addr := startHdBackend(t)
	tg := startGateway(t, fmt.Sprintf(hdRecorderConfig, addr))
	r := hdDo(t, http.DefaultClient, "POST", tg.http.URL+pingPath, []byte(`{}`), http.Header{
		"Content-Type":    {"application/json"},
		"X-Forwarded-For": {"203.0.113.7", "198.51.100.2, 192.0.2.1"},
	})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	_, md, _ := be.snapshot()
	want := []string{"203.0.113.7, 198.51.100.2, 192.0.2.1, 127.0.0.1"}
	if got := md.Get("x-forwarded-for"); !reflect.DeepEqual(got, want) {
		t.Errorf("x-forwarded-for = %q, want %q", got, want)
	}
}

// TestHardeningBreakerRefusal: once the breaker is open a call is refused
// at once, not after the retry backoff, the breaker gauge says so and the
// opening is logged once.
func TestHardeningBreakerRefusal(t *testing.T) {
	watch, lines := new(logWatch), new(hdLogBuf)
	log := slog.New(slog.NewTextHandler(io.MultiWriter(watch, lines), nil))
	tg := startGatewayLog(t, log, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  dead:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
    retry: {attempts: 3, backoff: 200ms, on: [UNAVAILABLE]}
    breaker: {failures: 2, cooldown: 1m}
routes:
  - get: /v1/dead/{name=shelves/*/books/*}
    backend: dead
    grpc: library.v1.LibraryService/GetBook
`, closedAddr(t)))
	opened := watch.next(`msg="circuit breaker opened"`, "backend=dead")
	// Two refused connections open the breaker; the third attempt of the
	// same request meets it.
	if r := do(t, "GET", tg.http.URL+"/v1/dead/shelves/1/books/1", nil, nil); r.status != 503 {
		t.Fatalf("first request: status %d: %s", r.status, r.body)
	}
	await(t, opened, "the breaker to open")

	start := time.Now()
	r := do(t, "GET", tg.http.URL+"/v1/dead/shelves/1/books/1", nil, nil)
	elapsed := time.Since(start)
	if r.status != 503 || !strings.Contains(string(r.body), "circuit breaker open") {
		t.Errorf("with the breaker open: status %d: %s", r.status, r.body)
	}
	// A bound, not a benchmark: retried, the refusal would wait out the
	// 200ms and 400ms backoffs first.
	if elapsed > 150*time.Millisecond {
		t.Errorf("the refusal took %v; want it at once", elapsed)
	}

	m := do(t, "GET", tg.admin.URL+"/metrics", nil, nil)
	if m.status != 200 {
		t.Fatalf("/metrics: %d", m.status)
	}
	if want := `switchboard_backend_breaker_open{backend="dead"} 1`; !strings.Contains(string(m.body), want) {
		var got []string
		for _, line := range strings.Split(string(m.body), "\n") {
			if strings.HasPrefix(line, "switchboard_backend_breaker_open") {
				got = append(got, line)
			}
		}
		t.Errorf("metrics lack %s; have %q", want, got)
	}
	if n := lines.count(`msg="circuit breaker opened"`, "backend=dead"); n != 1 {
		t.Errorf("%d \"circuit breaker opened\" lines for backend dead, want 1", n)
	}
}

// hdNested is a JSON object nested depth levels deep.
func hdNested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + `"leaf"` + strings.Repeat(`}`, depth)
}

// TestHardeningReplyDepth: a Struct as deep as requests may nest comes
// back through the gateway, and a reply the gateway cannot decode or
// render is a 502.
func TestHardeningReplyDepth(t *testing.T) {
	t.Run("Struct round-trips", func(t *testing.T) {
		mockAddr := startMock(t, "library.pb", "library.yaml")
		tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, "", mockAddr))
		// UpdateBook: PATCH /v1/{book.name=shelves/*/books/*}, body "book";
		// the mock answers with the book as sent. Book.extra is a Struct,
		// three levels of messages on the wire per JSON level.
		for _, tc := range []struct {
			depth, status int
		}{
			{40, 200}, // under the default max_json_depth of 64
			// The deepest the default max_json_depth lets through: 64
			// message levels with UpdateBookRequest and the book; the
			// reply must come back as deep as the request went.
			{62, 200},
			{63, 400}, // the request limit, not a 502 on the way back
		} {
			t.Run(fmt.Sprint(tc.depth), func(t *testing.T) {
				extra := hdNested(tc.depth)
				r := do(t, "PATCH", tg.http.URL+"/v1/shelves/1/books/1", []byte(`{"title":"deep","extra":`+extra+`}`), hdJSON)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %.500s", r.status, tc.status, r.body)
				}
				if tc.status != 200 {
					return
				}
				var got struct {
					Name  string `json:"name"`
					Title string `json:"title"`
					Extra any    `json:"extra"`
				}
				if err := json.Unmarshal(r.body, &got); err != nil {
					t.Fatalf("%v: %.300s", err, r.body)
				}
				var want any
				_ = json.Unmarshal([]byte(extra), &want)
				if got.Name != "shelves/1/books/1" || got.Title != "deep" || !reflect.DeepEqual(got.Extra, want) {
					t.Errorf("reply %.300s, want the book as sent", r.body)
				}
			})
		}
	})

	// Book.extra (field 13) holding a Struct nested n levels, as the wire
	// bytes a backend would send.
	deepBook := func(n int) []byte {
		v := map[string]any{"leaf": true}
		for range n - 1 {
			v = map[string]any{"a": v}
		}
		s, err := structpb.NewStruct(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return protowire.AppendBytes(protowire.AppendTag(nil, 13, protowire.BytesType), b)
	}
	title := func(s string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 2, protowire.BytesType), s)
	}
	be, addr := startHdBackend(t)
	tg := startGateway(t, fmt.Sprintf(hdRecorderConfig, addr))
	for _, tc := range []struct {
		name   string
		reply  []byte
		status int
	}{
		{"Struct 40 deep", deepBook(40), 200},
		// Deeper than any request may nest under the default
		// max_json_depth, still within the reply limit (3*64+8 levels).
		{"Struct 63 deep", deepBook(63), 200},
		{"not protobuf", []byte{0xff, 0xff, 0xff}, 502},
		{"truncated field", title("truncated")[:5], 502},
		{"invalid UTF-8 in a string", title("caf\xc3"), 502},
		{"Struct 200 deep", deepBook(200), 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be.setReply(tc.reply)
			r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.status, r.body)
			}
			if tc.status == 502 {
				if st := hdDecodeStatus(t, r.body); st.Message == "" {
					t.Errorf("502 without a message: %s", r.body)
				}
			}
		})
	}
}

// TestHardeningNATSPublishUnconfirmed: a publish nats.go only buffered
// while the server is gone is accepted (202) but is no success for the
// breaker: failure, buffered publish, failure opens a breaker of two.
func TestHardeningNATSPublishUnconfirmed(t *testing.T) {
	ns := startNATSServer(t)

	watch := new(logWatch)
	tg := startGatewayLog(t, watch.logger(), fmt.Sprintf(`
backends:
  bus:
    nats: {url: %q, reconnect_wait: 1h}
    timeout: 300ms
    breaker: {failures: 2, cooldown: 1m}
routes:
  - post: /v1/events
    backend: bus
    nats: {subject: "events.created", mode: publish}
  - get: /v1/ask
    backend: bus
    nats: {subject: "svc.ask"}
`, ns.ClientURL()))
	publish := func() response {
		return do(t, "POST", tg.http.URL+"/v1/events", []byte(`{"n":1}`), hdJSON)
	}
	if r := publish(); r.status != http.StatusAccepted {
		t.Fatalf("publish while connected: %d %s", r.status, r.body)
	}
	disconnected := watch.next(`msg="nats disconnected"`, "backend=bus")
	ns.Shutdown()
	ns.WaitForShutdown()
	await(t, disconnected, "the gateway to notice the NATS server is gone")

	// A request nobody can answer times out: a failure.
	if r := do(t, "GET", tg.http.URL+"/v1/ask", nil, nil); r.status != http.StatusGatewayTimeout {
		t.Fatalf("request while disconnected: %d %s", r.status, r.body)
	}
	// Buffered only: accepted, and no sign the server is up.
	if r := publish(); r.status != http.StatusAccepted {
		t.Fatalf("publish while reconnecting: %d %s", r.status, r.body)
	}
	// The second consecutive failure opens the breaker, unless the
	// buffered publish was counted as a success.
	if r := do(t, "GET", tg.http.URL+"/v1/ask", nil, nil); r.status != http.StatusGatewayTimeout {
		t.Fatalf("second request while disconnected: %d %s", r.status, r.body)
	}
	m := do(t, "GET", tg.admin.URL+"/metrics", nil, nil)
	if want := `switchboard_backend_breaker_open{backend="bus"} 1`; !strings.Contains(string(m.body), want) {
		t.Errorf("metrics lack %s: the buffered publish reset the breaker's failure count", want)
	}
	if r := publish(); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "circuit breaker open") {
		t.Errorf("publish with the breaker open: %d %s", r.status, r.body)
	}
}

// TestHardeningDecodedBudget: what JSON bodies decode into is charged to
// the gateway-wide budget, so concurrent bodies just under the value limit
// cannot together take memory past it: some are refused with 503, and the
// heap stays within a bound of the budget.
func TestHardeningDecodedBudget(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	const budget = 24 << 20
	tg := startGateway(t, fmt.Sprintf(hdLibraryConfig, fmt.Sprintf("limits: {max_inflight_body_bytes: %d}", budget), mockAddr))
	url := tg.http.URL + "/v1/shelves/1/books"
	// 20,000 numbers in a Struct: under the value limit, some 13 MB once
	// decoded (each a google.protobuf.Value).
	body := []byte(`{"title":"x","extra":{"k":[` + strings.Repeat("0,", 19_999) + `0]}}`)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	var refused, served atomic.Int32
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() { // sample the heap while the requests run
		for {
			select {
			case <-stop:
				return
			default:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			runtime.Gosched()
		}
	}()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := do(t, "POST", url, body, hdJSON)
			switch r.status {
			case http.StatusServiceUnavailable:
				if !strings.Contains(string(r.body), "limits.max_inflight_body_bytes") {
					t.Errorf("503 without naming the budget: %s", r.body)
				}
				refused.Add(1)
			default:
				served.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if refused.Load() == 0 {
		t.Errorf("8 bodies of ~13 MB decoded all admitted under a budget of %d bytes", budget)
	}
	if served.Load() == 0 {
		t.Error("no body was served")
	}
	// Generous: the budget, plus the test's own request bodies and the
	// in-process mock's copies, plus slack for the runtime.
	if grown := int64(peak.Load()) - int64(before.HeapInuse); grown > 4*budget {
		t.Errorf("heap grew by %d MB at peak, want under %d MB", grown>>20, 4*budget>>20)
	}
	if held := tg.g.BodyBytesHeld(); held != 0 {
		t.Errorf("%d bytes still held", held)
	}
}

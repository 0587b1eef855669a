package framing

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is an http.Server wired as the gateway wires it, serving
// Listener(tcp) with Guard and ConnContext, whose handler records each
// request it ran and echoes what it saw.
type testServer struct {
	addr string
	mu   sync.Mutex
	ran  []string
}

func (ts *testServer) handled() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.ran)
}

// echo answers "METHOD path body" plus any X-Sum trailer.
func (ts *testServer) echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	ts.mu.Lock()
	ts.ran = append(ts.ran, r.URL.Path)
	ts.mu.Unlock()
	out := r.Method + " " + r.URL.Path + " " + string(body)
	if v := r.Trailer.Get("X-Sum"); v != "" {
		out += " X-Sum=" + v
	}
	_, _ = io.WriteString(w, out)
}

type serverOpt func(*http.Server, *testServer)

// guarded serves with Guard; without it the server is plain net/http.
func guarded(wrap func(http.Handler) http.Handler) serverOpt {
	return func(srv *http.Server, ts *testServer) {
		srv.Handler = wrap(Guard(http.HandlerFunc(ts.echo), nil))
		srv.ConnContext = ConnContext
	}
}

func startServer(t *testing.T, opts ...serverOpt) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(ts.echo)}
	for _, o := range opts {
		o(srv, ts)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(Listener(ln))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ts
}

func plain(h http.Handler) http.Handler { return h }

type response struct {
	status int
	body   string
}

// exchange writes raw on a new connection, all at once or a byte at a
// time, and reads responses until the server closes the connection or,
// once want have come, nothing more arrives for a moment (longer when the
// server is expected to close, so a slow close is not taken for none).
// closed reports whether the server closed it.
func exchange(t *testing.T, addr, raw string, slow bool, want int, closing bool) (got []response, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if !slow {
			_, _ = c.Write([]byte(raw))
			return
		}
		for i := range len(raw) {
			if _, err := c.Write([]byte{raw[i]}); err != nil {
				return // the server has closed: fine, it has answered
			}
			time.Sleep(100 * time.Microsecond) // a slow peer: the behaviour under test, not a wait
		}
	}()
	defer wg.Wait()

	br := bufio.NewReader(c)
	for {
		wait := 10 * time.Second
		if len(got) >= want && !closing {
			wait = 250 * time.Millisecond
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				closed = true
			case slow && errors.Is(err, syscall.ECONNRESET):
				// The server closed while the client was still writing
				// the rest of its bytes, one at a time.
				closed = true
			case errors.Is(err, os.ErrDeadlineExceeded) && len(got) >= want:
			default:
				t.Fatalf("after %d responses: %v", len(got), err)
			}
			return got, closed
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil && !(slow && errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("response %d body: %v", len(got)+1, err)
		}
		got = append(got, response{resp.StatusCode, string(body)})
	}
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

const smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

// fakeHead is a request head carried as body bytes.
const fakeHead = "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"

// clte is the classic CL.TE smuggle: a front end framing by Content-Length
// sees one request; net/http, reading chunked, would see two.
func clte(te, cl string) string {
	rest := "0\r\n\r\n" + smuggled
	return fmt.Sprintf("POST /outer HTTP/1.1\r\nHost: x\r\n%s\r\n%s: %d\r\n\r\n%s", te, cl, len(rest), rest)
}

// refused is a head that must be refused, with a smuggled request behind it.
func refused(headers string) string {
	return "POST /outer HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n0\r\n\r\n" + smuggled
}

type connCase struct {
	name     string
	raw      string
	statuses []int
	bodies   []string // expected bodies, "" for any
	closed   bool
	ran      []string // handler runs, in order
	head     error    // CheckHead of the first head, when set
}

var connCases = []connCase{
	{name: "CL+TE with a smuggled request", raw: clte("Transfer-Encoding: chunked", "Content-Length"),
		statuses: []int{400}, bodies: []string{jsonError(ErrBothLengths)}, closed: true, head: ErrBothLengths},
	{name: "HTTP/1.0 keep-alive chunked",
		raw:      "POST /outer HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + smuggled,
		statuses: []int{400}, bodies: []string{jsonError(ErrTEInHTTP10)}, closed: true, head: ErrTEInHTTP10},
	{name: "three good requests pipelined",
		raw: get("/a") +
			"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
			"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n",
		statuses: []int{200, 200, 200}, bodies: []string{"GET /a ", "POST /b hello", "POST /c hello world X-Sum=11"},
		ran: []string{"/a", "/b", "/c"}},
	{name: "good then bad", raw: get("/a") + clte("Transfer-Encoding: chunked", "Content-Length"),
		statuses: []int{200, 400}, bodies: []string{"GET /a ", jsonError(ErrBothLengths)}, closed: true, ran: []string{"/a"}},
	{name: "head-like bytes in a Content-Length body",
		raw:      fmt.Sprintf("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(fakeHead), fakeHead) + get("/b"),
		statuses: []int{200, 200}, bodies: []string{"POST /a " + fakeHead, "GET /b "}, ran: []string{"/a", "/b"}},
	{name: "head-like bytes in a chunked body",
		raw:      fmt.Sprintf("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(fakeHead), fakeHead) + get("/b"),
		statuses: []int{200, 200}, bodies: []string{"POST /a " + fakeHead, "GET /b "}, ran: []string{"/a", "/b"}},
	{name: "CRLF after a POST body",
		raw:      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n" + get("/b"),
		statuses: []int{200, 200}, bodies: []string{"POST /a hi", "GET /b "}, ran: []string{"/a", "/b"}},
	{name: "good OPTIONS * is answered by net/http and not counted",
		raw:      "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get("/a"),
		statuses: []int{200, 200}, bodies: []string{"", "GET /a "}, ran: []string{"/a"}},
	{name: "bad OPTIONS * refuses the next request",
		raw:      "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/a"),
		statuses: []int{200, 400}, bodies: []string{"", jsonError(earlier(ErrBothLengths))}, closed: true, head: ErrBothLengths},

	// Each of these must be refused, by Guard or by net/http itself.
	{name: "lower-case transfer-encoding, upper-case CONTENT-LENGTH", raw: clte("transfer-encoding: chunked", "CONTENT-LENGTH"),
		statuses: []int{400}, bodies: []string{jsonError(ErrBothLengths)}, closed: true, head: ErrBothLengths},
	{name: "gzip, chunked with Content-Length", raw: clte("Transfer-Encoding: gzip, chunked", "Content-Length"),
		statuses: []int{501}, closed: true, head: ErrBothLengths},
	{name: "chunked, chunked", raw: refused("Transfer-Encoding: chunked, chunked\r\n"),
		statuses: []int{501}, closed: true, head: ErrChunkedTwice},
	{name: "obs-fold", raw: refused("X-Fold: a\r\n b\r\nTransfer-Encoding: chunked\r\n"),
		statuses: []int{400}, bodies: []string{jsonError(ErrObsFold)}, closed: true, head: ErrObsFold},
	{name: "obs-fold into Transfer-Encoding", raw: refused("Transfer-Encoding:\r\n chunked\r\n"),
		statuses: []int{400}, bodies: []string{jsonError(ErrObsFold)}, closed: true, head: ErrObsFold},
	{name: "space before colon", raw: refused("Transfer-Encoding : chunked\r\nContent-Length: 5\r\n"),
		statuses: []int{400}, closed: true, head: ErrNameSpace},
	{name: "bare CR", raw: refused("X-A: 1\r2\r\nTransfer-Encoding: chunked\r\n"),
		statuses: []int{400}, closed: true, head: ErrBareCR},
	{name: "Content-Lengths differ", raw: "POST /outer HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello",
		statuses: []int{400}, closed: true, head: ErrContentLengths},
	{name: "Content-Length list", raw: "POST /outer HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello",
		statuses: []int{400}, closed: true, head: ErrContentLength},
}

func jsonError(err error) string {
	msg, _ := json.Marshal(err.Error())
	return `{"code":3,"message":` + string(msg) + `}`
}

func TestConnections(t *testing.T) {
	ts := startServer(t, guarded(plain))
	for _, mode := range []string{"at once", "byte by byte"} {
		t.Run(mode, func(t *testing.T) {
			for _, tc := range connCases {
				t.Run(tc.name, func(t *testing.T) {
					if tc.head != nil {
						if err := CheckHead([]byte(tc.raw)); err != tc.head {
							t.Errorf("CheckHead = %v, want %v", err, tc.head)
						}
					}
					before := len(ts.handled())
					got, closed := exchange(t, ts.addr, tc.raw, mode == "byte by byte", len(tc.statuses), tc.closed)
					checkResponses(t, got, closed, tc)
					if ran := ts.handled()[before:]; !slices.Equal(ran, tc.ran) {
						t.Errorf("handler ran for %q, want %q", ran, tc.ran)
					}
				})
			}
		})
	}
}

func checkResponses(t *testing.T, got []response, closed bool, tc connCase) {
	t.Helper()
	var statuses []int
	for _, r := range got {
		statuses = append(statuses, r.status)
	}
	if !slices.Equal(statuses, tc.statuses) {
		t.Fatalf("statuses %v, want %v (%+v)", statuses, tc.statuses, got)
	}
	for i, want := range tc.bodies {
		if want != "" && got[i].body != want {
			t.Errorf("response %d: body %q, want %q", i+1, got[i].body, want)
		}
	}
	if closed != tc.closed {
		t.Errorf("connection closed: %v, want %v", closed, tc.closed)
	}
}

// TestHolesWithoutGuard shows what the tests above guard against: plain
// net/http answers the smuggled request.
func TestHolesWithoutGuard(t *testing.T) {
	ts := startServer(t)
	for _, raw := range []string{connCases[0].raw, connCases[1].raw} {
		before := len(ts.handled())
		got, _ := exchange(t, ts.addr, raw, false, 2, false)
		if ran := ts.handled()[before:]; len(got) != 2 || !slices.Contains(ran, "/smuggled") {
			t.Errorf("without Guard: %d responses, handler ran for %q; the test no longer shows the hole", len(got), ran)
		}
	}
}

func TestOptionsReachingTheHandler(t *testing.T) {
	ts := startServer(t, guarded(plain), func(srv *http.Server, _ *testServer) { srv.DisableGeneralOptionsHandler = true })
	got, closed := exchange(t, ts.addr, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"+get("/a"), false, 2, false)
	checkResponses(t, got, closed, connCase{statuses: []int{200, 200}, bodies: []string{"OPTIONS * ", "GET /a "}})
	got, closed = exchange(t, ts.addr, "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+get("/a"), false, 1, true)
	checkResponses(t, got, closed, connCase{statuses: []int{400}, bodies: []string{jsonError(ErrBothLengths)}, closed: true})
}

// TestMisaligned: a wrapper that answers a request without Guard shifts
// Guard's count; the request-line check notices and refuses.
func TestMisaligned(t *testing.T) {
	skip := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/skip" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	ts := startServer(t, guarded(skip))
	got, closed := exchange(t, ts.addr, get("/skip")+get("/a"), false, 2, true)
	checkResponses(t, got, closed, connCase{statuses: []int{204, 400}, bodies: []string{"", jsonError(ErrUnverified)}, closed: true})
}

func TestHijackStopsScanning(t *testing.T) {
	stopped := make(chan bool, 1)
	ts := startServer(t, func(srv *http.Server, _ *testServer) {
		srv.ConnContext = ConnContext
		srv.ConnState = ConnState
		srv.Handler = Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				stopped <- false
				return
			}
			defer c.Close()
			s := r.Context().Value(scannerKey{}).(*scanner)
			s.mu.Lock()
			stopped <- s.st == stStopped
			s.mu.Unlock()
		}), nil)
	})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
	if !<-stopped {
		t.Fatal("scanner still running after the conn was hijacked")
	}
	_, _ = io.Copy(io.Discard, c) // wait for the handler to close it
}

// TestBenchHeadSize keeps BenchmarkScan honest about its "400-byte" head.
func TestBenchHeadSize(t *testing.T) {
	if n := len(benchHead); n < 380 || n > 420 {
		t.Errorf("benchmark head is %d bytes", n)
	}
	if !strings.HasSuffix(benchHead, "\r\n\r\n") || CheckHead([]byte(benchHead)) != nil {
		t.Error("benchmark head is not a good head")
	}
}

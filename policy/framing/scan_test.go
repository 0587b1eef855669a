package framing

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCheckHead(t *testing.T) {
	const host = "Host: x\r\n"
	for _, tc := range []struct {
		name, head string
		want       error
	}{
		{"get", "GET / HTTP/1.1\r\n" + host + "\r\n", nil},
		{"bare LF lines", "GET / HTTP/1.1\n" + "Host: x\n\n", nil},
		{"post CL", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\n", nil},
		{"chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", nil},
		{"chunked any case", "POST / HTTP/1.1\r\n" + host + "transfer-ENCODING:  ChUnKeD \t\r\n\r\n", nil},
		{"gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", nil},
		{"TE list over two fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", nil},
		{"identical CLs", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", nil},
		{"HTTP/1.0 CL", "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n", nil},
		{"no blank line", "GET / HTTP/1.1\r\n" + host, nil},
		{"bytes after the head", "GET / HTTP/1.1\r\n\r\nTransfer-Encoding: chunked\r\n", nil},

		{"CL+TE", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrBothLengths},
		{"CL+TE cases", "POST / HTTP/1.1\r\n" + host + "transfer-encoding: chunked\r\nCONTENT-LENGTH: 5\r\n\r\n", ErrBothLengths},
		{"CL+TE gzip, chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", ErrBothLengths},
		{"TE in 1.0", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEInHTTP10},
		{"chunked twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedTwice},
		{"chunked twice over fields", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrChunkedTwice},
		{"chunked not last", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n", ErrTENotChunked},
		{"TE identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", ErrTENotChunked},
		{"TE with parameter", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;x=1\r\n\r\n", ErrTENotChunked},
		{"TE empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: , \r\n\r\n", ErrTEEmpty},
		{"TE long s", "POST / HTTP/1.1\r\n" + host + "Tran\u017ffer-Encoding: chunked\r\n\r\n", ErrHeaderName},
		{"CLs differ", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", ErrContentLengths},
		{"CLs differ in spelling", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 05\r\n\r\n", ErrContentLengths},
		{"CL list", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 5\r\n\r\n", ErrContentLength},
		{"CL empty", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", ErrContentLength},
		{"CL signed", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", ErrContentLength},
		{"CL overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", ErrContentLength},
		{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\n 2\r\n\r\n", ErrObsFold},
		{"obs-fold tab", "GET / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\tchunked\r\n\r\n", ErrObsFold},
		{"obs-fold first line", "GET / HTTP/1.1\r\n " + host + "\r\n", ErrObsFold},
		{"space before colon", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n", ErrNameSpace},
		{"tab before colon", "POST / HTTP/1.1\r\n" + host + "Content-Length\t: 5\r\n\r\n", ErrNameSpace},
		{"bad name", "GET / HTTP/1.1\r\n" + host + "X(a): 1\r\n\r\n", ErrHeaderName},
		{"empty name", "GET / HTTP/1.1\r\n" + host + ": 1\r\n\r\n", ErrHeaderName},
		{"no colon", "GET / HTTP/1.1\r\n" + host + "X-A 1\r\n\r\n", ErrNoColon},
		{"bare CR in value", "GET / HTTP/1.1\r\n" + host + "X-A: 1\r2\r\n\r\n", ErrBareCR},
		{"bare CR ends line", "GET / HTTP/1.1\r\n" + host + "X-A: 1\r\r\n\r\n", ErrBareCR},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\n" + host + "\r\n", ErrBareCR},
		{"request line", "GET /\r\n" + host + "\r\n", ErrRequestLine},
		{"blank request line", "\r\n", ErrRequestLine},
		{"version", "GET / HTTP/1.1 \r\n" + host + "\r\n", ErrVersion},
		{"HTTP/2", "PRI * HTTP/2.0\r\n\r\n", ErrVersion},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", ErrVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckHead([]byte(tc.head)); err != tc.want {
				t.Errorf("CheckHead(%q) = %v, want %v", tc.head, err, tc.want)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	for _, err := range []error{ErrBothLengths, earlier(ErrChunkedBody)} {
		st, ok := status.FromError(err)
		if !ok || st.Code() != codes.InvalidArgument || st.Message() != err.Error() {
			t.Errorf("status.FromError(%v) = %v, %v", err, st, ok)
		}
	}
	if err := earlier(ErrBothLengths); !errors.Is(err, ErrEarlier) || !errors.Is(err, ErrBothLengths) {
		t.Errorf("earlier(...) = %v does not wrap both errors", err)
	}
}

// TestChunkSizeLikeNetHTTP compares chunk-size lines with net/http's own
// chunked reader: the scanner must accept exactly what it accepts.
func TestChunkSizeLikeNetHTTP(t *testing.T) {
	for _, line := range []string{
		"5\r\n", "05\r\n", "a\r\n", "A\r\n", "5;ext\r\n", "5;ext=\"v\"\r\n", "5 \r\n", "5\t \r\n",
		"5;e \r\n", "5 ;e\r\n", " 5\r\n", "5\n", "5\r\r\n", "5\rx\r\n", "\r\n", ";\r\n", "x\r\n",
		"0000000000000005\r\n", "00000000000000005\r\n", "-5\r\n", "0x5\r\n",
	} {
		n, ok := parseChunkSize([]byte(line))
		if ok && n > 16 {
			t.Fatalf("test line %q should not have a size above 16", line)
		}
		body := line + strings.Repeat("x", int(n)) + "\r\n0\r\n\r\n"
		_, err := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(strings.NewReader(body))))
		if ok != (err == nil) {
			t.Errorf("%q: scanner ok=%v size %d, net/http error %v", line, ok, n, err)
		}
	}
}

// event is one verdict the scanner reached, as its trace hook saw it.
type event struct {
	line uint64
	err  error
}

func (e event) String() string { return fmt.Sprintf("%x:%v", e.line, e.err) }

type verdicts struct {
	events              []event
	visible, poisonAt   int
	poisonSelf, stopped bool
	queue               []uint64
	maxBuf, maxBufCap   int
}

// feedSplit runs data through a fresh scanner in pieces whose sizes next
// chooses, and reports every verdict and the largest buffer it kept.
func feedSplit(data []byte, limit int, optionsVisible bool, next func() int) verdicts {
	s := newScanner()
	s.limit = limit
	s.optionsVisible = optionsVisible
	var v verdicts
	s.trace = func(line uint64, err error) { v.events = append(v.events, event{line, err}) }
	for len(data) > 0 {
		n := min(next(), len(data))
		s.feed(data[:n])
		data = data[n:]
		v.maxBuf = max(v.maxBuf, len(s.buf))
		v.maxBufCap = max(v.maxBufCap, cap(s.buf))
	}
	v.visible, v.poisonAt, v.poisonSelf, v.stopped = s.visible, s.poisonAt, s.poisonSelf, s.st == stStopped
	v.queue = slices.Clone(s.queue[s.qhead:])
	return v
}

func sameVerdicts(a, b verdicts) bool {
	return slices.Equal(a.events, b.events) && a.visible == b.visible && a.poisonAt == b.poisonAt &&
		a.poisonSelf == b.poisonSelf && a.stopped == b.stopped && slices.Equal(a.queue, b.queue)
}

func whole() int    { return 1 << 30 }
func bytewise() int { return 1 }

func h(line string) uint64 { return hashLine([]byte(line)) }

func TestScanStreams(t *testing.T) {
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	fake := "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
	for _, tc := range []struct {
		name     string
		stream   string
		want     []event
		poisonAt int
		options  bool
	}{
		{name: "pipelined GET, CL, chunked with trailer",
			stream: get("/a") +
				"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
				"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\nX-More: 1\r\n\r\n" +
				get("/d"),
			want: []event{{h("GET /a HTTP/1.1"), nil}, {h("POST /b HTTP/1.1"), nil}, {h("POST /c HTTP/1.1"), nil}, {h("GET /d HTTP/1.1"), nil}}},
		{name: "head-like bytes in a CL body",
			stream: fmt.Sprintf("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(fake), fake) + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {h("GET /b HTTP/1.1"), nil}}},
		{name: "head-like bytes in a chunked body",
			stream: fmt.Sprintf("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(fake), fake) + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {h("GET /b HTTP/1.1"), nil}}},
		{name: "CRLF after a POST body is skipped",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {h("GET /b HTTP/1.1"), nil}}},
		{name: "but not more than 4 bytes of it",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n\r\n\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {0, ErrRequestLine}}, poisonAt: 2},
		{name: "and not after a GET",
			stream: get("/a") + "\r\n" + get("/b"),
			want:   []event{{h("GET /a HTTP/1.1"), nil}, {0, ErrRequestLine}}, poisonAt: 2},
		{name: "good then CL+TE, then nothing more is scanned",
			stream: get("/a") + "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/c"),
			want:   []event{{h("GET /a HTTP/1.1"), nil}, {h("POST /b HTTP/1.1"), ErrBothLengths}}, poisonAt: 2},
		{name: "bad OPTIONS * poisons the next request",
			stream: "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get("/a"),
			want:   []event{{h("OPTIONS * HTTP/1.1"), ErrBothLengths}}, poisonAt: 1},
		{name: "good OPTIONS * is not counted",
			stream: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get("/a"),
			want:   []event{{h("OPTIONS * HTTP/1.1"), nil}, {h("GET /a HTTP/1.1"), nil}}},
		{name: "good OPTIONS * is counted when the handler sees it", options: true,
			stream: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get("/a"),
			want:   []event{{h("OPTIONS * HTTP/1.1"), nil}, {h("GET /a HTTP/1.1"), nil}}},
		{name: "malformed chunk size poisons the next request",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {0, ErrChunkedBody}}, poisonAt: 2},
		{name: "chunk data not followed by CRLF",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {0, ErrChunkedBody}}, poisonAt: 2},
		{name: "chunk line with a bare LF",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {0, ErrChunkedBody}}, poisonAt: 2},
		{name: "bare-LF trailer end",
			stream: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.1"), nil}, {h("GET /b HTTP/1.1"), nil}}},
		{name: "HTTP/1.0 keep-alive chunked",
			stream: "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + get("/b"),
			want:   []event{{h("POST /a HTTP/1.0"), ErrTEInHTTP10}}, poisonAt: 1},
		{name: "h2c preface stops scanning",
			stream: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00",
			want:   []event{{h("PRI * HTTP/2.0"), ErrVersion}}, poisonAt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := feedSplit([]byte(tc.stream), defaultLimit, tc.options, whole)
			if !slices.Equal(ref.events, tc.want) {
				t.Fatalf("verdicts %v, want %v", ref.events, tc.want)
			}
			if ref.poisonAt != tc.poisonAt {
				t.Errorf("poisoned at request %d, want %d", ref.poisonAt, tc.poisonAt)
			}
			for i, next := range []func() int{bytewise, cycle(2, 3, 5, 7), cycle(13, 1, 40)} {
				if got := feedSplit([]byte(tc.stream), defaultLimit, tc.options, next); !sameVerdicts(got, ref) {
					t.Errorf("split %d: %+v, want %+v", i, got, ref)
				}
			}
		})
	}
}

// cycle returns piece sizes going round sizes.
func cycle(sizes ...int) func() int {
	i := 0
	return func() int {
		i++
		return sizes[(i-1)%len(sizes)]
	}
}

func TestHeadBound(t *testing.T) {
	big := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 300) + "\r\n\r\n"
	for _, next := range []func() int{whole, bytewise, cycle(7, 64)} {
		v := feedSplit([]byte(big), 200, false, next)
		if want := []event{{0, ErrHeadTooLarge}}; !slices.Equal(v.events, want) || v.poisonAt != 1 || !v.poisonSelf {
			t.Errorf("verdicts %+v, want %v on request 1", v, want)
		}
		if v.maxBufCap > maxChunkLine {
			t.Errorf("kept a buffer of capacity %d", v.maxBufCap)
		}
	}
	// Exactly at the bound is fine.
	at := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	if v := feedSplit([]byte(at), len(at), false, bytewise); v.poisonAt != 0 || v.maxBuf > len(at) {
		t.Errorf("head of exactly the bound: %+v", v)
	}
}

func TestTooManyPipelined(t *testing.T) {
	stream := strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", maxPending+5)
	v := feedSplit([]byte(stream), defaultLimit, false, whole)
	if v.poisonAt != maxPending+2 || !v.stopped || len(v.queue) != maxPending+1 {
		t.Errorf("poisoned at %d, stopped %v, %d queued", v.poisonAt, v.stopped, len(v.queue))
	}
}

func TestClaim(t *testing.T) {
	req := func(method, uri, proto string) *http.Request {
		return &http.Request{Method: method, RequestURI: uri, Proto: proto, ProtoMajor: 1}
	}
	s := newScanner()
	s.feed([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err := s.claim(requestLine(req("GET", "/a", "HTTP/1.1"))); err != nil {
		t.Fatalf("first request: %v", err)
	}
	// The second head was /b, not /c: the parsers disagree.
	if err := s.claim(requestLine(req("GET", "/c", "HTTP/1.1"))); err != ErrUnverified {
		t.Fatalf("mismatched request: %v", err)
	}
	if err := s.claim(requestLine(req("GET", "/b", "HTTP/1.1"))); err != ErrUnverified {
		t.Fatalf("after a mismatch: %v", err)
	}

	// More requests than heads.
	s = newScanner()
	if err := s.claim(requestLine(req("GET", "/a", "HTTP/1.1"))); err != ErrUnverified {
		t.Fatalf("unseen head: %v", err)
	}

	// A poisoned connection refuses the bad request, then every later one.
	s = newScanner()
	s.feed([]byte("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	if err := s.claim(requestLine(req("GET", "/a", "HTTP/1.1"))); err != ErrBothLengths {
		t.Fatalf("bad head: %v", err)
	}
	if err := s.claim(requestLine(req("GET", "/b", "HTTP/1.1"))); !errors.Is(err, ErrEarlier) || !errors.Is(err, ErrBothLengths) {
		t.Fatalf("after a bad head: %v", err)
	}
}

func TestGuardPassesThrough(t *testing.T) {
	poisoned := newScanner()
	poisoned.feed([]byte("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"))
	ran := 0
	g := Guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran++ }), nil)

	h2 := httptest.NewRequest("GET", "/", nil)
	h2.ProtoMajor, h2.ProtoMinor, h2.Proto = 2, 0, "HTTP/2.0"
	h2 = h2.WithContext(contextWith(h2, poisoned))
	g.ServeHTTP(httptest.NewRecorder(), h2)

	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) // no scanner
	if ran != 2 {
		t.Fatalf("handler ran %d times, want 2", ran)
	}

	// The HTTP/1 request on the poisoned connection is refused.
	h1 := httptest.NewRequest("GET", "/", nil)
	h1.RequestURI = "/"
	h1 = h1.WithContext(contextWith(h1, poisoned))
	w := httptest.NewRecorder()
	g.ServeHTTP(w, h1)
	want := `{"code":3,"message":"Transfer-Encoding is not allowed in HTTP/1.0"}`
	if ran != 2 || w.Code != 400 || w.Body.String() != want || w.Header().Get("Connection") != "close" {
		t.Fatalf("refusal: ran %d, %d %q %v", ran, w.Code, w.Body, w.Header())
	}

	// A custom writer gets the error.
	var got error
	custom := Guard(http.NotFoundHandler(), func(w http.ResponseWriter, _ *http.Request, err error) {
		got = err
		w.WriteHeader(400)
	})
	custom.ServeHTTP(httptest.NewRecorder(), h1)
	if !errors.Is(got, ErrEarlier) || !errors.Is(got, ErrTEInHTTP10) {
		t.Fatalf("custom writer got %v", got)
	}
}

// FuzzScan feeds arbitrary bytes split at arbitrary points. It must never
// panic, never buffer past its bound, and reach the same verdicts whatever
// the splits. It also checks the claim everything rests on: on every head
// both accept, the scanner and net/http agree where requests begin.
func FuzzScan(f *testing.F) {
	fake := "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
			"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		fmt.Sprintf("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sGET /b HTTP/1.1\r\nHost: x\r\n\r\n", len(fake), fake),
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\n\n",
		"GET / HTTP/1.1\r\nX: a\r\n b\r\nTransfer-Encoding : chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(seed), []byte{1})
		f.Add([]byte(seed), []byte{3, 17, 5})
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		limit := 64 + len(cuts)*16 // small, so the bound is reached
		ref := feedSplit(data, limit, false, whole)
		i := 0
		splits := func() int {
			if len(cuts) == 0 {
				return 7
			}
			i++
			return int(cuts[(i-1)%len(cuts)]) + 1
		}
		bound := max(limit, maxChunkLine)
		for _, v := range []verdicts{ref, feedSplit(data, limit, false, splits), feedSplit(data, limit, false, bytewise)} {
			if v.maxBuf > bound || v.maxBufCap > bound {
				t.Fatalf("buffered %d bytes (capacity %d), bound %d", v.maxBuf, v.maxBufCap, bound)
			}
			if !sameVerdicts(v, ref) {
				t.Fatalf("verdicts depend on the splits:\n%+v\n%+v", v, ref)
			}
		}
		agreeWithNetHTTP(t, data, ref.events)
	})
}

// agreeWithNetHTTP parses data as net/http's server would (same request
// parser and body readers, same 4 KiB bufio.Reader, same CR/LF tolerance
// after a POST) and checks that each request it reads whose head the
// scanner judged good has that head's request line.
func agreeWithNetHTTP(t *testing.T, data []byte, events []event) {
	var good []uint64
	for _, e := range events {
		if e.err != nil {
			break
		}
		good = append(good, e.line)
	}
	br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	post := false
	for i := 0; i < len(good); i++ {
		if post {
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			_, _ = br.Discard(n)
		}
		req, err := http.ReadRequest(br)
		if err != nil || req.ProtoMajor != 1 {
			return // net/http would answer with an error and close
		}
		if got := requestLine(req); got != good[i] {
			t.Fatalf("request %d: net/http read %q, the scanner judged another head", i+1, req.Method+" "+req.RequestURI+" "+req.Proto)
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		post = req.Method == "POST"
	}
}

var benchHead = "GET /v1/shelves/12/books?page_size=20&page_token=abc HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-GB,en;q=0.9\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmno\r\n" +
	"X-Request-Id: 6f1c2b9e-1d2a-4c4e-9a1b-7f0e3d2c1b0a\r\n" +
	"Connection: keep-alive\r\n\r\n"

func BenchmarkScan(b *testing.B) {
	post := "POST /v1/shelves/12/books HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n" +
		strings.Repeat("x", 1024)
	for _, bc := range []struct {
		name, req, method, uri string
	}{
		{"GET400", benchHead, "GET", "/v1/shelves/12/books?page_size=20&page_token=abc"},
		{"POST1K", post, "POST", "/v1/shelves/12/books"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := []byte(bc.req)
			r := &http.Request{Method: bc.method, RequestURI: bc.uri, Proto: "HTTP/1.1", ProtoMajor: 1}
			s := newScanner()
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				// One Read with the whole request, then Guard's claim.
				s.feed(p)
				if err := s.claim(requestLine(r)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func contextWith(r *http.Request, s *scanner) context.Context {
	return context.WithValue(r.Context(), scannerKey{}, s)
}

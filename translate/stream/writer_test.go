package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var framings = []Framing{NDJSON, SSE, JSONArray}

// notFound is what translate.MarshalStatus renders for a NOT_FOUND error.
const notFound = `{"code":5,"message":"book \"dune\" not found","details":[{"@type":"type.googleapis.com/google.rpc.RequestInfo","requestId":"r-1"}]}`

var books = []string{
	`{"id":1,"title":"Dune"}`,
	`{"id":2,"title":"Emma","tags":["classic"]}`,
	`{"id":3,"title":"Ubik \"\\n\" ünïcode"}`,
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		framings []Framing // nil: all
		run      func(t *testing.T, w *Writer)
	}{
		{"empty", nil, func(t *testing.T, w *Writer) {
			must(t, w.Close())
		}},
		{"three", nil, func(t *testing.T, w *Writer) {
			for _, b := range books {
				must(t, w.Message([]byte(b), ""))
			}
			must(t, w.Close())
		}},
		{"two_then_error", nil, func(t *testing.T, w *Writer) {
			must(t, w.Message([]byte(books[0]), ""))
			must(t, w.Message([]byte(books[1]), ""))
			must(t, w.Error([]byte(notFound)))
		}},
		{"error_first", nil, func(t *testing.T, w *Writer) {
			must(t, w.Error([]byte(notFound)))
		}},
		{"ids", []Framing{SSE}, func(t *testing.T, w *Writer) {
			must(t, w.Message([]byte(books[0]), "1"))
			must(t, w.Message([]byte(books[1]), "")) // no id line: the client keeps "1"
			must(t, w.Message([]byte(books[2]), "seq:3 ünïcode"))
			must(t, w.Close())
		}},
		{"multiline", nil, func(t *testing.T, w *Writer) {
			must(t, w.Message([]byte("{\n  \"id\": 1,\n  \"title\": \"Dune\"\n}"), ""))
			must(t, w.Message([]byte("{\r\n\"id\":2,\r\"title\":\"Emma\"}\n"), ""))
			must(t, w.Close())
		}},
		{"ping", nil, func(t *testing.T, w *Writer) {
			must(t, w.Ping())
			must(t, w.Message([]byte(books[0]), ""))
			must(t, w.Ping())
			must(t, w.Close())
		}},
	}
	for _, tt := range tests {
		fs := tt.framings
		if fs == nil {
			fs = framings
		}
		for _, f := range fs {
			name := tt.name + "." + f.String()
			t.Run(name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				rec.Header().Set("Grpc-Metadata-Trace", "abc")
				rec.Header().Set("Content-Length", "12")
				w := NewWriter(rec, f)
				tt.run(t, w)
				checkHead(t, rec, f)
				if got := rec.Header().Get("Grpc-Metadata-Trace"); got != "abc" {
					t.Errorf("Grpc-Metadata-Trace = %q, want it kept", got)
				}
				body := rec.Body.Bytes()
				if w.Bytes() != int64(len(body)) {
					t.Errorf("Bytes() = %d, body has %d", w.Bytes(), len(body))
				}
				checkWellFormed(t, f, body)
				golden(t, filepath.Join("testdata", "golden", name), body)
			})
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkHead(t *testing.T, rec *httptest.ResponseRecorder, f Framing) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Errorf("status %d, want 200", rec.Code)
	}
	for k, v := range map[string]string{
		"Content-Type":           f.ContentType(),
		"Cache-Control":          "no-cache",
		"X-Accel-Buffering":      "no",
		"X-Content-Type-Options": "nosniff",
		"Content-Length":         "",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !rec.Flushed {
		t.Error("never flushed")
	}
}

// checkWellFormed parses body the way a client of f would.
func checkWellFormed(t *testing.T, f Framing, body []byte) {
	t.Helper()
	switch f {
	case NDJSON:
		for i, line := range bytes.SplitAfter(body, []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var rec map[string]json.RawMessage
			if !bytes.HasSuffix(line, []byte("\n")) || json.Unmarshal(line, &rec) != nil || len(rec) != 1 ||
				rec["result"] == nil && rec["error"] == nil {
				t.Errorf("NDJSON line %d is not {\"result\"|\"error\": ...}: %q", i+1, line)
			}
		}
	case SSE:
		events, _, incomplete := parseSSE(body)
		if incomplete {
			t.Errorf("SSE body ends inside an event: %q", body)
		}
		for _, e := range events {
			if !json.Valid([]byte(e.Data)) {
				t.Errorf("SSE event data is not JSON: %q", e.Data)
			}
		}
	case JSONArray:
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			t.Errorf("not a JSON array: %v: %q", err, body)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// flushWriter is a ResponseWriter that records how much of the body had
// been flushed at each Flush, and can fail a write or a flush.
type flushWriter struct {
	h         http.Header
	code      int
	body      bytes.Buffer
	flushedAt []int
	writes    int
	failWrite int   // fail the Nth Write (1-based); 0 never
	failFlush int   // fail the Nth Flush; 0 never
	err       error // what fails
}

var errGone = errors.New("client gone")

func newFlushWriter() *flushWriter { return &flushWriter{h: http.Header{}} }

func (w *flushWriter) Header() http.Header { return w.h }
func (w *flushWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *flushWriter) Write(b []byte) (int, error) {
	w.writes++
	if w.failWrite != 0 && w.writes >= w.failWrite {
		n := len(b) / 2 // a partial write, as a broken connection gives
		w.body.Write(b[:n])
		return n, w.err
	}
	return w.body.Write(b)
}

// FlushError is what http.ResponseController calls, so a flush can fail.
func (w *flushWriter) FlushError() error {
	w.flushedAt = append(w.flushedAt, w.body.Len())
	if w.failFlush != 0 && len(w.flushedAt) >= w.failFlush {
		return w.err
	}
	return nil
}

func TestEveryMessageFlushed(t *testing.T) {
	for _, f := range framings {
		t.Run(f.String(), func(t *testing.T) {
			fw := newFlushWriter()
			w := NewWriter(fw, f)
			w.Start()
			if len(fw.flushedAt) != 1 || fw.flushedAt[0] != 0 || fw.code != 200 {
				t.Fatalf("Start: flushes %v, code %d; want the head flushed alone", fw.flushedAt, fw.code)
			}
			w.Start() // once only
			if len(fw.flushedAt) != 1 {
				t.Fatalf("second Start flushed again")
			}
			for i, b := range books {
				must(t, w.Message([]byte(b), "x"))
				if len(fw.flushedAt) != i+2 || fw.flushedAt[i+1] != fw.body.Len() {
					t.Fatalf("after message %d: flushed at %v, body %d bytes", i+1, fw.flushedAt, fw.body.Len())
				}
				if fw.writes != i+1 {
					t.Fatalf("message %d took %d writes in all; want one write per message", i+1, fw.writes)
				}
			}
			if w.Messages() != len(books) {
				t.Errorf("Messages() = %d", w.Messages())
			}
			must(t, w.Ping())
			must(t, w.Close())
			if last := fw.flushedAt[len(fw.flushedAt)-1]; last != fw.body.Len() {
				t.Errorf("the end was not flushed: %d of %d bytes", last, fw.body.Len())
			}
			if w.Bytes() != int64(fw.body.Len()) {
				t.Errorf("Bytes() = %d, body %d", w.Bytes(), fw.body.Len())
			}
		})
	}
}

// TestRealClient has a client read each message while the handler waits to
// write the next, over a real connection whose server buffers 4 KiB: a
// missing flush deadlocks it (and fails at the deadline).
func TestRealClient(t *testing.T) {
	for _, f := range framings {
		t.Run(f.String(), func(t *testing.T) {
			next := make(chan struct{})
			done := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				defer close(done)
				ff, ok := Negotiate(r.Header.Values("Accept"))
				if !ok {
					t.Errorf("Negotiate(%q) failed", r.Header.Values("Accept"))
					return
				}
				w := NewWriter(rw, ff)
				w.Start()
				for _, b := range books {
					select {
					case <-next:
					case <-r.Context().Done():
						return
					}
					if err := w.Message([]byte(b), ""); err != nil {
						t.Error(err)
						return
					}
				}
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
				if err := w.Close(); err != nil {
					t.Error(err)
				}
			}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			req.Header.Set("Accept", f.ContentType())
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err) // the head must arrive before any message
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != f.ContentType() {
				t.Fatalf("Content-Type %q", ct)
			}
			// What each step writes, from a Writer on a recorder.
			frames := expectedFrames(t, f)
			br := bufio.NewReader(resp.Body)
			for i, want := range frames {
				next <- struct{}{}
				got := make([]byte, len(want))
				if _, err := io.ReadFull(br, got); err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("frame %d = %q, want %q", i+1, got, want)
				}
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the stream: %q, %v", rest, err)
			}
			<-done
		})
	}
}

// expectedFrames is the bytes each Message, then Close, writes.
func expectedFrames(t *testing.T, f Framing) [][]byte {
	fw := newFlushWriter()
	w := NewWriter(fw, f)
	var frames [][]byte
	prev := 0
	for _, b := range books {
		must(t, w.Message([]byte(b), ""))
		frames = append(frames, bytes.Clone(fw.body.Bytes()[prev:]))
		prev = fw.body.Len()
	}
	must(t, w.Close())
	return append(frames, bytes.Clone(fw.body.Bytes()[prev:]))
}

func TestWriteFailure(t *testing.T) {
	for _, f := range framings {
		for _, fail := range []string{"write", "flush"} {
			t.Run(f.String()+"/"+fail, func(t *testing.T) {
				fw := newFlushWriter()
				fw.err = errGone
				if fail == "write" {
					fw.failWrite = 2 // the second message
				} else {
					fw.failFlush = 3 // head, first message, second message
				}
				w := NewWriter(fw, f)
				must(t, w.Message([]byte(books[0]), ""))
				err := w.Message([]byte(books[1]), "")
				if !errors.Is(err, errGone) {
					t.Fatalf("second Message = %v, want %v", err, errGone)
				}
				if w.Messages() != 1 {
					t.Errorf("Messages() = %d, want the failed one uncounted", w.Messages())
				}
				writes, flushes, n := fw.writes, len(fw.flushedAt), fw.body.Len()
				if w.Bytes() != int64(n) {
					t.Errorf("Bytes() = %d, want the %d written, partial write included", w.Bytes(), n)
				}
				calls := map[string]func() error{
					"Message": func() error { return w.Message([]byte(books[2]), "") },
					"Ping":    w.Ping,
					"Error":   func() error { return w.Error([]byte(notFound)) },
					"Close":   w.Close,
				}
				for _, name := range []string{"Message", "Ping", "Error", "Close", "Close"} {
					if got := calls[name](); got != err {
						t.Errorf("%s after failure = %v, want the same %v", name, got, err)
					}
				}
				if fw.writes != writes || len(fw.flushedAt) != flushes || fw.body.Len() != n {
					t.Errorf("wrote after the failure: writes %d→%d, flushes %d→%d, bytes %d→%d",
						writes, fw.writes, flushes, len(fw.flushedAt), n, fw.body.Len())
				}
			})
		}
	}
}

func TestStartFlushFailure(t *testing.T) {
	fw := newFlushWriter()
	fw.err, fw.failFlush = errGone, 1
	w := NewWriter(fw, SSE)
	w.Start()
	if err := w.Message([]byte(books[0]), ""); !errors.Is(err, errGone) {
		t.Fatalf("Message after a failed head flush = %v", err)
	}
	if fw.writes != 0 {
		t.Fatalf("wrote %d times after the failure", fw.writes)
	}
}

// A writer that cannot flush (no Flush, no Unwrap) still gets every byte.
type plainWriter struct {
	h    http.Header
	body bytes.Buffer
}

func (w *plainWriter) Header() http.Header         { return w.h }
func (w *plainWriter) WriteHeader(int)             {}
func (w *plainWriter) Write(b []byte) (int, error) { return w.body.Write(b) }

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) WriteHeader(int)             {}
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) Flush()                      {}

func TestNoFlusher(t *testing.T) {
	pw := &plainWriter{h: http.Header{}}
	w := NewWriter(pw, NDJSON)
	must(t, w.Message([]byte(books[0]), ""))
	must(t, w.Close())
	if want := `{"result":` + books[0] + "}\n"; pw.body.String() != want {
		t.Fatalf("body %q, want %q", pw.body.String(), want)
	}
}

func TestMisuse(t *testing.T) {
	for _, f := range framings {
		t.Run(f.String(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := NewWriter(rec, f)
			for _, id := range []string{"a\nb", "a\rb", "a\x00b", "\n"} {
				if err := w.Message([]byte(books[0]), id); err == nil {
					t.Errorf("Message with id %q: no error", id)
				}
			}
			if err := w.Message(nil, ""); err == nil {
				t.Error("empty message: no error")
			}
			if err := w.Error(nil); err == nil {
				t.Error("empty status: no error")
			}
			if f != SSE {
				if err := w.Message([]byte("{\n"), ""); err == nil {
					t.Error("a message with a line break that is not JSON: no error")
				}
			}
			if w.Started() || rec.Body.Len() != 0 || w.Messages() != 0 {
				t.Fatalf("a refused call wrote: started %v, body %q", w.Started(), rec.Body.String())
			}
			must(t, w.Message([]byte(books[0]), "ok"))
			if !w.Started() {
				t.Fatal("Started() false after a message")
			}
			must(t, w.Close())
			n := rec.Body.Len()
			must(t, w.Close()) // idempotent
			for name, err := range map[string]error{
				"Message": w.Message([]byte(books[1]), ""),
				"Error":   w.Error([]byte(notFound)),
				"Ping":    w.Ping(),
			} {
				if !errors.Is(err, errClosed) {
					t.Errorf("%s after Close = %v, want errClosed", name, err)
				}
			}
			if rec.Body.Len() != n {
				t.Errorf("wrote after Close: %q", rec.Body.String()[n:])
			}
		})
	}
}

func TestCloseAfterError(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec, JSONArray)
	must(t, w.Error([]byte(notFound)))
	n := rec.Body.Len()
	must(t, w.Close())
	if err := w.Error([]byte(notFound)); !errors.Is(err, errClosed) {
		t.Errorf("second Error = %v", err)
	}
	if rec.Body.Len() != n {
		t.Errorf("wrote after Error: %q", rec.Body.String())
	}
}

func TestNewWriterUnknownFraming(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewWriter(httptest.NewRecorder(), Framing(3))
}

// TestConcurrentPing is for the race detector: a keep-alive timer pings
// while the stream writes.
func TestConcurrentPing(t *testing.T) {
	rec := httptest.NewRecorder()
	w := NewWriter(rec, SSE)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				if err := w.Ping(); err != nil && !errors.Is(err, errClosed) {
					t.Error(err)
					return
				}
			}
		}
	})
	for i := range 100 {
		must(t, w.Message([]byte(books[i%len(books)]), ""))
	}
	close(stop)
	wg.Wait()
	must(t, w.Close())
	events, comments, incomplete := parseSSE(rec.Body.Bytes())
	if len(events) != 100 || incomplete {
		t.Fatalf("%d events (incomplete %v), want 100 whole ones", len(events), incomplete)
	}
	for _, c := range comments {
		if strings.TrimSpace(c) != "ping" {
			t.Fatalf("comment %q", c)
		}
	}
}

func BenchmarkWriterMessage(b *testing.B) {
	for _, f := range framings {
		b.Run(f.String(), func(b *testing.B) {
			w := NewWriter(discardWriter{http.Header{}}, f)
			msg := []byte(books[1])
			b.ReportAllocs()
			for b.Loop() {
				_ = w.Message(msg, "")
			}
		})
	}
}

// TestWriterHold: held messages wait for Flush; the stream's end and
// keep-alives are flushed at once even while held.
func TestWriterHold(t *testing.T) {
	for _, f := range []Framing{NDJSON, SSE, JSONArray} {
		t.Run(f.String(), func(t *testing.T) {
			fw := newFlushWriter()
			w := NewWriter(fw, f)
			w.Start()
			w.Hold(true)
			head := len(fw.flushedAt)
			for i := range 3 {
				if err := w.Message([]byte(`{"n":1}`), strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			if len(fw.flushedAt) != head {
				t.Fatalf("held messages flushed: %v", fw.flushedAt)
			}
			if err := w.Flush(); err != nil || len(fw.flushedAt) != head+1 || fw.flushedAt[head] != fw.body.Len() {
				t.Fatalf("Flush: %v, flushes %v of %d bytes", err, fw.flushedAt, fw.body.Len())
			}
			_ = w.Ping()
			if err := w.Error([]byte(`{"code":14,"message":"x"}`)); err != nil {
				t.Fatal(err)
			}
			if last := fw.flushedAt[len(fw.flushedAt)-1]; last != fw.body.Len() {
				t.Errorf("the error was not flushed while held: %d of %d bytes flushed", last, fw.body.Len())
			}
		})
	}
}

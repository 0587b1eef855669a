package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

type gotLine struct {
	no   int
	line string
}

// readAll reads r to its first error.
func readAll(r *LineReader) ([]gotLine, error) {
	var got []gotLine
	for {
		line, no, err := r.Next()
		if err != nil {
			return got, err
		}
		got = append(got, gotLine{no, string(line)})
	}
}

// jsonString is a JSON string value of exactly n bytes.
func jsonString(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }

func TestLineReader(t *testing.T) {
	errBoom := errors.New("boom")
	big := 100 << 10 // past the read buffer, so long lines are gathered
	tests := []struct {
		name    string
		body    io.Reader
		maxLine int
		want    []gotLine
		wantErr string // "" means io.EOF
	}{
		{"empty", strings.NewReader(""), 0, nil, ""},
		{"only blank", strings.NewReader("\n \n\t\r\n\r\n"), 0, nil, ""},
		{"LF", strings.NewReader("{\"a\":1}\n[2]\n"), 0, []gotLine{{1, `{"a":1}`}, {2, `[2]`}}, ""},
		{"CRLF", strings.NewReader("{\"a\":1}\r\n[2]\r\n"), 0, []gotLine{{1, `{"a":1}`}, {2, `[2]`}}, ""},
		{"mixed", strings.NewReader("1\r\n2\n3"), 0, []gotLine{{1, "1"}, {2, "2"}, {3, "3"}}, ""},
		{"blank lines counted", strings.NewReader("\n  \n{}\n\t\n\r\n[1]\n\n"), 0, []gotLine{{3, "{}"}, {6, "[1]"}}, ""},
		{"final line without newline", strings.NewReader("{}\n\"x\""), 0, []gotLine{{1, "{}"}, {2, `"x"`}}, ""},
		{"surrounding space kept", strings.NewReader("  {} \t\n"), 0, []gotLine{{1, "  {} \t"}}, ""},
		{"CR alone is not a terminator", strings.NewReader("1\r2\n"), 0, nil, "line 1: not a JSON value: "},
		{"exactly maxLine", strings.NewReader("1\n" + jsonString(8) + "\n"), 8, []gotLine{{1, "1"}, {2, jsonString(8)}}, ""},
		{"exactly maxLine CRLF", strings.NewReader(jsonString(8) + "\r\n"), 8, []gotLine{{1, jsonString(8)}}, ""},
		{"exactly maxLine at EOF", strings.NewReader(jsonString(8)), 8, []gotLine{{1, jsonString(8)}}, ""},
		{"one over", strings.NewReader("1\n\n" + jsonString(9) + "\n2\n"), 8, []gotLine{{1, "1"}}, "line 3: longer than 8 bytes"},
		{"one over at EOF", strings.NewReader(jsonString(9)), 8, nil, "line 1: longer than 8 bytes"},
		{"one over CRLF", strings.NewReader(jsonString(9) + "\r\n"), 8, nil, "line 1: longer than 8 bytes"},
		{"long exactly maxLine", strings.NewReader(jsonString(big) + "\r\n" + jsonString(big) + "\n1"), big,
			[]gotLine{{1, jsonString(big)}, {2, jsonString(big)}, {3, "1"}}, ""},
		{"long exactly maxLine at EOF", strings.NewReader("1\n" + jsonString(big)), big,
			[]gotLine{{1, "1"}, {2, jsonString(big)}}, ""},
		{"long one over", strings.NewReader("1\n" + jsonString(big+1) + "\n"), big, []gotLine{{1, "1"}}, "line 2: longer than 102400 bytes"},
		{"long one over CRLF", strings.NewReader(jsonString(big+1) + "\r\n"), big, nil, "line 1: longer than 102400 bytes"},
		{"long one over at EOF", strings.NewReader(jsonString(big + 1)), big, nil, "line 1: longer than 102400 bytes"},
		{"long line in 1-byte reads", iotest.OneByteReader(strings.NewReader(jsonString(20000) + "\r\n2")), 20000,
			[]gotLine{{1, jsonString(20000)}, {2, "2"}}, ""},
		{"endless line", iotest.OneByteReader(io.LimitReader(endless{}, 1<<24)), 1000, nil, "line 1: longer than 1000 bytes"},
		{"default limit", strings.NewReader(jsonString(DefaultMaxLine + 1)), 0, nil, "line 1: longer than 1048576 bytes"},
		{"two values", strings.NewReader("{}\n{} {}\n"), 0, []gotLine{{1, "{}"}}, "line 2: not a JSON value: invalid character '{' after top-level value"},
		{"two numbers", strings.NewReader("1 2"), 0, nil, "line 1: not a JSON value: "},
		{"invalid JSON", strings.NewReader("\n{\"a\":}\n"), 0, nil, "line 2: not a JSON value: invalid character '}'"},
		{"truncated JSON", strings.NewReader("{\"a\":"), 0, nil, "line 1: not a JSON value: "},
		{"invalid UTF-8 in a string", strings.NewReader("\"\xff\"\n"), 0, nil, "line 1: not a JSON value: invalid UTF-8"},
		{"invalid UTF-8 outside a string", strings.NewReader("\xff\n"), 0, nil, "line 1: not a JSON value: "},
		{"BOM", strings.NewReader("\uFEFF{}\n"), 0, nil, "line 1: not a JSON value: "},
		{"reader error", io.MultiReader(strings.NewReader("{}\n\n{\"a\""), iotest.ErrReader(errBoom)), 0,
			[]gotLine{{1, "{}"}}, "line 3: boom"},
		{"reader error at line start", io.MultiReader(strings.NewReader("{}\n"), iotest.ErrReader(errBoom)), 0,
			[]gotLine{{1, "{}"}}, "line 2: boom"},
		{"unexpected EOF", io.MultiReader(strings.NewReader("{}\n"), iotest.ErrReader(io.ErrUnexpectedEOF)), 0,
			[]gotLine{{1, "{}"}}, "line 2: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewLineReader(tt.body, tt.maxLine)
			got, err := readAll(r)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("lines = %.200v\nwant    %.200v", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != io.EOF:
				t.Fatalf("error %v, want io.EOF", err)
			case tt.wantErr != "" && !strings.HasPrefix(fmt.Sprint(err), tt.wantErr):
				t.Fatalf("error %q, want it to start with %q", err, tt.wantErr)
			}
			if strings.HasSuffix(tt.name, "error") && !errors.Is(err, errBoom) {
				t.Errorf("%v does not wrap the reader's error", err)
			}
			var le *LineError
			if errors.As(err, &le) && le.Error() != err.Error() {
				t.Errorf("LineError %q", le)
			}
			// Sticky: the same error, every time.
			for range 2 {
				if line, _, again := r.Next(); again != err || line != nil {
					t.Fatalf("Next after %v = %q, %v", err, line, again)
				}
			}
			if cap(r.long) > r.max+2 {
				t.Errorf("gathered a line in %d bytes, more than maxLine+2", cap(r.long))
			}
		})
	}
}

// TestJSONValidUTF8 documents why LineReader checks UTF-8 itself.
func TestJSONValidUTF8(t *testing.T) {
	if !json.Valid([]byte("\"\xff\"")) {
		t.Log("json.Valid now rejects invalid UTF-8; LineReader's own check is redundant but harmless")
	}
	if reason := invalidJSON([]byte("\"\xff\"")); reason != "invalid UTF-8" {
		t.Fatalf("invalidJSON = %q", reason)
	}
}

func TestLineErrorLineNumber(t *testing.T) {
	_, _, err := NewLineReader(strings.NewReader("\n\n{"), 0).Next()
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 {
		t.Fatalf("%v: want a LineError for line 3", err)
	}
}

// endless is an endless line of 'a'.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// lineSource produces n bytes of NDJSON on the fly, most lines short and
// some of every length up to max, allocating nothing per line so that the
// test measures the reader alone.
type lineSource struct {
	left, max, i int
	pad          []byte
	buf, pending []byte
}

func newLineSource(n, max int) *lineSource {
	return &lineSource{left: n, max: max, pad: []byte(strings.Repeat("x", max)), buf: make([]byte, 0, max+2)}
}

func (s *lineSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pending) == 0 {
			if s.left <= 0 {
				break
			}
			s.i++
			pad := (s.i * 7919) % 200
			switch {
			case s.i%1000 == 0:
				pad = s.max - 40 // now and then, a line near the limit
			case s.i%100 == 0:
				pad = (s.i * 7919) % (s.max - 40)
			}
			b := append(s.buf[:0], `{"i":`...)
			b = strconv.AppendInt(b, int64(s.i), 10)
			b = append(b, `,"pad":"`...)
			b = append(b, s.pad[:pad]...)
			b = append(b, "\"}\r\n"...)
			if len(b) > s.left {
				s.left = 0
				break
			}
			s.left -= len(b)
			s.buf, s.pending = b, b
		}
		c := copy(p[n:], s.pending)
		s.pending = s.pending[c:]
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// TestLineReaderBoundedMemory streams 64 MiB through a reader and checks
// that it holds at most one line: its buffers stay within maxLine plus the
// read buffer, and it allocates next to nothing overall.
func TestLineReaderBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB")
	}
	const maxLine = 64 << 10
	src := newLineSource(64<<20, maxLine)
	r := NewLineReader(src, maxLine)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lines, want := 0, 0
	for {
		line, no, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines++
		if no != lines {
			t.Fatalf("line number %d, want %d", no, lines)
		}
		// The line's own number, read back without decoding it all.
		i := strings.IndexByte(string(line[5:12]), ',')
		if i < 0 {
			t.Fatalf("line %d: %.40q", no, line)
		}
		if want, _ = strconv.Atoi(string(line[5 : 5+i])); want != lines {
			t.Fatalf("line %d holds %d", lines, want)
		}
		if held := cap(r.long) + r.br.Size(); held > maxLine+2+maxReadBuffer {
			t.Fatalf("line %d: holding %d bytes", no, held)
		}
	}
	runtime.ReadMemStats(&after)
	if lines < 1000 {
		t.Fatalf("only %d lines", lines)
	}
	// A generous bound: the reader's buffers (~100 KiB) and the generator's
	// are all that should be allocated for 64 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 { // the race detector adds ~3 MiB
		t.Errorf("allocated %d bytes reading 64 MiB", alloc)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 4<<20 {
		t.Errorf("heap in use grew by %d bytes", grew)
	}
	t.Logf("%d lines, %d bytes allocated", lines, after.TotalAlloc-before.TotalAlloc)
}

func BenchmarkLineReader(b *testing.B) {
	body := strings.Repeat(`{"id":1,"title":"Dune","tags":["classic","sf"]}`+"\n", 1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewLineReader(strings.NewReader(body), 0)
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

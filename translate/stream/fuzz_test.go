package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzLineReader checks LineReader against a simple model that splits the
// whole body at LF: the same lines, numbers and first error, whatever the
// reads' sizes.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\r\n\n[2]\n\"x\""), uint16(16), false)
	f.Add([]byte("{} {}\n"), uint16(0), true)
	f.Add([]byte("\"\xff\"\n1\r"), uint16(3), false)
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint16, oneByte bool) {
		max := int(maxLine)
		var src io.Reader = bytes.NewReader(data)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		r := NewLineReader(src, max)
		if max == 0 {
			max = DefaultMaxLine
		}
		want, wantErr := modelLines(data, max)
		prev := 0
		var got []gotLine
		var err error
		for range len(data) + 2 { // each Next consumes at least one byte, or ends
			var line []byte
			var no int
			line, no, err = r.Next()
			if err != nil {
				break
			}
			if !json.Valid(line) || !utf8.Valid(line) || len(line) > max {
				t.Fatalf("line %d: %q (max %d)", no, line, max)
			}
			if no <= prev {
				t.Fatalf("line number %d after %d", no, prev)
			}
			prev = no
			got = append(got, gotLine{no, string(line)})
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines, model %d\ngot  %+v\nwant %+v", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d = %+v, model %+v", i, got[i], want[i])
			}
		}
		var le *LineError
		switch {
		case wantErr == nil && err != io.EOF:
			t.Fatalf("error %v, model io.EOF", err)
		case wantErr != nil && (!errors.As(err, &le) || le.Line != wantErr.Line ||
			!strings.HasPrefix(le.Reason, wantErr.Reason)):
			t.Fatalf("error %v, model %v", err, wantErr)
		}
		if _, _, again := r.Next(); again != err {
			t.Fatalf("Next after %v = %v", err, again)
		}
	})
}

// modelLines is what LineReader should return for data: its lines split at
// LF, a CR before the LF dropped, blank ones skipped, up to the first error.
func modelLines(data []byte, max int) ([]gotLine, *LineError) {
	var lines []gotLine
	parts := bytes.Split(data, []byte("\n"))
	for i, p := range parts {
		last := i == len(parts)-1
		if last && len(p) == 0 {
			break
		}
		if !last {
			p = bytes.TrimSuffix(p, []byte("\r"))
		}
		switch {
		case len(p) > max:
			return lines, &LineError{i + 1, "longer than"}
		case len(bytes.Trim(p, " \t\r")) == 0:
			continue
		case !json.Valid(p) || !utf8.Valid(p):
			return lines, &LineError{i + 1, "not a JSON value: "}
		}
		lines = append(lines, gotLine{i + 1, string(p)})
	}
	return lines, nil
}

// FuzzSSEMessage checks that no message or id, however hostile, can end its
// SSE event early or add a field: parsed back by the SSE rules, the output
// is exactly one event of data: and id: fields whose data is the message
// with its line breaks normalised to LF.
func FuzzSSEMessage(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "")
	f.Add([]byte("{\n\"a\":1}\r\n\r\nevent: x\rretry: 1\n"), "7")
	f.Add([]byte("\n"), "a:b")
	f.Add([]byte(": comment\n\ndata: x"), " spaced ")
	f.Fuzz(func(t *testing.T, msg []byte, id string) {
		rec := httptest.NewRecorder()
		w := NewWriter(rec, SSE)
		err := w.Message(msg, id)
		refused := len(msg) == 0 || strings.ContainsAny(id, "\r\n\x00")
		if refused {
			if err == nil || rec.Body.Len() != 0 {
				t.Fatalf("Message(%q, %q) = %v, wrote %q; want refused", msg, id, err, rec.Body.Bytes())
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out := rec.Body.Bytes()
		events, comments, incomplete := parseSSE(out)
		if len(events) != 1 || len(comments) != 0 || incomplete {
			t.Fatalf("%d events, comments %q, incomplete %v in %q", len(events), comments, incomplete, out)
		}
		e := events[0]
		for _, name := range e.Fields {
			if name != "data" && name != "id" {
				t.Fatalf("field %q in %q", name, out)
			}
		}
		if e.Type != "" || e.HasID != (id != "") || e.ID != id {
			t.Fatalf("event %+v from id %q", e, id)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\r", "\n")
		if e.Data != want {
			t.Fatalf("data %q, want %q", e.Data, want)
		}
		// The error event is framed the same way.
		rec = httptest.NewRecorder()
		w = NewWriter(rec, SSE)
		if err := w.Error(msg); err != nil {
			t.Fatal(err)
		}
		events, _, incomplete = parseSSE(rec.Body.Bytes())
		if len(events) != 1 || incomplete || events[0].Type != "error" || events[0].Data != want {
			t.Fatalf("error event %+v from %q", events, rec.Body.Bytes())
		}
	})
}

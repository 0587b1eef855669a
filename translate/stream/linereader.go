package stream

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// DefaultMaxLine is the line limit NewLineReader uses when given none: a
// message per line, and no message the gateway takes is larger.
const DefaultMaxLine = 1 << 20

// maxReadBuffer is the most the bufio.Reader holds; a longer line is
// gathered in LineReader.long, up to maxLine.
const maxReadBuffer = 16 << 10

// LineReader reads a request body of newline-delimited JSON values
// (application/x-ndjson), one message per line, incrementally: it never
// holds more than one line (bounded by maxLine) in memory, so a 1 GiB
// upload streams through.
type LineReader struct {
	br     *bufio.Reader
	max    int
	long   []byte // a line longer than br's buffer, gathered; cap ≤ max+2
	lineNo int
	err    error // sticky: every Next after a failure returns it
	errNo  int
}

// NewLineReader reads lines of at most maxLine bytes (without the line
// terminator) from r; maxLine <= 0 means DefaultMaxLine.
func NewLineReader(r io.Reader, maxLine int) *LineReader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	// A buffer that fits the longest line plus CRLF means a line is never
	// copied; past maxReadBuffer, long lines are gathered instead, so that
	// a body of short lines does not cost a megabyte per request.
	size := maxReadBuffer
	if maxLine+2 < size {
		size = maxLine + 2
	}
	return &LineReader{br: bufio.NewReaderSize(r, size), max: maxLine}
}

// LineError is a line of the body that is not a message: too long, or not
// exactly one JSON value. It is the client's fault (a 400), unlike an error
// reading the body, which Next returns wrapped instead.
type LineError struct {
	Line   int    // 1-based, counting blank lines
	Reason string // short, safe to show the client
}

// Error names the line, as a client fixing its body needs.
func (e *LineError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Reason
}

// Next returns the next non-blank line's bytes, without its terminator
// ("\r\n" or "\n"; a final line without one counts), valid until the next
// call, and its 1-based line number in the body, counting blank lines (those
// of only spaces, tabs and CRs) too.
//
// At the end of the body it returns io.EOF. A line longer than maxLine, or
// one that is not exactly one JSON value in valid UTF-8, is a *LineError; an
// error from the underlying reader is returned wrapped with the line number
// (errors.Is and errors.As see through it, for http.MaxBytesError, say).
// After an error every later Next returns the same error.
func (r *LineReader) Next() (line []byte, lineNo int, err error) {
	if r.err != nil {
		return nil, r.errNo, r.err
	}
	for {
		line, err := r.readLine()
		if err != nil {
			r.err, r.errNo = err, r.lineNo
			if err == io.EOF {
				r.errNo = 0
			}
			return nil, r.errNo, err
		}
		if blank(line) {
			continue
		}
		if reason := invalidJSON(line); reason != "" {
			return r.fail(&LineError{Line: r.lineNo, Reason: "not a JSON value: " + reason})
		}
		return line, r.lineNo, nil
	}
}

func (r *LineReader) fail(err error) ([]byte, int, error) {
	r.err, r.errNo = err, r.lineNo
	return nil, r.lineNo, err
}

// readLine reads one line without its terminator, counting it.
func (r *LineReader) readLine() ([]byte, error) {
	r.long = r.long[:0]
	next := r.lineNo + 1
	for {
		chunk, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// No LF yet: every byte is content but a last CR that may start
			// CRLF, so the line is surely too long past max+1.
			if len(r.long)+len(chunk) > r.max+1 {
				r.lineNo = next
				return nil, r.tooLong()
			}
			r.long = appendBounded(r.long, chunk, r.max+2)
			continue
		}
		n := len(r.long) + len(chunk) // the line with its terminator
		switch {
		case err == nil:
			n-- // LF
			if n > 0 && r.lastByte(chunk, n-1) == '\r' {
				n--
			}
		case err == io.EOF:
			if n == 0 {
				return nil, io.EOF
			}
		default:
			r.lineNo = next
			return nil, fmt.Errorf("line %d: %w", next, err)
		}
		r.lineNo = next
		if n > r.max {
			return nil, r.tooLong()
		}
		if len(r.long) == 0 {
			return chunk[:n], nil
		}
		r.long = appendBounded(r.long, chunk, r.max+2)
		return r.long[:n], nil
	}
}

// lastByte is the byte at index i of the line gathered so far (r.long, then
// chunk).
func (r *LineReader) lastByte(chunk []byte, i int) byte {
	if i < len(r.long) {
		return r.long[i]
	}
	return chunk[i-len(r.long)]
}

func (r *LineReader) tooLong() error {
	return &LineError{Line: r.lineNo, Reason: "longer than " + strconv.Itoa(r.max) + " bytes"}
}

// appendBounded appends src to dst, growing it at most to limit bytes of
// capacity, where append would double past it.
func appendBounded(dst, src []byte, limit int) []byte {
	need := len(dst) + len(src)
	if need > cap(dst) {
		c := max(2*cap(dst), need, 4096)
		c = min(c, max(limit, need))
		grown := make([]byte, len(dst), c)
		copy(grown, dst)
		dst = grown
	}
	return append(dst, src...)
}

// blank reports a line of only spaces, tabs and CRs: JSON whitespace, with
// nothing to decode.
func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// invalidJSON is why line is not exactly one JSON value, or "". json.Valid
// rejects two values on a line but not invalid UTF-8 inside a string, which
// RFC 8259 forbids and protojson would reject later with a worse message.
func invalidJSON(line []byte) string {
	if json.Valid(line) {
		if !utf8.Valid(line) {
			return "invalid UTF-8"
		}
		return ""
	}
	var raw json.RawMessage
	err := json.Unmarshal(line, &raw)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return shorten(syn.Error()) + " at byte " + strconv.FormatInt(syn.Offset, 10)
	}
	if err != nil {
		return shorten(err.Error())
	}
	return "invalid"
}

// shorten keeps a reason short whatever the decoder says.
func shorten(s string) string {
	n := 100
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

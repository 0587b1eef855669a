package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
)

// ReadBody reads a request body whose size policy.Limits has capped: a body
// over the limit is a 413, any other read failure a 400.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := readAll(r.Body, r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		var opErr *net.OpError
		var refused *Error
		switch {
		case errors.As(err, &refused):
			return nil, refused // the body budget's 503, say
		case errors.As(err, &tooBig):
			return nil, Refuse(ReasonBodyTooLarge, "request body exceeds the limit of %d bytes", tooBig.Limit)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
			// The read timeout passed: a slow client, not a bad request.
			return nil, &Error{Code: codes.DeadlineExceeded, Reason: ReasonRequestTimeout, Cause: err,
				Message: "request body was not received within the read timeout"}
		case errors.As(err, &opErr):
			// Its text names the sockets: keep that in the log.
			return nil, &Error{Code: codes.InvalidArgument, Cause: err, Message: "the connection failed while the request body was read"}
		}
		return nil, BadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	return body, nil
}

// maxSizeHint bounds the buffer a declared Content-Length sizes up front:
// a client may declare more than it sends, and a larger body grows as it
// arrives.
const maxSizeHint = 64 << 10

// readAll is io.ReadAll with its first buffer sized for the declared
// length (and one byte more, to see the end without growing), not 512
// bytes: most JSON bodies fit in one allocation of their own size.
func readAll(r io.Reader, declared int64) ([]byte, error) {
	size := 512
	if declared > 0 && declared < maxSizeHint {
		size = int(declared) + 1
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Violations collects the problems of one request so that a client learns
// all of them at once. The detail list and the message are bounded: a
// request with ten thousand bad parameters gets a useful answer, not a
// megabyte of them.
type Violations struct {
	list  []*errdetails.BadRequest_FieldViolation
	total int
}

const (
	MaxViolations = 100 // listed in the details; more are only counted
	maxInMessage  = 5   // in the message
)

// Add records one problem with field.
func (vs *Violations) Add(field, desc string) {
	vs.total++
	if len(vs.list) < MaxViolations {
		vs.list = append(vs.list, Violation(field, desc))
	}
}

// Len is how many problems were found, listed or not.
func (vs *Violations) Len() int { return vs.total }

// SetTotal says how many problems there were when the caller listed only
// some of them.
func (vs *Violations) SetTotal(n int) { vs.total = max(n, len(vs.list)) }

// Err is the 400 naming the first problems in its message and listing them
// as google.rpc.BadRequest field violations.
func (vs *Violations) Err() *Error {
	var b strings.Builder
	for i, v := range vs.list {
		if i == maxInMessage {
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.GetDescription())
	}
	if vs.total > maxInMessage {
		fmt.Fprintf(&b, "; and %d more", vs.total-maxInMessage)
	}
	return BadRequest(b.String(), vs.list...)
}

// NotJSON describes a body that is not JSON, with encoding/json's reason
// and its line:column.
func NotJSON(body []byte) string {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := PositionOf(body, int(se.Offset)-1)
		return fmt.Sprintf("request body is not valid JSON: %v (line %d:%d)", se, line, col)
	}
	return "request body is not valid JSON"
}

// PositionOf turns a byte offset in b into a 1-based line and a column
// counted in runes, as protojson reports positions.
func PositionOf(b []byte, off int) (line, col int) {
	b = b[:min(max(off, 0), len(b))]
	line = bytes.Count(b, []byte("\n")) + 1
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return line, utf8.RuneCount(b) + 1
}

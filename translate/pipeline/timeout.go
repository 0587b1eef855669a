package pipeline

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/translate"
)

// Headers by which a client shortens its call's deadline, whatever the
// backend's protocol. Grpc-Timeout uses the gRPC wire format;
// Request-Timeout and X-Request-Timeout take a duration ("250ms", "2s")
// or a number of seconds ("1.5").
const (
	GRPCTimeoutHeader = "Grpc-Timeout"
	TimeoutHeader     = "Request-Timeout"
	XTimeoutHeader    = "X-Request-Timeout"
)

// forever means no limit from the client.
const forever = time.Duration(math.MaxInt64)

// maxTimeoutLen bounds a timeout header's value: no real duration needs
// more, and a megabyte of digits must not reach a parser.
const maxTimeoutLen = 32

// ClientTimeout is the shortest deadline the request's timeout headers
// ask for, and whether any asks for one. A header that is repeated or
// does not parse is a 400 naming it.
func ClientTimeout(h http.Header) (time.Duration, bool, error) {
	best, limited := forever, false
	for _, name := range [...]string{GRPCTimeoutHeader, TimeoutHeader, XTimeoutHeader} {
		vs := h[name]
		if len(vs) == 0 || len(vs) == 1 && vs[0] == "" {
			continue // an empty header asks for nothing
		}
		if len(vs) > 1 {
			return 0, false, timeoutProblem(name, errors.New(name+" is given more than once"))
		}
		var d time.Duration
		var err error
		if name == GRPCTimeoutHeader {
			d, err = ParseGRPCTimeout(vs[0])
		} else {
			d, err = ParseTimeout(vs[0])
		}
		if err != nil {
			return 0, false, timeoutProblem(name, err)
		}
		if d < best {
			best = d
		}
		limited = limited || d < forever
	}
	return best, limited, nil
}

func timeoutProblem(name string, err error) error {
	return translate.BadRequest(err.Error(), translate.Violation(name, err.Error()))
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// ParseGRPCTimeout reads a grpc-timeout value: at most 8 digits and a
// unit, H, M, S, m (milli), u (micro) or n (nano). Note that "1m" is a
// millisecond.
func ParseGRPCTimeout(s string) (time.Duration, error) {
	bad := errors.New("invalid Grpc-Timeout " + strconv.Quote(truncate(s)) + ": want up to 8 digits and a unit H, M, S, m, u or n")
	if len(s) < 2 || len(s) > 9 {
		return 0, bad
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, bad
	}
	if n > uint64(forever/unit) {
		return forever, nil // longer than any backend timeout: no limit from the client
	}
	return time.Duration(n) * unit, nil
}

// ParseTimeout reads a Request-Timeout value: a positive Go duration
// ("250ms", "2s", "1m30s") or a positive decimal number of seconds
// ("1.5", digits and at most one point). A value too long to represent is
// refused rather than guessed at.
func ParseTimeout(s string) (time.Duration, error) {
	bad := errors.New("invalid timeout " + strconv.Quote(truncate(s)) + `: want a positive duration such as "250ms" or "2s", or seconds such as "1.5"`)
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxTimeoutLen {
		return 0, bad
	}
	if c := s[len(s)-1]; c >= '0' && c <= '9' || c == '.' {
		if !decimal(s) {
			return 0, bad
		}
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || !(secs > 0) || secs >= float64(forever/time.Second) {
			return 0, bad
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad
	}
	if d <= 0 {
		return 0, bad
	}
	return d, nil
}

// decimal: digits with at most one point, nothing else (ParseFloat would
// also take "1_0", "0x1p-2" and "1e3").
func decimal(s string) bool {
	point := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !point:
			point = true
		default:
			return false
		}
	}
	return s != "."
}

func truncate(s string) string {
	if len(s) > maxTimeoutLen {
		return s[:maxTimeoutLen] + "..."
	}
	return s
}

func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

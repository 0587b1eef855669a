package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SetHeaders writes the IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers, the
// structured-field form): RateLimit-Policy: "NAME";q=BURST;w=WINDOWSECONDS and
// RateLimit: "NAME";r=REMAINING;t=RESETSECONDS, and when refused, Retry-After (whole seconds, rounded up, at least 1).
//
// Both RateLimit fields are lists, one item per policy, so SetHeaders adds
// its item to what h holds: a request under several policies reports each.
// Retry-After keeps the longer wait when h already has one. Seconds are
// rounded up, so that a client waiting them is never early. Bytes of name
// that a structured-field string cannot hold (outside printable ASCII)
// become '?'.
func SetHeaders(h http.Header, name string, l Limit, d Decision) {
	item := sfString(name)
	h.Add("RateLimit-Policy", item+";q="+strconv.FormatInt(l.Burst, 10)+";w="+strconv.FormatInt(ceilSeconds(l.Window()), 10))
	h.Add("RateLimit", item+";r="+strconv.FormatInt(d.Remaining, 10)+";t="+strconv.FormatInt(ceilSeconds(d.Reset), 10))
	if d.Allowed {
		return
	}
	retry := max(1, ceilSeconds(d.RetryAfter))
	if prev, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && prev > retry {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(retry, 10))
}

// ceilSeconds is d in whole seconds, rounded up; 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// sfString is s as a structured-field string (RFC 8941 §3.3.3).
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

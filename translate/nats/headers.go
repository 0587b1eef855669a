package nats

import (
	"fmt"
	"github.com/switchboard-gw/switchboard/translate"
	"net/http"
	"strings"
)

// DefaultForwardedHeaders always travel from the HTTP request to the NATS
// message, beside Route.Headers: the request id (the one the gateway's
// middleware settled on) and W3C trace context.
var DefaultForwardedHeaders = []string{"X-Request-Id", "Traceparent", "Tracestate"}

// IdempotencyKeyHeader is the request header whose value becomes the
// JetStream message id (Nats-Msg-Id) on jetstream routes.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxIdempotencyKey bounds the key: JetStream keeps every id for the
// stream's duplicate window, so a client must not be able to park
// kilobytes per message there.
const maxIdempotencyKey = 256

// checkForwardHeader validates one Route.Headers entry and returns its
// canonical form. Nats-* names are refused because JetStream reads them as
// instructions (Nats-Msg-Id, Nats-Expected-Last-Sequence, Nats-TTL, ...),
// which a client must not be able to give; the hop-by-hop and framing
// headers mean nothing beyond the HTTP connection.
func checkForwardHeader(name string) (string, error) {
	if !validHeaderName(name) {
		return "", fmt.Errorf("header %q is not a valid HTTP header name", name)
	}
	c := http.CanonicalHeaderKey(name)
	if strings.HasPrefix(c, "Nats-") || translate.HopByHop(c) || c == "Status" || c == "Description" || c == "Host" {
		return "", fmt.Errorf("header %s cannot be forwarded to NATS", c)
	}
	return c, nil
}

// copyReplyHeaders copies reply headers that are safe to show as HTTP
// headers into dst. Dropped: names that are not HTTP tokens or values with
// control characters (a NATS header can carry what HTTP cannot), the NATS
// namespace (Nats-Service-Error*, Nats-Msg-Id, ... and the Status and
// Description of NATS status messages), hop-by-hop and framing headers, and
// those the gateway itself owns (Content-Type, set from the body; Date,
// Server, X-Request-Id). Content-Encoding passes only when the body is
// passed through untouched, since a transcoded body is no longer encoded.
func copyReplyHeaders(dst http.Header, src map[string][]string, passEncoding bool) {
	for k, vs := range src {
		if !validHeaderName(k) {
			continue
		}
		c := http.CanonicalHeaderKey(k)
		switch {
		case strings.HasPrefix(c, "Nats-"), translate.HopByHop(c):
			continue
		case c == "Content-Encoding" && !passEncoding:
			continue
		}
		switch c {
		case "Status", "Description", "Content-Type", "Content-Length", "Date", "Server", "X-Request-Id":
			continue
		}
		if securitySensitive(c) {
			continue
		}
		for _, v := range vs {
			if validHeaderValue(v) {
				dst.Add(c, v)
			}
		}
	}
}

// securitySensitive names response headers that act for the gateway's whole
// origin in a browser (cookies, CORS, redirects, HSTS, CSP, framing). Any
// NATS client allowed to answer a subject could set them, so they never
// pass from a NATS reply to an HTTP response.
func securitySensitive(c string) bool {
	switch c {
	case "Set-Cookie", "Set-Cookie2", "Location", "Refresh", "Strict-Transport-Security", "Www-Authenticate",
		"Alt-Svc", "Clear-Site-Data", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy", "Link":
		return true
	}
	return strings.HasPrefix(c, "Access-Control-") || strings.HasPrefix(c, "Content-Security-Policy") ||
		strings.HasPrefix(c, "Cross-Origin-") || strings.HasPrefix(c, "Proxy-")
}

// validHeaderName: an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue: no control characters but tab (RFC 9110 field-value).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validIdempotencyKey: visible ASCII, bounded.
func validIdempotencyKey(s string) bool {
	if s == "" || len(s) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

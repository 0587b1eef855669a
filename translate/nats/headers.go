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
	if !translate.ValidHeaderName(name) {
		return "", fmt.Errorf("header %q is not a valid HTTP header name", name)
	}
	c := http.CanonicalHeaderKey(name)
	if strings.HasPrefix(c, "Nats-") || translate.HopByHop(c) || c == "Status" || c == "Description" || c == "Host" {
		return "", fmt.Errorf("header %s cannot be forwarded to NATS", c)
	}
	return c, nil
}

// copyReplyHeaders copies the reply headers that are safe to show over
// HTTP (translate.CopySafeHeaders), leaving out the NATS namespace
// (Nats-Service-Error*, Nats-Msg-Id, ...).
func copyReplyHeaders(dst http.Header, src map[string][]string, passEncoding bool) {
	translate.CopySafeHeaders(dst, src, passEncoding, "Nats-")
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

// canonicalKey is http.CanonicalHeaderKey, without its allocation for the
// keys nearly every message carries.
func canonicalKey(k string) string {
	switch k {
	case "x-request-id":
		return "X-Request-Id"
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "content-type":
		return "Content-Type"
	case "nats-msg-id":
		return "Nats-Msg-Id"
	}
	return http.CanonicalHeaderKey(k)
}

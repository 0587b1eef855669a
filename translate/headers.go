package translate

import (
	"encoding/base64"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"
)

// The one set of header rules every protocol shares: which names are
// HTTP tokens, which are metadata keys, which describe a connection, and
// which reply headers may reach a browser.

// ValidHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func ValidHeaderName(s string) bool {
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

// ValidMetadataKey is the gRPC spec's key alphabet (lower case): what a
// header name must be to travel as metadata.
func ValidMetadataKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValidHeaderValue: no control characters but tab (RFC 9110 field-value).
func ValidHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// PrintableASCII reports whether s is all printable ASCII, which is all
// HTTP/2 metadata values may carry.
func PrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// HopByHop reports whether a header describes one HTTP connection (RFC
// 9110 §7.6.1, and the framing headers): HTTP/2 forbids them, and no proxy
// may forward them, whichever way or protocol. Any letter case.
func HopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Host":
		return true
	}
	return false
}

// MetadataToHeader copies metadata into HTTP headers named prefix+key,
// skipping keys reserved reports; binary (-bin) values are base64, as in
// the gRPC HTTP/2 mapping.
func MetadataToHeader(h http.Header, prefix string, md metadata.MD, reserved func(string) bool) {
	for k, vs := range md {
		if reserved != nil && reserved(k) || len(vs) == 0 {
			continue
		}
		// h.Add's work, with the name made canonical in one allocation
		// and the values appended at once.
		key := canonicalPrefixed(prefix, k)
		bin := strings.HasSuffix(k, "-bin")
		dst := h[key]
		for _, v := range vs {
			if bin {
				v = base64.StdEncoding.EncodeToString([]byte(v))
			}
			dst = append(dst, v)
		}
		h[key] = dst
	}
}

// canonicalPrefixed is http.CanonicalHeaderKey(prefix + k), built in one
// allocation.
func canonicalPrefixed(prefix, k string) string {
	n := len(prefix) + len(k)
	if n > 64 {
		return http.CanonicalHeaderKey(prefix + k)
	}
	var buf [64]byte
	b := append(append(buf[:0], prefix...), k...)
	if !ValidHeaderName(string(b)) {
		return string(b) // not a token: CanonicalHeaderKey leaves it as it is
	}
	upper := true
	for i, c := range b {
		switch {
		case upper && c >= 'a' && c <= 'z':
			b[i] = c - ('a' - 'A')
		case !upper && c >= 'A' && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return string(b)
}

// CopySafeHeaders copies reply headers that are safe to show as HTTP
// headers under their own names into dst. Dropped: names that are not
// HTTP tokens or values with control characters (a message header can
// carry what HTTP cannot), names with a prefix in dropPrefixes (a
// protocol's own namespace), hop-by-hop and framing headers, those the
// gateway itself owns (Content-Type, set from the body; Date, Server,
// X-Request-Id), and those that act for the gateway's whole origin in a
// browser. Content-Encoding passes only when passEncoding says the body is
// passed through untouched, since a transcoded body is no longer encoded.
func CopySafeHeaders(dst http.Header, src map[string][]string, passEncoding bool, dropPrefixes ...string) {
	for k, vs := range src {
		if !ValidHeaderName(k) {
			continue
		}
		c := http.CanonicalHeaderKey(k)
		if HopByHop(c) || (c == "Content-Encoding" && !passEncoding) || hasAnyPrefix(c, dropPrefixes) {
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
			if ValidHeaderValue(v) {
				dst.Add(c, v)
			}
		}
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// securitySensitive names response headers that act for the gateway's
// whole origin in a browser (cookies, CORS, redirects, HSTS, CSP,
// framing). Any backend allowed to answer could set them, so they never
// pass from a reply to an HTTP response.
func securitySensitive(c string) bool {
	switch c {
	case "Set-Cookie", "Set-Cookie2", "Location", "Refresh", "Strict-Transport-Security", "Www-Authenticate",
		"Alt-Svc", "Clear-Site-Data", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy", "Link":
		return true
	}
	return strings.HasPrefix(c, "Access-Control-") || strings.HasPrefix(c, "Content-Security-Policy") ||
		strings.HasPrefix(c, "Cross-Origin-") || strings.HasPrefix(c, "Proxy-")
}

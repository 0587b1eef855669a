package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// The walk stops at whichever limit comes first, treating the rest of the
// chain as garbage: a client may send a header of any length, and
// real chains are a handful of hops.
const (
	maxHops        = 32
	maxHeaderBytes = 8 << 10
)

// Resolver finds the client address of a request: the socket's peer, or
// when the peer is a trusted proxy, the rightmost address in
// X-Forwarded-For / Forwarded that is not a trusted proxy (walking right to
// left through trusted hops). A header from an untrusted peer changes
// nothing.
//
// Only entries to the right of the first untrusted hop were written by
// proxies we trust; anything further left may have been written by the
// client. So:
//   - A hop that does not parse (garbage, "unknown", an obfuscated
//     identifier such as "_hidden", a Forwarded element without for=)
//     stops the walk at the last trusted hop seen, the nearest proxy's
//     address, never an address to the left of it.
//   - If every hop is trusted, the leftmost is the client.
//   - At most 32 hops and 8 KiB of header are read, counted from the right;
//     past either the rest is garbage, as above.
//   - Several X-Forwarded-For (or Forwarded) lines are one comma list in
//     order (RFC 9110 §5.3); empty list elements are skipped.
//   - One header is read: the one Header names (X-Forwarded-For unless
//     set to Forwarded), the one the trusted proxies maintain. The other
//     is ignored: a proxy passes on from the client the header it does not
//     maintain, so reading it, or letting its presence change anything,
//     would let a client choose its own address.
//
// The result is unmapped (::ffff:10.0.0.1 is 10.0.0.1) and without zone.
type Resolver struct {
	Trusted Prefixes
	// Header is the header the trusted proxies maintain: HeaderXFF (the
	// default when empty) or HeaderForwarded.
	Header string
}

// The headers a Resolver can read.
const (
	HeaderXFF       = "X-Forwarded-For"
	HeaderForwarded = "Forwarded"
)

// ClientAddr is the client address of req. It is the zero netip.Addr when
// req.RemoteAddr does not parse (a Unix socket's "@", say); callers treat an
// invalid address as in no allow list (Prefixes.Contains is false for it).
func (r Resolver) ClientAddr(req *http.Request) netip.Addr {
	peer, ok := parseNode(req.RemoteAddr)
	if !ok || !r.Trusted.Contains(peer) {
		return peer
	}
	// Indexing the map with canonical keys skips canonicalizing them again;
	// net/http canonicalizes received headers.
	if r.Header == HeaderForwarded {
		return r.walk(peer, req.Header["Forwarded"], forwardedFor)
	}
	return r.walk(peer, req.Header["X-Forwarded-For"], xffNode)
}

// walk goes right to left through the list elements of lines. node picks the
// address text out of one element, false if it has none.
func (r Resolver) walk(peer netip.Addr, lines []string, node func(string) (string, bool)) netip.Addr {
	last := peer
	budget := maxHeaderBytes
	hops := 0
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			rest, elem, more, ok := cutLastElement(line, budget)
			if !ok {
				return last
			}
			budget -= len(elem) + 1
			if elem = trimOWS(elem); elem != "" {
				if hops++; hops > maxHops {
					return last
				}
				text, ok := node(elem)
				if !ok {
					return last
				}
				a, ok := parseNode(text)
				if !ok {
					return last
				}
				if !r.Trusted.Contains(a) {
					return a
				}
				last = a
			}
			if !more {
				break
			}
			line = rest
		}
	}
	return last
}

// cutLastElement splits the last comma-separated element off s, looking at no
// more than limit bytes. Commas inside quoted strings (Forwarded values) do
// not split. ok is false when the element is longer than limit or has an
// unbalanced quote.
func cutLastElement(s string, limit int) (rest, elem string, more, ok bool) {
	stop := max(len(s)-limit-1, -1)
	inQuote := false
	for i := len(s) - 1; i > stop; i-- {
		switch s[i] {
		case '"':
			if escaped(s, i, stop) {
				if !inQuote {
					return "", "", false, false
				}
				continue
			}
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return s[:i], s[i+1:], true, true
			}
		}
	}
	if stop >= 0 || inQuote {
		return "", "", false, false
	}
	return "", s, false, true
}

// escaped reports whether s[i] follows an odd run of backslashes, i.e. is a
// quoted-pair. It looks no further left than stop: a run that reaches it is
// in an element too long to be taken anyway.
func escaped(s string, i, stop int) bool {
	n := 0
	for j := i - 1; j > stop && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// xffNode is an X-Forwarded-For element as it is: the element is the node.
func xffNode(elem string) (string, bool) { return elem, true }

// trimOWS trims RFC 9110's optional whitespace.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// forwardedFor is the value of the for= parameter of one Forwarded element
// (for=192.0.2.60;proto=http;by=203.0.113.43), unquoted. An element without
// for=, with it twice, or malformed, has none.
func forwardedFor(elem string) (string, bool) {
	var value string
	found := false
	for elem != "" {
		pair := elem
		if i := indexUnquoted(elem, ';'); i >= 0 {
			pair, elem = elem[:i], elem[i+1:]
		} else {
			elem = ""
		}
		pair = trimOWS(pair)
		if pair == "" {
			continue
		}
		name, v, ok := strings.Cut(pair, "=")
		if !ok {
			return "", false
		}
		if !strings.EqualFold(trimOWS(name), "for") {
			continue
		}
		if found {
			return "", false // RFC 7239 §4: at most once per element
		}
		found = true
		value = trimOWS(v)
	}
	if !found {
		return "", false
	}
	if strings.HasPrefix(value, `"`) {
		if len(value) < 2 || !strings.HasSuffix(value, `"`) {
			return "", false
		}
		value = value[1 : len(value)-1]
		// No node name needs a quoted-pair; one here is not an address.
		if strings.ContainsAny(value, `"\`) {
			return "", false
		}
	}
	return value, true
}

func indexUnquoted(s string, c byte) int {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case c:
			if !inQuote {
				return i
			}
		}
	}
	return -1
}

// parseNode parses an address with an optional port: 192.0.2.1,
// 192.0.2.1:80, 2001:db8::1, [2001:db8::1], [2001:db8::1]:80. Forwarded's
// obfuscated ports (_p1) are taken; its obfuscated and unknown node names are
// not addresses. The result is unmapped and without zone.
func parseNode(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return netip.Addr{}, false
		}
	}
	var a netip.Addr
	var err error
	switch {
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		if port := s[end+1:]; port != "" && (port[0] != ':' || !validPort(port[1:])) {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(s[1:end]); err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
	case strings.Count(s, ":") == 1:
		host, port, _ := strings.Cut(s, ":")
		if !validPort(port) {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
	default:
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.WithZone("").Unmap(), true
}

func validPort(p string) bool {
	if strings.HasPrefix(p, "_") {
		return validObfuscated(p[1:])
	}
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// validObfuscated is the part after "_" of RFC 7239's obfport.
func validObfuscated(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

package clientaddr

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientAddr checks that whatever the headers hold, the result is the
// peer or an address written in them, and that an untrusted peer's headers
// are ignored. Newlines in the header inputs separate header lines.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:1234", "198.51.100.7, 10.0.0.2", "")
	f.Add("203.0.113.9:1234", "198.51.100.7", "for=198.51.100.8")
	f.Add("10.0.0.1:1234", "", `for="[2001:db8:2::7]:4711";proto=https, for=10.0.0.3`)
	f.Add("[::ffff:10.0.0.1]:443", "::ffff:198.51.100.7\n10.0.0.2", "")
	f.Add("10.0.0.1", "", `for="x, FOR=_hidden, for=unknown`)
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		var xffLines, fwdLines []string
		if xff != "" {
			xffLines = strings.Split(xff, "\n")
		}
		if fwd != "" {
			fwdLines = strings.Split(fwd, "\n")
		}
		got := testTrusted.ClientAddr(request(remote, xffLines, fwdLines))

		peer, _ := parseNode(remote)
		if !testTrusted.Trusted.Contains(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %v resolved to %v", peer, got)
			}
			return
		}
		if got != peer && !mentions(xff+"\n"+fwd, got) {
			t.Fatalf("result %v is neither the peer %v nor in the headers %q %q", got, peer, xff, fwd)
		}
	})
}

// mentions reports whether some run of address characters in s parses as a
// (zones are dropped, as ClientAddr drops them).
func mentions(s string, a netip.Addr) bool {
	isAddrChar := func(r rune) bool {
		return r == '.' || r == ':' || r == '%' || '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
	}
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return !isAddrChar(r) }) {
		tok, _, _ = strings.Cut(tok, "%")
		cands := []string{tok}
		if i := strings.LastIndexByte(tok, ':'); i >= 0 {
			cands = append(cands, tok[:i]) // 192.0.2.1:80
		}
		for _, c := range cands {
			if b, err := netip.ParseAddr(c); err == nil && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}

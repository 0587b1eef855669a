package clientaddr

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// Proxies in these tests: 10.0.0.0/8, 2001:db8:1::/48, 127.0.0.1.
// Clients: 198.51.100.0/24, 203.0.113.0/24, 2001:db8:2::/48.
var testTrusted = Resolver{Trusted: mustPrefixes("10.0.0.0/8", "2001:db8:1::/48", "127.0.0.1")}

func mustPrefixes(ss ...string) Prefixes {
	ps, err := ParsePrefixes(ss)
	if err != nil {
		panic(err)
	}
	return ps
}

func request(remote string, xff, fwd []string) *http.Request {
	req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
	if xff != nil {
		req.Header["X-Forwarded-For"] = xff
	}
	if fwd != nil {
		req.Header["Forwarded"] = fwd
	}
	return req
}

func lines(ss ...string) []string { return ss }

// hops is n distinct trusted addresses, comma-separated, the last 10.0.0.1.
func trustedHops(n int) string {
	var b strings.Builder
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, "10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		if i > 1 {
			b.WriteString(", ")
		}
	}
	return b.String()
}

func TestClientAddr(t *testing.T) {
	mib := strings.Repeat("a", 1<<20)
	tests := []struct {
		name   string
		remote string
		xff    []string
		fwd    []string
		want   string // "" is the zero Addr
	}{
		// The peer alone.
		{"untrusted peer, no headers", "203.0.113.9:1234", nil, nil, "203.0.113.9"},
		{"trusted peer, no headers", "10.0.0.1:1234", nil, nil, "10.0.0.1"},
		{"untrusted peer spoofs XFF", "203.0.113.9:1234", lines("198.51.100.7"), nil, "203.0.113.9"},
		{"untrusted peer spoofs a trusted XFF", "203.0.113.9:1234", lines("10.0.0.2"), nil, "203.0.113.9"},
		{"untrusted peer spoofs Forwarded", "203.0.113.9:1234", nil, lines("for=198.51.100.7"), "203.0.113.9"},
		{"RemoteAddr without port", "10.0.0.1", lines("198.51.100.7"), nil, "198.51.100.7"},
		{"untrusted RemoteAddr without port", "203.0.113.9", lines("198.51.100.7"), nil, "203.0.113.9"},
		{"IPv6 RemoteAddr without port", "2001:db8:1::5", lines("198.51.100.7"), nil, "198.51.100.7"},
		{"empty RemoteAddr", "", lines("198.51.100.7"), nil, ""},
		{"Unix socket RemoteAddr", "@", lines("198.51.100.7"), nil, ""},
		{"garbage RemoteAddr", "not-an-address:80", lines("198.51.100.7"), nil, ""},
		{"RemoteAddr with zone", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"IPv4-mapped peer is trusted", "[::ffff:10.0.0.1]:443", lines("198.51.100.7"), nil, "198.51.100.7"},

		// X-Forwarded-For.
		{"one hop", "10.0.0.1:1", lines("198.51.100.7"), nil, "198.51.100.7"},
		{"prepended fake entries", "10.0.0.1:1", lines("6.6.6.6, 10.9.9.9, 198.51.100.7, 10.0.0.2"), nil, "198.51.100.7"},
		{"every hop trusted: leftmost", "10.0.0.1:1", lines("10.0.0.5, 10.0.0.6"), nil, "10.0.0.5"},
		{"several lines are one list", "10.0.0.1:1", lines("198.51.100.1, 198.51.100.2", "10.0.0.3"), nil, "198.51.100.2"},
		{"several lines, client in the last", "10.0.0.1:1", lines("10.0.0.9", "198.51.100.3, 10.0.0.3"), nil, "198.51.100.3"},
		{"whitespace and empty elements", "10.0.0.1:1", lines(" , 198.51.100.7 ,, \t10.0.0.2 , ", "", " "), nil, "198.51.100.7"},
		{"IPv6 bare", "10.0.0.1:1", lines("2001:db8:2::7"), nil, "2001:db8:2::7"},
		{"IPv6 bracketed", "10.0.0.1:1", lines("[2001:db8:2::7]"), nil, "2001:db8:2::7"},
		{"IPv6 bracketed with port", "10.0.0.1:1", lines("[2001:db8:2::7]:4711, [2001:db8:1::1]:80"), nil, "2001:db8:2::7"},
		{"IPv4 with port", "10.0.0.1:1", lines("198.51.100.7:5555"), nil, "198.51.100.7"},
		{"IPv4-mapped hop is unmapped", "10.0.0.1:1", lines("::ffff:198.51.100.7"), nil, "198.51.100.7"},
		{"IPv4-mapped hop matches 10/8", "10.0.0.1:1", lines("198.51.100.7, ::ffff:10.0.0.9"), nil, "198.51.100.7"},
		{"zone stripped", "10.0.0.1:1", lines("fe80::2%eth0"), nil, "fe80::2"},
		{"bracketed IPv4 is garbage", "10.0.0.1:1", lines("198.51.100.1, [198.51.100.7], 10.0.0.2"), nil, "10.0.0.2"},
		{"port out of range is garbage", "10.0.0.1:1", lines("198.51.100.7:70000"), nil, "10.0.0.1"},
		{"garbage stops the walk", "10.0.0.1:1", lines("198.51.100.7, garbage, 10.0.0.2"), nil, "10.0.0.2"},
		{"unknown in XFF", "10.0.0.1:1", lines("unknown"), nil, "10.0.0.1"},
		{"NUL byte", "10.0.0.1:1", lines("198.51.100.7\x00"), nil, "10.0.0.1"},
		{"CR byte", "10.0.0.1:1", lines("198.51.100.1, 198.51.100.7\r, 10.0.0.2"), nil, "10.0.0.2"},
		{"CR LF smuggled", "10.0.0.1:1", lines("198.51.100.7\r\nX-Evil: 1"), nil, "10.0.0.1"},
		{"NUL in zone", "10.0.0.1:1", lines("fe80::2%\x00"), nil, "10.0.0.1"},
		{"quotes in XFF", "10.0.0.1:1", lines(`"198.51.100.7"`), nil, "10.0.0.1"},
		{"leading zeros", "10.0.0.1:1", lines("198.051.100.7"), nil, "10.0.0.1"},
		{"10,000 trusted hops stop at the 32nd", "10.0.0.1:1", lines("198.51.100.7, " + trustedHops(10000)), nil, "10.0.0.32"},
		{"10,000 lines", "10.0.0.1:1", strings.Split(strings.Repeat("198.51.100.7\n", 9999)+"10.0.0.2", "\n"), nil, "198.51.100.7"},
		{"33 trusted hops hide the client", "10.0.0.1:1", lines("198.51.100.7, " + trustedHops(33)), nil, "10.0.0.32"},
		{"32 trusted hops", "10.0.0.1:1", lines(trustedHops(32)), nil, "10.0.0.32"},
		{"1 MiB element", "10.0.0.1:1", lines(mib), nil, "10.0.0.1"},
		{"1 MiB to the left of the client", "10.0.0.1:1", lines(mib + ", 198.51.100.7, 10.0.0.2"), nil, "198.51.100.7"},
		{"1 MiB of commas", "10.0.0.1:1", lines(strings.Repeat(",", 1<<20) + "10.0.0.2"), nil, "10.0.0.2"},
		{"8 KiB of spaces before the client", "10.0.0.1:1", lines("198.51.100.7" + strings.Repeat(" ", 8<<10) + ", 10.0.0.2"), nil, "10.0.0.2"},

		// Forwarded.
		{"Forwarded quoted IPv6 with port", "10.0.0.1:1", nil, lines(`for="[2001:db8:2::7]:4711"`), "2001:db8:2::7"},
		{"Forwarded obfuscated port", "10.0.0.1:1", nil, lines(`for="[2001:db8:2::7]:_p1"`), "2001:db8:2::7"},
		{"Forwarded quoted IPv4", "10.0.0.1:1", nil, lines(`for="198.51.100.7"`), "198.51.100.7"},
		{"Forwarded several fields", "10.0.0.1:1", nil, lines("for=198.51.100.7;proto=https;by=10.0.0.1"), "198.51.100.7"},
		{"Forwarded for= not first", "10.0.0.1:1", nil, lines(`proto=https; by="[2001:db8:1::1]"; for=198.51.100.7`), "198.51.100.7"},
		{"Forwarded several elements, mixed case", "10.0.0.1:1", nil, lines("For=198.51.100.1, FOR=198.51.100.7;proto=http, for=10.0.0.2"), "198.51.100.7"},
		{"Forwarded several lines", "10.0.0.1:1", nil, lines("for=198.51.100.7", "for=10.0.0.2;proto=https"), "198.51.100.7"},
		{"Forwarded comma inside quotes", "10.0.0.1:1", nil, lines(`for=198.51.100.1, by="a,b";for=198.51.100.7`), "198.51.100.7"},
		{"Forwarded unbalanced quote to the left", "10.0.0.1:1", nil, lines(`for="x, for=198.51.100.7`), "198.51.100.7"},
		{"Forwarded unbalanced quote in a trusted hop", "10.0.0.1:1", nil, lines(`for=198.51.100.1, for="10.0.0.2`), "10.0.0.1"},
		{"Forwarded unknown", "10.0.0.1:1", nil, lines("for=198.51.100.1, for=unknown, for=10.0.0.2"), "10.0.0.2"},
		{"Forwarded obfuscated", "10.0.0.1:1", nil, lines("for=198.51.100.1, for=_hidden"), "10.0.0.1"},
		{"Forwarded obfuscated quoted with port", "10.0.0.1:1", nil, lines(`for="_hidden:_port"`), "10.0.0.1"},
		{"Forwarded element without for", "10.0.0.1:1", nil, lines("for=198.51.100.1, proto=https"), "10.0.0.1"},
		{"Forwarded for twice in one element", "10.0.0.1:1", nil, lines("for=10.0.0.5;for=198.51.100.7"), "10.0.0.1"},
		{"Forwarded quoted-pair", "10.0.0.1:1", nil, lines(`for="198.51.100.\7"`), "10.0.0.1"},
		{"Forwarded empty elements", "10.0.0.1:1", nil, lines(" , for=198.51.100.7;;proto=http ,,"), "198.51.100.7"},
		{"Forwarded pair without =", "10.0.0.1:1", nil, lines("for=198.51.100.7;secure"), "10.0.0.1"},
		{"Forwarded CR in value", "10.0.0.1:1", nil, lines("for=\"198.51.100.7\r\""), "10.0.0.1"},
		{"Forwarded every hop trusted", "10.0.0.1:1", nil, lines(`for=10.0.0.7, for="[2001:db8:1::9]"`), "10.0.0.7"},
		{"Forwarded 1 MiB quoted", "10.0.0.1:1", nil, lines(`for="` + mib + `"`), "10.0.0.1"},
		{"Forwarded 1 MiB of backslashes", "10.0.0.1:1", nil, lines(`for="` + strings.Repeat(`\`, 1<<20) + `"`), "10.0.0.1"},
		{"Forwarded escaped quote in a trusted hop", "10.0.0.1:1", nil, lines(`for=198.51.100.1, by="a\",b";for=10.0.0.2`), "198.51.100.1"},

		// Both headers.
		{"both headers: only X-Forwarded-For is read", "10.0.0.1:1", lines("198.51.100.1"), lines("for=198.51.100.2"), "198.51.100.1"},
		{"both headers: a client's Forwarded cannot turn a denied address into the proxy's", "10.0.0.1:1", lines("203.0.113.5"), lines("by=x"), "203.0.113.5"},
		{"both headers from an untrusted peer", "203.0.113.9:1", lines("198.51.100.1"), lines("for=198.51.100.2"), "203.0.113.9"},
		{"empty Forwarded line is absent", "10.0.0.1:1", lines("198.51.100.1"), lines(""), "198.51.100.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testTrusted
			if tc.xff == nil && tc.fwd != nil {
				r.Header = HeaderForwarded // the proxies maintain Forwarded
			}
			got := r.ClientAddr(request(tc.remote, tc.xff, tc.fwd))
			var want netip.Addr
			if tc.want != "" {
				want = netip.MustParseAddr(tc.want)
			}
			if got != want {
				t.Errorf("ClientAddr = %v, want %v", got, want)
			}
		})
	}
}

// The header a real net/http server parses (canonical keys, several lines)
// resolves the same as the hand-built ones above.
func TestClientAddrParsedRequest(t *testing.T) {
	req := request("10.0.0.1:4711", nil, nil)
	req.Header.Add("x-forwarded-for", "203.0.113.5, 198.51.100.7")
	req.Header.Add("X-FORWARDED-FOR", "10.0.0.3")
	if got := testTrusted.ClientAddr(req); got != netip.MustParseAddr("198.51.100.7") {
		t.Errorf("ClientAddr = %v", got)
	}
}

func BenchmarkClientAddr(b *testing.B) {
	b.Run("XFF 3 hops", func(b *testing.B) {
		req := request("10.0.0.1:4711", lines("203.0.113.5, 198.51.100.7, 10.0.0.3"), nil)
		want := netip.MustParseAddr("198.51.100.7")
		b.ReportAllocs()
		for b.Loop() {
			if testTrusted.ClientAddr(req) != want {
				b.Fatal("wrong address")
			}
		}
	})
	b.Run("Forwarded 3 hops", func(b *testing.B) {
		testTrusted := Resolver{Trusted: testTrusted.Trusted, Header: HeaderForwarded}
		req := request("10.0.0.1:4711", nil, lines(`for=203.0.113.5, for="[2001:db8:2::7]:4711";proto=https, for=10.0.0.3;by=10.0.0.1`))
		want := netip.MustParseAddr("2001:db8:2::7")
		b.ReportAllocs()
		for b.Loop() {
			if testTrusted.ClientAddr(req) != want {
				b.Fatal("wrong address")
			}
		}
	})
	b.Run("XFF 1 MiB", func(b *testing.B) {
		req := request("10.0.0.1:4711", lines(strings.Repeat("a", 1<<20)+", 10.0.0.3"), nil)
		b.ReportAllocs()
		for b.Loop() {
			testTrusted.ClientAddr(req)
		}
	})
}

// With Header: Forwarded, X-Forwarded-For is the header a client may have
// sent through the proxies untouched: ignored.
func TestForwardedOnly(t *testing.T) {
	r := Resolver{Trusted: testTrusted.Trusted, Header: HeaderForwarded}
	if got := r.ClientAddr(request("10.0.0.1:1", lines("203.0.113.5"), lines("for=198.51.100.2"))); got != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("both headers: %v, want the Forwarded client", got)
	}
	if got := r.ClientAddr(request("10.0.0.1:1", lines("198.51.100.9"), nil)); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("X-Forwarded-For alone: %v, want the proxy", got)
	}
}

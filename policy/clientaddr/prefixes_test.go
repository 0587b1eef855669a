package clientaddr

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefixes(t *testing.T) {
	ps, err := ParsePrefixes([]string{
		"10.0.0.0/8",
		" 192.0.2.7 ",
		"2001:db8::/32",
		"2001:db8::1",
		"::ffff:172.16.0.0/108",
		"::ffff:198.51.100.1",
		"10.1.2.3/16",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10.0.0.0/8",
		"192.0.2.7/32",
		"2001:db8::/32",
		"2001:db8::1/128",
		"172.16.0.0/12",
		"198.51.100.1/32",
		"10.1.0.0/16",
	}
	if len(ps) != len(want) {
		t.Fatalf("got %v", ps)
	}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, p, want[i])
		}
	}
	if ps, err := ParsePrefixes(nil); ps != nil || err != nil {
		t.Errorf("ParsePrefixes(nil) = %v, %v", ps, err)
	}
}

func TestParsePrefixesErrors(t *testing.T) {
	for _, tc := range []struct {
		list  []string
		index int
	}{
		{[]string{"10.0.0.0/8", "10.0.0.0/33"}, 1},
		{[]string{"banana"}, 0},
		{[]string{"10.0.0.0/8", "192.0.2.1", ""}, 2},
		{[]string{"fe80::1%eth0"}, 0},
		{[]string{"fe80::/10%eth0"}, 0},
		{[]string{"10.0.0.0/8/8"}, 0},
		{[]string{"010.0.0.1"}, 0},
		{[]string{"10.0.0.1:80"}, 0},
	} {
		_, err := ParsePrefixes(tc.list)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v is not a *ParseError", tc.list, err)
			continue
		}
		if pe.Index != tc.index || pe.Entry != tc.list[tc.index] {
			t.Errorf("%q: error at %d %q, want %d", tc.list, pe.Index, pe.Entry, tc.index)
		}
		if msg := err.Error(); !strings.Contains(msg, "entry ") || !strings.Contains(msg, tc.list[tc.index]) {
			t.Errorf("%q: message %q does not name the entry and its index", tc.list, msg)
		}
	}
}

func TestContains(t *testing.T) {
	ps, err := ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::/32", "::ffff:192.168.0.0/112"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"11.0.0.1", false},
		{"::ffff:10.0.0.1", true}, // 4-in-6 matches the IPv4 prefix
		{"::ffff:11.0.0.1", false},
		{"192.168.3.4", true}, // mapped prefix was normalized to IPv4
		{"::ffff:192.168.3.4", true},
		{"2001:db8::5", true},
		{"2001:db9::5", false},
		{"2001:db8::5%eth0", true}, // zones do not hide an address
		{"::a00:1", false},         // IPv4-compatible, not mapped: not 10.0.0.1
	} {
		if got := ps.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if ps.Contains(netip.Addr{}) {
		t.Error("the zero Addr is in a list")
	}
	all, _ := ParsePrefixes([]string{"0.0.0.0/0", "::/0"})
	if all.Contains(netip.Addr{}) {
		t.Error("the zero Addr is in 0.0.0.0/0 or ::/0")
	}
}

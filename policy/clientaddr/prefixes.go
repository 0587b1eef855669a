// Package clientaddr finds the address of the client behind a request,
// through the forwarding headers of trusted proxies only, and matches
// addresses against CIDR lists.
package clientaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Prefixes is a list of CIDRs (and bare addresses, taken as /32 or /128).
type Prefixes []netip.Prefix

// ParseError is a list entry that is not an address or a CIDR. Index lets a
// config loader point at the entry in its own terms (trusted_proxies[2]).
type ParseError struct {
	Index int
	Entry string
	Err   error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("entry %d (%q) is not an address or CIDR: %v", e.Index, e.Entry, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

var errZone = errors.New("zones are not allowed in an address list")

// ParsePrefixes parses CIDRs and bare addresses. IPv4-mapped IPv6 entries
// (::ffff:10.0.0.0/104) become the IPv4 prefix they mean, so that they
// match the unmapped addresses Contains compares. Host bits are cleared.
func ParsePrefixes(ss []string) (Prefixes, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	ps := make(Prefixes, 0, len(ss))
	for i, s := range ss {
		p, err := parsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, &ParseError{Index: i, Entry: s, Err: err}
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, err
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			// A zone names a link on this host; it means nothing in a list
			// compared with addresses from other hosts' headers.
			return netip.Prefix{}, errZone
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Contains reports whether a is in one of the prefixes. a is compared
// without its zone and unmapped, so ::ffff:10.0.0.1 is in 10.0.0.0/8. The
// zero Addr (an address that did not parse) is in no list.
func (ps Prefixes) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

package jwtauth

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Issuer is one identity provider whose tokens are accepted.
type Issuer struct {
	// Issuer is the exact "iss" value; also the OIDC discovery base
	// ({Issuer}/.well-known/openid-configuration) when JWKSURL is empty.
	Issuer string
	// JWKSURL skips discovery and fetches keys here.
	JWKSURL string
	// Audiences: the token's "aud" must contain one of these.
	Audiences []string
	// Algorithms pins the accepted "alg" values: RS256/384/512,
	// PS256/384/512, ES256/384/512, EdDSA. "none" and HS* are refused: keys
	// come from a public JWKS, so a MAC could only be keyed with public bytes.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat. Zero means
	// DefaultLeeway; negative is invalid. (For practically none, pass
	// time.Millisecond.)
	Leeway time.Duration
}

// DefaultLeeway is the clock skew allowed when Issuer.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// keyKind is the JWK key type an algorithm needs.
type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindOKP
)

type algSpec struct {
	kind  keyKind
	curve string // EC: the curve name the key must have
}

// algorithms are the ones an Issuer may pin, each with the only key type it
// may be verified with (so a key is never used for another family's
// algorithm).
var algorithms = map[jose.SignatureAlgorithm]algSpec{
	jose.RS256: {kind: kindRSA},
	jose.RS384: {kind: kindRSA},
	jose.RS512: {kind: kindRSA},
	jose.PS256: {kind: kindRSA},
	jose.PS384: {kind: kindRSA},
	jose.PS512: {kind: kindRSA},
	jose.ES256: {kind: kindEC, curve: elliptic.P256().Params().Name},
	jose.ES384: {kind: kindEC, curve: elliptic.P384().Params().Name},
	jose.ES512: {kind: kindEC, curve: elliptic.P521().Params().Name},
	jose.EdDSA: {kind: kindOKP},
}

// Validate reports the first configuration mistake, naming the field.
func (i Issuer) Validate() error {
	if i.Issuer == "" {
		return errors.New("issuer: empty")
	}
	where := fmt.Sprintf("issuer %q", i.Issuer)
	if err := checkFetchURL(i.Issuer); err != nil {
		return fmt.Errorf("%s: issuer: %w", where, err)
	}
	if u, _ := url.Parse(i.Issuer); u.RawQuery != "" || u.Fragment != "" {
		// OIDC Discovery §2: the issuer has no query or fragment.
		return fmt.Errorf("%s: issuer: has a query or fragment", where)
	}
	if i.JWKSURL != "" {
		if err := checkFetchURL(i.JWKSURL); err != nil {
			return fmt.Errorf("%s: jwks_url %q: %w", where, i.JWKSURL, err)
		}
	}
	if len(i.Audiences) == 0 {
		return fmt.Errorf("%s: audiences: none given", where)
	}
	for n, a := range i.Audiences {
		if a == "" {
			return fmt.Errorf("%s: audiences[%d]: empty", where, n)
		}
	}
	if len(i.Algorithms) == 0 {
		return fmt.Errorf("%s: algorithms: none given", where)
	}
	for n, a := range i.Algorithms {
		if strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS") {
			return fmt.Errorf("%s: algorithms[%d]: %q is forbidden (unsigned or symmetric; keys come from a public JWKS)", where, n, a)
		}
		if _, ok := algorithms[jose.SignatureAlgorithm(a)]; !ok {
			return fmt.Errorf("%s: algorithms[%d]: %q unknown (want one of %s)", where, n, a, knownAlgorithms())
		}
	}
	if i.Leeway < 0 {
		return fmt.Errorf("%s: leeway: negative (%s)", where, i.Leeway)
	}
	return nil
}

func knownAlgorithms() string {
	names := make([]string, 0, len(algorithms))
	for a := range algorithms {
		names = append(names, string(a))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// checkFetchURL accepts https URLs, and http ones only for loopback hosts
// (tests and the demo): keys fetched in clear text could be swapped on the
// way.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	if u.User != nil {
		return errors.New("carries user info")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("not https (http is allowed for loopback hosts only)")
	}
	return fmt.Errorf("scheme %q: want https", u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA modulus accepted from a JWKS; smaller keys
// are skipped with a log line.
const MinRSABits = 2048

// verificationKey is one usable public key of an issuer.
type verificationKey struct {
	kid   string
	kind  keyKind
	curve string                  // EC only
	alg   jose.SignatureAlgorithm // the JWK's own "alg"; empty allows every algorithm of kind
	key   any                     // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits says whether the key may verify a signature made with alg: the key
// type (and curve) must be the algorithm's, which is what stops one family's
// key being used for another's algorithm.
func (k *verificationKey) fits(alg jose.SignatureAlgorithm) bool {
	spec, ok := algorithms[alg]
	if !ok || spec.kind != k.kind || spec.curve != k.curve {
		return false
	}
	return k.alg == "" || k.alg == alg
}

// keySet is an immutable snapshot of an issuer's keys, swapped whole on a
// refresh so Verify reads it without locks.
type keySet struct {
	byKID map[string][]*verificationKey
	all   []*verificationKey
	kids  []string // sorted, for Status and change logs
}

func (s *keySet) sameKIDs(o *keySet) bool {
	return s != nil && o != nil && slices.Equal(s.kids, o.kids)
}

// skippedKey is a JWK of a set that will never be used, and why.
type skippedKey struct {
	index int
	kid   string
	why   string
}

// jwkFields are the members read before handing a JWK to go-jose, so that
// symmetric and private keys are refused whatever go-jose would do with them.
type jwkFields struct {
	Kty string          `json:"kty"`
	Kid string          `json:"kid"`
	Use string          `json:"use"`
	Alg string          `json:"alg"`
	K   json.RawMessage `json:"k"`
	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	Dp  json.RawMessage `json:"dp"`
	Dq  json.RawMessage `json:"dq"`
	Qi  json.RawMessage `json:"qi"`
}

func (f *jwkFields) private() bool {
	return len(f.D) > 0 || len(f.P) > 0 || len(f.Q) > 0 || len(f.Dp) > 0 || len(f.Dq) > 0 || len(f.Qi) > 0
}

// parseJWKS reads a JWK Set, keeping only public signature keys of the
// supported types. A set with no usable key is an error: it is far more
// likely a provider fault than a real revocation of every key, and the
// previous keys are kept.
func parseJWKS(body []byte) (*keySet, []skippedKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK set: %w", err)
	}
	if doc.Keys == nil {
		return nil, nil, errors.New(`not a JWK set: no "keys" array`)
	}
	set := &keySet{byKID: make(map[string][]*verificationKey)}
	var skipped []skippedKey
	for i, raw := range doc.Keys {
		k, why := parseJWK(raw)
		if why != "" {
			var f jwkFields
			_ = json.Unmarshal(raw, &f)
			skipped = append(skipped, skippedKey{index: i, kid: f.Kid, why: why})
			continue
		}
		set.all = append(set.all, k)
		if len(set.byKID[k.kid]) == 0 {
			set.kids = append(set.kids, k.kid)
		}
		set.byKID[k.kid] = append(set.byKID[k.kid], k)
	}
	if len(set.all) == 0 {
		return nil, skipped, fmt.Errorf("no usable key among %d", len(doc.Keys))
	}
	slices.Sort(set.kids)
	return set, skipped, nil
}

// parseJWK returns the key, or why it is skipped.
func parseJWK(raw json.RawMessage) (*verificationKey, string) {
	var f jwkFields
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, "not a JSON object: " + err.Error()
	}
	switch {
	case f.Kty == "oct" || len(f.K) > 0:
		return nil, `symmetric ("oct") key: a public JWKS must not hold one`
	case f.private():
		return nil, "carries private key material"
	case f.Use != "" && f.Use != "sig":
		return nil, fmt.Sprintf("use %q is not sig", f.Use)
	}
	if f.Alg != "" {
		if _, ok := algorithms[jose.SignatureAlgorithm(f.Alg)]; !ok {
			return nil, fmt.Sprintf("alg %q is not a supported signature algorithm", f.Alg)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, err.Error()
	}
	k := &verificationKey{kid: f.Kid, alg: jose.SignatureAlgorithm(f.Alg), key: jwk.Key}
	switch pub := jwk.Key.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Sprintf("RSA key of %d bits (< %d)", bits, MinRSABits)
		}
		k.kind = kindRSA
	case *ecdsa.PublicKey:
		k.kind, k.curve = kindEC, pub.Curve.Params().Name
	case ed25519.PublicKey:
		k.kind = kindOKP
	default:
		return nil, fmt.Sprintf("unsupported key type %T", jwk.Key)
	}
	if k.alg != "" && !k.fits(k.alg) {
		return nil, fmt.Sprintf("alg %q does not fit the key type", f.Alg)
	}
	return k, ""
}

// fetcher GETs discovery documents and key sets with a size bound.
type fetcher struct {
	client   *http.Client
	timeout  time.Duration
	maxBytes int64
}

func (f *fetcher) get(ctx context.Context, target, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it names the URL again otherwise
		}
		return nil, fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("GET %s: status %s", target, resp.Status)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, fmt.Errorf("GET %s: body of %d bytes exceeds the limit of %d", target, resp.ContentLength, f.maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: read body: %w", target, err)
	}
	if int64(len(body)) > f.maxBytes {
		return nil, fmt.Errorf("GET %s: body exceeds the limit of %d bytes", target, f.maxBytes)
	}
	return body, nil
}

// discover reads the issuer's OIDC discovery document and returns its
// jwks_uri.
func (f *fetcher) discover(ctx context.Context, issuer string) (string, error) {
	target := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := f.get(ctx, target, "application/json")
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery %s: not a JSON object: %w", target, err)
	}
	// OIDC Discovery §4.3: the document must be for exactly this issuer, or
	// a provider could hand out another's keys.
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery %s: issuer %q does not match the configured %q", target, doc.Issuer, issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery %s: no jwks_uri", target)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery %s: jwks_uri %q: %w", target, doc.JWKSURI, err)
	}
	return doc.JWKSURI, nil
}

func (f *fetcher) jwks(ctx context.Context, target string) (*keySet, []skippedKey, error) {
	body, err := f.get(ctx, target, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %w", err)
	}
	set, skipped, err := parseJWKS(body)
	if err != nil {
		return nil, skipped, fmt.Errorf("jwks %s: %w", target, err)
	}
	return set, skipped, nil
}

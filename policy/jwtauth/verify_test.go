package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/switchboard-gw/switchboard/policy/idp"
)

var b64 = base64.RawURLEncoding

// forgeLastByte flips the last byte of the signature, keeping the
// encoding canonical.
func forgeLastByte(tb testing.TB, token string) string {
	tb.Helper()
	i := strings.LastIndexByte(token, '.')
	sig, err := b64.DecodeString(token[i+1:])
	if err != nil {
		tb.Fatal(err)
	}
	sig[len(sig)-1] ^= 0x01
	return token[:i+1] + b64.EncodeToString(sig)
}

// rawToken assembles a token from a header and claims given as JSON text.
func rawToken(header, claims, sig string) string {
	return b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims)) + "." + sig
}

func TestVerify(t *testing.T) {
	t.Parallel()
	providers := map[string]*idp.Provider{
		"ES256": startProvider(t, "ES256"),
		"RS256": startProvider(t, "RS256"),
	}
	v := newVerifier(t, Options{}, issuerOf(providers["ES256"]), issuerOf(providers["RS256"]))
	// Load both issuers' keys before the cases: the cases then never wait.
	for _, p := range providers {
		mustVerify(t, v, mint(t, p, nil))
	}

	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	type tokenFunc func(t *testing.T, p *idp.Provider) string
	cases := []struct {
		name   string
		only   string // run against this provider's algorithm only
		token  tokenFunc
		kind   Kind // 0: accepted
		reason string
	}{
		{name: "valid", token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"sub": "alice", "scope": "read write"})
		}},
		{name: "valid without kid", token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{OmitKeyID: true}, nil)
		}},
		{name: "valid with aud array", token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"aud": []string{"other", testAudience}})
		}},
		{name: "exp within leeway", token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"exp": now.Add(-10 * time.Second)})
		}},
		{name: "forged signature", kind: Invalid, reason: ReasonBadSignature, token: func(t *testing.T, p *idp.Provider) string {
			return forgeLastByte(t, mint(t, p, nil))
		}},
		{name: "forged claims", kind: Invalid, reason: ReasonBadSignature, token: func(t *testing.T, p *idp.Provider) string {
			parts := strings.Split(mint(t, p, map[string]any{"sub": "alice"}), ".")
			parts[1] = b64.EncodeToString([]byte(`{"iss":"` + p.Issuer() + `","aud":"` + testAudience + `","sub":"admin","exp":9999999999}`))
			return strings.Join(parts, ".")
		}},
		{name: "signed by an unpublished key under the current kid", kind: Invalid, reason: ReasonBadSignature, only: "RS256", token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Key: otherRSA, KeyID: p.KeyID()}, nil)
		}},
		{name: "expired", kind: Invalid, reason: ReasonExpired, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"exp": now.Add(-time.Hour), "iat": now.Add(-2 * time.Hour)})
		}},
		{name: "not yet valid", kind: Invalid, reason: ReasonNotYetValid, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"nbf": now.Add(time.Hour), "exp": now.Add(2 * time.Hour)})
		}},
		{name: "issued in the future", kind: Invalid, reason: ReasonIssuedInFuture, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"iat": now.Add(time.Hour), "exp": now.Add(2 * time.Hour)})
		}},
		{name: "wrong audience", kind: Invalid, reason: ReasonWrongAudience, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"aud": "another-api"})
		}},
		{name: "no audience", kind: Invalid, reason: ReasonWrongAudience, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"aud": nil})
		}},
		{name: "wrong issuer", kind: Invalid, reason: ReasonUnknownIssuer, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"iss": "https://evil.example"})
		}},
		{name: "issuer differing by a trailing slash", kind: Invalid, reason: ReasonUnknownIssuer, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"iss": p.Issuer() + "/"})
		}},
		{name: "no issuer", kind: Invalid, reason: ReasonUnknownIssuer, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"iss": nil})
		}},
		{name: "missing exp", kind: Invalid, reason: ReasonMissingExp, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"exp": nil})
		}},
		{name: "exp as a string", kind: Invalid, reason: ReasonBadClaim, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"exp": "9999999999"})
		}},
		{name: "alg none", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Alg: "none"}, nil)
		}},
		{name: "alg None", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Alg: "none", Extra: map[string]any{"alg": "None"}}, nil)
		}},
		{name: "HS256 keyed with the RSA public key, PKIX PEM", only: "RS256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			der, err := x509.MarshalPKIXPublicKey(p.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return mintWith(t, p, idp.Header{Alg: "HS256", HMACSecret: secret}, nil)
		}},
		{name: "HS256 keyed with the RSA public key, PKCS#1 PEM", only: "RS256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			secret := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(p.PublicKey().(*rsa.PublicKey))})
			return mintWith(t, p, idp.Header{Alg: "HS256", HMACSecret: secret}, nil)
		}},
		{name: "HS256 keyed with the RSA public key, DER", only: "RS256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			der, err := x509.MarshalPKIXPublicKey(p.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			return mintWith(t, p, idp.Header{Alg: "HS256", HMACSecret: der}, nil)
		}},
		{name: "HS256 keyed with the EC public key", only: "ES256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			der, err := x509.MarshalPKIXPublicKey(p.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			return mintWith(t, p, idp.Header{Alg: "HS256", HMACSecret: der}, nil)
		}},
		{name: "alg not pinned (RS256 for an ES256 issuer)", only: "ES256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Key: otherRSA, KeyID: p.KeyID()}, nil)
		}},
		{name: "alg not pinned (PS256 for an RS256 issuer)", only: "RS256", kind: Invalid, reason: ReasonAlgNotAllowed, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Alg: "PS256"}, nil)
		}},
		{name: "unknown kid", kind: Invalid, reason: ReasonUnknownKID, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{KeyID: "no-such-key"}, nil)
		}},
		{name: "crit header", kind: Invalid, reason: ReasonUnsupportedHeader, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Extra: map[string]any{"crit": []string{"exp"}, "exp": 1}}, nil)
		}},
		{name: "b64 header", kind: Invalid, reason: ReasonUnsupportedHeader, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Extra: map[string]any{"b64": false}}, nil)
		}},
		{name: "header of 64 KiB", kind: Malformed, reason: ReasonTooLarge, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Extra: map[string]any{"pad": strings.Repeat("A", 64<<10)}}, nil)
		}},
		{name: "header of 5 KiB in a token under 16 KiB", kind: Malformed, reason: ReasonTooLarge, token: func(t *testing.T, p *idp.Provider) string {
			return mintWith(t, p, idp.Header{Extra: map[string]any{"pad": strings.Repeat("A", 5<<10)}}, nil)
		}},
		{name: "claims making the token over 16 KiB", kind: Malformed, reason: ReasonTooLarge, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, map[string]any{"pad": strings.Repeat("A", 16<<10)})
		}},
		{name: "empty", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string { return "" }},
		{name: "three dots", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string { return "..." }},
		{name: "two dots", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string { return ".." }},
		{name: "two segments", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			tok := mint(t, p, nil)
			return tok[:strings.LastIndexByte(tok, '.')]
		}},
		{name: "four segments", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			return mint(t, p, nil) + ".AAAA"
		}},
		{name: "not base64", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string { return "e*J.e*J.abc" }},
		{name: "standard base64 alphabet", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `{}`, "ab+/")
		}},
		{name: "padded base64", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			parts := strings.Split(mint(t, p, nil), ".")
			return parts[0] + "." + base64.URLEncoding.EncodeToString([]byte(`{"iss":"`+p.Issuer()+`"}`)) + "." + parts[2]
		}},
		{name: "newline inside", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			tok := mint(t, p, nil)
			return tok[:10] + "\n" + tok[10:]
		}},
		{name: "non-canonical trailing bits in the signature", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			tok := mint(t, p, nil)
			i := strings.LastIndexByte(tok, '.')
			sig := tok[i+1:]
			if len(sig)%4 == 0 {
				t.Skip("signature length leaves no spare bits")
			}
			last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
			return tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last+1])
		}},
		{name: "claims an array", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `[1,2]`, "AAAA")
		}},
		{name: "claims a string", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `"iss"`, "AAAA")
		}},
		{name: "claims null", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `null`, "AAAA")
		}},
		{name: "claims with trailing data", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `{"iss":"`+p.Issuer()+`"} {}`, "AAAA")
		}},
		{name: "claims not JSON", kind: Malformed, reason: ReasonMalformed, token: func(*testing.T, *idp.Provider) string {
			return rawToken(`{"alg":"ES256"}`, `iss=x`, "AAAA")
		}},
		{name: "header an array", kind: Malformed, reason: ReasonMalformed, token: func(t *testing.T, p *idp.Provider) string {
			return rawToken(`["ES256"]`, `{"iss":"`+p.Issuer()+`"}`, "AAAA")
		}},
	}

	for _, alg := range []string{"ES256", "RS256"} {
		p := providers[alg]
		for _, tc := range cases {
			if tc.only != "" && tc.only != alg {
				continue
			}
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				token := tc.token(t, p)
				start := time.Now()
				c, err := verify(t, v, token, 2*time.Second)
				if time.Since(start) > time.Second {
					t.Errorf("Verify took %s with keys cached", time.Since(start))
				}
				if tc.kind == 0 {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if c.Issuer != p.Issuer() || !containsAny(c.Audience, []string{testAudience}) || c.Expiry.IsZero() {
						t.Fatalf("claims %+v", c)
					}
					return
				}
				wantRefusal(t, err, tc.kind, tc.reason)
			})
		}
	}
}

func TestVerifyClaims(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	v := newVerifier(t, Options{}, issuerOf(p))
	exp := time.Now().Add(time.Hour).Truncate(time.Second)

	c := mustVerify(t, v, mint(t, p, map[string]any{"sub": "alice", "scope": "read  write", "exp": exp, "n": json.Number("12345678901234567890")}))
	if c.Subject != "alice" || strings.Join(c.Scopes, ",") != "read,write" || !c.Expiry.Equal(exp) {
		t.Fatalf("claims %+v", c)
	}
	if n, ok := c.Raw["n"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Fatalf("Raw[n] = %#v, want the json.Number 12345678901234567890", c.Raw["n"])
	}

	c = mustVerify(t, v, mint(t, p, map[string]any{"scp": []string{"read", "write"}}))
	if strings.Join(c.Scopes, ",") != "read,write" {
		t.Fatalf("scopes from scp array: %q", c.Scopes)
	}
	c = mustVerify(t, v, mint(t, p, map[string]any{"scp": "read write"}))
	if strings.Join(c.Scopes, ",") != "read,write" {
		t.Fatalf("scopes from scp string: %q", c.Scopes)
	}
	c = mustVerify(t, v, mint(t, p, map[string]any{"exp": 1e300}))
	if c.Expiry.Year() < 3000 {
		t.Fatalf("huge exp read as %s", c.Expiry)
	}

	_, err := verify(t, v, mint(t, p, map[string]any{"scope": []string{"read"}}), time.Second)
	wantRefusal(t, err, Invalid, ReasonBadClaim)
	_, err = verify(t, v, mint(t, p, map[string]any{"sub": 7}), time.Second)
	wantRefusal(t, err, Invalid, ReasonBadClaim)
	_, err = verify(t, v, mint(t, p, map[string]any{"aud": []any{testAudience, 3}}), time.Second)
	wantRefusal(t, err, Invalid, ReasonBadClaim)
}

func TestLeeway(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	is := issuerOf(p)
	is.Leeway = 2 * time.Minute
	v := newVerifier(t, Options{}, is)
	now := time.Now()
	mustVerify(t, v, mint(t, p, map[string]any{"exp": now.Add(-time.Minute)}))
	mustVerify(t, v, mint(t, p, map[string]any{"nbf": now.Add(time.Minute)}))
	mustVerify(t, v, mint(t, p, map[string]any{"iat": now.Add(time.Minute)}))
	_, err := verify(t, v, mint(t, p, map[string]any{"exp": now.Add(-3 * time.Minute)}), time.Second)
	wantRefusal(t, err, Invalid, ReasonExpired)
}

func TestOtherAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"PS256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			p := startProvider(t, alg)
			v := newVerifier(t, Options{}, issuerOf(p))
			mustVerify(t, v, mint(t, p, nil))
			_, err := verify(t, v, forgeLastByte(t, mint(t, p, nil)), time.Second)
			wantRefusal(t, err, Invalid, ReasonBadSignature)
		})
	}
}

// A key is used only for algorithms of its type: an issuer pinning both
// ES256 and RS256 must not verify an RS256 signature with its EC key, nor
// ES384 with a P-256 key.
func TestKeyTypeMustFitAlgorithm(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	is := issuerOf(p)
	is.Algorithms = []string{"ES256", "ES384", "RS256"}
	v := newVerifier(t, Options{}, is)
	mustVerify(t, v, mint(t, p, nil))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, err = verify(t, v, mintWith(t, p, idp.Header{Key: rsaKey, KeyID: p.KeyID()}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonAlgKeyMismatch)

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, err = verify(t, v, mintWith(t, p, idp.Header{Key: p384, KeyID: p.KeyID()}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonAlgKeyMismatch)

	// Without kid no key fits either.
	_, err = verify(t, v, mintWith(t, p, idp.Header{Key: rsaKey, OmitKeyID: true}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonAlgKeyMismatch)
}

// Each issuer's tokens verify with its own keys only.
func TestTwoIssuers(t *testing.T) {
	t.Parallel()
	a := startProvider(t, "ES256")
	b := startProvider(t, "ES256")
	v := newVerifier(t, Options{}, issuerOf(a), issuerOf(b))
	if c := mustVerify(t, v, mint(t, a, nil)); c.Issuer != a.Issuer() {
		t.Fatalf("issuer %q", c.Issuer)
	}
	if c := mustVerify(t, v, mint(t, b, nil)); c.Issuer != b.Issuer() {
		t.Fatalf("issuer %q", c.Issuer)
	}

	// iss A, signed with B's key and kid: A has no such kid.
	_, err := verify(t, v, mintWith(t, a, idp.Header{Key: b.SigningKey()}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonUnknownKID)
	// iss A, signed with B's key under A's kid.
	_, err = verify(t, v, mintWith(t, a, idp.Header{Key: b.SigningKey(), KeyID: a.KeyID()}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonBadSignature)
	// iss A, B's key, no kid: tried against A's keys only.
	_, err = verify(t, v, mintWith(t, a, idp.Header{Key: b.SigningKey(), OmitKeyID: true}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonBadSignature)
}

// A symmetric key published in a JWKS is never loaded, so no token can be
// verified with it whatever its header says.
func TestOctKeyNeverUsed(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	secret := []byte("0123456789abcdef0123456789abcdef")
	p.PublishRawJWK(json.RawMessage(`{"kty":"oct","kid":"shared","alg":"HS256","k":"` + b64.EncodeToString(secret) + `"}`))
	v := newVerifier(t, Options{MinRefreshGap: time.Hour}, issuerOf(p))
	mustVerify(t, v, mint(t, p, nil))

	st := v.Status()[0]
	if st.Keys != 1 || len(st.KeyIDs) != 1 || st.KeyIDs[0] != p.KeyID() {
		t.Fatalf("status %+v: want only the EC key", st)
	}
	_, err := verify(t, v, mintWith(t, p, idp.Header{Alg: "HS256", KeyID: "shared", HMACSecret: secret}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonAlgNotAllowed)
	_, err = verify(t, v, mintWith(t, p, idp.Header{KeyID: "shared"}, nil), time.Second)
	wantRefusal(t, err, Invalid, ReasonUnknownKID)
}

func TestParseJWKSSkips(t *testing.T) {
	t.Parallel()
	p, err := idp.New(idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ec := p.SigningKey().(*ecdsa.PrivateKey)
	x, y := b64.EncodeToString(ec.X.FillBytes(make([]byte, 32))), b64.EncodeToString(ec.Y.FillBytes(make([]byte, 32)))
	d := b64.EncodeToString(ec.D.FillBytes(make([]byte, 32)))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"keys":[
		{"kty":"oct","kid":"sym","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
		{"kty":"EC","kid":"priv","crv":"P-256","x":"` + x + `","y":"` + y + `","d":"` + d + `"},
		{"kty":"EC","kid":"enc","use":"enc","crv":"P-256","x":"` + x + `","y":"` + y + `"},
		{"kty":"EC","kid":"hs","alg":"HS256","crv":"P-256","x":"` + x + `","y":"` + y + `"},
		{"kty":"EC","kid":"wrong-alg","alg":"RS256","crv":"P-256","x":"` + x + `","y":"` + y + `"},
		{"kty":"RSA","kid":"small","n":"` + b64.EncodeToString(small.N.Bytes()) + `","e":"AQAB"},
		{"kty":"XYZ","kid":"unknown-type"},
		{"kty":"EC","kid":"off-curve","crv":"P-256","x":"` + x + `","y":"` + x + `"},
		"not an object",
		{"kty":"EC","kid":"ok","alg":"ES256","crv":"P-256","x":"` + x + `","y":"` + y + `"}
	]}`
	set, skipped, err := parseJWKS([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.all) != 1 || set.kids[0] != "ok" {
		t.Fatalf("kept %v, want only ok", set.kids)
	}
	if len(skipped) != 9 {
		t.Fatalf("skipped %d keys, want 9: %+v", len(skipped), skipped)
	}

	for _, bad := range []string{`[]`, `{}`, `{"keys":[]}`, `{"keys":[{"kty":"oct","k":"AAAA"}]}`, `<html>`} {
		if _, _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("parseJWKS(%s) accepted", bad)
		}
	}
}

func TestFitsRefusesOtherFamilies(t *testing.T) {
	t.Parallel()
	rsaKey := &verificationKey{kind: kindRSA}
	p256 := &verificationKey{kind: kindEC, curve: "P-256"}
	ed := &verificationKey{kind: kindOKP}
	for _, c := range []struct {
		k    *verificationKey
		alg  string
		fits bool
	}{
		{rsaKey, "RS256", true}, {rsaKey, "PS512", true}, {rsaKey, "HS256", false}, {rsaKey, "ES256", false}, {rsaKey, "none", false},
		{p256, "ES256", true}, {p256, "ES384", false}, {p256, "HS256", false}, {p256, "EdDSA", false},
		{ed, "EdDSA", true}, {ed, "ES256", false},
		{&verificationKey{kind: kindRSA, alg: "RS256"}, "PS256", false},
	} {
		if got := c.k.fits(jose.SignatureAlgorithm(c.alg)); got != c.fits {
			t.Errorf("key %+v fits(%s) = %v, want %v", c.k, c.alg, got, c.fits)
		}
	}
}

func TestHandlerOnHTTPTest(t *testing.T) {
	t.Parallel()
	p, err := idp.New(idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPTestServer(t, p)
	p.SetIssuer(srv)
	v := newVerifier(t, Options{}, issuerOf(p))
	mustVerify(t, v, mint(t, p, nil))
	if p.DiscoveryFetches() != 1 || p.JWKSFetches() != 1 {
		t.Fatalf("fetches: discovery %d, jwks %d", p.DiscoveryFetches(), p.JWKSFetches())
	}
}

// With JWKSURL set, discovery is skipped.
func TestJWKSURLSkipsDiscovery(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "ES256")
	is := issuerOf(p)
	is.JWKSURL = p.Issuer() + idp.JWKSPath
	v := newVerifier(t, Options{}, is)
	mustVerify(t, v, mint(t, p, nil))
	if n := p.DiscoveryFetches(); n != 0 {
		t.Fatalf("discovery fetched %d times", n)
	}
	if st := v.Status()[0]; st.JWKSURL != is.JWKSURL || st.LastFetch.IsZero() || st.LastError != "" {
		t.Fatalf("status %+v", st)
	}
}

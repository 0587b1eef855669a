package idp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// The signer is written out here rather than taken from go-jose because
// attack tests need tokens go-jose refuses to make: a header "alg" that does
// not match the key, "none", HMAC keyed with public key bytes, odd headers.

// compact serializes header and claims as a JWS compact token and signs it
// with alg: key for the asymmetric algorithms, secret for HS*, nothing for
// "none".
func compact(header, claims map[string]any, alg string, key crypto.Signer, secret []byte) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("idp: encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("idp: encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := signInput(alg, key, secret, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + enc.EncodeToString(sig), nil
}

func signInput(alg string, key crypto.Signer, secret []byte, input []byte) ([]byte, error) {
	if alg == "none" {
		return nil, nil
	}
	if strings.HasPrefix(alg, "HS") {
		h, ok := hashFor(alg)
		if !ok {
			return nil, fmt.Errorf("idp: unknown algorithm %q", alg)
		}
		if secret == nil {
			return nil, fmt.Errorf("idp: %s needs Header.HMACSecret", alg)
		}
		mac := hmac.New(h.New, secret)
		mac.Write(input)
		return mac.Sum(nil), nil
	}
	if key == nil {
		return nil, fmt.Errorf("idp: %s needs a signing key", alg)
	}
	if alg == "EdDSA" {
		if _, ok := key.Public().(ed25519.PublicKey); !ok {
			return nil, fmt.Errorf("idp: EdDSA needs an Ed25519 key, have %T", key.Public())
		}
		return key.Sign(rand.Reader, input, crypto.Hash(0))
	}
	h, ok := hashFor(alg)
	if !ok {
		return nil, fmt.Errorf("idp: unknown algorithm %q", alg)
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS", "PS":
		if _, ok := key.Public().(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("idp: %s needs an RSA key, have %T", alg, key.Public())
		}
		var opts crypto.SignerOpts = h
		if alg[0] == 'P' {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		}
		return key.Sign(rand.Reader, digest, opts)
	case "ES":
		pub, ok := key.Public().(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("idp: %s needs an ECDSA key, have %T", alg, key.Public())
		}
		der, err := key.Sign(rand.Reader, digest, h)
		if err != nil {
			return nil, fmt.Errorf("idp: sign %s: %w", alg, err)
		}
		// JWS wants r||s at the curve's width, not the ASN.1 that crypto.Signer gives.
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, fmt.Errorf("idp: decode ECDSA signature: %w", err)
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		rs.R.FillBytes(out[:size])
		rs.S.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("idp: unknown algorithm %q", alg)
}

func hashFor(alg string) (crypto.Hash, bool) {
	if len(alg) != 5 {
		return 0, false
	}
	switch alg[2:] {
	case "256":
		return crypto.SHA256, true
	case "384":
		return crypto.SHA384, true
	case "512":
		return crypto.SHA512, true
	}
	return 0, false
}

// newKey makes a private key for alg.
func newKey(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("idp: unsupported algorithm %q (want RS*, PS*, ES256/384/512 or EdDSA)", alg)
}

// naturalAlgorithm is the algorithm a foreign key signs with when the header
// does not say.
func naturalAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", errors.New("idp: no JWS algorithm for key type " + fmt.Sprintf("%T", pub))
}

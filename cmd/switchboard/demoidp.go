package main

import (
	"crypto"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"os"
	"sync"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/policy/idp"
)

// The demo's credentials. They protect nothing but the demo's mock
// backends: the API key and the signing key are public, in this
// repository, so that the curl lines in the README stay the same.
const (
	demoAPIKey = "demo-key-7f3a9c2e41b8"
	// demoIssuer is the iss of the demo's tokens; examples/demo.yaml
	// trusts it, with the keys at the in-process provider's jwks_url.
	demoIssuer = "https://idp.demo.switchboard.invalid"
	// demoAdminTokenDefault is the admin token when SWITCHBOARD_ADMIN_TOKEN
	// is unset.
	demoAdminTokenDefault = "demo-admin-token-5c1f0e9a7d"
	demoAdminTokenEnv     = "SWITCHBOARD_ADMIN_TOKEN"
)

// demoSigningKey is an RSA key made for the demo alone. RS256 signatures
// are deterministic, so the tokens minted from fixed claims are too.
//
//go:embed demo-idp-key.pem
var demoSigningKey []byte

func demoKey() (crypto.Signer, error) {
	block, _ := pem.Decode(demoSigningKey)
	if block == nil {
		return nil, errors.New("demo: demo-idp-key.pem holds no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("demo: demo-idp-key.pem is not a signing key")
	}
	return s, nil
}

// demoProvider is the identity provider the demo runs in-process.
func demoProvider() (*idp.Provider, error) {
	key, err := demoKey()
	if err != nil {
		return nil, err
	}
	p, err := idp.New(idp.Options{Algorithm: "RS256", Key: key})
	if err != nil {
		return nil, err
	}
	p.SetIssuer(demoIssuer)
	return p, nil
}

type demoJWTs struct{ member, guest string }

var demoTokens = sync.OnceValue(func() demoJWTs {
	p, err := demoProvider()
	if err != nil {
		return demoJWTs{member: "(" + err.Error() + ")", guest: "(" + err.Error() + ")"}
	}
	// Fixed times, far in the future for exp, keep the tokens the same
	// from run to run.
	mint := func(sub, scope string) string {
		tok, err := p.Mint(map[string]any{"sub": sub, "aud": "library", "scope": scope,
			"iat": int64(1780000000), "exp": int64(4102444800)})
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return tok
	}
	return demoJWTs{member: mint("demo-user", "library.read"), guest: mint("demo-guest", "library.write")}
})

// demoAdminToken is the token the demo's admin API takes.
func demoAdminToken() string {
	if t := os.Getenv(demoAdminTokenEnv); t != "" {
		return t
	}
	return demoAdminTokenDefault
}

// pointAtProvider makes the config's policies that trust the demo's
// issuer fetch its keys from the in-process provider at jwksURL.
func pointAtProvider(cfg *config.Config, jwksURL string) {
	for name, p := range cfg.Policies {
		if p.Authenticate == nil {
			continue
		}
		for i, j := range p.Authenticate.JWT {
			if j.Issuer == demoIssuer {
				p.Authenticate.JWT[i].JWKSURL = jwksURL
			}
		}
		cfg.Policies[name] = p
	}
}

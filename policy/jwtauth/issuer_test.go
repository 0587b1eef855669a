package jwtauth

import (
	"strings"
	"testing"
	"time"
)

func TestIssuerValidate(t *testing.T) {
	t.Parallel()
	good := Issuer{Issuer: "https://login.example.com", Audiences: []string{"api"}, Algorithms: []string{"RS256", "ES256", "PS256", "EdDSA"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid issuer refused: %v", err)
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:9000/realms/x", "http://[::1]:80", "https://login.example.com/tenant/v2.0/"} {
		is := good
		is.Issuer = ok
		if err := is.Validate(); err != nil {
			t.Errorf("issuer %q refused: %v", ok, err)
		}
	}

	for _, c := range []struct {
		name   string
		change func(*Issuer)
		want   string // in the error
	}{
		{"empty issuer", func(i *Issuer) { i.Issuer = "" }, "issuer: empty"},
		{"http issuer", func(i *Issuer) { i.Issuer = "http://login.example.com" }, "issuer: not https"},
		{"http on a private address", func(i *Issuer) { i.Issuer = "http://10.0.0.1" }, "issuer: not https"},
		{"relative issuer", func(i *Issuer) { i.Issuer = "login.example.com" }, "issuer: no host"},
		{"issuer with a query", func(i *Issuer) { i.Issuer = "https://login.example.com/?t=1" }, "issuer: has a query"},
		{"issuer with user info", func(i *Issuer) { i.Issuer = "https://u:p@login.example.com" }, "user info"},
		{"ftp issuer", func(i *Issuer) { i.Issuer = "ftp://login.example.com" }, `scheme "ftp"`},
		{"http jwks url", func(i *Issuer) { i.JWKSURL = "http://keys.example.com/jwks" }, "jwks_url"},
		{"no audiences", func(i *Issuer) { i.Audiences = nil }, "audiences: none given"},
		{"empty audience", func(i *Issuer) { i.Audiences = []string{"api", ""} }, "audiences[1]: empty"},
		{"no algorithms", func(i *Issuer) { i.Algorithms = nil }, "algorithms: none given"},
		{"none", func(i *Issuer) { i.Algorithms = []string{"RS256", "none"} }, `algorithms[1]: "none" is forbidden`},
		{"HS256", func(i *Issuer) { i.Algorithms = []string{"HS256"} }, `algorithms[0]: "HS256" is forbidden`},
		{"hs512", func(i *Issuer) { i.Algorithms = []string{"hs512"} }, "is forbidden"},
		{"unknown", func(i *Issuer) { i.Algorithms = []string{"RS257"} }, `algorithms[0]: "RS257" unknown`},
		{"lower case", func(i *Issuer) { i.Algorithms = []string{"rs256"} }, "unknown"},
		{"negative leeway", func(i *Issuer) { i.Leeway = -time.Second }, "leeway: negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			is := good
			is.Audiences = append([]string(nil), good.Audiences...)
			c.change(&is)
			err := is.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v; want an error containing %q", err, c.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	good := Issuer{Issuer: "https://login.example.com", Audiences: []string{"api"}, Algorithms: []string{"RS256"}}
	for _, c := range []struct {
		name    string
		issuers []Issuer
		opts    Options
		want    string
	}{
		{"no issuers", nil, Options{}, "no issuers"},
		{"invalid issuer", []Issuer{good, {Issuer: "https://x.example"}}, Options{}, "issuers[1]: "},
		{"duplicate", []Issuer{good, good}, Options{}, "configured twice"},
		{"negative interval", []Issuer{good}, Options{RefreshInterval: -1}, "RefreshInterval"},
		{"negative gap", []Issuer{good}, Options{MinRefreshGap: -1}, "MinRefreshGap"},
		{"negative size", []Issuer{good}, Options{MaxKeySetBytes: -1}, "MaxKeySetBytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := New(c.issuers, c.opts)
			if err == nil {
				v.Close()
				t.Fatal("New accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v; want %q in it", err, c.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	e := refuse(Invalid, ReasonUnknownKID, "kid %s", quoted(strings.Repeat("\n", 100)))
	if strings.Contains(e.Error(), "\n") || len(e.Detail) > 300 {
		t.Fatalf("detail not made safe for a log line: %q", e.Detail)
	}
	if Kind(9).String() != "Kind(9)" || Unavailable.String() != "unavailable" {
		t.Fatal("Kind.String")
	}
}

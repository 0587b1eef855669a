package policy_test

import (
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

const sum = "6c0372e7812349745353c24e27468ed8c5aedf403addabc1ec0f0cf7af1bcfb6"

// TestPolicyProblems: every bad policy is named by its key, all at once.
func TestPolicyProblems(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"trusted proxy", `trusted_proxies: [10.0.0.0/8, "10.0.0.0/33"]`, []string{"trusted_proxies[1]"}},
		{"allow and deny entries", `
policies:
  p: {allow: [0.0.0.0/0, nope], deny: ["fe80::1%eth0"]}`, []string{"policies.p.allow[1]", "policies.p.deny[0]"}},
		{"a policy named none", `
policies:
  none: {allow: [0.0.0.0/0]}`, []string{"policies.none"}},
		{"rate limit", `
policies:
  p: {rate_limit: {rate: 0, burst: 1}}
  q: {rate_limit: {rate: 1, burst: 1, key: cookie}}
  r: {rate_limit: {rate: 1, burst: 1, store: redis}}
  s: {rate_limit: {rate: 1, burst: 1, key: "header:bad header"}}`, []string{"policies.p.rate_limit.rate", "policies.q.rate_limit.key", "policies.r.rate_limit.store", "policies.s.rate_limit.key"}},
		{"redis store", `
stores:
  redis: {url: "http://x", fail: maybe}`, []string{"stores.redis.fail", "stores.redis.url"}},
		{"api keys", `
policies:
  p:
    authenticate:
      api_keys:
        header: Authorization
        keys: [{name: a, sha256: "the-key-itself"}, {name: "", sha256: ` + sum + `}, {name: b, sha256: ` + sum + `}, {name: b, sha256: ` + sum + `}]`,
			[]string{"policies.p.authenticate.api_keys.keys[0].sha256", "policies.p.authenticate.api_keys.keys[1].name", "policies.p.authenticate.api_keys.keys[3].name"}},
		{"jwt issuer", `
policies:
  p:
    authenticate:
      jwt: {issuer: "http://idp.example.com", audiences: [a], algorithms: [none]}
  q:
    authenticate:
      jwt: [{issuer: "https://idp.example.com", audiences: [], algorithms: [HS256]}, {issuer: "https://b.example.com", audiences: [a], algorithms: [RS256], unavailable_status: 500}]`,
			[]string{"policies.p.authenticate.jwt[0]", "policies.q.authenticate.jwt[0]", "policies.q.authenticate.jwt[1].unavailable_status"}},
		{"one issuer trusted two ways", `
policies:
  p: {authenticate: {jwt: {issuer: "https://idp.example.com", audiences: [a], algorithms: [RS256]}}}
  q: {authenticate: {jwt: {issuer: "https://idp.example.com", audiences: [b], algorithms: [RS256]}}}`, []string{"configured differently"}},
		{"ext_authz", `
policies:
  p: {authenticate: {ext_authz: {url: "ftp://x", fail: sometimes, headers: ["bad header"], forward: [Authorization]}}}`,
			[]string{"policies.p.authenticate.ext_authz.url", "policies.p.authenticate.ext_authz.fail", "policies.p.authenticate.ext_authz.headers[0]", "policies.p.authenticate.ext_authz.forward[0]"}},
		{"empty authenticate", `
policies:
  p: {authenticate: {}}`, []string{"policies.p.authenticate"}},
		{"forward", `
policies:
  p:
    authenticate: {api_keys: {keys: [{name: a, sha256: ` + sum + `}]}}
    forward: {sub: Authorization, email: Host, name: Grpc-Timeout, tenant: "x y", group: X-Same, role: X-Same}`,
			[]string{"policies.p.forward.sub", "policies.p.forward.email", "policies.p.forward.name", "policies.p.forward.tenant", "already carries"}},
		{"require", `
policies:
  p: {require: {}}
  q: {require: {scopes: ["two words"]}}`, []string{"policies.p.require", "policies.q.require.scopes[0]"}},
		{"cors", `
policies:
  p: {cors: {allow_origins: ["*"], allow_credentials: true}}
  q: {cors: {allow_origins: ["https://app.example.com/path", "app.example.com"]}}
  r: {cors: {}}`, []string{"policies.p.cors.allow_credentials", "policies.q.cors.allow_origins[0]", "policies.q.cors.allow_origins[1]", "policies.r.cors.allow_origins"}},
		{"a global policy that needs an identity it cannot have", `
policy: g
policies:
  g: {require: {scopes: [a]}}`, []string{"the global policy g needs an identity"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(c.yaml+"\nbackends: {}\n"), "t.yaml", builtin.Protocols().Config())
			if err != nil {
				t.Fatalf("config refused before the policies were compiled: %v", err)
			}
			e, ps := policy.New(cfg, policy.Options{})
			if e != nil {
				e.Close()
				t.Fatal("compiled a bad policy")
			}
			var text []string
			for _, p := range ps {
				text = append(text, p.String())
			}
			all := strings.Join(text, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not name %q:\n%s", w, all)
				}
			}
		})
	}
}

// TestPolicyReferences: names a config does not define are refused by
// config, where they are.
func TestPolicyReferences(t *testing.T) {
	_, err := config.Parse([]byte(`
policy: edge
policies:
  members: {allow: [0.0.0.0/0]}
backends:
  b: {grpc: {endpoints: ["127.0.0.1:1"]}}
services:
  - {name: a.B, backend: b, policy: membres}
routes:
  - {get: /x, backend: b, grpc: a.B/C, policy: admins}
`), "t.yaml", builtin.Protocols().Config())
	if err == nil {
		t.Fatal("accepted unknown policies")
	}
	for _, w := range []string{`policy: unknown policy "edge" (have: members)`, `services[0].policy: unknown policy "membres"`, `routes[0].policy: unknown policy "admins"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q:\n%v", w, err)
		}
	}
}

package config

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// ListenerTLS serves the listener over TLS (HTTP/1.1 and HTTP/2 by ALPN).
// The files are reloaded when they change on disk.
type ListenerTLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none (default), verify_if_given or require.
	ClientAuth string `yaml:"client_auth"`
	// MinVersion is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Stores are the shared state several gateway instances may use.
type Stores struct {
	Redis *RedisStore `yaml:"redis"`
}

// RedisStore is a Redis server that rate limits with store: redis share.
type RedisStore struct {
	URL string `yaml:"url"`
	// Fail is what a limit does while Redis cannot be reached: open
	// (allow, the default) or closed (refuse with 503).
	Fail string `yaml:"fail"`
	// Timeout bounds each Redis command (default 100ms): a limit must not
	// add much latency even when Redis is slow.
	Timeout Duration `yaml:"timeout"`
}

// PolicyNone, as a route's or service's policy, drops the service's
// policy from the route's chain; the global one still applies.
const PolicyNone = "none"

// Policy is a named set of checks a request passes before its backend
// is called. A route's chain is the global policy, then its service's,
// then its own.
type Policy struct {
	// Allow and Deny are CIDR lists for the client address; deny wins,
	// and with an allow list an address outside it is refused.
	Allow        []string      `yaml:"allow"`
	Deny         []string      `yaml:"deny"`
	CORS         *CORS         `yaml:"cors"`
	RateLimit    *RateLimit    `yaml:"rate_limit"`
	Authenticate *Authenticate `yaml:"authenticate"`
	Require      *Require      `yaml:"require"`
	// Forward maps identity facts to the request headers (and so the
	// metadata) a backend gets: a JWT claim name, or api_key (the key's
	// name), client_cert (the certificate subject) or subject. Copies the
	// client sent are removed first.
	Forward map[string]string `yaml:"forward"`
}

// CORS answers browsers' preflights and marks responses for them.
type CORS struct {
	AllowOrigins     []string `yaml:"allow_origins"`
	AllowHeaders     []string `yaml:"allow_headers"`
	ExposeHeaders    []string `yaml:"expose_headers"`
	AllowCredentials bool     `yaml:"allow_credentials"`
	MaxAge           Duration `yaml:"max_age"`
}

// RateLimit allows Burst requests at once, then Rate per Per, for each
// key: client_ip, subject, api_key, client_cert or header:NAME.
type RateLimit struct {
	Rate  float64  `yaml:"rate"`
	Per   Duration `yaml:"per"`
	Burst int64    `yaml:"burst"`
	Key   string   `yaml:"key"`
	// Store is memory (default, this instance only) or redis (stores.redis,
	// shared by every instance that uses it).
	Store string `yaml:"store"`
}

// Authenticate lists the ways a request may prove who sends it; any one
// that succeeds authenticates it, and none gives 401.
type Authenticate struct {
	JWT      JWTIssuers `yaml:"jwt"`
	APIKeys  *APIKeys   `yaml:"api_keys"`
	ExtAuthz *ExtAuthz  `yaml:"ext_authz"`
}

// JWTIssuer trusts bearer tokens signed by one identity provider.
type JWTIssuer struct {
	// Issuer is the tokens' exact iss, and where OIDC discovery starts
	// unless JWKSURL is set.
	Issuer     string   `yaml:"issuer"`
	JWKSURL    string   `yaml:"jwks_url"`
	Audiences  []string `yaml:"audiences"`
	Algorithms []string `yaml:"algorithms"`
	Leeway     Duration `yaml:"leeway"`
	// UnavailableStatus is the answer while the issuer's keys cannot be
	// fetched: 503 (default; the client may retry) or 401.
	UnavailableStatus int `yaml:"unavailable_status"`
}

// JWTIssuers is one issuer or a list of them.
type JWTIssuers []JWTIssuer

// UnmarshalYAML accepts a single mapping as well as a list.
func (js *JWTIssuers) UnmarshalYAML(n *yaml.Node) error {
	// What decoded is kept beside an error, so that the issuer's other
	// problems are reported too and the policy is not taken for one
	// without jwt.
	if n.Kind == yaml.MappingNode {
		var one JWTIssuer
		err := n.Decode(&one)
		*js = JWTIssuers{one}
		return err
	}
	var many []JWTIssuer
	err := n.Decode(&many)
	*js = many
	return err
}

// APIKeys authenticates a request by a key in a header. Keys are kept as
// the hex SHA-256 of the key, never the key itself.
type APIKeys struct {
	Header string   `yaml:"header"`
	Keys   []APIKey `yaml:"keys"`
}

// APIKey is one key: its name (logs, metrics, forward: api_key) and hash.
type APIKey struct {
	Name   string `yaml:"name"`
	SHA256 string `yaml:"sha256"`
	// Scopes are what the key holds, for require: scopes.
	Scopes []string `yaml:"scopes"`
}

// ExtAuthz asks an HTTP service whether to let a request through, like
// Envoy's ext_authz: a 2xx allows it (and may add headers for the
// backend), any other status is the answer the client gets.
type ExtAuthz struct {
	URL string `yaml:"url"`
	// Headers are the request headers sent to the service (beside the
	// method, path and client address, always sent).
	Headers []string `yaml:"headers"`
	// Forward are the headers of a 2xx answer added to the request for
	// the backend (client-sent copies are removed).
	Forward []string `yaml:"forward"`
	Timeout Duration `yaml:"timeout"`
	// Fail is what happens when the service cannot answer in time: closed
	// (refuse with 503, the default) or open (let the request through).
	Fail string `yaml:"fail"`
}

// Require is what an authenticated identity must hold, else 403.
type Require struct {
	Scopes []string          `yaml:"scopes"`
	Claims map[string]string `yaml:"claims"`
}

// PolicyProblem says what is wrong with a reference to the policy name
// ("" and "none" are always fine), or "".
func (c *Config) PolicyProblem(name string) string {
	if name == "" || name == PolicyNone {
		return ""
	}
	if _, ok := c.Policies[name]; ok {
		return ""
	}
	have := make([]string, 0, len(c.Policies))
	for n := range c.Policies {
		have = append(have, n)
	}
	sort.Strings(have)
	if len(have) == 0 {
		return fmt.Sprintf("unknown policy %q (no policies: are defined)", name)
	}
	return fmt.Sprintf("unknown policy %q (have: %s)", name, strings.Join(have, ", "))
}

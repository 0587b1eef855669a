package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

var protocols = builtin.Protocols().Config()

var update = flag.Bool("update", false, "rewrite golden files")

func TestParseGood(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`
listen: 127.0.0.1:8080
admin: 127.0.0.1:9901
descriptors:
  - file: testdata/library.pb
  - proto: [library/v1/library.proto]
    import_paths: [testdata/proto]
    name: lib-src
  - reflection: library
backends:
  library:
    grpc: {endpoints: ["127.0.0.1:50051", "127.0.0.1:50052"], keepalive: {time: 30s}}
    timeout: 2s
    retry: {attempts: 3, backoff: 50ms, on: [UNAVAILABLE, "4"]}
    breaker: {failures: 5, cooldown: 10s}
services:
  - name: library.v1.LibraryService
    backend: library
    json: {use_proto_names: true}
routes:
  - get: /v1/titles/{parent}
    backend: library
    grpc: library.v1.LibraryService/ListBooks
`), "gw.yaml", protocols)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Descriptors[0].Name; got != "library" {
		t.Errorf("default set name = %q, want library", got)
	}
	if got := c.Descriptors[2].Name; got != "library-reflection" {
		t.Errorf("reflection set name = %q", got)
	}
	if got := time.Duration(c.Backends["library"].Timeout); got != 2*time.Second {
		t.Errorf("timeout = %v", got)
	}
	if c.Limits.MaxBodyBytes != DefaultMaxBodyBytes || c.Limits.MaxJSONDepth != DefaultMaxJSONDepth {
		t.Errorf("limits defaults not applied: %+v", c.Limits)
	}
	if got := c.Line("routes[0].get"); got != 21 {
		t.Errorf("line of routes[0].get = %d, want 21", got)
	}
	if got := c.Line("services[0].json.use_proto_names"); got != 19 {
		t.Errorf("line of services[0].json.use_proto_names = %d, want 19", got)
	}
}

// TestParseBad checks that every problem is reported at once, with its line
// and key path, against a golden file.
func TestParseBad(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join("testdata", "bad.yaml"), protocols)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "bad.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("problems differ from %s (-update to accept):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

func TestParseSemanticProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want string
	}{
		{"syntax", "listen: [", "x.yaml:1: did not find expected node content"},
		{"empty", "", "x.yaml: empty configuration"},
		{"bad duration", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    timeout: soon\n", `x.yaml:4: backends.b.timeout: invalid duration "soon" (want e.g. 500ms, 2s, 1m)`},
		{"wrong type", "limits:\n  max_body_bytes: lots\n", "x.yaml:2: limits.max_body_bytes: cannot unmarshal !!str `lots` into int64"},
		{"breaker without cooldown", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    breaker: {failures: 3}\n", "x.yaml:4: backends.b.breaker.cooldown: required when failures is set"},
		{"reflection of unknown backend", "descriptors:\n  - reflection: nope\n", `x.yaml:2: descriptors[0].reflection: unknown backend "nope" (have: )`},
		{"embedded nats with tls", "backends:\n  b:\n    nats: {url: embedded, tls: {ca_file: ca.pem}}\n", "x.yaml:3: backends.b.nats: credentials_file and tls apply to external servers, not the embedded one"},
		{"nats token and user", "backends:\n  b:\n    nats: {url: \"nats://a:4222\", token: t, user: u}\n", "x.yaml:3: backends.b.nats: set token or user and password, not both"},
		{"NaN retry budget", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    retry: {budget: .nan}\n", "x.yaml:4: backends.b.retry.budget: must be above 0 and at most 1"},
		{"breaker probes out of range", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    breaker: {failures: 3, cooldown: 1s, probes: 1000}\n", "x.yaml:4: backends.b.breaker.probes: must be between 1 and 100"},
		{"breaker probes without failures", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    breaker: {probes: 2}\n", "x.yaml:4: backends.b.breaker.probes: set failures too"},
		{"negative breaker failures", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    breaker: {failures: -1}\n", "x.yaml:4: backends.b.breaker.failures: must not be negative"},
		{"outlier without failures", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {}\n", "x.yaml:4: backends.b.outlier.failures: must be between 1 and 1000"},
		{"outlier failures huge", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 99999999999}\n", "x.yaml:4: backends.b.outlier.failures: must be between 1 and 1000"},
		{"outlier ejection too short", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 3, base_ejection: 1ns}\n", "x.yaml:4: backends.b.outlier.base_ejection: must be at least 100ms"},
		{"outlier max below base", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 3, base_ejection: 1m, max_ejection: 10s}\n", "x.yaml:4: backends.b.outlier.max_ejection: must be at least base_ejection (1m0s)"},
		{"outlier on NATS", "backends:\n  b:\n    nats: {url: embedded}\n    outlier: {failures: 3}\n", "x.yaml:4: backends.b.outlier: NATS holds one connection"},
		{"outlier percent", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 3, max_ejected_percent: 101}\n", "x.yaml:4: backends.b.outlier.max_ejected_percent: must be between 1 and 100"},
		{"outlier probes", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 3, probes: -1}\n", "x.yaml:4: backends.b.outlier.probes: must be between 1 and 100"},
		{"outlier unknown key", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: {failures: 3, interval: 10s}\n", "x.yaml:4: backends.b.outlier.interval: unknown key"},
		{"outlier as a list", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\n    outlier: [3]\n", "x.yaml:4: backends.b.outlier"},
		{"route without target", "backends:\n  b:\n    grpc: {endpoints: [\"a:1\"]}\nroutes:\n  - get: /x\n    backend: b\n", "x.yaml:5: routes[0]: missing target (grpc: package.Service/Method, thrift"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.give), "x.yaml", protocols)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got\n%v\nwant it to contain\n%s", err, tt.want)
			}
		})
	}
}

func TestParseCode(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{"UNAVAILABLE": "Unavailable", "unavailable": "Unavailable", "14": "Unavailable", "4": "DeadlineExceeded"} {
		c, err := ParseCode(give)
		if err != nil || c.String() != want {
			t.Errorf("ParseCode(%q) = %v, %v; want %s", give, c, err, want)
		}
	}
	for _, give := range []string{"", "17", "BOGUS", "-1", "014"} {
		if _, err := ParseCode(give); err == nil {
			t.Errorf("ParseCode(%q) accepted", give)
		}
	}
}

package gateway_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate/builtin"
	grpcproto "github.com/switchboard-gw/switchboard/translate/grpc"
)

// TestEndpointConfigProblems: the gRPC backend's balancing and health keys
// are checked when the config is read, each problem under its own key.
func TestEndpointConfigProblems(t *testing.T) {
	for _, c := range []struct {
		name, grpc, key string
		want            []string
	}{
		{"unknown balancing", `{endpoints: ["127.0.0.1:1"], balancing: random}`,
			"backends.lib.grpc.balancing", []string{`unknown balancing "random"`, "round_robin or least_request"}},
		{"health service with a slash", `{endpoints: ["127.0.0.1:1"], health: {service: library.v1.LibraryService/GetBook}}`,
			"backends.lib.grpc.health.service", []string{"is not a service name"}},
		{"unknown health key", `{endpoints: ["127.0.0.1:1"], health: {interval: 5s}}`,
			"backends.lib.grpc.health.interval", []string{"unknown key", "service"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse([]byte("listen: 127.0.0.1:0\nbackends:\n  lib:\n    grpc: "+c.grpc+"\n"), "test.yaml", builtin.Protocols().Config())
			if err == nil {
				t.Fatal("config.Parse accepted it")
			}
			t.Logf("config.Parse: %v", err)
			if re := regexp.MustCompile(`(?m)^test\.yaml:4: ` + regexp.QuoteMeta(c.key) + `: `); !re.MatchString(err.Error()) {
				t.Errorf("error %q is not reported at test.yaml:4 under %s", err, c.key)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestEndpointHealthEmptyMapping: health: {} turns checks on, asking
// about the server as a whole; without the key they are off.
func TestEndpointHealthEmptyMapping(t *testing.T) {
	for _, c := range []struct {
		grpc string
		on   bool
	}{
		{`{endpoints: ["127.0.0.1:1"], health: {}}`, true},
		{`{endpoints: ["127.0.0.1:1"], health: {service: ""}}`, true},
		{`{endpoints: ["127.0.0.1:1"]}`, false},
	} {
		cfg, err := config.Parse([]byte("listen: 127.0.0.1:0\nbackends:\n  lib:\n    grpc: "+c.grpc+"\n"), "test.yaml", builtin.Protocols().Config())
		if err != nil {
			t.Fatalf("%s: %v", c.grpc, err)
		}
		h := cfg.Backends["lib"].Section.(*grpcproto.BackendConfig).Health
		if (h != nil) != c.on || h != nil && h.Service != "" {
			t.Errorf("%s: health = %+v, want on %v with service \"\"", c.grpc, h, c.on)
		}
	}
}

const endpointsConfig = `
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc:
      endpoints: ["%s", "%s"]
      balancing: least_request
      health: {service: library.v1.LibraryService}
    timeout: 5s
  unhealthy:
    grpc:
      endpoints: ["%s"]
      health: {service: library.v1.NotServedHere}
    timeout: 5s
routes:
  - get: /v1/{name=shelves/*/books/*}
    backend: library
    grpc: library.v1.LibraryService/GetBook
  - get: /unhealthy/{name=shelves/*/books/*}
    backend: unhealthy
    grpc: library.v1.LibraryService/GetBook
`

// TestEndpointHealthAndBalancing: a backend with least_request and health
// checks answers through the gateway (the mock reports its services
// SERVING); one whose health service does not know the name asked
// (SERVICE_UNKNOWN) has no endpoint in rotation, and calls to it fail 503
// at once rather than waiting for the timeout.
func TestEndpointHealthAndBalancing(t *testing.T) {
	a, b := startMock(t, "library.pb", "library.yaml"), startMock(t, "library.pb", "library.yaml")
	tg := startGateway(t, fmt.Sprintf(endpointsConfig, a, b, a))
	for range 4 {
		if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != http.StatusOK {
			t.Fatalf("healthy backend: %d %s", r.status, r.body)
		}
	}
	start := time.Now()
	r := do(t, "GET", tg.http.URL+"/unhealthy/shelves/1/books/1", nil, nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "backend unhealthy is unavailable") {
		t.Errorf("backend with no endpoint SERVING: %d %s", r.status, r.body)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("backend with no endpoint SERVING took %v to answer; want a prompt 503", d)
	}
}

package gateway_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
)

// shopProto declares its policy in the schema: a route built from Get
// requires shop.read and is rate limited with no config saying so.
const shopProto = `syntax = "proto3";
package shop.v1;
import "google/api/annotations.proto";
import "switchboard/v1/options.proto";
message Req { string id = 1; }
service Shop {
  rpc Get(Req) returns (Req) {
    option (google.api.http) = {get: "/v1/items/{id}"};
    option (switchboard.v1.policy) = {scopes: ["shop.read"], rate_limit: {rate: 1, per: "1m", burst: 2, key: "api_key"}};
  }
  rpc Open(Req) returns (Req) {
    option (google.api.http) = {get: "/v1/open/{id}"};
    option (switchboard.v1.policy) = {policy: "none"};
  }
  rpc Named(Req) returns (Req) {
    option (google.api.http) = {get: "/v1/named/{id}"};
    option (switchboard.v1.policy) = {policy: "auditors"};
  }
}
`

func TestPolicyFromSchema(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shop.proto"), []byte(shopProto), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr := startRecorder(t)
	tg := startGatewayWith(t, fmt.Sprintf(`
descriptors:
  - {proto: [shop.proto], import_paths: ["%s"]}
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 2s}
services:
  - {name: shop.v1.Shop, backend: rec, policy: members}
policies:
  members:
    authenticate:
      api_keys:
        keys:
          - {name: reader, sha256: %s, scopes: [shop.read]}
          - {name: other, sha256: %s, scopes: [shop.write]}
  auditors:
    require: {scopes: [shop.audit]}
routes:
  # The config's policy: replaces what the method's option says.
  - {get: "/v1/config/items/{id}", backend: rec, grpc: shop.v1.Shop/Get, policy: none}
  # Without policy:, a config route takes the method's option.
  - {get: "/v1/config/named/{id}", backend: rec, grpc: shop.v1.Shop/Named}
`, dir, addr, sha(readerKey), sha(ciKey)))
	reader := map[string]string{"X-Api-Key": readerKey}
	other := map[string]string{"X-Api-Key": ciKey}
	steps := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"the service policy applies", "/v1/items/1", nil, 401},
		{"the option's scope is required", "/v1/items/1", other, 403},
		{"with the scope", "/v1/items/1", reader, 200},
		{"the option's burst of 2", "/v1/items/1", reader, 200},
		{"then its rate limit", "/v1/items/1", reader, 429},
		// The config wins where both speak: a schema cannot drop the
		// service policy the operator set.
		{"policy none in the option keeps the service's", "/v1/open/1", nil, 401},
		{"policy none in the option, with credentials", "/v1/open/1", other, 200},
		{"a named policy in the option", "/v1/named/1", reader, 403},
		{"a config route replaces the option", "/v1/config/items/1", nil, 200},
		{"a config route without policy: takes the option", "/v1/config/named/1", reader, 403},
	}
	for _, s := range steps {
		r := do(t, "GET", tg.http.URL+s.path, nil, s.header)
		if r.status != s.want {
			t.Errorf("%s: %s answered %d, want %d: %s", s.name, s.path, r.status, s.want, r.body)
		}
	}
}

// TestIdentityToNATS: a NATS backend gets the identity as message
// headers, and a client's copies are gone.
func TestIdentityToNATS(t *testing.T) {
	ns := startNATSServer(t)
	nc, err := natsgo.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan natsgo.Header, 4)
	sub, err := nc.Subscribe("who", func(m *natsgo.Msg) {
		got <- m.Header
		_ = m.Respond([]byte(`{}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = nc.Flush()
	tg := startGatewayWith(t, fmt.Sprintf(`
backends:
  bus: {nats: {url: %q}, timeout: 2s}
policies:
  members:
    authenticate: {api_keys: {keys: [{name: reader, sha256: %s}]}}
    forward: {api_key: X-Key-Name, subject: X-User-Id}
routes:
  - {get: /v1/who, backend: bus, nats: {subject: who}, policy: members}
`, ns.ClientURL(), sha(readerKey)))
	r := do(t, "GET", tg.http.URL+"/v1/who", nil, map[string]string{"X-Api-Key": readerKey,
		"X-User-Id": "root", "X-Key-Name": "admin"})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	select {
	case h := <-got:
		if h.Get("X-User-Id") != "api_key:reader" || h.Get("X-Key-Name") != "reader" || len(h.Values("X-User-Id")) != 1 {
			t.Errorf("NATS headers %v: want the key's subject in X-User-Id and its name in X-Key-Name, once", h)
		}
		for k := range h {
			if strings.EqualFold(k, "x-user-id") && k != "X-User-Id" {
				t.Errorf("a client copy reached NATS as %s", k)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message reached the subscriber")
	}
}

// TestPolicyAccessLog: the access log names who a request was and which
// check refused it, never the credential.
func TestPolicyAccessLog(t *testing.T) {
	_, addr := startRecorder(t)
	logs := new(logWatch)
	tg := startGatewayLog(t, logs.logger(), fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 2s}
services:
  - {name: library.v1.LibraryService, backend: rec, unannotated: true, policy: members}
policies:
  members:
    authenticate: {api_keys: {keys: [{name: reader, sha256: %s}]}}
`, addr, sha(readerKey)))
	cases := []struct {
		name  string
		key   string
		parts []string
	}{
		{"refused", "wrong-key-0123456789", []string{"msg=request", "status=401", "policy=members", "policy_check=authenticate", "policy_reason=unknown_api_key", "client=127.0.0.1"}},
		{"allowed", readerKey, []string{"msg=request", "status=200", "principal=api_key:reader", "client=127.0.0.1"}},
	}
	for _, c := range cases {
		seen := logs.next(c.parts...)
		r := do(t, "POST", tg.http.URL+"/library.v1.LibraryService/Ping", []byte(`{}`),
			map[string]string{"Content-Type": "application/json", "X-Api-Key": c.key})
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Errorf("%s (%d): no access log line with %v", c.name, r.status, c.parts)
		}
	}
	secret := logs.next("wrong-key-0123456789")
	do(t, "POST", tg.http.URL+"/library.v1.LibraryService/Ping", []byte(`{}`),
		map[string]string{"Content-Type": "application/json", "X-Api-Key": "wrong-key-0123456789"})
	select {
	case <-secret:
		t.Error("a credential reached the log")
	case <-time.After(200 * time.Millisecond):
	}
}

// TestIdentityToThrift: a Thrift backend gets the identity through the
// header its IDL maps into an argument (api.header), never the client's.
func TestIdentityToThrift(t *testing.T) {
	prog, err := idl.ParseFile(root+"/thrift/calculator.thrift", idl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := mock.ParseStubs([]byte(`
stubs:
  - method: Calculator.calculate
    match: {req.trace: "api_key:reader"}
    response: 7
  - method: Calculator.calculate
    response: 42
`), "stubs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := thriftmock.New(prog, "Calculator", st, thriftmock.Options{Protocol: "binary", Transport: "framed"}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	tg := startGatewayWith(t, fmt.Sprintf(`
backends:
  calc:
    thrift: {endpoints: ["%s"], idl: {root}/thrift/calculator.thrift, protocol: binary, transport: framed}
    timeout: 2s
thrift_services:
  - {name: Calculator, backend: calc, policy: members}
routes:
  # A config route to a function of a listed service takes its policy too.
  - {get: "/v1/sum/{num1}/{num2}", backend: calc, thrift: Calculator.add}
policies:
  members:
    authenticate: {api_keys: {keys: [{name: reader, sha256: %s}, {name: ci, sha256: %s}]}}
    forward: {subject: X-Trace}
`, lis.Addr(), sha(readerKey), sha(ciKey)))
	body := []byte(`{"w":{"num1":6,"num2":7,"op":"MULTIPLY"}}`)
	// The argument the identity header fills cannot be set another way.
	for _, q := range []string{"/v1/calculate/1?req.trace=api_key:reader", "/v1/calculate/1?req.trace="} {
		r := do(t, "POST", tg.http.URL+q, body, map[string]string{"Content-Type": "application/json", "X-Api-Key": ciKey})
		if r.status != 400 {
			t.Errorf("%s: %d %s, want 400 (set by both)", q, r.status, r.body)
		}
	}
	r := do(t, "POST", tg.http.URL+"/v1/calculate/1", []byte(`{"w":{"num1":6,"num2":7,"op":"MULTIPLY"},"trace":"api_key:reader"}`),
		map[string]string{"Content-Type": "application/json", "X-Api-Key": ciKey})
	if r.status == 200 && strings.TrimSpace(string(r.body)) == "7" {
		t.Errorf("the body set the identity argument: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"the identity reaches the argument", map[string]string{"X-Api-Key": readerKey}, "7"},
		{"a spoofed header is replaced", map[string]string{"X-Api-Key": ciKey, "X-Trace": "api_key:reader"}, "42"},
		{"no credentials", map[string]string{"X-Trace": "reader"}, ""},
	} {
		r := do(t, "POST", tg.http.URL+"/v1/calculate/1", body, mergeHeaders(map[string]string{"Content-Type": "application/json"}, c.header))
		if sum := do(t, "GET", tg.http.URL+"/v1/sum/1/2", nil, c.header); (c.want == "") != (sum.status == 401) {
			t.Errorf("%s: the config route answered %d %s", c.name, sum.status, sum.body)
		}
		switch {
		case c.want == "" && r.status != 401:
			t.Errorf("%s: %d %s, want 401", c.name, r.status, r.body)
		case c.want != "" && (r.status != 200 || strings.TrimSpace(string(r.body)) != c.want):
			t.Errorf("%s: %d %s, want %s", c.name, r.status, r.body, c.want)
		}
	}
}

// TestPolicyOncePerChain: a policy named by the service and again by the
// route runs once, so its rate limit counts each request once.
func TestPolicyOncePerChain(t *testing.T) {
	_, addr := startRecorder(t)
	tg := startGatewayWith(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 2s}
services:
  - {name: library.v1.LibraryService, backend: rec, unannotated: true, policy: limited}
policy: limited
policies:
  limited:
    rate_limit: {rate: 1, per: 1m, burst: 4}
routes:
  - {post: /v1/ping, backend: rec, grpc: library.v1.LibraryService/Ping, policy: limited}
`, addr))
	var statuses []int
	for range 5 {
		r := do(t, "POST", tg.http.URL+"/v1/ping", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
		statuses = append(statuses, r.status)
		if n := len(r.header.Values("RateLimit")); r.status == 200 && n != 1 {
			t.Errorf("%d RateLimit headers, want 1", n)
		}
	}
	if fmt.Sprint(statuses) != "[200 200 200 200 429]" {
		t.Errorf("statuses %v: a burst of 4 counted once per request allows 4", statuses)
	}
}

// TestIdentityHeadersReservedEverywhere: the headers any policy forwards
// are removed from every request, also on routes whose own chain does not
// set them, so a backend reached by an open route and a guarded one alike
// never takes a client's word for an identity.
func TestIdentityHeadersReservedEverywhere(t *testing.T) {
	rs, addr := startRecorder(t)
	tg := startGatewayWith(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 2s}
policies:
  members:
    authenticate: {api_keys: {keys: [{name: reader, sha256: %s}]}}
    forward: {subject: X-User-Id}
routes:
  - {post: /v1/guarded, backend: rec, grpc: library.v1.LibraryService/Ping, policy: members}
  - {post: /v1/open, backend: rec, grpc: library.v1.LibraryService/Ping}
`, addr, sha(readerKey)))
	r := do(t, "POST", tg.http.URL+"/v1/open", []byte(`{}`), map[string]string{"Content-Type": "application/json",
		"X-User-Id": "admin", "Grpc-Metadata-X-User-Id": "admin", "Grpc-Metadata-X_user_id": "admin"})
	if r.status != 200 {
		t.Fatalf("open route: %d %s", r.status, r.body)
	}
	rs.mu.Lock()
	md := rs.md
	rs.mu.Unlock()
	for _, k := range []string{"x-user-id", "x_user_id"} {
		if v := md.Get(k); len(v) > 0 {
			t.Errorf("the open route passed the client's %s = %q", k, v)
		}
	}
}

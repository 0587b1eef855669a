package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

const adminConfig = `
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
  echo:
    grpc: {endpoints: ["%s"]}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`

func adminGateway(t testing.TB) *testGateway {
	t.Helper()
	lib := startMock(t, "library.pb", "library.yaml")
	echo := startMock(t, "echo.pb", "echo.yaml")
	return startGateway(t, fmt.Sprintf(adminConfig, lib, echo))
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type setInfo struct {
	Name    string   `json:"name"`
	Version int      `json:"version"`
	Digest  string   `json:"digest"`
	Backend string   `json:"backend"`
	History []int    `json:"history"`
	Svcs    []string `json:"services"`
}

func decodeSet(t testing.TB, r response) setInfo {
	t.Helper()
	var si setInfo
	if err := json.Unmarshal(r.body, &si); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return si
}

func TestAdminDescriptorLifecycle(t *testing.T) {
	tg := adminGateway(t)
	echoPB := readFile(t, root+"/echo.pb")
	upload := func(name, backend string, body []byte) response {
		return do(t, "POST", tg.admin.URL+"/admin/descriptors?name="+name+"&backend="+backend, body, protobufType)
	}

	if r := do(t, "GET", tg.http.URL+"/v1/echo/hi", nil, nil); r.status != 404 {
		t.Fatalf("echo routed before upload: %d", r.status)
	}
	r := upload("echo", "echo", echoPB)
	if r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if si := decodeSet(t, r); si.Version != 1 || si.Backend != "echo" || !strings.HasPrefix(si.Digest, "sha256:") || len(si.Svcs) != 1 || si.Svcs[0] != "echo.v1.EchoService" {
		t.Errorf("upload answered %+v", si)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/echo/hi", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"message":"hi"`) {
		t.Fatalf("echo after upload: %d %s", r.status, r.body)
	}
	if si := decodeSet(t, upload("echo", "echo", echoPB)); si.Version != 2 || len(si.History) != 2 {
		t.Errorf("second upload: %+v, want version 2 with history [1 2]", si)
	}
	r = do(t, "POST", tg.admin.URL+"/admin/descriptors/echo/rollback", nil, nil)
	if si := decodeSet(t, r); r.status != 200 || si.Version != 1 {
		t.Errorf("rollback: %d %+v", r.status, si)
	}
	if r := do(t, "POST", tg.admin.URL+"/admin/descriptors/echo/rollback", nil, nil); r.status != 409 {
		t.Errorf("rollback past the first version: %d %s, want 409", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/echo/again", nil, nil); r.status != 200 {
		t.Errorf("echo after rollback: %d", r.status)
	}

	// Refusals leave what was serving in place.
	refusals := []struct {
		name, query string
		body        []byte
		status      int
		want        string
	}{
		{"garbage", "name=bad&backend=echo", []byte("not a descriptor set"), 400, "not a binary FileDescriptorSet"},
		// A second set defining a registered service: 409 naming the set.
		{"conflict", "name=lib2&backend=library", readFile(t, root+"/library.pb"), 409, `already registered by descriptor set \"library\"`},
		{"unknown backend", "name=x&backend=billing", echoPB, 400, `unknown backend \"billing\"`},
		{"bad name", "name=../etc&backend=echo", echoPB, 400, "query parameter name"},
	}
	for _, rf := range refusals {
		r := do(t, "POST", tg.admin.URL+"/admin/descriptors?"+rf.query, rf.body, protobufType)
		if r.status != rf.status || !strings.Contains(string(r.body), rf.want) {
			t.Errorf("%s: %d %s; want %d containing %q", rf.name, r.status, r.body, rf.status, rf.want)
		}
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 200 {
		t.Errorf("library after refused uploads: %d", r.status)
	}

	r = do(t, "GET", tg.admin.URL+"/admin/descriptors", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"name": "echo"`) || !strings.Contains(string(r.body), `"name": "library"`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	r = do(t, "GET", tg.admin.URL+"/admin/routes", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"path": "/v1/echo/{message}"`) {
		t.Errorf("routes: %d %s", r.status, r.body)
	}

	if r := do(t, "DELETE", tg.admin.URL+"/admin/descriptors/echo", nil, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/echo/hi", nil, nil); r.status != 404 {
		t.Errorf("echo after delete: %d", r.status)
	}
	if r := do(t, "DELETE", tg.admin.URL+"/admin/descriptors/echo", nil, nil); r.status != 404 {
		t.Errorf("second delete: %d, want 404", r.status)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := do(t, "GET", tg.admin.URL+path, nil, nil); r.status != 200 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	if r := do(t, "GET", tg.admin.URL+"/metrics", nil, nil); !strings.Contains(string(r.body), `switchboard_http_requests_total{backend="library",method="GET",route="/v1/{name=shelves/*/books/*}",status="200"}`) {
		t.Errorf("metrics lack the request counter by route and backend")
	}
}

// TestRegistrationUnderLoad replaces and rolls back a descriptor set while
// requests run on it and on another service: no request may fail because of
// a swap.
func TestRegistrationUnderLoad(t *testing.T) {
	tg := adminGateway(t)
	echoPB := readFile(t, root+"/echo.pb")
	if r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=echo&backend=echo", echoPB, protobufType); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var stop atomic.Bool
	var failures, requests atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				path := "/v1/shelves/1/books/1"
				if (w+i)%2 == 0 {
					path = fmt.Sprintf("/v1/echo/m%d", i)
				}
				r := do(t, "GET", tg.http.URL+path, nil, nil)
				requests.Add(1)
				if r.status != 200 {
					failures.Add(1)
					t.Errorf("%s during swaps: %d %s", path, r.status, r.body)
				}
			}
		}(w)
	}
	for i := 0; i < 30; i++ {
		if r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=echo&backend=echo", echoPB, protobufType); r.status != 201 {
			t.Errorf("replace %d: %d %s", i, r.status, r.body)
		}
		if i%3 == 2 {
			if r := do(t, "POST", tg.admin.URL+"/admin/descriptors/echo/rollback", nil, nil); r.status != 200 {
				t.Errorf("rollback %d: %d %s", i, r.status, r.body)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if requests.Load() < 30 || failures.Load() > 0 {
		t.Errorf("%d requests, %d failed", requests.Load(), failures.Load())
	}
}

var protobufType = map[string]string{"Content-Type": "application/x-protobuf"}

// TestAdminRefusesWebPages: a page in a browser can send a "simple"
// cross-origin POST, or reach the listener under its own name (DNS
// rebinding); neither may use /admin/*. Probes keep /healthz.
func TestAdminRefusesWebPages(t *testing.T) {
	tg := adminGateway(t)
	echoPB := readFile(t, root+"/echo.pb")
	upload := tg.admin.URL + "/admin/descriptors?name=echo&backend=echo"
	tests := []struct {
		name       string
		method     string
		url        string
		body       []byte
		header     map[string]string
		host       string
		wantStatus int
		wantMsg    string
	}{
		{"text/plain upload, no preflight needed", "POST", upload, echoPB, map[string]string{"Content-Type": "text/plain"}, "", 415, "application/x-protobuf"},
		{"form upload", "POST", upload, echoPB, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "", 415, "application/x-protobuf"},
		{"no type", "POST", upload, echoPB, nil, "", 415, "application/x-protobuf"},
		{"foreign Origin", "POST", upload, echoPB, map[string]string{"Content-Type": "application/x-protobuf", "Origin": "https://evil.example"}, "", 403, "cross-origin"},
		{"foreign Origin on a read", "GET", tg.admin.URL + "/admin/routes", nil, map[string]string{"Origin": "http://evil.example"}, "", 403, "cross-origin"},
		{"cross-site fetch", "GET", tg.admin.URL + "/admin/descriptors", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403, "cross-origin"},
		{"rebound host name", "GET", tg.admin.URL + "/admin/routes", nil, nil, "evil.example:80", 403, "does not answer to host"},
		{"rebound host, same port", "GET", tg.admin.URL + "/admin/descriptors", nil, nil, "attacker.test", 403, "does not answer to host"},
		{"probe under any host", "GET", tg.admin.URL + "/healthz", nil, nil, "10.1.2.3:9901", 200, ""},
		{"metrics under any host", "GET", tg.admin.URL + "/metrics", nil, nil, "10.1.2.3:9901", 200, ""},
		{"same origin", "GET", tg.admin.URL + "/admin/routes", nil, map[string]string{"Origin": tg.admin.URL}, "", 200, ""},
		{"loopback name", "GET", tg.admin.URL + "/admin/routes", nil, nil, "localhost:1", 200, ""},
		{"octet-stream upload", "POST", upload, echoPB, map[string]string{"Content-Type": "application/octet-stream"}, "", 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(b), tt.wantMsg) {
				t.Errorf("%d %s, want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantMsg)
			}
		})
	}
	if r := do(t, "GET", tg.admin.URL+"/admin/descriptors/echo", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"version": 1`) {
		t.Errorf("only the octet-stream upload registered: %d %s", r.status, r.body)
	}
}

// TestAdminUploadTooLargeUpFront: an upload that declares more than the
// limit is refused before a byte of it is read, so concurrent huge
// uploads cost nothing.
func TestAdminUploadTooLargeUpFront(t *testing.T) {
	tg := adminGateway(t)
	addr := strings.TrimPrefix(tg.admin.URL, "http://")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /admin/descriptors?name=big&backend=echo HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", addr, 100<<20)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 413 {
				t.Errorf("status %d, want 413 before the body", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
}

// takeoverSet is the takeover.v1 schema as an upload: literal paths under
// a route the library set serves through a template.
func takeoverSet(t testing.TB) []byte { return compiledSet(t, "takeover/v1/takeover.proto") }

// compiledSet is a .proto of testdata/proto compiled into an upload.
func compiledSet(t testing.TB, file string) []byte {
	t.Helper()
	fds, err := descriptors.Compile(context.Background(), []string{file}, []string{root + "/proto"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUploadCannotTakeOverRoutes: an upload whose routes could take
// requests another set serves is refused with 409 naming both, and
// nothing changes; the library's URL still reaches the library.
func TestUploadCannotTakeOverRoutes(t *testing.T) {
	tg := adminGateway(t)
	r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=grab&backend=echo", takeoverSet(t), protobufType)
	body := string(r.body)
	if r.status != 409 || !strings.Contains(body, `descriptor set \"grab\"`) || !strings.Contains(body, "/v1/shelves/1/books/1") ||
		!strings.Contains(body, `library.v1.LibraryService.GetBook`) {
		t.Fatalf("takeover upload: %d %s, want 409 naming both routes", r.status, body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"title"`) {
		t.Errorf("the library's URL after the refusal: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/takeover/own", nil, nil); r.status != 404 {
		t.Errorf("a refused upload left routes behind: %d", r.status)
	}
}

// TestConfigRouteCannotShadowAnnotations: validate applies the same rule
// between the config's routes and the descriptor sets' annotations.
func TestConfigRouteCannotShadowAnnotations(t *testing.T) {
	cfg, err := config.Parse([]byte(strings.ReplaceAll(`
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["127.0.0.1:1"]}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
routes:
  - get: /v1/shelves/7/books/7
    backend: library
    grpc: library.v1.LibraryService/DeleteBook
`, "{root}", root)), "takeover.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(context.Background(), cfg, quietLog(), observability.NewMetrics())
	if err == nil || !strings.Contains(err.Error(), "routes of takeover.yaml overlap") || !strings.Contains(err.Error(), "GET /v1/shelves/7/books/7") {
		t.Fatalf("New = %v, want the overlap named", err)
	}
}

// TestAdminIndexAndErrors: GET / lists the endpoints; errors carry the
// request id like the gateway's; .proto text gets pointed at compile.
func TestAdminIndexAndErrors(t *testing.T) {
	tg := adminGateway(t)
	r := do(t, "GET", tg.admin.URL+"/", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"/admin/descriptors/{name}/rollback"`) || r.header.Get("X-Request-Id") == "" {
		t.Errorf("index: %d %s", r.status, r.body)
	}
	r = do(t, "GET", tg.admin.URL+"/admin/nothing", nil, map[string]string{"X-Request-Id": "admin-req-1"})
	if r.status != 404 || r.header.Get("X-Request-Id") != "admin-req-1" ||
		!strings.Contains(string(r.body), `"@type":"type.googleapis.com/google.rpc.RequestInfo","requestId":"admin-req-1"`) {
		t.Errorf("error without the request id: %d %v %s", r.status, r.header, r.body)
	}
	src := readFile(t, root+"/proto/echo/v1/echo.proto")
	r = do(t, "POST", tg.admin.URL+"/admin/descriptors?name=src&backend=echo", src, protobufType)
	if r.status != 400 || !strings.Contains(string(r.body), "switchboard compile") {
		t.Errorf(".proto upload: %d %s, want a pointer to switchboard compile", r.status, r.body)
	}
}

// TestUploadCannotReplaceConfigSchemas: an upload may not replace a set the
// config loaded, redefine a message another set has, nor come back by
// rollback with a service another set registered meanwhile.
func TestUploadCannotReplaceConfigSchemas(t *testing.T) {
	tg := adminGateway(t)
	upload := func(name string, body []byte) response {
		return do(t, "POST", tg.admin.URL+"/admin/descriptors?name="+name+"&backend=echo", body, protobufType)
	}
	if r := upload("library", readFile(t, root+"/library.pb")); r.status != 409 || !strings.Contains(string(r.body), "not uploaded") {
		t.Errorf("replacing the config's set: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 200 {
		t.Errorf("the library after the refusal: %d %s", r.status, r.body)
	}
	if r := upload("sneaky", compiledSet(t, "takeover/v1/redefine.proto")); r.status != 409 ||
		!strings.Contains(string(r.body), "library.v1.Book is defined differently") {
		t.Errorf("redefining library.v1.Book: %d %s", r.status, r.body)
	}
	echoPB := readFile(t, root+"/echo.pb")
	if r := upload("s1", echoPB); r.status != 201 {
		t.Fatalf("s1 v1: %d %s", r.status, r.body)
	}
	// A different service under the same name is a breaking change.
	if r := do(t, "POST", tg.admin.URL+"/admin/descriptors?name=s1&backend=echo&allow_breaking=true", compiledSet(t, "takeover/v1/own.proto"), protobufType); r.status != 201 {
		t.Fatalf("s1 v2: %d %s", r.status, r.body)
	}
	if r := upload("s2", echoPB); r.status != 201 {
		t.Fatalf("s2 with the echo service s1 gave up: %d %s", r.status, r.body)
	}
	r := do(t, "POST", tg.admin.URL+"/admin/descriptors/s1/rollback", nil, nil)
	if r.status != 409 || !strings.Contains(string(r.body), `echo.v1.EchoService is already registered by descriptor set \"s2\"`) {
		t.Errorf("rollback bringing back a service s2 has: %d %s", r.status, r.body)
	}
}

// TestAdminBackends: the operator's view shows each backend and its
// breaker opening when the backend is down.
func TestAdminBackends(t *testing.T) {
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    breaker: {failures: 1, cooldown: 1m}
services:
  - name: library.v1.LibraryService
    backend: library
`, closedAddr(t)))
	read := func() []gateway.BackendStatus {
		r := do(t, "GET", tg.admin.URL+"/admin/backends", nil, nil)
		var out []gateway.BackendStatus
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || len(out) != 1 {
			t.Fatalf("backends: %d %s", r.status, r.body)
		}
		return out
	}
	if b := read()[0]; b.Name != "library" || b.Protocol != "grpc" || b.Breaker.State != "closed" || len(b.Endpoints) != 1 {
		t.Errorf("before: %+v", b)
	}
	if r := do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil); r.status != 503 {
		t.Fatalf("call to a closed port: %d %s", r.status, r.body)
	}
	if b := read()[0]; b.Breaker.State != "open" || b.Breaker.OpenUntil.IsZero() {
		t.Errorf("after a failure: %+v, want the breaker open", b.Breaker)
	}
}

// TestAdmin405AndProtoHint: a wrong method lists the allowed ones; .proto
// text sent as a form is pointed at compile too.
func TestAdmin405AndProtoHint(t *testing.T) {
	tg := adminGateway(t)
	r := do(t, "DELETE", tg.admin.URL+"/admin/routes", nil, nil)
	if r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("DELETE /admin/routes: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	src := readFile(t, root+"/proto/echo/v1/echo.proto")
	r = do(t, "POST", tg.admin.URL+"/admin/descriptors?name=src&backend=echo", src, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != 415 || !strings.Contains(string(r.body), "switchboard compile") {
		t.Errorf(".proto as a form: %d %s", r.status, r.body)
	}
}

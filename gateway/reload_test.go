package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// countingListener counts the connections a backend accepts: a backend
// kept across a reload keeps its connection.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

func startCountingRecorder(t *testing.T) (*recordingServer, *countingListener) {
	t.Helper()
	rs := &recordingServer{}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	serveAnyMethod(t, lis, rs.handle)
	return rs, lis
}

type reloadWorld struct {
	file    string
	g       *gateway.Gateway
	http    *httptest.Server
	admin   *httptest.Server
	metrics *observability.Metrics
}

func newReloadWorld(t *testing.T, yaml string) *reloadWorld {
	t.Helper()
	return newReloadWorldLog(t, yaml, quietLog())
}

func newReloadWorldLog(t *testing.T, yaml string, log *slog.Logger) *reloadWorld {
	t.Helper()
	w := &reloadWorld{file: filepath.Join(t.TempDir(), "gateway.yaml")}
	w.write(t, yaml)
	cfg, err := config.Load(w.file, builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	w.metrics = observability.NewMetrics()
	w.g, err = gateway.New(context.Background(), cfg, log, w.metrics)
	if err != nil {
		t.Fatal(err)
	}
	w.http = httptest.NewServer(w.g.Handler())
	w.admin = httptest.NewServer(admin.Handler(w.g, w.metrics.Handler(), w.g.Ready))
	t.Cleanup(func() {
		w.http.Close()
		w.admin.Close()
		w.g.Close()
	})
	return w
}

func (w *reloadWorld) write(t *testing.T, yaml string) {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "{root}", mustAbs(t, root))
	// Write and rename, as editors and config managers do.
	tmp := w.file + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, w.file); err != nil {
		t.Fatal(err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func reloadConfig(a, b string, extra string) string {
	return fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  a: {grpc: {endpoints: ["%s"]}, timeout: 2s}
%s
routes:
  - {post: /v1/a, backend: a, grpc: library.v1.LibraryService/Ping}
%s`, a, b, extra)
}

// TestReloadUnderLoad: reloads add and change backends, routes and
// policies while requests flow; none of those requests fails, a config
// with problems changes nothing, and an unchanged backend keeps its
// connection.
func TestReloadUnderLoad(t *testing.T) {
	_, la := startCountingRecorder(t)
	_, lb := startCountingRecorder(t)
	a, b := la.Addr().String(), lb.Addr().String()
	w := newReloadWorld(t, reloadConfig(a, "", ""))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent, failed atomic.Int64
	var firstFailure atomic.Value
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(w.http.URL+"/v1/a", "application/json", strings.NewReader(`{}`))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}

	bPolicy := `policies:
  keyed: {authenticate: {api_keys: {keys: [{name: k, sha256: ` + sha(readerKey) + `}]}}}
`
	steps := []struct {
		name     string
		yaml     string
		refused  bool
		bStatus  int // what POST /v1/b answers after the step
		bHeaders map[string]string
	}{
		{"add a backend, a route and its policy", reloadConfig(a, `  b: {grpc: {endpoints: ["`+b+`"]}, timeout: 2s}`,
			"  - {post: /v1/b, backend: b, grpc: library.v1.LibraryService/Ping, policy: keyed}\n"+bPolicy), false, 401, nil},
		{"the key gets through", reloadConfig(a, `  b: {grpc: {endpoints: ["`+b+`"]}, timeout: 2s}`,
			"  - {post: /v1/b, backend: b, grpc: library.v1.LibraryService/Ping, policy: keyed}\n"+bPolicy), false, 200, map[string]string{"X-Api-Key": readerKey}},
		{"change backend b's timeout", reloadConfig(a, `  b: {grpc: {endpoints: ["`+b+`"]}, timeout: 3s}`,
			"  - {post: /v1/b, backend: b, grpc: library.v1.LibraryService/Ping, policy: keyed}\n"+bPolicy), false, 200, map[string]string{"X-Api-Key": readerKey}},
		{"a route to an unknown backend is refused", reloadConfig(a, "", "  - {post: /v1/c, backend: nope, grpc: library.v1.LibraryService/Ping}\n"), true, 200, map[string]string{"X-Api-Key": readerKey}},
		{"YAML that does not parse is refused", "routes: [\n", true, 200, map[string]string{"X-Api-Key": readerKey}},
		{"remove backend b and its route", reloadConfig(a, "", ""), false, 404, nil},
	}
	// Requests flow between reloads: each step waits for a few more.
	flowed := func() {
		t.Helper()
		want := sent.Load() + 10
		for sent.Load() < want {
			if failed.Load() > 0 {
				return // reported below
			}
			runtime.Gosched()
		}
	}
	for _, s := range steps {
		flowed()
		w.write(t, s.yaml)
		res, err := w.g.Reload(context.Background())
		if s.refused != (err != nil) {
			t.Fatalf("%s: reload err = %v", s.name, err)
		}
		if err != nil && !errors.Is(err, gateway.ErrReloadRefused) {
			t.Errorf("%s: %v does not wrap ErrReloadRefused", s.name, err)
		}
		if err == nil && len(res.Kept) == 0 {
			t.Errorf("%s: backend a was not kept: %+v", s.name, res)
		}
		r := do(t, "POST", w.http.URL+"/v1/b", []byte(`{}`), mergeHeaders(map[string]string{"Content-Type": "application/json"}, s.bHeaders))
		if r.status != s.bStatus {
			t.Errorf("%s: POST /v1/b answered %d, want %d: %s", s.name, r.status, s.bStatus, r.body)
		}
	}
	flowed()
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during reloads (first: %v)", n, sent.Load(), firstFailure.Load())
	}
	if sent.Load() < 50 {
		t.Errorf("only %d requests were sent: the load did not overlap the reloads", sent.Load())
	}
	if n := la.accepted.Load(); n != 1 {
		t.Errorf("backend a accepted %d connections; a kept backend keeps its one", n)
	}
	m := string(do(t, "GET", w.admin.URL+"/metrics", nil, nil).body)
	for _, want := range []string{`switchboard_config_reloads_total{outcome="ok"} 4`, `switchboard_config_reloads_total{outcome="refused"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestReloadKeepsUploads: a set registered through the admin API outlives
// a reload.
func TestReloadKeepsUploads(t *testing.T) {
	_, la := startCountingRecorder(t)
	w := newReloadWorld(t, reloadConfig(la.Addr().String(), "", ""))
	for range 2 {
		r := do(t, "POST", w.admin.URL+"/admin/descriptors?name=echo&backend=a", mustRead(t, root+"/echo.pb"), map[string]string{"Content-Type": "application/x-protobuf"})
		if r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
	}
	if _, err := w.g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", w.http.URL+"/v1/echo/hi", nil, nil); r.status != 200 {
		t.Errorf("the uploaded set's route after a reload: %d %s", r.status, r.body)
	}
	// Its history and version numbers survive the reload.
	if r := do(t, "POST", w.admin.URL+"/admin/descriptors/echo/rollback", nil, nil); r.status != 200 || !strings.Contains(string(r.body), `"version": 1`) {
		t.Errorf("rollback after a reload: %d %s", r.status, r.body)
	}
	// A config that drops the upload's backend is refused, not applied
	// with the upload silently gone.
	w.write(t, `
descriptors:
  - file: {root}/library.pb
backends:
  other: {grpc: {endpoints: ["127.0.0.1:1"]}}
`)
	if _, err := w.g.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), `registered set "echo" uses backend "a"`) {
		t.Errorf("reload without the upload's backend: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReloadTriggers: an edited file reloads the config, so does SIGHUP,
// and so does POST /admin/reload, which answers 422 with the problems of
// a config that does not load.
func TestReloadTriggers(t *testing.T) {
	_, la := startCountingRecorder(t)
	a := la.Addr().String()
	logs := new(logWatch)
	w := newReloadWorldLog(t, reloadConfig(a, "", ""), logs.logger())
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	ready := logs.next("watching the config for changes")
	go func() { defer close(watching); _ = w.g.WatchConfig(ctx) }()
	defer func() { cancel(); <-watching }()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not start")
	}

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	reloads := func() string { return string(do(t, "GET", w.admin.URL+"/metrics", nil, nil).body) }

	w.write(t, reloadConfig(a, "", "  - {post: /v1/edited, backend: a, grpc: library.v1.LibraryService/Ping}\n"))
	waitFor("the edited file's route", func() bool {
		return do(t, "POST", w.http.URL+"/v1/edited", []byte(`{}`), map[string]string{"Content-Type": "application/json"}).status == 200
	})

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("a reload on SIGHUP", func() bool { return strings.Contains(reloads(), `switchboard_config_reloads_total{outcome="ok"} 2`) })

	w.write(t, "routes: {not: a list}\n")
	waitFor("the refused edit", func() bool {
		return strings.Contains(reloads(), `switchboard_config_reloads_total{outcome="refused"} 1`)
	})
	r := do(t, "POST", w.admin.URL+"/admin/reload", nil, nil)
	if r.status != 422 || !strings.Contains(string(r.body), "routes") {
		t.Errorf("POST /admin/reload of a bad config: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", w.http.URL+"/v1/edited", []byte(`{}`), map[string]string{"Content-Type": "application/json"}); r.status != 200 {
		t.Errorf("a refused reload changed the routes: %d", r.status)
	}
	w.write(t, reloadConfig(a, "", ""))
	r = do(t, "POST", w.admin.URL+"/admin/reload", nil, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"kept"`) {
		t.Errorf("POST /admin/reload: %d %s", r.status, r.body)
	}
}

// TestReloadKeepsUnchangedPolicies: a reload that leaves the policies as
// they were keeps their rate limit buckets; a config with no routes is
// refused as a half-written file.
func TestReloadKeepsUnchangedPolicies(t *testing.T) {
	_, la := startCountingRecorder(t)
	yaml := reloadConfig(la.Addr().String(), "", `  - {post: /v1/limited, backend: a, grpc: library.v1.LibraryService/Ping, policy: limited}
policies:
  limited: {rate_limit: {rate: 1, per: 1m, burst: 1}}
`)
	w := newReloadWorld(t, yaml)
	call := func() int {
		return do(t, "POST", w.http.URL+"/v1/limited", []byte(`{}`), map[string]string{"Content-Type": "application/json"}).status
	}
	if a, b := call(), call(); a != 200 || b != 429 {
		t.Fatalf("before: %d %d", a, b)
	}
	w.write(t, yaml+"# a comment changes nothing\n")
	if _, err := w.g.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := call(); s != 429 {
		t.Errorf("after a reload that left the policy alone: %d, want 429 (the bucket kept)", s)
	}
	w.write(t, "descriptors:\n  - file: {root}/library.pb\n")
	if _, err := w.g.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "exposes no routes") {
		t.Errorf("a config with no routes: %v", err)
	}
}

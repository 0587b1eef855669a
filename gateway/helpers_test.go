package gateway_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/grpcmock"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files")

const root = "../testdata"

// quietLog keeps test output readable; set SWITCHBOARD_TEST_LOG=1 to see logs.
func quietLog() *slog.Logger {
	if os.Getenv("SWITCHBOARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startMock serves the mock gRPC backend for a descriptor set and stubs on
// loopback and returns its address.
func startMock(t testing.TB, pb, stubs string) string {
	t.Helper()
	addr, _ := startMockOn(t, "127.0.0.1:0", pb, stubs)
	return addr
}

// startMockOn serves the mock on addr; stop ends it early (it is also
// stopped at cleanup).
func startMockOn(t testing.TB, addr, pb, stubs string) (string, func()) {
	t.Helper()
	fds, err := descriptors.ReadSetFile(filepath.Join(root, pb))
	if err != nil {
		t.Fatal(err)
	}
	set, err := descriptors.NewSet(pb, "", descriptors.Source{Kind: descriptors.SourceFile, Ref: pb}, fds)
	if err != nil {
		t.Fatal(err)
	}
	st, err := mock.LoadStubs(filepath.Join(root, "stubs", stubs))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcmock.New(set.Files, set.Types, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	var once sync.Once
	stop := func() { once.Do(func() { srv.Stop(); <-done }) }
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

type testGateway struct {
	g     *gateway.Gateway
	http  *httptest.Server
	admin *httptest.Server
}

// startGateway builds a gateway from yaml, where "{root}" is the testdata
// directory, and serves it and its admin API with httptest.
func startGateway(t testing.TB, yaml string) *testGateway {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "{root}", root)
	cfg, err := config.Parse([]byte(yaml), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	m := observability.NewMetrics()
	g, err := gateway.New(context.Background(), cfg, quietLog(), m)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{g: g, http: httptest.NewServer(g.Handler()), admin: httptest.NewServer(admin.Handler(g, m.Handler(), g.Ready))}
	t.Cleanup(func() {
		tg.http.Close()
		tg.admin.Close()
		g.Close()
	})
	return tg
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, url string, body []byte, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if len(got) == 0 || got[len(got)-1] != '\n' {
		got = append(got, '\n')
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-update to accept):\ngot  %s\nwant %s", path, got, want)
	}
}

// newServer serves g's handler with httptest until the test ends.
func newServer(t testing.TB, g *gateway.Gateway) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(g.Handler())
	t.Cleanup(s.Close)
	return s
}

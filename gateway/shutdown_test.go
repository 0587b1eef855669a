package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
)

// TestGracefulShutdown cancels Run while a slow request is in flight: the
// request completes, readiness fails during the drain, and afterwards the
// listener refuses connections and no goroutine is left (TestMain's goleak).
func TestGracefulShutdown(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listen: 127.0.0.1:0
admin: 127.0.0.1:0
limits: {shutdown_timeout: 10s}
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 10s
services:
  - name: library.v1.LibraryService
    backend: library
`, mockAddr)), "shutdown.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := observability.NewMetrics()
	g, err := gateway.New(context.Background(), cfg, quietLog(), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan gateway.Listeners, 1)
	runErr := make(chan error, 1)
	go func() {
		runErr <- g.Run(ctx, admin.Handler(g, m.Handler(), g.Ready), func(l gateway.Listeners) { started <- l })
	}()
	l := <-started
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	slow := make(chan int, 1)
	go func() {
		resp, err := client.Get("http://" + l.HTTP + "/v1/shelves/9/books/slow")
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // let the request reach the backend
	if err := g.Ready(); err != nil {
		t.Fatalf("not ready before shutdown: %v", err)
	}
	cancel()
	time.Sleep(100 * time.Millisecond)
	if err := g.Ready(); err == nil {
		t.Error("still ready while draining")
	}
	if code := <-slow; code != 200 {
		t.Errorf("request in flight during shutdown: status %d, want 200", code)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := client.Get("http://" + l.HTTP + "/v1/shelves/1/books/1"); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

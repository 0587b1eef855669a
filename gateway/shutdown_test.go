package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// TestGracefulShutdown cancels Run while a slow request is in flight: the
// request completes, readiness fails during the drain, and afterwards the
// listener refuses connections and no goroutine is left (TestMain's goleak).
func TestGracefulShutdown(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	logs := new(logWatch)
	calling := &spanStart{kind: trace.SpanKindClient, started: make(chan struct{})}
	run := runUntilCancelled(t, fmt.Sprintf(`
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
    unannotated: true
`, mockAddr), logs,
		gateway.WithTracing(observability.NewTracingWith(calling, observability.TracingOptions{})))
	l, g, cancel, runErr := run.l, run.g, run.cancel, run.err
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
	// The backend attempt's span starts as the gateway calls the mock: the
	// request is then past the listener and in flight, and the drain must
	// wait for it (the mock holds it 3s).
	select {
	case <-calling.started:
	case code := <-slow:
		t.Fatalf("the slow request ended (status %d) before reaching the backend", code)
	case <-time.After(eventTimeout):
		t.Fatal("the slow request never reached the backend")
	}
	if err := g.Ready(); err != nil {
		t.Fatalf("not ready before shutdown: %v", err)
	}
	// Run marks the gateway draining, then logs "shutting down".
	draining := logs.next(`msg="shutting down"`)
	cancel()
	await(t, draining, "Run to start draining")
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

// eventTimeout bounds a wait for an event: it only turns an event that
// never comes into a failure instead of a hang, and is never slept.
const eventTimeout = 10 * time.Second

// await waits for ch to be closed.
func await(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(eventTimeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// logWatch is a log sink a test can wait on: what the gateway and its
// backends log is the hook they offer for their events. Lines are shown
// with SWITCHBOARD_TEST_LOG=1, as with quietLog.
type logWatch struct {
	mu    sync.Mutex
	waits []logWait
}

type logWait struct {
	parts []string
	ch    chan struct{}
}

func (w *logWatch) logger() *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// next returns a channel closed by the next record containing every one of
// parts. Call it before whatever makes the record can happen.
func (w *logWatch) next(parts ...string) <-chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	w.waits = append(w.waits, logWait{parts, ch})
	w.mu.Unlock()
	return ch
}

// Write takes one record: a slog.TextHandler writes each in one call.
func (w *logWatch) Write(p []byte) (int, error) {
	line := string(p)
	w.mu.Lock()
	kept := w.waits[:0]
	for _, wt := range w.waits {
		matched := true
		for _, part := range wt.parts {
			matched = matched && strings.Contains(line, part)
		}
		if matched {
			close(wt.ch)
		} else {
			kept = append(kept, wt)
		}
	}
	w.waits = kept
	w.mu.Unlock()
	if os.Getenv("SWITCHBOARD_TEST_LOG") != "" {
		_, _ = os.Stderr.Write(p)
	}
	return len(p), nil
}

// spanStart is a span processor that closes started when the first span
// of kind starts: with SpanKindClient, when the gateway first calls a
// backend.
type spanStart struct {
	kind    trace.SpanKind
	started chan struct{}
	once    sync.Once
}

func (s *spanStart) OnStart(_ context.Context, span sdktrace.ReadWriteSpan) {
	if span.SpanKind() == s.kind {
		s.once.Do(func() { close(s.started) })
	}
}

func (s *spanStart) OnEnd(sdktrace.ReadOnlySpan)      {}
func (s *spanStart) Shutdown(context.Context) error   { return nil }
func (s *spanStart) ForceFlush(context.Context) error { return nil }

// TestGracefulShutdownUnderLoad: with 500 requests held at the backend,
// shutdown starts, the backend then answers, and every one of the 500
// completes with 200.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	const n = 500
	var arrived atomic.Int64
	all := make(chan struct{})
	release := make(chan struct{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveAnyMethod(t, lis, func(_ any, stream grpc.ServerStream) error {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		if arrived.Add(1) == n {
			close(all)
		}
		<-release
		out := []byte{}
		return stream.SendMsg(&out)
	})
	logs := new(logWatch)
	run := runUntilCancelled(t, fmt.Sprintf(`
listen: 127.0.0.1:0
admin: 127.0.0.1:0
limits: {shutdown_timeout: 30s}
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 30s
services:
  - name: library.v1.LibraryService
    backend: library
`, lis.Addr()), logs)
	l, cancel, runErr := run.l, run.cancel, run.err
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	statuses := make(chan int, n)
	for range n {
		go func() {
			resp, err := client.Get("http://" + l.HTTP + "/v1/shelves/1/books/1")
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	select {
	case <-all:
	case <-time.After(eventTimeout):
		t.Fatalf("%d of %d requests reached the backend", arrived.Load(), n)
	}
	draining := logs.next(`msg="shutting down"`)
	cancel()
	await(t, draining, "Run to start draining")
	close(release)
	ok := 0
	for range n {
		if <-statuses == http.StatusOK {
			ok++
		}
	}
	if ok != n {
		t.Errorf("%d of %d requests in flight at shutdown completed with 200", ok, n)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// running is a gateway served by Run until its test cancels it.
type running struct {
	l      gateway.Listeners
	g      *gateway.Gateway
	cancel context.CancelFunc
	err    <-chan error // what Run returned
}

// runUntilCancelled parses yaml and serves it with Run, logging to logs,
// until the test calls cancel.
func runUntilCancelled(t *testing.T, yaml string, logs *logWatch, opts ...gateway.Option) running {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "shutdown.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	m := observability.NewMetrics()
	g, err := gateway.New(context.Background(), cfg, logs.logger(), m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan gateway.Listeners, 1)
	runErr := make(chan error, 1)
	go func() {
		runErr <- g.Run(ctx, admin.Handler(g, m.Handler(), g.Ready), func(l gateway.Listeners) { started <- l })
	}()
	return running{l: <-started, g: g, cancel: cancel, err: runErr}
}

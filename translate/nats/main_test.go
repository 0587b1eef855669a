package nats

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
)

// TestMain checks that no test leaves a goroutine behind: connections,
// embedded servers and mock responders all go in t.Cleanup.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLog shows connection events with -v; they are quiet otherwise.
// Either way each one signals connEvents.
func testLog() *slog.Logger {
	var h slog.Handler = slog.DiscardHandler
	if testing.Verbose() {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return slog.New(eventHandler{h})
}

// connEvents is signalled on every connection event of the package's
// tests: whatever a Backend logs through testLog (connected, disconnected,
// reconnected, each failed reconnect attempt, closed: nats.go calls those
// handlers once the status has changed, so Ready already shows it), and a
// client's reconnection. eventually re-checks its condition on each.
var connEvents = &broadcast{ch: make(chan struct{})}

// broadcast wakes every waiter at each signal.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// next returns a channel closed by the next signal.
func (b *broadcast) next() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// eventHandler hands records on and signals connEvents after each.
type eventHandler struct{ next slog.Handler }

func (h eventHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h eventHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	connEvents.signal()
	return err
}

func (h eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return eventHandler{h.next.WithAttrs(as)}
}

func (h eventHandler) WithGroup(name string) slog.Handler {
	return eventHandler{h.next.WithGroup(name)}
}

// startServer runs a NATS server with JetStream on a random loopback port
// (or the port given) for one test; stop it early with stopServer.
func startServer(t testing.TB, port int, storeDir string) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	if storeDir == "" {
		storeDir = t.TempDir()
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { stopServer(s) })
	return s
}

func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// backend connects a Backend to url with quick reconnects.
func backend(t testing.TB, url string) *Backend {
	t.Helper()
	b, err := Connect("orders", ConnOptions{URL: url, ReconnectWait: 50 * time.Millisecond}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// client is a plain nats.go connection, standing in for a service.
func client(t testing.TB, url string) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(url, natsgo.ReconnectWait(50*time.Millisecond), natsgo.MaxReconnects(-1),
		// The service is back once the server has its subscriptions again,
		// which the flush (a PING answered after them) makes sure of.
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			_ = nc.Flush()
			connEvents.signal()
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// respond subscribes a handler on subject and waits until the server has it.
func respond(t testing.TB, nc *natsgo.Conn, subject string, h natsgo.MsgHandler) {
	t.Helper()
	if _, err := nc.Subscribe(subject, h); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// target serves route r over backend b through the shared pipeline, with
// no resilience policy.
func target(t testing.TB, b translate.Backend, fields []string, r Route) *pipeline.Target {
	t.Helper()
	tc, err := NewTranscoder("orders", fields, r)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Unguarded("orders", b, tc, r.Resolver)
}

// call serves one request through the target: method, body, headers, and
// path params as field/value pairs. The request carries a request id, as
// the gateway's middleware would give it.
func call(t testing.TB, tg *pipeline.Target, method, body string, header http.Header, params ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return callWith(t, tg, method, rd, func(req *http.Request, _ http.ResponseWriter) {
		for k, vs := range header {
			req.Header[k] = vs
		}
		if body != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/json")
		}
	}, params...)
}

func callWith(t testing.TB, tg *pipeline.Target, method string, body io.Reader, prepare func(*http.Request, http.ResponseWriter), params ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/test", body)
	rec := httptest.NewRecorder()
	if prepare != nil {
		prepare(req, rec)
	}
	// A test must fail, not hang, whatever the target does with the
	// deadline; tests of deadlines set shorter ones.
	ctx, cancel := context.WithTimeout(req.Context(), 20*time.Second)
	defer cancel()
	req = req.WithContext(observability.WithInfo(ctx, &observability.Info{ID: "req-1"}))
	var ps routes.Params
	for i := 0; i+1 < len(params); i += 2 {
		ps = append(ps, routes.Param{FieldPath: params[i], Value: params[i+1]})
	}
	tg.ServeRoute(rec, req, ps)
	return rec
}

// errorBody is the google.rpc.Status JSON every error is written as.
type errorBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

func decodeError(t testing.TB, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return e
}

// shop compiles testdata/proto/shop/v1/shop.proto, as the gateway does at
// start for typed routes.
func shop(t testing.TB) *descriptors.Set {
	t.Helper()
	fds, err := descriptors.Compile(context.Background(), []string{"shop/v1/shop.proto"}, []string{"../../testdata/proto"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := descriptors.NewSet("shop", "orders", descriptors.Source{Kind: descriptors.SourceFile, Ref: "test"}, fds)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func message(t testing.TB, set *descriptors.Set, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := set.Files.FindDescriptorByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// eventually waits until cond holds, checking it again at each connection
// event (see connEvents) rather than on a timer, so cond must be something
// a connection event makes true: a Backend's Ready, or a request that
// needs the backend and the responding client connected. The 10s bound
// only turns a missed event into a failure rather than a hang.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		next := connEvents.next() // before cond, so no event is missed
		if cond() {
			return
		}
		select {
		case <-next:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

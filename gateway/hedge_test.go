package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// slowOnceServer answers every method with an empty message, except the
// first call carrying a given x-slow value, which it holds until the call
// is cancelled, saying so on cancelled.
type slowOnceServer struct {
	mu        sync.Mutex
	calls     map[string]int
	cancelled chan string
}

func (s *slowOnceServer) handle(_ any, stream grpc.ServerStream) error {
	var in []byte
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	key := strings.Join(md.Get("x-slow"), ",")
	s.mu.Lock()
	s.calls[key]++
	n := s.calls[key]
	s.mu.Unlock()
	if key != "" && n == 1 {
		<-stream.Context().Done()
		s.cancelled <- key
		return stream.Context().Err()
	}
	out := []byte{}
	return stream.SendMsg(&out)
}

func (s *slowOnceServer) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// startSlowOnce is startRecorder with a handler slow on first calls.
func startSlowOnce(t *testing.T) (*slowOnceServer, string) {
	t.Helper()
	s := &slowOnceServer{calls: map[string]int{}, cancelled: make(chan string, 10)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveAnyMethod(t, lis, s.handle)
	return s, lis.Addr().String()
}

// TestHedgeEndToEnd: a route with hedge: {delay: 20ms} and idempotent:
// true answers through the hedge when the first attempt hangs, cancels
// the first, and neither the breaker nor the metrics count it; a route
// whose calls are not idempotent sends one attempt whatever its hedge.
func TestHedgeEndToEnd(t *testing.T) {
	srv, addr := startSlowOnce(t)
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  hedged:
    grpc: {endpoints: ["%[1]s"]}
    timeout: 5s
    breaker: {failures: 1, cooldown: 1m}
  short:
    grpc: {endpoints: ["%[1]s"]}
    timeout: 300ms
routes:
  - post: /v1/hedged/{name=shelves/*/books/*}
    backend: hedged
    grpc: library.v1.LibraryService/GetBook
    idempotent: true
    hedge: {delay: 20ms}
  - post: /v1/once/{name=shelves/*/books/*}
    backend: short
    grpc: library.v1.LibraryService/GetBook
    hedge: {delay: 20ms, max: 2}
`, addr))
	resp := do(t, "POST", tg.http.URL+"/v1/hedged/shelves/1/books/1", nil, map[string]string{"Grpc-Metadata-X-Slow": "a"})
	if resp.status != 200 {
		t.Fatalf("hedged route: %d %s", resp.status, resp.body)
	}
	select {
	case key := <-srv.cancelled:
		if key != "a" {
			t.Errorf("cancelled call %q, want a", key)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hanging first attempt was not cancelled")
	}
	if n := srv.count("a"); n != 2 {
		t.Errorf("backend saw %d calls, want the first and its hedge", n)
	}

	resp = do(t, "POST", tg.http.URL+"/v1/once/shelves/1/books/1", nil, map[string]string{"Grpc-Metadata-X-Slow": "b"})
	if resp.status != 504 {
		t.Errorf("non-idempotent route: %d %s, want 504 from the one attempt", resp.status, resp.body)
	}
	if n := srv.count("b"); n != 1 {
		t.Errorf("backend saw %d calls of a non-idempotent route, want 1", n)
	}

	r := do(t, "GET", tg.admin.URL+"/admin/backends", nil, nil)
	var backends []gateway.BackendStatus
	if r.status != 200 || json.Unmarshal(r.body, &backends) != nil {
		t.Fatalf("backends: %d %s", r.status, r.body)
	}
	for _, b := range backends {
		switch b.Name {
		case "hedged":
			if b.Hedges != 1 || b.HedgesWon != 1 {
				t.Errorf("hedged: hedges %d won %d, want 1 and 1", b.Hedges, b.HedgesWon)
			}
			if b.Breaker.State != "closed" || b.Breaker.ConsecutiveFailures != 0 {
				t.Errorf("hedged: breaker %+v, want no failure counted", b.Breaker)
			}
		case "short":
			if b.Hedges != 0 {
				t.Errorf("short: %d hedges, want none", b.Hedges)
			}
		}
	}
	m := do(t, "GET", tg.admin.URL+"/metrics", nil, nil)
	for _, line := range strings.Split(string(m.body), "\n") {
		if strings.HasPrefix(line, "switchboard_backend_calls_total") && strings.Contains(line, `backend="hedged"`) && !strings.Contains(line, `code="OK"`) {
			t.Errorf("metrics count the cancelled attempt: %s", line)
		}
	}
}

// TestHedgeConfig: hedge's keys are checked at load, with their line.
func TestHedgeConfig(t *testing.T) {
	const base = `
backends:
  lib:
    grpc: {endpoints: ["127.0.0.1:1"]}
routes:
  - get: /v1/x
    backend: lib
    grpc: library.v1.LibraryService/GetBook
    hedge: %s
`
	tests := []struct {
		hedge, wantErr string
	}{
		{`{delay: 50ms}`, ""},
		{`{delay: p95, max: 2}`, ""},
		{`{delay: 50ms, max: 3}`, "hedge.max must be 1 or 2"},
		{`{delay: 50ms, max: -1}`, "hedge.max must be 1 or 2"},
		{`{max: 1}`, "hedge.delay is required"},
		{`{delay: soon}`, `invalid hedge delay "soon"`},
		{`{delay: p99}`, `invalid hedge delay "p99"`},
		{`{delay: 0s}`, `invalid hedge delay "0s"`},
		{`{delay: 50ms, after: 2}`, "routes[0].hedge.after: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.hedge, func(t *testing.T) {
			cfg, err := config.Parse([]byte(fmt.Sprintf(base, tt.hedge)), "test.yaml", builtin.Protocols().Config())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if h := cfg.Routes[0].Hedge; h == nil || h.Max < 1 {
					t.Errorf("hedge = %+v, want max defaulted to 1 or set", h)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "test.yaml:9") {
				t.Errorf("err = %v, want %q at test.yaml:9", err, tt.wantErr)
			}
		})
	}
}

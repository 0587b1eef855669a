package grpc

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translate"
)

const testHealthService = "sb.test.Echo"

// testEndpoint is one in-process gRPC server that counts the calls it
// receives and serves grpc.health.v1 with a status the test sets.
type testEndpoint struct {
	addr   string
	calls  atomic.Int64
	health *health.Server // nil: no health service at all
	// While hold is set, calls block until release is closed (or the call
	// ends); arrived gets a value for each held call.
	hold    atomic.Bool
	release chan struct{}
	arrived chan struct{}
}

// noLeaks checks, after every cleanup of t has run, that t left no
// goroutines behind (connections, health watches, balancers).
func noLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

func startEndpoint(t *testing.T, withHealth bool) *testEndpoint {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := &testEndpoint{addr: lis.Addr().String(), release: make(chan struct{}), arrived: make(chan struct{}, 1000)}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(Codec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		if m, _ := grpc.MethodFromServerStream(st); strings.HasPrefix(m, "/grpc.health.v1.") {
			// What a server without the health service answers.
			return status.Errorf(codes.Unimplemented, "unknown service grpc.health.v1.Health")
		}
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		ep.calls.Add(1)
		if ep.hold.Load() {
			ep.arrived <- struct{}{}
			select {
			case <-ep.release:
			case <-st.Context().Done():
			}
		}
		return st.SendMsg(&in)
	}))
	if withHealth {
		ep.health = health.NewServer()
		ep.health.SetServingStatus(testHealthService, healthpb.HealthCheckResponse_SERVING)
		healthpb.RegisterHealthServer(srv, ep.health)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		if ep.health != nil {
			ep.health.Shutdown()
		}
		srv.Stop()
		<-done
	})
	return ep
}

func (ep *testEndpoint) setServing(serving bool) {
	s := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		s = healthpb.HealthCheckResponse_SERVING
	}
	ep.health.SetServingStatus(testHealthService, s)
}

func call(ctx context.Context, be *Backend) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := be.Invoke(ctx, &translate.Call{Method: "/sb.test.Echo/Say", Body: []byte{}})
	return err
}

// calls makes n calls and returns how many each endpoint received.
func calls(t *testing.T, be *Backend, n int, eps ...*testEndpoint) []int64 {
	t.Helper()
	before := make([]int64, len(eps))
	for i, ep := range eps {
		before[i] = ep.calls.Load()
	}
	for range n {
		if err := call(context.Background(), be); err != nil {
			t.Fatalf("call: %v", err)
		}
	}
	got := make([]int64, len(eps))
	for i, ep := range eps {
		got[i] = ep.calls.Load() - before[i]
	}
	return got
}

// eventually polls cond every 10ms until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dialTest(t *testing.T, opts Options, eps ...*testEndpoint) *Backend {
	t.Helper()
	for _, ep := range eps {
		opts.Endpoints = append(opts.Endpoints, ep.addr)
	}
	be, err := Dial("b", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = be.Close() })
	return be
}

func TestServiceConfig(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		// Unchanged when none of the new keys is set.
		{Options{}, `{"loadBalancingConfig":[{"switchboard_round_robin":{}}]}`},
		{Options{Balancing: "round_robin"}, `{"loadBalancingConfig":[{"switchboard_round_robin":{}}]}`},
		{Options{Balancing: "least_request"}, `{"loadBalancingConfig":[{"switchboard_least_request":{}}]}`},
		{Options{Health: &HealthCheck{}}, `{"healthCheckConfig":{"serviceName":""},"loadBalancingConfig":[{"switchboard_round_robin":{}}]}`},
		{Options{Balancing: "least_request", Health: &HealthCheck{Service: `a.B"`}},
			`{"healthCheckConfig":{"serviceName":"a.B\""},"loadBalancingConfig":[{"switchboard_least_request":{}}]}`},
	} {
		got, err := serviceConfig(c.opts)
		if err != nil || got != c.want {
			t.Errorf("serviceConfig(%+v) = %s, %v; want %s", c.opts, got, err, c.want)
		}
	}
	if _, err := serviceConfig(Options{Balancing: "random"}); err == nil || !strings.Contains(err.Error(), `unknown balancing "random"`) {
		t.Errorf("balancing random: err = %v", err)
	}
	if _, err := Dial("b", Options{Endpoints: []string{"127.0.0.1:1"}, Health: &HealthCheck{Service: "a/b"}}); err == nil ||
		!strings.Contains(err.Error(), "not a service name") {
		t.Errorf("health service a/b: err = %v", err)
	}
}

// TestHealthCheckTakesEndpointsOutOfRotation: an endpoint whose health
// service answers NOT_SERVING gets no calls until it is SERVING again;
// with every endpoint out, calls fail UNAVAILABLE at once (and retryable:
// nothing was sent).
func TestHealthCheckTakesEndpointsOutOfRotation(t *testing.T) {
	noLeaks(t)
	a, b := startEndpoint(t, true), startEndpoint(t, true)
	be := dialTest(t, Options{Health: &HealthCheck{Service: testHealthService}}, a, b)

	eventually(t, "both endpoints get calls", func() bool {
		got := calls(t, be, 10, a, b)
		return got[0] > 0 && got[1] > 0
	})

	a.setServing(false)
	// Calls picked before the status change arrived may still reach a.
	eventually(t, "a is out of rotation", func() bool { return calls(t, be, 20, a, b)[0] == 0 })
	if got := calls(t, be, 50, a, b); got[0] != 0 || got[1] != 50 {
		t.Errorf("with a NOT_SERVING: a got %d calls, b %d; want 0 and 50", got[0], got[1])
	}

	a.setServing(true)
	eventually(t, "a is back in rotation", func() bool { return calls(t, be, 10, a, b)[0] > 0 })
	if got := calls(t, be, 40, a, b); got[0] < 10 || got[1] < 10 {
		t.Errorf("with both SERVING again: a got %d calls, b %d; want them spread", got[0], got[1])
	}

	a.setServing(false)
	b.setServing(false)
	var last error
	eventually(t, "calls fail UNAVAILABLE", func() bool {
		last = call(context.Background(), be)
		if e := translate.FromError(last); last != nil && e.Code != codes.Unavailable {
			t.Fatalf("with no endpoint SERVING: err = %v, want UNAVAILABLE (not a wait for the deadline)", last)
		}
		return last != nil
	})
	// Not waiting for a healthy endpoint: each call fails well within its 5s.
	start := time.Now()
	for range 5 {
		err := call(context.Background(), be)
		e := translate.FromError(err)
		if e.Code != codes.Unavailable || !e.Retryable || e.Message != "backend b is unavailable" {
			t.Fatalf("with no endpoint SERVING: err = %v (code %v, retryable %v, message %q)", err, e.Code, e.Retryable, e.Message)
		}
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("5 calls with no endpoint SERVING took %v; they should fail at once", d)
	}

	b.setServing(true)
	eventually(t, "b serves again", func() bool { return call(context.Background(), be) == nil })
}

// TestHealthCheckWithoutHealthService: an endpoint that does not implement
// grpc.health.v1 stays in rotation (grpc-go logs it and treats it as
// healthy), so turning checks on cannot take down a backend that lacks the
// service. An endpoint whose health service does not know the name asked
// (SERVICE_UNKNOWN) is out.
func TestHealthCheckWithoutHealthService(t *testing.T) {
	noLeaks(t)
	a := startEndpoint(t, false)
	be := dialTest(t, Options{Health: &HealthCheck{Service: testHealthService}}, a)
	if err := call(context.Background(), be); err != nil {
		t.Fatalf("endpoint without a health service: %v", err)
	}

	b := startEndpoint(t, true)
	be = dialTest(t, Options{Health: &HealthCheck{Service: "sb.test.Unknown"}}, b)
	err := call(context.Background(), be)
	if e := translate.FromError(err); e.Code != codes.Unavailable {
		t.Errorf("health service that does not know the name: err = %v, want UNAVAILABLE", err)
	}
}

// TestLeastRequestAvoidsBusyEndpoint: while a holds every call it gets,
// least_request sends most new calls to the idle b, where round robin would
// send every other one to a. grpc-go samples two endpoints at random (with
// replacement) per call, so with two endpoints a still gets about a quarter.
func TestLeastRequestAvoidsBusyEndpoint(t *testing.T) {
	noLeaks(t)
	a, b := startEndpoint(t, false), startEndpoint(t, false)
	be := dialTest(t, Options{Balancing: "least_request"}, a, b)
	eventually(t, "both endpoints get calls", func() bool {
		got := calls(t, be, 10, a, b)
		return got[0] > 0 && got[1] > 0
	})

	a.hold.Store(true)
	var wg sync.WaitGroup
	defer func() { close(a.release); wg.Wait() }()
	const n = 100
	held := 0
	for range n {
		// One call at a time: wait until it is held at a or answered by b,
		// so that each pick sees the calls in flight.
		done := make(chan error, 1)
		wg.Add(1)
		go func() { defer wg.Done(); done <- call(context.Background(), be) }()
		select {
		case <-a.arrived:
			held++
		case err := <-done:
			if err != nil {
				t.Fatalf("call: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call neither reached a nor came back")
		}
	}
	t.Logf("least_request: %d of %d calls went to the busy endpoint", held, n)
	// Expected about 25; round robin would give 50. P(held > 40) < 1e-3.
	if held > 40 {
		t.Errorf("%d of %d calls went to the endpoint already holding calls", held, n)
	}
}

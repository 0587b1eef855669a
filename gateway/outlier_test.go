package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// flakyEndpoint is a gRPC server that counts calls and fails them all
// with UNAVAILABLE while down.
type flakyEndpoint struct {
	addr  string
	calls atomic.Int64
	down  atomic.Bool
}

func startFlaky(t *testing.T) *flakyEndpoint {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := &flakyEndpoint{addr: lis.Addr().String()}
	serveAnyMethod(t, lis, func(_ any, stream grpc.ServerStream) error {
		var in []byte
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		ep.calls.Add(1)
		if ep.down.Load() {
			return grpcstatus.Error(codes.Unavailable, "flaky endpoint is down")
		}
		out := []byte{}
		return stream.SendMsg(&out)
	})
	return ep
}

// endpointState reads one endpoint's state from GET /admin/backends.
func endpointState(t *testing.T, tg *testGateway, backend, addr string) resilience.EndpointStatus {
	t.Helper()
	r := do(t, "GET", tg.admin.URL+"/admin/backends", nil, nil)
	var out []gateway.BackendStatus
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("backends: %d %s", r.status, r.body)
	}
	for _, b := range out {
		for _, ep := range b.Endpoints {
			if b.Name == backend && ep.Address == addr {
				return ep
			}
		}
	}
	t.Fatalf("no endpoint %s of %s in %s", addr, backend, r.body)
	return resilience.EndpointStatus{}
}

// TestOutlierEjectionThroughTheGateway: against real gRPC servers, an
// endpoint failing every call is ejected after three in a row, takes no
// calls while out, comes back on probation once its time is up, and
// takes its share again after a good probe. The operator sees each step
// in /admin/backends and /metrics.
func TestOutlierEjectionThroughTheGateway(t *testing.T) {
	eps := []*flakyEndpoint{startFlaky(t), startFlaky(t), startFlaky(t)}
	flaky := eps[0]
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  lib:
    grpc: {endpoints: ["%s", "%s", "%s"]}
    timeout: 5s
    outlier: {failures: 3, base_ejection: 300ms, max_ejected_percent: 34}
services:
  - name: library.v1.LibraryService
    backend: lib
`, eps[0].addr, eps[1].addr, eps[2].addr))
	get := func() int { return do(t, "GET", tg.http.URL+"/v1/shelves/1/books/1", nil, nil).status }
	// Connect every endpoint first, so that round robin covers all three.
	for deadline := time.Now().Add(10 * time.Second); ; {
		get()
		if eps[0].calls.Load() > 0 && eps[1].calls.Load() > 0 && eps[2].calls.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("round robin never reached all three endpoints")
		}
	}
	flaky.down.Store(true)
	flaky.calls.Store(0)
	failed := 0
	for range 30 {
		if get() != http.StatusOK {
			failed++
		}
	}
	if n := flaky.calls.Load(); n != 3 || failed != 3 {
		t.Fatalf("the failing endpoint took %d calls and %d requests failed; want 3 of each (then ejected)", n, failed)
	}
	if st := endpointState(t, tg, "lib", flaky.addr); st.State != "ejected" || st.Ejections != 1 || st.ErrorRate == 0 {
		t.Fatalf("failing endpoint: %+v, want ejected once with errors counted", st)
	}
	metrics := string(do(t, "GET", tg.admin.URL+"/metrics", nil, nil).body)
	if want := fmt.Sprintf(`switchboard_backend_endpoint_ejections_total{backend="lib",endpoint=%q} 1`, flaky.addr); !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}

	// Repaired: once its ejection is over it is on probation, and the
	// first call it takes brings it back.
	flaky.down.Store(false)
	waitFor(t, "the ejected endpoint to come back on probation", func() bool {
		return endpointState(t, tg, "lib", flaky.addr).State == "probation"
	})
	flaky.calls.Store(0)
	for range 30 {
		if s := get(); s != http.StatusOK {
			t.Fatalf("after the repair: %d", s)
		}
	}
	if n := flaky.calls.Load(); n < 5 {
		t.Errorf("the repaired endpoint took %d of 30 calls; want its share", n)
	}
	if st := endpointState(t, tg, "lib", flaky.addr); st.State != "in" || !st.Healthy {
		t.Errorf("repaired endpoint: %+v, want in and healthy", st)
	}
}

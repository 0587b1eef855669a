package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/gateway"
)

// runGateway serves the library behind g.Run, the listener a deployment
// uses, until the test ends; it returns the HTTP address.
func runGateway(t *testing.T) string { return runGatewayBoth(t).HTTP }

// runGatewayBoth is runGateway with the admin listener too.
func runGatewayBoth(t *testing.T) gateway.Listeners {
	t.Helper()
	mockAddr := startMock(t, "library.pb", "library.yaml")
	return runConfig(t, fmt.Sprintf(`
listen: 127.0.0.1:0
admin: 127.0.0.1:0
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`, mockAddr))
}

// TestSmugglingRefusedOnTheListener sends request heads whose framing two
// servers could read two ways, each followed on the same connection by a
// second request, and counts the responses: one 400, then the connection
// is closed and the hidden request is never answered.
func TestSmugglingRefusedOnTheListener(t *testing.T) {
	addr := runGateway(t)
	hidden := "GET /v1/shelves/1/books/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	chunk := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(hidden), hidden)
	tests := []struct {
		name string
		head string
	}{
		{"Content-Length and Transfer-Encoding", "POST /v1/shelves/1/books HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"HTTP/1.0 with Transfer-Encoding", "POST /v1/shelves/1/books HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk},
		{"lower-case names", "POST /v1/shelves/1/books HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n" + chunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tt.head+hidden); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || !strings.Contains(string(body), "Transfer-Encoding") {
				t.Errorf("first response %d %s, want 400 naming Transfer-Encoding", resp.StatusCode, body)
			}
			if second, err := http.ReadResponse(br, nil); err == nil {
				t.Errorf("a second response came on the connection: %d", second.StatusCode)
			}
		})
	}
	// A clean request still works on a fresh connection.
	resp, err := http.Get("http://" + addr + "/v1/shelves/1/books/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("clean request: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestSmugglingRefusedOnTheAdminListener: the admin API is guarded too; a
// DELETE hidden in a chunked body is never run.
func TestSmugglingRefusedOnTheAdminListener(t *testing.T) {
	l := runGatewayBoth(t)
	hidden := "DELETE /admin/descriptors/library HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
	c, err := net.Dial("tcp", l.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /admin/descriptors/library/rollback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s", hidden)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("first response %d, want 400", resp.StatusCode)
	}
	if second, err := http.ReadResponse(br, nil); err == nil {
		t.Errorf("the hidden request was answered: %d", second.StatusCode)
	}
	r, err := http.Get("http://" + l.Admin + "/admin/descriptors/library")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Errorf("the set after the attempt: %d, want it still there", r.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}

// TestShedKeepsConnectionsUsable: a request shed at the in-flight limit is
// still counted by the framing guard, so the next request on the same
// kept-alive connection is served, not refused as out of step.
func TestShedKeepsConnectionsUsable(t *testing.T) {
	mockAddr := startMock(t, "library.pb", "library.yaml")
	tg := runConfig(t, fmt.Sprintf(`
listen: 127.0.0.1:0
limits: {max_inflight_requests: 1}
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 10s
services:
  - name: library.v1.LibraryService
    backend: library
`, mockAddr)).HTTP
	slowDone := make(chan int, 1)
	go func() {
		// Until it gets the slot: the test's own requests hold it briefly.
		for {
			resp, err := http.Get("http://" + tg + "/v1/shelves/9/books/slow")
			if err != nil {
				slowDone <- 0
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 503 {
				slowDone <- resp.StatusCode
				return
			}
		}
	}()
	c, err := net.Dial("tcp", tg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	get := func() int {
		fmt.Fprintf(c, "GET /v1/shelves/1/books/1 HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Polled, as a last resort: the slow request holds the only slot once
	// the gateway has it, and nothing outside the process says when.
	shed := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if code := get(); code == 503 {
			shed = true
			break
		}
	}
	if !shed {
		t.Fatal("no request was shed while the slow one held the only slot")
	}
	if code := <-slowDone; code != 200 {
		t.Fatalf("slow request: %d", code)
	}
	if code := get(); code != 200 {
		t.Errorf("the same connection after a shed request: %d, want 200", code)
	}
	http.DefaultClient.CloseIdleConnections()
}

// runConfig serves yaml with g.Run, the listeners a deployment uses,
// until the test ends.
func runConfig(t *testing.T, yaml string) gateway.Listeners {
	t.Helper()
	run := runUntilCancelled(t, yaml, new(logWatch))
	t.Cleanup(func() { run.cancel(); <-run.err })
	return run.l
}

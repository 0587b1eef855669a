package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
)

// TestShutdownEndsStreams: streams never go idle by themselves, so
// shutdown tells them to end: an NDJSON stream gets a last UNAVAILABLE
// line, a WebSocket a last error frame and 1001, and Run returns without
// waiting out shutdown_timeout.
func TestShutdownEndsStreams(t *testing.T) {
	uploading := make(chan struct{})
	addr := startTickerBackend(t, tickerMethods{
		watch: func(_ []byte, s grpc.ServerStream) error {
			msg := tickWire(1, "first")
			if err := s.SendMsg(&msg); err != nil {
				return err
			}
			<-s.Context().Done() // quiet until the gateway ends it
			return s.Context().Err()
		},
		upload: func(s grpc.ServerStream) error {
			var m []byte
			if err := s.RecvMsg(&m); err != nil {
				return err
			}
			close(uploading)
			<-s.Context().Done()
			return s.Context().Err()
		},
	})
	logs := new(logWatch)
	run := runUntilCancelled(t, fmt.Sprintf(`
listen: 127.0.0.1:0
admin: 127.0.0.1:0
limits: {shutdown_timeout: 60s}
descriptors:
  - file: ../testdata/stream.pb
backends:
  b:
    grpc: {endpoints: ["%s"]}
services:
  - name: stream.v1.Ticker
    backend: b
`, addr), logs)
	l, cancel, runErr := run.l, run.cancel, run.err
	defer cancel()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + l.HTTP + "/v1/ticks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	if first, err := lines.ReadString('\n'); err != nil || !strings.Contains(first, `"note":"first"`) {
		t.Fatalf("first line %q: %v", first, err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	conn, _, err := websocket.Dial(wctx, wsURL("http://"+l.HTTP, "/v1/ticks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, b, err := conn.Read(wctx); err != nil || !strings.Contains(string(b), `"note":"first"`) {
		t.Fatalf("first frame %s: %v", b, err)
	}

	// An upload whose client has more to send, and is not sending it.
	body, more := io.Pipe()
	defer more.Close()
	uploaded := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+l.HTTP+"/v1/ticks:upload", body)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			uploaded <- nil
			return
		}
		uploaded <- resp
	}()
	if _, err := more.Write([]byte("{\"at\":1}\n")); err != nil {
		t.Fatal(err)
	}
	<-uploading

	begin := time.Now()
	cancel()
	last, err := lines.ReadString('\n')
	if err != nil || !strings.HasPrefix(last, `{"error":{"code":14,"message":"the gateway is shutting down: reconnect"`) {
		t.Errorf("NDJSON after shutdown began: %q, %v; want a last UNAVAILABLE line", last, err)
	}
	if _, b, err := conn.Read(wctx); err != nil || !strings.HasPrefix(string(b), `{"error":{"code":14,`) {
		t.Errorf("WebSocket after shutdown began: %s, %v; want a last error frame", b, err)
	}
	if _, _, err := conn.Read(wctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket closed with %v, want 1001 going away", err)
	}
	if resp := <-uploaded; resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("upload open at shutdown: %v, want 503", resp)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "shutting down") {
			t.Errorf("upload open at shutdown: %s", b)
		}
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return: shutdown waited for the streams")
	}
	t.Logf("shutdown with two streams open took %v", time.Since(begin))
}

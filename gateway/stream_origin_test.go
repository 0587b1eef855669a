package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
)

// A refused cross-origin WebSocket handshake never reaches the backend:
// the origin is checked before the stream opens (with the visitor's
// credentials) or takes a slot.
func TestCrossOriginWebSocketNeverReachesBackend(t *testing.T) {
	var calls atomic.Int32
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveAnyMethod(t, lis, func(_ any, stream grpc.ServerStream) error {
		calls.Add(1)
		<-stream.Context().Done()
		return nil
	})
	tg := startGateway(t, fmt.Sprintf(streamConfig, lis.Addr().String()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, path := range []string{"/v1/ticks", "/v1/ticks:chat"} {
		_, resp, err := websocket.Dial(ctx, wsURL(tg.http.URL, path), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %v %v, want 403", path, err, resp)
		}
	}
	// One allowed stream after them: once the backend has it, a refused
	// handshake's call, made before, would have arrived too.
	conn, _, err := websocket.Dial(ctx, wsURL(tg.http.URL, "/v1/ticks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	waitFor(t, "the allowed stream to reach the backend", func() bool { return calls.Load() > 0 })
	if n := calls.Load() - 1; n != 0 {
		t.Errorf("the backend was called %d times for 2 refused cross-origin handshakes", n)
	}
}

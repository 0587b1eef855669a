package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// An empty text frame ends the client's side; on a server stream, where
// the client has nothing to send, it changes nothing (switchboard ws sends
// one at the end of stdin).
func TestServerStreamOverWebSocketEmptyFrame(t *testing.T) {
	tg := startTicker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(tg.http.URL, "/v1/ticks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, nil); err != nil { // "my side is done"
		t.Fatal(err)
	}
	var got []string
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("stream ended with %v after %q; want 3 ticks and a normal close", err, got)
			}
			break
		}
		got = append(got, string(b))
	}
	if len(got) != 3 {
		t.Errorf("got %d frames %q, want the 3 ticks", len(got), got)
	}
}

const limitedStreamConfig = `
limits:
  streams: {idle_timeout: 300ms, max_duration: 2s, keepalive: 10s}
descriptors:
  - file: {root}/stream.pb
backends:
  ticker:
    grpc: {endpoints: ["%s"]}
services:
  - name: stream.v1.Ticker
    backend: ticker
`

// A WebSocket stream that reaches idle_timeout ends with a last
// {"error": {"code": 4}} frame and close code 4004, not a bare close.
func TestWebSocketIdleTimeoutClosesWith4004(t *testing.T) {
	tg := startGateway(t, fmt.Sprintf(limitedStreamConfig, startMock(t, "stream.pb", "ticker.yaml")))
	for i := range 5 {
		func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, wsURL(tg.http.URL, "/v1/ticks:chat"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			// Say nothing: the stream idles out after 300ms.
			typ, b, err := conn.Read(ctx)
			if err != nil || typ != websocket.MessageText || !strings.HasPrefix(string(b), `{"error":{"code":4,`) {
				t.Errorf("try %d: got %v %q %v; want an error frame with DEADLINE_EXCEEDED", i, typ, b, err)
				return
			}
			_, _, err = conn.Read(ctx)
			if got := websocket.CloseStatus(err); got != 4004 {
				t.Errorf("try %d: close %v (%v), want 4004", i, got, err)
			}
		}()
	}
}

// limits.max_json_values applies to each streamed message, an NDJSON line
// or a WebSocket frame, as to a unary body.
func TestStreamMessagesKeepJSONValueLimit(t *testing.T) {
	tg := startTicker(t)
	line := `{"note":"x","zz":[` + strings.TrimSuffix(strings.Repeat("1,", 300000), ",") + "]}\n"
	r := do(t, "POST", tg.http.URL+"/v1/ticks:upload", []byte(line), map[string]string{"Content-Type": "application/x-ndjson"})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a line of 300,000 JSON values: %d %s; a unary body of the same is 413 (limits.max_json_values 100000)", r.status, r.body)
	}
}

// TestWebSocketMessageChargedAsItArrives: a message still being sent holds
// memory, and counts against limits.max_inflight_body_bytes as its bytes
// arrive: past the budget the stream ends with UNAVAILABLE (4014) before
// the message is finished.
func TestWebSocketMessageChargedAsItArrives(t *testing.T) {
	tg := startGateway(t, fmt.Sprintf(`
limits: {max_body_bytes: 1048576, max_inflight_body_bytes: 2097152, streams: {max_message_bytes: 8388608}}
descriptors:
  - file: {root}/stream.pb
backends:
  ticker:
    grpc: {endpoints: ["%s"]}
services:
  - name: stream.v1.Ticker
    backend: ticker
`, startMock(t, "stream.pb", "ticker.yaml")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(tg.http.URL, "/v1/ticks:chat"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	wr, err := conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 64<<10))
	if _, err := wr.Write([]byte(`{"note":"`)); err != nil {
		t.Fatal(err)
	}
	// 3 MiB of an unfinished message: over the 2 MiB budget. The gateway
	// may close the socket while we write: stop then.
	for range 48 {
		if _, err := wr.Write(chunk); err != nil {
			break
		}
	}
	_, b, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"code":14`) || !strings.Contains(string(b), "max_inflight_body_bytes") {
		t.Fatalf("got %s, %v; want an UNAVAILABLE frame naming the budget", b, err)
	}
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != 4014 {
		t.Errorf("closed with %v, want 4014", err)
	}
}

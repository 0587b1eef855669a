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
)

// streamConfig serves stream.v1.Ticker from the mock at %s.
const streamConfig = `
descriptors:
  - file: {root}/stream.pb
backends:
  ticker:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
services:
  - name: stream.v1.Ticker
    backend: ticker
`

func startTicker(t *testing.T) *testGateway {
	t.Helper()
	return startGateway(t, fmt.Sprintf(streamConfig, startMock(t, "stream.pb", "ticker.yaml")))
}

// TestServerStreamFramings: each framing's bytes on the wire, for a
// stream that ends well and one that fails after two messages.
func TestServerStreamFramings(t *testing.T) {
	tg := startTicker(t)
	for _, c := range []struct{ name, accept, query string }{
		{"ndjson", "application/x-ndjson", ""},
		{"default", "", ""},
		{"sse", "text/event-stream", ""},
		{"json", "application/json", ""},
		{"ndjson_error", "application/x-ndjson", "?at=99"},
		{"sse_error", "text/event-stream", "?at=99"},
		{"json_error", "application/json", "?at=99"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{"X-Request-Id": "stream-" + c.name}
			if c.accept != "" {
				h["Accept"] = c.accept
			}
			r := do(t, "GET", tg.http.URL+"/v1/ticks"+c.query, nil, h)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			want := map[string]string{"ndjson": "application/x-ndjson", "default": "application/x-ndjson",
				"sse": "text/event-stream", "json": "application/json"}[strings.TrimSuffix(c.name, "_error")]
			if ct := r.header.Get("Content-Type"); ct != want {
				t.Errorf("Content-Type %q, want %q", ct, want)
			}
			golden(t, "stream_"+c.name+".txt", r.body)
		})
	}
}

// TestServerStreamArrivesMessageByMessage: each message reaches the
// client as the backend sends it, not when the stream ends.
func TestServerStreamArrivesMessageByMessage(t *testing.T) {
	tg := startTicker(t)
	req, _ := http.NewRequest("GET", tg.http.URL+"/v1/ticks", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var times []time.Time
	for range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d lines: %v", len(times), err)
		}
		times = append(times, time.Now())
		if !strings.HasPrefix(line, `{"result":`) {
			t.Errorf("line %q", line)
		}
	}
	// The mock waits 200ms between ticks: had the gateway buffered the
	// stream, all three would arrive together.
	if gap := times[2].Sub(times[0]); gap < 300*time.Millisecond {
		t.Errorf("three ticks 200ms apart arrived within %v of each other: buffered", gap)
	}
}

// TestClientStreamUpload: an NDJSON body becomes the client's stream; the
// backend's reply and its trailer come back as one JSON response.
func TestClientStreamUpload(t *testing.T) {
	tg := startTicker(t)
	var body strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&body, "{\"at\": %d, \"note\": \"n%d\"}\n", i, i)
		if i%100 == 0 {
			body.WriteString("\n") // blank lines are skipped
		}
	}
	r := do(t, "POST", tg.http.URL+"/v1/ticks:upload", []byte(body.String()), map[string]string{"Content-Type": "application/x-ndjson"})
	if r.status != http.StatusOK || string(r.body) != `{"at":"0","note":"upload stored"}` {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if got := r.header.Get("Grpc-Metadata-Mock-Messages-Received"); got != "1000" {
		t.Errorf("the backend received %q messages, want 1000", got)
	}
}

// TestClientStreamRefusals: hostile and broken uploads, each refused with
// a status and a message naming what was wrong.
func TestClientStreamRefusals(t *testing.T) {
	tg := startTicker(t)
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"json, not ndjson", "application/json", `{"at":1}`, 415, "application/x-ndjson"},
		{"bad JSON on line 3", "application/x-ndjson", "{\"at\":1}\n{\"at\":2}\n{\"at\":\n", 400, "line 3"},
		{"wrong type", "application/x-ndjson", "{\"at\":\"soon\"}\n", 400, "line 1"},
		{"two values on a line", "application/x-ndjson", "{} {}\n", 400, "line 1"},
		{"a line too long", "application/x-ndjson", `{"note":"` + strings.Repeat("x", 5<<20) + "\"}\n", 400, "line 1"},
		{"invalid UTF-8", "application/x-ndjson", "{\"note\":\"\xff\"}\n", 400, "line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, "POST", tg.http.URL+"/v1/ticks:upload", []byte(c.body), map[string]string{"Content-Type": c.contentType})
			if r.status != c.status || !strings.Contains(string(r.body), c.want) {
				t.Errorf("%d %s; want %d naming %q", r.status, r.body, c.status, c.want)
			}
		})
	}
}

// TestStreamNegotiation: what a client may not ask of a stream.
func TestStreamNegotiation(t *testing.T) {
	tg := startTicker(t)
	if r := do(t, "GET", tg.http.URL+"/v1/ticks", nil, map[string]string{"Accept": "text/html"}); r.status != http.StatusNotAcceptable {
		t.Errorf("Accept text/html: %d %s", r.status, r.body)
	}
	r := do(t, "GET", tg.http.URL+"/v1/ticks:chat", nil, nil)
	if r.status != http.StatusUpgradeRequired || r.header.Get("Upgrade") != "websocket" {
		t.Errorf("bidi without a WebSocket: %d %v %s", r.status, r.header, r.body)
	}
}

// TestBidiWebSocket: 1000 messages each way, in order, echoed by the
// backend; an empty frame ends the client's side and the socket closes
// normally once the backend is done.
func TestBidiWebSocket(t *testing.T) {
	tg := startTicker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(tg.http.URL, "http")+"/v1/ticks:chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	const n = 1000
	go func() {
		for i := range n {
			if err := conn.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"at":%d}`, i)); err != nil {
				return
			}
		}
		_ = conn.Write(ctx, websocket.MessageText, nil)
	}()
	for i := range n {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if want := fmt.Sprintf(`{"at":"%d","note":""}`, i); typ != websocket.MessageText || string(b) != want && string(b) != fmt.Sprintf(`{"at":"%d"}`, i) {
			t.Fatalf("message %d = %s, want %s", i, b, want)
		}
	}
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after the last message: %v, want a normal close", err)
	}
}

// TestWebSocketRefusals: a WebSocket from another origin, a binary frame
// and a message that does not fit the type.
func TestWebSocketRefusals(t *testing.T) {
	tg := startTicker(t)
	url := "ws" + strings.TrimPrefix(tg.http.URL, "http") + "/v1/ticks:chat"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin WebSocket: %v %v, want 403", err, resp)
	}
	for _, c := range []struct {
		name string
		typ  websocket.MessageType
		msg  string
		code websocket.StatusCode
	}{
		{"binary frame", websocket.MessageBinary, `{"at":1}`, 4003},
		{"wrong type", websocket.MessageText, `{"at":"soon"}`, 4003},
		{"not JSON", websocket.MessageText, `{`, 4003},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			if err := conn.Write(ctx, c.typ, []byte(c.msg)); err != nil {
				t.Fatal(err)
			}
			typ, b, err := conn.Read(ctx)
			if err != nil || typ != websocket.MessageText || !strings.HasPrefix(string(b), `{"error":{"code":3,`) {
				t.Fatalf("got %v %s %v, want an error frame", typ, b, err)
			}
			_, _, err = conn.Read(ctx)
			if got := websocket.CloseStatus(err); got != c.code {
				t.Errorf("close %v (%v), want %d", got, err, c.code)
			}
		})
	}
}

var _ = io.EOF

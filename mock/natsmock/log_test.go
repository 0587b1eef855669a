package natsmock

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// syncBuffer collects log output and signals each write, so a test can
// wait for a log line rather than poll for it.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default: // a signal is already pending
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The call log: the fields every mock writes, durations as Go durations;
// and templates in an error's message and details.
func TestCallLog(t *testing.T) {
	srv := startServer(t)
	stubs, err := ParseStubs([]byte(`stubs:
  - subject: orders.*.get
    match: {tokens.1: "42"}
    delay: 20ms
    response: {id: "42"}
  - subject: orders.*.get
    error:
      code: 404
      message: "{{request.tokens.1}}"
      details: [{"@type": google.rpc.ErrorInfo, reason: NOT_FOUND, metadata: {id: "{{request.tokens.1}}"}}]
  - subject: orders.*.put
    match: {tokens.1: "1"}
`), "log.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logs := syncBuffer{wrote: make(chan struct{}, 1)}
	r, err := New(connect(t, srv), stubs, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	nc := connect(t, srv)
	request(t, nc, "orders.42.get", nil)
	m := request(t, nc, "orders.9.get", nil)
	if m.Header.Get(micro.ErrorHeader) != "9" || !sameJSON(string(m.Data), `[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"NOT_FOUND","metadata":{"id":"9"}}]`) {
		t.Errorf("templated error: %v %s", m.Header, m.Data)
	}
	request(t, nc, "orders.2.put", nil)
	// The responder logs a call once its answer is sent: wait for the
	// records, which may come in any order.
	var recs []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs = recs[:0]
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if rec["msg"] == "natsmock call" {
				recs = append(recs, rec)
			}
		}
		if len(recs) >= 3 {
			break
		}
		select {
		case <-logs.wrote:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("want 3 call records:\n%s", logs.String())
		}
	}
	if len(recs) != 3 {
		t.Fatalf("want 3 call records:\n%s", logs.String())
	}
	slices.SortFunc(recs, func(a, b map[string]any) int {
		order := map[any]int{"orders.42.get": 0, "orders.9.get": 1, "orders.2.put": 2}
		return order[a["subject"]] - order[b["subject"]]
	})
	want := []map[string]any{
		{"subject": "orders.42.get", "code": 0.0, "matched": true, "stub": 0.0, "stub_source": "log.yaml:2", "delay": "20ms"},
		{"subject": "orders.9.get", "code": 404.0, "matched": true, "stub": 1.0, "stub_source": "log.yaml:6", "error": "9"},
		{"subject": "orders.2.put", "code": 501.0, "matched": false, "stub": -1.0, "error": "no stub matches subject orders.2.put", "level": "WARN"},
	}
	for i, rec := range recs {
		for k, v := range want[i] {
			if rec[k] != v {
				t.Errorf("record %d: %s = %#v, want %#v", i, k, rec[k], v)
			}
		}
		d, err := time.ParseDuration(rec["duration"].(string))
		if err != nil || d < 0 || i == 0 && d < 20*time.Millisecond {
			t.Errorf("record %d: duration %v: %v", i, rec["duration"], err)
		}
	}
}

package gateway_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A quiet stream's head comes after a second even for a client that
// accepts gzip without a streaming Accept (Go's http.Client, fetch): the
// route writes beneath gzhttp, which would hold the head until a byte.
func TestQuietStreamHeadWithAcceptEncoding(t *testing.T) {
	ns := startNATSServer(t)
	tg := startGateway(t, fmt.Sprintf(`
backends:
  bus:
    nats: {url: %q}
routes:
  - get: /v1/events/{id}
    backend: bus
    nats: {subject: "events.{id}", mode: subscribe}
`, ns.ClientURL()))
	for _, ae := range []string{"", "gzip"} {
		req, _ := http.NewRequest("GET", tg.http.URL+"/v1/events/1", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableCompression: true}}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("Accept-Encoding %q: no response head after %v: %v", ae, time.Since(start).Round(time.Millisecond), err)
			continue
		}
		t.Logf("Accept-Encoding %q: %d after %v", ae, resp.StatusCode, time.Since(start).Round(time.Millisecond))
		resp.Body.Close()
	}
}

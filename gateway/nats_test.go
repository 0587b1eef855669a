package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
)

// TestNATSReadiness: /readyz follows a NATS backend's connection, and a
// request routed to it works through the whole gateway.
func TestNATSReadiness(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server did not start")
	}
	defer ns.Shutdown()
	nc, err := natsgo.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe("greet.*", func(m *natsgo.Msg) {
		_ = m.Respond([]byte(`{"hello":"` + strings.TrimPrefix(m.Subject, "greet.") + `"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = nc.Flush()

	tg := startGateway(t, fmt.Sprintf(`
backends:
  bus:
    nats: {url: %q, reconnect_wait: 50ms}
    timeout: 2s
routes:
  - get: /v1/greet/{name}
    backend: bus
    nats: {subject: "greet.{name}"}
`, ns.ClientURL()))
	if r := do(t, "GET", tg.http.URL+"/v1/greet/ada", nil, nil); r.status != 200 || string(r.body) != `{"hello":"ada"}` {
		t.Fatalf("request/reply: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", tg.admin.URL+"/readyz", nil, nil); r.status != 200 {
		t.Fatalf("readyz while connected: %d %s", r.status, r.body)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, "GET", tg.admin.URL+"/readyz", nil, nil)
		if r.status == 503 && strings.Contains(string(r.body), "backend bus") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the NATS server stopped: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

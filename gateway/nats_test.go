package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// TestNATSReadiness: /readyz follows a NATS backend's connection, and a
// request routed to it works through the whole gateway.
func TestNATSReadiness(t *testing.T) {
	ns := startNATSServer(t)
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

	logs := new(logWatch)
	tg := startGatewayLog(t, logs.logger(), fmt.Sprintf(`
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
	// The connection leaves CONNECTED before the backend logs the
	// disconnect (nats.go runs the handler afterwards), so readiness fails
	// from that record on: it is the event to wait for.
	disconnected := logs.next(`msg="nats disconnected"`, "backend=bus")
	ns.Shutdown()
	ns.WaitForShutdown()
	await(t, disconnected, "the gateway to notice the NATS server is gone")
	if r := do(t, "GET", tg.admin.URL+"/readyz", nil, nil); r.status != 503 || !strings.Contains(string(r.body), "backend bus") {
		t.Fatalf("readyz after the NATS server stopped: %d %s", r.status, r.body)
	}
}

// startGatewayLog is startGateway with the gateway's logger given, for
// tests that wait on what the gateway logs.
func startGatewayLog(t testing.TB, log *slog.Logger, yaml string) *testGateway {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.ReplaceAll(yaml, "{root}", root)), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	m := observability.NewMetrics()
	g, err := gateway.New(context.Background(), cfg, log, m)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{g: g, http: httptest.NewServer(g.Handler()), admin: httptest.NewServer(admin.Handler(g, m.Handler(), g.Ready))}
	t.Cleanup(func() {
		tg.http.Close()
		tg.admin.Close()
		g.Close()
	})
	return tg
}

// startNATSServer runs a NATS server on a random loopback port until the
// test ends (a test may shut it down earlier).
func startNATSServer(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

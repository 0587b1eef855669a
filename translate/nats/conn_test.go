package nats

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/translate/resilience"
)

func TestEmbedded(t *testing.T) {
	b, err := Connect("demo", ConnOptions{URL: EmbeddedURL, Streams: []StreamConfig{{Name: "ORDERS", Subjects: []string{"orders.*.created"}}}}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	dir, temporary := b.srv.StoreDir()
	if !temporary {
		t.Fatal("no temporary store")
	}
	if !strings.HasPrefix(b.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("ClientURL %q", b.ClientURL())
	}
	if err := b.Ready(); err != nil {
		t.Errorf("Ready: %v", err)
	}
	// Another client (the demo's mock) reaches the embedded server.
	nc := client(t, b.ClientURL())
	respond(t, nc, "orders.1.get", func(m *natsgo.Msg) { _ = m.Respond([]byte(`{"id":"1"}`)) })
	tg := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.get"})
	if rec := call(t, tg, http.MethodGet, "", nil, "id", "1"); rec.Code != 200 || rec.Body.String() != `{"id":"1"}` {
		t.Errorf("request: %d %s", rec.Code, rec.Body)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Ready(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Ready after Close: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary store %s left behind: %v", dir, err)
	}
}

func TestEmbeddedListenAndAuth(t *testing.T) {
	port := freePort(t)
	b, err := Connect("demo", ConnOptions{URL: EmbeddedURL, StoreDir: t.TempDir(),
		EmbeddedListen: net.JoinHostPort("127.0.0.1", port), Token: "s3cret"}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Ready(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.ClientURL(), ":"+port) {
		t.Errorf("ClientURL %q, want port %s", b.ClientURL(), port)
	}
	// The token guards the embedded server.
	if nc, err := natsgo.Connect(b.ClientURL()); err == nil {
		nc.Close()
		t.Error("connected without the token")
	}
	nc, err := natsgo.Connect(b.ClientURL(), natsgo.Token("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestConnectErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts ConnOptions
		want string
	}{
		{"no url", ConnOptions{}, "no URL"},
		{"embedded with tls", ConnOptions{URL: EmbeddedURL, TLS: &TLS{}}, "external servers"},
		{"streams on external", ConnOptions{URL: "nats://127.0.0.1:1", Streams: []StreamConfig{{Name: "X"}}}, "embedded server only"},
		{"token and user", ConnOptions{URL: "nats://127.0.0.1:1", Token: "t", User: "u"}, "not both"},
		{"bad listen", ConnOptions{URL: EmbeddedURL, EmbeddedListen: "nope"}, "listen \"nope\""},
		{"bad port", ConnOptions{URL: EmbeddedURL, EmbeddedListen: "127.0.0.1:99999"}, "bad port"},
		{"missing creds", ConnOptions{URL: "nats://127.0.0.1:1", CredentialsFile: filepath.Join(t.TempDir(), "x.creds")}, "credentials_file"},
		{"missing ca", ConnOptions{URL: "nats://127.0.0.1:1", TLS: &TLS{CAFile: filepath.Join(t.TempDir(), "ca.pem")}}, "ca_file"},
		{"bad stream", ConnOptions{URL: EmbeddedURL, StoreDir: t.TempDir(), Streams: []StreamConfig{{Name: "bad name", Subjects: []string{"x"}}}}, "stream bad name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Connect("orders", tc.opts, nil)
			if err == nil {
				_ = b.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "orders") {
				t.Errorf("error %q, want it to name the backend and contain %q", err, tc.want)
			}
		})
	}
}

// The gateway starts while NATS is down, and Ready follows the connection.
func TestConnectWhileDown(t *testing.T) {
	port := freePort(t)
	b := backend(t, "nats://127.0.0.1:"+port)
	if err := b.Ready(); err == nil {
		t.Fatal("Ready with no server")
	}
	// Meanwhile requests fail fast: a connection that never was has no
	// buffer for messages with headers (and every message has some).
	tg := target(t, resilience.Wrap("orders", b, resilience.Policy{Timeout: 100 * time.Millisecond}, nil), nil, Route{Subject: "x"})
	if rec := call(t, tg, http.MethodGet, "", nil); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("request while down: %d %s", rec.Code, rec.Body)
	}
	if rec := call(t, target(t, b, nil, Route{Subject: "x", Mode: ModePublish}), http.MethodPost, "{}", nil); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("publish while down: %d %s", rec.Code, rec.Body)
	}
	startServer(t, atoi(t, port), "")
	eventually(t, "connect", func() bool { return b.Ready() == nil })
}

// Stop the server, start another on the same port and store: the backend
// goes not-ready, reconnects by itself, and serves again, JetStream state
// included.
func TestReconnectAfterRestart(t *testing.T) {
	store := t.TempDir()
	s1 := startServer(t, 0, store)
	url := s1.ClientURL()
	port := s1.Addr().(*net.TCPAddr).Port
	b := backend(t, url)
	svc := client(t, url)
	respond(t, svc, "orders.*.get", func(m *natsgo.Msg) { _ = m.Respond([]byte(`{"ok":true}`)) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, _ := jetstream.New(b.Conn())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.*.created"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	get := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.get"})
	post := target(t, b, []string{"id"}, Route{Subject: "orders.{id}.created", Mode: ModeJetStream})
	if rec := call(t, get, http.MethodGet, "", nil, "id", "1"); rec.Code != 200 {
		t.Fatalf("before restart: %d %s", rec.Code, rec.Body)
	}
	if rec := call(t, post, http.MethodPost, `{}`, nil, "id", "1"); !strings.Contains(rec.Body.String(), `"seq":1`) {
		t.Fatalf("publish before restart: %d %s", rec.Code, rec.Body)
	}

	stopServer(s1)
	eventually(t, "Ready to fail", func() bool { return b.Ready() != nil })
	if err := b.Ready(); !strings.Contains(err.Error(), "RECONNECTING") {
		t.Errorf("Ready: %v", err)
	}

	startServer(t, port, store)
	eventually(t, "Ready again", func() bool { return b.Ready() == nil })
	// The service reconnects on its own schedule; retry until it is back.
	eventually(t, "request after restart", func() bool {
		return call(t, get, http.MethodGet, "", nil, "id", "2").Code == 200
	})
	if rec := call(t, post, http.MethodPost, `{}`, nil, "id", "2"); rec.Code != 202 || !strings.Contains(rec.Body.String(), `"seq":2`) {
		t.Errorf("publish after restart: %d %s", rec.Code, rec.Body)
	}
}

// A server that dies while a request is out: the answer is 504 at the
// deadline, neither an early error nor a hang.
func TestServerDiesMidRequest(t *testing.T) {
	s := startServer(t, 0, "")
	received := make(chan struct{}, 1)
	respond(t, client(t, s.ClientURL()), "orders.1.get", func(*natsgo.Msg) { received <- struct{}{} })
	const deadline = time.Second
	tg := target(t, resilience.Wrap("orders", backend(t, s.ClientURL()), resilience.Policy{Timeout: deadline}, nil), nil, Route{Subject: "orders.1.get"})
	go func() {
		<-received
		stopServer(s)
	}()
	begin := time.Now()
	rec := call(t, tg, http.MethodGet, "", nil)
	took := time.Since(begin)
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504: %s", rec.Code, rec.Body)
	}
	if took < deadline-50*time.Millisecond || took > deadline+time.Second {
		t.Errorf("answered after %v, want about %v", took, deadline)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	var n int
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

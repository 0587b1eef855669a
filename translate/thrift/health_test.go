package thrift

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// healthWait bounds a wait for a health check to see a change; it is
// polled, never slept.
const healthWait = 5 * time.Second

// fastChecks check every 100ms, the least Dial allows, so that tests see
// changes quickly.
func fastChecks(method string) *HealthCheck {
	return &HealthCheck{Interval: 100 * time.Millisecond, Timeout: 90 * time.Millisecond, Method: method}
}

// waitHealth polls b until endpoint i is healthy (or not) with a detail
// containing detail, and fails the test after healthWait.
func waitHealth(t testing.TB, b *Backend, i int, healthy bool, detail string) {
	t.Helper()
	deadline := time.Now().Add(healthWait)
	for {
		h := b.EndpointHealth()[i]
		if h.Healthy == healthy && strings.Contains(h.Detail, detail) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint %d: %+v after %v, want healthy %v with detail %q", i, h, healthWait, healthy, detail)
		}
		time.Sleep(10 * time.Millisecond) // polling, not an assertion
	}
}

// waitFor polls cond until it holds, failing the test after healthWait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(healthWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, healthWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// pingServer answers every call with a REPLY and counts calls; it can stop
// listening and listen again on the same port.
type pingServer struct {
	t     testing.TB
	f     Framer
	addr  string
	calls atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	lis   net.Listener // nil while stopped
	conns map[net.Conn]struct{}
}

func startPingServer(t testing.TB) *pingServer {
	s := &pingServer{t: t, f: mustFramer(t, "binary", "framed"), addr: "127.0.0.1:0"}
	s.listen()
	t.Cleanup(s.stop)
	return s
}

func (s *pingServer) listen() {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.addr, s.lis, s.conns = lis.Addr().String(), lis, map[net.Conn]struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.lis != lis { // stopped meanwhile
				s.mu.Unlock()
				c.Close()
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
}

func (s *pingServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		m, err := s.f.ReadMessage(br)
		if err != nil {
			return
		}
		s.calls.Add(1)
		if _, err := c.Write(pingReplyBytes(s.f, m)); err != nil {
			return
		}
	}
}

// stop closes the listener and every connection, and waits for them.
func (s *pingServer) stop() {
	s.mu.Lock()
	if s.lis != nil {
		s.lis.Close()
		for c := range s.conns {
			c.Close()
		}
		s.lis = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// logBuffer is a log destination shared with checker goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(substrs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.Lines(l.buf.String()) {
		all := true
		for _, s := range substrs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

// TestHealthPassesOverClosedEndpoint: an endpoint whose listener closes
// turns unhealthy and calls go only to the other; listening again on the
// same port brings it back. Each change is logged once.
func TestHealthPassesOverClosedEndpoint(t *testing.T) {
	t.Parallel()
	a, c := startPingServer(t), startPingServer(t)
	logs := &logBuffer{}
	b := dial(t, Options{Endpoints: []string{a.addr, c.addr}, Health: fastChecks(""),
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	calls := func(n int) {
		t.Helper()
		for range n {
			if _, e := ping(context.Background(), b); e != nil {
				t.Fatalf("call: %v", e)
			}
		}
	}

	a.stop()
	waitHealth(t, b, 0, false, "health check: connect: connection refused")
	waitHealth(t, b, 1, true, "tcp connect every 100ms")
	calls(10)
	if got := a.calls.Load() + c.calls.Load(); got != 10 || c.calls.Load() != 10 {
		t.Errorf("while a is down: a took %d calls, c %d; want all 10 on c", a.calls.Load(), c.calls.Load())
	}

	a.listen()
	waitHealth(t, b, 0, true, "tcp connect every 100ms")
	calls(10)
	if a.calls.Load() == 0 {
		t.Errorf("a took no call after it listened again (c took %d)", c.calls.Load()-10)
	}
	if n := logs.count("thrift endpoint unhealthy", "endpoint="+a.addr); n != 1 {
		t.Errorf("logged a unhealthy %d times, want once:\n%s", n, logs.buf.String())
	}
	if n := logs.count("thrift endpoint healthy again", "endpoint="+a.addr); n != 1 {
		t.Errorf("logged a healthy again %d times, want once:\n%s", n, logs.buf.String())
	}
}

// TestHealthMethod: with a method, only a REPLY within the timeout passes;
// a connect alone does not.
func TestHealthMethod(t *testing.T) {
	t.Parallel()
	bf := mustFramer(t, "binary", "framed")
	// counting runs serve on each connection of a raw server, counting
	// connections.
	counting := func(t *testing.T, serve func(net.Conn)) (string, func() int64) {
		var n atomic.Int64
		addr := rawServer(t, func(c net.Conn) {
			n.Add(1)
			serve(c)
		})
		return addr, n.Load
	}
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	interop := func(protocol, transport string, multiplexed bool) func(t *testing.T) (string, func() int64) {
		return func(t *testing.T) (string, func() int64) {
			h := newHandler()
			return startInterop(t, protocol, transport, multiplexed, h), h.pings.Load
		}
	}
	tests := []struct {
		name string
		// start runs the server; seen counts the checks it has had, for
		// healthy rows, where health is healthy before any check.
		start   func(t *testing.T) (addr string, seen func() int64)
		opts    Options
		method  string
		healthy bool
		detail  string
	}{
		{"reply", interop("binary", "framed", false), Options{}, "ping", true, "ping every 100ms"},
		{"reply, compact buffered multiplexed", interop("compact", "buffered", true),
			Options{Protocol: "compact", Transport: "buffered", Multiplexed: true}, "Interop:ping", true, "Interop:ping every 100ms"},
		{"reply with a declared exception", func(t *testing.T) (string, func() int64) {
			var n atomic.Int64
			addr, _ := fakeServer(t, bf, func(m *Message) []byte {
				n.Add(1)
				// Result field 1, an empty exception struct.
				return bf.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: []byte{0x0c, 0, 1, 0, 0}})
			})
			return addr, n.Load
		}, Options{}, "ping", true, "ping every 100ms"},
		{"exception message", interop("binary", "framed", false), Options{}, "nosuch", false,
			"health check: nosuch: TApplicationException UNKNOWN_METHOD"},
		{"accepts, never answers", func(t *testing.T) (string, func() int64) { return counting(t, silent) },
			Options{}, "ping", false, "health check: ping: no reply within 90ms"},
		{"accepts, never answers, connect only", func(t *testing.T) (string, func() int64) { return counting(t, silent) },
			Options{}, "", true, "tcp connect every 100ms"},
		{"closes at once", func(t *testing.T) (string, func() int64) { return counting(t, func(net.Conn) {}) },
			Options{}, "ping", false, "health check: ping: connection closed before the reply"},
		{"refuses", func(t *testing.T) (string, func() int64) { return closedAddr(t), nil },
			Options{}, "", false, "health check: connect: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, seen := tt.start(t)
			opts := tt.opts
			opts.Endpoints, opts.Health = []string{addr}, fastChecks(tt.method)
			b := dial(t, opts)
			if tt.healthy {
				// Checks run one after another: a second one seen means
				// the first has been recorded.
				waitFor(t, "two checks reach the server", func() bool { return seen() >= 2 })
			}
			waitHealth(t, b, 0, tt.healthy, tt.detail)
		})
	}
}

// TestHealthConfigProblems: hostile health keys are problems under their
// own key, with the line; good ones pass.
func TestHealthConfigProblems(t *testing.T) {
	t.Parallel()
	const base = `listen: 127.0.0.1:0
backends:
  calc:
    thrift:
      endpoints: ["127.0.0.1:9090"]
      idl: testdata/interop/interop.thrift
`
	tests := []struct {
		name   string
		thrift string // more lines under thrift:
		health string // the lines under health:
		key    string // "" when the config is valid
		want   string
	}{
		{"interval 0", "", "interval: 0s", "interval", "0s is too often: want at least 100ms"},
		{"negative interval", "", "interval: -1s", "interval", `negative duration "-1s"`},
		{"interval 1ns", "", "interval: 1ns", "interval", "1ns is too often: want at least 100ms"},
		{"interval not a duration", "", "interval: soon", "interval", `invalid duration "soon"`},
		{"timeout equal to interval", "", "interval: 1s\n        timeout: 1s", "timeout", "1s: want below the interval (1s)"},
		{"timeout above the default interval", "", "timeout: 6s", "timeout", "6s: want below the interval (5s)"},
		{"default timeout not below interval", "", "interval: 500ms", "timeout", "the default 1s is not below the interval (500ms)"},
		{"timeout 0", "", "timeout: 0s", "timeout", "want more than 0"},
		{"unknown method", "", "method: nosuch", "method", "no function nosuch in the services of testdata/interop/interop.thrift"},
		{"unknown service", "", "method: Nope.ping", "method", "no service Nope"},
		{"method with arguments", "", "method: divide", "method", "Interop.divide takes arguments and a check sends none (without arguments: ping)"},
		{"qualified method with arguments", "", "method: Interop.touch", "method", "Interop.touch takes arguments"},
		{"oneway method", "", "method: fire", "method", "Interop.fire is oneway: a check needs a reply"},
		{"method name with spaces", "", `method: "ping pong"`, "method", `"ping pong" is not a function name`},
		{"ambiguous when multiplexed", "      multiplexed: true\n", "method: ping", "method", "ping is in services Base, Interop: name one"},
		{"unknown key", "", "retries: 3", "retries", "unknown key"},
		{"empty", "", "{}", "", ""},
		{"all set", "", "interval: 100ms\n        timeout: 50ms\n        method: ping", "", ""},
		{"qualified, multiplexed", "      multiplexed: true\n", "method: Interop.ping", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := base + tt.thrift + "      health:\n        " + tt.health + "\n"
			if tt.health == "{}" {
				yaml = base + tt.thrift + "      health: {}\n"
			}
			_, ps := config.ParseAll([]byte(yaml), "test.yaml", config.Protocols{Protocol{}})
			if tt.key == "" {
				if len(ps) > 0 {
					t.Fatalf("problems with a good config:\n%v", ps)
				}
				return
			}
			// One problem each: a value that did not decode is not also
			// checked as a zero.
			key := "backends.calc.thrift.health." + tt.key
			re := regexp.MustCompile(`^test\.yaml:\d+: ` + regexp.QuoteMeta(key) + `: .*` + regexp.QuoteMeta(tt.want))
			if len(ps) != 1 || !re.MatchString(ps[0].String()) {
				t.Errorf("want one problem, under %s saying %q; got:\n%v", key, tt.want, ps)
			}
		})
	}
}

// TestNewBackendHealth: the config's health section becomes the options,
// the method its name on the wire.
func TestNewBackendHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		health string
		want   *HealthCheck
	}{
		{"", nil},
		{"      health: {}\n", &HealthCheck{Interval: 5 * time.Second, Timeout: time.Second}},
		{"      health: {interval: 2s, timeout: 500ms, method: Interop.ping}\n      multiplexed: true\n",
			&HealthCheck{Interval: 2 * time.Second, Timeout: 500 * time.Millisecond, Method: "Interop:ping"}},
		{"      health: {method: ping}\n", &HealthCheck{Interval: 5 * time.Second, Timeout: time.Second, Method: "ping"}},
	}
	for _, tt := range tests {
		cfg, err := config.Parse([]byte(`listen: 127.0.0.1:0
backends:
  calc:
    thrift:
      endpoints: ["127.0.0.1:9090"]
      idl: testdata/interop/interop.thrift
`+tt.health), "test.yaml", config.Protocols{Protocol{}})
		if err != nil {
			t.Fatalf("%q: %v", tt.health, err)
		}
		bc := cfg.Backends["calc"]
		be, err := Protocol{}.NewBackend(context.Background(), "calc", &bc, protocol.Env{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("%q: %v", tt.health, err)
		}
		b := be.(*client).Backend
		be.Close()
		if (b.health == nil) != (tt.want == nil) || b.health != nil && *b.health != *tt.want {
			t.Errorf("%q: health %+v, want %+v", tt.health, b.health, tt.want)
		}
		if b.log == nil {
			t.Errorf("%q: the backend has no logger", tt.health)
		}
	}
}

func TestHealthDialErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give HealthCheck
		want string
	}{
		{HealthCheck{Interval: 50 * time.Millisecond}, "backend x: health check interval 50ms: want at least 100ms"},
		{HealthCheck{Interval: -time.Second}, "backend x: health check interval -1s: want at least 100ms"},
		{HealthCheck{Interval: time.Second, Timeout: time.Second}, "backend x: health check timeout 1s: want more than 0 and below the interval (1s)"},
		{HealthCheck{Timeout: -time.Second}, "backend x: health check timeout -1s: want more than 0 and below the interval (5s)"},
		{HealthCheck{Interval: 500 * time.Millisecond}, "backend x: health check timeout 1s: want more than 0 and below the interval (500ms)"},
	}
	for _, tt := range tests {
		if _, err := Dial("x", Options{Endpoints: []string{"a:1"}, Health: &tt.give}); err == nil || err.Error() != tt.want {
			t.Errorf("%+v: got %v, want %s", tt.give, err, tt.want)
		}
	}
}

// checkers counts the health checkers running in the process.
func checkers() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "thrift.(*Backend).watch(")
}

// TestCloseStopsHealthChecks: Close returns only once the checkers have
// exited, and leaves no goroutine behind.
func TestCloseStopsHealthChecks(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	srv := startPingServer(t)
	ignore := goleak.IgnoreCurrent()
	b, err := Dial("x", Options{Endpoints: []string{srv.addr, closedAddr(t)}, Health: fastChecks("ping")})
	if err != nil {
		t.Fatal(err)
	}
	waitHealth(t, b, 1, false, "connection refused")
	waitFor(t, "checks reach the server", func() bool { return srv.calls.Load() >= 1 })
	if n := checkers(); n != 2 {
		t.Errorf("%d checkers run, want 2", n)
	}
	b.Close()
	if n := checkers(); n != 0 {
		t.Errorf("%d checkers still run after Close returned", n)
	}
	b.Close() // twice is harmless
	goleak.VerifyNone(t, ignore)
}

// TestEndpointHealthDetail: without checks an endpoint is unhealthy only
// while passed over for refusing a connection.
func TestEndpointHealthDetail(t *testing.T) {
	t.Parallel()
	down, up := closedAddr(t), startPingServer(t).addr
	b := dial(t, Options{Endpoints: []string{down, up}})
	want := []translate.EndpointHealth{{Address: down, Healthy: true}, {Address: up, Healthy: true}}
	if got := b.EndpointHealth(); !equalHealth(got, want) {
		t.Errorf("before any call: %+v, want %+v", got, want)
	}
	b.next.Store(1) // the next call goes to down
	if _, e := ping(context.Background(), b); e == nil {
		t.Fatal("a call to a closed port succeeded")
	}
	want[0] = translate.EndpointHealth{Address: down, Healthy: false, Detail: "refused a connection"}
	if got := b.EndpointHealth(); !equalHealth(got, want) {
		t.Errorf("after a refusal: %+v, want %+v", got, want)
	}
}

func equalHealth(a, b []translate.EndpointHealth) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// chooser records what pick offers and admits only the addresses listed.
type chooser struct {
	admit    map[string]bool
	offered  []string
	fallback string
}

func (c *chooser) Admit(addr string) bool {
	c.offered = append(c.offered, addr)
	return c.admit[addr]
}

func (c *chooser) Fallback(addr string) { c.fallback = addr }

// TestPickOffersUpEndpointsToChooser: the chooser is offered the endpoints
// that are up, round robin from the next one, or every endpoint when none
// is; pick uses the one it admits, or its fallback.
func TestPickOffersUpEndpointsToChooser(t *testing.T) {
	t.Parallel()
	addrs := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	tests := []struct {
		name         string
		failing      []int // health check fails
		refused      []int // in the downUntil window
		admit        []int
		wantOffered  []int
		wantFallback int // -1: none
		want         int
	}{
		{"all up, first admitted", nil, nil, []int{1}, []int{1}, -1, 1},
		{"all up, first refused", nil, nil, []int{0}, []int{1, 2, 0}, -1, 0},
		{"failing passed over", []int{1}, nil, []int{2}, []int{2}, -1, 2},
		{"refused passed over", nil, []int{1, 2}, []int{0, 1, 2}, []int{0}, -1, 0},
		{"up ones all refused: fallback", []int{1}, nil, []int{1}, []int{2, 0}, 2, 2},
		// None passes its check: those that did not refuse a connection
		// are offered, not the one that did.
		{"none up: those not refused offered", []int{0, 1}, []int{2}, []int{0}, []int{1, 0}, -1, 0},
		{"none up, all refused", []int{0, 1, 2}, nil, nil, []int{1, 2, 0}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := dial(t, Options{Endpoints: addrs})
			for _, i := range tt.failing {
				b.endpoints[i].failing.Store(true)
			}
			for _, i := range tt.refused {
				b.endpoints[i].downUntil.Store(time.Now().Add(time.Hour).UnixNano())
			}
			c := &chooser{admit: map[string]bool{}}
			for _, i := range tt.admit {
				c.admit[addrs[i]] = true
			}
			b.next.Store(0) // round robin starts at endpoint 1
			got := b.pick(translate.WithEndpointChooser(context.Background(), c))
			var offered []string
			for _, i := range tt.wantOffered {
				offered = append(offered, addrs[i])
			}
			wantFallback := ""
			if tt.wantFallback >= 0 {
				wantFallback = addrs[tt.wantFallback]
			}
			// After the first is refused, the rest are offered from a
			// random one on, until one is admitted: the first offered is
			// fixed, the others come from the wanted set.
			sameOffers := len(c.offered) > 0 && len(offered) > 0 && c.offered[0] == offered[0]
			for _, a := range c.offered {
				sameOffers = sameOffers && slices.Contains(offered, a)
			}
			if c.fallback != "" || len(c.admit) == 0 {
				// Nothing admitted: every candidate was offered.
				sameOffers = sameOffers && len(c.offered) == len(offered)
			}
			if got.addr != addrs[tt.want] || !sameOffers || c.fallback != wantFallback {
				t.Errorf("picked %s, offered %v, fallback %q; want %s, %v, %q", got.addr, c.offered, c.fallback, addrs[tt.want], offered, wantFallback)
			}
		})
	}
}

type admitAll struct{}

func (admitAll) Admit(string) bool { return true }
func (admitAll) Fallback(string)   {}

// BenchmarkPick is the balancer alone: it runs on every call and must not
// allocate.
func BenchmarkPick(b *testing.B) {
	addrs := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	chosen := translate.WithEndpointChooser(context.Background(), admitAll{})
	for _, bb := range []struct {
		name    string
		ctx     context.Context
		failing int // -1: none
	}{
		{"up", context.Background(), -1},
		{"up/chooser", chosen, -1},
		{"one failing/chooser", chosen, 1},
	} {
		b.Run(bb.name, func(b *testing.B) {
			be := dial(b, Options{Endpoints: addrs})
			if bb.failing >= 0 {
				be.endpoints[bb.failing].failing.Store(true)
			}
			b.ReportAllocs()
			for b.Loop() {
				_ = be.pick(bb.ctx)
			}
		})
	}
}

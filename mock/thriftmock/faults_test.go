package thriftmock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

const addStub = "stubs:\n  - method: Calculator.add\n    response: 3\n"

// startFaults serves a mock of addStub plus extra YAML until cleanup.
func startFaults(t *testing.T, extra string, opts Options) (*Server, string) {
	t.Helper()
	stubs, err := mock.ParseStubs([]byte(addStub+extra), "faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(calculator(t), "Calculator", stubs, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, lis.Addr().String()
}

// rawAdd calls add(1, 2) as a plain Thrift client does, on a connection of
// its own with the deadline given, and returns what it read back.
func rawAdd(t *testing.T, addr string, opts Options, deadline time.Duration) (*thrift.Message, error) {
	t.Helper()
	codec, err := thrift.NewCodec(opts.Protocol, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := codec.Method(calculator(t).Service("Calculator").Function("add"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := m.EncodeArgs([]byte(`{"num1":1,"num2":2}`))
	if err != nil {
		t.Fatal(err)
	}
	framer, err := thrift.NewFramer(opts.Protocol, opts.Transport, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(deadline)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(framer.AppendMessage(nil, &thrift.Message{Name: "add", Type: thrift.Call, SeqID: 1, Body: args})); err != nil {
		t.Fatal(err)
	}
	return framer.ReadMessage(bufio.NewReader(c))
}

// TestFaultKnobs: each knob at rate 1, as a plain Thrift client sees it, in
// every protocol and transport.
func TestFaultKnobs(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, framer thrift.Framer, m *thrift.Message, err error)
	appEx := func(typ int32) check {
		return func(t *testing.T, framer thrift.Framer, m *thrift.Message, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != thrift.Exception {
				t.Fatalf("got a %s message, want EXCEPTION", m.Type)
			}
			ae, err := framer.DecodeApplicationException(m.Body)
			if err != nil || ae.Type != typ || !strings.Contains(ae.Message, "mock fault: error_rate on Calculator/add") {
				t.Errorf("got %v, %v; want %s", ae, err, thrift.AppExceptionName(typ))
			}
		}
	}
	closed := func(t *testing.T, _ thrift.Framer, m *thrift.Message, err error) {
		if !errors.Is(err, io.EOF) {
			t.Errorf("got %v, %v; want the connection closed (EOF)", m, err)
		}
	}
	tests := []struct {
		name, fault string
		deadline    time.Duration
		check       check
	}{
		{"error", "error_rate: 1\n    error_code: INTERNAL_ERROR", 10 * time.Second, appEx(thrift.AppExInternalError)},
		{"error by gRPC code", "error_rate: 1\n    error_code: INVALID_ARGUMENT", 10 * time.Second, appEx(thrift.AppExValidationFailed)},
		// UNAVAILABLE, the default, is a Thrift server closing the
		// connection.
		{"error UNAVAILABLE", "error_rate: 1", 10 * time.Second, closed},
		{"drop", "drop_rate: 1", 10 * time.Second, closed},
		{"hang", "hang_rate: 1", 300 * time.Millisecond, func(t *testing.T, _ thrift.Framer, m *thrift.Message, err error) {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("got %v, %v; want the client's deadline", m, err)
			}
		}},
		{"garbage", "garbage_rate: 1", 10 * time.Second, func(t *testing.T, _ thrift.Framer, m *thrift.Message, err error) {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("got %v, %v; want a decoding error", m, err)
			}
		}},
	}
	for _, proto := range []string{"binary", "compact"} {
		for _, transport := range []string{"framed", "buffered"} {
			opts := Options{Protocol: proto, Transport: transport}
			framer, err := thrift.NewFramer(proto, transport, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range tests {
				t.Run(fmt.Sprintf("%s/%s/%s", proto, transport, tt.name), func(t *testing.T) {
					t.Parallel()
					_, addr := startFaults(t, "faults:\n  - method: Calculator.add\n    "+tt.fault+"\n", opts)
					m, err := rawAdd(t, addr, opts, tt.deadline)
					tt.check(t, framer, m, err)
				})
			}
		}
	}
}

// TestFaultThroughGateway: what the gateway's Thrift backend makes of the
// knobs: a closed connection (a drop, or UNAVAILABLE) is UNAVAILABLE, sent
// as 502; garbage 502; a hang 504 at its deadline.
func TestFaultThroughGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault  string
		status int
		body   string
	}{
		{"error_rate: 1", 502, `"code":14,"message":"backend mock closed the connection before replying"`},
		{"drop_rate: 1", 502, `"code":14,"message":"backend mock closed the connection before replying"`},
		{"garbage_rate: 1", 502, `"code":13`},
		{"hang_rate: 1", 504, `"code":4`},
		{"error_rate: 1\n    error_code: INTERNAL", 502, `"message":"backend mock failed (INTERNAL_ERROR)"`},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			t.Parallel()
			_, addr := startFaults(t, "faults:\n  - method: add\n    "+tt.fault+"\n", Options{})
			b, err := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			tg, err := newTarget("mock", b, calculator(t).Service("Calculator").Function("add"), thrift.Binding{Body: "*"})
			if err != nil {
				t.Fatal(err)
			}
			// A short deadline, for the hang: the gateway's timeout.
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			w := httptest.NewRecorder()
			tg.ServeRoute(w, httptest.NewRequestWithContext(ctx, "POST", "/x", strings.NewReader(`{"num1":1,"num2":2}`)), nil)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("%d %s, want %d with %s", w.Code, w.Body.String(), tt.status, tt.body)
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	_, addr := startFaults(t, "faults:\n  - method: add\n    latency: 100ms-150ms\n", Options{})
	begin := time.Now()
	m, err := rawAdd(t, addr, Options{}, 10*time.Second)
	if err != nil || m.Type != thrift.Reply {
		t.Fatalf("%v, %v", m, err)
	}
	if took := time.Since(begin); took < 100*time.Millisecond {
		t.Errorf("answered after %v, before the latency", took)
	}
}

// TestFaultSeeded: with a seed, a rate of 0.5 fails exactly the calls a
// table with the same seed draws.
func TestFaultSeeded(t *testing.T) {
	t.Parallel()
	_, addr := startFaults(t, "seed: 11\nfaults:\n  - {method: Calculator/add, error_rate: 0.5, error_code: INTERNAL_ERROR}\n", Options{})
	ref := mock.NewFaultTable(mock.FaultRules{NameKey: "method"})
	if err := ref.Set([]mock.Fault{{Method: "Calculator/add", ErrorRate: 0.5}}); err != nil {
		t.Fatal(err)
	}
	ref.SetSeed(11)
	var got, want strings.Builder
	for range 30 {
		m, err := rawAdd(t, addr, Options{}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == thrift.Exception {
			got.WriteByte('E')
		} else {
			got.WriteByte('.')
		}
		if ref.Decide("Calculator/add").Outcome == mock.FaultError {
			want.WriteByte('E')
		} else {
			want.WriteByte('.')
		}
	}
	if got.String() != want.String() || !strings.Contains(got.String(), "E") || !strings.Contains(got.String(), ".") {
		t.Errorf("calls went\n%s\nthe seed draws\n%s", got.String(), want.String())
	}
}

func TestFaultStubFileProblems(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(`stubs: []
faults:
  - method: Calculator.nope
  - method: Other.add
  - method: add
    error_rate: 1
    error_code: NOT_FOUND
  - method: Calculator.add
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(calculator(t), "Calculator", stubs, Options{}, nil)
	for _, want := range []string{
		"f.yaml:3: faults[0].method: service Calculator has no function nope (it has add, calculate,",
		`f.yaml:4: faults[1].method: method "Other.add": the mock serves service Calculator, not Other`,
		`f.yaml:7: faults[2].error_code: error code "NOT_FOUND": want UNAVAILABLE (the connection is closed), a TApplicationException type`,
		"f.yaml:8: faults[3].method: method Calculator/add already has a fault (the fault at line 5)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got\n%v\nwant it to contain\n%s", err, want)
		}
	}
}

// TestFaultControl drives a running mock through its control endpoint.
func TestFaultControl(t *testing.T) {
	t.Parallel()
	s, addr := startFaults(t, "", Options{})
	c, err := mock.StartControl("127.0.0.1:0", s.Faults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	send := func(method, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.URL()+"/faults", strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("POST", `{"method":"add","drop_rate":1}`); code != 200 || !strings.Contains(body, `"method": "Calculator/add"`) {
		t.Fatalf("POST: %d %s", code, body)
	}
	if _, err := rawAdd(t, addr, Options{}, 10*time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after POST: %v", err)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"method":"Calculator.nope","error_rate":1}`, "method: service Calculator has no function nope"},
		{`{"method":"add","error_rate":1,"error_code":"NOT_FOUND"}`, `error_code: error code \"NOT_FOUND\": want UNAVAILABLE`},
		{`{"method":"add","garbage_rate":2}`, "garbage_rate: garbage_rate 2: want a probability from 0 to 1"},
	} {
		if code, body := send("POST", bad.body); code != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("POST %s: %d %s, want 400 with %s", bad.body, code, body, bad.want)
		}
	}
	if code, body := send("DELETE", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if m, err := rawAdd(t, addr, Options{}, 10*time.Second); err != nil || m.Type != thrift.Reply {
		t.Errorf("after DELETE: %v, %v", m, err)
	}
}

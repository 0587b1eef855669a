package thriftmock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

// TestMain checks that Stop takes every goroutine with it, delays included.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	calcOnce sync.Once
	calcProg *idl.Program
	calcErr  error
)

func calculator(t testing.TB) *idl.Program {
	t.Helper()
	calcOnce.Do(func() { calcProg, calcErr = idl.ParseFile("testdata/calculator.thrift", idl.Options{}) })
	if calcErr != nil {
		t.Fatal(calcErr)
	}
	return calcProg
}

func loadStubs(t testing.TB) *mock.Stubs {
	t.Helper()
	s, err := mock.LoadStubs("testdata/stubs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start serves a mock on 127.0.0.1:0 until cleanup.
func start(t *testing.T, stubs *mock.Stubs, opts Options, log *slog.Logger) string {
	t.Helper()
	s, err := New(calculator(t), "Calculator", stubs, opts, log)
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
	return lis.Addr().String()
}

// call sends one HTTP request through a gateway Target to the mock.
func call(t *testing.T, b *thrift.Backend, opts Options, fn, body string) (int, string) {
	t.Helper()
	f := calculator(t).Service("Calculator").Function(fn)
	bind := thrift.Binding{Body: "*", Protocol: opts.Protocol}
	if opts.Multiplexed {
		bind.ServiceName = "Calculator"
	}
	tg, err := newTarget("mock", b, f, bind)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	tg.ServeRoute(w, httptest.NewRequest("POST", "/x", strings.NewReader(body)), nil)
	return w.Code, w.Body.String()
}

func TestServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn, body string
		status   int
		want     string
	}{
		{"add", `{"num1":2,"num2":2}`, 200, `4`},
		{"add", `{"num1":5,"num2":1}`, 200, `5`},
		{"calculate", `{"logid":1,"w":{"num2":0,"op":"DIVIDE"}}`, 500,
			`{"code":2,"message":"cannot divide by zero","details":[{"@type":"thrift/calculator.InvalidOperation","whatOp":4,"why":"cannot divide by zero"}]}`},
		{"calculate", `{"logid":1,"w":{"num1":1,"num2":2,"op":"ADD"}}`, 200, `3`},
		{"calculate", `{"logid":1,"w":{"op":"MULTIPLY"}}`, 502,
			`{"code":13,"message":"backend mock failed (INTERNAL_ERROR)","details":[]}`},
		{"getStruct", `{"key":7}`, 200, `{"key":7,"value":"shared"}`},
		{"zip", `{"why":"because"}`, 202, `{}`},
		{"stats", `{"ids":[1,2]}`, 200, `{"big":"9007199254740993"}`},
		{"stats", `{"ids":[2]}`, 501, `{"code":12,"message":"backend mock does not implement the method: no stub matches Calculator/stats","details":[]}`},
		{"ping", `{}`, 200, `{}`},
	}
	for _, proto := range []string{"binary", "compact"} {
		for _, transport := range []string{"framed", "buffered"} {
			for _, mux := range []bool{false, true} {
				opts := Options{Protocol: proto, Transport: transport, Multiplexed: mux}
				t.Run(fmt.Sprintf("%s/%s/multiplexed=%v", proto, transport, mux), func(t *testing.T) {
					t.Parallel()
					addr := start(t, loadStubs(t), opts, nil)
					b, err := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}, Protocol: proto, Transport: transport, Multiplexed: mux})
					if err != nil {
						t.Fatal(err)
					}
					defer b.Close()
					for _, tt := range tests {
						status, body := call(t, b, opts, tt.fn, tt.body)
						if status != tt.status || body != tt.want {
							t.Errorf("%s %s: %d %s\nwant %d %s", tt.fn, tt.body, status, body, tt.status, tt.want)
						}
					}
				})
			}
		}
	}
}

// TestDelayAndStop: a delayed answer waits, and Stop ends the wait.
func TestDelayAndStop(t *testing.T) {
	t.Parallel()
	stubs := &mock.Stubs{Stubs: []mock.Stub{{Method: "Calculator/ping", Delay: mock.Duration(time.Hour)}}}
	s, err := New(calculator(t), "Calculator", stubs, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &readListener{Listener: inner, read: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- s.Serve(lis) }()
	b, _ := thrift.Dial("mock", thrift.Options{Endpoints: []string{lis.Addr().String()}})
	defer b.Close()
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := b.Invoke(ctx, &translate.Call{Method: "ping", Body: []byte{0}})
		errc <- err
	}()
	// Stop once the server has the call; the bound only turns a call that
	// never arrives into a failure rather than a hang.
	select {
	case <-lis.read:
	case err := <-errc:
		t.Fatalf("the call ended before reaching the server: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the server")
	}
	select {
	case err := <-errc:
		t.Fatalf("the delayed call returned before Stop: %v", err)
	default:
	}
	stopped := time.Now()
	s.Stop()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("the delayed call succeeded after Stop")
	}
	if time.Since(stopped) > 2*time.Second {
		t.Errorf("Stop took %v", time.Since(stopped))
	}
}

// readListener closes read the first time one of its connections hands the
// server bytes: then a call has reached the server, which has no hook of
// its own for that.
type readListener struct {
	net.Listener
	read chan struct{}
	once sync.Once
}

func (l *readListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readConn{Conn: c, l: l}, nil
}

type readConn struct {
	net.Conn
	l *readListener
}

func (c *readConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.l.once.Do(func() { close(c.l.read) })
	}
	return n, err
}

// TestUnknownFunction: a function the service does not have is
// UNKNOWN_METHOD, which the gateway shows as 501.
func TestUnknownFunction(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	addr := start(t, loadStubs(t), Options{}, slog.New(slog.NewJSONHandler(&logs, nil)))
	b, _ := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}})
	defer b.Close()
	p, err := idl.Parse("other.thrift", []byte(`service Calculator { i32 mul(1: i32 a) }`), idl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := newTarget("mock", b, p.Service("Calculator").Function("mul"), thrift.Binding{Body: "*"})
	w := httptest.NewRecorder()
	tg.ServeRoute(w, httptest.NewRequest("POST", "/x", strings.NewReader(`{"a":1}`)), nil)
	if w.Code != 501 || !strings.Contains(w.Body.String(), "unknown function mul") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	// The call log names the method and the outcome.
	if status, _ := call(t, b, Options{}, "add", `{"num1":2,"num2":2}`); status != 200 {
		t.Fatal(status)
	}
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			t.Fatalf("log line %q", line)
		}
		if rec["msg"] == "thriftmock call" && rec["method"] == "add" && rec["outcome"] == "reply" && rec["stub"] == 0.0 &&
			rec["stub_source"] == "testdata/stubs.yaml:2" && rec["matched"] == true {
			found = true
		}
	}
	if !found {
		t.Errorf("no log record for add:\n%s", logs.String())
	}
}

// TestStubInGo: stubs built in Go may name an exception by its type in the
// code, which a stub file (gRPC codes only) cannot.
func TestStubInGo(t *testing.T) {
	t.Parallel()
	stubs := &mock.Stubs{Stubs: []mock.Stub{{
		Method: "Calculator.calculate",
		Error: &mock.StubError{Code: "InvalidOperation", Message: "nope",
			Details: []map[string]any{{"whatOp": 2}}},
	}, {
		Method: "Calculator.add",
		Error:  &mock.StubError{Code: "VALIDATION_FAILED", Message: "num1 must be positive"},
	}}}
	addr := start(t, stubs, Options{Protocol: "compact"}, nil)
	b, _ := thrift.Dial("mock", thrift.Options{Endpoints: []string{addr}, Protocol: "compact"})
	defer b.Close()
	status, body := call(t, b, Options{Protocol: "compact"}, "calculate", `{"logid":1,"w":{}}`)
	if want := `{"code":2,"message":"nope","details":[{"@type":"thrift/calculator.InvalidOperation","whatOp":2,"why":"nope"}]}`; status != 500 || body != want {
		t.Errorf("%d %s", status, body)
	}
	status, body = call(t, b, Options{Protocol: "compact"}, "add", `{"num1":-1,"num2":1}`)
	if want := `{"code":3,"message":"backend mock rejected the request: num1 must be positive","details":[]}`; status != 400 || body != want {
		t.Errorf("%d %s", status, body)
	}
}

// TestLoadErrors: mistakes in stubs stop the mock when it is built.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stub mock.Stub
		want string
	}{
		{"no such function", mock.Stub{Method: "Calculator.mul"},
			"stubs[0].method: service Calculator has no function mul (it has add, calculate, getStruct, lookup, ping, stats, zip)"},
		{"other service", mock.Stub{Method: "Other.add"}, `stubs[0].method: method "Other.add": the mock serves service Calculator, not Other`},
		{"bad match path", mock.Stub{Method: "Calculator.calculate", Match: map[string]any{"w.nope": 1}, Response: 1},
			`stubs[0].match.w.nope: Work has no field "nope"`},
		{"bad argument", mock.Stub{Method: "Calculator.add", Match: map[string]any{"num3": 1}, Response: 1},
			`stubs[0].match.num3: add has no argument "num3"`},
		{"list index", mock.Stub{Method: "Calculator.stats", Match: map[string]any{"ids.x": 1}, Response: map[string]any{}},
			`stubs[0].match.ids.x: "ids" is a list: "x" is not an index`},
		{"bad response", mock.Stub{Method: "Calculator.add", Response: "four"},
			`stubs[0].response: response does not fit i32: "four" is not an integer`},
		{"void response", mock.Stub{Method: "Calculator.ping", Response: map[string]any{"x": 1}},
			"stubs[0].response: ping returns void: the response must be empty"},
		{"no response", mock.Stub{Method: "Calculator.add"},
			"stubs[0].response: add returns i32: the stub has no response (a response of null is no answer at all)"},
		{"oneway answered", mock.Stub{Method: "Calculator.zip", Response: map[string]any{}},
			"stubs[0].response: zip is oneway: nothing is sent back, so the stub can have no response or error"},
		{"undeclared exception", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Code: "UNKNOWN",
			Details: []map[string]any{{"@type": "Oops"}}}},
			`stubs[0].error.details[0].@type: "Oops" is not an exception calculate declares (InvalidOperation)`},
		{"undeclared exception by name", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Exception: "Oops"}},
			`stubs[0].error.exception: "Oops" is not an exception calculate declares (InvalidOperation)`},
		{"exception fields", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Code: "InvalidOperation",
			Details: []map[string]any{{"whatOp": "x"}}}},
			`stubs[0].error.details[0]: exception fields do not fit InvalidOperation: field "whatOp": "x" is not an integer`},
		{"exception fields by name", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Exception: "InvalidOperation",
			Fields: map[string]any{"whatOp": "x"}}},
			`stubs[0].error.fields: exception fields do not fit InvalidOperation: field "whatOp": "x" is not an integer`},
		{"exception with a code", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Exception: "InvalidOperation", Code: "NOT_FOUND"}},
			`stubs[0].error.code: a Thrift exception carries no status code (the gateway takes it from the route's exceptions: or the IDL's http.status); drop code`},
		{"message twice", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Exception: "InvalidOperation", Message: "a",
			Fields: map[string]any{"why": "b"}}},
			`stubs[0].error.message: message and error.fields.why both give the message; keep one`},
		{"no error name", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Message: "a", Details: []map[string]any{{"whatOp": 1}}}},
			`stubs[0].error: error names no exception: name one calculate declares with exception (InvalidOperation), or give a TApplicationException type or gRPC code as code`},
		{"code without equivalent", mock.Stub{Method: "Calculator.add", Error: &mock.StubError{Code: "NOT_FOUND"}},
			`stubs[0].error.code: error code "NOT_FOUND": gRPC code NOT_FOUND has no TApplicationException equivalent (UNKNOWN, INTERNAL, INVALID_ARGUMENT and UNIMPLEMENTED do); add declares no exceptions`},
		{"unknown code", mock.Stub{Method: "Calculator.add", Error: &mock.StubError{Code: "Oops"}},
			`stubs[0].error.code: error code "Oops": not a declared exception, a TApplicationException type (UNKNOWN_METHOD, INTERNAL_ERROR, ...) or a gRPC code; add declares no exceptions`},
		{"bad template path", mock.Stub{Method: "Calculator.add", Response: "{{request.num9}}"},
			`stubs[0].response: template "{{request.num9}}": add has no argument "num9"`},
		{"bad template path in an exception", mock.Stub{Method: "Calculator.calculate", Error: &mock.StubError{Exception: "InvalidOperation",
			Fields: map[string]any{"whatOp": "{{request.w.opp}}"}}},
			`stubs[0].error.fields.whatOp: template "{{request.w.opp}}": Work has no field "opp"`},
		{"partial template", mock.Stub{Method: "Calculator.add", Response: "n={{request.num1}}"},
			`stubs[0].response: "n={{request.num1}}": a template must be the whole string`},
	}
	for _, tt := range tests {
		_, err := New(calculator(t), "Calculator", &mock.Stubs{Stubs: []mock.Stub{tt.stub}}, Options{}, nil)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}
	if _, err := New(calculator(t), "Nope", nil, Options{}, nil); err == nil ||
		err.Error() != "thriftmock: no service Nope in testdata/calculator.thrift (it has Calculator, shared.SharedService)" {
		t.Errorf("got %v", err)
	}
	if _, err := New(calculator(t), "Calculator", nil, Options{Transport: "http"}, nil); err == nil {
		t.Error("bad transport accepted")
	}
}

// newTarget serves fn over backend b through the shared pipeline, with no
// resilience policy; the binding's protocol defaults to the backend's.
func newTarget(name string, b translate.Backend, fn *idl.Function, bind thrift.Binding) (*pipeline.Target, error) {
	if tb, ok := b.(*thrift.Backend); ok && bind.Protocol == "" {
		bind.Protocol = tb.Protocol()
	}
	tc, err := thrift.NewTranscoder(name, fn, bind)
	if err != nil {
		return nil, err
	}
	return pipeline.Unguarded(name, b, tc, nil), nil
}

package grpcmock

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/mock"
)

const getBookMethod = "/library.v1.LibraryService/GetBook"

// faultStubs answers GetBook, so that a call the faults leave alone
// succeeds.
const faultStubs = `
stubs:
  - method: library.v1.LibraryService/GetBook
    response: {name: shelves/1/books/1, title: The Dispossessed}
`

func getBookCall(ctx context.Context, t *testing.T, h *harness) error {
	t.Helper()
	return h.call(ctx, t, library(t), getBookMethod, `{"name":"shelves/1/books/1"}`).err
}

// TestFaultKnobs: each knob at rate 1, as a real gRPC client sees it.
func TestFaultKnobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fault string
		deadline    time.Duration // 0: a generous one
		code        codes.Code
		msg         string // in the status message
		notMsg      string // not in it
		log         string
	}{
		{"error, default code", "error_rate: 1", 0, codes.Unavailable, "mock fault: error_rate on library.v1.LibraryService/GetBook", "", "fault=\"error UNAVAILABLE\""},
		{"error by name", "error_rate: 1\n    error_code: RESOURCE_EXHAUSTED", 0, codes.ResourceExhausted, "mock fault", "", "code=RESOURCE_EXHAUSTED"},
		{"error by number", "error_rate: 1\n    error_code: 8", 0, codes.ResourceExhausted, "mock fault", "", ""},
		// A dropped connection: UNAVAILABLE from the client's transport,
		// not a status the mock sent.
		{"drop", "drop_rate: 1", 0, codes.Unavailable, "", "mock fault", "fault=drop"},
		{"hang", "hang_rate: 1", 300 * time.Millisecond, codes.DeadlineExceeded, "", "", "fault=hang"},
		// Bytes that are no protobuf message: the client cannot decode them.
		{"garbage", "garbage_rate: 1", 0, codes.Internal, "unmarshal", "", "fault=garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, library(t), faultStubs+"faults:\n  - method: "+getBookMethod+"\n    "+tt.fault+"\n")
			d := tt.deadline
			if d == 0 {
				d = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			err := getBookCall(ctx, t, h)
			st := status.Convert(err)
			if st.Code() != tt.code || !strings.Contains(st.Message(), tt.msg) || tt.notMsg != "" && strings.Contains(st.Message(), tt.notMsg) {
				t.Fatalf("got %v, want %v with %q", err, tt.code, tt.msg)
			}
			if tt.log != "" {
				waitLog(t, h, tt.log)
			}
		})
	}
}

// waitLog waits for the handler's log line: a hung call logs once the
// client has gone, after the client has seen its error.
func waitLog(t *testing.T, h *harness, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		wrote := h.logs.next() // before the check, so no write is missed
		if strings.Contains(h.logs.String(), want) {
			return
		}
		select {
		case <-wrote:
		case <-timeout:
			t.Fatalf("log lacks %s:\n%s", want, h.logs.String())
		}
	}
}

// TestFaultLatency: the answer comes no sooner than the minimum latency,
// and is the stub's.
func TestFaultLatency(t *testing.T) {
	t.Parallel()
	for _, latency := range []string{"150ms", "100ms-130ms"} {
		h := start(t, library(t), faultStubs+"faults:\n  - method: library.v1.LibraryService.GetBook\n    latency: "+latency+"\n")
		min, _ := mock.ParseLatency(latency)
		begin := time.Now()
		r := h.call(context.Background(), t, library(t), getBookMethod, `{"name":"shelves/1/books/1"}`)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if took := time.Since(begin); took < min.Min {
			t.Errorf("latency %s: answered after %v", latency, took)
		}
		if got := get(t, r.msg.ProtoReflect(), "title").String(); got != "The Dispossessed" {
			t.Errorf("title %q", got)
		}
		waitLog(t, h, "fault=latency fault_latency=")
	}
}

// TestFaultSeeded: with a seed, a rate of 0.5 fails exactly the calls a
// table with the same seed draws.
func TestFaultSeeded(t *testing.T) {
	t.Parallel()
	h := start(t, library(t), faultStubs+`
seed: 7
faults:
  - method: library.v1.LibraryService/GetBook
    error_rate: 0.5
    error_code: ABORTED
`)
	ref := mock.NewFaultTable(mock.FaultRules{NameKey: "method"})
	if err := ref.Set([]mock.Fault{{Method: "library.v1.LibraryService/GetBook", ErrorRate: 0.5}}); err != nil {
		t.Fatal(err)
	}
	ref.SetSeed(7)
	var got, want strings.Builder
	for range 30 {
		switch err := getBookCall(context.Background(), t, h); status.Code(err) {
		case codes.OK:
			got.WriteByte('.')
		case codes.Aborted:
			got.WriteByte('E')
		default:
			t.Fatal(err)
		}
		if ref.Decide("library.v1.LibraryService/GetBook").Outcome == mock.FaultError {
			want.WriteByte('E')
		} else {
			want.WriteByte('.')
		}
	}
	if got.String() != want.String() {
		t.Errorf("calls went\n%s\nthe seed draws\n%s", got.String(), want.String())
	}
	if !strings.Contains(got.String(), "E") || !strings.Contains(got.String(), ".") {
		t.Errorf("rate 0.5 gave %s", got.String())
	}
	if h.srv.Faults().Seed() != 7 {
		t.Errorf("seed %d", h.srv.Faults().Seed())
	}
}

// TestFaultStubFileProblems: faults are checked against the schema, every
// problem at its line.
func TestFaultStubFileProblems(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(`stubs: []
faults:
  - method: library.v1.LibraryService/GetBok
    error_rate: 1
  - method: library.v1.LibraryService/GetBook
    error_rate: 1
    error_code: NOPE
  - method: grpc.health.v1.Health/Check
  - method: library.v1.LibraryService/ListBooks
    error_code: OK
  - method: library.v1.LibraryService.GetBook
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(library(t), nil, stubs, nil)
	want := `f.yaml:3: faults[0].method: service library.v1.LibraryService has no method GetBok (it has GetBook, ListBooks, CreateBook, UpdateBook, DeleteBook, ArchiveBook, SearchBooks, ListShelves, GetBookCover, UploadBookCover, GetFile, Ping)
f.yaml:7: faults[1].error_code: unknown status code "NOPE": want a name such as NOT_FOUND or a number
f.yaml:8: faults[2].method: grpc.health.v1.Health is served by the mock itself and cannot be given faults
f.yaml:10: faults[3].error_code: error code OK is not an error
f.yaml:11: faults[4].method: method library.v1.LibraryService/GetBook already has a fault (the fault at line 5); give each one fault`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

// TestFaultOnStreamingMethod: streaming methods take faults too, applied
// at the start of each stream (see TestStreamFaultsAtStart).
func TestFaultOnStreamingMethod(t *testing.T) {
	t.Parallel()
	files := compile(t, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{
		"demo/v1/demo.proto": streamingProto,
	})}, "demo/v1/demo.proto")
	srv, err := New(files, nil, &mock.Stubs{Faults: []mock.Fault{{Method: "demo.v1.Demo/Watch", ErrorRate: 1}}}, nil)
	if err != nil {
		t.Fatalf("fault on a streaming method: %v", err)
	}
	srv.Stop()
}

// TestHangEndsOnGracefulStop: a call a fault holds does not hold a
// graceful stop; the client gets UNAVAILABLE.
func TestHangEndsOnGracefulStop(t *testing.T) {
	t.Parallel()
	stubs, err := mock.ParseStubs([]byte(faultStubs+"faults:\n  - {method: "+getBookMethod+", hang_rate: 1}\n"), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(library(t), nil, stubs, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &firstRead{Listener: raw, read: make(chan struct{})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := &harness{srv: srv, conn: conn, logs: new(logBuffer)}
	called := make(chan error, 1)
	go func() { called <- getBookCall(context.Background(), t, h) }()
	// Stop once the client's bytes are arriving (whether the call is in
	// yet or not, the stop must end).
	<-lis.read
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("GracefulStop waited for a hanging call")
	}
	if err := <-called; status.Code(err) != codes.Unavailable {
		t.Errorf("the hanging call ended with %v", err)
	}
	<-served
}

// firstRead is a listener whose conns signal the first bytes the server
// reads.
type firstRead struct {
	net.Listener
	once sync.Once
	read chan struct{}
}

func (l *firstRead) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &readSignal{Conn: c, l: l}, nil
}

type readSignal struct {
	net.Conn
	l *firstRead
}

func (c *readSignal) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.l.once.Do(func() { close(c.l.read) })
	}
	return n, err
}

// TestFaultControl drives a running mock through its control endpoint.
func TestFaultControl(t *testing.T) {
	t.Parallel()
	h := start(t, library(t), faultStubs+"seed: 3\n")
	c, err := mock.StartControl("127.0.0.1:0", h.srv.Faults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := c.URL() + "/faults"
	send := func(method, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ctx := context.Background()
	if err := getBookCall(ctx, t, h); err != nil {
		t.Fatal(err)
	}
	if code, body := send("POST", `{"method":"/library.v1.LibraryService/GetBook","error_rate":1,"error_code":"UNAVAILABLE"}`); code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	if err := getBookCall(ctx, t, h); status.Code(err) != codes.Unavailable {
		t.Fatalf("after POST: %v", err)
	}
	code, body := send("GET", "")
	var state struct {
		Seed   uint64       `json:"seed"`
		Faults []mock.Fault `json:"faults"`
	}
	if err := json.Unmarshal([]byte(body), &state); err != nil || code != 200 {
		t.Fatalf("GET: %d %s %v", code, body, err)
	}
	if state.Seed != 3 || len(state.Faults) != 1 || state.Faults[0].Method != "library.v1.LibraryService/GetBook" || state.Faults[0].ErrorCode != "UNAVAILABLE" {
		t.Errorf("GET: %s", body)
	}
	if code, body := send("PUT", `{"faults":[{"method":"library.v1.LibraryService/GetBook","error_rate":1,"error_code":"PERMISSION_DENIED"}]}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if err := getBookCall(ctx, t, h); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after PUT: %v", err)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"method":"library.v1.LibraryService/GetBok","error_rate":1}`, "method: service library.v1.LibraryService has no method GetBok"},
		{`{"method":"library.v1.LibraryService/GetBook","error_rate":1,"error_code":"NOPE"}`, `error_code: unknown status code \"NOPE\"`},
		{`{"method":"library.v1.LibraryService/GetBook","error_rate":1.5}`, "error_rate: error_rate 1.5: want a probability from 0 to 1"},
	} {
		if code, body := send("POST", bad.body); code != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("POST %s: %d %s, want 400 with %s", bad.body, code, body, bad.want)
		}
	}
	if err := getBookCall(ctx, t, h); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a refused POST changed the faults: %v", err)
	}
	req, _ := http.NewRequest("DELETE", url, nil)
	req.Header.Set("Origin", "http://evil.example")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("a cross-origin DELETE: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code, body := send("DELETE", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if err := getBookCall(ctx, t, h); err != nil {
		t.Fatalf("after DELETE: %v", err)
	}
}

// client keeps no idle connections, whose goroutines would outlive the
// tests.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

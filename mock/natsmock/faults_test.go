package natsmock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/mock"
)

const orderStubs = `
stubs:
  - subject: orders.*.get
    response: {status: SHIPPED}
  - subject: orders.typed.status
    response: {id: "42", status: STATUS_SHIPPED}
`

// startResponder is start, returning the responder too.
func startResponder(t *testing.T, yaml string) (*Responder, *natsgo.Conn) {
	t.Helper()
	s := startServer(t)
	stubs, err := ParseStubs([]byte(yaml), "faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(connect(t, s), stubs, TypesForSubject{"orders.typed.status": shopTypes(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
	})
	return r, connect(t, s)
}

func requestWithin(nc *natsgo.Conn, subject string, data []byte, d time.Duration) (*natsgo.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return nc.RequestWithContext(ctx, subject, data)
}

// TestFaultKnobs: each knob at rate 1, as a NATS requester sees it.
func TestFaultKnobs(t *testing.T) {
	t.Parallel()
	noReply := func(t *testing.T, m *natsgo.Msg, err error) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, %v; want no reply before the requester's deadline", m, err)
		}
	}
	microError := func(code, msg string) func(t *testing.T, m *natsgo.Msg, err error) {
		return func(t *testing.T, m *natsgo.Msg, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Header.Get("Nats-Service-Error-Code"); got != code || !strings.Contains(m.Header.Get("Nats-Service-Error"), msg) {
				t.Errorf("got %s %q, want %s %q", got, m.Header.Get("Nats-Service-Error"), code, msg)
			}
		}
	}
	tests := []struct {
		name, fault string
		deadline    time.Duration
		check       func(t *testing.T, m *natsgo.Msg, err error)
	}{
		{"error, default code", "error_rate: 1", 10 * time.Second, microError("503", "mock fault: error_rate on orders.*.get")},
		{"error by status", "error_rate: 1\n    error_code: 429", 10 * time.Second, microError("429", "mock fault")},
		{"error by gRPC code", "error_rate: 1\n    error_code: NOT_FOUND", 10 * time.Second, microError("404", "mock fault")},
		{"drop", "drop_rate: 1", 300 * time.Millisecond, noReply},
		{"hang", "hang_rate: 1", 300 * time.Millisecond, noReply},
		{"garbage", "garbage_rate: 1", 10 * time.Second, func(t *testing.T, m *natsgo.Msg, err error) {
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if json.Unmarshal(m.Data, &v) == nil || m.Header.Get("Nats-Service-Error-Code") != "" {
				t.Errorf("garbage decoded as JSON, or came as an error: %q %v", m.Data, m.Header)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, nc := startResponder(t, orderStubs+"faults:\n  - subject: orders.*.get\n    "+tt.fault+"\n")
			m, err := requestWithin(nc, "orders.42.get", nil, tt.deadline)
			tt.check(t, m, err)
			// Other subjects are left alone.
			if m := request(t, nc, "orders.typed.status", nil); m.Header.Get("Nats-Service-Error-Code") != "" {
				t.Errorf("the typed subject failed too: %v", m.Header)
			}
		})
	}
}

// TestFaultGarbageTyped: garbage on a typed subject is no protobuf message.
func TestFaultGarbageTyped(t *testing.T) {
	t.Parallel()
	_, nc := startResponder(t, orderStubs+"faults:\n  - {subject: orders.typed.status, garbage_rate: 1}\n")
	m := request(t, nc, "orders.typed.status", nil)
	reply := dynamicpb.NewMessage(shopTypes(t).Reply)
	if err := proto.Unmarshal(m.Data, reply); err == nil {
		t.Errorf("garbage decoded as %s: %q", reply.Descriptor().FullName(), m.Data)
	}
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	_, nc := startResponder(t, orderStubs+"faults:\n  - {subject: orders.42.get, latency: 100ms-150ms}\n")
	begin := time.Now()
	m := request(t, nc, "orders.42.get", nil)
	if took := time.Since(begin); took < 100*time.Millisecond {
		t.Errorf("answered after %v, before the latency", took)
	}
	if !strings.Contains(string(m.Data), "SHIPPED") {
		t.Errorf("reply %s", m.Data)
	}
	// The fault's subject is a pattern: orders.43.get is not slowed, but
	// there is no lower bound to check that by; it answers.
	request(t, nc, "orders.43.get", nil)
}

// TestFaultSeeded: with a seed, a rate of 0.5 fails exactly the requests a
// table with the same seed draws.
func TestFaultSeeded(t *testing.T) {
	t.Parallel()
	_, nc := startResponder(t, orderStubs+"seed: 5\nfaults:\n  - {subject: orders.*.get, error_rate: 0.5}\n")
	ref := mock.NewFaultTable(mock.FaultRules{NameKey: "subject", Match: func(f *mock.Fault, s string) bool {
		return subjectMatches(strings.Split(f.Subject, "."), s)
	}})
	if err := ref.Set([]mock.Fault{{Subject: "orders.*.get", ErrorRate: 0.5}}); err != nil {
		t.Fatal(err)
	}
	ref.SetSeed(5)
	var got, want strings.Builder
	for range 30 {
		if request(t, nc, "orders.7.get", nil).Header.Get("Nats-Service-Error-Code") == "503" {
			got.WriteByte('E')
		} else {
			got.WriteByte('.')
		}
		if ref.Decide("orders.7.get").Outcome == mock.FaultError {
			want.WriteByte('E')
		} else {
			want.WriteByte('.')
		}
	}
	if got.String() != want.String() || !strings.Contains(got.String(), "E") || !strings.Contains(got.String(), ".") {
		t.Errorf("requests went\n%s\nthe seed draws\n%s", got.String(), want.String())
	}
}

func TestFaultStubFileProblems(t *testing.T) {
	t.Parallel()
	stubs, err := ParseStubs([]byte(orderStubs+`
faults:
  - subject: invoices.*.get
  - subject: orders..get
  - method: orders.>
    error_rate: 1
    error_code: 700
  - subject: orders.*.get
    method: orders.42.get
  - subject: orders.42.get
    error_rate: 1.5
seed: many
`), "f.yaml")
	for _, want := range []string{
		"f.yaml:14: faults[3].subject: fault has both method and subject; keep one",
		"f.yaml:17: faults[4].error_rate: error_rate 1.5: want a probability from 0 to 1",
		`f.yaml:18: seed: seed "many"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseStubs: got\n%v\nwant it to contain\n%s", err, want)
		}
	}
	err = mock.JoinProblems(err, Check(stubs, TypesForSubject{"orders.typed.status": shopTypes(t)}))
	for _, want := range []string{
		"f.yaml:9: faults[0].subject: no stub subject overlaps invoices.*.get, so no request on it reaches the mock (stub subjects: orders.*.get, orders.typed.status)",
		`f.yaml:10: faults[1].subject: subject "orders..get" has an empty token`,
		"f.yaml:13: faults[2].error_code: error code 700: want an HTTP-like status from 400 to 599",
		"f.yaml:17: faults[4].error_rate: error_rate 1.5",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check: got\n%v\nwant it to contain\n%s", err, want)
		}
	}
	if n := strings.Count(err.Error(), "faults[4].error_rate"); n != 1 {
		t.Errorf("the loader's and the mock's same problem listed %d times:\n%v", n, err)
	}
}

func TestOverlaps(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"orders.42.get", "orders.*.get", true},
		{"orders.*.get", "orders.42.*", true},
		{"orders.>", "orders.42.get", true},
		{">", "orders", true},
		{"orders.>", "orders", false},
		{"orders.*", "orders.42.get", false},
		{"orders.42.get", "orders.43.get", false},
		{"invoices.*.get", "orders.*.get", false},
	} {
		a, b := strings.Split(tt.a, "."), strings.Split(tt.b, ".")
		if overlaps(a, b) != tt.want || overlaps(b, a) != tt.want {
			t.Errorf("overlaps(%s, %s) = %v, want %v", tt.a, tt.b, !tt.want, tt.want)
		}
	}
}

// TestFaultControl drives a running responder through its control
// endpoint, with subjects.
func TestFaultControl(t *testing.T) {
	t.Parallel()
	r, nc := startResponder(t, orderStubs)
	c, err := mock.StartControl("127.0.0.1:0", r.Faults())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.URL()+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := send("POST", "/faults", `{"subject":"orders.42.get","error_rate":1,"error_code":"UNAVAILABLE"}`); code != 200 || !strings.Contains(body, `"subject": "orders.42.get"`) {
		t.Fatalf("POST: %d %s", code, body)
	}
	if m := request(t, nc, "orders.42.get", nil); m.Header.Get("Nats-Service-Error-Code") != "503" {
		t.Errorf("after POST: %v %s", m.Header, m.Data)
	}
	if m := request(t, nc, "orders.43.get", nil); m.Header.Get("Nats-Service-Error-Code") != "" {
		t.Errorf("another subject failed: %v", m.Header)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"subject":"invoices.1.get","error_rate":1}`, "subject: no stub subject overlaps invoices.1.get"},
		{`{"subject":"orders.42.get","error_rate":1,"error_code":"302"}`, "error_code: error code 302"},
		{`{"subject":"orders.42.get","hang_rate":-1}`, "hang_rate: hang_rate -1: want a probability from 0 to 1"},
		{`{"method":"orders.42.get","subject":"orders.42.get"}`, "subject: fault has both method and subject"},
	} {
		if code, body := send("POST", "/faults", bad.body); code != 400 || !strings.Contains(body, bad.want) {
			t.Errorf("POST %s: %d %s, want 400 with %s", bad.body, code, body, bad.want)
		}
	}
	if code, body := send("DELETE", "/faults?subject=orders.42.get", ""); code != 200 || !strings.Contains(body, `"faults": []`) {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if m := request(t, nc, "orders.42.get", nil); m.Header.Get("Nats-Service-Error-Code") != "" {
		t.Errorf("after DELETE: %v", m.Header)
	}
}

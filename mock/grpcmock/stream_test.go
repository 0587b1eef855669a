package grpcmock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/mock"
	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
)

const (
	watch  = "/stream.v1.Ticker/Watch"
	upload = "/stream.v1.Ticker/Upload"
	chat   = "/stream.v1.Ticker/Chat"
)

var (
	tickerOnce  sync.Once
	tickerFiles *protoregistry.Files
)

// ticker compiles stream.proto (Watch server-streaming, Upload
// client-streaming, Chat bidirectional, all of stream.v1.Tick) once.
func ticker(t *testing.T) *protoregistry.Files {
	t.Helper()
	tickerOnce.Do(func() {
		tickerFiles = compile(t, &protocompile.SourceResolver{ImportPaths: []string{"../../testdata/proto"}}, "stream/v1/stream.proto")
	})
	if tickerFiles == nil {
		t.Fatal("stream.proto did not compile")
	}
	return tickerFiles
}

// tickType is stream.v1.Tick.
func tickType(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := ticker(t).FindDescriptorByName("stream.v1.Tick")
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// tick is a stream.v1.Tick as a dynamic message, as the gateway holds them.
func tick(t *testing.T, at int64, note string) *dynamicpb.Message {
	t.Helper()
	md := tickType(t)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("at"), protoreflect.ValueOfInt64(at))
	if note != "" {
		m.Set(md.Fields().ByName("note"), protoreflect.ValueOfString(note))
	}
	return m
}

// tickBytes is a Tick on the wire, for streams read with the raw codec.
func tickBytes(t *testing.T, at int64, note string) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tick(t, at, note))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tickText is "at/note" of a received Tick, for comparisons.
func tickText(m *dynamicpb.Message) string {
	fs := m.Descriptor().Fields()
	return fmt.Sprintf("%d/%s", m.Get(fs.ByName("at")).Int(), m.Get(fs.ByName("note")).String())
}

// open starts a call to a streaming method of Ticker with a real client.
func (h *harness) open(ctx context.Context, t *testing.T, full string, opts ...grpc.CallOption) grpc.ClientStream {
	t.Helper()
	desc := &grpc.StreamDesc{
		ClientStreams: full != watch,
		ServerStreams: full != upload,
	}
	cs, err := h.conn.NewStream(ctx, desc, full, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// watchCall sends one Tick to Watch and reads the stream to its end: the
// messages received, as tickText, and the final status (nil for OK).
func (h *harness) watchCall(ctx context.Context, t *testing.T, req *dynamicpb.Message) ([]string, grpc.ClientStream, error) {
	t.Helper()
	cs := h.open(ctx, t, watch)
	if err := cs.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(t, cs)
	return got, cs, err
}

// recvAll reads Ticks until the stream ends.
func recvAll(t *testing.T, cs grpc.ClientStream) ([]string, error) {
	t.Helper()
	var got []string
	for {
		m := dynamicpb.NewMessage(tickType(t))
		err := cs.RecvMsg(m)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, tickText(m))
	}
}

// streamLog is the mock's log line for the first stream on method.
func streamLog(t *testing.T, h *harness, method string) map[string]any {
	t.Helper()
	return nthStreamLog(t, h, method, 1)
}

// nthStreamLog is the mock's log line for the nth stream on method, read as
// JSON once written (a stream logs when its handler returns, which may be
// after the client has seen its end).
func nthStreamLog(t *testing.T, h *harness, method string, nth int) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		wrote := h.logs.next()
		seen := 0
		for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "grpcmock stream" && rec["method"] == method {
				if seen++; seen == nth {
					return rec
				}
			}
		}
		select {
		case <-wrote:
		case <-timeout:
			t.Fatalf("no stream log line for %s:\n%s", method, h.logs.String())
		}
	}
}

// startTicker runs a mock of stream.proto that logs JSON.
func startTicker(t *testing.T, stubsYAML string) *harness {
	t.Helper()
	stubs, err := mock.ParseStubs([]byte(stubsYAML), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return startLogged(t, ticker(t), stubs, func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) })
}

// wantLog checks fields of a stream's log line.
func wantLog(t *testing.T, rec map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %#v, want %#v (line %v)", k, rec[k], v, rec)
		}
	}
}

func TestServerStreamInOrder(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    headers: {x-mock: "yes"}
    trailers: {x-served-by: grpcmock}
    stream:
      - {at: 1, note: one}
      - {at: "2", note: two}
      - {at: 3}
      - {note: four}
      - {at: 5, note: "{{request.note}}"}
`)
	got, cs, err := h.watchCall(context.Background(), t, tick(t, 0, "echoed"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "1/one 2/two 3/ 0/four 5/echoed"; strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
	if hd, _ := cs.Header(); strings.Join(hd.Get("x-mock"), ",") != "yes" {
		t.Errorf("header: %v", hd)
	}
	if tr := cs.Trailer(); strings.Join(tr.Get("x-served-by"), ",") != "grpcmock" {
		t.Errorf("trailer: %v", tr)
	}
	wantLog(t, streamLog(t, h, watch), map[string]any{
		"code": "OK", "matched": true, "stub": 0.0, "stub_source": "TestServerStreamInOrder.yaml:2", "sent": 5.0, "received": 1.0,
	})
}

// A response alone is a stream of one message; a stub with neither sends
// none.
func TestServerStreamResponseAlone(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    match: {at: 1}
    response: {at: 1, note: "{{request.note}}"}
  - method: stream.v1.Ticker/Watch
    match: {at: 2}
    response: {at: 2}
    repeat: 3
  - method: stream.v1.Ticker/Watch
`)
	ctx := context.Background()
	for _, c := range []struct {
		req  *dynamicpb.Message
		want string
	}{
		{tick(t, 1, "templated"), "1/templated"},
		{tick(t, 2, ""), "2/ 2/ 2/"},
		{tick(t, 3, ""), ""},
	} {
		got, _, err := h.watchCall(ctx, t, c.req)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("Watch %s: %v %v, want %s", tickText(c.req), got, err, c.want)
		}
	}
}

// Interval: the messages come in order and all of them. How long the
// stream took is not asserted (TestStreamClientCancel shows the wait).
func TestServerStreamInterval(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    delay: 5ms
    interval: 10ms
    repeat: 2
    stream: [{at: 1}, {at: 2}, {at: 3}]
`)
	got, _, err := h.watchCall(context.Background(), t, tick(t, 0, ""))
	if err != nil {
		t.Fatal(err)
	}
	if want := "1/ 2/ 3/ 1/ 2/ 3/"; strings.Join(got, " ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " "), want)
	}
	wantLog(t, streamLog(t, h, watch), map[string]any{"code": "OK", "sent": 6.0, "delay": "5ms"})
}

// An error on a streaming stub is the status after its messages.
func TestServerStreamErrorAfterMessages(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    match: {at: 0}
    error: {code: NOT_FOUND, message: "{{request.note}}"}
  - method: stream.v1.Ticker/Watch
    stream: [{at: 1}, {at: 2}]
    repeat: 2
    error: {code: RESOURCE_EXHAUSTED, message: that is all}
`)
	ctx := context.Background()
	got, _, err := h.watchCall(ctx, t, tick(t, 7, ""))
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "that is all" {
		t.Errorf("status %v", st)
	}
	if want := "1/ 2/ 1/ 2/"; strings.Join(got, " ") != want {
		t.Errorf("got %s before the error, want %s", strings.Join(got, " "), want)
	}
	wantLog(t, streamLog(t, h, watch), map[string]any{"code": "RESOURCE_EXHAUSTED", "sent": 4.0, "error": "that is all"})

	got, _, err = h.watchCall(ctx, t, tick(t, 0, "x"))
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "x" || len(got) != 0 {
		t.Errorf("error alone: %v %v", got, st)
	}
}

// A long stream from a small file: 100,000 messages, in order, read with
// the raw codec so that the test measures the mock, not the decoding.
func TestServerStreamRepeat(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    stream: [{at: 1}, {at: 2, note: two}]
    repeat: 50000
`)
	cs := h.open(context.Background(), t, watch, grpc.ForceCodecV2(grpcbackend.Codec{}))
	req := tickBytes(t, 0, "")
	if err := cs.SendMsg(&req); err != nil {
		t.Fatal(err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	want := [][]byte{tickBytes(t, 1, ""), tickBytes(t, 2, "two")}
	n := 0
	for {
		var b []byte
		err := cs.RecvMsg(&b)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		if !bytes.Equal(b, want[n%2]) {
			t.Fatalf("message %d is %x, want %x", n, b, want[n%2])
		}
		n++
	}
	if n != 100000 {
		t.Errorf("%d messages, want 100000", n)
	}
	wantLog(t, streamLog(t, h, watch), map[string]any{"code": "OK", "sent": 100000.0})
}

// A client that gives up mid-stream ends the handler at once, even in an
// interval of an hour: the log says so, and GracefulStop (the harness's
// cleanup) does not wait for the hour; goleak (TestMain) finds no
// goroutine left behind.
func TestStreamClientCancel(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    interval: 1h
    stream: [{at: 1}, {at: 2}]
    repeat: 1000
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := h.open(ctx, t, watch)
	if err := cs.SendMsg(tick(t, 0, "")); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(dynamicpb.NewMessage(tickType(t))); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := cs.RecvMsg(dynamicpb.NewMessage(tickType(t))); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v", err)
	}
	// Only the first message went: the second waits out the interval.
	wantLog(t, streamLog(t, h, watch), map[string]any{"code": "CANCELLED", "sent": 1.0, "received": 1.0})
}

// A mock that stops mid-stream ends its streams at once with UNAVAILABLE,
// whether they wait out an interval or for the client's next message, and
// leaves no goroutine behind (goleak, in TestMain): GracefulStop says why
// in the status, Stop closes the connection.
func TestStreamEndsOnStop(t *testing.T) {
	t.Parallel()
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprint("graceful=", graceful), func(t *testing.T) {
			t.Parallel()
			h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    interval: 1h
    stream: [{at: 1}, {at: 2}]
  - method: stream.v1.Ticker/Upload
    response: {}
  - method: stream.v1.Ticker/Chat
    echo: true
`)
			ctx := context.Background()
			w := h.open(ctx, t, watch)
			if err := w.SendMsg(tick(t, 0, "")); err != nil {
				t.Fatal(err)
			}
			if err := w.RecvMsg(dynamicpb.NewMessage(tickType(t))); err != nil {
				t.Fatal(err)
			}
			// Upload waits for the tick after its first.
			u := h.open(ctx, t, upload)
			if err := u.SendMsg(tick(t, 1, "")); err != nil {
				t.Fatal(err)
			}
			// Chat waits for the tick after the one it echoed. The echo
			// also shows that the server has taken Upload's call, opened
			// before it on the same connection, so that all three are in
			// their handlers.
			c := h.open(ctx, t, chat)
			if err := c.SendMsg(tick(t, 1, "")); err != nil {
				t.Fatal(err)
			}
			if err := c.RecvMsg(dynamicpb.NewMessage(tickType(t))); err != nil {
				t.Fatal(err)
			}
			stop := h.srv.Stop
			if graceful {
				stop = h.srv.GracefulStop
			}
			stopped := make(chan struct{})
			go func() { stop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatalf("the stop waited for the streams:\n%s", h.logs.String())
			}
			for name, cs := range map[string]grpc.ClientStream{"Watch": w, "Upload": u, "Chat": c} {
				_, err := recvAll(t, cs)
				if st := status.Convert(err); st.Code() != codes.Unavailable {
					t.Errorf("%s after the stop: %v", name, st)
				}
			}
			for _, m := range []string{watch, upload, chat} {
				rec := streamLog(t, h, m)
				if graceful {
					wantLog(t, rec, map[string]any{"code": "UNAVAILABLE", "error": "the mock is stopping"})
				}
			}
		})
	}
}

func TestClientStream(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Upload
    trailers: {x-stored: "yes"}
    response: {at: 42, note: "{{request.note}}"}
`)
	cs := h.open(context.Background(), t, upload)
	for i := range 1000 {
		if err := cs.SendMsg(tick(t, int64(i), fmt.Sprint("n", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got, err := recvAll(t, cs)
	if err != nil || strings.Join(got, " ") != "42/n0" {
		t.Fatalf("got %v %v", got, err)
	}
	tr := cs.Trailer()
	if got := tr.Get(ReceivedTrailer); len(got) != 1 || got[0] != "1000" {
		t.Errorf("trailer %s = %v (all: %v)", ReceivedTrailer, got, tr)
	}
	if got := tr.Get("x-stored"); len(got) != 1 {
		t.Errorf("stub trailer lost: %v", tr)
	}
	wantLog(t, streamLog(t, h, upload), map[string]any{"code": "OK", "sent": 1.0, "received": 1000.0, "stub": 0.0})
}

// The first message picks the stub; with none, only stubs without match
// answer.
func TestClientStreamMatchesFirst(t *testing.T) {
	t.Parallel()
	stubs := `stubs:
  - method: stream.v1.Ticker/Upload
    match: {at: 1}
    response: {note: one first}
  - method: stream.v1.Ticker/Upload
    match: {at: 2}
    error: {code: FAILED_PRECONDITION, message: two first}
`
	h := startTicker(t, stubs+"  - method: stream.v1.Ticker/Upload\n    response: {note: fallback}\n")
	only := startTicker(t, stubs)
	ctx := context.Background()
	send := func(h *harness, ats ...int64) ([]string, metadata.MD, error) {
		cs := h.open(ctx, t, upload)
		for _, at := range ats {
			if err := cs.SendMsg(tick(t, at, "")); err != nil {
				t.Fatal(err)
			}
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		got, err := recvAll(t, cs)
		return got, cs.Trailer(), err
	}
	for _, c := range []struct {
		h        *harness
		ats      []int64
		want     string
		code     codes.Code
		received string
	}{
		{h, []int64{1, 2, 3}, "0/one first", codes.OK, "3"},
		{h, []int64{2, 1}, "", codes.FailedPrecondition, "2"},
		{h, []int64{3, 1}, "0/fallback", codes.OK, "2"},
		{h, nil, "0/fallback", codes.OK, "0"},
		// No stub for the first message: the call fails at once.
		{only, []int64{3}, "", codes.Unimplemented, "1"},
		{only, nil, "", codes.Unimplemented, "0"},
	} {
		got, tr, err := send(c.h, c.ats...)
		if strings.Join(got, " ") != c.want || status.Code(err) != c.code {
			t.Errorf("Upload %v: %v %v, want %s %v", c.ats, got, err, c.want, c.code)
		}
		if r := tr.Get(ReceivedTrailer); len(r) != 1 || r[0] != c.received {
			t.Errorf("Upload %v: %s %v, want %s", c.ats, ReceivedTrailer, r, c.received)
		}
	}
	_, _, err := send(only)
	if st := status.Convert(err); !strings.Contains(st.Message(), "no stub matches "+upload) {
		t.Errorf("no message, no stub: %v", st)
	}
}

func TestBidiEcho(t *testing.T) {
	t.Parallel()
	h := startTicker(t, "stubs:\n  - method: stream.v1.Ticker/Chat\n    echo: true\n")
	cs := h.open(context.Background(), t, chat)
	const n = 1000
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := cs.SendMsg(tick(t, int64(i), "hi")); err != nil {
				sent <- err
				return
			}
		}
		sent <- cs.CloseSend()
	}()
	got, err := recvAll(t, cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d echoes, want %d", len(got), n)
	}
	for i, g := range got {
		if g != fmt.Sprintf("%d/hi", i) {
			t.Fatalf("echo %d is %s", i, g)
		}
	}
	wantLog(t, streamLog(t, h, chat), map[string]any{"code": "OK", "sent": float64(n), "received": float64(n)})
}

// Each message is answered by the first stub that matches it; an error
// ends the stream, and so does a message no stub matches.
func TestBidiMatchesEachMessage(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Chat
    match: {at: 1}
    stream: [{at: 10, note: "{{request.note}}"}, {at: 11}]
  - method: stream.v1.Ticker/Chat
    match: {at: 2}
    echo: true
    repeat: 2
  - method: stream.v1.Ticker/Chat
    match: {at: 3}
    stream: [{at: 30}]
    error: {code: ABORTED, message: three ends it}
`)
	ctx := context.Background()
	talk := func(ats ...int64) ([]string, error) {
		cs := h.open(ctx, t, chat)
		for _, at := range ats {
			if err := cs.SendMsg(tick(t, at, fmt.Sprint("m", at))); err != nil {
				break // the stream ended: its status follows
			}
		}
		cs.CloseSend()
		return recvAll(t, cs)
	}
	got, err := talk(1, 2, 1)
	if want := "10/m1 11/ 2/m2 2/m2 10/m1 11/"; err != nil || strings.Join(got, " ") != want {
		t.Errorf("1 2 1: %s %v, want %s", strings.Join(got, " "), err, want)
	}
	got, err = talk(1, 3, 1)
	if st := status.Convert(err); st.Code() != codes.Aborted || strings.Join(got, " ") != "10/m1 11/ 30/" {
		t.Errorf("1 3 1: %v %v", got, st)
	}
	got, err = talk(2, 4, 1)
	st := status.Convert(err)
	if st.Code() != codes.Unimplemented || st.Message() != "no stub matches "+chat || strings.Join(got, " ") != "2/m2 2/m2" {
		t.Errorf("2 4 1: %v %v", got, st)
	}
	wantLog(t, nthStreamLog(t, h, chat, 3), map[string]any{"level": "WARN", "matched": false, "stub": -1.0, "code": "UNIMPLEMENTED", "sent": 2.0, "received": 2.0})
}

// Faults apply once, at the start of a stream: error_rate 1 fails it
// before any message, whatever its kind.
func TestStreamFaultsAtStart(t *testing.T) {
	t.Parallel()
	h := startTicker(t, `stubs:
  - method: stream.v1.Ticker/Watch
    stream: [{at: 1}]
  - method: stream.v1.Ticker/Upload
    response: {}
  - method: stream.v1.Ticker/Chat
    echo: true
faults:
  - {method: stream.v1.Ticker/Watch, error_rate: 1}
  - {method: stream.v1.Ticker/Upload, error_rate: 1, error_code: RESOURCE_EXHAUSTED}
  - {method: stream.v1.Ticker/Chat, error_rate: 1, error_code: ABORTED}
`)
	ctx := context.Background()
	for _, c := range []struct {
		method string
		code   codes.Code
	}{{watch, codes.Unavailable}, {upload, codes.ResourceExhausted}, {chat, codes.Aborted}} {
		cs := h.open(ctx, t, c.method)
		cs.SendMsg(tick(t, 1, "")) // may find the stream failed already
		cs.CloseSend()
		got, err := recvAll(t, cs)
		if st := status.Convert(err); st.Code() != c.code || !strings.Contains(st.Message(), "mock fault: error_rate on "+strings.TrimPrefix(c.method, "/")) || len(got) != 0 {
			t.Errorf("%s: %v %v, want %v before any message", c.method, got, st, c.code)
		}
		rec := streamLog(t, h, c.method)
		wantLog(t, rec, map[string]any{"sent": 0.0, "fault": "error " + mock.CodeName(c.code)})
		if _, ok := rec["stub"]; !ok || rec["stub"] != -1.0 {
			t.Errorf("%s: a fault answered, yet stub %v", c.method, rec["stub"])
		}
	}
	// Watch's fault came after its request was read, as for a unary call;
	// the others' before anything was.
	if rec := streamLog(t, h, upload); rec["received"] != 0.0 {
		t.Errorf("Upload read %v before its fault", rec["received"])
	}
}

// The stub file the docs point at answers as its comments say.
func TestTickerStubs(t *testing.T) {
	t.Parallel()
	stubs, err := mock.LoadStubs("../../testdata/stubs/ticker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startStubs(t, ticker(t), stubs)
	ctx := context.Background()
	got, _, err := h.watchCall(ctx, t, tick(t, 0, ""))
	if err != nil || strings.Join(got, " ") != "1/tick 2/tick 3/tick" {
		t.Errorf("Watch: %v %v", got, err)
	}
	got, _, err = h.watchCall(ctx, t, tick(t, 99, ""))
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "ticker restarting" || len(got) != 2 {
		t.Errorf("Watch 99: %v %v", got, st)
	}
	cs := h.open(ctx, t, upload)
	for i := range 3 {
		if err := cs.SendMsg(tick(t, int64(i), "")); err != nil {
			t.Fatal(err)
		}
	}
	cs.CloseSend()
	got, err = recvAll(t, cs)
	if err != nil || strings.Join(got, " ") != "0/upload stored" || strings.Join(cs.Trailer().Get(ReceivedTrailer), "") != "3" {
		t.Errorf("Upload: %v %v %v", got, err, cs.Trailer())
	}
	cs = h.open(ctx, t, chat)
	if err := cs.SendMsg(tick(t, 5, "hello")); err != nil {
		t.Fatal(err)
	}
	cs.CloseSend()
	if got, err = recvAll(t, cs); err != nil || strings.Join(got, " ") != "5/hello" {
		t.Errorf("Chat: %v %v", got, err)
	}
}

// Every streaming mistake is reported at load, at its line.
func TestStreamStubProblems(t *testing.T) {
	t.Parallel()
	sameTypes := compile(t, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(map[string]string{
		"demo/v1/demo.proto": `
syntax = "proto3";
package demo.v1;
message A { string a = 1; }
message B { string b = 1; }
service Demo { rpc Talk(stream A) returns (stream B); }
`,
	})}, "demo/v1/demo.proto")
	const w, u, c, n = "    method: stream.v1.Ticker/Watch\n", "    method: stream.v1.Ticker/Upload\n", "    method: stream.v1.Ticker/Chat\n", "    method: stream.v1.Ticker/Now\n"
	tests := []struct {
		name  string
		files *protoregistry.Files
		stub  string // the keys of stubs[0], after "  - "
		want  string
	}{
		{"stream on unary", nil, n + "    stream: [{}]\n",
			"x.yaml:4: stubs[0].stream: stream.v1.Ticker/Now is a unary method: it answers with one response, so stream is for server-streaming and bidirectional methods only"},
		{"interval on unary", nil, n + "    interval: 1s\n",
			"x.yaml:4: stubs[0].interval: stream.v1.Ticker/Now is a unary method: it answers with one response, so interval is for server-streaming and bidirectional methods only"},
		{"repeat on client streaming", nil, u + "    repeat: 2\n",
			"x.yaml:4: stubs[0].repeat: stream.v1.Ticker/Upload is a client-streaming method: it answers with one response, so repeat is for server-streaming and bidirectional methods only"},
		{"stream on client streaming", nil, u + "    stream: []\n",
			"x.yaml:4: stubs[0].stream: stream.v1.Ticker/Upload is a client-streaming method"},
		{"echo on server streaming", nil, w + "    echo: true\n",
			"x.yaml:4: stubs[0].echo: stream.v1.Ticker/Watch is a server-streaming method: echo is for bidirectional streaming methods only"},
		{"echo on unary", nil, n + "    echo: true\n",
			"x.yaml:4: stubs[0].echo: stream.v1.Ticker/Now is a unary method: echo is for bidirectional streaming methods only"},
		{"echo across types", sameTypes, "    method: demo.v1.Demo/Talk\n    echo: true\n",
			"x.yaml:4: stubs[0].echo: echo sends each message back as it came, but demo.v1.Demo/Talk takes demo.v1.A and returns demo.v1.B"},
		{"echo with stream", nil, c + "    echo: true\n    stream: [{}]\n",
			"x.yaml:4: stubs[0].echo: echo sends back the message received, so the stub can have no response or stream; keep one"},
		{"stream and response", nil, w + "    stream: [{}]\n    response: {}\n",
			"x.yaml:4: stubs[0].stream: stub has both response and stream; keep one"},
		{"repeat zero", nil, w + "    repeat: 0\n", "x.yaml:4: stubs[0].repeat: repeat 0: want a whole number from 1 to 10000000"},
		{"repeat too large", nil, w + "    repeat: 10000001\n", "x.yaml:4: stubs[0].repeat: repeat 10000001: want a whole number from 1 to 10000000"},
		{"repeat not a number", nil, w + "    repeat: many\n", "x.yaml:4: stubs[0].repeat: repeat must be a whole number from 1 to 10000000"},
		{"interval without unit", nil, w + "    interval: 100\n", `x.yaml:4: stubs[0].interval: interval "100" has no unit; write e.g. 100ms or 100s`},
		{"stream not a list", nil, w + "    stream: {at: 1}\n", "x.yaml:4: stubs[0].stream: stream must be a list of messages"},
		{"message does not fit", nil, w + "    stream:\n      - {at: 1}\n      - {at: soon}\n",
			"x.yaml:6: stubs[0].stream[1]: message does not fit stream.v1.Tick"},
		{"templated message does not fit", nil, c + "    stream:\n      - {at: \"{{request.at}}\", nite: x}\n",
			"x.yaml:5: stubs[0].stream[0]: message does not fit stream.v1.Tick"},
		{"template names no field", nil, w + "    stream:\n      - {note: \"{{request.nope}}\"}\n",
			`x.yaml:5: stubs[0].stream[0].note: template "{{request.nope}}": stream.v1.Tick has no field "nope"`},
		{"misspelt key", nil, w + "    strem: []\n",
			"x.yaml:4: stubs[0].strem: unknown key in stub (want one of method, match, response, error, headers, trailers, delay, stream, interval, repeat, echo)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := tt.files
			if files == nil {
				files = ticker(t)
			}
			text := "# a streaming stub\nstubs:\n  - " + strings.TrimPrefix(tt.stub, "    ")
			stubs, err := mock.ParseStubs([]byte(text), "x.yaml")
			if stubs == nil {
				t.Fatalf("not YAML: %v", err)
			}
			_, nerr := New(files, nil, stubs, nil)
			err = mock.JoinProblems(err, nerr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("problems:\n%v\nwant a line with\n%s", err, tt.want)
			}
		})
	}
}

// Stubs built in Go get the same checks.
func TestStreamGoStubs(t *testing.T) {
	t.Parallel()
	_, err := New(ticker(t), nil, &mock.Stubs{Stubs: []mock.Stub{
		{Method: "stream.v1.Ticker/Watch", Repeat: mock.MaxRepeat + 1},
		{Method: "stream.v1.Ticker/Upload", Interval: mock.Duration(time.Second)},
		{Method: "stream.v1.Ticker/Chat", Stream: []any{map[string]any{"at": "x"}}},
	}}, nil)
	want := `stubs[0].repeat: repeat 10000001: want a whole number from 1 to 10000000
stubs[1].interval: stream.v1.Ticker/Upload is a client-streaming method: it answers with one response, so interval is for server-streaming and bidirectional methods only
stubs[2].stream[0]: message does not fit stream.v1.Tick: invalid value for int64 field at: "x"`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	var ps mock.Problems
	if !errors.As(err, &ps) {
		t.Errorf("%T is not mock.Problems", err)
	}
}

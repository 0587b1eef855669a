package nats

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// subscribeRoute builds a subscribe route's transcoder.
func subscribeRoute(t testing.TB, fields []string, r Route) *Transcoder {
	t.Helper()
	r.Mode = ModeSubscribe
	tc, err := NewTranscoder("orders", fields, r)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// subRequest is a GET with query, headers and path params as
// field/value pairs.
func subRequest(query string, header http.Header, params ...string) *translate.Request {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	if header == nil {
		header = http.Header{}
	}
	var ps routes.Params
	for i := 0; i+1 < len(params); i += 2 {
		ps = append(ps, routes.Param{FieldPath: params[i], Value: params[i+1]})
	}
	return &translate.Request{Params: ps, Query: q, Header: header}
}

// open encodes req for tc and opens its stream on b, as the pipeline
// does; the stream ends with the test or with cancel. A test that fails
// cannot hang: Recv ends at the context's deadline.
func open(t testing.TB, b *Backend, tc *Transcoder, req *translate.Request) (translate.Stream, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	var call translate.Call
	if err := tc.Encode(req, &call); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	s, err := b.OpenStream(ctx, &call, tc.Kind())
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	return s, cancel
}

func recv(t testing.TB, s translate.Stream) translate.StreamMessage {
	t.Helper()
	m, err := s.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

// recvIDs reads n messages and returns their IDs.
func recvIDs(t testing.TB, s translate.Stream, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = recv(t, s).ID
	}
	return ids
}

func seqIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, strconv.Itoa(i))
	}
	return ids
}

func codeOf(err error) codes.Code { return translate.FromError(err).Code }

// poll waits until cond holds, checking every few milliseconds: for
// server-side state that no event announces. The deadline only turns a
// failure into an error rather than a hang.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// jetStreamOf creates stream name on subjects on server s.
func jetStreamOf(t testing.TB, s *server.Server, name string, subjects ...string) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	js, err := jetstream.New(client(t, s.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	return js, st
}

func consumers(t testing.TB, st jetstream.Stream) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

func TestSubscribeCore(t *testing.T) {
	s := startServer(t, 0, "")
	b := backend(t, s.ClientURL())
	tc := subscribeRoute(t, []string{"id"}, Route{Subject: "orders.{id}.>"})
	st, _ := open(t, b, tc, subRequest("", nil, "id", "42"))

	pub := client(t, s.ClientURL())
	for _, m := range []struct{ subject, data string }{
		{"orders.42.created", `{"total": 5}`},
		{"orders.43.created", `{"other":"order"}`}, // not this stream's
		{"orders.42.items.added", "{\n  \"sku\": \"BOOK\",\n  \"qty\": 1\n}"},
		{"orders.42", `{"too":"short for >"}`},
		{"orders.42.shipped", `"on its way"`},
		{"orders.42.end", `null`}, // marks the end: nothing else came before it
	} {
		if err := pub.Publish(m.subject, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	var got bytes.Buffer
	var subjects []string
	for range 4 {
		m := recv(t, st)
		if m.ID != "" {
			t.Errorf("core message has id %q", m.ID)
		}
		subjects = append(subjects, m.Subject)
		js, err := tc.DecodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(js)
		got.WriteByte('\n')
	}
	if want := "orders.42.created orders.42.items.added orders.42.shipped orders.42.end"; strings.Join(subjects, " ") != want {
		t.Errorf("subjects %v, want %s", subjects, want)
	}
	golden(t, "subscribe_core.ndjson", got.Bytes())

	if md, err := st.Header(); err != nil || len(md) != 0 || st.Trailer() != nil || st.Endpoint() == "" {
		t.Errorf("Header %v %v, Trailer %v, Endpoint %q", md, err, st.Trailer(), st.Endpoint())
	}
	if err := st.Send([]byte(`{}`)); codeOf(err) != codes.Unimplemented {
		t.Errorf("Send: %v", err)
	}
	if err := st.CloseSend(); err != nil {
		t.Errorf("CloseSend: %v", err)
	}
}

// Every payload comes through: JSON as data (compact, one line), the
// rest as data_base64.
func TestSubscribePayloads(t *testing.T) {
	set := shop(t)
	status := message(t, set, "shop.v1.OrderStatus")
	typedStatus := dynamicpb.NewMessage(status)
	typedStatus.Set(status.Fields().ByName("id"), protoreflect.ValueOfString("42"))
	pb, err := proto.Marshal(typedStatus)
	if err != nil {
		t.Fatal(err)
	}
	untyped := subscribeRoute(t, nil, Route{Subject: "orders.>"})
	typed := subscribeRoute(t, nil, Route{Subject: "orders.>", Reply: status, Resolver: set.Types, OmitUnpopulated: true})
	js := subscribeRoute(t, nil, Route{Subject: "orders.>", Stream: "ORDERS"})
	var got bytes.Buffer
	for _, tc := range []struct {
		name string
		tc   *Transcoder
		msg  translate.StreamMessage
	}{
		{"object", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte(`{"a":[1, 2]}`)}},
		{"pretty", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte("{\n\t\"a\": \"x y\"\n}\n")}},
		{"scalar", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte(`42`)}},
		{"html in data stays", untyped, translate.StreamMessage{Subject: "orders.<b>", Body: []byte(`"<b>&"`)}},
		{"text", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte("not json")}},
		{"two values", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte(`{} {}`)}},
		{"invalid UTF-8 in a string", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte("\"\xff\"")}},
		{"binary", untyped, translate.StreamMessage{Subject: "orders.1", Body: []byte{0, 1, 2, 0xfe}}},
		{"empty", untyped, translate.StreamMessage{Subject: "orders.1"}},
		{"typed", typed, translate.StreamMessage{Subject: "orders.1", Body: pb}},
		{"typed, not the type", typed, translate.StreamMessage{Subject: "orders.1", Body: []byte{0xff, 0xff}}},
		{"jetstream", js, translate.StreamMessage{Subject: "orders.1", ID: "7", Body: []byte(`{}`)}},
	} {
		out, err := tc.tc.DecodeMessage(tc.msg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if bytes.ContainsAny(out, "\r\n") {
			t.Errorf("%s: envelope spans lines: %s", tc.name, out)
		}
		fmt.Fprintf(&got, "%s\t%s\n", tc.name, out)
	}
	golden(t, "subscribe_payloads.txt", got.Bytes())
	if _, err := js.DecodeMessage(translate.StreamMessage{ID: "x"}); err == nil {
		t.Error("a JetStream message without a sequence rendered")
	}
	// A subscription is never a unary call, and takes no client messages.
	if _, err := untyped.Decode(&translate.Call{}, &translate.Reply{}); err == nil {
		t.Error("Decode rendered a subscription's reply")
	}
	if _, err := untyped.EncodeMessage(subRequest("", nil), []byte(`{}`)); err == nil {
		t.Error("EncodeMessage took a message")
	}
	if untyped.Kind() != translate.ServerStream || untyped.Body() != translate.BodyNone || !untyped.RepliesJSON() {
		t.Errorf("Kind %v Body %v", untyped.Kind(), untyped.Body())
	}
	if k := subscribeRouteKind(t); k != translate.Unary {
		t.Errorf("a request route's Kind is %v", k)
	}
}

func subscribeRouteKind(t *testing.T) translate.StreamKind {
	tc, err := NewTranscoder("orders", nil, Route{Subject: "orders.get"})
	if err != nil {
		t.Fatal(err)
	}
	return tc.Kind()
}

// Path values fill one token each: none can widen the subscription.
func TestSubscribeSubjectInjection(t *testing.T) {
	tc := subscribeRoute(t, []string{"id"}, Route{Subject: "orders.{id}.>"})
	for _, v := range []string{"*", ">", "a.b", " ", "a*", "", "\x00"} {
		var call translate.Call
		err := tc.Encode(subRequest("", nil, "id", v), &call)
		if codeOf(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "path variable id") {
			t.Errorf("%q: %v (subject %q)", v, err, call.Method)
		}
	}
	var call translate.Call
	if err := tc.Encode(subRequest("", nil, "id", "42"), &call); err != nil || call.Method != "orders.42.>" || call.Body != nil {
		t.Errorf("42: %v %q %q", err, call.Method, call.Body)
	}
	// The backend checks the subject it is handed too.
	b := &Backend{name: "orders"}
	if _, err := b.OpenStream(context.Background(), &translate.Call{Method: "orders.>.x"}, translate.ServerStream); codeOf(err) != codes.Internal {
		t.Errorf("bad subject opened: %v", err)
	}
}

// A client that goes away ends the subscription at once.
func TestSubscribeCancel(t *testing.T) {
	s := startServer(t, 0, "")
	b := backend(t, s.ClientURL())
	tc := subscribeRoute(t, nil, Route{Subject: "orders.*.created"})
	before := s.NumSubscriptions()
	st, cancel := open(t, b, tc, subRequest("", nil))
	if n := s.NumSubscriptions(); n != before+1 {
		t.Fatalf("%d subscriptions once open, want %d", n, before+1)
	}
	done := make(chan error, 1)
	go func() {
		_, err := st.Recv()
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if codeOf(err) != codes.Canceled {
			t.Errorf("Recv during cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recv did not return after cancel")
	}
	if _, err := st.Recv(); codeOf(err) != codes.Canceled {
		t.Errorf("Recv after cancel: %v", err)
	}
	poll(t, "the subscription to go", func() bool { return s.NumSubscriptions() == before })
	b.streams.mu.Lock()
	open := len(b.streams.open)
	b.streams.mu.Unlock()
	if open != 0 {
		t.Errorf("%d streams still registered", open)
	}
}

// A client that reads too slowly ends its stream with RESOURCE_EXHAUSTED
// rather than missing messages unawares.
func TestSubscribeSlowConsumer(t *testing.T) {
	s := startServer(t, 0, "")
	b := backend(t, s.ClientURL())
	tc := subscribeRoute(t, nil, Route{Subject: "ticks", MaxPending: 10})
	before := s.NumSubscriptions()
	st, _ := open(t, b, tc, subRequest("", nil))
	pub := client(t, s.ClientURL())
	for i := range 1000 {
		if err := pub.Publish("ticks", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	// The server has every message once the publisher's flush returns,
	// and the gateway has read them off its connection (queued or
	// dropped) once its own returns: the PONG comes after them.
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n <= 1000; n++ {
		m, err := st.Recv()
		if err != nil {
			e := translate.FromError(err)
			if e.Code != codes.ResourceExhausted || e.Message != "the client reads too slowly: messages were dropped" || !e.BackendHealthy {
				t.Errorf("error %+v", e)
			}
			break
		}
		if string(m.Body) != strconv.Itoa(n) {
			t.Fatalf("message %d is %s", n, m.Body)
		}
	}
	if n > 11 {
		t.Errorf("%d messages before the error: more than max_pending and the one in hand", n)
	}
	if _, err := st.Recv(); codeOf(err) != codes.ResourceExhausted {
		t.Errorf("Recv after the error: %v", err)
	}
	poll(t, "the subscription to go", func() bool { return s.NumSubscriptions() == before })
}

// A lost connection ends a core subscription: what is published while
// it is down would be missed unannounced.
func TestSubscribeConnectionLost(t *testing.T) {
	s := startServer(t, 0, "")
	b := backend(t, s.ClientURL())
	st, _ := open(t, b, subscribeRoute(t, nil, Route{Subject: "ticks"}), subRequest("", nil))
	stopServer(s)
	_, err := st.Recv()
	if e := translate.FromError(err); e.Code != codes.Unavailable || !strings.Contains(e.Message, "connection to NATS was lost") {
		t.Errorf("Recv: %v", err)
	}
	// Nothing opens while the connection is down.
	var call translate.Call
	tc := subscribeRoute(t, nil, Route{Subject: "ticks"})
	if err := tc.Encode(subRequest("", nil), &call); err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenStream(context.Background(), &call, translate.ServerStream); codeOf(err) != codes.Unavailable {
		t.Errorf("OpenStream while down: %v", err)
	}
}

// publishOrders stores n messages, orders.1.created to orders.n.created,
// at sequences 1 to n; mid is a time between message midAt and the next.
func publishOrders(t testing.TB, js jetstream.JetStream, n, midAt int) (mid time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i <= n; i++ {
		ack, err := js.Publish(ctx, fmt.Sprintf("orders.%d.created", i), []byte(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil || ack.Sequence != uint64(i) {
			t.Fatalf("publish %d: %v %v", i, ack, err)
		}
		if i == midAt {
			// After the ack: message i is stored before now, and i+1,
			// published next, after it.
			mid = time.Now()
		}
	}
	return mid
}

func TestSubscribeJetStream(t *testing.T) {
	s := startServer(t, 0, "")
	js, stream := jetStreamOf(t, s, "ORDERS", "orders.>")
	mid := publishOrders(t, js, 10, 5)
	b := backend(t, s.ClientURL())
	tc := subscribeRoute(t, nil, Route{Subject: "orders.*.created", Stream: "ORDERS"})

	// pending is what the consumer has left to deliver: 0 proves the
	// stream has nothing more, without waiting for it.
	pending := func(st translate.Stream) uint64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		info, err := st.(*jsStream).cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.NumPending
	}
	for _, tc2 := range []struct {
		name   string
		query  string
		header http.Header
		want   []string
	}{
		{"deliver all", "deliver=all", nil, seqIDs(1, 10)},
		{"resume after Last-Event-ID", "", http.Header{"Last-Event-Id": {"4"}}, seqIDs(5, 10)},
		{"Last-Event-ID before the query", "deliver=all", http.Header{"Last-Event-Id": {"8"}}, seqIDs(9, 10)},
		{"Last-Event-ID 0", "", http.Header{"Last-Event-Id": {"0"}}, seqIDs(1, 10)},
		{"start_seq", "start_seq=3", nil, seqIDs(3, 10)},
		{"start_time", "start_time=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), nil, seqIDs(6, 10)},
		{"start_time before all", "start_time=2000-01-01T00:00:00Z", nil, seqIDs(1, 10)},
		{"deliver last", "deliver=last", nil, []string{"10"}},
	} {
		t.Run(tc2.name, func(t *testing.T) {
			st, cancel := open(t, b, tc, subRequest(tc2.query, tc2.header))
			defer cancel()
			got := recvIDs(t, st, len(tc2.want))
			if strings.Join(got, ",") != strings.Join(tc2.want, ",") {
				t.Errorf("ids %v, want %v", got, tc2.want)
			}
			if n := pending(st); n != 0 {
				t.Errorf("%d more messages would come", n)
			}
		})
	}

	// Envelopes and subjects, from the stream.
	st, cancel := open(t, b, tc, subRequest("start_seq=9", nil))
	var got bytes.Buffer
	for range 2 {
		m := recv(t, st)
		out, err := tc.DecodeMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		got.Write(out)
		got.WriteByte('\n')
	}
	golden(t, "subscribe_jetstream.ndjson", got.Bytes())

	// deliver=new (the default) waits for the next message.
	st2, cancel2 := open(t, b, tc, subRequest("", nil))
	if _, err := js.Publish(context.Background(), "orders.11.created", []byte(`{"n":11}`)); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, st2); m.ID != "11" || m.Subject != "orders.11.created" {
		t.Errorf("new: %+v", m)
	}

	// One consumer a stream. An ordered consumer that resets (a missed
	// heartbeat on a loaded machine) makes a new one before the old is
	// deleted: wait for the count to settle, not for an instant's.
	poll(t, "one consumer for each of two streams", func() bool { return consumers(t, stream) == 2 })
	// Every consumer is deleted as its client goes: at once, not after
	// the inactive threshold.
	cancel()
	cancel2()
	if _, err := st.Recv(); codeOf(err) != codes.Canceled {
		t.Errorf("Recv after cancel: %v", err)
	}
	poll(t, "the consumers to be deleted", func() bool { return consumers(t, stream) == 0 })
}

// Recv blocked in the pull when the client goes: it returns, and the
// consumer is deleted.
func TestSubscribeJetStreamCancelWhileReading(t *testing.T) {
	s := startServer(t, 0, "")
	_, stream := jetStreamOf(t, s, "ORDERS", "orders.>")
	b := backend(t, s.ClientURL())
	st, cancel := open(t, b, subscribeRoute(t, nil, Route{Subject: "orders.>", Stream: "ORDERS"}), subRequest("", nil))
	done := make(chan error, 1)
	go func() {
		_, err := st.Recv()
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if codeOf(err) != codes.Canceled {
			t.Errorf("Recv: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recv did not return after cancel")
	}
	poll(t, "the consumer to be deleted", func() bool { return consumers(t, stream) == 0 })
}

// Closing the backend ends its streams and still deletes their consumers.
func TestSubscribeJetStreamBackendClosed(t *testing.T) {
	s := startServer(t, 0, "")
	_, stream := jetStreamOf(t, s, "ORDERS", "orders.>")
	b := backend(t, s.ClientURL())
	st, _ := open(t, b, subscribeRoute(t, nil, Route{Subject: "orders.>", Stream: "ORDERS"}), subRequest("", nil))
	poll(t, "the stream's consumer", func() bool { return consumers(t, stream) == 1 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); codeOf(err) != codes.Unavailable {
		t.Errorf("Recv after Close: %v", err)
	}
	if n := consumers(t, stream); n != 0 {
		t.Errorf("%d consumers after Close", n)
	}
}

func TestSubscribeJetStreamOpenErrors(t *testing.T) {
	s := startServer(t, 0, "")
	jetStreamOf(t, s, "ORDERS", "orders.>")
	b := backend(t, s.ClientURL())
	for _, tc := range []struct {
		name, stream, subject string
		want                  codes.Code
		msg                   string
	}{
		{"no such stream", "NOPE", "orders.>", codes.Unavailable, "no stream NOPE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := subscribeRoute(t, nil, Route{Subject: tc.subject, Stream: tc.stream})
			var call translate.Call
			if err := tr.Encode(subRequest("", nil), &call); err != nil {
				t.Fatal(err)
			}
			_, err := b.OpenStream(context.Background(), &call, translate.ServerStream)
			if e := translate.FromError(err); e == nil || e.Code != tc.want || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("error %+v, want %v %q", e, tc.want, tc.msg)
			}
		})
	}
	b.streams.mu.Lock()
	defer b.streams.mu.Unlock()
	if len(b.streams.open) != 0 {
		t.Errorf("failed opens left %d streams registered", len(b.streams.open))
	}
}

// A slow client holds the consumer back: the gateway pulls a message
// only when Recv asks for one, and never buffers the stream.
func TestSubscribeJetStreamBackpressure(t *testing.T) {
	const total = 10000
	s := startServer(t, 0, "")
	js, stream := jetStreamOf(t, s, "TICKS", "ticks")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 1; i <= total; i++ {
		if _, err := js.PublishAsync("ticks", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing timed out")
	}
	b := backend(t, s.ClientURL())
	st, _ := open(t, b, subscribeRoute(t, nil, Route{Subject: "ticks", Stream: "TICKS"}), subRequest("deliver=all", nil))
	if m := recv(t, st); m.ID != "1" || string(m.Body) != "1" {
		t.Fatalf("first %+v", m)
	}
	var info *jetstream.ConsumerInfo
	for ci := range stream.ListConsumers(ctx).Info() {
		info = ci
	}
	if info == nil {
		t.Fatal("no consumer")
	}
	// Delivered is what the server sent the gateway, read or not.
	if info.Delivered.Consumer > 2 || info.NumPending < total-2 || info.NumWaiting > 1 {
		t.Errorf("after one Recv: delivered %d, pending %d, waiting pulls %d: the gateway pulled ahead",
			info.Delivered.Consumer, info.NumPending, info.NumWaiting)
	}
	for i := 2; i <= total; i++ {
		m := recv(t, st)
		if m.ID != strconv.Itoa(i) || string(m.Body) != m.ID {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
}

func TestSubscribeStartErrors(t *testing.T) {
	jsRoute := subscribeRoute(t, nil, Route{Subject: "orders.>", Stream: "ORDERS"})
	core := subscribeRoute(t, nil, Route{Subject: "orders.>"})
	for _, tc := range []struct {
		name   string
		tc     *Transcoder
		query  string
		header http.Header
		fields []string // the violations' fields
	}{
		{"start_seq 0", jsRoute, "start_seq=0", nil, []string{"start_seq"}},
		{"start_seq negative", jsRoute, "start_seq=-1", nil, []string{"start_seq"}},
		{"start_seq signed", jsRoute, "start_seq=%2B3", nil, []string{"start_seq"}},
		{"start_seq text", jsRoute, "start_seq=abc", nil, []string{"start_seq"}},
		{"start_seq fraction", jsRoute, "start_seq=1.5", nil, []string{"start_seq"}},
		{"start_seq overflow", jsRoute, "start_seq=18446744073709551616", nil, []string{"start_seq"}},
		{"start_seq empty", jsRoute, "start_seq=", nil, []string{"start_seq"}},
		{"start_seq twice", jsRoute, "start_seq=1&start_seq=2", nil, []string{"start_seq"}},
		{"start_time not RFC 3339", jsRoute, "start_time=yesterday", nil, []string{"start_time"}},
		{"start_time without zone", jsRoute, "start_time=2026-01-02T15:04:05", nil, []string{"start_time"}},
		{"deliver unknown", jsRoute, "deliver=first", nil, []string{"deliver"}},
		{"deliver case", jsRoute, "deliver=ALL", nil, []string{"deliver"}},
		{"two positions", jsRoute, "start_seq=1&deliver=all", nil, []string{"start_seq", "deliver"}},
		{"Last-Event-ID negative", jsRoute, "", http.Header{"Last-Event-Id": {"-1"}}, []string{LastEventIDHeader}},
		{"Last-Event-ID text", jsRoute, "", http.Header{"Last-Event-Id": {"abc"}}, []string{LastEventIDHeader}},
		{"Last-Event-ID overflow", jsRoute, "", http.Header{"Last-Event-Id": {"18446744073709551616"}}, []string{LastEventIDHeader}},
		{"Last-Event-ID last sequence", jsRoute, "", http.Header{"Last-Event-Id": {"18446744073709551615"}}, []string{LastEventIDHeader}},
		{"Last-Event-ID twice", jsRoute, "", http.Header{"Last-Event-Id": {"1", "2"}}, []string{LastEventIDHeader}},
		{"bad query beside Last-Event-ID", jsRoute, "start_seq=x", http.Header{"Last-Event-Id": {"1"}}, []string{"start_seq"}},
		{"core deliver", core, "deliver=all", nil, []string{"deliver"}},
		{"core start_seq", core, "start_seq=1", nil, []string{"start_seq"}},
		{"core start_time", core, "start_time=2026-01-02T15:04:05Z", nil, []string{"start_time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var call translate.Call
			err := tc.tc.Encode(subRequest(tc.query, tc.header), &call)
			e := translate.FromError(err)
			if e == nil || e.Code != codes.InvalidArgument || e.Status() != http.StatusBadRequest {
				t.Fatalf("error %v, want a 400", err)
			}
			if !strings.Contains(e.Message, tc.fields[0]) {
				t.Errorf("message %q does not name %s", e.Message, tc.fields[0])
			}
			if got := violationFields(t, e); strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("violations %v, want %v", got, tc.fields)
			}
			if tc.tc == core && !strings.Contains(e.Message, "only JetStream subscriptions") {
				t.Errorf("message %q", e.Message)
			}
		})
	}
	// Core subscriptions ignore Last-Event-ID, which browsers resend on
	// every reconnect: there is nothing stored to resume from.
	var call translate.Call
	if err := core.Encode(subRequest("", http.Header{"Last-Event-Id": {"7"}}), &call); err != nil || call.Body != nil {
		t.Errorf("core with Last-Event-ID: %v, body %q", err, call.Body)
	}
}

func violationFields(t *testing.T, e *translate.Error) []string {
	t.Helper()
	var fields []string
	for _, d := range e.Details {
		var br errdetails.BadRequest
		if d.UnmarshalTo(&br) != nil {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			fields = append(fields, v.GetField())
		}
	}
	return fields
}

func TestSubscriptionEncoding(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 6, time.UTC)
	for _, s := range []subscription{
		{},
		{MaxPending: 10},
		{Stream: "ORDERS", Deliver: deliverNew},
		{Stream: "ORDERS", Deliver: deliverSeq, StartSeq: 5},
		{Stream: "ORDERS", Deliver: deliverTime, StartTime: &at},
	} {
		got, err := decodeSubscription(s.encode())
		if err != nil || got.Stream != s.Stream || got.Deliver != s.Deliver || got.StartSeq != s.StartSeq ||
			got.MaxPending != s.MaxPending || (s.StartTime != nil && !got.StartTime.Equal(*s.StartTime)) {
			t.Errorf("%+v came back as %+v, %v", s, got, err)
		}
	}
	for _, body := range []string{`{`, `{"x":1}`, `{"max_pending":-1}`, `{"deliver":"all"}`, `{"stream":"A.B"}`,
		`{"stream":"A","deliver":"seq"}`, `{"stream":"A","deliver":"time"}`, `{"stream":"A","deliver":"sometimes"}`} {
		if _, err := decodeSubscription([]byte(body)); err == nil {
			t.Errorf("%s decoded", body)
		}
	}
	// What explain shows of a subscription.
	for _, tc := range []struct {
		route      Route
		query      string
		text, json string
	}{
		{Route{Subject: "orders.>", Stream: "ORDERS"}, "start_seq=5",
			"SUBSCRIBE orders.>\nJetStream stream ORDERS, ordered consumer, delivering seq from sequence 5\n",
			`{"stream":"ORDERS","deliver":"seq","start_seq":5}`},
		{Route{Subject: "orders.>"}, "", "SUBSCRIBE orders.>\ncore NATS: messages published from now on, up to 1000 buffered\n", `{}`},
	} {
		tr := subscribeRoute(t, nil, tc.route)
		var call translate.Call
		if err := tr.Encode(subRequest(tc.query, nil), &call); err != nil {
			t.Fatal(err)
		}
		js, text, err := tr.ExplainCall(&call)
		if err != nil || text != tc.text || string(js) != tc.json {
			t.Errorf("explain: %v\n%s%s", err, text, js)
		}
	}
}

func TestParseSubscribeSubject(t *testing.T) {
	fields := []string{"id"}
	for _, tc := range []struct {
		tmpl, want string // want "" = valid
	}{
		{"orders.*.created", ""},
		{"orders.{id}.>", ""},
		{"{id}.*", ""},
		{"*.{id}.*", "first token must not be a wildcard"},
		{">", "first token must not be a wildcard"},
		{"*.>", "first token must not be a wildcard"},
		{"orders.>.created", "> must be the last token"},
		{"orders.a*", "whole tokens"},
		{"orders.{id}*", "whole tokens"},
		{"orders.>{id}", "whole tokens"},
		{"orders.**", "whole tokens"},
		{"orders..>", "empty token"},
	} {
		_, err := parseSubject(tc.tmpl, fields, true)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.tmpl, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.tmpl, err, tc.want)
		}
	}
	for _, s := range []string{"a.*", "a.>", "*", ">", "a.*.b.>"} {
		if !validFilter(s) {
			t.Errorf("validFilter(%q) = false", s)
		}
	}
	for _, s := range []string{"", "a.>.b", "a*", "a. b", "a..b", "a.\x00"} {
		if validFilter(s) {
			t.Errorf("validFilter(%q) = true", s)
		}
	}
}

// Route options that make no sense for a subscription, or only for one.
func TestNewSubscribeTranscoderErrors(t *testing.T) {
	set := shop(t)
	order := message(t, set, "shop.v1.Order")
	for _, tc := range []struct {
		name  string
		route Route
		want  string
	}{
		{"wildcard in request mode", Route{Subject: "orders.*"}, "cannot be published to"},
		{"wildcard in publish mode", Route{Subject: "orders.>", Mode: ModePublish}, "cannot be published to"},
		{"wildcard in jetstream mode", Route{Subject: "orders.*", Mode: ModeJetStream}, "cannot be published to"},
		{"> not last", Route{Subject: "orders.>.x", Mode: ModeSubscribe}, "last token"},
		{"bad stream name", Route{Subject: "orders.>", Mode: ModeSubscribe, Stream: "OR.DERS"}, "invalid stream name"},
		{"long stream name", Route{Subject: "orders.>", Mode: ModeSubscribe, Stream: strings.Repeat("S", 256)}, "at most 255 bytes"},
		{"stream on publish", Route{Subject: "orders.x", Mode: ModePublish, Stream: "ORDERS"}, "mode subscribe only"},
		{"max pending negative", Route{Subject: "orders.>", Mode: ModeSubscribe, MaxPending: -1}, "between 1 and 100000"},
		{"max pending huge", Route{Subject: "orders.>", Mode: ModeSubscribe, MaxPending: MaxPendingLimit + 1}, "between 1 and 100000"},
		{"max pending with a stream", Route{Subject: "orders.>", Mode: ModeSubscribe, Stream: "ORDERS", MaxPending: 10}, "core subscriptions"},
		{"raw subscription", Route{Subject: "orders.>", Mode: ModeSubscribe, Raw: true}, "cannot be raw"},
		{"request type", Route{Subject: "orders.>", Mode: ModeSubscribe, Request: order}, "no request type"},
	} {
		if _, err := NewTranscoder("orders", nil, tc.route); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	tc := subscribeRoute(t, []string{"id"}, Route{Subject: "orders.{id}.>", Stream: "ORDERS", Reply: order})
	if d := tc.Describe(); d != "nats subscribe orders.{id}.> (- -> shop.v1.Order)" {
		t.Errorf("Describe %q", d)
	}
}

// The config's checks of subscribe routes, as `validate` reports them.
func TestValidateSubscribe(t *testing.T) {
	const head = "backends:\n  bus:\n    nats: {url: embedded}\nroutes:\n"
	for _, tc := range []struct {
		name, routes string
		want         []string // "" = valid
	}{
		{"core", `  - get: /orders/{id}/events
    backend: bus
    nats: {subject: "orders.{id}.>", mode: subscribe, max_pending: 100}
`, nil},
		{"jetstream", `  - get: /orders/events
    backend: bus
    nats: {subject: "orders.*.created", mode: subscribe, stream: ORDERS, reply: shop.v1.Order}
`, nil},
		{"on POST", `  - post: /orders/events
    backend: bus
    nats: {subject: "orders.>", mode: subscribe}
`, []string{"routes[0].nats.mode: subscribe needs a GET route (this one is POST)"}},
		{"bad stream name", `  - get: /orders/events
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, stream: "my stream"}
`, []string{`routes[0].nats.stream: invalid stream name "my stream"`}},
		{"max_pending 0", `  - get: /e
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, max_pending: 0}
`, []string{"routes[0].nats.max_pending: must be between 1 and 100000"}},
		{"max_pending negative", `  - get: /e
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, max_pending: -5}
`, []string{"routes[0].nats.max_pending: must be between 1 and 100000"}},
		{"max_pending huge", `  - get: /e
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, max_pending: 1000000}
`, []string{"routes[0].nats.max_pending: must be between 1 and 100000"}},
		{"max_pending with a stream", `  - get: /e
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, stream: ORDERS, max_pending: 10}
`, []string{"routes[0].nats.max_pending: applies to core subscriptions only"}},
		{"body and publish options", `  - get: /e
    backend: bus
    hedge: {delay: 50ms}
    nats: {subject: "orders.>", mode: subscribe, raw: true, headers: [X-Tenant]}
`, []string{
			"routes[0].nats.raw: does not apply to mode subscribe",
			"routes[0].nats.headers: does not apply to mode subscribe",
			"routes[0].hedge: does not apply to mode subscribe",
		}},
		{"request type", `  - get: /e
    backend: bus
    nats: {subject: "orders.>", mode: subscribe, request: shop.v1.Order}
`, []string{"routes[0].nats.request: does not apply to mode subscribe"}},
		{"stream on a publish route", `  - post: /e
    backend: bus
    nats: {subject: "orders.x", mode: jetstream, stream: ORDERS, max_pending: 5}
`, []string{"routes[0].nats.stream: applies to mode subscribe only", "routes[0].nats.max_pending: applies to mode subscribe only"}},
		{"unknown mode", `  - get: /e
    backend: bus
    nats: {subject: "orders.x", mode: stream}
`, []string{`routes[0].nats.mode: unknown mode "stream" (want request, publish, jetstream or subscribe)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse([]byte(head+tc.routes), "x.yaml", config.Protocols{Protocol{}})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("problems:\n%v", err)
				}
				return
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v, want problems", err)
			}
			got := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems\n%s\nwant one with %q", got, w)
				}
			}
			if len(ps) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(ps), len(tc.want), got)
			}
		})
	}
}

// What a subscription documents: no body, the start parameters of a
// JetStream one, and the envelope.
func TestSubscribeOperation(t *testing.T) {
	defs := jsonschema.NewDefinitions()
	od := subscribeRoute(t, nil, Route{Subject: "orders.>", Stream: "ORDERS"}).Operation(defs)
	var query []string
	for _, q := range od.Query {
		query = append(query, q.Name)
	}
	if od.Request != nil || !od.ServerStreaming || strings.Join(query, ",") != "start_seq,start_time,deliver" ||
		len(od.Headers) != 1 || od.Headers[0].Name != LastEventIDHeader {
		t.Errorf("doc %+v", od)
	}
	envelope := `{"subject":"orders.1","sequence":3,"data":{"a":1}}`
	if problems := defs.ValidateJSON(od.Response.Schema, []byte(envelope)); len(problems) > 0 {
		t.Errorf("%s: %v", envelope, problems)
	}
	od = subscribeRoute(t, nil, Route{Subject: "orders.>"}).Operation(defs)
	if len(od.Query) != 0 || len(od.Headers) != 0 {
		t.Errorf("a core subscription documents a start: %+v", od)
	}
}

// A subscription to the whole server sees everything published after
// it opened, including on subjects with many tokens.
func TestSubscribeFullWildcard(t *testing.T) {
	s := startServer(t, 0, "")
	b := backend(t, s.ClientURL())
	st, _ := open(t, b, subscribeRoute(t, nil, Route{Subject: "events.>"}), subRequest("", nil))
	pub := client(t, s.ClientURL())
	msg := natsgo.NewMsg("events.a.b.c.d")
	msg.Data = []byte(`[]`)
	msg.Header.Set("X-Ignored", "headers are not part of the envelope")
	if err := pub.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, st); m.Subject != "events.a.b.c.d" || string(m.Body) != `[]` {
		t.Errorf("%+v", m)
	}
}

// syncWriter is a ResponseWriter a test can read while the handler
// writes, signalling each write.
type syncWriter struct {
	mu    sync.Mutex
	h     http.Header
	code  int
	body  bytes.Buffer
	wrote chan struct{}
}

func newSyncWriter() *syncWriter {
	return &syncWriter{h: http.Header{}, wrote: make(chan struct{}, 1)}
}

func (w *syncWriter) Header() http.Header { return w.h }
func (w *syncWriter) Flush()              {}

func (w *syncWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.code == 0 {
		w.code = code
	}
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.body.Write(p)
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// Through the pipeline: a reconnecting EventSource (Last-Event-ID) gets
// the events after the one it saw, each with its sequence as id.
func TestSubscribeServerSentEvents(t *testing.T) {
	s := startServer(t, 0, "")
	js, stream := jetStreamOf(t, s, "ORDERS", "orders.>")
	publishOrders(t, js, 3, 0)
	tg := target(t, backend(t, s.ClientURL()), nil, Route{Subject: "orders.*.created", Mode: ModeSubscribe, Stream: "ORDERS"})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/orders/events?deliver=all", nil).WithContext(ctx)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Last-Event-ID", "1")
	w := newSyncWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tg.ServeRoute(w, req, nil)
	}()
	const want = "id: 2\ndata: {\"subject\":\"orders.2.created\",\"sequence\":2,\"data\":{\"n\":2}}\n\n" +
		"id: 3\ndata: {\"subject\":\"orders.3.created\",\"sequence\":3,\"data\":{\"n\":3}}\n\n"
	for !strings.Contains(w.String(), want) {
		select {
		case <-w.wrote:
		case <-done:
			t.Fatalf("the stream ended: %d %q", w.code, w.String())
		case <-ctx.Done():
			t.Fatalf("timed out; got %q", w.String())
		}
	}
	cancel() // the client goes
	<-done
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || w.code != http.StatusOK {
		t.Errorf("status %d, Content-Type %q", w.code, ct)
	}
	if strings.Contains(w.String(), "orders.1.created") {
		t.Errorf("event 1 sent again: %q", w.String())
	}
	poll(t, "the consumer to be deleted", func() bool { return consumers(t, stream) == 0 })
}

package backendtest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/backendtest"
	sbgrpc "github.com/switchboard-gw/switchboard/translate/grpc"
	sbnats "github.com/switchboard-gw/switchboard/translate/nats"
	sbthrift "github.com/switchboard-gw/switchboard/translate/thrift"
)

// TestMain also checks, across the whole binary, that nothing is left
// running; Run checks each protocol on its own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// maxMessageBytes is the reply limit every backend under test is given;
// the upstreams' oversized replies are four times as large.
const maxMessageBytes = 4 << 10

// closedAddr is a loopback address with nothing listening: a listener's
// port, closed again.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// signal reports a stalled call without ever blocking the upstream.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ---- gRPC ----

const grpcService = "switchboard.backendtest.v1.Test"

func grpcMethod(name string) string { return "/" + grpcService + "/" + name }

// rawCodec is a server codec that hands handlers the request's bytes and
// sends theirs as is: the upstream needs no generated code.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if p, ok := v.(*[]byte); ok {
		return mem.BufferSlice{mem.SliceBuffer(*p)}, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if p, ok := v.(*[]byte); ok {
		*p = data.Materialize()
		return nil
	}
	return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
}

// unary adapts a func of bytes to a grpc.MethodHandler.
func unary(f func(ctx context.Context, in []byte) ([]byte, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var in []byte
		if err := dec(&in); err != nil {
			return nil, err
		}
		out, err := f(ctx, in)
		if err != nil {
			return nil, err
		}
		return &out, nil
	}
}

// startGRPC runs a grpc-go server with one service on a loopback port and
// dials a backend to it.
func startGRPC(t testing.TB) *backendtest.Upstream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stalled := make(chan struct{}, 64)
	quit := make(chan struct{})
	srv := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}))
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: grpcService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Echo", Handler: unary(func(_ context.Context, in []byte) ([]byte, error) {
				return append([]byte("echo:"), in...), nil
			})},
			// Plain status errors, as most servers return them: no
			// metadata besides the status.
			{MethodName: "FailPrecondition", Handler: unary(func(context.Context, []byte) ([]byte, error) {
				return nil, status.Error(codes.FailedPrecondition, "the book is checked out")
			})},
			{MethodName: "FailUnavailable", Handler: unary(func(context.Context, []byte) ([]byte, error) {
				return nil, status.Error(codes.Unavailable, "the application is shedding load")
			})},
			// The same error with a trailer of the application's own.
			{MethodName: "FailPreconditionTrailer", Handler: unary(func(ctx context.Context, _ []byte) ([]byte, error) {
				_ = grpc.SetTrailer(ctx, metadata.Pairs("x-app", "library"))
				return nil, status.Error(codes.FailedPrecondition, "the book is checked out")
			})},
			// Never answers, not even when the call's deadline passes on
			// the server's side too (an answer then would race the
			// client's own deadline); Stop releases it.
			{MethodName: "Stall", Handler: unary(func(context.Context, []byte) ([]byte, error) {
				signal(stalled)
				<-quit
				return nil, status.Error(codes.Aborted, "released")
			})},
			{MethodName: "Big", Handler: unary(func(context.Context, []byte) ([]byte, error) {
				return bytes.Repeat([]byte{'x'}, 4*maxMessageBytes), nil
			})},
		},
	}, struct{}{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	stop := func() {
		close(quit)
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	}
	addr := lis.Addr().String()
	b, err := sbgrpc.Dial("backendtest", sbgrpc.Options{Endpoints: []string{addr}, MaxMessageBytes: maxMessageBytes})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return &backendtest.Upstream{Backend: b, Endpoint: addr, Stalled: stalled, Stop: stop}
}

func TestGRPC(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		New: startGRPC,
		Success: func(i int) (*translate.Call, []byte) {
			body := fmt.Sprintf("request-%d", i)
			return &translate.Call{Method: grpcMethod("Echo"), Body: []byte(body)}, []byte("echo:" + body)
		},
		AppErrors: []backendtest.AppError{
			{Name: "failed-precondition", Call: &translate.Call{Method: grpcMethod("FailPrecondition")}, Code: codes.FailedPrecondition},
			{Name: "unavailable", Call: &translate.Call{Method: grpcMethod("FailUnavailable")}, Code: codes.Unavailable},
			{Name: "failed-precondition-with-trailer", Call: &translate.Call{Method: grpcMethod("FailPreconditionTrailer")}, Code: codes.FailedPrecondition},
		},
		// grpc-go's server answers a method it does not have with
		// UNIMPLEMENTED: the server's answer, not the transport's.
		UnknownMethod:     &translate.Call{Method: grpcMethod("Nope")},
		UnknownMethodWant: backendtest.Facts{Code: codes.Unimplemented, Application: true, FromServer: true},
		Stall:             &translate.Call{Method: grpcMethod("Stall")},
		CancelCode:        codes.Canceled,
		Unavailable: []backendtest.Unavailable{{
			Name: "nothing-listening",
			New: func(t testing.TB) (translate.Backend, *translate.Call, func()) {
				b, err := sbgrpc.Dial("backendtest-down", sbgrpc.Options{Endpoints: []string{closedAddr(t)}})
				if err != nil {
					t.Fatal(err)
				}
				return b, &translate.Call{Method: grpcMethod("Echo"), Body: []byte("hello")}, nil
			},
		}},
		// The backend's own receive limit, not the server's quota.
		Oversized:     &translate.Call{Method: grpcMethod("Big")},
		OversizedCode: codes.Internal,
	})
}

// ---- Thrift ----

// Thrift binary protocol, by hand: a struct of one string field.
const (
	tString = 11
)

func thriftStringStruct(id int16, s string) []byte {
	b := []byte{tString, byte(uint16(id) >> 8), byte(id)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	return append(b, 0) // STOP
}

// parseThriftStringStruct reads a struct written by thriftStringStruct.
func parseThriftStringStruct(b []byte, id int16) (string, bool) {
	if len(b) < 8 || b[0] != tString || int16(binary.BigEndian.Uint16(b[1:3])) != id {
		return "", false
	}
	n := int(binary.BigEndian.Uint32(b[3:7]))
	if n < 0 || 7+n+1 != len(b) || b[7+n] != 0 {
		return "", false
	}
	return string(b[7 : 7+n]), true
}

// thriftServer is a raw Thrift server (binary protocol, framed transport)
// on a loopback listener, answering by method name.
type thriftServer struct {
	lis     net.Listener
	framer  sbthrift.Framer
	stalled chan struct{}
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func (s *thriftServer) serve() {
	for {
		nc, err := s.lis.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil { // stopped
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, nc)
				s.mu.Unlock()
				_ = nc.Close()
			}()
			s.handle(nc)
		}()
	}
}

func (s *thriftServer) handle(nc net.Conn) {
	br := bufio.NewReader(nc)
	for {
		m, err := s.framer.ReadMessage(br)
		if err != nil {
			return // the client closed the connection, or the server stopped
		}
		reply := func(body []byte) []byte {
			return s.framer.AppendMessage(nil, &sbthrift.Message{Name: m.Name, Type: sbthrift.Reply, SeqID: m.SeqID, Body: body})
		}
		var out []byte
		switch m.Name {
		case "echo":
			arg, ok := parseThriftStringStruct(m.Body, 1)
			if !ok {
				out = s.framer.AppendApplicationException(nil, m.Name, m.SeqID, sbthrift.AppExProtocolError, "bad arguments")
				break
			}
			out = reply(thriftStringStruct(0, "echo:"+arg))
		case "fail_internal":
			// What Apache's generated processors send when a handler
			// returns an undeclared error.
			out = s.framer.AppendApplicationException(nil, m.Name, m.SeqID, sbthrift.AppExInternalError,
				"Internal error processing fail_internal: boom")
		case "fail_validation":
			out = s.framer.AppendApplicationException(nil, m.Name, m.SeqID, sbthrift.AppExValidationFailed, "name must not be empty")
		case "stall":
			// Never answer; the next read returns when the client drops
			// the connection or the server stops.
			signal(s.stalled)
			continue
		case "big":
			out = reply(thriftStringStruct(0, strings.Repeat("x", 4*maxMessageBytes)))
		default:
			out = s.framer.AppendApplicationException(nil, m.Name, m.SeqID, sbthrift.AppExUnknownMethod, "Unknown function "+m.Name)
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

func (s *thriftServer) stop() {
	_ = s.lis.Close()
	s.mu.Lock()
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

func startThrift(t testing.TB) *backendtest.Upstream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	framer, err := sbthrift.NewFramer("binary", "framed", 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &thriftServer{lis: lis, framer: framer, stalled: make(chan struct{}, 64), conns: map[net.Conn]struct{}{}}
	served := make(chan struct{})
	go func() { s.serve(); close(served) }()
	stop := func() {
		s.stop()
		<-served
	}
	addr := lis.Addr().String()
	b, err := sbthrift.Dial("backendtest", sbthrift.Options{Endpoints: []string{addr}, Protocol: "binary", Transport: "framed",
		MaxMessageBytes: maxMessageBytes})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return &backendtest.Upstream{Backend: b, Endpoint: addr, Stalled: s.stalled, Stop: stop}
}

func TestThrift(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		New: startThrift,
		Success: func(i int) (*translate.Call, []byte) {
			arg := fmt.Sprintf("request-%d", i)
			return &translate.Call{Method: "echo", Body: thriftStringStruct(1, arg)}, thriftStringStruct(0, "echo:"+arg)
		},
		AppErrors: []backendtest.AppError{
			{Name: "internal-error", Call: &translate.Call{Method: "fail_internal", Body: thriftStringStruct(1, "x")}, Code: codes.Internal},
			{Name: "validation-failed", Call: &translate.Call{Method: "fail_validation", Body: thriftStringStruct(1, "")}, Code: codes.InvalidArgument},
		},
		UnknownMethod:     &translate.Call{Method: "nope", Body: thriftStringStruct(1, "x")},
		UnknownMethodWant: backendtest.Facts{Code: codes.Unimplemented, Application: true, FromServer: true},
		Stall:             &translate.Call{Method: "stall", Body: thriftStringStruct(1, "x")},
		CancelCode:        codes.Canceled,
		Unavailable: []backendtest.Unavailable{{
			Name: "nothing-listening",
			New: func(t testing.TB) (translate.Backend, *translate.Call, func()) {
				b, err := sbthrift.Dial("backendtest-down", sbthrift.Options{Endpoints: []string{closedAddr(t)}, Protocol: "binary", Transport: "framed"})
				if err != nil {
					t.Fatal(err)
				}
				return b, &translate.Call{Method: "echo", Body: thriftStringStruct(1, "hello")}, nil
			},
		}},
		Oversized:     &translate.Call{Method: "big", Body: thriftStringStruct(1, "x")},
		OversizedCode: codes.Internal,
	})
}

// ---- NATS ----

func natsLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startNATS connects a backend with its embedded server, and runs a NATS
// micro service on it from a connection of its own.
func startNATS(t testing.TB) *backendtest.Upstream {
	t.Helper()
	b, err := sbnats.Connect("backendtest", sbnats.ConnOptions{URL: sbnats.EmbeddedURL}, natsLog())
	if err != nil {
		t.Fatal(err)
	}
	// No reconnects: the suite closes the backend, and so its embedded
	// server, first; the service's connection then just closes.
	nc, err := natsgo.Connect(b.ClientURL(), natsgo.NoReconnect())
	if err != nil {
		_ = b.Close()
		t.Fatal(err)
	}
	stalled := make(chan struct{}, 64)
	svc, err := micro.AddService(nc, micro.Config{Name: "backendtest", Version: "1.0.0"})
	if err != nil {
		nc.Close()
		_ = b.Close()
		t.Fatal(err)
	}
	stop := func() {
		if err := svc.Stop(); err != nil && nc.IsConnected() {
			t.Errorf("micro service Stop: %v", err)
		}
		nc.Close()
	}
	endpoints := []struct {
		name, subject string
		h             micro.HandlerFunc
	}{
		{"echo", "backendtest.echo", func(r micro.Request) { _ = r.Respond(append([]byte("echo:"), r.Data()...)) }},
		{"notfound", "backendtest.fail.notfound", func(r micro.Request) { _ = r.Error("404", "no such order", nil) }},
		{"overloaded", "backendtest.fail.overloaded", func(r micro.Request) { _ = r.Error("503", "shedding load", nil) }},
		{"stall", "backendtest.stall", func(micro.Request) { signal(stalled) }},
	}
	for _, ep := range endpoints {
		if err := svc.AddEndpoint(ep.name, ep.h, micro.WithEndpointSubject(ep.subject)); err != nil {
			stop()
			_ = b.Close()
			t.Fatal(err)
		}
	}
	// The subscriptions are on the server once a round trip has passed.
	if err := nc.Flush(); err != nil {
		stop()
		_ = b.Close()
		t.Fatal(err)
	}
	return &backendtest.Upstream{Backend: b, Endpoint: "", Stalled: stalled, Stop: stop}
}

// natsServerStopped is a backend that was connected to a server of its
// own, which is then shut down; it fails fast while reconnecting
// (ReconnectBufferBytes < 0, the documented way to have every publish fail
// at once rather than wait in the buffer).
func natsServerStopped(t testing.TB) (translate.Backend, *translate.Call, func()) {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	shutdown := func() { s.Shutdown(); s.WaitForShutdown() }
	if !s.ReadyForConnections(10 * time.Second) {
		shutdown()
		t.Fatal("nats server did not start")
	}
	b, err := sbnats.Connect("backendtest-down", sbnats.ConnOptions{URL: s.ClientURL(), ReconnectWait: time.Hour, ReconnectBufferBytes: -1}, natsLog())
	if err != nil {
		shutdown()
		t.Fatal(err)
	}
	if err := b.Ready(); err != nil {
		shutdown()
		_ = b.Close()
		t.Fatal(err)
	}
	changed := b.Conn().StatusChanged(natsgo.RECONNECTING, natsgo.DISCONNECTED, natsgo.CLOSED)
	defer b.Conn().RemoveStatusListener(changed)
	shutdown()
	select {
	case st := <-changed:
		t.Logf("connection %s after the server stopped", st)
	case <-time.After(10 * time.Second):
		_ = b.Close()
		t.Fatal("the backend did not notice the server stopping within 10s")
	}
	return b, &translate.Call{Method: "backendtest.echo", Body: []byte("hello")}, nil
}

// natsNeverConnected is a backend whose server was never there: Connect
// succeeds (the gateway starts while NATS is down) and retries behind.
func natsNeverConnected(t testing.TB) (translate.Backend, *translate.Call, func()) {
	t.Helper()
	b, err := sbnats.Connect("backendtest-down", sbnats.ConnOptions{URL: "nats://" + closedAddr(t), ReconnectWait: time.Hour, ReconnectBufferBytes: -1}, natsLog())
	if err != nil {
		t.Fatal(err)
	}
	return b, &translate.Call{Method: "backendtest.echo", Body: []byte("hello")}, nil
}

func TestNATS(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		New: startNATS,
		Success: func(i int) (*translate.Call, []byte) {
			body := fmt.Sprintf("request-%d", i)
			return &translate.Call{Method: "backendtest.echo", Body: []byte(body), Delivery: translate.DeliveryReply}, []byte("echo:" + body)
		},
		AppErrors: []backendtest.AppError{
			{Name: "micro-404", Call: &translate.Call{Method: "backendtest.fail.notfound"}, Code: codes.NotFound},
			{Name: "micro-503", Call: &translate.Call{Method: "backendtest.fail.overloaded"}, Code: codes.Unavailable},
		},
		// Nobody subscribes to the subject: the server says "no
		// responders" at once, and nothing received it (Retryable). The
		// subject came from the request (Addressed): that says nothing of
		// the bus (BackendHealthy). A fixed subject nobody serves does:
		// see nats.TestNoRespondersAndTheBreaker.
		UnknownMethod:     &translate.Call{Method: "backendtest.nobody", Addressed: true},
		UnknownMethodWant: backendtest.Facts{Code: codes.Unavailable, Retryable: true, BackendHealthy: true},
		Stall:             &translate.Call{Method: "backendtest.stall"},
		CancelCode:        codes.Canceled,
		Unavailable: []backendtest.Unavailable{
			{Name: "server-stopped", New: natsServerStopped},
			{Name: "never-connected", New: natsNeverConnected},
		},
		OversizedSkip: "the NATS backend has no reply size limit of its own: the server's max_payload " +
			"(1 MiB by default) refuses an oversized reply at the responder's publish, so the gateway " +
			"never receives one; the request then ends at its deadline, which the deadline case covers",
	})
}

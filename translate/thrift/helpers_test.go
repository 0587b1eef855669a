package thrift

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"
	"go.uber.org/goleak"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestMain checks that no test leaves a goroutine behind: every server,
// backend and connection is closed in t.Cleanup.
func TestMain(m *testing.M) {
	// TSimpleServer.Stop waits for its connections' goroutines; with a
	// timeout it closes stragglers instead of hanging a failed test.
	athrift.ServerStopTimeout = 5 * time.Second
	goleak.VerifyTestMain(m)
}

var idlCache sync.Map // path -> *idl.Program

// loadIDL parses an IDL file once per test binary.
func loadIDL(t testing.TB, path string) *idl.Program {
	t.Helper()
	if p, ok := idlCache.Load(path); ok {
		return p.(*idl.Program)
	}
	p, err := idl.ParseFile(path, idl.Options{})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	idlCache.Store(path, p)
	return p
}

// parseIDL parses IDL source held in the test.
func parseIDL(t testing.TB, src string) *idl.Program {
	t.Helper()
	p, err := idl.Parse("test.thrift", []byte(src), idl.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

const interopIDL = "testdata/interop/interop.thrift"

func interopProgram(t testing.TB) *idl.Program { return loadIDL(t, interopIDL) }

func interopFunc(t testing.TB, name string) *idl.Function {
	t.Helper()
	fn := interopProgram(t).Service("Interop").Function(name)
	if fn == nil {
		t.Fatalf("no function %s", name)
	}
	return fn
}

func interopStruct(t testing.TB, name string) *idl.Struct {
	t.Helper()
	st := interopProgram(t).Root.Structs[name]
	if st == nil {
		t.Fatalf("no struct %s", name)
	}
	return st
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
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
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got: %s\nwant: %s", path, got, want)
	}
}

// protocolFactory and transportFactory build Apache's side of a test.
func protocolFactory(protocol string) athrift.TProtocolFactory {
	cfg := &athrift.TConfiguration{}
	if protocol == "compact" {
		return athrift.NewTCompactProtocolFactoryConf(cfg)
	}
	return athrift.NewTBinaryProtocolFactoryConf(cfg)
}

func transportFactory(transport string) athrift.TTransportFactory {
	if transport == "buffered" {
		return athrift.NewTBufferedTransportFactory(8192)
	}
	return athrift.NewTFramedTransportFactoryConf(athrift.NewTTransportFactory(), &athrift.TConfiguration{})
}

// serialize writes a generated struct with Apache's protocol.
func serialize(t testing.TB, protocol string, v athrift.TStruct) []byte {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	prot := protocolFactory(protocol).GetProtocol(buf)
	if err := v.Write(context.Background(), prot); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// deserialize reads bytes into a generated struct with Apache's protocol.
func deserialize(t testing.TB, protocol string, b []byte, v athrift.TStruct) {
	t.Helper()
	buf := athrift.NewTMemoryBuffer()
	buf.Write(b)
	prot := protocolFactory(protocol).GetProtocol(buf)
	if err := v.Read(context.Background(), prot); err != nil {
		t.Fatalf("generated Read: %v", err)
	}
}

// handler is the interop service as the generated server runs it.
type handler struct {
	fired  chan string
	pings  atomic.Int64
	echoed atomic.Pointer[gen.Everything]
	// stall, when set, holds Ping until the test closes it or the call's
	// context ends: a slow server the test controls, where a sleep would
	// guess how slow is slow enough.
	stall chan struct{}
}

func newHandler() *handler { return &handler{fired: make(chan string, 16)} }

func (h *handler) Ping(ctx context.Context) (string, error) {
	h.pings.Add(1)
	if h.stall != nil {
		select {
		case <-h.stall:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	return "pong", nil
}

func (h *handler) Echo(_ context.Context, e *gen.Everything) (*gen.Everything, error) {
	h.echoed.Store(e)
	return e, nil
}

func (h *handler) Touch(_ context.Context, id int32) error {
	if id < 0 {
		return errors.New("touch failed") // undeclared: INTERNAL_ERROR
	}
	return nil
}

func (h *handler) Fire(_ context.Context, msg string, times int32) error {
	h.fired <- fmt.Sprintf("%s x%d", msg, times)
	return nil
}

func (h *handler) Divide(_ context.Context, a, b int32) (int32, error) {
	switch {
	case b == 0:
		return 0, &gen.InvalidOperation{WhatOp: a, Why: "division by zero"}
	case a < 0:
		return 0, &gen.NotFound{Message: "no such dividend", ID: int64(a)}
	}
	return a / b, nil
}

func (h *handler) Sum(_ context.Context, xs []int64) (int64, error) {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s, nil
}

func (h *handler) Scalars(_ context.Context, s *gen.Scalars) (*gen.Scalars, error) { return s, nil }

func (h *handler) Points(_ context.Context, ps []*gen.Point) (map[string]*gen.Point, error) {
	out := map[string]*gen.Point{}
	for _, p := range ps {
		out[fmt.Sprintf("%d,%d", p.X, p.Y)] = p
	}
	return out, nil
}

func (h *handler) Shape(_ context.Context, s *gen.Shape) (*gen.Shape, error) { return s, nil }

func (h *handler) Sparse(_ context.Context, s *gen.Sparse) (*gen.Sparse, error) { return s, nil }

// startInterop runs the generated processor in a TSimpleServer on
// 127.0.0.1:0 and returns its address; the server stops at cleanup.
func startInterop(t testing.TB, protocol, transport string, multiplexed bool, h gen.Interop) string {
	t.Helper()
	sock, err := athrift.NewTServerSocket("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var proc athrift.TProcessor = gen.NewInteropProcessor(h)
	if multiplexed {
		mp := athrift.NewTMultiplexedProcessor()
		mp.RegisterProcessor("Interop", proc)
		proc = mp
	}
	srv := athrift.NewTSimpleServer4(proc, sock, transportFactory(transport), protocolFactory(protocol))
	// Serve sets it, Listen and AcceptLoop do not: without it a connection
	// that ends in an error (a client's reset) panics logging it.
	srv.SetLogContext(context.Background())
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.AcceptLoop()
	}()
	t.Cleanup(func() {
		_ = srv.Stop()
		<-done
	})
	return sock.Addr().String()
}

// rawServer accepts connections and runs serve on each, for servers that
// misbehave on purpose. Cleanup closes everything and waits.
func rawServer(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

// dial builds a Backend closed at cleanup.
func dial(t testing.TB, opts Options) *Backend {
	t.Helper()
	b, err := Dial("interop", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

package grpcmock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/bufbuild/protocompile"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	// google/api/*.proto are not protocompile standard imports; the
	// resolver below takes them from the linked-in registry.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"

	"github.com/switchboard-gw/switchboard/mock"
)

// TestMain checks that no test leaves a goroutine behind: every server is
// stopped in t.Cleanup and must take its handlers (delays included) with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// compile builds a registry from .proto files, as the gateway's descriptors
// package will; the mock must not depend on it, so this is a small copy.
func compile(t *testing.T, r protocompile.Resolver, files ...string) *protoregistry.Files {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
		r,
		protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			if !strings.HasPrefix(path, "google/api/") {
				return protocompile.SearchResult{}, protoregistry.NotFound
			}
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			if err != nil {
				return protocompile.SearchResult{}, err
			}
			return protocompile.SearchResult{Desc: fd}, nil
		}),
	})}
	compiled, err := c.Compile(context.Background(), files...)
	if err != nil {
		t.Fatal(err)
	}
	reg := new(protoregistry.Files)
	done := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if done[fd.Path()] {
			return
		}
		done[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		if err := reg.RegisterFile(fd); err != nil {
			t.Fatalf("register %s: %v", fd.Path(), err)
		}
	}
	for _, f := range compiled {
		add(f)
	}
	return reg
}

var (
	libraryOnce  sync.Once
	libraryFiles *protoregistry.Files
)

// library compiles the demo schema once for all tests; *protoregistry.Files
// is safe for concurrent reads.
func library(t *testing.T) *protoregistry.Files {
	t.Helper()
	libraryOnce.Do(func() {
		libraryFiles = compile(t, &protocompile.SourceResolver{ImportPaths: []string{"../../testdata/proto"}}, "library/v1/library.proto")
	})
	if libraryFiles == nil {
		t.Fatal("library.proto did not compile")
	}
	return libraryFiles
}

// logBuffer collects slog output for assertions while handlers write to it.
// A test waits for a line with next rather than polling.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	waiters []chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.waiters {
		close(w)
	}
	l.waiters = nil
	return l.b.Write(p)
}

// next is closed by the next write.
func (l *logBuffer) next() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := make(chan struct{})
	l.waiters = append(l.waiters, w)
	return w
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	srv  *Server
	conn *grpc.ClientConn
	logs *logBuffer
}

// start runs a mock for files and the given stub YAML on 127.0.0.1:0 and
// connects a real client to it; cleanup closes both and checks Serve ended
// cleanly.
func start(t *testing.T, files *protoregistry.Files, stubsYAML string) *harness {
	t.Helper()
	stubs, err := mock.ParseStubs([]byte(stubsYAML), t.Name()+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return startStubs(t, files, stubs)
}

func startStubs(t *testing.T, files *protoregistry.Files, stubs *mock.Stubs) *harness {
	t.Helper()
	return startLogged(t, files, stubs, func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) })
}

// startLogged is startStubs with the log handler given.
func startLogged(t *testing.T, files *protoregistry.Files, stubs *mock.Stubs, handler func(io.Writer) slog.Handler) *harness {
	t.Helper()
	logs := new(logBuffer)
	srv, err := New(files, nil, stubs, slog.New(handler(logs)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.GracefulStop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	return &harness{srv: srv, conn: conn, logs: logs}
}

type reply struct {
	msg     *dynamicpb.Message
	header  metadata.MD
	trailer metadata.MD
	err     error
}

// call invokes full ("/pkg.Svc/M") with a request given as proto3 JSON,
// using dynamic messages as the gateway does.
func (h *harness) call(ctx context.Context, t *testing.T, files *protoregistry.Files, full, reqJSON string) reply {
	t.Helper()
	d, err := files.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(full, "/"), "/", ".")))
	if err != nil {
		t.Fatalf("method %s: %v", full, err)
	}
	md := d.(protoreflect.MethodDescriptor)
	req := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal([]byte(reqJSON), req); err != nil {
		t.Fatalf("request %s: %v", reqJSON, err)
	}
	var r reply
	r.msg = dynamicpb.NewMessage(md.Output())
	r.err = h.conn.Invoke(ctx, full, req, r.msg, grpc.Header(&r.header), grpc.Trailer(&r.trailer))
	return r
}

// get reads a field of a dynamic message by proto name, following dots.
func get(t *testing.T, m protoreflect.Message, path string) protoreflect.Value {
	t.Helper()
	var v protoreflect.Value
	for i, seg := range strings.Split(path, ".") {
		if i > 0 {
			m = v.Message()
		}
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			t.Fatalf("%s has no field %s", m.Descriptor().FullName(), seg)
		}
		v = m.Get(fd)
	}
	return v
}

func jsonOf(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	// protojson randomises whitespace; compact it for comparisons.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

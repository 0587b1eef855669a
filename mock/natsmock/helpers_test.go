package natsmock

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/mock"
)

// TestMain checks that no test leaves a goroutine behind: responders,
// connections and servers are stopped in t.Cleanup, delays included.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs a NATS server on a random loopback port for one test.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func connect(t testing.TB, s *server.Server) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// start builds and starts a responder from stub YAML on its own
// connection; it returns a second connection to send requests on.
func start(t testing.TB, yaml string, types TypesForSubject) *natsgo.Conn {
	t.Helper()
	s := startServer(t)
	stubs, err := ParseStubs([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(connect(t, s), stubs, types, nil)
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
	return connect(t, s)
}

func request(t testing.TB, nc *natsgo.Conn, subject string, data []byte) *natsgo.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return m
}

// shopTypes compiles testdata/proto/shop/v1/shop.proto.
func shopTypes(t testing.TB) Types {
	t.Helper()
	fds, err := descriptors.Compile(context.Background(), []string{"shop/v1/shop.proto"}, []string{"../../testdata/proto"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := descriptors.NewSet("shop", "orders", descriptors.Source{Kind: descriptors.SourceFile, Ref: "test"}, fds)
	if err != nil {
		t.Fatal(err)
	}
	find := func(name protoreflect.FullName) protoreflect.MessageDescriptor {
		d, err := set.Files.FindDescriptorByName(name)
		if err != nil {
			t.Fatal(err)
		}
		return d.(protoreflect.MessageDescriptor)
	}
	return Types{Request: find("shop.v1.Order"), Reply: find("shop.v1.OrderStatus"), Resolver: set.Types}
}

var _ = mock.Stubs{}

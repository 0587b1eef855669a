package grpc

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// conns remembers accepted connections so a test can cut them.
type conns struct {
	net.Listener
	mu  sync.Mutex
	all []net.Conn
}

func (l *conns) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.all = append(l.all, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *conns) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.all {
		_ = c.Close()
	}
	l.all = nil
}

// TestConnectionCutMidCallIsNotRetried: the server has the request when the
// connection drops (a crash, a reset). grpc-go reports UNAVAILABLE with no
// headers, as for a refused connect, but the call may have had its effect:
// a non-idempotent call must reach the application once.
func TestConnectionCutMidCallIsNotRetried(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &conns{Listener: raw}
	var received atomic.Int32
	srv := grpc.NewServer(grpc.ForceServerCodecV2(Codec{}), grpc.UnknownServiceHandler(func(_ any, st grpc.ServerStream) error {
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		received.Add(1) // the application has the request
		lis.cut()
		<-st.Context().Done()
		return nil
	}))
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	be, err := Dial("b", Options{Endpoints: []string{raw.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	g := resilience.Wrap("b", be, resilience.Policy{Timeout: 10 * time.Second,
		Retry: resilience.Retry{Attempts: 3, Backoff: time.Millisecond, On: []codes.Code{codes.Unavailable}}}, nil)
	defer g.Close()
	_, err = g.Invoke(context.Background(), &translate.Call{Method: "/x.S/Create", Body: []byte{}})
	if e := translate.FromError(err); e.Code != codes.Unavailable || e.Retryable {
		t.Errorf("err = %v (retryable %v), want UNAVAILABLE, not retryable", err, e.Retryable)
	}
	if n := received.Load(); n != 1 {
		t.Errorf("a non-idempotent call reached the application %d times", n)
	}
}

// TestRefusedConnectIsRetryable: nothing listening, nothing sent.
func TestRefusedConnectIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	be, err := Dial("b", Options{Endpoints: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = be.Invoke(ctx, &translate.Call{Method: "/x.S/Create", Body: []byte{}})
	if e := translate.FromError(err); e.Code != codes.Unavailable || !e.Retryable {
		t.Errorf("err = %v (retryable %v), want UNAVAILABLE, retryable", err, e.Retryable)
	}
}

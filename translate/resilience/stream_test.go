package resilience

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/translate"
)

// quietStreams is a backend whose streams send nothing until their context
// ends (a NATS subscription on a quiet subject, a gRPC watch that reports
// only changes).
type quietStreams struct{ fakeBackend }

type quietStream struct{ ctx context.Context }

func (q *quietStreams) OpenStream(ctx context.Context, _ *translate.Call, _ translate.StreamKind) (translate.Stream, error) {
	return &quietStream{ctx}, nil
}
func (s *quietStream) Send([]byte) error { return nil }
func (s *quietStream) CloseSend() error  { return nil }
func (s *quietStream) Recv() (translate.StreamMessage, error) {
	<-s.ctx.Done()
	return translate.StreamMessage{}, &translate.Error{Code: 1, Message: "cancelled"}
}
func (s *quietStream) Header() (metadata.MD, error) { return nil, nil }
func (s *quietStream) Trailer() metadata.MD         { return nil }
func (s *quietStream) Endpoint() string             { return "" }

// A quiet stream opened while the breaker is half-open takes its probe,
// and gives it back (as a success) after StreamSettle without a message:
// it must not keep every other call refused for as long as it lasts.
func TestQuietStreamSettlesHalfOpenProbe(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	f := &quietStreams{fakeBackend{script: []error{unavailable("down")}}}
	b := Wrap("bus", f, Policy{Breaker: Breaker{Failures: 1, Cooldown: time.Second}}, nil)
	b.breaker.now = clock.now
	if _, err := b.Invoke(context.Background(), &translate.Call{}); err == nil {
		t.Fatal("first call should fail and open the breaker")
	}
	clock.t = clock.t.Add(2 * time.Second) // past the cooldown: half-open
	ctx, cancel := context.WithCancel(context.Background())
	s, err := b.OpenStream(ctx, &translate.Call{}, translate.ServerStream)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _, _ = s.Recv() }()
	waitFor(t, func() bool { return b.Status().Breaker.State == "closed" }) // the quiet stream gave its probe back
	// The backend is healthy again (the script is used up): unary calls
	// succeed, if they are let through.
	for i := range 3 {
		clock.t = clock.t.Add(time.Minute)
		if _, err := b.Invoke(context.Background(), &translate.Call{}); err != nil {
			t.Errorf("%d min after the stream opened, a unary call is refused: %v", i+1, err)
		}
	}
	cancel()
	<-done
	s.Close()
}

package resilience

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Stream is a backend stream under the backend's policy: it holds one of
// the backend's stream slots until Close. Streams are never retried or
// hedged (a message already sent cannot be taken back), and the
// backend's timeout does not bound them: a route's stream limits do.
type Stream struct {
	translate.Stream
	b     *Backend
	ctx   context.Context
	once  sync.Once // the outcome is recorded once
	t     ticket
	p     *pick
	mu    sync.Mutex
	done  bool
	quiet *time.Timer
}

// OpenStream opens a stream when the breaker and the backend's stream
// limit allow it. The breaker and the endpoint's record count the
// stream's start: its first message, or how it ended before one.
func (b *Backend) OpenStream(ctx context.Context, call *translate.Call, kind translate.StreamKind) (*Stream, error) {
	sb, ok := b.next.(translate.StreamBackend)
	if !ok {
		return nil, &translate.Error{Code: codes.Unimplemented, Message: "backend " + b.name + " cannot stream"}
	}
	if b.streams != nil {
		select {
		case b.streams <- struct{}{}:
		default:
			return nil, &translate.Error{Code: codes.Unavailable, Retryable: true,
				Message: "backend " + b.name + " is at its limit of " + strconv.Itoa(cap(b.streams)) + " streams at once",
				Header:  http.Header{"Retry-After": {"1"}}}
		}
	}
	t, ok := b.breaker.allow()
	if !ok {
		b.releaseStream()
		return nil, &translate.Error{Code: codes.Unavailable, Message: "circuit breaker open for backend " + b.name,
			Cause: errBreakerOpen, Retryable: true,
			Header: http.Header{"Retry-After": {strconv.Itoa(max(1, int(math.Ceil(b.breaker.remaining().Seconds()))))}}}
	}
	p := &pick{set: b.endpoints}
	s, err := sb.OpenStream(translate.WithEndpointChooser(ctx, p), call, kind)
	if err != nil {
		st := &Stream{b: b, ctx: ctx, t: t, p: p}
		st.settle(err)
		b.releaseStream()
		return nil, err
	}
	b.activeStreams.Add(1)
	st := &Stream{Stream: s, b: b, ctx: ctx, t: t, p: p}
	// A stream that is open and quiet (a subscription) proves the backend
	// answers: it must not hold a half-open breaker's probe, which would
	// refuse every other call while it lasts.
	st.quiet = time.AfterFunc(StreamSettle, func() { st.settle(nil) })
	return st, nil
}

// StreamSettle is how long a stream may be open without a message before
// it counts as a success for the breaker and its endpoint.
const StreamSettle = time.Second

func (b *Backend) releaseStream() {
	if b.streams != nil {
		<-b.streams
	}
}

// Recv passes the backend's messages on, recording the stream's start.
func (s *Stream) Recv() (translate.StreamMessage, error) {
	m, err := s.Stream.Recv()
	s.settle(err)
	return m, err
}

// settle records how the stream started: a message (err nil) or a clean
// end is a success; a caller that went away says nothing; a failure counts
// by code, as a unary call's does.
func (s *Stream) settle(err error) {
	s.once.Do(func() {
		b := s.b
		endpoint := ""
		if s.Stream != nil {
			endpoint = s.Stream.Endpoint()
		}
		switch {
		case err == nil || errors.Is(err, io.EOF):
			b.breaker.done(s.t, false)
			s.p.done(verdictSuccess, endpoint)
		case s.ctx.Err() != nil:
			b.breaker.abandon(s.t)
			s.p.done(verdictNeutral, endpoint)
		default:
			e := translate.FromError(err)
			if e.Endpoint != "" {
				endpoint = e.Endpoint
			}
			failed := slices.Contains(tripCodes, e.Code) && !e.BackendHealthy
			if e.Code == codes.Canceled {
				b.breaker.abandon(s.t)
				s.p.done(verdictNeutral, endpoint)
				return
			}
			b.breaker.done(s.t, failed)
			s.p.done(verdictOf(failed), endpoint)
		}
	})
}

// Close gives back the stream's slot. The stream itself ends with its
// context, which the caller cancels.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	if s.quiet != nil {
		s.quiet.Stop()
	}
	s.settle(context.Canceled)
	s.b.activeStreams.Add(-1)
	s.b.releaseStream()
}

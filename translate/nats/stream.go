package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/translate"
)

// Subscribe routes: the backend's side. The transcoder's is in
// subscribe.go.

var _ translate.StreamBackend = (*Backend)(nil)

const (
	// deleteTimeout bounds deleting a finished subscription's consumer.
	deleteTimeout = 2 * time.Second
	// orphanAfter is JetStream's inactive threshold for the gateway's
	// consumers: the server deletes one the gateway could not (it lost
	// the connection, or died) after this long without a pull. It is also
	// how long a client may pause without its consumer being recreated
	// (which the ordered consumer does, at the same position), so it is
	// as long as the pipeline's default idle timeout.
	orphanAfter = 5 * time.Minute
	// maxResets bounds the ordered consumer's attempts to recreate itself
	// (after missed heartbeats, say) before the stream fails instead; the
	// client can resume with Last-Event-ID.
	maxResets = 3
	// firstRecheck and maxRecheck bound the slices of jsStream.next.
	firstRecheck = 20 * time.Millisecond
	maxRecheck   = 15 * time.Second
)

var (
	errConnectionLost = errors.New("the connection to NATS was lost")
	errBackendClosed  = errors.New("the backend was closed")
	errStreamEnded    = errors.New("the stream ended")
)

// OpenStream opens the subscription a subscribe route's Encode described:
// call.Method is the subject (wildcards allowed), call.Body the
// subscription (see subscription). Without a stream it is a core NATS
// subscription that buffers up to max_pending messages (and
// PendingBytesLimit bytes) for a slow client, and fails with
// RESOURCE_EXHAUSTED rather than drop any silently. With one it is a
// JetStream ordered consumer pulled one message at a time, as Recv asks,
// so that a slow client holds the consumer back instead of filling the
// gateway's memory; each message's ID is its stream sequence.
//
// The stream ends when ctx ends (the subscription is unsubscribed, the
// consumer stopped and deleted at once), and with UNAVAILABLE when the
// connection is lost: a core subscription would miss messages unannounced
// while it is down, and a JetStream client resumes with Last-Event-ID.
func (b *Backend) OpenStream(ctx context.Context, call *translate.Call, kind translate.StreamKind) (translate.Stream, error) {
	if kind != translate.ServerStream {
		return nil, &translate.Error{Code: codes.Unimplemented,
			Message: "backend " + b.name + ": NATS streams only from the server (a subscribe route)"}
	}
	spec, err := decodeSubscription(call.Body)
	if err == nil && !validFilter(call.Method) {
		err = fmt.Errorf("subscription subject %q", call.Method)
	}
	if err != nil {
		return nil, &translate.Error{Code: codes.Internal, Message: "internal error", Cause: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, b.mapError(call, err)
	}
	sctx, end := context.WithCancelCause(ctx)
	// Registered before the status is read, so that a disconnect from
	// now on ends this stream too.
	entry := b.streams.add(end)
	if entry == nil {
		end(errBackendClosed)
		return nil, &translate.Error{Code: codes.Unavailable, Message: "backend " + b.name + " is unavailable", Cause: errBackendClosed}
	}
	if st := b.nc.Status(); st != natsgo.CONNECTED {
		end(errStreamEnded)
		b.streams.remove(entry)
		return nil, &translate.Error{Code: codes.Unavailable, Message: "backend " + b.name + " is unavailable", Retryable: true,
			Cause: fmt.Errorf("nats connection %s", st)}
	}
	base := streamBase{b: b, call: call, ctx: sctx, end: end, entry: entry, endpoint: b.nc.ConnectedAddr()}
	var s translate.Stream
	if spec.Stream == "" {
		s, err = b.openCore(base, spec)
	} else {
		s, err = b.openJetStream(base, spec)
	}
	if err != nil {
		end(errStreamEnded)
		b.streams.remove(entry)
		return nil, err
	}
	return s, nil
}

// streamBase is what both kinds of subscription share.
type streamBase struct {
	b    *Backend
	call *translate.Call
	// ctx ends with the client, a lost connection, or the stream itself.
	ctx      context.Context
	end      context.CancelCauseFunc
	entry    *streamEntry
	endpoint string
}

func (s *streamBase) Send([]byte) error {
	return &translate.Error{Code: codes.Unimplemented, Message: "a NATS subscription takes no messages from the client"}
}
func (s *streamBase) CloseSend() error             { return nil }
func (s *streamBase) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (s *streamBase) Trailer() metadata.MD         { return nil }
func (s *streamBase) Endpoint() string             { return s.endpoint }

// ended says how the stream's context ended, as Recv reports it.
func (s *streamBase) ended() *translate.Error {
	cause := context.Cause(s.ctx)
	switch {
	case errors.Is(cause, errConnectionLost), errors.Is(cause, errBackendClosed):
		return &translate.Error{Code: codes.Unavailable, Message: "backend " + s.b.name + " is unavailable: " + cause.Error(),
			Cause: cause, Endpoint: s.endpoint}
	case errors.Is(s.ctx.Err(), context.DeadlineExceeded):
		return &translate.Error{Code: codes.DeadlineExceeded, Message: "the stream reached its deadline", Cause: cause}
	}
	return &translate.Error{Code: codes.Canceled, Message: "request cancelled", Cause: cause}
}

// coreStream is a core NATS subscription. nats.go queues its messages
// within the pending limits; the handler hands them to Recv one by one.
type coreStream struct {
	streamBase
	sub  *natsgo.Subscription
	msgs chan *natsgo.Msg // unbuffered: the queue is nats.go's, bounded
	err  error            // how Recv ended, once it did
}

func (b *Backend) openCore(base streamBase, spec subscription) (translate.Stream, error) {
	s := &coreStream{streamBase: base, msgs: make(chan *natsgo.Msg)}
	// An async subscription, not SubscribeSync: its queue is a list
	// bounded by the limits, where a sync one allocates a channel of
	// 64k entries up front.
	sub, err := b.nc.Subscribe(base.call.Method, s.deliver)
	if err != nil {
		return nil, b.mapError(base.call, err)
	}
	limit := spec.MaxPending
	if limit == 0 {
		limit = DefaultMaxPending
	}
	if err := sub.SetPendingLimits(limit, PendingBytesLimit); err != nil {
		_ = sub.Unsubscribe()
		return nil, b.mapError(base.call, err)
	}
	// Open means the server has the subscription: whatever is published
	// after OpenStream returns reaches it.
	ctx, cancel := context.WithTimeout(base.ctx, DefaultTimeout)
	err = b.nc.FlushWithContext(ctx)
	cancel()
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, b.mapError(base.call, err)
	}
	s.sub = sub
	context.AfterFunc(base.ctx, func() {
		_ = sub.Unsubscribe()
		b.streams.remove(base.entry)
	})
	return s, nil
}

func (s *coreStream) deliver(m *natsgo.Msg) {
	select {
	case s.msgs <- m:
	case <-s.ctx.Done():
	}
}

func (s *coreStream) Recv() (translate.StreamMessage, error) {
	if s.err != nil {
		return translate.StreamMessage{}, s.err
	}
	if s.ctx.Err() != nil {
		return s.fail(s.ended())
	}
	// Checked before each message: once nats.go dropped one, the stream
	// must not go on as if nothing was missing.
	if n, err := s.sub.Dropped(); err == nil && n > 0 {
		return s.fail(&translate.Error{Code: codes.ResourceExhausted, BackendHealthy: true,
			Message: "the client reads too slowly: messages were dropped",
			Cause:   fmt.Errorf("nats slow consumer on %s: %d messages dropped", s.call.Method, n)})
	}
	select {
	case m := <-s.msgs:
		return translate.StreamMessage{Body: m.Data, Subject: m.Subject}, nil
	case <-s.ctx.Done():
		return s.fail(s.ended())
	}
}

func (s *coreStream) fail(e *translate.Error) (translate.StreamMessage, error) {
	s.err = e
	s.end(errStreamEnded) // unsubscribes
	return translate.StreamMessage{}, e
}

// jsStream is a JetStream ordered consumer, read through a Messages
// iterator that pulls one message per Next.
type jsStream struct {
	streamBase
	stream      string
	cons        jetstream.Consumer
	it          jetstream.MessagesContext
	stopCleanup func() bool

	mu      sync.Mutex
	reading bool  // Recv is in it.Next
	closed  bool  // stopped, consumer deleted
	err     error // how Recv ended, once it did
}

func (b *Backend) openJetStream(base streamBase, spec subscription) (translate.Stream, error) {
	prefix := "switchboard-" + nuid.Next()
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{base.call.Method},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: orphanAfter,
		MaxResetAttempts:  maxResets,
		NamePrefix:        prefix,
	}
	switch spec.Deliver {
	case deliverAll:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case deliverLast:
		cfg.DeliverPolicy = jetstream.DeliverLastPolicy
	case deliverSeq:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, spec.StartSeq
	case deliverTime:
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, spec.StartTime
	}
	ctx, cancel := context.WithTimeout(base.ctx, DefaultTimeout)
	cons, err := b.js.OrderedConsumer(ctx, spec.Stream, cfg)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, natsgo.ErrTimeout) {
			// The server may have made it before the wait ended.
			b.deleteConsumer(spec.Stream, prefix+"_1")
		}
		return nil, b.subscribeError(base.call, spec.Stream, err)
	}
	s := &jsStream{streamBase: base, stream: spec.Stream, cons: cons}
	if s.it, err = cons.Messages(jetstream.PullMaxMessages(1)); err != nil {
		b.deleteConsumer(spec.Stream, cons.CachedInfo().Name)
		return nil, b.subscribeError(base.call, spec.Stream, err)
	}
	s.stopCleanup = context.AfterFunc(base.ctx, s.cleanupAfterEnd)
	return s, nil
}

func (s *jsStream) Recv() (translate.StreamMessage, error) {
	s.mu.Lock()
	if s.err == nil && s.ctx.Err() != nil {
		s.err = s.ended()
	}
	if s.err != nil {
		s.closeLocked()
		err := s.err
		s.mu.Unlock()
		return translate.StreamMessage{}, err
	}
	s.reading = true
	s.mu.Unlock()

	m, err := s.next()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading = false
	if err == nil && s.ctx.Err() != nil {
		err = s.ctx.Err() // ended meanwhile: the cleanup is ours (cleanupAfterEnd)
	}
	if err == nil {
		md, merr := m.Metadata()
		if merr == nil {
			return translate.StreamMessage{Body: m.Data(), Subject: m.Subject(),
				ID: strconv.FormatUint(md.Sequence.Stream, 10)}, nil
		}
		err = merr
	}
	s.err = s.recvError(err)
	s.closeLocked()
	return translate.StreamMessage{}, s.err
}

// next waits for the next message in slices, each a fresh Next: nats.go's
// iterator sends its pull request from another goroutine, and when a
// message comes back before that goroutine marked the request sent, the
// following Next sends none and would sit idle until its heartbeat check
// (10s) reset the consumer. Each Next sends a request that is missing.
// Slices grow to beyond that heartbeat check, which still runs then.
func (s *jsStream) next() (jetstream.Msg, error) {
	wait := firstRecheck
	for {
		ctx, cancel := context.WithTimeout(s.ctx, wait)
		m, err := s.it.Next(jetstream.NextContext(ctx))
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || s.ctx.Err() != nil {
			return m, err
		}
		wait = min(2*wait, maxRecheck)
	}
}

// cleanupAfterEnd runs once the stream's context ended. While Recv is in
// Next it leaves the cleanup to Recv, which Next returns to at once:
// stopping the ordered consumer under a reset that Next is making would
// leave the new consumer's pull subscription running.
func (s *jsStream) cleanupAfterEnd() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reading {
		s.closeLocked()
	}
}

// closeLocked stops the consumer and deletes it at once, rather than
// leaving it to the server's inactive threshold.
func (s *jsStream) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	s.stopCleanup()
	s.end(errStreamEnded)
	s.it.Stop()
	if info := s.cons.CachedInfo(); info != nil {
		s.b.deleteConsumer(s.stream, info.Name)
	}
	s.b.streams.remove(s.entry)
}

func (s *jsStream) recvError(err error) *translate.Error {
	switch {
	case s.ctx.Err() != nil:
		return s.ended()
	case errors.Is(err, jetstream.ErrMsgIteratorClosed), errors.Is(err, natsgo.ErrConnectionClosed):
		return &translate.Error{Code: codes.Unavailable, Message: "backend " + s.b.name + " is unavailable", Cause: err, Endpoint: s.endpoint}
	}
	return s.b.subscribeError(s.call, s.stream, err)
}

// deleteConsumer deletes a consumer the gateway is done with; one it
// cannot (the connection is down) the server removes after orphanAfter.
func (b *Backend) deleteConsumer(stream, name string) {
	if b.nc.Status() != natsgo.CONNECTED {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	err := b.js.DeleteConsumer(ctx, stream, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		b.log.LogAttrs(ctx, slog.LevelWarn, "nats: could not delete a finished subscription's consumer; the server removes it once idle",
			slog.String("stream", stream), slog.String("consumer", name), slog.String("error", err.Error()))
	}
}

// subscribeError maps what opening or reading a JetStream subscription
// can fail with. A missing stream is UNAVAILABLE, as a jetstream publish
// with no stream is: the route names a stream that this deployment lacks
// (not yet created, or deleted), which is no fault of the request, and
// NOT_FOUND would tell the client its resource does not exist.
func (b *Backend) subscribeError(call *translate.Call, stream string, err error) *translate.Error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return &translate.Error{Code: codes.Unavailable, Message: "backend " + b.name + ": no stream " + stream,
			Cause: err, Retryable: true}
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, natsgo.ErrNoResponders):
		return &translate.Error{Code: codes.Unavailable, Message: "backend " + b.name + ": JetStream is not available",
			Cause: err, Retryable: true}
	}
	return b.mapError(call, err)
}

// streamSet holds the open streams, so that a lost connection or Close
// ends them all.
type streamSet struct {
	mu     sync.Mutex
	open   map[*streamEntry]struct{}
	closed bool
	wg     sync.WaitGroup // one per stream until it released its resources
}

type streamEntry struct {
	end  context.CancelCauseFunc
	once sync.Once
}

// add registers a stream's end; nil once the set is closed.
func (ss *streamSet) add(end context.CancelCauseFunc) *streamEntry {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil
	}
	if ss.open == nil {
		ss.open = map[*streamEntry]struct{}{}
	}
	e := &streamEntry{end: end}
	ss.open[e] = struct{}{}
	ss.wg.Add(1)
	return e
}

// remove is called once the stream released its subscription or consumer.
func (ss *streamSet) remove(e *streamEntry) {
	e.once.Do(func() {
		ss.mu.Lock()
		delete(ss.open, e)
		ss.mu.Unlock()
		ss.wg.Done()
	})
}

func (ss *streamSet) endAll(cause error) {
	ss.mu.Lock()
	ends := make([]context.CancelCauseFunc, 0, len(ss.open))
	for e := range ss.open {
		ends = append(ends, e.end)
	}
	ss.mu.Unlock()
	for _, end := range ends {
		end(cause)
	}
}

// close ends every stream and waits, up to wait, until they released
// their subscriptions and deleted their consumers (which needs the
// connection, so Close calls it before draining).
func (ss *streamSet) close(cause error, wait time.Duration) {
	ss.mu.Lock()
	ss.closed = true
	ss.mu.Unlock()
	ss.endAll(cause)
	done := make(chan struct{})
	go func() {
		ss.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

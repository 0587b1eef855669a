package grpcmock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/mock"
)

// ReceivedTrailer is the trailer every client-streaming reply carries: how
// many messages the mock read, so that a user can see an upload arrived
// whole.
const ReceivedTrailer = "mock-messages-received"

// checkStreamKeys reports the streaming keys st sets that m's kind cannot
// take, each at its key: stream, interval and repeat need a method that
// sends a stream; echo a bidirectional one whose input and output are the
// same message type. method is the stub's, for the problems.
func checkStreamKeys(method string, m *method, st mock.Stub) error {
	var errs []error
	if !m.desc.IsStreamingServer() {
		for _, k := range st.StreamKeysSet() {
			if k != "echo" {
				errs = append(errs, mock.At(k, fmt.Errorf("%s is %s: it answers with one response, so %s is for server-streaming and bidirectional methods only", method, m.kind(), k)))
			}
		}
	}
	if st.Echo {
		bidi := m.desc.IsStreamingClient() && m.desc.IsStreamingServer()
		in, out := m.desc.Input().FullName(), m.desc.Output().FullName()
		switch {
		case !bidi:
			errs = append(errs, mock.At("echo", fmt.Errorf("%s is %s: echo is for bidirectional streaming methods only", method, m.kind())))
		case in != out:
			errs = append(errs, mock.At("echo", fmt.Errorf("echo sends each message back as it came, but %s takes %s and returns %s", method, in, out)))
		}
	}
	return errors.Join(errs...)
}

// prepareStream checks and encodes the messages a stub for a
// server-streaming or bidirectional method sends: Stream, or Response
// alone as a stream of one (prepareReply encoded it).
func (s *Server) prepareStream(p *prepared, cst mock.Stub, out protoreflect.MessageDescriptor) error {
	switch {
	case cst.Stream != nil:
		var errs []error
		p.stream = make([]streamMsg, 0, len(cst.Stream))
		for j := range cst.Stream {
			key := "stream." + strconv.Itoa(j)
			if cst.StreamTemplated(j) {
				// As for a templated response: check all but the templates.
				if v := mock.DropNulls(cst.RenderStream(j, nil)); v != nil {
					if _, err := s.encodeAs("message", out, v); err != nil {
						errs = append(errs, mock.At(key, err))
					}
				}
				p.stream = append(p.stream, streamMsg{render: func(req any) any { return cst.RenderStream(j, req) }})
				continue
			}
			b, err := s.encodeAs("message", out, cst.Stream[j])
			if err != nil {
				errs = append(errs, mock.At(key, err))
				continue
			}
			p.stream = append(p.stream, streamMsg{body: b})
		}
		return errors.Join(errs...)
	case cst.Response != nil && p.templated:
		p.stream = []streamMsg{{render: cst.RenderResponse}}
	case cst.Response != nil:
		p.stream = []streamMsg{{body: p.response}}
	}
	return nil
}

// streamCall is what one stream did, for its log line.
type streamCall struct {
	idx            int  // the stub that answered (last, for bidi); -1 for none
	unmatched      bool // no stub matched the call, or a message of it
	fd             mock.FaultDecision
	sent, received int
}

// handleStream answers a call to a streaming method and logs it, once, at
// its end. Faults apply once, at the start: for a server-streaming call
// once its request is read (as for a unary call), for the others before
// any message is read.
func (s *Server) handleStream(stream grpc.ServerStream, full string, m *method, start time.Time) error {
	c := streamCall{idx: -1}
	var err error
	switch {
	case m.desc.IsStreamingClient() && m.desc.IsStreamingServer():
		err = s.bidi(stream, full, m, &c)
	case m.desc.IsStreamingClient():
		err = s.clientStream(stream, full, m, &c)
	default:
		err = s.serverStream(stream, full, m, &c)
	}
	st := status.Convert(err)
	attrs := []slog.Attr{
		slog.String("method", full),
		slog.String("code", mock.CodeName(st.Code())),
	}
	var stub *mock.Stub
	if c.idx >= 0 {
		stub = &s.stubs.Stubs[c.idx]
	}
	attrs = append(attrs, mock.StubAttrs(c.idx, stub)...)
	attrs = append(attrs, c.fd.Attrs()...)
	attrs = append(attrs,
		slog.Int("sent", c.sent),
		slog.Int("received", c.received),
		mock.DurationAttr("duration", time.Since(start)))
	level := slog.LevelInfo
	if c.unmatched {
		level = slog.LevelWarn // as for a unary call no stub answers
	}
	if st.Code() != codes.OK {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	s.log.LogAttrs(stream.Context(), level, "grpcmock stream", attrs...)
	return err
}

// serverStream answers a server-streaming call: the stub matching its
// request sends its messages, then its error if it has one.
func (s *Server) serverStream(stream grpc.ServerStream, full string, m *method, c *streamCall) error {
	var raw []byte
	if err := stream.RecvMsg(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return status.Errorf(codes.InvalidArgument, "no request message for %s", full)
		}
		return err
	}
	c.received = 1
	if done, err := s.fault(stream, full, &c.fd); done {
		return err
	}
	reqJSON, err := s.decode(m, raw)
	if err != nil {
		return err
	}
	i := s.find(full, reqJSON)
	if i < 0 {
		c.unmatched = true
		return noStub(full)
	}
	c.idx = i
	if err := s.reply(stream, m, c, i, reqJSON, raw); err != nil {
		return err
	}
	return s.stubError(i, reqJSON)
}

// clientStream answers a client-streaming call: the stub matching the
// first message (with none, the first without match) answers once the
// client is done, with its response or error and ReceivedTrailer.
func (s *Server) clientStream(stream grpc.ServerStream, full string, m *method, c *streamCall) error {
	if done, err := s.fault(stream, full, &c.fd); done {
		return err
	}
	ctx := stream.Context()
	// However the call ends, once messages were read, say how many.
	defer func() { stream.SetTrailer(metadata.Pairs(ReceivedTrailer, strconv.Itoa(c.received))) }()
	msgs, done := s.receive(stream)
	defer done()
	var first any
	for {
		raw, err := s.next(ctx, msgs)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		c.received++
		reqJSON, err := s.decode(m, raw)
		if err != nil {
			return err
		}
		if c.received > 1 {
			continue
		}
		first = reqJSON
		if c.idx = s.find(full, reqJSON); c.idx < 0 {
			// Fail at once: no later message can change the answer.
			c.unmatched = true
			return noStub(full)
		}
	}
	if c.received == 0 {
		if c.idx = s.findWithoutMatch(full); c.idx < 0 {
			c.unmatched = true
			return status.Errorf(codes.Unimplemented, "no stub matches %s (the client sent no message, which only stubs without match answer)", full)
		}
	}
	i := c.idx
	p := &s.prepared[i]
	if err := s.pause(ctx, p.delay); err != nil {
		return err
	}
	if p.header != nil {
		if err := stream.SetHeader(p.header); err != nil {
			return err
		}
	}
	if p.trailer != nil {
		stream.SetTrailer(p.trailer)
	}
	if err := s.stubError(i, first); err != nil {
		return err
	}
	body, err := s.response(i, m, first)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(&body); err != nil {
		return s.sendFailed(ctx, err)
	}
	c.sent = 1
	return nil
}

// findWithoutMatch is the first stub for full without match, -1 for none:
// the stubs that answer a client-streaming call that sent no message.
func (s *Server) findWithoutMatch(full string) int {
	method := strings.TrimPrefix(full, "/")
	for i := range s.stubs.Stubs {
		if st := &s.stubs.Stubs[i]; st.Method == method && len(st.Match) == 0 {
			return i
		}
	}
	return -1
}

// bidi answers a bidirectional call: each message received is answered by
// the first stub that matches it, with its messages (or the message
// itself, for echo), then its error, which ends the stream. A message no
// stub matches ends it too; the client closing its side ends it with OK.
func (s *Server) bidi(stream grpc.ServerStream, full string, m *method, c *streamCall) error {
	if done, err := s.fault(stream, full, &c.fd); done {
		return err
	}
	ctx := stream.Context()
	msgs, done := s.receive(stream)
	defer done()
	for {
		raw, err := s.next(ctx, msgs)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		c.received++
		reqJSON, err := s.decode(m, raw)
		if err != nil {
			return err
		}
		i := s.find(full, reqJSON)
		c.idx = i
		if i < 0 {
			c.unmatched = true
			return noStub(full)
		}
		if err := s.reply(stream, m, c, i, reqJSON, raw); err != nil {
			return err
		}
		if err := s.stubError(i, reqJSON); err != nil {
			return err
		}
	}
}

// reply sends stub i's messages for one request (raw, rendered as
// reqJSON): after its delay, Repeats times over, interval apart. Its
// headers go with the first message of the stream; a bidirectional stream
// sends those of the stubs matched before its first message, and the
// trailers of every stub it matched.
func (s *Server) reply(stream grpc.ServerStream, m *method, c *streamCall, i int, reqJSON any, raw []byte) error {
	ctx := stream.Context()
	p := &s.prepared[i]
	if err := s.pause(ctx, p.delay); err != nil {
		return err
	}
	if p.header != nil && c.sent == 0 {
		if err := stream.SetHeader(p.header); err != nil {
			return err
		}
	}
	if p.trailer != nil {
		stream.SetTrailer(p.trailer)
	}
	var msgs [][]byte
	if p.echo {
		msgs = [][]byte{raw}
	} else {
		msgs = make([][]byte, 0, len(p.stream))
		for _, sm := range p.stream {
			if sm.render == nil {
				msgs = append(msgs, sm.body)
				continue
			}
			b, err := s.encodeAs("message", m.desc.Output(), sm.render(reqJSON))
			if err != nil {
				// A template put a request value where its type does not
				// fit: a stub bug, so INTERNAL, as for a response.
				return status.Errorf(codes.Internal, "stub #%d %s: templated %v", i, p.source, err)
			}
			msgs = append(msgs, b)
		}
	}
	first := true
	for range p.repeat {
		for _, b := range msgs {
			if !first && p.interval > 0 {
				if err := s.pause(ctx, p.interval); err != nil {
					return err
				}
			} else if err := s.ended(ctx); err != nil {
				// Without a wait, look once per message: a long stream
				// must still end when the mock stops.
				return err
			}
			first = false
			if err := stream.SendMsg(&b); err != nil {
				return s.sendFailed(ctx, err)
			}
			c.sent++
		}
	}
	return nil
}

// pause waits d, unless the client gives up or the mock stops first: the
// call's status then.
func (s *Server) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return s.ended(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
	case <-s.stopping:
	}
	return s.interrupted(ctx)
}

// ended is the call's status when the client gave up or the mock is
// stopping, nil otherwise.
func (s *Server) ended(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-s.stopping:
	default:
		return nil
	}
	return s.interrupted(ctx)
}

// sendFailed is the status of a call whose SendMsg failed: grpc-go's
// error says little when the client has gone.
func (s *Server) sendFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return s.interrupted(ctx)
	}
	return err
}

// received is one RecvMsg's outcome.
type received struct {
	raw []byte
	err error
}

// receive reads the client's messages in a goroutine of its own, up to the
// first error (io.EOF once the client is done), so that the handler can
// wait for a message, the client giving up and the mock stopping at once
// (RecvMsg cannot be interrupted). Call done when the handler returns: the
// reader then stops handing messages over, and its RecvMsg ends as grpc-go
// closes the stream. Stop and GracefulStop wait for it.
func (s *Server) receive(stream grpc.ServerStream) (msgs <-chan received, done func()) {
	ch := make(chan received)
	quit := make(chan struct{})
	s.readers.Add(1)
	go func() {
		defer s.readers.Done()
		for {
			var raw []byte
			err := stream.RecvMsg(&raw)
			select {
			case ch <- received{raw, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch, func() { close(quit) }
}

// next is the client's next message from receive; io.EOF when it is done.
func (s *Server) next(ctx context.Context, msgs <-chan received) ([]byte, error) {
	select {
	case r := <-msgs:
		return r.raw, r.err
	case <-ctx.Done():
	case <-s.stopping:
	}
	return nil, s.interrupted(ctx)
}

package grpc

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/switchboard-gw/switchboard/translate"
)

var _ translate.StreamBackend = (*Backend)(nil)

// OpenStream starts a stream of call.Method on the backend's connection;
// call.Body, when not nil, is sent as the first message (and, for a
// server stream, the only one: the client's side is then closed).
func (b *Backend) OpenStream(ctx context.Context, call *translate.Call, kind translate.StreamKind) (translate.Stream, error) {
	if len(call.Metadata) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, call.Metadata)
	}
	desc := &grpc.StreamDesc{StreamName: call.Method, ServerStreams: kind.ServerSends(), ClientStreams: kind.ClientSends()}
	s := &stream{b: b, ctx: ctx}
	cs, err := b.conn.NewStream(ctx, desc, call.Method)
	if err != nil {
		return nil, b.mapError(ctx, err, nil, nil)
	}
	s.cs = cs
	if call.Body != nil {
		if err := s.Send(call.Body); err != nil {
			return nil, s.fail(err)
		}
	}
	if !kind.ClientSends() {
		if err := cs.CloseSend(); err != nil {
			return nil, s.fail(err)
		}
	}
	return s, nil
}

// stream is one gRPC stream; messages are raw bytes (the Codec passes
// []byte through).
type stream struct {
	b   *Backend
	ctx context.Context
	cs  grpc.ClientStream
	seq uint64
	// ended is the status the stream ended with, once Recv saw it.
	mu    sync.Mutex
	ended error
}

func (s *stream) Send(msg []byte) error {
	if err := s.cs.SendMsg(&msg); err != nil {
		if errors.Is(err, io.EOF) {
			// The server ended the stream: Recv says how.
			return io.EOF
		}
		return s.fail(err)
	}
	return nil
}

func (s *stream) CloseSend() error { return s.cs.CloseSend() }

func (s *stream) Recv() (translate.StreamMessage, error) {
	var out []byte
	if err := s.cs.RecvMsg(&out); err != nil {
		if errors.Is(err, io.EOF) {
			return translate.StreamMessage{}, io.EOF
		}
		return translate.StreamMessage{}, s.fail(err)
	}
	s.seq++
	return translate.StreamMessage{Body: out, ID: strconv.FormatUint(s.seq, 10)}, nil
}

func (s *stream) Header() (metadata.MD, error) {
	md, err := s.cs.Header()
	if err != nil {
		return nil, s.fail(err)
	}
	return md, nil
}

func (s *stream) Trailer() metadata.MD { return s.cs.Trailer() }

func (s *stream) Endpoint() string {
	if s.cs == nil {
		return ""
	}
	if p, ok := peer.FromContext(s.cs.Context()); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// fail maps a stream error once; later calls see the same error.
func (s *stream) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended != nil {
		return s.ended
	}
	var header metadata.MD
	var trailer metadata.MD
	if s.cs != nil {
		header, _ = s.cs.Header()
		trailer = s.cs.Trailer()
	}
	e := s.b.mapError(s.ctx, err, header, trailer)
	if st, _ := status.FromError(err); s.ctx.Err() == nil && brokenTransport(st.Message()) {
		// grpc-go's own words for a connection that broke mid-stream,
		// after the headers came: the connection's, not the server's;
		// they name sockets, which belong in the log.
		e.Code, e.Message, e.Details = codes.Unavailable, "the connection to backend "+s.b.name+" broke mid-stream", nil
		e.FromServer, e.Application = false, false
	}
	e.Endpoint = s.Endpoint()
	s.ended = e
	return e
}

// brokenTransport recognises grpc-go's statuses for a stream whose
// connection failed under it.
func brokenTransport(msg string) bool {
	for _, m := range []string{"error reading from server", "stream terminated by RST_STREAM", "transport is closing",
		"connection reset by peer", "the connection is draining"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

package translate

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// StreamKind says which sides of a call carry a stream of messages.
type StreamKind uint8

const (
	// Unary is one message each way: not a stream.
	Unary StreamKind = iota
	// ServerStream is one request, then a stream of replies (a gRPC
	// server-streaming method, a NATS subscription).
	ServerStream
	// ClientStream is a stream of requests, then one reply.
	ClientStream
	// BidiStream streams both ways at once.
	BidiStream
)

func (k StreamKind) String() string {
	switch k {
	case ServerStream:
		return "server streaming"
	case ClientStream:
		return "client streaming"
	case BidiStream:
		return "bidirectional streaming"
	}
	return "unary"
}

// ClientSends reports whether the client sends a stream of messages.
func (k StreamKind) ClientSends() bool { return k == ClientStream || k == BidiStream }

// ServerSends reports whether the backend answers with a stream.
func (k StreamKind) ServerSends() bool { return k == ServerStream || k == BidiStream }

// StreamBackend is a backend that opens streams. Like Backend, it reports
// what happened as *Error facts and never chooses an HTTP status.
type StreamBackend interface {
	// OpenStream starts a stream of call.Method with call.Metadata; the
	// stream ends when ctx ends. call.Body, when not nil, is sent as the
	// first message (a server stream's request, a subscription's start).
	OpenStream(ctx context.Context, call *Call, kind StreamKind) (Stream, error)
}

// StreamMessage is one message a backend sent on a stream, still encoded.
type StreamMessage struct {
	Body []byte
	// ID identifies the message for a client that resumes (an SSE id:
	// a JetStream sequence); "" when the protocol has none.
	ID string
	// Subject is where a NATS message was published, "" elsewhere.
	Subject string
}

// Stream is one open stream, as the gateway (the client of the backend)
// sees it. Send and CloseSend are called from one goroutine, Recv from one
// other; Header waits for the backend's headers.
type Stream interface {
	// Send sends one encoded message. It fails (io.EOF for gRPC) once
	// the backend ended the stream: Recv then says how.
	Send(msg []byte) error
	// CloseSend says the client has no more messages.
	CloseSend() error
	// Recv returns the next message, io.EOF when the stream ended well,
	// or an *Error saying how it ended.
	Recv() (StreamMessage, error)
	// Header is the backend's response metadata, once it came (before
	// the first message), or an *Error when the stream failed first.
	Header() (metadata.MD, error)
	// Trailer is the backend's final metadata, once Recv has ended.
	Trailer() metadata.MD
	// Endpoint is the address the stream went to, when known.
	Endpoint() string
}

// StreamTranscoder is the transcoder of a streaming route: beside the
// request (Encode: the first message, from path, query and body) it turns
// each further message of the client's stream to the wire, and each of
// the backend's messages to JSON.
type StreamTranscoder interface {
	Transcoder
	Kind() StreamKind
	// EncodeMessage encodes one JSON message of the client's stream (an
	// NDJSON line, a WebSocket frame); the request's path variables and
	// query apply to each.
	EncodeMessage(req *Request, msg []byte) ([]byte, error)
	// DecodeMessage renders one of the backend's messages as JSON.
	DecodeMessage(msg StreamMessage) ([]byte, error)
}

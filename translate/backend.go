package translate

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// Call is one upstream call, already encoded for the wire. Body is sent as
// is: it was marshalled once, when the HTTP request was transcoded.
type Call struct {
	// Method is the protocol's name for the operation, e.g.
	// "/library.v1.LibraryService/GetBook" for gRPC.
	Method string
	// Body is the encoded request.
	Body []byte
	// Metadata travels beside the body (gRPC metadata, NATS headers).
	Metadata metadata.MD
	// Delivery says what the caller waits for.
	Delivery Delivery
	// Idempotent says sending the call twice has the effect of sending it
	// once (a GET, HEAD, PUT, DELETE or OPTIONS request, a route or method
	// marked so): only then may a failure that may have reached the
	// application be retried.
	Idempotent bool
	// Addressed says values from the request chose where the call goes (a
	// NATS subject filled from path variables): that nobody receives it
	// may be the request's doing, and must not open the breaker. A call
	// to a fixed destination that nobody receives says the backend is down.
	Addressed bool
}

// Delivery is what a call waits for.
type Delivery int

const (
	// DeliveryReply waits for the backend's reply (gRPC unary, Thrift
	// calls, NATS request/reply).
	DeliveryReply Delivery = iota
	// DeliveryOneway returns once the message is handed to the transport
	// (Thrift oneway, NATS publish); the Reply is empty.
	DeliveryOneway
	// DeliveryAck returns once the backend has stored the message (NATS
	// JetStream publish); the Reply carries the acknowledgement.
	DeliveryAck
)

// Reply is what the backend answered, still encoded.
type Reply struct {
	Body    []byte
	Header  metadata.MD
	Trailer metadata.MD
	// Endpoint is the upstream address that answered, when the backend
	// knows it, for logs.
	Endpoint string
	// Unconfirmed says the call was only buffered (a NATS publish while
	// reconnecting): it says nothing of the backend's health either way.
	Unconfirmed bool
}

// Backend sends one call upstream. Implementations do not retry and never
// choose an HTTP status: they report what happened as an *Error carrying
// facts (its gRPC-equivalent Code, Application, FromServer, Retryable,
// BackendHealthy, Endpoint), and the shared layer decides status, retries
// and breaker accounting. The deadline comes from ctx; with none, a
// backend applies its own bound, never waiting forever.
type Backend interface {
	Invoke(ctx context.Context, call *Call) (*Reply, error)
	// Close releases connections. Calls in flight may fail afterwards.
	Close() error
}

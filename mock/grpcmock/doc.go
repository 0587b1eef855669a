// Package grpcmock serves gRPC mock backends from protobuf descriptors and
// a mock.Stubs file, so that users can try the gateway with curl before
// they have a backend, and the gateway's end-to-end tests have one.
//
// One grpc.Server answers every service in the descriptors through a
// single unknown-service handler rather than generated code: the mock has
// no Go types for the user's messages, only descriptors. The handler reads
// raw bytes (a copy of translate/grpc's Codec passes *[]byte through, while
// still marshalling the proto.Message values of the built-in services), decodes
// them with dynamicpb, renders the request as proto3 JSON for mock.Stubs.Find
// and answers with the stub.
//
// Everything that can be checked without a request is checked in New: that
// each stub's method exists, that its match and template paths name real
// fields, that its response and streamed messages fit the output type,
// that its streaming keys suit the method's kind, that its error has a
// code and its details resolve, and that no stub is hidden by an earlier
// one; every problem is reported at once, as mock.Problems. Responses,
// messages and errors without templates are encoded once there.
//
// # Streams
//
// Streaming methods answer from the same stub files, with the keys
// stream, interval, repeat and echo (see mock.Stub):
//
//   - Server-streaming: the stub matching the request sends its stream (a
//     response alone is a stream of one; neither, no message) after its
//     delay, repeat times over, interval apart, then its error as the
//     final status if it has one (OK otherwise). Templates in the messages
//     render against the request.
//   - Client-streaming: the stub matching the first message answers once
//     the client has closed its side, with its response or error; with no
//     message at all only stubs without match answer. If no stub matches
//     the first message the call fails at once. Every reply carries the
//     trailer mock-messages-received (ReceivedTrailer), the number of
//     messages read, so that a user can see an upload arrived whole.
//   - Bidirectional: each message received is answered by the first stub
//     that matches it, with its stream or response (echo: the message
//     itself), repeat times, interval apart, after its delay; its error,
//     when set, ends the stream. The client closing its side ends it with
//     OK. Headers go with the first message sent: those of the stubs
//     matched before it; trailers are those of every stub matched.
//
// A message no stub matches ends the stream with UNIMPLEMENTED naming the
// method, as an unmatched unary call does. Delays and intervals end at
// once when the client gives up or the mock stops; a stream waiting for
// the client's next message ends when the mock stops too (UNAVAILABLE),
// so that GracefulStop does not wait for an idle stream. Client-streaming
// and bidirectional calls read in a goroutine of their own, which Stop
// and GracefulStop wait for.
//
// # Call logs
//
// Every unary call is logged ("grpcmock call") with the fields of
// mock.StubAttrs (matched, stub, stub_source, delay), method, code (the
// status name), duration, and error (the status message, for any code but
// OK). Every stream is logged once, at its end ("grpcmock stream"), with
// the same fields (stub is the one that answered last) and sent and
// received, the number of messages each way.
//
// # Faults
//
// Faults (mock.Fault, from the stub file or a control endpoint on Faults)
// apply once a call's request is read, before any stub. On a stream they
// apply once, at its start, never per message: a server-streaming call's
// request is read first, as a unary call's; the other kinds are decided
// before any message is read, so error_rate 1 fails a stream before any
// message either way. A drop closes the connection the call came on
// (found by its peer address; grpc-go does not give handlers their
// connection), so the client sees UNAVAILABLE from its transport; garbage
// is sent through the raw codec and fails the client's decoding
// (INTERNAL); an error is a status with the fault's code. A hang, or a
// fault's latency, ends when the client gives up or the mock stops, so
// GracefulStop does not wait for them. Calls a fault changed log fault and
// fault_latency.
//
// The server also runs gRPC server reflection (v1 and v1alpha, listing the
// mocked services) so that grpcurl and the gateway's reflection loader work
// against it, and the standard health service, reporting SERVING.
package grpcmock

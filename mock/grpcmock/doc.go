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
// each stub's method exists and is unary, that its match and template paths
// name real fields, that its response fits the output type, that its error
// has a code and its details resolve, and that no stub is hidden by an
// earlier one; every problem is reported at once, as mock.Problems.
// Responses and errors without templates are encoded once there.
//
// Every call is logged with the fields of mock.StubAttrs (matched, stub,
// stub_source, delay), method, code (the status name), duration, and error
// (the status message, for any code but OK).
//
// Faults (mock.Fault, from the stub file or a control endpoint on Faults)
// apply once a call's request is read, before any stub: a drop closes the
// connection the call came on (found by its peer address; grpc-go does not
// give handlers their connection), so the client sees UNAVAILABLE from its
// transport; garbage is sent through the raw codec and fails the client's
// decoding (INTERNAL); an error is a status with the fault's code. A hang,
// or a fault's latency, ends when the client gives up or the mock stops,
// so GracefulStop does not wait for them. Calls a fault changed log fault
// and fault_latency.
//
// The server also runs gRPC server reflection (v1 and v1alpha, listing the
// mocked services) so that grpcurl and the gateway's reflection loader work
// against it, and the standard health service, reporting SERVING.
package grpcmock

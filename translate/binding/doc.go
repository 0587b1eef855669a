// Package binding transcodes one google.api.http binding between HTTP and a
// protobuf method known only by its descriptors (dynamicpb, no generated
// code): Rule.Request builds and marshals the request message from the path
// variables, the query string and the body, and Rule.Reply renders the
// backend's reply as JSON, or as raw bytes for google.api.HttpBody.
//
// Everything that depends only on the binding (the fields path variables,
// body and response_body name, whether a body is HttpBody, the protojson
// options) is resolved once, in NewRule, so that a request does only its own
// work, and a Rule is immutable and shared by all requests of its route.
//
// The defaults follow grpc-gateway v2, so that clients moving from it see the
// same JSON and the same accepted inputs: json_name and proto names are both
// accepted, unknown body fields and query parameters are ignored, query
// parameters reach every field the body and path do not bind, with dotted
// paths, repeated keys for repeated fields (in query-string order) and
// key[mapkey] for maps, the string forms of well-known types, Struct, Value
// and ListValue as JSON text, and durations as Go prints them. A query
// parameter never changes a field the path or the body binds, nor a
// message holding one. Where grpc-gateway is lax in ways that hide client
// mistakes this package is stricter, and says so in one INVALID_ARGUMENT
// error carrying a google.rpc.BadRequest violation per problem: a
// non-repeated field set twice, or a repeated one under both its names, is
// rejected rather than taken in an arbitrary order; numbers take proto3
// JSON's forms only (integers in base 10, range-checked; no hexadecimal
// floats or Inf); a dotted path past a value is rejected; and with
// Options.Strict every unknown body field and query parameter is named.
//
// Errors are *translate.Error: 400 for anything wrong with the input, 415
// for a body that is not JSON where JSON is expected, and INTERNAL for a
// reply that does not decode, as that is the backend's fault, not the
// client's.
package binding

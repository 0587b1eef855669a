// Package thriftmock serves Thrift mock backends from an IDL and a
// mock.Stubs file, so that users can try the gateway's Thrift routes with
// curl before they have a backend, and the gateway's tests have one.
//
// The mock has no generated code, only the IDL model: it reads CALL and
// ONEWAY messages (binary or compact protocol, framed or buffered
// transport, optionally multiplexed) for every function of the service,
// inherited ones included, decodes the arguments with translate/thrift's
// dynamic codec into the JSON the gateway's rules describe (a map keyed by
// argument name, i64 as strings), asks mock.Stubs.Find for a stub, and
// answers REPLY with the stub's result or declared exception.
//
// # Stubs
//
// A stub's method is "Service.function" or "Service/function"; the service
// may be written "prefix.Service", and an inherited function under the name
// of the service that declares it. Match paths start with an argument name
// ("req.user.id", "ids.0"). The response is the function's return value in
// the gateway's JSON (void functions take none). Responses, and an error's
// message and fields, may use the request templates of package mock.
//
// An error is, in order:
//
//   - a declared exception, named by exception ("InvalidOperation",
//     "shared.InvalidOperation", or "thrift/calc.InvalidOperation", the
//     form the gateway shows in @type), with fields as its fields. It has
//     no code: the gateway takes a Thrift exception's status from the
//     route's exceptions: or the IDL's (http.status), not from the backend.
//     The message is sent in the exception's message, msg, what or why
//     string field, the one the gateway shows as the error's message; an
//     exception without such a field cannot carry it, and a stub that
//     gives one anyway is refused, as is a message that fields also set
//     differently. Stubs written before exception: may still name the
//     exception by details[0]["@type"], with the other keys of details[0]
//     as its fields (any code is then ignored), and stubs built in Go by
//     the code.
//   - a TApplicationException, named by code: a type name (UNKNOWN_METHOD,
//     INTERNAL_ERROR, VALIDATION_FAILED, ... in stubs built in Go; a stub
//     file takes gRPC codes only), or the gRPC codes that have one: UNKNOWN,
//     UNIMPLEMENTED (UNKNOWN_METHOD), INTERNAL (INTERNAL_ERROR) and
//     INVALID_ARGUMENT (VALIDATION_FAILED). Other gRPC codes are refused: a
//     Thrift service says "not found" with a declared exception.
//
// A declared exception in a stub file:
//
//	stubs:
//	  - method: Calculator.calculate
//	    match: {req.w.num2: 0}
//	    error:
//	      exception: InvalidOperation
//	      message: cannot divide by zero      # sent in InvalidOperation.why
//	      fields: {whatOp: "{{request.req.w.num1}}"}
//
// New checks all of it, reporting every problem at once (mock.Problems),
// and encodes every response and exception without templates once. A
// oneway function's stub may match and delay but not answer. A call no stub
// matches gets UNKNOWN_METHOD ("no stub matches Service/function"), which
// the gateway shows as 501, as grpcmock's UNIMPLEMENTED; a template whose
// value does not fit its field gets INTERNAL_ERROR.
//
// Faults (mock.Fault, from the stub file or a control endpoint on Faults)
// name a function as stubs do, or by its bare name, and apply before the
// arguments are decoded: a drop closes the connection without a reply, as
// does an error with the code UNAVAILABLE (the default: a Thrift server
// that cannot serve closes the connection); other error codes are a
// TApplicationException type or a gRPC code that has one, sent as the
// EXCEPTION reply. Garbage is a frame (or, buffered, bytes) that no Thrift
// protocol reads as a message. A hang sends nothing and holds the
// connection, reading and ignoring what comes, until the client closes it
// or the mock stops.
//
// Every call is logged with the fields of mock.StubAttrs (matched, stub,
// stub_source, delay), method, outcome ("reply", "exception
// InvalidOperation", "application exception UNKNOWN_METHOD", "oneway"),
// duration, and error (the message sent back, if any).
package thriftmock

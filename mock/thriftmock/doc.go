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
// answers REPLY with the stub's result or declared exception. Every call
// is logged: method, outcome, stub index and source, duration.
//
// # Stubs
//
// A stub's method is "Service.function" or "Service/function"; the service
// may be written "prefix.Service", and an inherited function under the name
// of the service that declares it. Match paths start with an argument name
// ("req.user.id", "ids.0"). The response is the function's return value in
// the gateway's JSON (void functions take none); it may use the request
// templates of package mock.
//
// An error is, in order:
//
//   - a declared exception, named by the code ("InvalidOperation" or
//     "shared.InvalidOperation") with details[0] as its fields; or by
//     details[0]["@type"] ("InvalidOperation", "thrift/calc.InvalidOperation",
//     the form the gateway shows), whatever the code. The second form is the
//     one mock.ParseStubs accepts, since its codes are gRPC codes (see the
//     example below). The stub's message fills the exception's message,
//     msg, what or why field unless details[0] sets it.
//   - a TApplicationException: a type name (UNKNOWN_METHOD, INTERNAL_ERROR,
//     VALIDATION_FAILED, ...), or the gRPC codes that have one: UNKNOWN,
//     UNIMPLEMENTED (UNKNOWN_METHOD), INTERNAL (INTERNAL_ERROR) and
//     INVALID_ARGUMENT (VALIDATION_FAILED). Other gRPC codes are refused:
//     a Thrift service says "not found" with a declared exception. A
//     declared exception wins when its name is also a code's spelling
//     ("NotFound").
//
// A declared exception in a stub file:
//
//   - method: Calculator.divide
//     match: {b: 0}
//     error:
//     code: FAILED_PRECONDITION        # not sent: the gateway takes the status from the IDL
//     message: cannot divide by zero   # fills InvalidOperation.why
//     details:
//   - "@type": InvalidOperation
//     whatOp: 4
//
// New checks all of it, and encodes every response and exception without
// templates once. A oneway function's stub may match and delay but not
// answer. A call no stub matches gets UNKNOWN_METHOD ("no stub matches
// Service/function"), which the gateway shows as 501, as grpcmock's
// UNIMPLEMENTED.
package thriftmock

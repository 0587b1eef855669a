// Package mock holds the protocol-neutral half of Switchboard's mock
// backends: the stub file format, its strict loader, request matching and
// the call-log fields. The protocol halves (mock/grpcmock, mock/thriftmock,
// mock/natsmock) decode a request into a JSON-like map, ask Find for a stub,
// and encode the stub's response or error in their own wire format. Keeping
// the format here means a user learns one stub language for every backend
// protocol.
//
// # Stub file
//
// A stub file is YAML with a top-level key stubs, holding a list that is
// tried in file order; the first stub whose method and match both fit wins.
// It may also hold faults and a seed (see Faults).
//
//	stubs:
//	  - method: library.v1.LibraryService/GetBook   # also /pkg.Svc/M or pkg.Svc.M
//	    match:                                      # optional; all keys must match
//	      name: shelves/1/books/1
//	    response:                                   # the response in proto3 JSON
//	      name: shelves/1/books/1
//	      title: The Dispossessed
//	    headers: {x-mock: "true"}                   # optional response metadata
//	    trailers: {x-served-by: mock}
//	    delay: 200ms                                # optional, before replying
//	  - method: library.v1.LibraryService/GetBook   # no match: a fallback
//	    error:
//	      code: NOT_FOUND                           # name, CamelCase or number
//	      message: book not found
//	      details:
//	        - "@type": type.googleapis.com/google.rpc.ErrorInfo
//	          reason: BOOK_NOT_FOUND
//	          metadata: {name: "{{request.name}}"}
//
// A Thrift stub's error may instead name a declared exception, with no
// code (Thrift exceptions carry none):
//
//	error:
//	  exception: InvalidOperation               # or shared.X, thrift/calculator.X
//	  message: cannot divide by zero            # sent in its message/msg/what/why field
//	  fields: {whatOp: "{{request.w.op}}"}      # its other fields
//
// Top-level keys starting with x- are ignored, a home for YAML anchors
// (x-slow: &slow {delay: 2s}, then <<: *slow in a stub).
//
// Loading is strict because a typo in a mock silently changes what a demo
// shows: unknown or repeated keys, bad methods, codes and delays, malformed
// templates, stubs with both response and error, and exceptions with a code
// are rejected when the file is loaded rather than when a call arrives.
// Every problem is reported at once, as Problems: one "file:line: key:
// problem" per line, in file order, at most MaxProblems of them. The
// loader returns the stubs worth checking further beside its Problems (a
// stub with only an unknown key, say), so that a protocol mock checks them
// against its schema too (a method or field that does not exist, a
// response that does not fit, a stub an earlier one hides) and
// JoinProblems gives the user the whole list in one run. A stub whose
// values failed to load is checked against the schema once they load.
//
// # Matching
//
// Match maps a dotted path into the request to an expected value. Path
// segments are field names in either spelling (page_count or pageCount; the
// protocol mock resolves them against its schema, and Find falls back to
// converting snake_case and lowerCamelCase), map keys, or list indexes
// (tags.0). A map key containing a dot cannot be addressed.
//
//   - Scalars are compared by their JSON text, so 5 matches "5": proto3 JSON
//     writes 64-bit integers as strings and nobody should have to remember
//     which fields those are. Numbers are normalised (5.0 is 5) but strings are
//     not ("5.0" is not 5).
//   - An object matches when every key it lists matches; keys it does not
//     list are ignored, because proto3 requests carry every field and a stub
//     should only have to name the ones it cares about.
//   - A list matches a list of the same length whose elements match in order.
//   - null matches a missing value or null.
//
// # Templates
//
// A string anywhere in a response, or in an error's message, details or
// fields, that is exactly {{request.some.path}} is replaced by that request
// value, keeping its JSON type (a number stays a number, an object stays an
// object); {{request}} is the whole request. A path that is not in the
// request yields null, which proto3 JSON reads as "unset"; an error message
// takes the value as text ("" when missing). Templates are deliberately
// this small: enough for CreateBook to echo the posted title, not a
// language. A string that merely contains a template ("Hello
// {{request.name}}") is rejected at load time rather than sent literally.
//
// # Faults
//
// A stub file may also list faults, which make a method slow or broken on
// purpose so that a user can rehearse an outage, and a seed:
//
//	seed: 42                                  # optional: the same draws every run
//	faults:
//	  - method: library.v1.LibraryService/GetBook   # Thrift: Service.function or function;
//	                                                # NATS: subject: with a subject pattern
//	    latency: 50ms-200ms                   # or 200ms; drawn uniformly per call
//	    hang_rate: 0.05                       # each rate a probability from 0 to 1
//	    drop_rate: 0.05
//	    garbage_rate: 0.05
//	    error_rate: 0.2
//	    error_code: UNAVAILABLE               # the default
//
// For each call the first fault for its method (for NATS, the first whose
// subject pattern fits) applies, before any stub is consulted: its latency
// is waited (a range is drawn first), then each nonzero rate is drawn in
// the fixed order hang, drop, garbage, error, and the first that hits
// decides the call; when none hits, the stubs answer as usual. The rates
// are independent, so hang 0.5 and error 0.5 fail three calls in four.
// What each outcome means on the wire is the protocol mock's:
//
//   - hang: no answer until the client gives up or the mock stops.
//   - drop: the connection the call came on is closed without an answer
//     (gRPC, Thrift); NATS has no connection of the requester's to cut,
//     so there is no reply.
//   - garbage: bytes that are no valid message (Garbage): protobuf with an
//     invalid wire type, not JSON, not a Thrift message.
//   - error: the error_code, a gRPC code (name or number) by default
//     UNAVAILABLE; Thrift takes TApplicationException types and the gRPC
//     codes that have one, and UNAVAILABLE closes the connection; NATS
//     takes HTTP-like statuses from 400 to 599 too, and sends a micro error.
//
// The draws come from one seeded source per mock (PCG): a seed in the file
// (or given to the control endpoint) makes a run repeatable; without one, a
// random seed is chosen and reported. Faults are checked like stubs, every
// problem at its file:line: rates outside 0 to 1, bad latencies, unknown
// keys, and, against the schema, methods that do not exist, codes the
// protocol cannot send and a method given two faults.
//
// A FaultTable holds a running mock's faults; ControlHandler serves it
// over HTTP (GET, PUT, POST and DELETE /faults) so that faults can be
// changed with curl while the mock runs: `switchboard mock ... --control
// ADDR`.
//
// # Call logs
//
// The protocol mocks log every call with the same fields for the same
// facts (see StubAttrs): matched, stub (its index, -1 for none),
// stub_source ("file:line"), delay and duration (Go duration strings such
// as "200ms", never raw nanoseconds) and error (what was sent back, if an
// error), beside their own method or subject and code or outcome. A call a
// fault changed also logs fault (hang, drop, garbage, "error CODE", or
// latency) and fault_latency (see FaultDecision.Attrs).
package mock

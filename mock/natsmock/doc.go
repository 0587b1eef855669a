// Package natsmock answers NATS requests from stub files, so that the
// gateway's NATS routes can be tried with curl before a real service exists,
// and so that its tests have a service to talk to.
//
// Stubs use the shared format of package mock (match, response templates,
// error, headers, delay) with a NATS subject where gRPC stubs have a method,
// under subject: (or method:). Subjects may hold wildcards. Load them with
// LoadStubs or ParseStubs: the shared loader accepts only gRPC method names.
//
//	stubs:
//	  - subject: orders.*.get
//	    match: {tokens.1: "42"}          # orders.42.get
//	    response: {id: "{{request.tokens.1}}", status: SHIPPED}
//	    headers: {x-order-version: "3"}
//	  - subject: orders.*.get
//	    error: {code: 404, message: order not found}
//
// # What a stub sees
//
// Match keys and templates see the request body's fields at the top (as in
// the gRPC mock), plus subject (the full subject), tokens (a list, so
// tokens.1 is the second token) and body (the whole body, whatever its JSON
// type; a body that is not JSON is a string). These three shadow body fields
// of the same name, which body.<name> still reaches. A typed subject (see
// TypesForSubject) decodes the protobuf request and shows it as proto3 JSON
// with proto field names and unpopulated fields, like the gRPC mock.
//
// # What a stub answers
//
// A response is sent as JSON, or as protobuf binary of the Reply type for a
// typed subject; no response is {} (an empty message). An error follows the
// NATS micro protocol: the headers Nats-Service-Error (the message) and
// Nats-Service-Error-Code (an HTTP-like status: the stub's code when it is a
// number from 400 to 599, or its gRPC code mapped to HTTP, NOT_FOUND to 404),
// with the details, if any, as a JSON list in the data. Stub headers are
// reply headers, except Nats-* ones, which belong to the protocol; NATS has
// no trailers. Delays run beside the subscription, so a slow stub does not
// hold up other requests.
//
// An error's message and details may use templates, as responses do; an
// error names no exception (that is Thrift's).
//
// A request that no stub matches gets a 501 micro error naming the subject
// (the gRPC mock's UNIMPLEMENTED); a typed request that does not decode, 400.
//
// Mistakes in a stub file are reported all at once, as mock.Problems
// ("file:line: key: problem"): ParseStubs's, then New's or Check's, which
// a command runs before it connects. Every call is logged with the fields
// of mock.StubAttrs (matched, stub, stub_source, delay), subject, code (the
// HTTP-like status of an error answer, 0 for a reply), duration, and error
// (the message sent back, if any).
//
// Faults (mock.Fault, from the stub file or a control endpoint on Faults)
// name a subject pattern with subject: (or method:) that must overlap a
// stub's, and are tried in order: the first whose pattern fits a request
// applies, before the stubs. A hang and a drop both send no reply (a
// responder has no connection of the requester's to cut), so the
// requester waits out its timeout; garbage replies with bytes that are
// neither JSON nor protobuf; an error is a micro error with the fault's
// code (an HTTP-like status, or a gRPC code mapped to one; UNAVAILABLE,
// 503, by default). A fault's latency runs beside the subscription, as
// delays do.
//
// The Responder is a NATS micro service named "natsmock": it answers the
// $SRV.PING, INFO and STATS discovery subjects too. Overlapping subjects
// (orders.*.get beside orders.42.get) are answered once: the first stub in
// file order whose subject and match fit wins.
package natsmock

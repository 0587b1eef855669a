// Package thrift is the Thrift backend protocol: a dynamic codec that
// converts JSON to and from the binary and compact protocols using the IDL
// model the gateway parses at run time (no generated code), a backend with
// a bounded connection pool per endpoint, the route target that turns an
// HTTP request into a call and the reply into JSON, and the routes an IDL
// declares with CloudWeGo/Hertz annotations.
//
// # JSON mapping
//
// These rules hold both ways unless a direction is named. "Request" is what
// a client sends (and what the mock decodes); "reply" is what a backend
// returns.
//
//   - Field names are the IDL's, exactly: no camelCase or snake_case
//     conversion. A request object is keyed by argument name (body "*") or
//     is one argument's value (body "<arg>").
//   - Unknown fields in a request are a 400 naming each of them: Thrift
//     has no "unknown field" a client could mean on purpose, so a typo is
//     reported rather than dropped. Unknown field ids in a reply (a backend
//     ahead of the gateway's IDL) are skipped, as generated code skips them,
//     and so are reply fields whose wire type differs from the IDL's.
//   - A field given twice in one JSON object, or set both by the body and
//     by a query parameter or header, is a 400. A path variable overrides
//     the body silently, as in grpc-gateway.
//   - null is the same as leaving a field out. It is not a value: null as
//     a list element, set element, map key or map value is a 400.
//   - Missing fields: a required field is a 400 naming its path. A field
//     with an IDL default value, required or default-requiredness, gets the
//     default (structs, lists, sets and maps too; a struct default's
//     missing fields get their own defaults). An optional field stays unset
//     even when it has a default, since receivers fill their own defaults
//     in and "unset" is what optional is for; union members never get
//     defaults. Other fields left out are not sent.
//   - bool: true or false. In URL and header values, what
//     strconv.ParseBool accepts (true, false, 1, 0, t, f, ...).
//   - i8 (byte), i16, i32: JSON numbers in the reply. A request accepts an
//     integer literal or a string holding one ("42"); a fraction or an
//     exponent (1.0, 1e3) is a 400. Out of range is a 400 naming the field
//     and the range: 300 for an i8 says "300 is out of range for i8 (-128
//     to 127)".
//   - i64: a JSON string in the reply ("9007199254740993"), as grpc-gateway
//     and proto3 JSON render 64-bit integers, because JavaScript numbers
//     lose precision above 2^53. A request accepts a number or a string;
//     either way the digits are parsed exactly, never through float64.
//   - double: a JSON number. NaN and the infinities are the strings "NaN",
//     "Infinity" and "-Infinity" both ways (proto3 JSON's spellings); a
//     request may also give a number as a string ("1.5"). A number beyond
//     double's range (1e400) is a 400; one too small becomes 0.
//   - string: a JSON string. Request strings must be UTF-8 (a 400
//     otherwise); a reply string that is not UTF-8 has each bad byte shown
//     as U+FFFD, as encoding/json does, so the reply is still JSON.
//   - binary: base64. Replies use the standard alphabet with padding;
//     requests may use the standard or URL-safe alphabet, padded or not.
//   - uuid: the canonical "00112233-4455-6677-8899-aabbccddeeff", lower
//     case in replies, either case in requests.
//   - enum: the value's name. A request may give the number instead, but
//     only of a declared value (anything else is a 400: the IDL is the
//     contract). A reply's value the IDL does not declare is shown as its
//     number, so a newer backend does not break the gateway.
//   - list and set: JSON arrays. Duplicate set elements in a request are a
//     400 (compared by their encoding, for every element type).
//   - map with string, integer (i8 to i64) or enum keys: a JSON object; the
//     keys are converted (integers must be integer literals, enums names or
//     declared numbers) and duplicates after conversion ("-0" and "0") are
//     a 400. Maps with any other key type (bool, double, binary, uuid,
//     struct, container) are arrays of {"key": k, "value": v} objects.
//   - struct and exception: a JSON object of its fields. Replies show the
//     fields that were sent, in the order they were sent (field-id order for
//     generated code); a field absent from the reply is omitted, IDL
//     defaults are not filled in, and required fields are not checked. A
//     field id sent twice in a reply is an error.
//   - union: an object with exactly one field set, both ways: zero or two
//     in a request is a 400, in a reply an invalid reply (502).
//   - Depth: structs, lists, sets and maps may nest Binding.MaxDepth levels
//     (64 by default) inside an argument or the result, in requests and
//     replies; a map entry in the array form counts one more level.
//   - Size: a reply renders to at most 64 MiB of JSON; the backend's
//     MaxMessageBytes bounds what it reads.
//
// A function's reply is the JSON of its return value: an object, array,
// string, number or bool as the type says. A void function answers {}.
// A oneway function answers 202 Accepted with {} once the message is
// written: nothing comes back to wait for.
//
// # Requests and errors
//
// Binding says where arguments come from: the body (a JSON object keyed by
// argument name, or one argument's value), path variables, query
// parameters and headers, each naming an argument path ("req.page"). URL
// and header values set scalars, and lists or sets of scalars when repeated.
// A body must be application/json (any parameters, charset UTF-8 if given,
// or no Content-Type at all): anything else is 415. An unknown query
// parameter is a 400. Every problem with a request is reported at once, as
// google.rpc.BadRequest field violations. The binary and compact protocols
// have no headers of their own, so request headers reach the backend only
// where a binding names them (api.header), and no metadata comes back.
//
// A declared exception becomes the error body: its message is the
// exception's message, msg, what or why string field if set, else its
// name; its one detail is the exception's fields with "@type":
// "thrift/<file prefix>.<Name>". Its HTTP status is Binding.ExceptionStatus
// (by name or prefix.Name), else the exception's annotation http.status
// (or api.http_code), else 500; the gRPC code in the body follows the
// status (translate.CodeForHTTPStatus: 404 NOT_FOUND, 409 ABORTED, 500
// UNKNOWN, ...).
//
// A reply with neither the return value nor a declared exception is an
// INTERNAL error with status 502, the MISSING_RESULT of generated clients,
// not the zero value Apache's Go client returns. Everything else that can
// go wrong with a call:
//
//	what happened                                     code               HTTP
//	all connections busy until the deadline           DEADLINE_EXCEEDED  504
//	the deadline passed (connect, write or read)      DEADLINE_EXCEEDED  504
//	the client went away                              CANCELLED          499
//	connect refused or timed out, write failed        UNAVAILABLE        503
//	the connection broke before the reply ended       UNAVAILABLE        502
//	the reply is malformed, over a limit, or has the
//	  wrong sequence id, method name or message type  INTERNAL           502
//	the reply does not fit the IDL (a union with two
//	  members, a list of the wrong element type)      INTERNAL           502
//	TApplicationException UNKNOWN_METHOD              UNIMPLEMENTED      501
//	TApplicationException VALIDATION_FAILED           INVALID_ARGUMENT   400
//	TApplicationException INTERNAL_ERROR and the
//	  protocol ones (BAD_SEQUENCE_ID, ...)            INTERNAL           502
//	TApplicationException UNKNOWN or another type     UNKNOWN            502
//
// A TApplicationException's message is passed on after the gateway's own,
// as a gRPC backend's status message is. Error messages name the backend,
// never its address; the underlying error, address included, is the
// error's Cause, for logs.
//
// # Backend
//
// Calls are written as one message (CALL, or ONEWAY for oneway functions,
// as C++ and Java write them) with a per-connection sequence id; the reply's
// sequence id and method name are checked. Each connection carries one call
// at a time; each endpoint has at most Options.PoolSize of them, and
// endpoints are used round robin, passing over one that refused a
// connection in the last second. Every read and write has a deadline, the
// call's or 30 seconds, and cancelling the call interrupts it. A connection
// is discarded after any error; an idle one is checked before reuse (a
// non-blocking read, where the platform has one) and retired after a
// minute. There are no retries: the resilience layer decides.
//
// The codec does not use Apache's TProtocol or TTransport: it encodes a
// request into one buffer and decodes a reply from one, and checks every
// length prefix against what can still arrive before it drives a loop or
// an allocation. Apache's TConfiguration limits map onto
// Options.MaxMessageBytes: a frame larger than it is refused before any
// allocation; a buffered message, and every string, binary and container
// count, must fit in it; the buffer grows only as bytes actually arrive,
// so a 2 GiB frame announced by a hostile server costs nothing.
//
// # Annotated routes (CloudWeGo/Hertz dialect)
//
// AnnotatedRoutes reads the annotations Hertz's hz tool uses:
//
//	struct GetUserReq {
//	  1: i64 id (api.path = "id")
//	  2: string fields (api.query = "fields")
//	  3: string token (api.header = "X-Token")
//	  4: string note (api.body = "note")
//	}
//	service Users {
//	  User getUser(1: GetUserReq req) (api.get = "/v1/users/:id")
//	  User putUser(1: GetUserReq req) (api.put = "/v1/users/:id")
//	}
//
// The rules:
//
//   - Function annotations api.get, api.post, api.put, api.patch,
//     api.delete, api.head and api.options declare a route each (several
//     may be given). Paths use :name for a segment and *name for the rest
//     of the path, which become {field} and {field=**}. api.any is refused.
//   - When the function takes one struct argument, that struct's fields
//     bind: a path variable to the field whose api.path names it, else the
//     field of that name; api.query = "name" to that query parameter;
//     api.header = "X-Name" to that header. POST, PUT and PATCH, and any
//     route whose struct has an api.body field, take the rest from the JSON
//     body, which is the struct (Binding.Body = the argument's name); on
//     other methods the fields nothing binds are query parameters under
//     their own names. api.body may not rename a field (JSON keys are IDL
//     names), and api.form, api.cookie, api.raw_body and api.file_name are
//     refused.
//   - A function taking anything else binds path variables to arguments by
//     name, and POST, PUT and PATCH take a body keyed by argument name.
//   - A function with no route annotation gets POST /<Service>/<function>,
//     body "*".
package thrift

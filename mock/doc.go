// Package mock holds the protocol-neutral half of Switchboard's mock
// backends: the stub file format, its strict loader, and request matching.
// The protocol halves (mock/grpcmock today; Thrift and NATS later) decode a
// request into a JSON-like map, ask Find for a stub, and encode the stub's
// response or error in their own wire format. Keeping the format here means a
// user learns one stub language for every backend protocol.
//
// # Stub file
//
// A stub file is YAML with one top-level key, stubs, holding a list that is
// tried in file order; the first stub whose method and match both fit wins.
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
//
// Top-level keys starting with x- are ignored, a home for YAML anchors
// (x-slow: &slow {delay: 2s}, then <<: *slow in a stub).
//
// Loading is strict because a typo in a mock silently changes what a demo
// shows: unknown keys, bad methods, bad codes, bad delays, malformed
// templates and stubs with both response and error are rejected with
// file:line, when the file is loaded rather than when a call arrives.
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
// # Response templating
//
// A string anywhere in a response that is exactly {{request.some.path}} is
// replaced by that request value, keeping its JSON type (a number stays a
// number, an object stays an object); {{request}} is the whole request. A
// path that is not in the request yields null, which proto3 JSON reads as
// "unset". Templates are deliberately this small: enough for CreateBook to
// echo the posted title, not a language. A string that merely contains a
// template ("Hello {{request.name}}") is rejected at load time rather than
// sent literally.
package mock

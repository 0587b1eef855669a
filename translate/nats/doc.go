// Package nats is the NATS backend protocol: one reconnecting connection per
// backend (or an embedded server with JetStream, for demos and tests) and
// the route target that turns an HTTP request into a NATS message.
//
// # Modes
//
// A Route sends to a subject built from a template, "orders.{id}.get", whose
// variables are the route's path variables. Values are checked after
// percent-decoding: an empty value, one longer than MaxValueBytes, or one
// holding '.', '*', '>', whitespace or a control character is a 400 naming
// the variable, so that no caller can reach a subject, or a wildcard, the
// route does not declare (orders.%2A.get, orders.a.b.get, orders.%00.get).
// When the first token is a variable, values starting with '$' or naming
// _INBOX are refused too, and a rendered subject is at most MaxSubjectBytes.
//
//   - request (default): NATS request/reply. The reply's data is the HTTP
//     body, with the reply's Content-Type header, else application/json when
//     the route is typed or the data is JSON, else application/octet-stream
//     (an empty reply has no Content-Type).
//   - publish: core NATS publish. 202 {"subject": "<subject>"} once nats.go
//     has taken the message into its buffer. That is all core NATS promises:
//     no subscriber may exist, and a message buffered while reconnecting is
//     lost if the reconnect fails. Use jetstream when that matters.
//   - jetstream: JetStream publish that waits for the stream's
//     acknowledgement: 202 {"stream": "ORDERS", "seq": 7, "duplicate": false}.
//     A client never hears "accepted" for a message the stream did not
//     acknowledge. The Idempotency-Key header becomes the Nats-Msg-Id, so a
//     retried POST is stored once (the second ack says "duplicate": true)
//     within the stream's duplicate window (2 minutes by default). Keys are
//     per stream, not per client: use UUIDs. Without a key the gateway sends
//     a fresh id per HTTP request, so the resilience layer's own retries of
//     one request are stored once as well.
//   - subscribe (GET only): a stream of every message published on the
//     subject, until the client goes; see Subscriptions.
//
// # Subscriptions
//
// A subscribe route's subject may hold the wildcards * (a whole token) and
// > (the last token) in its literal text; path variables still fill one
// token each and can never be wildcards, so no client widens its
// subscription. Each message is sent as a JSON envelope,
//
//	{"subject":"orders.42.created","sequence":7,"data":{"total":5}}
//
// with data the payload when it is JSON (compacted), or, on a typed route
// (reply: a message type), the payload decoded from protobuf; any other
// payload (not JSON, not UTF-8, empty, not of the type) is
// "data_base64" (standard base64) instead. Headers are not sent.
//
// Without stream: it is a core NATS subscription: messages published from
// the moment it opened, up to max_pending (default 1000, at most 100000)
// and PendingBytesLimit buffered for a slow client; once one would be
// dropped, the stream ends with RESOURCE_EXHAUSTED "the client reads too
// slowly: messages were dropped". A lost connection ends it with
// UNAVAILABLE (what is published meanwhile is missed). It cannot start
// from a position: start_seq, start_time or deliver is a 400, and
// Last-Event-ID is ignored (browsers resend it on every reconnect).
//
// With stream: NAME it is a JetStream ordered consumer on that stream,
// filtered by the subject, pulled one message at a time as the client
// takes them (a slow client holds the consumer back; the gateway buffers
// nothing). Each message's "sequence" is its stream sequence, also its SSE
// id. It starts from Last-Event-ID: N (after N: a reconnecting
// EventSource misses nothing and sees nothing twice), else from one of
// start_seq=N (at N, from 1), start_time=RFC 3339 (the first message
// stored at or after it) or deliver=all|last|new (new by default). Two of
// the query parameters, a repeated one, or a malformed value are a 400
// naming it; Last-Event-ID takes precedence over the query, which stays
// the same on every reconnect. The consumer is deleted as soon as the
// stream ends (or by the server after 5 minutes, if the gateway could not).
// A missing stream is 503 UNAVAILABLE, as for a jetstream publish.
//
// # Payloads
//
// Bodies must be JSON (Content-Type application/json, any UTF-8 charset, or
// none; else 415), are validated (400 "request body is not valid JSON") and
// may nest at most Route.MaxDepth levels (64). A Raw route passes any body
// through and forwards its Content-Type as a NATS header. A typed route
// (Route.Request/Reply descriptors) sends protobuf binary: the JSON body is
// read with protojson (400 naming the problem), and the reply is decoded and
// rendered as proto3 JSON with unpopulated fields, compact; a reply that does
// not decode is 502 with code INTERNAL.
//
// # Headers
//
// X-Request-Id (the id the gateway's middleware settled on), Traceparent,
// Tracestate and the Route.Headers allow-list travel as NATS headers. Reply
// headers that act for the gateway's whole origin in a browser (Set-Cookie,
// Access-Control-*, Location, HSTS, CSP, ...) never come back: any NATS
// client allowed to answer a subject could set them. Nats-*
// names cannot be allow-listed: JetStream reads them as instructions. Reply
// headers come back as HTTP headers except the Nats-* namespace (including
// the micro protocol's Nats-Service-Error and Nats-Service-Error-Code), NATS
// status headers, hop-by-hop and framing headers, the ones the gateway owns
// (Content-Type, Date, Server, X-Request-Id), and any name or value HTTP
// cannot carry.
//
// # Status codes
//
//	200  request mode: the reply; subscribe mode: the stream
//	202  publish and jetstream modes: taken / stored
//	400  INVALID_ARGUMENT    bad path variable, body not JSON or not the
//	                         request type, too deep, bad Idempotency-Key;
//	                         micro error code 400 (or 422)
//	413  INVALID_ARGUMENT    body over the HTTP limit or the server's
//	                         max_payload (1 MiB by default)
//	415  INVALID_ARGUMENT    Content-Type not JSON (non-raw routes)
//	4xx/5xx                  micro error: Nats-Service-Error-Code as the
//	                         status, Nats-Service-Error as the message, the
//	                         code from translate.CodeForHTTPStatus (404
//	                         NOT_FOUND, 409 ABORTED, 500 INTERNAL, 503
//	                         UNAVAILABLE, ...); a missing or non-4xx/5xx code
//	                         is 500 UNKNOWN. Reply data that is a JSON object
//	                         with "@type", or a list of them, becomes details
//	502  INTERNAL            typed reply that does not decode; something that
//	                         is not a stream acknowledged a jetstream publish
//	503  UNAVAILABLE         no responders (request); no stream for the
//	                         subject (jetstream); connection closed, draining,
//	                         not yet connected since start (nats.go cannot
//	                         buffer messages with headers before it has seen a
//	                         server), or reconnecting with its buffer full
//	504  DEADLINE_EXCEEDED   no reply, or no acknowledgement, before the
//	                         deadline (the resilience layer's timeout, or
//	                         DefaultTimeout, 30s, when the context has none).
//	                         A server that dies mid-request ends here too, at
//	                         the deadline: nats.go keeps the request open
//	                         while it reconnects, as it does requests made
//	                         while reconnecting (buffered). For jetstream
//	                         the message may or may not be stored; retrying
//	                         with the same Idempotency-Key is safe.
//	4xx/5xx                  a JetStream API error (full stream, failed
//	                         expectation) with its own HTTP-like code
//
// Invoke never retries; the resilience layer around every backend does,
// on the codes it is configured with.
//
// # Connection
//
// Connect does not wait for external servers: the connection retries in the
// background (every ReconnectWait plus up to half of it as jitter, forever
// by default), buffering up to ReconnectBufferBytes of publishes meanwhile.
// Ready reports whether it is connected, for /readyz. Connection events are
// logged with slog. Close drains the connection and stops the embedded
// server, if any.
package nats

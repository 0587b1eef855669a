package translate

import (
	"net/http"
	"net/url"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/routes"
)

// A protocol plugs into the request pipeline with two things: a Backend
// (backend.go), which sends calls and reports what happened as facts, and a
// Transcoder per route, built once when the route table is built, which
// turns the bound parts of an HTTP request into a call and a reply into a
// response. Everything else (body limits, media types, deadlines, header
// forwarding, resilience, status decisions, writing) is the pipeline's.

// BodyKind says what a route does with the request body.
type BodyKind uint8

const (
	// BodyNone: the body is not read; one sent anyway is ignored, as
	// grpc-gateway ignores it.
	BodyNone BodyKind = iota
	// BodyJSON: a JSON body; any media type but application/json (or none)
	// is refused with 415 when a body is present.
	BodyJSON
	// BodyAny: the bytes pass with any media type (a raw NATS route, a
	// google.api.HttpBody request).
	BodyAny
)

// Request is what the pipeline hands a transcoder: the parts of one HTTP
// request, the body already read within the limits and its media type
// checked.
type Request struct {
	Params      routes.Params
	Query       url.Values
	Header      http.Header
	Body        []byte // nil for BodyNone routes
	ContentType string
}

// Response is a transcoded reply. The status is the pipeline's: 200, or
// 202 for a call whose Delivery is not DeliveryReply.
type Response struct {
	Body        []byte
	ContentType string
	// Header holds reply headers already mapped to HTTP (Grpc-Metadata-*,
	// safe NATS headers). May be nil.
	Header http.Header
}

// Transcoder is one route's protocol half, built once per route and used
// by concurrent requests.
type Transcoder interface {
	// Body says whether and how the route reads a request body.
	Body() BodyKind
	// Forwarding says which request headers travel as call metadata.
	Forwarding() *Forwarding
	// Encode fills call (Method, Body, Delivery, and protocol metadata
	// beyond the forwarded headers, which are already in call.Metadata)
	// from req. Errors are *Error: bad input is INVALID_ARGUMENT with
	// BadRequest violations.
	Encode(req *Request, call *Call) error
	// Decode renders a reply. It runs inside the resilience attempt, so
	// an application error it finds in the reply (a declared Thrift
	// exception) is that attempt's outcome for retries, the breaker and
	// metrics alike. A reply it cannot understand is ReasonBadGateway.
	Decode(call *Call, reply *Reply) (*Response, error)
	// Describe says what the route calls, e.g. "grpc /pkg.Svc/Method".
	Describe() string
}

// Forwarding are a route's rules for request headers that become call
// metadata. nil means the protocol carries no metadata (Thrift).
type Forwarding struct {
	// Headers are forwarded under their lower-cased names (canonical
	// names here, checked when the route was built).
	Headers []string
	// ClientPrefix, when set, lets a client add metadata with headers
	// such as Grpc-Metadata-Key; the key may not be hop-by-hop, reserved
	// by the protocol, or one the gateway sets.
	ClientPrefix string
	// Reserved reports metadata keys a client may not set through
	// ClientPrefix (transport keys of the protocol). May be nil.
	Reserved func(key string) bool
	// ProxyHeaders adds X-Forwarded-For and X-Forwarded-Host, as
	// grpc-gateway does.
	ProxyHeaders bool
	// PrintableOnly refuses values that are not printable ASCII, which
	// is all HTTP/2 metadata can carry.
	PrintableOnly bool
}

// JSONReplies is implemented by transcoders that know every reply they
// render is JSON, so the pipeline can answer 406 to a client that accepts
// none before the backend is called. A transcoder without it (HttpBody,
// raw payloads) may reply in any media type and is not checked.
type JSONReplies interface {
	RepliesJSON() bool
}

// Documented is a transcoder that can describe its route for API documents
// (OpenAPI): what the request takes and the reply holds, as JSON Schema in
// the JSON mapping the route actually uses. Types shared between routes go
// into defs, so that each is written once and recursion is a reference.
// The openapi package documents a transcoder without it as taking and
// returning any JSON.
type Documented interface {
	Operation(defs *jsonschema.Definitions) OperationDoc
}

// OperationDoc describes one route in protocol-neutral terms.
type OperationDoc struct {
	// Summary and Description come from the schema's comments (proto
	// source info, Thrift doc comments); Summary is their first paragraph.
	Summary, Description string
	// Tag groups operations: the service the route calls.
	Tag, TagDescription string
	Deprecated          bool
	// PathParams are named by the template's field paths ("book.name");
	// the openapi package adds the patterns of multi-segment variables.
	PathParams []ParamDoc
	// Query are the query parameters the route reads.
	Query []ParamDoc
	// Headers are request headers the route reads into the call.
	Headers []ParamDoc
	// Request is the body, nil when the route reads none.
	Request *BodyDoc
	// Status is the status of a success: 200, or 202 for a call that
	// waits for no reply.
	Status   int
	Response BodyDoc
	// Errors are the application errors the schema declares (a Thrift
	// exception), beside the ones every route may answer.
	Errors []ErrorDoc
	// Streaming calls are not served as REST yet; the flags say what the
	// method is, for documents that list it.
	ClientStreaming, ServerStreaming bool
}

// ParamDoc is one parameter.
type ParamDoc struct {
	Name        string
	Description string
	Required    bool
	Deprecated  bool
	Schema      *jsonschema.Schema
	// JSONText says the value is JSON text (a google.protobuf.Struct in
	// the query), which documents describe as application/json content.
	JSONText bool
	// Map says the parameter is a map, each entry sent as name[key]=value.
	Map bool
}

// AnyMediaType marks a body that may be of any media type: raw bytes that
// pass through (a google.api.HttpBody, a raw NATS payload).
const AnyMediaType = "*/*"

// BodyDoc is a request or reply body.
type BodyDoc struct {
	Description string
	// MediaType is "application/json" or AnyMediaType; "" means JSON.
	MediaType string
	// Schema is the JSON's; nil for raw bytes or any JSON.
	Schema   *jsonschema.Schema
	Required bool
}

// ErrorDoc is an error the schema declares.
type ErrorDoc struct {
	Status      int
	Description string
	// Detail is the schema of the detail the error body carries beside
	// the others (the exception's fields, with its "@type").
	Detail *jsonschema.Schema
}

package grpc

import (
	"net/http"
	"strings"

	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DefaultForwardedHeaders are the request headers that always become gRPC
// metadata, beside Grpc-Metadata-* and the configured ones.
var DefaultForwardedHeaders = []string{"Authorization", "X-Request-Id", "Traceparent", "Tracestate"}

// MetadataHeaderPrefix marks HTTP headers that carry gRPC metadata, both
// ways, as grpc-gateway names them.
const MetadataHeaderPrefix = "Grpc-Metadata-"

// Transcoder is one route's gRPC half: the method's binding rule, built
// when the route table is built.
type Transcoder struct {
	method string // "/library.v1.LibraryService/GetBook"
	rule   *binding.Rule
	fwd    translate.Forwarding
}

var _ translate.Transcoder = (*Transcoder)(nil)

// NewTranscoder binds a method's rule. forward lists extra request header
// names to pass on as metadata.
func NewTranscoder(rule *binding.Rule, forward []string) *Transcoder {
	md := rule.Method()
	names := make([]string, 0, len(DefaultForwardedHeaders)+len(forward))
	for _, h := range append(append([]string{}, DefaultForwardedHeaders...), forward...) {
		names = append(names, http.CanonicalHeaderKey(h))
	}
	return &Transcoder{
		method: "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		rule:   rule,
		fwd: translate.Forwarding{Headers: names, ClientPrefix: MetadataHeaderPrefix,
			Reserved: reservedForClients, ProxyHeaders: true, PrintableOnly: true},
	}
}

// Method is the full method name the route calls.
func (t *Transcoder) Method() string { return t.method }

// Rule is the route's binding rule.
func (t *Transcoder) Rule() *binding.Rule { return t.rule }

func (t *Transcoder) Describe() string { return "grpc " + t.method }

func (t *Transcoder) Body() translate.BodyKind {
	switch {
	case !t.rule.HasBody():
		return translate.BodyNone
	case t.rule.BodyIsHTTPBody():
		return translate.BodyAny
	}
	return translate.BodyJSON
}

func (t *Transcoder) Forwarding() *translate.Forwarding { return &t.fwd }

func (t *Transcoder) Encode(req *translate.Request, call *translate.Call) error {
	body, err := t.rule.Request(req.Params, req.Query, req.Body, req.ContentType)
	if err != nil {
		return err
	}
	call.Method, call.Body = t.method, body
	return nil
}

func (t *Transcoder) Decode(_ *translate.Call, reply *translate.Reply) (*translate.Response, error) {
	out, contentType, err := t.rule.Reply(reply.Body)
	if err != nil {
		return nil, err
	}
	var h http.Header
	if forwardsMetadata(reply.Header) || forwardsMetadata(reply.Trailer) {
		h = http.Header{}
		MetadataToHeader(h, reply.Header)
		MetadataToHeader(h, reply.Trailer)
	}
	return &translate.Response{Body: out, ContentType: contentType, Header: h}, nil
}

// forwardsMetadata says whether md has a key that becomes a response
// header: most replies carry only transport keys (content-type), and need
// no header map.
func forwardsMetadata(md map[string][]string) bool {
	for k := range md {
		if !isReservedMetadata(k) {
			return true
		}
	}
	return false
}

// reservedForClients are the keys a client may not set with
// Grpc-Metadata-*: transport keys, and anything in grpc-'s namespace.
func reservedForClients(k string) bool {
	return isReservedMetadata(k) || strings.HasPrefix(k, "grpc-")
}

// RepliesJSON: unless the reply is a google.api.HttpBody.
func (t *Transcoder) RepliesJSON() bool { return !t.rule.ReplyIsHTTPBody() }

// Idempotent: the method declares idempotency_level IDEMPOTENT or
// NO_SIDE_EFFECTS.
func (t *Transcoder) Idempotent() bool {
	opts, ok := t.rule.Method().Options().(*descriptorpb.MethodOptions)
	return ok && opts.GetIdempotencyLevel() != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN
}

// StreamTranscoder is the gRPC half of a route to a streaming method.
type StreamTranscoder struct {
	*Transcoder
	kind translate.StreamKind
	// messages encodes each message of the client's stream: the route's
	// body rule when it has one, else the whole message ("*"); the path
	// variables and query apply to each.
	messages *binding.Rule
}

var _ translate.StreamTranscoder = (*StreamTranscoder)(nil)

// NewStreamTranscoder binds a streaming method: rule for the request (a
// server stream's one message), messages for each message a client
// streams.
func NewStreamTranscoder(rule, messages *binding.Rule, forward []string) *StreamTranscoder {
	md := rule.Method()
	kind := translate.ServerStream
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		kind = translate.BidiStream
	case md.IsStreamingClient():
		kind = translate.ClientStream
	}
	return &StreamTranscoder{Transcoder: NewTranscoder(rule, forward), kind: kind, messages: messages}
}

func (t *StreamTranscoder) Kind() translate.StreamKind { return t.kind }

func (t *StreamTranscoder) Describe() string {
	return "grpc " + t.method + " (" + t.kind.String() + ")"
}

// Body: a client's stream is read message by message by the pipeline,
// never as one body.
func (t *StreamTranscoder) Body() translate.BodyKind {
	if t.kind.ClientSends() {
		return translate.BodyNone
	}
	return t.Transcoder.Body()
}

// Encode builds a server stream's request; a client's stream starts with
// no message of the gateway's own.
func (t *StreamTranscoder) Encode(req *translate.Request, call *translate.Call) error {
	if t.kind.ClientSends() {
		call.Method = t.method
		return nil
	}
	return t.Transcoder.Encode(req, call)
}

func (t *StreamTranscoder) EncodeMessage(req *translate.Request, msg []byte) ([]byte, error) {
	return t.messages.Request(req.Params, req.Query, msg, "application/json")
}

func (t *StreamTranscoder) DecodeMessage(msg translate.StreamMessage) ([]byte, error) {
	out, _, err := t.rule.Reply(msg.Body)
	return out, err
}

// RepliesJSON: every message of a stream is JSON.
func (t *StreamTranscoder) RepliesJSON() bool { return false }

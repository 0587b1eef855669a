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
	if len(reply.Header) > 0 || len(reply.Trailer) > 0 {
		h = http.Header{}
		MetadataToHeader(h, reply.Header)
		MetadataToHeader(h, reply.Trailer)
	}
	return &translate.Response{Body: out, ContentType: contentType, Header: h}, nil
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

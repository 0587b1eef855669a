package nats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/translate"
)

// Route modes.
const (
	ModeRequest   = "request"   // request/reply: wait for one reply, 200 with its body
	ModePublish   = "publish"   // core publish: 202 once nats.go has the message
	ModeJetStream = "jetstream" // JetStream publish: 202 once the stream has stored it
	ModeSubscribe = "subscribe" // GET only: stream the messages on the subject to the client
)

// DefaultMaxDepth bounds JSON nesting when Route.MaxDepth is 0, as
// protojson's own default is far deeper than any real payload.
const DefaultMaxDepth = 64

// Route is what one HTTP route sends to NATS.
type Route struct {
	// Subject is a template such as "orders.{id}.created"; each {name} is a
	// path variable of the route (its field path) and is replaced by the
	// decoded value, which must be a single, non-wildcard token.
	Subject string
	// Mode is ModeRequest (the default when empty), ModePublish,
	// ModeJetStream or ModeSubscribe.
	Mode string
	// Raw passes the body through untouched, with any Content-Type, which
	// is forwarded as a NATS header. Otherwise the body must be JSON.
	Raw bool
	// Request and Reply, when set, make the route typed: the JSON body is
	// transcoded to Request in protobuf binary, and the reply (request
	// mode), or each message (subscribe mode), is decoded as Reply and
	// rendered as JSON.
	Request, Reply protoreflect.MessageDescriptor
	// Stream, on a subscribe route, names the JetStream stream to read
	// (an ordered consumer filtered by the subject, which can start from a
	// position); "" is a core NATS subscription.
	Stream string
	// MaxPending bounds the messages a core subscription buffers for a
	// client that reads slowly; 0 is DefaultMaxPending.
	MaxPending int
	// Resolver resolves Any types in typed payloads and error details; nil
	// means the linked-in types only.
	Resolver translate.Resolver
	// Headers are extra request headers forwarded as NATS headers, beside
	// DefaultForwardedHeaders.
	Headers []string
	// MaxDepth bounds JSON nesting in request bodies; 0 is DefaultMaxDepth.
	MaxDepth int
	// JSON options of typed routes, as for gRPC routes: Strict rejects
	// unknown body fields (otherwise they are ignored, as grpc-gateway
	// does); the others shape the rendered reply.
	Strict          bool
	UseProtoNames   bool
	UseEnumNumbers  bool
	OmitUnpopulated bool
}

// Transcoder is one route's NATS half: a subject template and what the
// payload is. Everything in it is resolved by NewTranscoder; serving only
// reads it.
type Transcoder struct {
	backendName string
	mode        string
	delivery    translate.Delivery
	subject     *subjectTemplate
	raw         bool
	fwd         translate.Forwarding
	resolver    translate.Resolver
	maxDepth    int

	stream     string // subscribe: JetStream stream, "" for core
	maxPending int    // subscribe: core mode's buffer, in messages

	reqType, replyType protoreflect.MessageType // nil when untyped
	reqName            protoreflect.FullName
	unmarshal          protojson.UnmarshalOptions
	marshal            protojson.MarshalOptions
	decode             proto.UnmarshalOptions
}

var _ translate.Transcoder = (*Transcoder)(nil)

// NewTranscoder binds a route to the backend backendName. pathFields are
// the field paths of the route template's variables, the names a subject
// template may use.
func NewTranscoder(backendName string, pathFields []string, r Route) (*Transcoder, error) {
	t := &Transcoder{backendName: backendName, raw: r.Raw, resolver: r.Resolver, maxDepth: r.MaxDepth}
	switch r.Mode {
	case "", ModeRequest:
		t.mode, t.delivery = ModeRequest, translate.DeliveryReply
	case ModePublish:
		t.mode, t.delivery = ModePublish, translate.DeliveryOneway
	case ModeJetStream:
		t.mode, t.delivery = ModeJetStream, translate.DeliveryAck
	case ModeSubscribe:
		t.mode, t.delivery = ModeSubscribe, translate.DeliveryReply
	default:
		return nil, fmt.Errorf("nats route: mode %q: want request, publish, jetstream or subscribe", r.Mode)
	}
	subj, err := parseSubject(r.Subject, pathFields, t.mode == ModeSubscribe)
	if err != nil {
		return nil, fmt.Errorf("nats route: %w", err)
	}
	t.subject = subj
	if err := t.subscribeOptions(r); err != nil {
		return nil, fmt.Errorf("nats route %s: %w", r.Subject, err)
	}
	if t.maxDepth < 0 {
		return nil, fmt.Errorf("nats route %s: max depth %d is negative", r.Subject, t.maxDepth)
	}
	if t.maxDepth == 0 {
		t.maxDepth = DefaultMaxDepth
	}
	if r.Raw && (r.Request != nil || r.Reply != nil) {
		return nil, fmt.Errorf("nats route %s: a raw route cannot also be typed", r.Subject)
	}
	if r.Reply != nil && t.mode != ModeRequest && t.mode != ModeSubscribe {
		return nil, fmt.Errorf("nats route %s: a reply type needs mode request or subscribe (%s has no reply)", r.Subject, t.mode)
	}
	if r.Request != nil {
		t.reqType = dynamicpb.NewMessageType(r.Request)
		t.reqName = r.Request.FullName()
	}
	if r.Reply != nil {
		t.replyType = dynamicpb.NewMessageType(r.Reply)
	}
	t.unmarshal = protojson.UnmarshalOptions{RecursionLimit: t.maxDepth, DiscardUnknown: !r.Strict}
	t.marshal = protojson.MarshalOptions{EmitUnpopulated: !r.OmitUnpopulated, UseProtoNames: r.UseProtoNames,
		UseEnumNumbers: r.UseEnumNumbers}
	t.decode = proto.UnmarshalOptions{RecursionLimit: t.maxDepth}
	if r.Resolver != nil {
		t.unmarshal.Resolver = r.Resolver
		t.marshal.Resolver = r.Resolver
		t.decode.Resolver = r.Resolver
	}
	seen := map[string]bool{}
	for _, h := range append(append([]string{}, DefaultForwardedHeaders...), r.Headers...) {
		c, err := checkForwardHeader(h)
		if err != nil {
			return nil, fmt.Errorf("nats route %s: %w", r.Subject, err)
		}
		if !seen[c] {
			seen[c] = true
			t.fwd.Headers = append(t.fwd.Headers, c)
		}
	}
	return t, nil
}

// Describe is "nats <mode> <subject template>", with the types of a typed
// route.
func (t *Transcoder) Describe() string {
	d := "nats " + t.mode + " " + t.subject.raw
	if t.reqType != nil || t.replyType != nil {
		in, out := "-", "-"
		if t.reqType != nil {
			in = string(t.reqType.Descriptor().FullName())
		}
		if t.replyType != nil {
			out = string(t.replyType.Descriptor().FullName())
		}
		d += " (" + in + " -> " + out + ")"
	}
	return d
}

// Body: a raw route passes any bytes; a subscription reads none; the
// others take JSON.
func (t *Transcoder) Body() translate.BodyKind {
	if t.mode == ModeSubscribe {
		return translate.BodyNone
	}
	if t.raw {
		return translate.BodyAny
	}
	return translate.BodyJSON
}

// Forwarding: the default and configured headers, under their own names
// (NATS headers are not limited to printable ASCII).
func (t *Transcoder) Forwarding() *translate.Forwarding { return &t.fwd }

// Encode builds the subject, checks and encodes the body, and adds the
// headers NATS itself reads. A subscription's call carries its start
// instead of a body (see encodeSubscribe).
func (t *Transcoder) Encode(req *translate.Request, call *translate.Call) error {
	subject, perr := t.subject.render(req.Params)
	if perr != nil {
		return perr
	}
	if t.mode == ModeSubscribe {
		return t.encodeSubscribe(req, call, subject)
	}
	payload, err := t.encode(req.Body)
	if err != nil {
		return err
	}
	if call.Metadata == nil {
		call.Metadata = metadata.MD{}
	}
	if err := t.metadata(req, call.Metadata); err != nil {
		return err
	}
	call.Method, call.Body, call.Delivery = subject, payload, t.delivery
	call.Addressed = t.subject.variable()
	return nil
}

// Decode renders the outcome: the subject of a publish, the stream's
// acknowledgement, or the reply of a request. A subscription has no one
// reply: its messages go through DecodeMessage.
func (t *Transcoder) Decode(call *translate.Call, reply *translate.Reply) (*translate.Response, error) {
	switch t.mode {
	case ModeSubscribe:
		return nil, &translate.Error{Code: codes.Internal, Message: "internal error",
			Cause: fmt.Errorf("nats subscribe route %s decoded as a unary call", t.subject.raw)}
	case ModePublish:
		b, _ := json.Marshal(struct {
			Subject string `json:"subject"`
		}{call.Method})
		return &translate.Response{Body: b, ContentType: "application/json"}, nil
	case ModeJetStream:
		b := reply.Body
		if len(b) == 0 {
			b = []byte("{}")
		}
		return &translate.Response{Body: b, ContentType: "application/json"}, nil
	}
	return t.decodeReply(reply)
}

// encode checks the body and turns it into the message payload.
func (t *Transcoder) encode(body []byte) ([]byte, error) {
	if t.raw || len(body) == 0 {
		// No body is an empty message whatever the Content-Type says, as
		// in the gRPC binding: there is nothing to decode.
		return body, nil
	}
	if !translate.ValidJSON(body) {
		return nil, translate.BadRequest(translate.NotJSON(body))
	}
	if t.reqType == nil {
		// Passed on unparsed: the service's parser must not be left to
		// pick one of two values for a key.
		if k, dup := translate.DuplicateKey(body); dup {
			return nil, translate.BadRequest(fmt.Sprintf("request body repeats the key %q in one object", k),
				translate.Violation("body", "duplicate key "+strconv.Quote(k)))
		}
		if translate.DeeperThan(body, t.maxDepth) {
			return nil, translate.BadRequest(fmt.Sprintf("request body is nested too deeply: the limit is %d levels", t.maxDepth))
		}
		return body, nil
	}
	if string(bytes.TrimSpace(body)) == "null" {
		return nil, nil // null is no body, as grpc-gateway reads it
	}
	msg := t.reqType.New()
	if err := t.unmarshal.Unmarshal(body, msg.Interface()); err != nil {
		problem := translate.ProtoErrorText(err)
		if strings.Contains(problem, "exceeded max recursion depth") {
			return nil, translate.BadRequest(fmt.Sprintf("request body is nested too deeply: the limit is %d levels", t.maxDepth))
		}
		return nil, translate.BadRequest(fmt.Sprintf("request body is not a valid %s: %s", t.reqName, problem),
			translate.Violation("body", problem))
	}
	out, err := proto.Marshal(msg.Interface())
	if err != nil {
		return nil, &translate.Error{Code: codes.Internal, Message: "cannot encode the request", Cause: err}
	}
	return out, nil
}

// metadata adds the headers NATS itself reads to the forwarded ones.
func (t *Transcoder) metadata(req *translate.Request, md metadata.MD) error {
	if t.raw && req.ContentType != "" {
		md["content-type"] = []string{req.ContentType}
	}
	if t.mode == ModeJetStream {
		id := nuid.Next()
		if vs := req.Header.Values(IdempotencyKeyHeader); len(vs) > 0 {
			if len(vs) > 1 || !validIdempotencyKey(vs[0]) {
				problem := fmt.Sprintf("must be one value of 1 to %d visible ASCII characters", maxIdempotencyKey)
				return translate.BadRequest("header "+IdempotencyKeyHeader+" "+problem,
					translate.Violation(IdempotencyKeyHeader, problem))
			}
			id = vs[0]
		}
		// Without a key, a fresh id per HTTP request still makes the
		// resilience layer's retries of this one request (same Call,
		// same id) land in the stream once.
		md["nats-msg-id"] = []string{id}
	}
	return nil
}

// decodeReply renders a request-mode reply.
func (t *Transcoder) decodeReply(reply *translate.Reply) (*translate.Response, error) {
	var h http.Header // most replies carry no headers: none is made for them
	if len(reply.Header) > 0 {
		h = http.Header{}
	}
	if t.replyType != nil {
		msg := t.replyType.New()
		if err := t.decode.Unmarshal(reply.Body, msg.Interface()); err != nil {
			return nil, &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
				Message: "invalid reply from backend " + t.backendName + ": not a " + string(msg.Descriptor().FullName()),
				Cause:   err}
		}
		out, err := t.marshal.Marshal(msg.Interface())
		if err != nil {
			// An Any whose type the resolver does not know, for instance.
			return nil, &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
				Message: "cannot render the reply of backend " + t.backendName + " as JSON", Cause: err}
		}
		if h != nil {
			copyReplyHeaders(h, reply.Header, false)
		}
		return &translate.Response{Body: translate.CompactJSON(out), ContentType: "application/json", Header: h}, nil
	}
	if h != nil {
		copyReplyHeaders(h, reply.Header, true)
	}
	ct := ""
	if vs := reply.Header.Get("content-type"); len(vs) > 0 && translate.ValidHeaderValue(vs[0]) {
		ct = vs[0]
	}
	if ct == "" && len(reply.Body) > 0 {
		ct = "application/octet-stream"
		if translate.ValidJSON(reply.Body) {
			ct = "application/json"
		}
	}
	return &translate.Response{Body: reply.Body, ContentType: ct, Header: h}, nil
}

// RepliesJSON: except for an untyped request, whose reply passes as the
// service sent it.
func (t *Transcoder) RepliesJSON() bool { return t.mode != ModeRequest || t.replyType != nil }

package nats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/nats-io/nuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// Route modes.
const (
	ModeRequest   = "request"   // request/reply: wait for one reply, 200 with its body
	ModePublish   = "publish"   // core publish: 202 once nats.go has the message
	ModeJetStream = "jetstream" // JetStream publish: 202 once the stream has stored it
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
	// Mode is ModeRequest (the default when empty), ModePublish or
	// ModeJetStream.
	Mode string
	// Raw passes the body through untouched, with any Content-Type, which
	// is forwarded as a NATS header. Otherwise the body must be JSON.
	Raw bool
	// Request and Reply, when set, make the route typed: the JSON body is
	// transcoded to Request in protobuf binary, and (request mode only) the
	// reply is decoded as Reply and rendered as JSON.
	Request, Reply protoreflect.MessageDescriptor
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

// Target serves one route by sending to one NATS subject template.
// Everything in it is resolved by NewTarget; serving only reads it.
type Target struct {
	backendName string
	backend     translate.Backend
	mode        string
	delivery    translate.Delivery
	subject     *subjectTemplate
	raw         bool
	forward     []string // canonical header names
	resolver    translate.Resolver
	maxDepth    int

	reqType, replyType protoreflect.MessageType // nil when untyped
	reqName            protoreflect.FullName
	unmarshal          protojson.UnmarshalOptions
	marshal            protojson.MarshalOptions
	decode             proto.UnmarshalOptions
}

var _ routes.Target = (*Target)(nil)

// NewTarget binds a route to a backend. pathFields are the field paths of
// the route template's variables, the names a subject template may use.
func NewTarget(backendName string, backend translate.Backend, pathFields []string, r Route) (*Target, error) {
	if backend == nil {
		return nil, errors.New("nats route: no backend")
	}
	t := &Target{backendName: backendName, backend: backend, raw: r.Raw, resolver: r.Resolver, maxDepth: r.MaxDepth}
	switch r.Mode {
	case "", ModeRequest:
		t.mode, t.delivery = ModeRequest, translate.DeliveryReply
	case ModePublish:
		t.mode, t.delivery = ModePublish, translate.DeliveryOneway
	case ModeJetStream:
		t.mode, t.delivery = ModeJetStream, translate.DeliveryAck
	default:
		return nil, fmt.Errorf("nats route: mode %q: want request, publish or jetstream", r.Mode)
	}
	subj, err := parseSubject(r.Subject, pathFields)
	if err != nil {
		return nil, fmt.Errorf("nats route: %w", err)
	}
	t.subject = subj
	if t.maxDepth < 0 {
		return nil, fmt.Errorf("nats route %s: max depth %d is negative", r.Subject, t.maxDepth)
	}
	if t.maxDepth == 0 {
		t.maxDepth = DefaultMaxDepth
	}
	if r.Raw && (r.Request != nil || r.Reply != nil) {
		return nil, fmt.Errorf("nats route %s: a raw route cannot also be typed", r.Subject)
	}
	if r.Reply != nil && t.mode != ModeRequest {
		return nil, fmt.Errorf("nats route %s: a reply type needs mode request (%s has no reply)", r.Subject, t.mode)
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
			t.forward = append(t.forward, c)
		}
	}
	return t, nil
}

func (t *Target) Backend() string { return t.backendName }

// Describe is "nats <mode> <subject template>", with the types of a typed
// route.
func (t *Target) Describe() string {
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

// ServeRoute builds the subject, checks and encodes the body, sends it and
// writes the outcome.
func (t *Target) ServeRoute(w http.ResponseWriter, r *http.Request, params routes.Params) {
	subject, perr := t.subject.render(params)
	if perr != nil {
		translate.Fail(w, r, perr, t.resolver)
		return
	}
	body, err := translate.ReadBody(r)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	payload, err := t.encode(body, r.Header.Get("Content-Type"))
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	md, err := t.metadata(r)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	reply, err := t.backend.Invoke(r.Context(), &translate.Call{Method: subject, Body: payload, Metadata: md, Delivery: t.delivery})
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	switch t.mode {
	case ModePublish:
		b, _ := json.Marshal(struct {
			Subject string `json:"subject"`
		}{subject})
		write(w, http.StatusAccepted, "application/json", b)
	case ModeJetStream:
		b := reply.Body
		if len(b) == 0 {
			b = []byte("{}")
		}
		write(w, http.StatusAccepted, "application/json", b)
	default:
		t.writeReply(w, r, reply)
	}
}

// encode checks the body and turns it into the message payload.
func (t *Target) encode(body []byte, contentType string) ([]byte, error) {
	if t.raw || len(body) == 0 {
		// No body is an empty message whatever the Content-Type says, as
		// in the gRPC binding: there is nothing to decode.
		return body, nil
	}
	if !translate.IsJSONMediaType(contentType) {
		return nil, translate.HTTPError(http.StatusUnsupportedMediaType,
			"unsupported Content-Type %q: the request body must be application/json", contentType)
	}
	if !json.Valid(body) {
		return nil, translate.BadRequest(notJSON(body))
	}
	if t.reqType == nil {
		if deeperThan(body, t.maxDepth) {
			return nil, translate.BadRequest(fmt.Sprintf("request body is nested too deeply: the limit is %d levels", t.maxDepth))
		}
		return body, nil
	}
	if string(bytes.TrimSpace(body)) == "null" {
		return nil, nil // null is no body, as grpc-gateway reads it
	}
	msg := t.reqType.New()
	if err := t.unmarshal.Unmarshal(body, msg.Interface()); err != nil {
		problem := cleanProtoError(err)
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

// metadata is what travels as NATS headers.
func (t *Target) metadata(r *http.Request) (metadata.MD, error) {
	md := metadata.MD{}
	for _, name := range t.forward {
		if vs := r.Header.Values(name); len(vs) > 0 {
			md[strings.ToLower(name)] = vs
		}
	}
	if id := observability.FromContext(r.Context()).ID; id != "" {
		md["x-request-id"] = []string{id}
	}
	if t.raw {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			md["content-type"] = []string{ct}
		}
	}
	if t.mode == ModeJetStream {
		id := nuid.Next()
		if vs := r.Header.Values(IdempotencyKeyHeader); len(vs) > 0 {
			if len(vs) > 1 || !validIdempotencyKey(vs[0]) {
				problem := fmt.Sprintf("must be one value of 1 to %d visible ASCII characters", maxIdempotencyKey)
				return nil, translate.BadRequest("header "+IdempotencyKeyHeader+" "+problem,
					translate.Violation(IdempotencyKeyHeader, problem))
			}
			id = vs[0]
		}
		// Without a key, a fresh id per HTTP request still makes the
		// resilience layer's retries of this one request (same Call,
		// same id) land in the stream once.
		md["nats-msg-id"] = []string{id}
	}
	return md, nil
}

// writeReply renders a request-mode reply.
func (t *Target) writeReply(w http.ResponseWriter, r *http.Request, reply *translate.Reply) {
	h := w.Header()
	if t.replyType != nil {
		msg := t.replyType.New()
		if err := t.decode.Unmarshal(reply.Body, msg.Interface()); err != nil {
			translate.Fail(w, r, &translate.Error{Code: codes.Internal, HTTPStatus: http.StatusBadGateway,
				Message: "invalid reply from backend " + t.backendName + ": not a " + string(msg.Descriptor().FullName()),
				Cause:   err}, t.resolver)
			return
		}
		out, err := t.marshal.Marshal(msg.Interface())
		if err != nil {
			// An Any whose type the resolver does not know, for instance.
			translate.Fail(w, r, &translate.Error{Code: codes.Internal, HTTPStatus: http.StatusBadGateway,
				Message: "cannot render the reply of backend " + t.backendName + " as JSON", Cause: err}, t.resolver)
			return
		}
		copyReplyHeaders(h, reply.Header, false)
		write(w, http.StatusOK, "application/json", translate.CompactJSON(out))
		return
	}
	copyReplyHeaders(h, reply.Header, true)
	ct := ""
	if vs := reply.Header.Get("content-type"); len(vs) > 0 && validHeaderValue(vs[0]) {
		ct = vs[0]
	}
	if ct == "" && len(reply.Body) > 0 {
		ct = "application/octet-stream"
		if json.Valid(reply.Body) {
			ct = "application/json"
		}
	}
	write(w, http.StatusOK, ct, reply.Body)
}

func write(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// deeperThan reports whether valid JSON nests objects and arrays more than
// max levels. encoding/json's own limit is 10000, far beyond what a
// service should be handed.
func deeperThan(b []byte, max int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// notJSON describes a body that is not JSON, with encoding/json's reason.
func notJSON(body []byte) string {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("request body is not valid JSON: %v (offset %d)", se, se.Offset)
	}
	return "request body is not valid JSON"
}

// cleanProtoError strips the "proto:" prefix, which protobuf-go writes with
// a randomly chosen regular or non-breaking space to deter comparisons.
func cleanProtoError(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	return strings.TrimLeftFunc(s, unicode.IsSpace)
}

package nats

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
)

// Subscribe routes: the transcoder's side (where the subscription starts,
// how each message is rendered). The backend's side is in stream.go.

const (
	// DefaultMaxPending is how many messages a core subscription buffers
	// for a client that reads slowly, when the route does not say.
	DefaultMaxPending = 1000
	// MaxPendingLimit bounds max_pending.
	MaxPendingLimit = 100000
	// PendingBytesLimit bounds the bytes a core subscription buffers,
	// whatever max_pending says: messages may be up to the server's
	// max_payload (1 MiB by default) each.
	PendingBytesLimit = 8 << 20
	// maxStreamName is the server's limit on stream names.
	maxStreamName = 255
)

// Where a JetStream subscription starts: at most one of the query
// parameters; LastEventIDHeader, which an EventSource resends on every
// reconnect, takes precedence over them.
const (
	LastEventIDHeader = "Last-Event-ID"
	QueryStartSeq     = "start_seq"
	QueryStartTime    = "start_time"
	QueryDeliver      = "deliver"
)

// Delivery policies of a subscription, as subscription.Deliver.
const (
	deliverNew  = "new"
	deliverAll  = "all"
	deliverLast = "last"
	deliverSeq  = "seq"
	deliverTime = "time"
)

// subscription is what a subscribe call asks the backend for. It travels
// in call.Body as JSON (package-private: only Encode writes it, only
// OpenStream reads it); nil is a core subscription with the default buffer.
type subscription struct {
	Stream     string     `json:"stream,omitempty"`
	Deliver    string     `json:"deliver,omitempty"`
	StartSeq   uint64     `json:"start_seq,omitempty"`
	StartTime  *time.Time `json:"start_time,omitempty"`
	MaxPending int        `json:"max_pending,omitempty"`
}

func (s subscription) encode() []byte {
	if s == (subscription{}) {
		return nil
	}
	b, _ := json.Marshal(s)
	return b
}

func decodeSubscription(body []byte) (subscription, error) {
	var s subscription
	if len(body) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("subscription %q: %w", body, err)
	}
	switch {
	case s.MaxPending < 0 || s.MaxPending > MaxPendingLimit:
		return s, fmt.Errorf("subscription %q: max_pending out of range", body)
	case s.Stream == "" && (s.Deliver != "" || s.StartSeq != 0 || s.StartTime != nil):
		return s, fmt.Errorf("subscription %q: a start position without a stream", body)
	case s.Stream != "" && streamNameProblem(s.Stream) != "":
		return s, fmt.Errorf("subscription %q: bad stream name", body)
	case s.Deliver == deliverSeq && s.StartSeq == 0, s.Deliver == deliverTime && s.StartTime == nil:
		return s, fmt.Errorf("subscription %q: start position incomplete", body)
	}
	switch s.Deliver {
	case "", deliverNew, deliverAll, deliverLast, deliverSeq, deliverTime:
	default:
		return s, fmt.Errorf("subscription %q: unknown delivery", body)
	}
	return s, nil
}

// streamNameProblem says what is wrong with a JetStream stream name, or "".
func streamNameProblem(name string) string {
	if len(name) > maxStreamName {
		return fmt.Sprintf("stream name must be at most %d bytes", maxStreamName)
	}
	if !utf8.ValidString(name) {
		return "stream name must be valid UTF-8"
	}
	for _, r := range name {
		if strings.ContainsRune(".*>/\\", r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Sprintf("invalid stream name %q: no '.', '*', '>', '/', '\\\\', whitespace or control characters", name)
		}
	}
	return ""
}

// subscribeOptions checks and keeps a route's subscription options.
func (t *Transcoder) subscribeOptions(r Route) error {
	if t.mode != ModeSubscribe {
		if r.Stream != "" || r.MaxPending != 0 {
			return errors.New("stream and max pending apply to mode subscribe only")
		}
		return nil
	}
	switch {
	case r.Raw:
		return errors.New("a subscription cannot be raw: it sends no body, and renders each message as a JSON envelope")
	case r.Request != nil:
		return errors.New("a subscription sends no body, so it has no request type (the reply type is its messages')")
	case r.MaxPending < 0 || r.MaxPending > MaxPendingLimit:
		return fmt.Errorf("max pending %d: must be between 1 and %d", r.MaxPending, MaxPendingLimit)
	case r.Stream != "" && r.MaxPending != 0:
		return errors.New("max pending applies to core subscriptions: a stream's messages are pulled one at a time")
	}
	if r.Stream != "" {
		if problem := streamNameProblem(r.Stream); problem != "" {
			return errors.New(problem)
		}
	}
	t.stream, t.maxPending = r.Stream, r.MaxPending
	return nil
}

var _ translate.StreamTranscoder = (*Transcoder)(nil)

// Kind: a subscription streams from the server; the other modes are
// Unary, which the pipeline serves as unary calls.
func (t *Transcoder) Kind() translate.StreamKind {
	if t.mode == ModeSubscribe {
		return translate.ServerStream
	}
	return translate.Unary
}

// encodeSubscribe fills a subscribe call: the subject (which may hold
// wildcards) and, in call.Body, the subscription and where it starts.
func (t *Transcoder) encodeSubscribe(req *translate.Request, call *translate.Call, subject string) error {
	s := subscription{Stream: t.stream, MaxPending: t.maxPending}
	if err := t.start(req, &s); err != nil {
		return err
	}
	call.Method, call.Body, call.Delivery = subject, s.encode(), t.delivery
	call.Addressed = t.subject.variable()
	return nil
}

// start reads where a JetStream subscription begins. Last-Event-ID (the
// last sequence the client saw) resumes after it; otherwise start_seq
// starts at a sequence, start_time at the first message stored at or after
// a time, deliver=all|last|new at the first, the last or the next message
// (new by default). Core subscriptions have no stored messages to start
// from: a query parameter is a 400, and Last-Event-ID is ignored because
// browsers resend it on every reconnect.
func (t *Transcoder) start(req *translate.Request, s *subscription) *translate.Error {
	var name, value string
	for _, q := range []string{QueryStartSeq, QueryStartTime, QueryDeliver} {
		vs, ok := req.Query[q]
		switch {
		case !ok:
			continue
		case t.stream == "":
			return startProblem(q, "cannot be used here: only JetStream subscriptions (routes with a stream) can start from a position")
		case len(vs) != 1:
			return startProblem(q, "must be given once")
		case name != "":
			return translate.BadRequest(fmt.Sprintf("query parameters %s and %s conflict: give one start position", name, q),
				translate.Violation(name, "conflicts with "+q), translate.Violation(q, "conflicts with "+name))
		}
		name, value = q, vs[0]
	}
	if t.stream == "" {
		return nil
	}
	s.Deliver = deliverNew
	if name != "" {
		if err := s.parseStart(name, value); err != nil {
			return err
		}
	}
	// The query is checked even then: it is the same URL on every
	// reconnect, and must have been valid on the first.
	if vs := req.Header.Values(LastEventIDHeader); len(vs) > 0 {
		if len(vs) > 1 {
			return startProblem(LastEventIDHeader, "must be given once")
		}
		if vs[0] != "" { // an EventSource that saw no id yet sends none, but be lenient
			*s = subscription{Stream: s.Stream, MaxPending: s.MaxPending}
			return s.parseStart(LastEventIDHeader, vs[0])
		}
	}
	return nil
}

func (s *subscription) parseStart(name, value string) *translate.Error {
	switch name {
	case LastEventIDHeader:
		// ParseUint takes no sign, space or base prefix; N+1 must fit.
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil || n == math.MaxUint64 {
			return startProblem(name, "must be the id of an event of this stream: a sequence number in decimal")
		}
		s.Deliver, s.StartSeq = deliverSeq, n+1
	case QueryStartSeq:
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil || n == 0 {
			return startProblem(name, fmt.Sprintf("must be a stream sequence number from 1 to %d, in decimal", uint64(math.MaxUint64)))
		}
		s.Deliver, s.StartSeq = deliverSeq, n
	case QueryStartTime:
		at, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return startProblem(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		at = at.UTC()
		s.Deliver, s.StartTime = deliverTime, &at
	case QueryDeliver:
		switch value {
		case deliverAll, deliverLast, deliverNew:
			s.Deliver = value
		default:
			return startProblem(name, "must be all, last or new")
		}
	}
	return nil
}

func startProblem(name, problem string) *translate.Error {
	what := "query parameter "
	if name == LastEventIDHeader {
		what = "header "
	}
	return translate.BadRequest(what+name+" "+problem, translate.Violation(name, problem))
}

// EncodeMessage: a subscription takes no messages from the client.
func (t *Transcoder) EncodeMessage(*translate.Request, []byte) ([]byte, error) {
	return nil, &translate.Error{Code: codes.Unimplemented, Message: "a NATS subscription takes no messages from the client"}
}

// DecodeMessage renders one message as a JSON envelope:
//
//	{"subject":"orders.42.created","sequence":7,"data":{...}}
//
// sequence only for JetStream. data is the payload when it is JSON (made
// compact, so that one message is one line of NDJSON) or, on a typed
// route, the payload decoded as the reply type; any other payload (not
// JSON, not UTF-8, empty, not of the type) is "data_base64" instead, so
// that nothing is lost and the stream stays valid JSON.
func (t *Transcoder) DecodeMessage(msg translate.StreamMessage) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(msg.Subject) + len(msg.Body)*4/3 + 64)
	b.WriteString(`{"subject":`)
	subj, _ := json.Marshal(msg.Subject) // a string always marshals
	b.Write(subj)
	if t.stream != "" && msg.ID != "" {
		if _, err := strconv.ParseUint(msg.ID, 10, 64); err != nil {
			return nil, &translate.Error{Code: codes.Internal, Message: "internal error",
				Cause: fmt.Errorf("stream message id %q is not a sequence", msg.ID)}
		}
		b.WriteString(`,"sequence":`)
		b.WriteString(msg.ID)
	}
	if !t.renderData(&b, msg.Body) {
		b.WriteString(`,"data_base64":"`)
		enc := base64.NewEncoder(base64.StdEncoding, &b)
		_, _ = enc.Write(msg.Body)
		_ = enc.Close()
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// renderData writes ,"data":<payload as JSON> when it can.
func (t *Transcoder) renderData(b *bytes.Buffer, payload []byte) bool {
	mark := b.Len()
	b.WriteString(`,"data":`)
	if t.replyType != nil {
		msg := t.replyType.New()
		if t.decode.Unmarshal(payload, msg.Interface()) == nil {
			if out, err := t.marshal.Marshal(msg.Interface()); err == nil {
				b.Write(translate.CompactJSON(out))
				return true
			}
		}
	} else if utf8.Valid(payload) && json.Compact(b, payload) == nil {
		return true
	}
	b.Truncate(mark)
	return false
}

// subscribeOperation documents a subscription: no body, the start
// parameters of a JetStream one, and the envelope of each message.
func (t *Transcoder) subscribeOperation(defs *jsonschema.Definitions, m binding.Mapping, doc translate.OperationDoc) translate.OperationDoc {
	str := func() *jsonschema.Schema { return &jsonschema.Schema{Type: jsonschema.Types{"string"}} }
	doc.ServerStreaming = true
	if t.stream != "" {
		seq := &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Minimum: jsonschema.Float(1)}
		at := str()
		at.Format = "date-time"
		deliver := str()
		deliver.Enum = []any{deliverAll, deliverLast, deliverNew}
		doc.Query = []translate.ParamDoc{
			{Name: QueryStartSeq, Description: "Start at this stream sequence.", Schema: seq},
			{Name: QueryStartTime, Description: "Start at the first message stored at or after this time.", Schema: at},
			{Name: QueryDeliver, Schema: deliver,
				Description: "all: from the stream's first message; last: from its last; new (the default): messages stored from now on."},
		}
		id := str()
		id.Pattern = `^[0-9]+$`
		doc.Headers = []translate.ParamDoc{{Name: LastEventIDHeader, Schema: id,
			Description: "Resume after this stream sequence (the last event's id), before the query's start."}}
	}
	data := &jsonschema.Schema{Description: "The payload, when it is JSON."}
	if t.replyType != nil {
		data = binding.MessageSchema(defs, t.replyType.Descriptor(), m)
	}
	b64 := str()
	b64.ContentEncoding = "base64"
	b64.Description = "The payload, when it is not JSON."
	if t.replyType != nil {
		b64.Description = "The payload, when it is not a " + string(t.replyType.Descriptor().FullName()) + "."
	}
	props := jsonschema.Properties{{Name: "subject", Schema: str()}}
	if t.stream != "" {
		props = append(props, jsonschema.Property{Name: "sequence",
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Minimum: jsonschema.Float(1)}})
	}
	props = append(props, jsonschema.Property{Name: "data", Schema: data}, jsonschema.Property{Name: "data_base64", Schema: b64})
	doc.Response = translate.BodyDoc{Description: "A stream: each message published on the subject, as an envelope.",
		Schema: &jsonschema.Schema{Type: jsonschema.Types{"object"}, Properties: props, Required: []string{"subject"}}}
	return doc
}

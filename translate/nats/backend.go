package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/translate"
)

var _ translate.Backend = (*Backend)(nil)

// DefaultTimeout bounds requests and JetStream acknowledgements when the
// context has no deadline of its own.
const DefaultTimeout = 30 * time.Second

// Ack is the body of a DeliveryAck reply: where JetStream stored the
// message. Duplicate is true when the stream already held a message with
// the same Nats-Msg-Id and stored nothing new.
type Ack struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// Invoke sends call.Body to the subject call.Method, with call.Metadata as
// NATS headers (keys in canonical MIME form, "x-request-id" becoming
// "X-Request-Id", "nats-msg-id" becoming "Nats-Msg-Id").
//
//   - DeliveryReply is a request: it waits, within ctx, for one reply and
//     returns its data and headers (keys lower-cased, as metadata.MD wants).
//     A reply carrying the micro protocol's Nats-Service-Error headers is
//     returned as a *translate.Error instead.
//   - DeliveryOneway is a core publish. It returns once nats.go has taken
//     the message into its buffer, which is all core NATS offers: there is
//     no acknowledgement, and a message buffered while reconnecting is lost
//     if the reconnect never succeeds. Flushing would only prove the bytes
//     reached the server, not a subscriber, at the price of a round trip per
//     request, so Invoke does not.
//   - DeliveryAck is a JetStream publish that waits, within ctx, for the
//     stream's acknowledgement; the reply body is an Ack as JSON.
//
// A call without a deadline on ctx gets DefaultTimeout.
//
// Invoke never retries (the resilience layer does); that includes
// JetStream's own retry on "no responders", which is switched off.
func (b *Backend) Invoke(ctx context.Context, call *translate.Call) (*translate.Reply, error) {
	if _, ok := ctx.Deadline(); !ok && call.Delivery != translate.DeliveryOneway {
		// A request whose responder never answers would otherwise wait
		// forever (NATS has no connection-level failure for it); the
		// resilience layer's timeout normally comes first.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	if !validSubject(call.Method) {
		return nil, &translate.Error{Code: codes.Internal, Message: "invalid NATS subject",
			Cause: fmt.Errorf("subject %q", call.Method)}
	}
	msg := &natsgo.Msg{Subject: call.Method, Data: call.Body}
	if len(call.Metadata) > 0 {
		msg.Header = make(natsgo.Header, len(call.Metadata))
		for k, vs := range call.Metadata {
			msg.Header[canonicalKey(k)] = vs
		}
	}
	switch call.Delivery {
	case translate.DeliveryReply:
		m, err := b.nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return nil, b.mapError(call, err)
		}
		if e := serviceError(m); e != nil {
			return nil, e
		}
		return &translate.Reply{Body: m.Data, Header: replyMetadata(m.Header)}, nil
	case translate.DeliveryOneway:
		connected := b.nc.Status() == natsgo.CONNECTED
		if err := b.nc.PublishMsg(msg); err != nil {
			return nil, b.mapError(call, err)
		}
		// While reconnecting, nats.go only buffers the message: that is
		// no sign the server is up, so the breaker must not count it. A
		// disconnect between the two looks counts as buffered too.
		connected = connected && b.nc.Status() == natsgo.CONNECTED
		return &translate.Reply{Unconfirmed: !connected}, nil
	case translate.DeliveryAck:
		ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithRetryAttempts(0))
		if err != nil {
			return nil, b.mapError(call, err)
		}
		body, _ := json.Marshal(Ack{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate})
		return &translate.Reply{Body: body}, nil
	}
	return nil, &translate.Error{Code: codes.Internal, Message: "internal error",
		Cause: fmt.Errorf("unknown delivery %d", call.Delivery)}
}

// mapError turns a nats.go error into the gateway's error model. Messages
// name the backend and, where it helps the caller, the subject (which the
// route already reveals); connection details stay in the cause, for logs.
func (b *Backend) mapError(call *translate.Call, err error) *translate.Error {
	e := &translate.Error{Cause: err}
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
		e.Code = codes.DeadlineExceeded
		if call.Delivery == translate.DeliveryAck {
			e.Message = "backend " + b.name + ": the stream did not acknowledge in time; the message may or may not be stored"
		} else {
			e.Message = "backend " + b.name + " did not answer in time"
		}
	case errors.Is(err, context.Canceled):
		e.Code, e.Message = codes.Canceled, "request cancelled"
	case errors.Is(err, natsgo.ErrNoResponders):
		// Nobody serves a fixed subject: the service is down, and the
		// breaker counts it. A subject filled from path variables may be
		// one nobody was ever meant to serve: the request's problem, or
		// any client could open the breaker for everyone.
		e.Code, e.Message = codes.Unavailable, "backend "+b.name+": no responders for subject "+call.Method
		e.BackendHealthy, e.Retryable = call.Addressed, true
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		e.Code, e.Message = codes.Unavailable, "backend "+b.name+": no stream for subject "+call.Method
		e.BackendHealthy, e.Retryable = call.Addressed, true
	case errors.Is(err, natsgo.ErrMaxPayload):
		e.Code, e.Reason = codes.InvalidArgument, translate.ReasonBodyTooLarge
		e.Message = fmt.Sprintf("message exceeds the NATS server's maximum payload of %d bytes", b.nc.MaxPayload())
	case errors.Is(err, natsgo.ErrConnectionDraining), errors.Is(err, natsgo.ErrReconnectBufExceeded),
		errors.Is(err, natsgo.ErrConnectionReconnecting), errors.Is(err, natsgo.ErrNoServers):
		e.Code, e.Message = codes.Unavailable, "backend "+b.name+" is unavailable"
		// Refused before a byte went out: nats.go checks the connection
		// state before it buffers a message.
		e.Retryable = true
	case errors.Is(err, natsgo.ErrConnectionClosed), errors.Is(err, natsgo.ErrDisconnected):
		// nats.go also says this of a request already sent whose reply
		// channel closed: the service may have it, so not retryable.
		e.Code, e.Message = codes.Unavailable, "backend "+b.name+" is unavailable"
	case errors.Is(err, natsgo.ErrHeadersNotSupported):
		if b.nc.Status() != natsgo.CONNECTED {
			// Never connected yet: nats.go has no server INFO to say
			// headers work, and refuses every message that has them.
			e.Code, e.Message = codes.Unavailable, "backend "+b.name+" is unavailable"
			e.Retryable = true
		} else {
			e.Code, e.Message = codes.Internal, "backend "+b.name+": the NATS server does not support headers (needs 2.2 or later)"
		}
	case errors.As(err, &apiErr):
		// JetStream refused the message (a full stream, a failed
		// expectation). Its code is HTTP-like, as in micro.
		st := apiErr.Code
		if st < 400 || st > 599 {
			st = http.StatusInternalServerError
		}
		e.Code, e.DeclaredStatus, e.Application, e.FromServer = translate.CodeForHTTPStatus(st), st, true, true
		e.Message = "jetstream: " + apiErr.Description
	case errors.Is(err, jetstream.ErrInvalidJSAck):
		// Something that is not a stream answered on the subject.
		e.Code, e.Reason, e.FromServer = codes.Internal, translate.ReasonBadGateway, true
		e.Message = "backend " + b.name + ": invalid acknowledgement for subject " + call.Method
	default:
		e.Code, e.Message = codes.Internal, "internal error"
	}
	return e
}

// serviceError reads the micro protocol's error headers: Nats-Service-Error
// is the message, Nats-Service-Error-Code an HTTP-like status. The reply's
// data, when it is a JSON object with an "@type" or a list of them, becomes
// the error's details; other data is dropped rather than shown, as it is
// not in a shape clients of the gateway know.
func serviceError(m *natsgo.Msg) *translate.Error {
	msgText, hasMsg := headerValue(m.Header, micro.ErrorHeader)
	codeText, hasCode := headerValue(m.Header, micro.ErrorCodeHeader)
	if !hasMsg && !hasCode {
		return nil
	}
	st, err := strconv.Atoi(strings.TrimSpace(codeText))
	e := translate.Declared(st, msgText)
	if err != nil || st < 400 || st > 599 {
		// Not an error status: the service says it failed, not how.
		st = http.StatusInternalServerError
		e.Code, e.DeclaredStatus = codes.Unknown, st
	}
	e.FromServer = true
	e.Cause = fmt.Errorf("service error %q: %s", codeText, msgText)
	if e.Message == "" {
		e.Message = http.StatusText(st)
	}
	e.JSONDetails = jsonDetails(m.Data)
	e.Header = http.Header{}
	copyReplyHeaders(e.Header, m.Header, false)
	return e
}

func headerValue(h natsgo.Header, key string) (string, bool) {
	if vs, ok := h[key]; ok && len(vs) > 0 {
		return vs[0], true
	}
	for k, vs := range h { // services that spell it in another case
		if strings.EqualFold(k, key) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func jsonDetails(data []byte) []json.RawMessage {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || (data[0] != '{' && data[0] != '[') {
		return nil
	}
	var list []json.RawMessage
	if data[0] == '[' {
		if json.Unmarshal(data, &list) != nil {
			return nil
		}
	} else {
		list = []json.RawMessage{data}
	}
	var out []json.RawMessage
	for _, d := range list {
		var probe struct {
			Type string `json:"@type"`
		}
		if json.Unmarshal(d, &probe) == nil && probe.Type != "" {
			out = append(out, d)
		}
	}
	return out
}

// replyMetadata carries reply headers in metadata.MD's lower-case keys.
func replyMetadata(h natsgo.Header) metadata.MD {
	if len(h) == 0 {
		return nil
	}
	md := make(metadata.MD, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		md[lk] = append(md[lk], vs...)
	}
	return md
}

package binding

import (
	"bytes"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/translate"
)

const (
	jsonContentType    = "application/json"
	defaultContentType = "application/octet-stream"
)

// Reply renders the backend's reply, the encoded output message, as the HTTP
// body: JSON, or the raw data of a google.api.HttpBody. Fields the backend
// sends that the schema does not know are kept and not rendered: a backend
// ahead of the gateway's descriptors is normal, not an error. A reply that
// does not decode is an INTERNAL *translate.Error.
func (r *Rule) Reply(b []byte) (body []byte, contentType string, err error) {
	if out, ok, err := r.fastReply(b); ok {
		if err != nil {
			return nil, "", err
		}
		return out, jsonContentType, nil
	}
	return r.referenceReply(b)
}

// referenceReply is Reply through a dynamicpb message and protojson: the
// path for every reply the fast path declines, and its oracle in the
// differential tests.
func (r *Rule) referenceReply(b []byte) (body []byte, contentType string, err error) {
	msg := r.out.New()
	if err := r.decodeReply(b, msg); err != nil {
		return nil, "", &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "invalid reply from backend", Cause: err}
	}
	m := msg
	if fd := r.respField; fd != nil {
		if !isSingularMessage(fd) {
			return r.replyField(msg, fd)
		}
		if !msg.Has(fd) && r.respHTTP == nil {
			return r.render(msg.Get(fd).Message(), true)
		}
		m = msg.Get(fd).Message()
	}
	if hb := r.respHTTP; hb != nil {
		ct := m.Get(hb.contentType).String()
		if ct == "" {
			ct = defaultContentType
		}
		return m.Get(hb.data).Bytes(), ct, nil
	}
	return r.render(m, false)
}

// decodeReply unmarshals a reply. protobuf-go (v1.36.12) panics on a map
// entry whose key has the wrong wire type when decoding into dynamicpb; a
// backend's bytes must not take the request down with them, so that is an
// error like any other invalid reply.
func (r *Rule) decodeReply(b []byte, msg protoreflect.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the reply does not decode: %v", p)
		}
	}()
	return r.decode.Unmarshal(b, msg.Interface())
}

// render marshals m as compact JSON. unset says m is the empty stand-in for
// an unset response field; a message protojson cannot render empty
// (google.protobuf.Value) is then null.
func (r *Rule) render(m protoreflect.Message, unset bool) ([]byte, string, error) {
	out, err := r.marshal.Marshal(m.Interface())
	if err != nil {
		if unset {
			return []byte("null"), jsonContentType, nil
		}
		// An Any whose type the resolver does not know, for instance.
		return nil, "", &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "cannot render the backend's reply as JSON", Cause: err}
	}
	return translate.CompactJSON(out), jsonContentType, nil
}

// replyField renders a repeated, map or scalar response field: the message
// with only that field set is rendered by protojson, so that the value has
// exactly protojson's form, and the value is cut out of it.
func (r *Rule) replyField(msg protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, string, error) {
	if !msg.Has(fd) {
		return bytes.Clone(r.respZero), jsonContentType, nil
	}
	only := r.out.New()
	only.Set(fd, msg.Get(fd))
	out, err := r.marshal.Marshal(only.Interface())
	if err != nil {
		return nil, "", &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "cannot render the backend's reply as JSON", Cause: err}
	}
	out = translate.CompactJSON(out)
	name := fd.JSONName()
	if r.marshal.UseProtoNames {
		name = fd.TextName()
	}
	v, ok := member(out, name)
	if !ok {
		return nil, "", &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "cannot render the backend's reply as JSON"}
	}
	return v, jsonContentType, nil
}

// member returns the value of the top-level member name of a compact JSON
// object written by protojson (so keys carry no escapes that matter).
func member(obj []byte, name string) ([]byte, bool) {
	if len(obj) < 2 || obj[0] != '{' {
		return nil, false
	}
	i := 1
	for i < len(obj) && obj[i] == '"' {
		end := stringEnd(obj, i)
		if end < 0 || end >= len(obj) || obj[end] != ':' {
			return nil, false
		}
		key := obj[i+1 : end-1]
		start := end + 1
		stop := valueEnd(obj, start)
		if stop < 0 {
			return nil, false
		}
		if string(key) == name {
			return obj[start:stop], true
		}
		i = stop
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return nil, false
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the compact JSON value at b[i].
func valueEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			e := stringEnd(b, j)
			if e < 0 {
				return -1
			}
			if depth == 0 {
				return e
			}
			j = e - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j // a scalar ends at its object's close
			}
			if depth--; depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

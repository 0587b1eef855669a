package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchboard-gw/switchboard/observability"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// Resolver finds message and extension types, for rendering error details
// and Any fields. Schema snapshots provide one per descriptor set.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// WriteError writes err as the google.rpc.Status JSON body with its HTTP
// status. Details are rendered through res (nil means the built-in types
// only); a detail whose type is unknown is still shown, as its @type and its
// bytes in base64. requestID, when set, is added as a google.rpc.RequestInfo
// detail so that a client can quote it.
func WriteError(w http.ResponseWriter, err error, res Resolver, requestID string) *Error {
	e := FromError(err)
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	var tail []*anypb.Any
	if requestID != "" {
		if a, err := anypb.New(&errdetails.RequestInfo{RequestId: requestID}); err == nil {
			tail = append(tail, a)
		}
	}
	body := MarshalStatus(e, e.Details, res, tail...)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Del("Content-Encoding")
	w.WriteHeader(e.Status())
	_, _ = w.Write(body)
	return e
}

// MarshalStatus renders the google.rpc.Status JSON body: details, then
// e.JSONDetails, then tail (the gateway's own, such as the request id).
func MarshalStatus(e *Error, details []*anypb.Any, res Resolver, tail ...*anypb.Any) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"code":`)
	buf.WriteString(strconv.Itoa(int(e.Code)))
	buf.WriteString(`,"message":`)
	msg, _ := json.Marshal(e.Message)
	buf.Write(msg)
	buf.WriteString(`,"details":[`)
	for i, d := range details {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(marshalDetail(d, res))
	}
	n := len(details)
	for _, d := range e.JSONDetails {
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(compact(d))
		n++
	}
	for _, d := range tail {
		if n > 0 {
			buf.WriteByte(',')
		}
		buf.Write(marshalDetail(d, res))
		n++
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

func marshalDetail(d *anypb.Any, res Resolver) []byte {
	if res != nil {
		opts := protojson.MarshalOptions{Resolver: res}
		if b, err := opts.Marshal(d); err == nil {
			return compact(b)
		}
	}
	if b, err := protojson.Marshal(d); err == nil { // built-in types
		return compact(b)
	}
	raw := struct {
		Type  string `json:"@type"`
		Value string `json:"value"`
	}{d.GetTypeUrl(), base64.StdEncoding.EncodeToString(d.GetValue())}
	b, _ := json.Marshal(raw)
	return b
}

// compact removes the random whitespace protojson inserts to discourage
// byte comparisons, so error bodies are stable for clients and golden files.
func compact(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}

// Fail writes err as the response to r and records it for the access log
// and metrics: the one way a handler reports a failed request.
func Fail(w http.ResponseWriter, r *http.Request, err error, res Resolver) {
	info := observability.FromContext(r.Context())
	e := WriteError(w, err, res, info.ID)
	info.SetError(e.Code.String(), e)
}

package binding

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// Request builds the backend request from the path variables, the query and
// the body, and returns it marshalled (proto binary), so that it is encoded
// exactly once. contentType is the request's Content-Type header. The body is
// read, never retained. Errors are *translate.Error: INVALID_ARGUMENT (400)
// for a bad body, parameter or path value, 415 for a body that is not JSON
// where JSON is expected.
//
// The order is body, path variables, query: path variables override what the
// body said about the same field, and the query only reaches fields that
// neither the body nor the path binds.
func (r *Rule) Request(params routes.Params, query url.Values, body []byte, contentType string) ([]byte, error) {
	if b, ok := r.fastRequest(params, query, body, contentType); ok {
		return b, nil
	}
	return r.referenceRequest(params, query, body, contentType)
}

// referenceRequest is Request through a dynamicpb message and protojson:
// the path for every input the fast path declines, and its oracle in the
// differential tests.
func (r *Rule) referenceRequest(params routes.Params, query url.Values, body []byte, contentType string) ([]byte, error) {
	msg := r.in.New()
	if err := r.bindBody(msg, body, contentType); err != nil {
		return nil, err
	}
	var vs translate.Violations
	r.bindPath(msg, params, &vs)
	if len(query) > 0 && (r.body != bodyWhole || r.strict) {
		r.bindQuery(msg, query, &vs)
	}
	if vs.Len() > 0 {
		return nil, vs.Err()
	}
	if r.autoMask != nil && len(body) > 0 {
		r.fillMask(msg, body)
	}
	b, err := r.encode.Marshal(msg.Interface())
	if err != nil {
		// Only input can make a built message fail to marshal: a proto2
		// required field left unset (strings are UTF-8-checked as bound).
		missingRequired(msg, "", &vs)
		if vs.Len() > 0 {
			return nil, vs.Err()
		}
		return nil, translate.BadRequest("invalid request: " + translate.ProtoErrorText(err))
	}
	return b, nil
}

// missingRequired names every unset required field in m, for a request that
// failed to marshal. m was built from a bounded request, so the recursion is
// bounded too.
func missingRequired(m protoreflect.Message, path string, vs *translate.Violations) {
	md := m.Descriptor()
	req := md.RequiredNumbers()
	for i := 0; i < req.Len(); i++ {
		if fd := md.Fields().ByNumber(req.Get(i)); fd != nil && !m.Has(fd) {
			p := join(path, string(fd.Name()))
			vs.Add(p, "missing required field "+quote(p))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, fieldName(fd))
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					missingRequired(v.Message(), p+"["+k.String()+"]", vs)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					missingRequired(v.List().Get(i).Message(), p+"["+strconv.Itoa(i)+"]", vs)
				}
			}
		case fd.Message() != nil:
			missingRequired(v.Message(), p, vs)
		}
		return true
	})
}

func (r *Rule) bindBody(msg protoreflect.Message, body []byte, contentType string) error {
	if r.body == bodyNone {
		return nil
	}
	if r.bodyHTTP != nil {
		// HttpBody takes any media type: the backend gets the bytes and
		// the header as they came.
		target := msg
		if r.body == bodyField {
			target = msg.Mutable(r.bodyField).Message()
		}
		if len(body) > 0 {
			target.Set(r.bodyHTTP.data, protoreflect.ValueOfBytes(body))
		}
		if contentType != "" {
			if !utf8.ValidString(contentType) {
				return translate.BadRequest("the Content-Type header is not valid UTF-8")
			}
			target.Set(r.bodyHTTP.contentType, protoreflect.ValueOfString(contentType))
		}
		return nil
	}
	if len(body) == 0 {
		// No body is an empty message, whatever the Content-Type says:
		// there is nothing to decode.
		return nil
	}
	if !translate.IsJSONMediaType(contentType) {
		return translate.Refuse(translate.ReasonUnsupportedMediaType, "unsupported Content-Type %s: the request body must be application/json", quote(contentType))
	}
	var err error
	switch {
	case r.body == bodyWhole:
		err = r.unmarshal.Unmarshal(body, msg.Interface())
	case r.bodyPrefix == nil:
		err = r.unmarshal.Unmarshal(body, msg.Mutable(r.bodyField).Message().Interface())
	default:
		// protojson reads only messages, so the JSON of a repeated, map or
		// scalar field is read as the one field of an object. The wrapper
		// is one more message level for the recursion limit. The body must
		// be one JSON value on its own first, or `1,"other":2` would set a
		// second field through the wrapper.
		if !json.Valid(body) {
			return r.bodyError(body, errors.New("not JSON"))
		}
		wrapped := make([]byte, 0, len(r.bodyPrefix)+len(body)+1)
		wrapped = append(append(append(wrapped, r.bodyPrefix...), body...), '}')
		u := r.unmarshal
		u.RecursionLimit++
		err = u.Unmarshal(wrapped, msg.Interface())
	}
	if err == nil {
		return nil
	}
	if isJSONNull(body) {
		// A null body is no body. protojson rejects null for a message, but
		// grpc-gateway accepts it, and it means the same as nothing.
		if r.body == bodyField {
			msg.Clear(r.bodyField)
		}
		return nil
	}
	return r.bodyError(body, err)
}

func isJSONNull(b []byte) bool {
	return len(b) < 64 && string(bytes.TrimSpace(b)) == "null"
}

// bindPath sets the path variables. routes.Params come in template order,
// as do r.pathVars, so the common case finds each by index.
func (r *Rule) bindPath(msg protoreflect.Message, params routes.Params, vs *translate.Violations) {
	for i, pv := range r.pathVars {
		var value string
		if i < len(params) && params[i].FieldPath == pv.path {
			value = params[i].Value
		} else if v, ok := params.Get(pv.path); ok {
			value = v
		} else {
			continue // the route did not bind it; leave the field alone
		}
		m := msg
		last := len(pv.fields) - 1
		for _, fd := range pv.fields[:last] {
			m = m.Mutable(fd).Message()
		}
		if p := setSingular(m, pv.fields[last], value, r.maxDepth); p != "" {
			vs.Add(pv.path, invalidValue(value, pv.path, pv.fields[last], p))
		}
	}
}

// fillMask sets update_mask to the field paths the body names, when the
// client did not send a mask. The body was already decoded into the message,
// so it is valid JSON within the depth limit; paths use proto field names,
// descend into singular message fields, and stop at maps, lists and
// well-known types, whose whole value is replaced.
func (r *Rule) fillMask(msg protoreflect.Message, body []byte) {
	if msg.Has(r.autoMask) && msg.Get(r.autoMask).Message().Get(maskPaths(r.autoMask)).List().Len() > 0 {
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return
	}
	var paths []string
	var walk func(md protoreflect.MessageDescriptor, obj map[string]json.RawMessage, prefix string)
	walk = func(md protoreflect.MessageDescriptor, obj map[string]json.RawMessage, prefix string) {
		for key, raw := range obj {
			fd := md.Fields().ByJSONName(key)
			if fd == nil {
				fd = md.Fields().ByName(protoreflect.Name(key))
			}
			if fd == nil {
				continue // unknown, already ignored (or refused when strict)
			}
			p := join(prefix, string(fd.Name()))
			var sub map[string]json.RawMessage
			if isSingularMessage(fd) && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") &&
				json.Unmarshal(raw, &sub) == nil && len(sub) > 0 {
				walk(fd.Message(), sub, p)
				continue
			}
			paths = append(paths, p)
		}
	}
	walk(r.bodyField.Message(), obj, "")
	sort.Strings(paths)
	mask := msg.Mutable(r.autoMask).Message()
	list := mask.Mutable(maskPaths(r.autoMask)).List()
	for _, p := range paths {
		list.Append(protoreflect.ValueOfString(p))
	}
}

func maskPaths(mask protoreflect.FieldDescriptor) protoreflect.FieldDescriptor {
	return mask.Message().Fields().ByName("paths")
}

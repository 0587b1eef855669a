package binding

import (
	"errors"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/wirejson"
)

// fastPath is a rule's transcoding with no intermediate message: the body
// goes from JSON straight to wire bytes, path variables and query
// parameters are appended as wire fields (a later occurrence of a field
// overrides a scalar and merges into a message, which is exactly "the path
// overrides the body"), and replies go from wire bytes straight to JSON.
//
// It takes the common inputs and declines the rest, which then take the
// reference path (dynamicpb and protojson), the definition of right: any
// input the reference would refuse, and the rare cases that are not worth a
// second implementation (HttpBody, map entries and oneof members in the
// query, a PATCH body filling update_mask, proto2 required fields). The differential fuzz targets hold both paths to the same
// answers.
type fastPath struct {
	opts wirejson.Options
	// in is the input's plan; nil sends every request the reference way.
	in       *wirejson.Message
	body     *wirejson.Field // the body field, when the body names one
	pathVars [][]*wirejson.Field
	// out is the output's plan; nil sends every reply the reference way.
	out       *wirejson.Message
	respField *wirejson.Field
}

// compileFast builds the rule's plans; a part whose types the plans do not
// cover is left nil.
func (r *Rule) compileFast(opts Options) {
	r.fast.opts = wirejson.Options{
		UseProtoNames:   opts.UseProtoNames,
		EmitUnpopulated: opts.EmitUnpopulated,
		UseEnumNumbers:  opts.UseEnumNumbers,
		DiscardUnknown:  !opts.Strict,
		MaxDepth:        r.maxDepth,
		WireDepth:       replyDepth(r.maxDepth),
		Resolver:        r.res,
	}
	c := wirejson.NewCompiler(r.fast.opts)
	if in, err := c.Compile(r.in.Descriptor()); err == nil && !in.Required && r.bodyHTTP == nil {
		r.fast.in = in
		if r.bodyField != nil {
			r.fast.body = in.ByNumber(r.bodyField.Number())
		}
		for _, pv := range r.pathVars {
			chain := planChain(in, pv.fields)
			if chain == nil {
				r.fast.in = nil
				break
			}
			r.fast.pathVars = append(r.fast.pathVars, chain)
		}
	}
	if out, err := c.Compile(r.out.Descriptor()); err == nil && r.respHTTP == nil {
		r.fast.out = out
		if r.respField != nil {
			r.fast.respField = out.ByNumber(r.respField.Number())
		}
	}
}

// planChain follows a path variable's fields through the plans. A wrapper
// leaf gets its value field appended, so that the chain ends in a scalar.
func planChain(m *wirejson.Message, fds []protoreflect.FieldDescriptor) []*wirejson.Field {
	chain := make([]*wirejson.Field, 0, len(fds)+1)
	for _, fd := range fds {
		if m == nil {
			return nil
		}
		f := m.ByNumber(fd.Number())
		if f == nil {
			return nil
		}
		chain = append(chain, f)
		m = f.Message
	}
	if m != nil {
		if m.WellKnown != wirejson.Wrapper {
			return nil
		}
		chain = append(chain, m.ByNumber(1))
	}
	return chain
}

// fastRequest is Request on the fast path; ok is false when it declines.
func (r *Rule) fastRequest(params routes.Params, query url.Values, body []byte, contentType string) (_ []byte, ok bool) {
	f := &r.fast
	if f.in == nil || r.autoMask != nil && len(body) > 0 {
		return nil, false
	}
	out := make([]byte, 0, len(body)+64)
	var err error
	if r.body != bodyNone && len(body) > 0 {
		if !translate.IsJSONMediaType(contentType) {
			return nil, false
		}
		switch {
		case r.body == bodyWhole:
			out, err = f.in.AppendWire(out, body, &f.opts)
		case f.body.Message != nil && !f.body.List && !f.body.Map:
			out, err = wirejson.AppendMessageField(out, f.body, body, &f.opts)
		default:
			out, err = wirejson.AppendFieldWire(out, f.body, body, &f.opts)
		}
		if err != nil {
			return nil, false
		}
	}
	for i, pv := range r.pathVars {
		var value string
		if i < len(params) && params[i].FieldPath == pv.path {
			value = params[i].Value
		} else if v, found := params.Get(pv.path); found {
			value = v
		} else {
			continue
		}
		chain := f.pathVars[i]
		v, problem := parseScalar(chain[len(chain)-1].Desc, value)
		if problem != "" {
			return nil, false
		}
		out = wirejson.AppendValue(out, chain, v)
	}
	if len(query) > 0 && (r.body != bodyWhole || r.strict) {
		if out, ok = r.fastQuery(out, query); !ok {
			return nil, false
		}
	}
	return out, true
}

// fastQuery appends the query parameters that bind plain scalar fields, and
// declines a query that needs the reference's checks: map entries, oneof
// members, well-known types, a field named twice, a repeated key for a
// singular field, a key past a value, or any key the reference would
// refuse.
func (r *Rule) fastQuery(out []byte, query url.Values) ([]byte, bool) {
	if r.body == bodyWhole {
		return nil, false // strict: every key is refused
	}
	var chainBuf [8]*wirejson.Field
	// The leaves set so far, to decline one field named under two keys.
	var leaves [16]*wirejson.Field
	var parents [16]*wirejson.Field
	n := 0
	for key, values := range query {
		if len(values) == 0 {
			continue
		}
		chain := chainBuf[:0]
		m := r.fast.in
		unknown := false
		for rest, more := key, true; more; {
			var seg string
			seg, rest, more = strings.Cut(rest, ".")
			if m == nil || len(chain) == r.maxDepth {
				return nil, false // past a value, or too deep
			}
			fld := m.ByName(seg)
			if fld == nil {
				unknown = true
				break
			}
			if fld.Oneof >= 0 || fld.Map {
				return nil, false
			}
			chain = append(chain, fld)
			switch {
			case fld.List, fld.Message == nil:
				m = nil
			case fld.Message.WellKnown != wirejson.NotWellKnown:
				if !isLeafMessage(fld.Desc.Message()) {
					return nil, false // Any
				}
				m = nil
			default:
				m = fld.Message
			}
		}
		if unknown {
			if r.strict || strings.Contains(key, "[") {
				return nil, false
			}
			continue // ignored, as the reference ignores it
		}
		leaf := chain[len(chain)-1]
		if leaf.Message != nil && !isLeafMessage(leaf.Desc.Message()) {
			return nil, false // a message named as a value
		}
		if r.body == bodyField && chain[0].Desc == r.bodyField || r.fastPathBound(chain) {
			if r.strict {
				return nil, false
			}
			continue // bound fields win; the key is ignored
		}
		if !leaf.List && len(values) > 1 {
			return nil, false
		}
		var parent *wirejson.Field
		if len(chain) > 1 {
			parent = chain[len(chain)-2]
		}
		for i := 0; i < n; i++ {
			if leaves[i] == leaf && parents[i] == parent {
				return nil, false // the same field under two names
			}
		}
		if n == len(leaves) {
			return nil, false
		}
		leaves[n], parents[n] = leaf, parent
		n++
		for _, s := range values {
			var ok bool
			if out, ok = r.appendQueryValue(out, chain, s); !ok {
				return nil, false
			}
		}
	}
	return out, true
}

// appendQueryValue appends the string form s of the leaf at the end of
// chain: a scalar, a wrapper (its value field), or another well-known type
// set from one string, which is built by the reference's own setter, so
// that it takes exactly the same forms.
func (r *Rule) appendQueryValue(out []byte, chain []*wirejson.Field, s string) ([]byte, bool) {
	leaf := chain[len(chain)-1]
	switch {
	case leaf.Message == nil:
		v, problem := parseScalar(leaf.Desc, s)
		if problem != "" {
			return nil, false
		}
		return wirejson.AppendValue(out, chain, v), true
	case leaf.Message.WellKnown == wirejson.Wrapper:
		value := leaf.Message.ByNumber(1)
		v, problem := parseScalar(value.Desc, s)
		if problem != "" {
			return nil, false
		}
		var buf [9]*wirejson.Field
		return wirejson.AppendValue(out, append(append(buf[:0], chain...), value), v), true
	}
	m := dynamicpb.NewMessage(leaf.Desc.Message())
	if problem := setLeafMessage(m, s, r.maxDepth-len(chain)); problem != "" {
		return nil, false
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, false
	}
	return wirejson.AppendValue(out, chain, protoreflect.ValueOfBytes(b)), true
}

// fastPathBound: a path variable's field is the key's field, contains it,
// or is contained by it.
func (r *Rule) fastPathBound(chain []*wirejson.Field) bool {
	for _, pv := range r.pathVars {
		n := min(len(pv.fields), len(chain))
		same := true
		for i := 0; i < n; i++ {
			if pv.fields[i] != chain[i].Desc {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// fastReply is Reply on the fast path; ok is false when it declines. err
// is set only for a reply nested too deep, which is refused here rather
// than left to the reference, which would follow Any contents down
// without a limit.
func (r *Rule) fastReply(b []byte) (_ []byte, ok bool, _ error) {
	f := &r.fast
	if f.out == nil {
		return nil, false, nil
	}
	dst := make([]byte, 0, 2*len(b)+16)
	var out []byte
	set, err := true, error(nil)
	if f.respField == nil {
		out, err = f.out.AppendJSON(dst, b)
	} else {
		out, set, err = f.out.AppendFieldJSON(dst, b, f.respField)
	}
	switch {
	case errors.Is(err, wirejson.ErrTooDeep):
		return nil, true, &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "invalid reply from backend", Cause: err}
	case err != nil:
		return nil, false, nil
	case !set && f.respField.Message != nil && !f.respField.List && !f.respField.Map:
		return nil, false, nil // an unset message: the reference renders its stand-in
	case !set:
		return append(dst, r.respZero...), true, nil
	}
	return out, true, nil
}

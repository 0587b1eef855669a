package binding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/translate"
)

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is 0. It is
// far below protobuf's own default (10000) because a gateway faces untrusted
// clients, and far above what any real API nests.
const DefaultMaxDepth = 64

// Options change how a rule reads requests and renders replies. The zero
// value is lenient input and protojson's default output.
type Options struct {
	// UseProtoNames renders the original proto field names instead of the
	// lowerCamelCase json_name.
	UseProtoNames bool
	// EmitUnpopulated renders fields that are not set, with their zero value.
	// grpc-gateway v2 turns this on by default; set it for identical output.
	EmitUnpopulated bool
	// UseEnumNumbers renders enums as numbers instead of names.
	UseEnumNumbers bool
	// Strict rejects unknown body fields and query parameters that bind to
	// nothing, naming each one, instead of ignoring them.
	Strict bool
	// MaxDepth limits message nesting, in request bodies and in replies
	// alike. 0 means DefaultMaxDepth.
	MaxDepth int
	// PatchFieldMask fills an unset update_mask (a google.protobuf.FieldMask
	// field of the input) from the keys of the body, as grpc-gateway does
	// for PATCH: a partial update changes what the client sent, no more.
	// Only for a body bound to a message field.
	PatchFieldMask bool
}

type bodyMode uint8

const (
	bodyNone  bodyMode = iota // the body is ignored
	bodyWhole                 // body "*": the body is the whole input message
	bodyField                 // body "field": the body is one top-level field
)

// pathVar is one template variable, resolved to the chain of fields that
// leads to it so that binding it only walks descriptors already found.
type pathVar struct {
	path   string                         // dotted, as in the template
	fields []protoreflect.FieldDescriptor // the last one is the leaf
}

// httpBody holds the fields of a google.api.HttpBody message, which carries
// a raw body and its content type instead of JSON.
type httpBody struct {
	contentType protoreflect.FieldDescriptor
	data        protoreflect.FieldDescriptor
}

// Rule is one google.api.http binding of one method, resolved against its
// descriptors. It is immutable and safe for concurrent use.
type Rule struct {
	method   protoreflect.MethodDescriptor
	in, out  protoreflect.MessageType
	res      translate.Resolver
	strict   bool
	maxDepth int

	pathVars []pathVar

	body      bodyMode
	bodyField protoreflect.FieldDescriptor
	// autoMask is the update_mask field filled from the body's keys when
	// the client sent none (Options.PatchFieldMask).
	autoMask protoreflect.FieldDescriptor
	// bodyPrefix wraps a body that is the JSON of a repeated, map or scalar
	// field into an object protojson can read: `{"field":` + body + `}`.
	bodyPrefix []byte
	bodyHTTP   *httpBody // the body field (or the whole input) is HttpBody

	respField protoreflect.FieldDescriptor
	// respZero is the JSON of the response field when the reply leaves it
	// unset and protojson would therefore not render it.
	respZero []byte
	respHTTP *httpBody // the response field (or the whole output) is HttpBody

	// checkInit is set when the input reaches a proto2 required field; only
	// then is the built message checked, as the check walks the message.
	checkInit bool

	// fast is the transcoding with no intermediate message; the fields
	// above stay the reference it falls back to.
	fast fastPath

	unmarshal protojson.UnmarshalOptions
	marshal   protojson.MarshalOptions
	decode    proto.UnmarshalOptions
	encode    proto.MarshalOptions
}

// NewRule resolves a binding of md. pathFields are the template's variable
// field paths (dotted proto names), body is "" (no body), "*" or a top-level
// field name, and responseBody is "" or a top-level field name. res finds the
// types of Any fields; nil means protoregistry.GlobalTypes.
//
// Path variables must reach a singular scalar (string, number, bool, enum,
// bytes) or wrapper-typed field, through singular message fields. Errors name
// the method and the bad path.
func NewRule(md protoreflect.MethodDescriptor, pathFields []string, body, responseBody string, res translate.Resolver, opts Options) (*Rule, error) {
	if md == nil {
		return nil, errors.New("binding: nil method descriptor")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", md.FullName(), fmt.Sprintf(format, args...))
	}
	if opts.MaxDepth < 0 {
		return nil, fail("negative MaxDepth %d", opts.MaxDepth)
	}
	if opts.MaxDepth == 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if res == nil {
		res = protoregistry.GlobalTypes
	}
	in, out := md.Input(), md.Output()
	r := &Rule{
		method:   md,
		in:       dynamicpb.NewMessageType(in),
		out:      dynamicpb.NewMessageType(out),
		res:      res,
		strict:   opts.Strict,
		maxDepth: opts.MaxDepth,
		unmarshal: protojson.UnmarshalOptions{
			DiscardUnknown: !opts.Strict,
			RecursionLimit: opts.MaxDepth,
			Resolver:       res,
			// Required fields are checked once, on the finished message:
			// a path variable may still fill one in after the body.
			AllowPartial: true,
		},
		marshal: protojson.MarshalOptions{
			UseProtoNames:   opts.UseProtoNames,
			EmitUnpopulated: opts.EmitUnpopulated,
			UseEnumNumbers:  opts.UseEnumNumbers,
			Resolver:        res,
			// A reply missing a required field is the backend's business,
			// not a reason to withhold it from the client.
			AllowPartial: true,
		},
		decode: proto.UnmarshalOptions{
			Resolver: res,
			// A reply may nest as deep as the requests the gateway lets
			// through: one JSON level of a google.protobuf.Struct or Value
			// is up to three message levels on the wire.
			RecursionLimit: replyDepth(opts.MaxDepth),
			AllowPartial:   true,
		},
	}
	r.checkInit = hasRequired(in, map[protoreflect.FullName]bool{})
	r.encode = proto.MarshalOptions{AllowPartial: !r.checkInit}

	seen := make(map[string]bool, len(pathFields))
	for _, p := range pathFields {
		if seen[p] {
			return nil, fail("path variable %q appears twice", p)
		}
		seen[p] = true
		fds, err := resolvePathVar(in, p)
		if err != nil {
			return nil, fail("path variable %q: %v", p, err)
		}
		r.pathVars = append(r.pathVars, pathVar{path: p, fields: fds})
	}

	switch body {
	case "":
	case "*":
		r.body = bodyWhole
		r.bodyHTTP = httpBodyOf(in)
	default:
		fd, err := topLevelField(in, body)
		if err != nil {
			return nil, fail("body %q: %v", body, err)
		}
		r.body, r.bodyField = bodyField, fd
		switch {
		case isSingularMessage(fd):
			r.bodyHTTP = httpBodyOf(fd.Message())
			if mask := in.Fields().ByName("update_mask"); opts.PatchFieldMask && r.bodyHTTP == nil && mask != nil &&
				isSingularMessage(mask) && mask.Message().FullName() == "google.protobuf.FieldMask" {
				r.autoMask = mask
			}
		default:
			// json.Marshal quotes a json_name that is not a plain
			// identifier; the prefix never contains a newline, which keeps
			// error positions easy to map back.
			name, _ := json.Marshal(fd.JSONName())
			r.bodyPrefix = append(append([]byte{'{'}, name...), ':')
		}
	}

	if responseBody == "" {
		r.respHTTP = httpBodyOf(out)
	} else {
		fd, err := topLevelField(out, responseBody)
		if err != nil {
			return nil, fail("response_body %q: %v", responseBody, err)
		}
		r.respField = fd
		if isSingularMessage(fd) {
			r.respHTTP = httpBodyOf(fd.Message())
		} else {
			r.respZero = zeroJSON(r.out, fd, r.marshal)
		}
	}
	r.compileFast(opts)
	return r, nil
}

// Method is the method the rule binds.
func (r *Rule) Method() protoreflect.MethodDescriptor { return r.method }

// Resolver finds the message and extension types the rule's messages
// refer to (Any contents, well-known types).
func (r *Rule) Resolver() translate.Resolver { return r.res }

// Input is the request message descriptor.
func (r *Rule) Input() protoreflect.MessageDescriptor { return r.in.Descriptor() }

// Output is the reply message descriptor.
func (r *Rule) Output() protoreflect.MessageDescriptor { return r.out.Descriptor() }

func resolvePathVar(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	if path == "" {
		return nil, errors.New("empty field path")
	}
	var fds []protoreflect.FieldDescriptor
	rest := path
	for {
		seg, tail, more := strings.Cut(rest, ".")
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return nil, fmt.Errorf("no field %q in %s", seg, md.FullName())
		}
		fds = append(fds, fd)
		if !more {
			switch {
			case fd.IsMap():
				return nil, fmt.Errorf("field %q in %s is a map; a path variable must be a singular scalar or wrapper field", seg, md.FullName())
			case fd.IsList():
				return nil, fmt.Errorf("field %q in %s is repeated; a path variable must be a singular scalar or wrapper field", seg, md.FullName())
			case fd.Message() != nil && !isWrapper(fd.Message().FullName()):
				return nil, fmt.Errorf("field %q in %s is a message (%s); a path variable must be a singular scalar or wrapper field", seg, md.FullName(), fd.Message().FullName())
			}
			return fds, nil
		}
		if !isSingularMessage(fd) {
			return nil, fmt.Errorf("field %q in %s is not a singular message, so %q cannot reach into it", seg, md.FullName(), tail)
		}
		md, rest = fd.Message(), tail
	}
}

func topLevelField(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, error) {
	if strings.Contains(name, ".") {
		return nil, errors.New(`must be "*" or a top-level field name`)
	}
	fd := md.Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return nil, fmt.Errorf("no field %q in %s", name, md.FullName())
	}
	return fd, nil
}

func isSingularMessage(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && !fd.IsList() && !fd.IsMap()
}

func httpBodyOf(md protoreflect.MessageDescriptor) *httpBody {
	if md.FullName() != "google.api.HttpBody" {
		return nil
	}
	ct, data := md.Fields().ByName("content_type"), md.Fields().ByName("data")
	if ct == nil || data == nil || ct.Kind() != protoreflect.StringKind || data.Kind() != protoreflect.BytesKind {
		return nil // not the HttpBody we know; treat it as an ordinary message
	}
	return &httpBody{contentType: ct, data: data}
}

// hasRequired reports whether md reaches a proto2 required field.
func hasRequired(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if md.RequiredNumbers().Len() > 0 {
		return true
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() != nil && hasRequired(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// zeroJSON is what protojson renders for fd when the reply leaves it unset:
// the zero value, [] or {}. It is computed once, by protojson itself, so that
// it follows the rule's options exactly (enum names or numbers, 64-bit
// integers as strings, proto2 defaults).
func zeroJSON(mt protoreflect.MessageType, fd protoreflect.FieldDescriptor, mo protojson.MarshalOptions) []byte {
	switch {
	case fd.IsList():
		return []byte("[]")
	case fd.IsMap():
		return []byte("{}")
	}
	mo.EmitUnpopulated = true
	b, err := mo.Marshal(mt.New().Interface())
	if err == nil {
		var fields map[string]json.RawMessage
		if json.Unmarshal(b, &fields) == nil {
			name := fd.JSONName()
			if mo.UseProtoNames {
				name = fd.TextName()
			}
			if v, ok := fields[name]; ok {
				var buf bytes.Buffer
				if json.Compact(&buf, v) == nil {
					return buf.Bytes()
				}
			}
		}
	}
	// protojson leaves out unset oneof members even with EmitUnpopulated.
	return []byte("null")
}

// HasBody reports whether the rule reads the request body; callers skip
// reading it otherwise.
func (r *Rule) HasBody() bool { return r.body != bodyNone }

// BodyIsHTTPBody says the body fills a google.api.HttpBody, which takes
// the bytes with any media type.
func (r *Rule) BodyIsHTTPBody() bool { return r.body != bodyNone && r.bodyHTTP != nil }

// replyDepth is the wire recursion limit for replies whose JSON may nest
// jsonDepth levels.
func replyDepth(jsonDepth int) int { return 3*jsonDepth + 8 }

// ReplyIsHTTPBody says the reply (or its response_body field) is a
// google.api.HttpBody, sent in its own media type.
func (r *Rule) ReplyIsHTTPBody() bool { return r.respHTTP != nil }

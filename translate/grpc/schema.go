package grpc

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
)

var _ translate.Documented = (*Transcoder)(nil)

// Operation describes the route from its binding rule: path variables,
// the query parameters the rule reads, the body and the reply, all in the
// JSON mapping the rule renders with.
func (t *Transcoder) Operation(defs *jsonschema.Definitions) translate.OperationDoc {
	r := t.rule
	md := r.Method()
	m := r.Mapping()
	doc := translate.OperationDoc{
		Description:     binding.Comments(md),
		Status:          200,
		ClientStreaming: md.IsStreamingClient(),
		ServerStreaming: md.IsStreamingServer(),
	}
	if opts, ok := md.Options().(*descriptorpb.MethodOptions); ok {
		doc.Deprecated = opts.GetDeprecated()
	}
	if sd, ok := md.Parent().(protoreflect.ServiceDescriptor); ok {
		doc.Tag, doc.TagDescription = string(sd.FullName()), binding.Comments(sd)
	}

	pathBound := map[protoreflect.FieldDescriptor][]string{} // body-level field -> its subfields the path sets
	for _, pv := range r.PathVars() {
		leaf := pv.Fields[len(pv.Fields)-1]
		doc.PathParams = append(doc.PathParams, param(defs, pv.Path, leaf, m, true))
		if len(pv.Fields) == 2 {
			pathBound[pv.Fields[0]] = append(pathBound[pv.Fields[0]], m.Name(pv.Fields[1]))
		}
	}
	for _, q := range r.QueryParams() {
		doc.Query = append(doc.Query, param(defs, q.Name, q.Fields[len(q.Fields)-1], m, false))
	}

	switch {
	case !r.HasBody():
	case r.BodyIsHTTPBody():
		doc.Request = &translate.BodyDoc{MediaType: translate.AnyMediaType,
			Description: "The raw body, in any media type: it is the google.api.HttpBody's data, and its Content-Type the content_type."}
	case r.WholeBody():
		// Fields the path sets come from the path; the body's would be
		// overwritten, so they are left out of it, as grpc-gateway does.
		var top []string
		for _, pv := range r.PathVars() {
			if len(pv.Fields) == 1 {
				top = append(top, m.Name(pv.Fields[0]))
			}
		}
		doc.Request = &translate.BodyDoc{Schema: defs.Without(binding.MessageSchema(defs, r.Input(), m), top...)}
	default:
		fd := r.BodyField()
		s := binding.ValueSchema(defs, fd, m)
		if sub := pathBound[fd]; len(sub) > 0 && fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			s = defs.Without(s, sub...)
		}
		s.Description = jsonschema.JoinParagraphs(s.Description, binding.Comments(fd))
		doc.Request = &translate.BodyDoc{Schema: s}
	}

	switch {
	case r.ReplyIsHTTPBody():
		doc.Response = translate.BodyDoc{MediaType: translate.AnyMediaType,
			Description: "The raw bytes of the reply's google.api.HttpBody, in the media type its content_type names."}
	case r.ResponseField() != nil:
		fd := r.ResponseField()
		s := binding.ValueSchema(defs, fd, m)
		s.Description = jsonschema.JoinParagraphs(s.Description, binding.Comments(fd))
		doc.Response = translate.BodyDoc{Schema: s}
	default:
		doc.Response = translate.BodyDoc{Schema: binding.MessageSchema(defs, r.Output(), m)}
	}
	return doc
}

// param describes a path variable or query parameter set from fd.
func param(defs *jsonschema.Definitions, name string, fd protoreflect.FieldDescriptor, m binding.Mapping, inPath bool) translate.ParamDoc {
	p := translate.ParamDoc{
		Name:        name,
		Description: binding.Comments(fd),
		Required:    inPath,
		Schema:      jsonschema.NonNull(binding.ValueSchema(defs, fd, m)),
		JSONText:    binding.IsJSONText(fd) && !fd.IsList() && !fd.IsMap(),
		Map:         fd.IsMap(),
	}
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok {
		p.Deprecated = opts.GetDeprecated()
	}
	if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Duration" && !fd.IsList() && !fd.IsMap() {
		// The URL takes what Go prints, too (binding's goDuration).
		p.Schema.Pattern = ""
		p.Schema.Description = `A duration: seconds with an "s" ("1.5s"), or as Go prints one ("1m30s").`
	}
	return p
}

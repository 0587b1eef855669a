package thrift

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/translate"
)

// This file describes a Thrift route for API documents, in the JSON
// mapping doc.go sets out: IDL field names, i64 as strings, binary as
// base64, enums by name, maps with other keys than strings, integers and
// enums as arrays of key/value objects, declared exceptions as errors
// with their status and a detail typed "thrift/<prefix>.<Name>". Types
// come from the IDL model, which keeps the doc comments.

var _ translate.Documented = (*Transcoder)(nil)

// Operation describes the function's arguments as path, query, header
// and body parameters, its return value as the reply, and its declared
// exceptions as errors.
func (t *Transcoder) Operation(defs *jsonschema.Definitions) translate.OperationDoc {
	fn := t.fn
	d := idlDescriber{defs}
	doc := translate.OperationDoc{Description: fn.Doc, Status: 200}
	if fn.Service != nil {
		doc.Tag, doc.TagDescription = fn.Service.Name, fn.Service.Doc
		if fn.Service.File != nil {
			doc.Tag = fn.Service.FullName()
		}
	}
	bound := map[string]bool{} // argument paths something other than the body sets
	for _, pv := range t.pathVars {
		f := argField(fn, pv.path)
		doc.PathParams = append(doc.PathParams, translate.ParamDoc{Name: pv.path, Description: f.Doc, Required: true, Schema: d.typ(f.Type)})
		bound[pv.path] = true
	}
	for _, k := range slices.Sorted(maps.Keys(t.query)) {
		bp := t.query[k]
		f := argField(fn, bp.path)
		doc.Query = append(doc.Query, translate.ParamDoc{Name: k, Description: f.Doc, Required: mandatory(f), Schema: d.typ(f.Type)})
		bound[bp.path] = true
	}
	for _, h := range t.headers {
		f := argField(fn, h.path)
		doc.Headers = append(doc.Headers, translate.ParamDoc{Name: h.header, Description: f.Doc, Required: mandatory(f), Schema: d.typ(f.Type)})
		bound[h.path] = true
	}

	switch t.body {
	case bodyNone:
		// Any argument path is a query key; list the values nothing else
		// sets, as a client would call the function.
		doc.Query = append(doc.Query, d.implicitQuery(fn.Args, "", bound, map[*idl.Struct]bool{})...)
	case bodyWhole:
		s := &jsonschema.Schema{Type: jsonschema.Types{"object"}, Description: "The arguments, by name."}
		for _, a := range fn.Args {
			if bound[a.Name] {
				continue // the path, query or a header sets it
			}
			s.Properties = append(s.Properties, jsonschema.Property{Name: a.Name, Schema: d.fieldSchema(a)})
			if mandatory(a) {
				s.Required = append(s.Required, a.Name)
			}
		}
		doc.Request = &translate.BodyDoc{Schema: s}
	case bodyArg:
		a := argField(fn, t.bodyArg.name)
		var set []string // the argument's own fields that are set elsewhere
		for p := range bound {
			if rest, ok := strings.CutPrefix(p, a.Name+"."); ok && !strings.Contains(rest, ".") {
				set = append(set, rest)
			}
		}
		slices.Sort(set)
		s := defs.Without(d.typ(a.Type), set...)
		s.Description = joinDoc(s.Description, a.Doc)
		doc.Request = &translate.BodyDoc{Schema: s}
	}

	switch {
	case fn.Oneway:
		doc.Status = 202
		doc.Response = translate.BodyDoc{Description: "The call is written; a oneway function sends nothing back.",
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"object"}, MaxProperties: jsonschema.Int(0)}}
	case t.m.success == nil:
		doc.Response = translate.BodyDoc{Description: "The function returns nothing (void).",
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"object"}, MaxProperties: jsonschema.Int(0)}}
	default:
		doc.Response = translate.BodyDoc{Schema: d.typ(fn.Returns)}
	}

	for _, f := range t.m.result.fields {
		if f == t.m.success {
			continue
		}
		thrown := throwsField(fn, f.name)
		if thrown == nil {
			continue
		}
		status, ok := t.excStatus[f.t.st]
		if !ok {
			status = DefaultExceptionStatus
		}
		desc := "Exception " + f.t.st.name + " (" + f.name + ")."
		if st := thrown.Type.Underlying().Struct; st != nil && st.Doc != "" {
			desc = joinDoc(desc, st.Doc)
		}
		doc.Errors = append(doc.Errors, translate.ErrorDoc{Status: status, Description: desc, Detail: d.exceptionDetail(thrown.Type, f.t.st.typeURL)})
	}
	return doc
}

// argField follows an argument path ("req.logid") through the IDL. The
// transcoder resolved every path it holds when it was built.
func argField(fn *idl.Function, path string) *idl.Field {
	names := strings.Split(path, ".")
	fields := fn.Args
	var f *idl.Field
	for _, n := range names {
		f = nil
		for _, c := range fields {
			if c.Name == n {
				f = c
				break
			}
		}
		if f == nil {
			return &idl.Field{Name: path, Type: &idl.Type{Kind: idl.KindString}}
		}
		if st := f.Type.Underlying().Struct; st != nil {
			fields = st.Fields
		}
	}
	return f
}

func throwsField(fn *idl.Function, name string) *idl.Field {
	for _, f := range fn.Throws {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// mandatory: a request without the field is a 400 (required, with no
// default to fill it in).
func mandatory(f *idl.Field) bool { return f.Required == idl.Required && f.Default == nil }

type idlDescriber struct{ defs *jsonschema.Definitions }

// idlID identifies an IDL type across backends: two backends reading the
// same file share its definitions.
type idlID struct {
	file, name string
	enum       bool
}

func declName(file *idl.File, name string) (id, full string) {
	if file == nil {
		return "", name
	}
	return file.Path, file.Prefix + "." + name
}

func (d idlDescriber) fieldSchema(f *idl.Field) *jsonschema.Schema {
	s := d.typ(f.Type)
	s.Description = joinDoc(s.Description, f.Doc)
	return s
}

func (d idlDescriber) typ(t *idl.Type) *jsonschema.Schema {
	u := t.Underlying()
	if u == nil {
		return &jsonschema.Schema{}
	}
	num := func(typ, format string, lo, hi float64) *jsonschema.Schema {
		return &jsonschema.Schema{Type: jsonschema.Types{typ}, Format: format, Minimum: jsonschema.Float(lo), Maximum: jsonschema.Float(hi)}
	}
	switch u.Kind {
	case idl.KindBool:
		return &jsonschema.Schema{Type: jsonschema.Types{"boolean"}}
	case idl.KindByte:
		return num("integer", "int8", -128, 127)
	case idl.KindI16:
		return num("integer", "int16", -32768, 32767)
	case idl.KindI32:
		return &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Format: "int32"}
	case idl.KindI64:
		// A string in replies, as proto3 JSON writes 64-bit integers;
		// requests take a number too.
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}, Format: "int64", Pattern: `^-?[0-9]+$`}
	case idl.KindDouble:
		return &jsonschema.Schema{Type: jsonschema.Types{"number"}, Format: "double"}
	case idl.KindString:
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}}
	case idl.KindBinary:
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}, Format: "byte", ContentEncoding: "base64"}
	case idl.KindUUID:
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}, Format: "uuid"}
	case idl.KindEnum:
		return d.enum(u.Enum)
	case idl.KindList, idl.KindSet:
		return &jsonschema.Schema{Type: jsonschema.Types{"array"}, Items: d.typ(u.Elem), UniqueItems: u.Kind == idl.KindSet}
	case idl.KindMap:
		return d.mapSchema(u)
	case idl.KindStruct:
		return d.structRef(u.Struct)
	}
	return &jsonschema.Schema{}
}

// mapSchema: an object when the keys can be JSON object keys (strings,
// integers, enums), else an array of key/value pairs.
func (d idlDescriber) mapSchema(u *idl.Type) *jsonschema.Schema {
	key := u.Key.Underlying()
	var names *jsonschema.Schema
	switch key.Kind {
	case idl.KindString:
	case idl.KindByte, idl.KindI16, idl.KindI32, idl.KindI64:
		names = &jsonschema.Schema{Pattern: `^-?[0-9]+$`}
	case idl.KindEnum:
		names = d.enum(key.Enum)
	default:
		return &jsonschema.Schema{Type: jsonschema.Types{"array"}, Items: &jsonschema.Schema{
			Type:       jsonschema.Types{"object"},
			Properties: jsonschema.Properties{{Name: "key", Schema: d.typ(u.Key)}, {Name: "value", Schema: d.typ(u.Value)}},
			Required:   []string{"key", "value"},
		}, Description: fmt.Sprintf("A map keyed by %s, as a list of key/value pairs.", key.Name)}
	}
	return &jsonschema.Schema{Type: jsonschema.Types{"object"}, PropertyNames: names, AdditionalProperties: d.typ(u.Value)}
}

func (d idlDescriber) enum(e *idl.Enum) *jsonschema.Schema {
	if e == nil {
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}}
	}
	file, name := declName(e.File, e.Name)
	return d.defs.Define(idlID{file, name, true}, name, func() *jsonschema.Schema {
		s := &jsonschema.Schema{Type: jsonschema.Types{"string"}, Description: e.Doc}
		var lines []string
		for _, v := range e.Values {
			s.Enum = append(s.Enum, v.Name)
			if v.Doc != "" {
				lines = append(lines, fmt.Sprintf("- %s: %s", v.Name, strings.Join(strings.Fields(v.Doc), " ")))
			}
		}
		if len(lines) > 0 {
			s.Description = joinDoc(s.Description, strings.Join(lines, "\n"))
		}
		return s
	})
}

func (d idlDescriber) structRef(st *idl.Struct) *jsonschema.Schema {
	file, name := declName(st.File, st.Name)
	return d.defs.Define(idlID{file, name, false}, name, func() *jsonschema.Schema {
		s := &jsonschema.Schema{Type: jsonschema.Types{"object"}, Description: st.Doc}
		for _, f := range st.Fields {
			s.Properties = append(s.Properties, jsonschema.Property{Name: f.Name, Schema: d.fieldSchema(f)})
			if mandatory(f) && st.Kind != idl.StructKindUnion {
				s.Required = append(s.Required, f.Name)
			}
		}
		if st.Kind == idl.StructKindUnion {
			s.MinProperties, s.MaxProperties = jsonschema.Int(1), jsonschema.Int(1)
			s.Description = joinDoc(s.Description, "A union: exactly one field is set.")
		}
		return s
	})
}

// exceptionDetail is the detail an exception's error body carries: its
// fields and "@type".
func (d idlDescriber) exceptionDetail(t *idl.Type, typeURL string) *jsonschema.Schema {
	return &jsonschema.Schema{AllOf: []*jsonschema.Schema{
		d.typ(t),
		{
			Type:       jsonschema.Types{"object"},
			Properties: jsonschema.Properties{{Name: "@type", Schema: &jsonschema.Schema{Const: typeURL}}},
			Required:   []string{"@type"},
		},
	}}
}

// implicitQuery lists the argument paths a query key may set, for a route
// without a body: scalars and lists of scalars, through struct fields.
func (d idlDescriber) implicitQuery(fields []*idl.Field, prefix string, bound map[string]bool, open map[*idl.Struct]bool) []translate.ParamDoc {
	var out []translate.ParamDoc
	for _, f := range fields {
		p := prefix + f.Name
		u := f.Type.Underlying()
		switch {
		case u == nil || bound[p]:
		case textualIDL(u):
			out = append(out, translate.ParamDoc{Name: p, Description: f.Doc, Required: mandatory(f), Schema: d.typ(f.Type)})
		case u.Kind == idl.KindStruct && u.Struct != nil && !open[u.Struct]:
			open[u.Struct] = true
			out = append(out, d.implicitQuery(u.Struct.Fields, p+".", bound, open)...)
			delete(open, u.Struct)
		}
	}
	return out
}

func textualIDL(u *idl.Type) bool {
	scalar := func(t *idl.Type) bool {
		switch t.Kind {
		case idl.KindStruct, idl.KindList, idl.KindSet, idl.KindMap:
			return false
		}
		return true
	}
	if u.Kind == idl.KindList || u.Kind == idl.KindSet {
		return u.Elem != nil && u.Elem.Underlying() != nil && scalar(u.Elem.Underlying())
	}
	return scalar(u)
}

func joinDoc(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}

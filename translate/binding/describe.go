package binding

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
)

// This file describes a rule for API documents: what it binds where, and
// the JSON Schema of protobuf messages in the JSON mapping replies are
// rendered with. The schemas follow protojson, the one renderer the
// gateway uses, so a document says what clients actually get.

// Mapping is the part of the JSON mapping that changes what JSON looks
// like. Requests accept both field names and enum forms whatever it says.
type Mapping struct {
	UseProtoNames   bool
	UseEnumNumbers  bool
	EmitUnpopulated bool
}

// Mapping is the mapping the rule renders replies with.
func (r *Rule) Mapping() Mapping {
	return Mapping{UseProtoNames: r.marshal.UseProtoNames, UseEnumNumbers: r.marshal.UseEnumNumbers,
		EmitUnpopulated: r.marshal.EmitUnpopulated}
}

// PathVar is a template variable and the chain of fields it sets, the
// last one the leaf.
type PathVar struct {
	Path   string
	Fields []protoreflect.FieldDescriptor
}

// PathVars are the rule's template variables, in template order.
func (r *Rule) PathVars() []PathVar {
	out := make([]PathVar, len(r.pathVars))
	for i, pv := range r.pathVars {
		out[i] = PathVar{Path: pv.path, Fields: slices.Clone(pv.fields)}
	}
	return out
}

// WholeBody reports body "*": the body is the whole input message.
func (r *Rule) WholeBody() bool { return r.body == bodyWhole }

// BodyField is the top-level field the body fills, nil when the body is
// none or the whole message.
func (r *Rule) BodyField() protoreflect.FieldDescriptor { return r.bodyField }

// ResponseField is the response_body field, nil when the reply is the
// whole output message.
func (r *Rule) ResponseField() protoreflect.FieldDescriptor { return r.respField }

// QueryParam is one query parameter a rule reads: its dotted name in the
// rule's mapping and the chain of fields it sets.
type QueryParam struct {
	Name   string
	Fields []protoreflect.FieldDescriptor
}

// QueryParams lists what bindQuery accepts, as grpc-gateway documents it:
// every field neither the path nor the body binds that takes a value from
// a string (scalars, enums, the well-known types set from one value,
// repeated ones, and maps of them as name[key]), reached through singular
// message fields by dotted paths. A message met again below itself is not
// entered twice, so recursive types end. None when the body is the whole
// message, as grpc-gateway binds no query parameter then.
func (r *Rule) QueryParams() []QueryParam {
	if r.body == bodyWhole {
		return nil
	}
	m := r.Mapping()
	var out []QueryParam
	var walk func(md protoreflect.MessageDescriptor, chain []protoreflect.FieldDescriptor, open map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, chain []protoreflect.FieldDescriptor, open map[protoreflect.FullName]bool) {
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			c := append(slices.Clip(chain), fd)
			if len(c) == 1 && r.body == bodyField && fd == r.bodyField || r.boundByPath(c) {
				continue
			}
			switch {
			case fd.IsMap():
				if isLeaf(fd.MapValue()) {
					out = append(out, QueryParam{Name: m.path(c), Fields: c})
				}
			case isLeaf(fd):
				out = append(out, QueryParam{Name: m.path(c), Fields: c})
			case fd.IsList() || open[fd.Message().FullName()] || len(c) >= r.maxDepth:
				// A repeated message cannot be set from the query, and a
				// type met again below itself would never end.
			default:
				open[fd.Message().FullName()] = true
				walk(fd.Message(), c, open)
				delete(open, fd.Message().FullName())
			}
		}
	}
	in := r.in.Descriptor()
	walk(in, nil, map[protoreflect.FullName]bool{in.FullName(): true})
	return out
}

// boundByPath reports a chain the query may not set because the path
// sets it, or a field holding it, or a value (a Timestamp) that holds a
// field the path sets.
func (r *Rule) boundByPath(chain []protoreflect.FieldDescriptor) bool {
	for _, pv := range r.pathVars {
		n := min(len(pv.fields), len(chain))
		if slices.Equal(pv.fields[:n], chain[:n]) && (len(pv.fields) <= len(chain) || isLeaf(chain[len(chain)-1])) {
			return true
		}
	}
	return false
}

// Name is fd's JSON name in m.
func (m Mapping) Name(fd protoreflect.FieldDescriptor) string {
	if m.UseProtoNames {
		return fd.TextName()
	}
	return fd.JSONName()
}

func (m Mapping) path(chain []protoreflect.FieldDescriptor) string {
	names := make([]string, len(chain))
	for i, fd := range chain {
		names[i] = m.Name(fd)
	}
	return strings.Join(names, ".")
}

// variant names a mapping that is not the config's default in definition
// names, so that two routes rendering one message differently get two
// definitions.
func (m Mapping) variant() string {
	var parts []string
	if m.UseProtoNames {
		parts = append(parts, "proto_names")
	}
	if m.UseEnumNumbers {
		parts = append(parts, "enum_numbers")
	}
	if !m.EmitUnpopulated {
		parts = append(parts, "omit_unpopulated")
	}
	if len(parts) == 0 {
		return ""
	}
	return "-" + strings.Join(parts, "-")
}

type messageID struct {
	name protoreflect.FullName
	m    Mapping
}

type enumID struct {
	name    protoreflect.FullName
	numbers bool
}

// MessageSchema is a reference to md's schema in m, defined in defs under
// md's full name (with the mapping's variant when it is not the default).
func MessageSchema(defs *jsonschema.Definitions, md protoreflect.MessageDescriptor, m Mapping) *jsonschema.Schema {
	return describer{defs, m}.message(md)
}

// FieldSchema is the schema of fd as a property of its message: its
// value, or null where protojson renders an unset field as null
// (EmitUnpopulated and a field with presence outside a oneof).
func FieldSchema(defs *jsonschema.Definitions, fd protoreflect.FieldDescriptor, m Mapping) *jsonschema.Schema {
	return describer{defs, m}.field(fd)
}

// ValueSchema is the schema of fd's value alone: a path variable, a query
// parameter (a list or map as its values), a response_body field.
func ValueSchema(defs *jsonschema.Definitions, fd protoreflect.FieldDescriptor, m Mapping) *jsonschema.Schema {
	return describer{defs, m}.value(fd)
}

// IsJSONText reports a field whose query and path values are JSON text:
// google.protobuf.Struct, Value and ListValue.
func IsJSONText(fd protoreflect.FieldDescriptor) bool {
	if fd.Message() == nil {
		return false
	}
	switch fd.Message().FullName() {
	case wktStruct, wktValue, wktListValue:
		return true
	}
	return false
}

type describer struct {
	defs *jsonschema.Definitions
	m    Mapping
}

func (d describer) field(fd protoreflect.FieldDescriptor) *jsonschema.Schema {
	s := d.value(fd)
	if d.m.EmitUnpopulated && fd.HasPresence() && fd.ContainingOneof() == nil {
		s = jsonschema.Nullable(s)
	}
	return s
}

func (d describer) value(fd protoreflect.FieldDescriptor) *jsonschema.Schema {
	switch {
	case fd.IsMap():
		return &jsonschema.Schema{Type: jsonschema.Types{"object"}, PropertyNames: mapKeySchema(fd.MapKey()),
			AdditionalProperties: d.single(fd.MapValue())}
	case fd.IsList():
		return &jsonschema.Schema{Type: jsonschema.Types{"array"}, Items: d.single(fd)}
	}
	return d.single(fd)
}

// single is the schema of one value of fd's type.
func (d describer) single(fd protoreflect.FieldDescriptor) *jsonschema.Schema {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return d.enum(fd.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return d.message(fd.Message())
	}
	return scalarSchema(fd.Kind())
}

// intPattern and uintPattern are protojson's 64-bit integers: strings of
// decimal digits.
const (
	intPattern  = `^-?[0-9]+$`
	uintPattern = `^[0-9]+$`
)

func scalarSchema(k protoreflect.Kind) *jsonschema.Schema {
	t := func(typ, format string) *jsonschema.Schema {
		return &jsonschema.Schema{Type: jsonschema.Types{typ}, Format: format}
	}
	switch k {
	case protoreflect.BoolKind:
		return t("boolean", "")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return t("integer", "int32")
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		s := t("integer", "uint32")
		s.Minimum, s.Maximum = jsonschema.Float(0), jsonschema.Float(1<<32-1)
		return s
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// Strings: JavaScript numbers lose precision past 2^53.
		s := t("string", "int64")
		s.Pattern = intPattern
		return s
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		s := t("string", "uint64")
		s.Pattern = uintPattern
		return s
	case protoreflect.FloatKind:
		return t("number", "float")
	case protoreflect.DoubleKind:
		return t("number", "double")
	case protoreflect.StringKind:
		return t("string", "")
	case protoreflect.BytesKind:
		s := t("string", "byte")
		s.ContentEncoding = "base64"
		return s
	}
	return &jsonschema.Schema{}
}

// mapKeySchema constrains a map's keys, which JSON writes as strings; nil
// for string keys, which any name fits.
func mapKeySchema(fd protoreflect.FieldDescriptor) *jsonschema.Schema {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return &jsonschema.Schema{Enum: []any{"true", "false"}}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &jsonschema.Schema{Pattern: uintPattern}
	case protoreflect.StringKind:
		return nil
	}
	return &jsonschema.Schema{Pattern: intPattern}
}

func (d describer) enum(ed protoreflect.EnumDescriptor) *jsonschema.Schema {
	if ed.FullName() == "google.protobuf.NullValue" {
		return &jsonschema.Schema{Type: jsonschema.Types{"null"}}
	}
	name := string(ed.FullName())
	if d.m.UseEnumNumbers {
		name += "-enum_numbers"
	}
	return d.defs.Define(enumID{ed.FullName(), d.m.UseEnumNumbers}, name, func() *jsonschema.Schema {
		values := ed.Values()
		s := &jsonschema.Schema{Description: Comments(ed)}
		var lines []string
		for i := 0; i < values.Len(); i++ {
			v := values.Get(i)
			if d.m.UseEnumNumbers {
				if !slices.Contains(s.Enum, any(int32(v.Number()))) {
					s.Enum = append(s.Enum, int32(v.Number()))
				}
				lines = append(lines, fmt.Sprintf("- %d: %s%s", v.Number(), v.Name(), commentSuffix(v)))
			} else {
				s.Enum = append(s.Enum, string(v.Name()))
				if c := Comments(v); c != "" {
					lines = append(lines, fmt.Sprintf("- %s: %s", v.Name(), oneLine(c)))
				}
			}
		}
		if d.m.UseEnumNumbers {
			s.Type, s.Format = jsonschema.Types{"integer"}, "int32"
		} else {
			s.Type = jsonschema.Types{"string"}
		}
		if len(lines) > 0 {
			s.Description = jsonschema.JoinParagraphs(s.Description, strings.Join(lines, "\n"))
		}
		return s
	})
}

func commentSuffix(v protoreflect.EnumValueDescriptor) string {
	if c := Comments(v); c != "" {
		return " (" + oneLine(c) + ")"
	}
	return ""
}

func (d describer) message(md protoreflect.MessageDescriptor) *jsonschema.Schema {
	if s := wellKnown(d, md); s != nil {
		return s
	}
	return d.defs.Define(messageID{md.FullName(), d.m}, string(md.FullName())+d.m.variant(), func() *jsonschema.Schema {
		return d.object(md)
	})
}

func (d describer) object(md protoreflect.MessageDescriptor) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: jsonschema.Types{"object"}, Description: Comments(md)}
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetDeprecated() {
		s.Deprecated = true
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := d.m.Name(fd)
		ps := d.field(fd)
		ps.Description = jsonschema.JoinParagraphs(ps.Description, Comments(fd))
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			ps.Description = jsonschema.JoinParagraphs(ps.Description, d.oneofNote(od))
		}
		required := fd.Cardinality() == protoreflect.Required
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok {
			ps.Deprecated = ps.Deprecated || opts.GetDeprecated()
			if behaviors, ok := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior); ok {
				for _, b := range behaviors {
					switch b {
					case annotations.FieldBehavior_REQUIRED:
						required = true
					case annotations.FieldBehavior_OUTPUT_ONLY:
						ps.ReadOnly = true
					case annotations.FieldBehavior_INPUT_ONLY:
						ps.WriteOnly = true
					}
				}
			}
		}
		if required {
			// One schema serves requests and replies, and a reply leaves
			// an unset field out unless unpopulated fields are rendered:
			// only then is "required" true of both.
			if d.m.EmitUnpopulated && fd.ContainingOneof() == nil {
				s.Required = append(s.Required, name)
			}
			ps.Description = jsonschema.JoinParagraphs(ps.Description, "Required.")
		}
		s.Properties = append(s.Properties, jsonschema.Property{Name: name, Schema: ps})
	}
	return s
}

// oneofNote says which fields exclude each other: protojson renders at
// most one of them, and a request may set only one.
func (d describer) oneofNote(od protoreflect.OneofDescriptor) string {
	fields := od.Fields()
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = d.m.Name(fields.Get(i))
	}
	return fmt.Sprintf("Member of oneof %s: at most one of %s is set.", od.Name(), strings.Join(names, ", "))
}

// wellKnown is the JSON form protojson gives a well-known type, written
// inline: it is short, and a reference would hide that a Timestamp is a
// string. nil for other messages.
func wellKnown(d describer, md protoreflect.MessageDescriptor) *jsonschema.Schema {
	str := func(format, description string) *jsonschema.Schema {
		return &jsonschema.Schema{Type: jsonschema.Types{"string"}, Format: format, Description: description}
	}
	switch name := md.FullName(); name {
	case wktTimestamp:
		return str("date-time", "")
	case wktDuration:
		s := str("", `A duration: seconds with up to nine decimals and an "s" ("1.5s").`)
		s.Pattern = `^-?[0-9]+(\.[0-9]{1,9})?s$`
		return s
	case wktFieldMask:
		return str("", `Field paths, comma-separated, in lowerCamelCase ("title,author.name").`)
	case wktStruct:
		return &jsonschema.Schema{Type: jsonschema.Types{"object"}, Description: "Any JSON object."}
	case wktValue:
		return &jsonschema.Schema{Description: "Any JSON value."}
	case wktListValue:
		return &jsonschema.Schema{Type: jsonschema.Types{"array"}, Description: "Any JSON array."}
	case wktEmpty:
		return &jsonschema.Schema{Type: jsonschema.Types{"object"}, MaxProperties: jsonschema.Int(0)}
	case "google.protobuf.Any":
		return &jsonschema.Schema{
			Type: jsonschema.Types{"object"},
			Description: `A message of the type "@type" names, with its fields beside "@type"; ` +
				`a well-known type's JSON (a Timestamp's string, say) is under "value".`,
			Properties: jsonschema.Properties{{Name: "@type", Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"},
				Description: `The type's URL, such as "type.googleapis.com/google.rpc.ErrorInfo".`}}},
			Required: []string{"@type"},
		}
	default:
		if isWrapper(name) {
			// A wrapper is its value, and null is how a client unsets it.
			return jsonschema.Nullable(d.single(md.Fields().ByNumber(1)))
		}
	}
	return nil
}

// Comments are what the schema's source says of d: its leading comment,
// else its trailing one, with the comment markers' space removed. Empty
// when the descriptors carry no source info (generated code, reflection).
func Comments(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	c := loc.LeadingComments
	if strings.TrimSpace(c) == "" {
		c = loc.TrailingComments
	}
	lines := strings.Split(strings.TrimRight(c, " \t\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, " "), " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

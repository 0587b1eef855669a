// Package jsonschema is the JSON Schema model of the gateway's API
// documents: the draft 2020-12 keywords (the dialect of OpenAPI 3.1) that
// the protocols' JSON mappings need, the named definitions a document
// shares (components.schemas), and a validator for the same subset, with
// which tests hold real replies to what a document promises.
//
// It depends on nothing of the gateway's, so that protocol packages can
// describe their routes with it and the openapi package can assemble them.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// RefPrefix is where definitions live in an OpenAPI document.
const RefPrefix = "#/components/schemas/"

// Schema is one JSON Schema. The zero value accepts any JSON value. Fields
// marshal in declaration order, so that documents read top-down: what a
// value is, then what it holds.
type Schema struct {
	// Ref names a definition (RefPrefix + name); other keywords beside it
	// apply as well, as in draft 2020-12.
	Ref              string   `json:"$ref,omitempty"`
	Title            string   `json:"title,omitempty"`
	Description      string   `json:"description,omitempty"`
	Type             Types    `json:"type,omitempty"`
	Format           string   `json:"format,omitempty"`
	Pattern          string   `json:"pattern,omitempty"`
	ContentEncoding  string   `json:"contentEncoding,omitempty"`
	ContentMediaType string   `json:"contentMediaType,omitempty"`
	Enum             []any    `json:"enum,omitempty"`
	Const            any      `json:"const,omitempty"`
	Minimum          *float64 `json:"minimum,omitempty"`
	Maximum          *float64 `json:"maximum,omitempty"`
	MinLength        *int     `json:"minLength,omitempty"`
	MaxLength        *int     `json:"maxLength,omitempty"`

	Items       *Schema `json:"items,omitempty"`
	UniqueItems bool    `json:"uniqueItems,omitempty"`
	Contains    *Schema `json:"contains,omitempty"`

	Properties           Properties `json:"properties,omitempty"`
	Required             []string   `json:"required,omitempty"`
	AdditionalProperties *Schema    `json:"additionalProperties,omitempty"`
	PropertyNames        *Schema    `json:"propertyNames,omitempty"`
	MinProperties        *int       `json:"minProperties,omitempty"`
	MaxProperties        *int       `json:"maxProperties,omitempty"`

	AllOf []*Schema `json:"allOf,omitempty"`
	AnyOf []*Schema `json:"anyOf,omitempty"`
	OneOf []*Schema `json:"oneOf,omitempty"`

	ReadOnly   bool  `json:"readOnly,omitempty"`
	WriteOnly  bool  `json:"writeOnly,omitempty"`
	Deprecated bool  `json:"deprecated,omitempty"`
	Examples   []any `json:"examples,omitempty"`

	// never makes this the boolean schema false, which no value matches.
	never bool
}

// plain is Schema without its methods, for the default encoding.
type plain Schema

// MarshalJSON writes the boolean schema false for Never.
func (s *Schema) MarshalJSON() ([]byte, error) {
	if s.never {
		return []byte("false"), nil
	}
	return json.Marshal((*plain)(s))
}

// UnmarshalJSON reads schemas back (tests read served documents), boolean
// schemas included.
func (s *Schema) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true":
		*s = Schema{}
		return nil
	case "false":
		*s = Schema{never: true}
		return nil
	}
	return json.Unmarshal(b, (*plain)(s))
}

// Never is the boolean schema false: as additionalProperties it closes an
// object.
func Never() *Schema { return &Schema{never: true} }

// Ref refers to the definition name.
func Ref(name string) *Schema { return &Schema{Ref: RefPrefix + name} }

// Float is a pointer to v, for Minimum and Maximum.
func Float(v float64) *float64 { return &v }

// Int is a pointer to v, for the length and count keywords.
func Int(v int) *int { return &v }

// Nullable returns a schema that also accepts null: "null" added to a
// simple type, or anyOf with null around a reference or an enum (whose
// values would refuse null). s is not modified.
func Nullable(s *Schema) *Schema {
	switch {
	case s == nil:
		return &Schema{Type: Types{"null"}}
	case s.never:
		return &Schema{Type: Types{"null"}}
	case s.Ref == "" && len(s.Type) == 0 && len(s.AnyOf) == 0 && len(s.OneOf) == 0 && len(s.AllOf) == 0 && s.Const == nil && len(s.Enum) == 0:
		return s // accepts anything already
	case s.Ref == "" && len(s.Type) > 0 && len(s.Enum) == 0 && s.Const == nil:
		if slices.Contains(s.Type, "null") {
			return s
		}
		c := *s
		c.Type = append(slices.Clone(s.Type), "null")
		return &c
	}
	// The description stays outside, where readers look for it.
	inner := *s
	inner.Description = ""
	return &Schema{Description: s.Description, Deprecated: s.Deprecated, AnyOf: []*Schema{&inner, {Type: Types{"null"}}}}
}

// NonNull returns s without null among the values it accepts: a query
// parameter or path variable cannot be null, even where a body field can.
// It undoes Nullable; s is not modified.
func NonNull(s *Schema) *Schema {
	switch {
	case s == nil:
		return nil
	case slices.Contains(s.Type, "null") && len(s.Type) > 1:
		c := *s
		c.Type = slices.DeleteFunc(slices.Clone(s.Type), func(t string) bool { return t == "null" })
		return &c
	case len(s.AnyOf) == 2 && slices.Equal(s.AnyOf[1].Type, Types{"null"}):
		c := *s.AnyOf[0]
		c.Description, c.Deprecated = s.Description, s.Deprecated || c.Deprecated
		return &c
	}
	return s
}

// Types is the type keyword: one name marshals as a string, several as an
// array ("string", ["string", "null"]).
type Types []string

func (t Types) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

func (t *Types) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = Types{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(t))
}

// Property is one named property of an object schema.
type Property struct {
	Name   string
	Schema *Schema
}

// Properties keep the order fields are declared in, which is the order a
// reader expects (a map would sort them).
type Properties []Property

// Get returns the schema of the property name, or nil.
func (ps Properties) Get(name string) *Schema {
	for _, p := range ps {
		if p.Name == name {
			return p.Schema
		}
	}
	return nil
}

func (ps Properties) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(p.Name)
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		v, err := json.Marshal(p.Schema)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", p.Name, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (ps *Properties) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("jsonschema: properties is not an object")
	}
	*ps = nil
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		s := new(Schema)
		if err := dec.Decode(s); err != nil {
			return fmt.Errorf("property %s: %w", strconv.Quote(name), err)
		}
		*ps = append(*ps, Property{name, s})
	}
	_, err := dec.Token()
	return err
}

// JoinParagraphs joins two descriptions with a blank line, leaving out
// whichever is empty.
func JoinParagraphs(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}

package jsonschema

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Definitions are the named schemas one document shares: each protocol
// adds its types (a message, a Thrift struct, an enum) once and refers to
// them, so that a type used by many routes is written once and a type
// that contains itself is a reference, not an endless expansion.
type Definitions struct {
	byName map[string]*Schema
	nameOf map[any]string
}

// NewDefinitions returns an empty registry.
func NewDefinitions() *Definitions {
	return &Definitions{byName: map[string]*Schema{}, nameOf: map[any]string{}}
}

// DefinitionsOf holds the named schemas of a document read back (its
// components.schemas), so that values can be validated against it.
func DefinitionsOf(schemas map[string]*Schema) *Definitions {
	d := NewDefinitions()
	for name, s := range schemas {
		d.byName[name] = s
	}
	return d
}

// Define returns a reference to the definition of id (any comparable value
// that identifies a type and the mapping it is rendered with), adding it
// under name the first time. build runs after the name is taken, so a
// reference back to id while it builds is just a reference. When another
// id already holds name, this one gets name-2, name-3 and so on, in the
// order types are first defined.
func (d *Definitions) Define(id any, name string, build func() *Schema) *Schema {
	if n, ok := d.nameOf[id]; ok {
		return Ref(n)
	}
	n := name
	for i := 2; ; i++ {
		if _, taken := d.byName[n]; !taken {
			break
		}
		n = fmt.Sprintf("%s-%d", name, i)
	}
	d.nameOf[id] = n
	d.byName[n] = nil // taken while it builds
	d.byName[n] = build()
	return Ref(n)
}

// Has reports whether id is defined.
func (d *Definitions) Has(id any) bool {
	_, ok := d.nameOf[id]
	return ok
}

// Get returns the definition name, or nil.
func (d *Definitions) Get(name string) *Schema { return d.byName[name] }

// Names lists the definitions, sorted.
func (d *Definitions) Names() []string { return slices.Sorted(maps.Keys(d.byName)) }

// Schemas returns the definitions by name, for components.schemas.
func (d *Definitions) Schemas() map[string]*Schema { return maps.Clone(d.byName) }

// Resolve follows s's reference, and the references of what it refers
// to, to a schema that is not a bare reference. It returns s itself when
// s is no reference, and nil for a reference to nothing.
func (d *Definitions) Resolve(s *Schema) *Schema {
	for i := 0; s != nil && s.Ref != "" && i < 64; i++ {
		name, ok := strings.CutPrefix(s.Ref, RefPrefix)
		if !ok {
			return nil
		}
		s = d.byName[name]
	}
	return s
}

// Without returns the object schema s refers to without the properties
// names, inline (the definition stays whole for the other routes that use
// it), or s itself when it has none of them. A request body whose fields
// the URL path sets is documented this way: those fields come from the
// path, not the body.
func (d *Definitions) Without(s *Schema, names ...string) *Schema {
	def := d.Resolve(s)
	if def == nil || !slices.ContainsFunc(def.Properties, func(p Property) bool { return slices.Contains(names, p.Name) }) {
		return s
	}
	c := *def
	c.Properties = slices.DeleteFunc(slices.Clone(def.Properties), func(p Property) bool { return slices.Contains(names, p.Name) })
	c.Required = slices.DeleteFunc(slices.Clone(def.Required), func(n string) bool { return slices.Contains(names, n) })
	if len(c.Required) == 0 {
		c.Required = nil
	}
	return &c
}

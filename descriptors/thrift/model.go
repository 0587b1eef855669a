package thrift

import "strings"

// The resolved model of a set of Thrift IDL files: what the parser produces
// and what the dynamic codec, the routes and the mock consume. Every type
// reference is resolved: typedefs keep their name but point at the type they
// stand for, so consumers switch on Type.Kind after Underlying().

// Kind is a Thrift type's kind.
type Kind int

const (
	KindVoid Kind = iota
	KindBool
	KindByte // i8 and byte
	KindI16
	KindI32
	KindI64
	KindDouble
	KindString
	KindBinary
	KindUUID
	KindList
	KindSet
	KindMap
	KindStruct // struct, union or exception; see Struct.Kind
	KindEnum
	KindTypedef
)

// Type is a resolved type reference.
type Type struct {
	Kind Kind
	// Name is the type as written in the IDL ("i32", "byte", "shared.Id");
	// containers are spelled out canonically ("map<string, list<i32>>").
	Name        string
	Elem        *Type       // list and set elements
	Key, Value  *Type       // map
	Struct      *Struct     // KindStruct
	Enum        *Enum       // KindEnum
	Typedef     *Typedef    // KindTypedef: Typedef.Type is what it stands for
	Annotations Annotations // on the type reference, e.g. list<i32> (python.immutable = "")
	Pos         Pos         // where the type is written
}

// Underlying follows typedefs to the type they stand for.
func (t *Type) Underlying() *Type {
	for t != nil && t.Kind == KindTypedef {
		t = t.Typedef.Type
	}
	return t
}

// Requiredness is kept as the IDL's three cases.
type Requiredness int

const (
	Default Requiredness = iota // neither required nor optional
	Required
	Optional
)

// Pos is a position in an IDL file.
type Pos struct {
	File         string
	Line, Column int
}

// Annotation is one (key = "value") or bare (flag) annotation; a bare one
// has Value "1", as the Apache compiler gives it.
type Annotation struct {
	Key, Value string
	Pos        Pos
}

// Annotations keep declaration order; keys may repeat.
type Annotations []Annotation

// Get returns the value of the first annotation named key.
func (as Annotations) Get(key string) (string, bool) {
	for _, a := range as {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Field is a struct field, a function argument or a declared exception.
// Required follows the Apache compiler: union members are always Optional,
// "optional" on an argument and "required" in a throws clause are ignored
// (Default), with a warning.
type Field struct {
	ID          int16
	ImplicitID  bool // the IDL gave no id; ID was assigned (negative, counting down from -1) as the Apache compiler does
	Name        string
	Type        *Type
	Required    Requiredness
	Default     *ConstValue // nil when none
	Reference   bool        // declared with &
	Annotations Annotations
	Doc         string
	Pos         Pos // where the declaration starts (its id, or what comes first)
}

// StructKind tells structs, unions and exceptions apart.
type StructKind int

const (
	StructKindStruct StructKind = iota
	StructKindUnion
	StructKindException
)

// Struct is a struct, union or exception.
type Struct struct {
	Kind        StructKind
	Name        string // unqualified
	File        *File
	Fields      []*Field // declaration order
	Annotations Annotations
	Doc         string
	Pos         Pos
}

// FullName is "file_prefix.Name", the form other files refer to it by.
func (s *Struct) FullName() string { return s.File.Prefix + "." + s.Name }

// FieldByID returns the field with id, or nil.
func (s *Struct) FieldByID(id int16) *Field {
	for _, f := range s.Fields {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// FieldByName returns the field named name, or nil.
func (s *Struct) FieldByName(name string) *Field {
	for _, f := range s.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Enum is an enum; Values keep declaration order.
type Enum struct {
	Name        string
	File        *File
	Values      []*EnumValue
	Annotations Annotations
	Doc         string
	Pos         Pos
}

// EnumValue is one enum constant with its resolved value.
type EnumValue struct {
	Name        string
	Value       int32
	Annotations Annotations
	Doc         string
	Pos         Pos
}

// ByName returns the value named name, or nil.
func (e *Enum) ByName(name string) *EnumValue {
	for _, v := range e.Values {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// ByValue returns the first value equal to v, or nil.
func (e *Enum) ByValue(v int32) *EnumValue {
	for _, ev := range e.Values {
		if ev.Value == v {
			return ev
		}
	}
	return nil
}

// Typedef names another type.
type Typedef struct {
	Name        string
	File        *File
	Type        *Type
	Annotations Annotations
	Doc         string
	Pos         Pos
}

// ConstKind tells constant values apart.
type ConstKind int

const (
	ConstInt ConstKind = iota
	ConstDouble
	ConstString
	ConstBool // written true/false
	ConstList
	ConstMap
	ConstIdent // a reference, resolved into Resolved
)

// ConstValue is a constant as written, with references resolved.
type ConstValue struct {
	Kind     ConstKind
	Int      int64
	Double   float64
	String   string
	Bool     bool
	List     []*ConstValue
	Map      []ConstMapEntry // declaration order
	Ident    string          // ConstIdent: the name as written
	Resolved *ConstValue     // ConstIdent: the value it names (an enum value becomes ConstInt)
	Pos      Pos

	// Const is the constant a ConstIdent names, nil for an enum value.
	Const *Const
	// Enum and EnumValue are set on a value that stands for an enum value:
	// a ConstIdent naming one, and any ConstInt in a slot of enum type.
	Enum      *Enum
	EnumValue *EnumValue
}

// ConstMapEntry is one entry of a map constant.
type ConstMapEntry struct{ Key, Value *ConstValue }

// Const is a named constant.
type Const struct {
	Name        string
	File        *File
	Type        *Type
	Value       *ConstValue
	Annotations Annotations
	Doc         string
	Pos         Pos
}

// Function is a service method.
type Function struct {
	Name        string
	Oneway      bool
	Returns     *Type // KindVoid for void
	Args        []*Field
	Throws      []*Field
	Annotations Annotations
	Doc         string
	Pos         Pos // where the declaration starts (oneway, or the return type)
	Service     *Service
}

// Service is a service; Functions holds its own functions only, Extends
// its parent (nil if none).
type Service struct {
	Name        string
	File        *File
	Extends     *Service
	Functions   []*Function
	Annotations Annotations
	Doc         string
	Pos         Pos

	extends    string // the parent as written, until resolved
	extendsPos Pos
}

// FullName is "file_prefix.Name".
func (s *Service) FullName() string { return s.File.Prefix + "." + s.Name }

// Function finds a function by name, including inherited ones.
func (s *Service) Function(name string) *Function {
	for svc := s; svc != nil; svc = svc.Extends {
		for _, f := range svc.Functions {
			if f.Name == name {
				return f
			}
		}
	}
	return nil
}

// AllFunctions lists the service's functions, then inherited ones not overridden.
func (s *Service) AllFunctions() []*Function {
	var out []*Function
	seen := map[string]bool{}
	for svc := s; svc != nil; svc = svc.Extends {
		for _, f := range svc.Functions {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Namespace is one namespace declaration.
type Namespace struct {
	Scope, Name string // scope "*" for "namespace * x"
	Annotations Annotations
	Pos         Pos
}

// Definition is any top-level definition, kept in declaration order: one of
// *Const, *Typedef, *Enum, *Struct or *Service. Senums are parsed, warned
// about and kept in File.Senums only.
type Definition any

// File is one parsed IDL file.
type File struct {
	Path        string // as found on disk
	Prefix      string // base name without .thrift: how includers refer to it
	Includes    []*File
	CppIncludes []string
	Namespaces  []*Namespace
	Definitions []Definition // declaration order
	Consts      map[string]*Const
	Typedefs    map[string]*Typedef
	Enums       map[string]*Enum
	Structs     map[string]*Struct // structs, unions and exceptions
	Services    map[string]*Service
	Senums      map[string][]string // deprecated string enums: parsed and warned, not usable as types
	Doc         string

	senumPos []namePos // where each senum is declared, for duplicate checks
}

type namePos struct {
	name string
	pos  Pos
}

// Program is a root file with everything it includes, resolved.
type Program struct {
	Root  *File
	Files []*File // every file, root first, then includes in first-seen order
	// Warnings are non-fatal notes (senum use, deprecated syntax), each "file:line:col: message".
	Warnings []string
}

// Service finds a service by "Name" in the root file, or by "prefix.Name" in
// the file whose Prefix is prefix (the root's own prefix works too, so
// p.Service(s.FullName()) finds s). Prefixes may themselves contain dots
// ("a.b.thrift" has prefix "a.b"), so every file whose prefix fits is tried,
// root first. It returns nil when there is no such service.
func (p *Program) Service(name string) *Service {
	if p == nil || p.Root == nil {
		return nil
	}
	if !strings.Contains(name, ".") {
		return p.Root.Services[name]
	}
	for _, f := range p.Files {
		if rest, ok := strings.CutPrefix(name, f.Prefix+"."); ok {
			if s := f.Services[rest]; s != nil {
				return s
			}
		}
	}
	return nil
}

package thrift

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
)

// The golden files show the resolved model as JSON. The dumper below is
// written for them: it names every definition a Type or value refers to
// instead of descending into it (types are recursive), renders positions as
// "file:line:column" with slash paths, and keeps declaration order, so its
// output is deterministic and reads like the IDL it came from.

type jProgram struct {
	Files    []jFile  `json:"files"`
	Warnings []string `json:"warnings,omitempty"`
}

type jFile struct {
	Path        string              `json:"path"`
	Prefix      string              `json:"prefix"`
	Doc         string              `json:"doc,omitempty"`
	Includes    []string            `json:"includes,omitempty"`
	CppIncludes []string            `json:"cppIncludes,omitempty"`
	Namespaces  []jNamespace        `json:"namespaces,omitempty"`
	Definitions []jDef              `json:"definitions"`
	Senums      map[string][]string `json:"senums,omitempty"`
}

type jNamespace struct {
	Scope       string   `json:"scope"`
	Name        string   `json:"name"`
	Annotations []string `json:"annotations,omitempty"`
	Pos         string   `json:"pos"`
}

type jDef struct {
	Kind        string     `json:"kind"`
	Name        string     `json:"name"`
	Pos         string     `json:"pos"`
	Doc         string     `json:"doc,omitempty"`
	Annotations []string   `json:"annotations,omitempty"`
	Type        *jType     `json:"type,omitempty"`
	Value       *jValue    `json:"value,omitempty"`
	Values      []jEnumVal `json:"values,omitempty"`
	Fields      []jField   `json:"fields,omitempty"`
	Extends     string     `json:"extends,omitempty"`
	Functions   []jFunc    `json:"functions,omitempty"`
	// AllFunctions lists a service's functions with inherited ones, as
	// "Service.function".
	AllFunctions []string `json:"allFunctions,omitempty"`
}

type jEnumVal struct {
	Name        string   `json:"name"`
	Value       int32    `json:"value"`
	Doc         string   `json:"doc,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
	Pos         string   `json:"pos"`
}

type jField struct {
	ID          int16    `json:"id"`
	ImplicitID  bool     `json:"implicitId,omitempty"`
	Name        string   `json:"name"`
	Required    string   `json:"required"`
	Reference   bool     `json:"reference,omitempty"`
	Type        *jType   `json:"type"`
	Default     *jValue  `json:"default,omitempty"`
	Doc         string   `json:"doc,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
	Pos         string   `json:"pos"`
}

type jFunc struct {
	Name        string   `json:"name"`
	Oneway      bool     `json:"oneway,omitempty"`
	Returns     *jType   `json:"returns"`
	Args        []jField `json:"args"`
	Throws      []jField `json:"throws,omitempty"`
	Doc         string   `json:"doc,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
	Pos         string   `json:"pos"`
}

type jType struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Ref         string   `json:"ref,omitempty"`        // the definition named, as prefix.Name
	Underlying  string   `json:"underlying,omitempty"` // typedefs: the kind they stand for
	Elem        *jType   `json:"elem,omitempty"`
	Key         *jType   `json:"key,omitempty"`
	Value       *jType   `json:"value,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
	Pos         string   `json:"pos"`
}

type jValue struct {
	Kind      string       `json:"kind"`
	Int       *int64       `json:"int,omitempty"`
	Double    *float64     `json:"double,omitempty"`
	String    *string      `json:"string,omitempty"`
	Bool      *bool        `json:"bool,omitempty"`
	List      []*jValue    `json:"list,omitempty"`
	Map       [][2]*jValue `json:"map,omitempty"`
	Ident     string       `json:"ident,omitempty"`
	Const     string       `json:"const,omitempty"`     // the constant an ident names
	EnumValue string       `json:"enumValue,omitempty"` // prefix.Enum.VALUE
	Resolved  *jValue      `json:"resolved,omitempty"`
	Pos       string       `json:"pos"`
}

func dumpProgram(p *Program) ([]byte, error) {
	out := jProgram{Warnings: p.Warnings}
	for _, f := range p.Files {
		out.Files = append(out.Files, dumpFile(f))
	}
	return json.MarshalIndent(out, "", "  ")
}

func pos(p Pos) string {
	p.File = filepath.ToSlash(p.File)
	return p.String()
}

func annotations(as Annotations) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Key+"="+strconv.Quote(a.Value)+" @"+pos(a.Pos))
	}
	return out
}

func dumpFile(f *File) jFile {
	jf := jFile{Path: filepath.ToSlash(f.Path), Prefix: f.Prefix, Doc: f.Doc, CppIncludes: f.CppIncludes, Definitions: []jDef{}}
	for _, inc := range f.Includes {
		jf.Includes = append(jf.Includes, filepath.ToSlash(inc.Path))
	}
	for _, ns := range f.Namespaces {
		jf.Namespaces = append(jf.Namespaces, jNamespace{Scope: ns.Scope, Name: ns.Name, Annotations: annotations(ns.Annotations), Pos: pos(ns.Pos)})
	}
	if len(f.Senums) > 0 {
		jf.Senums = f.Senums
	}
	for _, def := range f.Definitions {
		jf.Definitions = append(jf.Definitions, dumpDef(def))
	}
	return jf
}

func dumpDef(def Definition) jDef {
	switch d := def.(type) {
	case *Const:
		return jDef{Kind: "const", Name: d.Name, Pos: pos(d.Pos), Doc: d.Doc, Annotations: annotations(d.Annotations), Type: dumpType(d.Type), Value: dumpValue(d.Value)}
	case *Typedef:
		return jDef{Kind: "typedef", Name: d.Name, Pos: pos(d.Pos), Doc: d.Doc, Annotations: annotations(d.Annotations), Type: dumpType(d.Type)}
	case *Enum:
		jd := jDef{Kind: "enum", Name: d.Name, Pos: pos(d.Pos), Doc: d.Doc, Annotations: annotations(d.Annotations)}
		for _, v := range d.Values {
			jd.Values = append(jd.Values, jEnumVal{Name: v.Name, Value: v.Value, Doc: v.Doc, Annotations: annotations(v.Annotations), Pos: pos(v.Pos)})
		}
		return jd
	case *Struct:
		return jDef{Kind: kindWord(d.Kind), Name: d.Name, Pos: pos(d.Pos), Doc: d.Doc, Annotations: annotations(d.Annotations), Fields: dumpFields(d.Fields)}
	case *Service:
		jd := jDef{Kind: "service", Name: d.Name, Pos: pos(d.Pos), Doc: d.Doc, Annotations: annotations(d.Annotations)}
		if d.Extends != nil {
			jd.Extends = d.Extends.FullName()
		}
		for _, fn := range d.Functions {
			jd.Functions = append(jd.Functions, jFunc{
				Name: fn.Name, Oneway: fn.Oneway, Returns: dumpType(fn.Returns),
				Args: dumpFields(fn.Args), Throws: dumpFields(fn.Throws),
				Doc: fn.Doc, Annotations: annotations(fn.Annotations), Pos: pos(fn.Pos),
			})
		}
		for _, fn := range d.AllFunctions() {
			jd.AllFunctions = append(jd.AllFunctions, fn.Service.FullName()+"."+fn.Name)
		}
		return jd
	}
	panic(fmt.Sprintf("unknown definition %T", def))
}

func dumpFields(fs []*Field) []jField {
	out := []jField{}
	for _, f := range fs {
		out = append(out, jField{
			ID: f.ID, ImplicitID: f.ImplicitID, Name: f.Name, Required: requiredness(f.Required),
			Reference: f.Reference, Type: dumpType(f.Type), Default: dumpValue(f.Default),
			Doc: f.Doc, Annotations: annotations(f.Annotations), Pos: pos(f.Pos),
		})
	}
	return out
}

func requiredness(r Requiredness) string {
	switch r {
	case Required:
		return "required"
	case Optional:
		return "optional"
	}
	return "default"
}

func kindName(k Kind) string {
	names := [...]string{"void", "bool", "byte", "i16", "i32", "i64", "double", "string", "binary", "uuid", "list", "set", "map", "struct", "enum", "typedef"}
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func dumpType(t *Type) *jType {
	if t == nil {
		return nil
	}
	jt := &jType{Kind: kindName(t.Kind), Name: t.Name, Annotations: annotations(t.Annotations), Pos: pos(t.Pos),
		Elem: dumpType(t.Elem), Key: dumpType(t.Key), Value: dumpType(t.Value)}
	switch t.Kind {
	case KindStruct:
		jt.Ref = t.Struct.FullName()
	case KindEnum:
		jt.Ref = t.Enum.File.Prefix + "." + t.Enum.Name
	case KindTypedef:
		jt.Ref = t.Typedef.File.Prefix + "." + t.Typedef.Name
		jt.Underlying = kindName(t.Underlying().Kind)
	}
	return jt
}

func constKindName(k ConstKind) string {
	names := [...]string{"int", "double", "string", "bool", "list", "map", "ident"}
	if k >= 0 && int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("ConstKind(%d)", int(k))
}

func dumpValue(v *ConstValue) *jValue {
	if v == nil {
		return nil
	}
	jv := &jValue{Kind: constKindName(v.Kind), Pos: pos(v.Pos)}
	switch v.Kind {
	case ConstInt:
		jv.Int = &v.Int
	case ConstDouble:
		jv.Double = &v.Double
	case ConstString:
		jv.String = &v.String
	case ConstBool:
		jv.Bool = &v.Bool
	case ConstList:
		jv.List = []*jValue{}
		for _, e := range v.List {
			jv.List = append(jv.List, dumpValue(e))
		}
	case ConstMap:
		jv.Map = [][2]*jValue{}
		for _, e := range v.Map {
			jv.Map = append(jv.Map, [2]*jValue{dumpValue(e.Key), dumpValue(e.Value)})
		}
	case ConstIdent:
		jv.Ident = v.Ident
		if v.Const != nil {
			jv.Const = v.Const.File.Prefix + "." + v.Const.Name
		}
		jv.Resolved = dumpValue(v.Resolved)
	}
	if v.EnumValue != nil {
		jv.EnumValue = v.Enum.File.Prefix + "." + v.Enum.Name + "." + v.EnumValue.Name
	}
	return jv
}

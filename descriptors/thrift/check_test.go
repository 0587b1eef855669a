package thrift

import (
	"testing"
)

// checkModel asserts what the codec relies on in every resolved Program:
// each Type is resolved and points at its definition, typedef chains end,
// each reference value is resolved, service hierarchies end, and the name
// tables agree with the definitions. The golden, corpus and fuzz tests run
// it on everything they parse.
func checkModel(t testing.TB, p *Program) {
	t.Helper()
	if p.Root == nil || len(p.Files) == 0 || p.Files[0] != p.Root {
		t.Fatalf("Root is not Files[0]")
	}
	var checkType func(where string, ty *Type, allowVoid bool)
	checkType = func(where string, ty *Type, allowVoid bool) {
		if ty == nil {
			t.Errorf("%s: nil type", where)
			return
		}
		switch ty.Kind {
		case KindVoid:
			if !allowVoid {
				t.Errorf("%s: void type", where)
			}
		case KindList, KindSet:
			checkType(where, ty.Elem, false)
		case KindMap:
			checkType(where, ty.Key, false)
			checkType(where, ty.Value, false)
		case KindStruct:
			if ty.Struct == nil {
				t.Errorf("%s: struct type %s without Struct", where, ty.Name)
			}
		case KindEnum:
			if ty.Enum == nil {
				t.Errorf("%s: enum type %s without Enum", where, ty.Name)
			}
		case KindTypedef:
			if ty.Typedef == nil {
				t.Errorf("%s: typedef type %s without Typedef", where, ty.Name)
				return
			}
			if underlying(ty) == nil {
				t.Errorf("%s: typedef %s does not end", where, ty.Name)
			}
		case KindBool, KindByte, KindI16, KindI32, KindI64, KindDouble, KindString, KindBinary, KindUUID:
		default:
			t.Errorf("%s: type %s has kind %d", where, ty.Name, ty.Kind)
		}
	}
	var checkValue func(where string, v *ConstValue)
	checkValue = func(where string, v *ConstValue) {
		if v == nil {
			return
		}
		switch v.Kind {
		case ConstIdent:
			if v.Resolved == nil || v.Resolved.Kind == ConstIdent {
				t.Errorf("%s: %s not resolved to a value", where, v.Ident)
			}
		case ConstList:
			for _, e := range v.List {
				checkValue(where, e)
			}
		case ConstMap:
			for _, e := range v.Map {
				checkValue(where, e.Key)
				checkValue(where, e.Value)
			}
		}
	}
	checkFields := func(where string, fields []*Field) {
		for _, f := range fields {
			checkType(where+"."+f.Name, f.Type, false)
			checkValue(where+"."+f.Name, f.Default)
		}
	}
	prefixes := map[string]int{} // Program.Service cannot tell apart files of one prefix
	for _, f := range p.Files {
		prefixes[f.Prefix]++
	}
	for _, f := range p.Files {
		for _, def := range f.Definitions {
			switch d := def.(type) {
			case *Const:
				if f.Consts[d.Name] != d || d.File != f {
					t.Errorf("%s: const %s not indexed", f.Path, d.Name)
				}
				checkType(d.Name, d.Type, false)
				checkValue(d.Name, d.Value)
			case *Typedef:
				if f.Typedefs[d.Name] != d || d.File != f {
					t.Errorf("%s: typedef %s not indexed", f.Path, d.Name)
				}
				checkType(d.Name, d.Type, false)
			case *Enum:
				if f.Enums[d.Name] != d || d.File != f {
					t.Errorf("%s: enum %s not indexed", f.Path, d.Name)
				}
			case *Struct:
				if f.Structs[d.Name] != d || d.File != f {
					t.Errorf("%s: struct %s not indexed", f.Path, d.Name)
				}
				checkFields(d.Name, d.Fields)
				for _, fl := range d.Fields {
					if d.FieldByID(fl.ID) != fl || d.FieldByName(fl.Name) != fl {
						t.Errorf("%s.%s: field lookup fails", d.Name, fl.Name)
					}
				}
			case *Service:
				if f.Services[d.Name] != d || d.File != f {
					t.Errorf("%s: service %s not indexed", f.Path, d.Name)
				}
				if prefixes[f.Prefix] == 1 && p.Service(d.FullName()) != d {
					t.Errorf("Program.Service(%q) does not find it", d.FullName())
				}
				depth := 0
				for s := d; s != nil; s = s.Extends {
					if depth++; depth > 1000 {
						t.Fatalf("service %s: extends does not end", d.Name)
					}
				}
				for _, fn := range d.Functions {
					where := d.Name + "." + fn.Name
					if fn.Service != d || d.Function(fn.Name) != fn {
						t.Errorf("%s: function not linked", where)
					}
					checkType(where, fn.Returns, true)
					checkFields(where, fn.Args)
					checkFields(where, fn.Throws)
					for _, x := range fn.Throws {
						if u := x.Type.Underlying(); u.Kind != KindStruct || u.Struct.Kind != StructKindException {
							t.Errorf("%s: throws %s", where, x.Type.Name)
						}
					}
				}
			default:
				t.Errorf("%s: unknown definition %T", f.Path, def)
			}
		}
	}
	for _, s := range p.Root.Services {
		if p.Service(s.Name) != s {
			t.Errorf("Program.Service(%q) does not find the root's service", s.Name)
		}
	}
}

package thrift

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// resolver links the parsed files into one model and checks it. It reports
// every problem it finds and goes on, so that one run lists them all; the
// caller discards the model if any was found.
type resolver struct {
	d           *diag
	files       []*File
	consts      map[*Const]int    // constState of each constant
	typedefDone map[*Typedef]bool // settled by checkTypedefCycles
	serviceEnds map[*Service]bool
}

const (
	constUnvisited = iota
	constVisiting
	constDone
)

func resolve(files []*File, d *diag) {
	r := &resolver{d: d, files: files, consts: map[*Const]int{},
		typedefDone: map[*Typedef]bool{}, serviceEnds: map[*Service]bool{}}
	for _, f := range files {
		r.index(f)
	}
	for _, f := range files {
		r.link(f)
	}
	for _, f := range files {
		r.checkTypedefCycles(f)
		r.checkServiceCycles(f)
	}
	for _, f := range files {
		r.check(f)
	}
}

// index fills the File's name tables from its definitions and reports
// duplicates. Types (structs, unions, exceptions, enums, typedefs, senums)
// and services share one name space, as in the Apache compiler; constants
// have their own.
func (r *resolver) index(f *File) {
	seen := map[string]Pos{}
	add := func(name string, pos Pos) bool {
		if first, dup := seen[name]; dup {
			r.d.errorf(pos, "%q is already defined at %s", name, first)
			return false
		}
		seen[name] = pos
		return true
	}
	for _, sp := range f.senumPos {
		seen[sp.name] = sp.pos
	}
	for _, def := range f.Definitions {
		switch def := def.(type) {
		case *Const:
			if first, dup := f.Consts[def.Name]; dup {
				r.d.errorf(def.Pos, "constant %q is already defined at %s", def.Name, first.Pos)
				continue
			}
			f.Consts[def.Name] = def
		case *Typedef:
			if add(def.Name, def.Pos) {
				f.Typedefs[def.Name] = def
			}
		case *Enum:
			if add(def.Name, def.Pos) {
				f.Enums[def.Name] = def
			}
		case *Struct:
			if add(def.Name, def.Pos) {
				f.Structs[def.Name] = def
			}
		case *Service:
			if add(def.Name, def.Pos) {
				f.Services[def.Name] = def
			}
		}
	}
}

// link resolves every named type reference and every extends clause.
func (r *resolver) link(f *File) {
	for _, def := range f.Definitions {
		switch def := def.(type) {
		case *Const:
			r.linkType(f, def.Type, false, func() string { return fmt.Sprintf("constant %q", def.Name) })
		case *Typedef:
			r.linkType(f, def.Type, false, func() string { return fmt.Sprintf("typedef %q", def.Name) })
		case *Struct:
			r.linkFields(f, def.Fields, func(fl *Field) string {
				return fmt.Sprintf("field %q of %s %q", fl.Name, kindWord(def.Kind), def.Name)
			})
		case *Service:
			if def.extends != "" {
				r.linkExtends(f, def)
			}
			for _, fn := range def.Functions {
				r.linkType(f, fn.Returns, true, func() string {
					return fmt.Sprintf("the return type of function %q of service %q", fn.Name, def.Name)
				})
				r.linkFields(f, fn.Args, func(fl *Field) string {
					return fmt.Sprintf("argument %q of function %q of service %q", fl.Name, fn.Name, def.Name)
				})
				r.linkFields(f, fn.Throws, func(fl *Field) string {
					return fmt.Sprintf("exception %q of function %q of service %q", fl.Name, fn.Name, def.Name)
				})
			}
		}
	}
}

func (r *resolver) linkFields(f *File, fields []*Field, where func(*Field) string) {
	for _, fl := range fields {
		r.linkType(f, fl.Type, false, func() string { return where(fl) })
	}
}

// linkType resolves the names in t; where describes the use for messages
// and is only called when there is something to report.
func (r *resolver) linkType(f *File, t *Type, allowVoid bool, where func() string) {
	switch t.Kind {
	case KindVoid:
		if !allowVoid {
			r.d.errorf(t.Pos, "void is only allowed as a function's return type, not in %s", where())
		}
	case KindList, KindSet:
		r.linkType(f, t.Elem, false, where)
	case KindMap:
		r.linkType(f, t.Key, false, where)
		r.linkType(f, t.Value, false, where)
	case kindUnresolved:
		file, name := r.split(f, t.Name)
		if file == nil {
			r.d.errorf(t.Pos, "undefined type %q in %s", t.Name, where())
			return
		}
		if s := file.Structs[name]; s != nil {
			t.Kind, t.Struct = KindStruct, s
		} else if e := file.Enums[name]; e != nil {
			t.Kind, t.Enum = KindEnum, e
		} else if td := file.Typedefs[name]; td != nil {
			t.Kind, t.Typedef = KindTypedef, td
		} else if file.Services[name] != nil {
			r.d.errorf(t.Pos, "%q is a service, not a type, in %s", t.Name, where())
		} else if _, ok := file.Senums[name]; ok {
			r.d.errorf(t.Pos, "senum %q cannot be used as a type, in %s", t.Name, where())
		} else {
			r.d.errorf(t.Pos, "undefined type %q in %s", t.Name, where())
		}
	}
}

// split finds the file a name refers to: a name without a dot is f's own,
// "prefix.Name" is Name in the file f includes as prefix. It returns nil if
// no include fits.
func (r *resolver) split(f *File, name string) (*File, string) {
	if !strings.Contains(name, ".") {
		return f, name
	}
	for _, inc := range f.Includes {
		if rest, ok := strings.CutPrefix(name, inc.Prefix+"."); ok && !strings.Contains(rest, ".") {
			return inc, rest
		}
	}
	return nil, ""
}

func (r *resolver) linkExtends(f *File, s *Service) {
	file, name := r.split(f, s.extends)
	if file != nil {
		if parent := file.Services[name]; parent != nil {
			s.Extends = parent
			return
		}
		if what := r.describeType(file, name); what != "" {
			r.d.errorf(s.extendsPos, "service %q extends %q, which is %s, not a service", s.Name, s.extends, what)
			return
		}
	}
	r.d.errorf(s.extendsPos, "service %q extends undefined service %q", s.Name, s.extends)
}

func (r *resolver) describeType(f *File, name string) string {
	if s := f.Structs[name]; s != nil {
		return "a " + kindWord(s.Kind)
	}
	if f.Enums[name] != nil {
		return "an enum"
	}
	if f.Typedefs[name] != nil {
		return "a typedef"
	}
	if _, ok := f.Senums[name]; ok {
		return "a senum"
	}
	return ""
}

// checkTypedefCycles reports typedefs that end up standing for themselves,
// once per cycle, at the first typedef of the cycle reached in file order (a
// cycle lies within one file: includes cannot be circular). Each typedef is settled
// once, as ending or as part of or leading into a cycle, so long chains
// cost linear time.
func (r *resolver) checkTypedefCycles(f *File) {
	for _, def := range f.Definitions {
		td, ok := def.(*Typedef)
		if !ok || r.typedefDone[td] {
			continue
		}
		chain := []*Typedef{td}
		seen := map[*Typedef]int{td: 0}
		for t := td.Type; t.Kind == KindTypedef && !r.typedefDone[t.Typedef]; t = t.Typedef.Type {
			next := t.Typedef
			if i, ok := seen[next]; ok {
				names := []string{}
				for _, c := range chain[i:] {
					names = append(names, c.Name)
				}
				names = append(names, next.Name)
				r.d.errorf(next.Pos, "typedef cycle: %s", strings.Join(names, " -> "))
				break
			}
			seen[next] = len(chain)
			chain = append(chain, next)
		}
		for _, c := range chain {
			r.typedefDone[c] = true
		}
	}
}

// underlying is Type.Underlying that survives typedef cycles (reported
// elsewhere) and unresolved names: it returns nil for both.
func underlying(t *Type) *Type {
	for i := 0; t != nil && t.Kind == KindTypedef; i++ {
		if i > 10000 {
			return nil
		}
		t = t.Typedef.Type
	}
	if t == nil || t.Kind == kindUnresolved {
		return nil
	}
	return t
}

// checkServiceCycles reports services that extend themselves, and cuts the
// cycle so later walks up the hierarchy terminate. Services known to have a
// finite hierarchy are remembered, so long chains cost linear time.
func (r *resolver) checkServiceCycles(f *File) {
	for _, def := range f.Definitions {
		s, ok := def.(*Service)
		if !ok || r.serviceEnds[s] {
			continue
		}
		chain := []string{s.Name}
		seen := map[*Service]bool{s: true}
		ends := true
		for p := s.Extends; p != nil && !r.serviceEnds[p]; p = p.Extends {
			chain = append(chain, p.Name)
			if p == s {
				r.d.errorf(s.extendsPos, "service inheritance cycle: %s", strings.Join(chain, " -> "))
				s.Extends = nil
				break
			}
			if seen[p] {
				ends = false
				break
			}
			seen[p] = true
		}
		if ends {
			for x := range seen {
				r.serviceEnds[x] = true
			}
		}
	}
}

// check runs the per-definition checks and resolves constant values.
func (r *resolver) check(f *File) {
	for _, def := range f.Definitions {
		switch def := def.(type) {
		case *Const:
			r.resolveConst(def)
		case *Enum:
			names := map[string]bool{}
			for _, v := range def.Values {
				if names[v.Name] {
					r.d.errorf(v.Pos, "enum value %q is already defined in enum %q", v.Name, def.Name)
				}
				names[v.Name] = true
			}
		case *Struct:
			what := kindWord(def.Kind) + " " + strconv.Quote(def.Name)
			r.checkFields(f, def.Fields, what)
			if def.Kind == StructKindUnion {
				var first *Field
				for _, fl := range def.Fields {
					if fl.Default == nil {
						continue
					}
					if first != nil {
						r.d.errorf(fl.Pos, "field %q of union %q has a default value, but %q already has one", fl.Name, def.Name, first.Name)
						continue
					}
					first = fl
				}
			}
		case *Service:
			r.checkService(f, def)
		}
	}
}

// checkFields reports duplicate ids and names and resolves default values.
func (r *resolver) checkFields(f *File, fields []*Field, what string) {
	ids := map[int16]*Field{}
	names := map[string]*Field{}
	for _, fl := range fields {
		if other := ids[fl.ID]; other != nil {
			r.d.errorf(fl.Pos, "field %q of %s has id %d, already used by field %q", fl.Name, what, fl.ID, other.Name)
		} else {
			ids[fl.ID] = fl
		}
		if other := names[fl.Name]; other != nil {
			r.d.errorf(fl.Pos, "field %q is already defined in %s", fl.Name, what)
		} else {
			names[fl.Name] = fl
		}
		if fl.Default != nil {
			r.value(f, fl.Type, fl.Default, fmt.Sprintf("the default of field %q of %s", fl.Name, what))
		}
	}
}

func (r *resolver) checkService(f *File, s *Service) {
	names := map[string]bool{}
	for _, fn := range s.Functions {
		if names[fn.Name] {
			r.d.errorf(fn.Pos, "function %q is already defined in service %q", fn.Name, s.Name)
		}
		names[fn.Name] = true
		what := fmt.Sprintf("function %q of service %q", fn.Name, s.Name)
		if fn.Oneway && fn.Returns.Kind != KindVoid {
			r.d.errorf(fn.Returns.Pos, "oneway function %q of service %q must return void", fn.Name, s.Name)
		}
		if fn.Oneway && len(fn.Throws) > 0 {
			r.d.errorf(fn.Throws[0].Pos, "oneway function %q of service %q cannot throw exceptions", fn.Name, s.Name)
		}
		r.checkFields(f, fn.Args, "the arguments of "+what)
		r.checkFields(f, fn.Throws, "the throws clause of "+what)
		for _, x := range fn.Throws {
			if u := underlying(x.Type); u != nil && (u.Kind != KindStruct || u.Struct.Kind != StructKindException) {
				r.d.errorf(x.Type.Pos, "%q in the throws clause of %s is not an exception", x.Type.Name, what)
			}
		}
	}
}

// resolveConst resolves a constant's value once; it returns false while the
// constant is being resolved, which means a reference cycle.
func (r *resolver) resolveConst(c *Const) bool {
	switch r.consts[c] {
	case constDone:
		return true
	case constVisiting:
		return false
	}
	r.consts[c] = constVisiting
	r.value(c.File, c.Type, c.Value, fmt.Sprintf("constant %q", c.Name))
	r.consts[c] = constDone
	return true
}

// value resolves the references in v, a value written in file f where a
// value of type slot is expected, and checks that it fits the type. Lists
// and maps are walked as written; a reference to another constant is
// checked at its own top level only (that constant was checked against its
// own type), which keeps the work linear in the size of the source.
func (r *resolver) value(f *File, slot *Type, v *ConstValue, where string) {
	u := underlying(slot)
	if u == nil || u.Kind == KindVoid {
		return // reported when linking
	}
	val := v
	if v.Kind == ConstIdent {
		if val = r.ident(f, u, v, where); val == nil {
			return
		}
	}
	bad := func(why string) {
		r.d.errorf(v.Pos, "cannot use %s as %s in %s%s", describeValue(v), slot.Name, where, why)
	}
	switch u.Kind {
	case KindBool:
		if !(val.Kind == ConstBool || val.Kind == ConstInt && (val.Int == 0 || val.Int == 1)) {
			bad("")
		}
	case KindByte, KindI16, KindI32, KindI64:
		if val.Kind == ConstBool {
			return // true and false are 1 and 0 to the Apache compiler
		}
		if val.Kind != ConstInt {
			bad("")
			return
		}
		lo, hi := intRange(u.Kind)
		if val.Int < lo || val.Int > hi {
			bad(fmt.Sprintf(": out of range (%d to %d)", lo, hi))
		}
	case KindDouble:
		if val.Kind != ConstInt && val.Kind != ConstDouble {
			bad("")
		}
	case KindString, KindBinary:
		if val.Kind != ConstString {
			bad("")
		}
	case KindUUID:
		if val.Kind != ConstString {
			bad("")
		} else if !validUUID(val.String) {
			bad(": not a UUID")
		}
	case KindEnum:
		if val.Kind != ConstInt {
			bad("")
			return
		}
		if v.EnumValue != nil && v.Enum != u.Enum {
			bad(fmt.Sprintf(": it is a value of enum %q", v.Enum.Name))
			return
		}
		ev := u.Enum.ByValue(int32(val.Int))
		if ev == nil || int64(ev.Value) != val.Int {
			bad(fmt.Sprintf(": enum %q has no value %d", u.Enum.Name, val.Int))
			return
		}
		if v.EnumValue == nil {
			v.Enum, v.EnumValue = u.Enum, ev
		}
	case KindList, KindSet:
		if val == v && v.Kind == ConstMap && len(v.Map) == 0 {
			v.Kind, v.Map, v.List = ConstList, nil, []*ConstValue{} // "{}" for an empty set, as in ThriftTest.thrift
			return
		}
		if val.Kind != ConstList {
			bad("")
			return
		}
		if val == v {
			for _, e := range v.List {
				r.value(f, u.Elem, e, where)
			}
		}
	case KindMap:
		if val == v && v.Kind == ConstList && len(v.List) == 0 {
			v.Kind, v.List, v.Map = ConstMap, nil, []ConstMapEntry{}
			return
		}
		if val.Kind != ConstMap {
			bad("")
			return
		}
		if val == v {
			for _, e := range v.Map {
				r.value(f, u.Key, e.Key, where)
				r.value(f, u.Value, e.Value, where)
			}
		}
	case KindStruct:
		if val == v && v.Kind == ConstList && len(v.List) == 0 {
			v.Kind, v.List, v.Map = ConstMap, nil, []ConstMapEntry{}
			return
		}
		if val.Kind != ConstMap {
			bad("")
			return
		}
		if val != v {
			return
		}
		for _, e := range v.Map {
			if e.Key.Kind != ConstString {
				r.d.errorf(e.Key.Pos, "%s %q needs field names as keys, not %s, in %s", kindWord(u.Struct.Kind), u.Struct.Name, describeValue(e.Key), where)
				continue
			}
			fl := u.Struct.FieldByName(e.Key.String)
			if fl == nil {
				r.d.errorf(e.Key.Pos, "%s %q has no field %q, in %s", kindWord(u.Struct.Kind), u.Struct.Name, e.Key.String, where)
				continue
			}
			r.value(f, fl.Type, e.Value, where)
		}
	}
}

// ident resolves a ConstIdent: an enum value of the expected enum by its bare
// name, a constant, "Enum.VALUE", or either of the last two behind the
// prefix of an included file. It fills v.Resolved and returns it, or
// reports the problem and returns nil.
func (r *resolver) ident(f *File, u *Type, v *ConstValue, where string) *ConstValue {
	if u.Kind == KindEnum {
		// The Apache compiler matches only the last part of the name against
		// the expected enum, so "Other.VALUE" and "prefix.VALUE" are taken as
		// that enum's VALUE; real files rely on it, so it is accepted, with a
		// warning when the name does not spell the expected enum.
		name := v.Ident[strings.LastIndexByte(v.Ident, '.')+1:]
		if ev := u.Enum.ByName(name); ev != nil {
			e := u.Enum
			switch v.Ident {
			case name, e.Name + "." + name, e.File.Prefix + "." + e.Name + "." + name:
			default:
				r.d.warnf(v.Pos, "%s is taken as %s.%s, the value of that name in the expected enum", v.Ident, e.Name, name)
			}
			return enumRef(v, e, ev)
		}
	}
	type candidate struct {
		file *File
		name string
	}
	candidates := []candidate{{f, v.Ident}}
	for _, inc := range f.Includes {
		if rest, ok := strings.CutPrefix(v.Ident, inc.Prefix+"."); ok {
			candidates = append(candidates, candidate{inc, rest})
		}
	}
	for _, c := range candidates {
		if k := c.file.Consts[c.name]; k != nil {
			return r.constRef(v, k, where)
		}
		enum, value, ok := strings.Cut(c.name, ".")
		if !ok || strings.Contains(value, ".") {
			continue
		}
		if e := c.file.Enums[enum]; e != nil {
			if ev := e.ByName(value); ev != nil {
				return enumRef(v, e, ev)
			}
			r.d.errorf(v.Pos, "enum %q has no value %q, in %s", e.Name, value, where)
			return nil
		}
	}
	r.d.errorf(v.Pos, "undefined constant %q in %s", v.Ident, where)
	return nil
}

// enumRef makes v a reference to the enum value ev.
func enumRef(v *ConstValue, e *Enum, ev *EnumValue) *ConstValue {
	v.Enum, v.EnumValue = e, ev
	v.Resolved = &ConstValue{Kind: ConstInt, Int: int64(ev.Value), Pos: ev.Pos, Enum: e, EnumValue: ev}
	return v.Resolved
}

// constRef makes v a reference to the constant k, resolving k first.
func (r *resolver) constRef(v *ConstValue, k *Const, where string) *ConstValue {
	v.Const = k
	if !r.resolveConst(k) {
		r.d.errorf(v.Pos, "constant %q is defined in terms of itself, in %s", k.Name, where)
		return nil
	}
	final := k.Value
	if final.Kind == ConstIdent {
		final = final.Resolved
	}
	if final == nil {
		return nil // the constant's own error was reported
	}
	v.Resolved = final
	if final.EnumValue != nil {
		v.Enum, v.EnumValue = final.Enum, final.EnumValue
	}
	return final
}

func intRange(k Kind) (int64, int64) {
	switch k {
	case KindByte:
		return math.MinInt8, math.MaxInt8
	case KindI16:
		return math.MinInt16, math.MaxInt16
	case KindI32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// validUUID accepts the canonical 8-4-4-4-12 hex form, optionally in braces,
// as the Apache compiler does.
func validUUID(s string) bool {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// describeValue renders a constant value briefly for messages.
func describeValue(v *ConstValue) string {
	switch v.Kind {
	case ConstInt:
		return strconv.FormatInt(v.Int, 10)
	case ConstDouble:
		return strconv.FormatFloat(v.Double, 'g', -1, 64)
	case ConstString:
		s := v.String
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "string " + strconv.Quote(s)
	case ConstBool:
		return strconv.FormatBool(v.Bool)
	case ConstList:
		return "a list"
	case ConstMap:
		return "a map"
	case ConstIdent:
		if v.Resolved != nil {
			return v.Ident + " (" + describeValue(v.Resolved) + ")"
		}
		return v.Ident
	}
	return "?"
}

package thrift

import (
	"math"
	"strings"
)

// maxDepth bounds the nesting of container types, constant lists and maps
// and xsd_attrs blocks. The parser is recursive, so without a bound a file
// of a million "[" would exhaust the stack; 100 levels is far beyond any real
// IDL.
const maxDepth = 100

// kindUnresolved marks a Type that names a definition (Type.Name) the
// resolver has not looked up yet. No Type of a returned Program has it.
const kindUnresolved Kind = -1

// isKeyword tells the words that cannot name a definition. Most of them may
// still name a field, as in the Apache grammar.
func isKeyword(w string) bool {
	switch w {
	case "include", "cpp_include", "namespace",
		"const", "typedef", "enum", "senum", "struct", "union", "exception", "service",
		"extends", "throws", "oneway", "async", "void", "required", "optional",
		"bool", "byte", "i8", "i16", "i32", "i64", "double", "string", "binary", "uuid", "slist",
		"map", "set", "list", "cpp_type",
		"xsd_all", "xsd_optional", "xsd_nillable", "xsd_attrs", "true", "false":
		return true
	}
	return false
}

// oldNamespace maps the pre-0.9 per-language namespace statements, still
// found in old IDL files, to the scope of the "namespace <scope> <name>"
// they stand for.
func oldNamespace(w string) (string, bool) {
	switch w {
	case "cpp_namespace":
		return "cpp", true
	case "php_namespace":
		return "php", true
	case "py_module":
		return "py", true
	case "perl_package":
		return "perl", true
	case "ruby_namespace":
		return "rb", true
	case "java_package":
		return "java", true
	case "cocoa_prefix":
		return "cocoa", true
	case "csharp_namespace":
		return "csharp", true
	case "delphi_namespace":
		return "delphi", true
	case "xsd_namespace":
		return "xsd", true
	case "smalltalk_category":
		return "smalltalk.category", true
	case "smalltalk_prefix":
		return "smalltalk.prefix", true
	}
	return "", false
}

// baseKind maps the base type keywords (and void) to their kinds.
func baseKind(w string) (Kind, bool) {
	switch w {
	case "bool":
		return KindBool, true
	case "byte", "i8":
		return KindByte, true
	case "i16":
		return KindI16, true
	case "i32":
		return KindI32, true
	case "i64":
		return KindI64, true
	case "double":
		return KindDouble, true
	case "string":
		return KindString, true
	case "binary":
		return KindBinary, true
	case "uuid":
		return KindUUID, true
	case "void":
		return KindVoid, true
	}
	return 0, false
}

// includeDecl is an include statement awaiting the loader.
type includeDecl struct {
	path string
	pos  Pos
}

// bailout unwinds the parser to the enclosing definition after a syntax
// error has been recorded; the parser then skips to the next definition.
type bailout struct{}

type parser struct {
	lx       *lexer
	tok      token
	prevLine int // line of the token before tok, to find line starts
	d        *diag
	file     *File
	includes []includeDecl
	depth    int
}

// parseFile parses one file's source into a File whose type references are
// not yet resolved, and returns its include statements.
func parseFile(path string, src []byte, d *diag) (*File, []includeDecl) {
	f := &File{
		Path:     path,
		Prefix:   prefixOf(path),
		Consts:   map[string]*Const{},
		Typedefs: map[string]*Typedef{},
		Enums:    map[string]*Enum{},
		Structs:  map[string]*Struct{},
		Services: map[string]*Service{},
		Senums:   map[string][]string{},
	}
	p := &parser{lx: newLexer(path, src, d), d: d, file: f}
	p.tok = p.lx.next()
	if p.tok.hasDoc && p.isHeader() {
		f.Doc = p.tok.doc
	}
	for p.tok.kind != tokEOF {
		p.topLevel()
	}
	return f, p.includes
}

// prefixOf is how other files refer to the file at path: its base name up to
// the last dot, as the Apache compiler names programs.
func prefixOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.LastIndexByte(path, '.'); i > 0 {
		path = path[:i]
	}
	return path
}

func (p *parser) next() {
	p.prevLine = p.tok.pos.Line
	p.tok = p.lx.next()
}

func (p *parser) isSym(s string) bool { return p.tok.kind == tokSymbol && p.tok.text == s }
func (p *parser) isWord(w string) bool {
	return p.tok.kind == tokIdent && p.tok.text == w
}

func (p *parser) isHeader() bool {
	if p.tok.kind != tokIdent {
		return false
	}
	switch p.tok.text {
	case "include", "cpp_include", "namespace":
		return true
	}
	_, old := oldNamespace(p.tok.text)
	return old
}

func (p *parser) isDefinition() bool {
	if p.tok.kind != tokIdent {
		return false
	}
	switch p.tok.text {
	case "const", "typedef", "enum", "senum", "struct", "union", "exception", "service":
		return true
	}
	return false
}

// fail records a syntax error and unwinds to the current definition.
func (p *parser) fail(pos Pos, format string, args ...any) {
	p.d.fatalf(pos, format, args...)
	panic(bailout{})
}

func (p *parser) expected(what string) {
	p.fail(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
}

func (p *parser) skipSym(s string) bool {
	if p.isSym(s) {
		p.next()
		return true
	}
	return false
}

func (p *parser) expectSym(s string) Pos {
	if !p.isSym(s) {
		p.expected("\"" + s + "\"")
	}
	pos := p.tok.pos
	p.next()
	return pos
}

// skipSep skips an optional list separator, "," or ";".
func (p *parser) skipSep() {
	if p.isSym(",") || p.isSym(";") {
		p.next()
	}
}

// definitionName reads the name of a definition: an identifier that is not a
// keyword and has no dot (dots are how other files' names are written).
func (p *parser) definitionName(what string) (string, Pos) {
	if p.tok.kind != tokIdent || isKeyword(p.tok.text) {
		p.expected(what + " name")
	}
	name, pos := p.tok.text, p.tok.pos
	if strings.Contains(name, ".") {
		p.d.errorf(pos, "%s name %q must not contain a dot", what, name)
	}
	p.next()
	return name, pos
}

// fieldName reads a field, argument or enum value name, which may be a
// keyword (the Apache grammar allows "1: string namespace").
func (p *parser) fieldName(what string) (string, Pos) {
	if p.tok.kind != tokIdent || p.isXsd() {
		p.expected(what + " name")
	}
	name, pos := p.tok.text, p.tok.pos
	if strings.Contains(name, ".") {
		p.d.errorf(pos, "%s name %q must not contain a dot", what, name)
	}
	p.next()
	return name, pos
}

// isXsd tells the deprecated xsd keywords, which cannot be field names
// because they may follow one.
func (p *parser) isXsd() bool {
	switch p.tok.text {
	case "xsd_all", "xsd_optional", "xsd_nillable", "xsd_attrs":
		return true
	}
	return false
}

// topLevel parses one header or definition, recovering from a syntax error
// by skipping to the next line that starts with a header or definition
// keyword.
func (p *parser) topLevel() {
	start := p.tok.pos
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.depth = 0
			if p.tok.pos == start && p.tok.kind != tokEOF {
				p.next()
			}
			for p.tok.kind != tokEOF && !((p.isDefinition() || p.isHeader()) && p.tok.pos.Line > p.prevLine) {
				p.next()
			}
		}
	}()
	if p.tok.kind == tokSymbol && (p.tok.text == ";" || p.tok.text == ",") {
		p.next() // a stray separator, e.g. "};" after a struct
		return
	}
	if p.tok.kind != tokIdent {
		p.expected("a definition")
	}
	doc, hasDoc := p.tok.doc, p.tok.hasDoc
	kw := p.tok.text
	switch kw {
	case "include":
		p.next()
		if p.tok.kind != tokString {
			p.expected("include file name")
		}
		p.includes = append(p.includes, includeDecl{path: p.tok.text, pos: p.tok.pos})
		p.next()
		p.skipSep()
	case "cpp_include":
		p.next()
		if p.tok.kind != tokString {
			p.expected("cpp_include file name")
		}
		p.file.CppIncludes = append(p.file.CppIncludes, p.tok.text)
		p.next()
		p.skipSep()
	case "namespace":
		p.namespace()
	case "const":
		c := p.constDef()
		p.add(c, doc, hasDoc, &c.Doc)
	case "typedef":
		t := p.typedef()
		p.add(t, doc, hasDoc, &t.Doc)
	case "enum":
		e := p.enum()
		p.add(e, doc, hasDoc, &e.Doc)
	case "senum":
		p.senum()
	case "struct", "union", "exception":
		s := p.structDef()
		p.add(s, doc, hasDoc, &s.Doc)
	case "service":
		s := p.service()
		p.add(s, doc, hasDoc, &s.Doc)
	default:
		if scope, ok := oldNamespace(kw); ok {
			pos := p.tok.pos
			p.next()
			p.d.warnf(pos, "%s is deprecated; use \"namespace %s\"", kw, scope)
			ns := &Namespace{Scope: scope, Pos: pos}
			ns.Name = p.namespaceName()
			p.file.Namespaces = append(p.file.Namespaces, ns)
			p.skipSep()
			return
		}
		p.expected("a definition")
	}
}

func (p *parser) add(def Definition, doc string, hasDoc bool, dst *string) {
	if hasDoc {
		*dst = doc
	}
	p.file.Definitions = append(p.file.Definitions, def)
}

// namespace: 'namespace' ( '*' | scope ) name annotations?
func (p *parser) namespace() {
	ns := &Namespace{Pos: p.tok.pos}
	p.next()
	switch {
	case p.isSym("*"):
		ns.Scope = "*"
	case p.tok.kind == tokIdent:
		ns.Scope = p.tok.text
	default:
		p.expected("namespace scope")
	}
	p.next()
	ns.Name = p.namespaceName()
	ns.Annotations = p.annotations()
	p.file.Namespaces = append(p.file.Namespaces, ns)
	p.skipSep()
}

// namespaceName is an identifier, or leniently a string literal.
func (p *parser) namespaceName() string {
	if p.tok.kind != tokIdent && p.tok.kind != tokString {
		p.expected("namespace name")
	}
	name := p.tok.text
	p.next()
	return name
}

// annotations: ( '(' ( key ( '=' literal )? sep? )* ')' )?
// A bare key gets the value "1", as in the Apache compiler.
func (p *parser) annotations() Annotations {
	if !p.isSym("(") {
		return nil
	}
	p.next()
	as := Annotations{}
	for !p.isSym(")") {
		if p.tok.kind != tokIdent {
			p.expected("annotation name or \")\"")
		}
		a := Annotation{Key: p.tok.text, Value: "1", Pos: p.tok.pos}
		p.next()
		if p.skipSym("=") {
			if p.tok.kind != tokString {
				p.expected("annotation value (a string literal)")
			}
			a.Value = p.tok.text
			p.next()
		}
		as = append(as, a)
		p.skipSep()
	}
	p.next()
	return as
}

// typ parses a field type: a base type, a container or a name.
func (p *parser) typ() *Type {
	if p.tok.kind != tokIdent {
		p.expected("type")
	}
	t := &Type{Name: p.tok.text, Pos: p.tok.pos}
	word := p.tok.text
	if k, ok := baseKind(word); ok {
		t.Kind = k
		p.next()
	} else {
		switch word {
		case "slist":
			p.d.warnf(t.Pos, "slist is deprecated; use string")
			t.Kind = KindString
			p.next()
		case "list", "set", "map":
			p.depth++
			if p.depth > maxDepth {
				p.fail(t.Pos, "types nested more than %d deep", maxDepth)
			}
			p.next()
			p.cppType()
			p.expectSym("<")
			switch word {
			case "map":
				t.Kind = KindMap
				t.Key = p.typ()
				p.expectSym(",")
				t.Value = p.typ()
				t.Name = "map<" + t.Key.Name + ", " + t.Value.Name + ">"
			case "set":
				t.Kind = KindSet
				t.Elem = p.typ()
				t.Name = "set<" + t.Elem.Name + ">"
			default:
				t.Kind = KindList
				t.Elem = p.typ()
				t.Name = "list<" + t.Elem.Name + ">"
			}
			p.expectSym(">")
			if word == "list" && p.cppType() {
				p.d.warnf(t.Pos, "\"list<T> cpp_type\" is deprecated; write \"list cpp_type \\\"...\\\" <T>\"")
			}
			p.depth--
		default:
			if isKeyword(word) {
				p.expected("type")
			}
			t.Kind = kindUnresolved
			p.next()
		}
	}
	t.Annotations = p.annotations()
	return t
}

// cppType skips an optional cpp_type "..." clause; it only concerns C++.
func (p *parser) cppType() bool {
	if !p.isWord("cpp_type") {
		return false
	}
	p.next()
	if p.tok.kind != tokString {
		p.expected("cpp_type literal")
	}
	p.next()
	return true
}

// constDef: 'const' type name '=' value annotations? sep?
func (p *parser) constDef() *Const {
	c := &Const{File: p.file, Pos: p.tok.pos}
	p.next()
	c.Type = p.typ()
	c.Name, _ = p.definitionName("constant")
	p.expectSym("=")
	c.Value = p.constValue()
	c.Annotations = p.annotations()
	p.skipSep()
	return c
}

// constValue: int | double | literal | identifier | list | map
func (p *parser) constValue() *ConstValue {
	v := &ConstValue{Pos: p.tok.pos}
	switch p.tok.kind {
	case tokInt:
		v.Kind, v.Int = ConstInt, p.tok.i
		p.next()
	case tokDouble:
		v.Kind, v.Double = ConstDouble, p.tok.f
		p.next()
	case tokString:
		v.Kind, v.String = ConstString, p.tok.text
		p.next()
	case tokIdent:
		switch p.tok.text {
		case "true", "false":
			v.Kind, v.Bool = ConstBool, p.tok.text == "true"
		default:
			if isKeyword(p.tok.text) {
				p.expected("constant value")
			}
			v.Kind, v.Ident = ConstIdent, p.tok.text
		}
		p.next()
	case tokSymbol:
		switch p.tok.text {
		case "[", "{":
			p.depth++
			if p.depth > maxDepth {
				p.fail(v.Pos, "constant values nested more than %d deep", maxDepth)
			}
			if p.tok.text == "[" {
				v.Kind, v.List = ConstList, []*ConstValue{}
				p.next()
				for !p.isSym("]") {
					v.List = append(v.List, p.constValue())
					p.skipSep()
				}
			} else {
				v.Kind, v.Map = ConstMap, []ConstMapEntry{}
				p.next()
				for !p.isSym("}") {
					k := p.constValue()
					p.expectSym(":")
					v.Map = append(v.Map, ConstMapEntry{Key: k, Value: p.constValue()})
					p.skipSep()
				}
			}
			p.next()
			p.depth--
		default:
			p.expected("constant value")
		}
	default:
		p.expected("constant value")
	}
	return v
}

// typedef: 'typedef' type name annotations? sep?
func (p *parser) typedef() *Typedef {
	t := &Typedef{File: p.file, Pos: p.tok.pos}
	p.next()
	t.Type = p.typ()
	t.Name, _ = p.definitionName("typedef")
	t.Annotations = p.annotations()
	p.skipSep()
	return t
}

// enum: 'enum' name '{' ( name ( '=' int )? annotations? sep? )* '}' annotations?
// A value without "=" is the previous one plus one, starting from zero.
func (p *parser) enum() *Enum {
	e := &Enum{File: p.file, Pos: p.tok.pos}
	p.next()
	e.Name, _ = p.definitionName("enum")
	p.expectSym("{")
	e.Values = []*EnumValue{}
	next := int64(0)
	for !p.isSym("}") {
		doc, hasDoc := p.tok.doc, p.tok.hasDoc
		ev := &EnumValue{}
		ev.Name, ev.Pos = p.fieldName("enum value")
		if hasDoc {
			ev.Doc = doc
		}
		if p.skipSym("=") {
			if p.tok.kind != tokInt && !p.isWord("true") && !p.isWord("false") {
				p.expected("integer enum value")
			}
			v := p.tok.i
			if p.tok.kind == tokIdent && p.tok.text == "true" {
				v = 1
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				p.d.errorf(p.tok.pos, "enum value %s = %d does not fit in 32 bits", ev.Name, v)
				v = 0
			}
			next = v
			p.next()
		} else if next > math.MaxInt32 {
			p.d.errorf(ev.Pos, "enum value %s overflows 32 bits", ev.Name)
			next = 0
		}
		ev.Value = int32(next)
		next++
		ev.Annotations = p.annotations()
		e.Values = append(e.Values, ev)
		p.skipSep()
	}
	p.next()
	e.Annotations = p.annotations()
	p.skipSep()
	return e
}

// senum: 'senum' name '{' ( literal sep? )* '}' annotations? — a string enum,
// removed from Thrift long ago; kept in File.Senums for completeness.
func (p *parser) senum() {
	pos := p.tok.pos
	p.next()
	name, npos := p.definitionName("senum")
	p.d.warnf(pos, "senum %s is deprecated and cannot be used as a type", name)
	p.expectSym("{")
	vals := []string{}
	for !p.isSym("}") {
		if p.tok.kind != tokString {
			p.expected("senum value (a string literal)")
		}
		vals = append(vals, p.tok.text)
		p.next()
		p.skipSep()
	}
	p.next()
	p.annotations()
	p.skipSep()
	if _, dup := p.file.Senums[name]; dup {
		p.d.errorf(npos, "senum %s is already defined", name)
		return
	}
	p.file.Senums[name] = vals
	p.file.senumPos = append(p.file.senumPos, namePos{name, npos})
}

// structDef: ( 'struct' | 'union' ) name 'xsd_all'? '{' field* '}' annotations?
// or 'exception' name '{' field* '}' annotations?
func (p *parser) structDef() *Struct {
	s := &Struct{File: p.file, Pos: p.tok.pos}
	switch p.tok.text {
	case "union":
		s.Kind = StructKindUnion
	case "exception":
		s.Kind = StructKindException
	}
	p.next()
	s.Name, _ = p.definitionName(kindWord(s.Kind))
	if p.isWord("xsd_all") {
		p.d.warnf(p.tok.pos, "xsd_all is deprecated and ignored")
		p.next()
	}
	p.expectSym("{")
	s.Fields = p.fields("}", fieldsStruct)
	if s.Kind == StructKindUnion {
		// Union members are optional whatever they say, as in the Apache
		// compiler: exactly one of them is set.
		for _, f := range s.Fields {
			if f.Required == Required {
				p.d.warnf(f.Pos, "union %s field %s: union members are always optional; required is ignored", s.Name, f.Name)
			}
			f.Required = Optional
		}
	}
	s.Annotations = p.annotations()
	p.skipSep()
	return s
}

func kindWord(k StructKind) string {
	switch k {
	case StructKindUnion:
		return "union"
	case StructKindException:
		return "exception"
	}
	return "struct"
}

// fieldList tells struct fields, arguments and throws clauses apart, which
// the Apache compiler treats slightly differently.
type fieldList int

const (
	fieldsStruct fieldList = iota
	fieldsArgs
	fieldsThrows
)

// fields parses fields up to and including the closing symbol. Fields with
// no id (or a non-positive one) get -1, -2, ... as the Apache compiler
// assigns them.
func (p *parser) fields(closing string, kind fieldList) []*Field {
	out := []*Field{}
	next := int64(-1)
	for !p.isSym(closing) {
		f := p.field(kind, &next)
		out = append(out, f)
	}
	p.next()
	return out
}

// field: id? requiredness? type '&'? name ( '=' value )? xsd_options annotations? sep?
func (p *parser) field(kind fieldList, next *int64) *Field {
	f := &Field{}
	if p.tok.hasDoc {
		f.Doc = p.tok.doc
	}
	start := p.tok.pos
	explicit, warned := false, false
	if p.tok.kind == tokInt {
		id, idPos := p.tok.i, p.tok.pos
		p.next()
		p.expectSym(":")
		switch {
		case id > 0 && id <= math.MaxInt16:
			f.ID, explicit = int16(id), true
		case id > math.MaxInt16:
			p.d.errorf(idPos, "field id %d is out of range (1 to %d)", id, math.MaxInt16)
			explicit = true
		default:
			p.d.warnf(idPos, "field id %d is not positive; assigned %d as the Apache compiler does", id, *next)
			warned = true
		}
	}
	switch {
	case p.isWord("required"):
		f.Required = Required
		if kind == fieldsThrows {
			p.d.warnf(p.tok.pos, "required is ignored in throws clauses")
			f.Required = Default
		}
		p.next()
	case p.isWord("optional"):
		f.Required = Optional
		if kind == fieldsArgs {
			p.d.warnf(p.tok.pos, "optional is ignored in argument lists")
			f.Required = Default
		}
		p.next()
	}
	f.Type = p.typ()
	if p.skipSym("&") {
		f.Reference = true
	}
	f.Pos = start
	var namePos Pos
	f.Name, namePos = p.fieldName("field")
	if !explicit {
		if *next < math.MinInt16 {
			p.d.errorf(start, "too many fields without an id")
		} else {
			f.ID, f.ImplicitID = int16(*next), true
		}
		if !warned {
			p.d.warnf(namePos, "no field id for %s; assigned %d, which may not be backwards compatible", f.Name, *next)
		}
		*next--
	}
	if p.skipSym("=") {
		f.Default = p.constValue()
	}
	if p.isWord("xsd_optional") {
		p.d.warnf(p.tok.pos, "xsd_optional is deprecated and ignored")
		p.next()
	}
	if p.isWord("xsd_nillable") {
		p.d.warnf(p.tok.pos, "xsd_nillable is deprecated and ignored")
		p.next()
	}
	if p.isWord("xsd_attrs") {
		p.d.warnf(p.tok.pos, "xsd_attrs is deprecated and ignored")
		p.next()
		p.depth++
		if p.depth > maxDepth {
			p.fail(f.Pos, "xsd_attrs nested more than %d deep", maxDepth)
		}
		p.expectSym("{")
		p.fields("}", kind)
		p.depth--
	}
	f.Annotations = p.annotations()
	p.skipSep()
	return f
}

// service: 'service' name ( 'extends' name )? '{' function* '}' annotations?
func (p *parser) service() *Service {
	s := &Service{File: p.file, Pos: p.tok.pos, Functions: []*Function{}}
	p.next()
	s.Name, _ = p.definitionName("service")
	if p.isWord("extends") {
		p.next()
		if p.tok.kind != tokIdent || isKeyword(p.tok.text) {
			p.expected("service name")
		}
		s.extends, s.extendsPos = p.tok.text, p.tok.pos
		p.next()
	}
	p.expectSym("{")
	for !p.isSym("}") {
		s.Functions = append(s.Functions, p.function(s))
	}
	p.next()
	s.Annotations = p.annotations()
	p.skipSep()
	return s
}

// function: ( 'oneway' | 'async' )? ( 'void' | type ) name '(' field* ')'
// ( 'throws' '(' field* ')' )? annotations? sep?
func (p *parser) function(s *Service) *Function {
	fn := &Function{Service: s, Pos: p.tok.pos}
	if p.tok.hasDoc {
		fn.Doc = p.tok.doc
	}
	switch {
	case p.isWord("oneway"):
		fn.Oneway = true
		p.next()
	case p.isWord("async"):
		p.d.warnf(p.tok.pos, "async is deprecated; use oneway")
		fn.Oneway = true
		p.next()
	}
	fn.Returns = p.typ()
	fn.Name, _ = p.fieldName("function")
	p.expectSym("(")
	fn.Args = p.fields(")", fieldsArgs)
	fn.Throws = []*Field{}
	if p.isWord("throws") {
		p.next()
		p.expectSym("(")
		fn.Throws = p.fields(")", fieldsThrows)
	}
	fn.Annotations = p.annotations()
	p.skipSep()
	return fn
}

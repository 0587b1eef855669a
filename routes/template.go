package routes

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SegmentKind says what one template segment matches.
type SegmentKind int

const (
	// LiteralSegment matches one path segment whose decoded text is Literal.
	LiteralSegment SegmentKind = iota
	// WildcardSegment (*) matches any one non-empty path segment.
	WildcardSegment
	// DoubleWildcardSegment (**) matches zero or more non-empty path
	// segments; it can only be the last segment of a template.
	DoubleWildcardSegment
)

func (k SegmentKind) String() string {
	switch k {
	case LiteralSegment:
		return "literal"
	case WildcardSegment:
		return "*"
	case DoubleWildcardSegment:
		return "**"
	}
	return fmt.Sprintf("SegmentKind(%d)", int(k))
}

// Segment is one '/'-separated element of a template.
type Segment struct {
	Kind SegmentKind
	// Literal is the decoded text of a LiteralSegment ("a%20b" is stored as
	// "a b"): requests are compared after decoding, so the decoded form is
	// what identifies the segment. String re-escapes it.
	Literal string
}

// Variable binds the path segments Segments[Start:End] of its template to a
// request field.
type Variable struct {
	// FieldPath is the dotted field the value fills, e.g. "book.name".
	FieldPath string
	// Start and End delimit the segments the variable covers.
	Start, End int
}

// multi reports whether the variable can span several path segments, which
// decides how its value is decoded (%2F is kept in multi-segment values).
func (v Variable) multi(segs []Segment) bool {
	return v.End-v.Start > 1 || segs[v.End-1].Kind == DoubleWildcardSegment
}

// Template is a parsed google.api.http path template.
type Template struct {
	// Raw is the template as written.
	Raw string
	// Segments are flattened: variable sub-patterns are inlined, and a bare
	// {name} is one WildcardSegment, so matching never looks at variables.
	Segments []Segment
	// Verb is the custom verb without ':'; "" when there is none. Like a
	// literal it is stored decoded.
	Verb string
	// Vars are the variables in template order.
	Vars []Variable
}

// ParseError reports a template that does not follow the grammar.
type ParseError struct {
	Template string
	// Column is the 1-based byte offset of the offending character; an error
	// at the end of the input points at its last character.
	Column int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("template %q: column %d: %s", e.Template, e.Column, e.Msg)
}

// ParseTemplate parses s following the google.api.http grammar:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// On top of the grammar it rejects what cannot be matched unambiguously:
// a "**" that is not the last segment, nested or duplicate variables and
// empty segments. Errors are *ParseError.
func ParseTemplate(s string) (*Template, error) {
	p := parser{s: s, t: &Template{Raw: s}, dstar: -1}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.t, nil
}

// String returns the canonical form of t: {name} for a single-* variable,
// literals and verb escaped the same way whatever the input used. Parsing it
// gives a template equal to t.
func (t *Template) String() string {
	var b strings.Builder
	vi := 0
	for i := 0; i < len(t.Segments); i++ {
		b.WriteByte('/')
		if vi < len(t.Vars) && t.Vars[vi].Start == i {
			v := t.Vars[vi]
			vi++
			b.WriteByte('{')
			b.WriteString(v.FieldPath)
			if v.End-v.Start != 1 || t.Segments[i].Kind != WildcardSegment {
				b.WriteByte('=')
				writeSegments(&b, t.Segments[v.Start:v.End])
			}
			b.WriteByte('}')
			i = v.End - 1
			continue
		}
		writeSegments(&b, t.Segments[i:i+1])
	}
	if t.Verb != "" {
		b.WriteByte(':')
		writeEscaped(&b, t.Verb)
	}
	return b.String()
}

func writeSegments(b *strings.Builder, segs []Segment) {
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		switch s.Kind {
		case WildcardSegment:
			b.WriteByte('*')
		case DoubleWildcardSegment:
			b.WriteString("**")
		default:
			writeEscaped(b, s.Literal)
		}
	}
}

// writeEscaped writes s percent-encoding every byte that may not appear raw
// in a literal, with upper-case hex, so equal literals print the same.
func writeEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if litChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// FieldPaths returns the field paths of the variables in template order.
func (t *Template) FieldPaths() []string {
	fps := make([]string, len(t.Vars))
	for i, v := range t.Vars {
		fps[i] = v.FieldPath
	}
	return fps
}

// Equal reports whether t and u match the same paths and bind the same
// variables; Raw is ignored, since many spellings parse alike.
func (t *Template) Equal(u *Template) bool {
	if t == nil || u == nil {
		return t == u
	}
	if t.Verb != u.Verb || len(t.Segments) != len(u.Segments) || len(t.Vars) != len(u.Vars) {
		return false
	}
	for i, s := range t.Segments {
		if s != u.Segments[i] {
			return false
		}
	}
	for i, v := range t.Vars {
		if v != u.Vars[i] {
			return false
		}
	}
	return true
}

// validate checks a Template that was not made by ParseTemplate, since a
// malformed one would make matching bind out-of-range segments: it must be
// what its canonical form parses to.
func (t *Template) validate() error {
	if len(t.Segments) == 0 {
		return errors.New("template has no segments")
	}
	for _, s := range t.Segments {
		if s.Kind < LiteralSegment || s.Kind > DoubleWildcardSegment {
			return fmt.Errorf("template has a segment of kind %v", s.Kind)
		}
	}
	end := 0
	for _, v := range t.Vars {
		if v.Start < end || v.End <= v.Start || v.End > len(t.Segments) {
			return fmt.Errorf("template variable %q covers segments [%d:%d] of %d", v.FieldPath, v.Start, v.End, len(t.Segments))
		}
		end = v.End
	}
	c := t.String()
	u, err := ParseTemplate(c)
	if err != nil {
		return err
	}
	if !u.Equal(t) {
		return fmt.Errorf("template %q does not parse back to itself", c)
	}
	return nil
}

// parser is a recursive-descent parser over one template; variables do not
// nest, so the recursion is at most two levels deep.
type parser struct {
	s     string
	pos   int
	t     *Template
	dstar int // offset of the "**" seen so far, -1 when none
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	col := pos + 1
	if pos >= len(p.s) {
		col = max(len(p.s), 1)
	}
	return &ParseError{Template: p.s, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// char quotes the (possibly multi-byte) character at pos for messages.
func (p *parser) char(pos int) string {
	r, _ := utf8.DecodeRuneInString(p.s[pos:])
	return fmt.Sprintf("%q", r)
}

func (p *parser) parse() error {
	if !strings.HasPrefix(p.s, "/") {
		return p.errorf(0, "template must start with '/'")
	}
	p.pos = 1
	if err := p.segments(false); err != nil {
		return err
	}
	if p.pos < len(p.s) && p.s[p.pos] == ':' {
		p.pos++
		start := p.pos
		verb, err := p.literal()
		if err != nil {
			return err
		}
		if p.pos == start {
			if p.pos == len(p.s) {
				return p.errorf(p.pos, "empty verb")
			}
			return p.errorf(p.pos, "unexpected character %s in verb", p.char(p.pos))
		}
		p.t.Verb = verb
		if p.pos < len(p.s) {
			return p.errorf(p.pos, "unexpected character %s after verb", p.char(p.pos))
		}
	}
	if p.pos < len(p.s) {
		// segment leaves only '/', ':' or the end behind at top level.
		return p.errorf(p.pos, "unexpected character %s", p.char(p.pos))
	}
	return nil
}

// segments parses Segment { "/" Segment }; it returns with p.pos at the
// character that ended the last segment.
func (p *parser) segments(inVar bool) error {
	for {
		if err := p.segment(inVar); err != nil {
			return err
		}
		if p.pos == len(p.s) || p.s[p.pos] != '/' {
			return nil
		}
		p.pos++
	}
}

func (p *parser) segment(inVar bool) error {
	if p.dstar >= 0 {
		return p.errorf(p.dstar, "'**' must be the last segment")
	}
	start := p.pos
	if start == len(p.s) {
		if inVar {
			return p.errorf(start, "unclosed variable")
		}
		return p.errorf(start, "empty segment")
	}
	kind := LiteralSegment
	isVar := false
	switch c := p.s[start]; {
	case c == '/' || (c == ':' && !inVar) || (c == '}' && inVar):
		return p.errorf(start, "empty segment")
	case c == '*':
		kind = WildcardSegment
		p.pos++
		if p.pos < len(p.s) && p.s[p.pos] == '*' {
			kind = DoubleWildcardSegment
			p.dstar = start
			p.pos++
		}
		p.t.Segments = append(p.t.Segments, Segment{Kind: kind})
	case c == '{':
		if inVar {
			return p.errorf(start, "nested variable")
		}
		if err := p.variable(); err != nil {
			return err
		}
		isVar = true
	default:
		lit, err := p.literal()
		if err != nil {
			return err
		}
		if p.pos == start {
			break // reported below as an unexpected character
		}
		p.t.Segments = append(p.t.Segments, Segment{Kind: LiteralSegment, Literal: lit})
	}

	// What follows a segment must end it.
	if p.pos == len(p.s) {
		if inVar {
			return p.errorf(p.pos, "unclosed variable")
		}
		return nil
	}
	c := p.s[p.pos]
	switch {
	case c == '/' || (inVar && c == '}') || (!inVar && c == ':'):
		return nil
	case c == '*' || kind != LiteralSegment:
		pos := start
		if c == '*' {
			pos = p.pos
		}
		return p.errorf(pos, "wildcard must be a whole segment")
	case c == '{' || isVar:
		pos := start
		if c == '{' {
			pos = p.pos
		}
		return p.errorf(pos, "variable must be a whole segment")
	case inVar:
		return p.errorf(p.pos, "unexpected character %s in variable", p.char(p.pos))
	}
	return p.errorf(p.pos, "unexpected character %s", p.char(p.pos))
}

// variable parses "{" FieldPath [ "=" Segments ] "}" with p.pos at '{'.
func (p *parser) variable() error {
	p.pos++
	fpStart := p.pos
	fp, err := p.fieldPath()
	if err != nil {
		return err
	}
	for _, v := range p.t.Vars {
		if v.FieldPath == fp {
			return p.errorf(fpStart, "duplicate variable %q", fp)
		}
	}
	first := len(p.t.Segments)
	// fieldPath guarantees '=' or '}' at p.pos.
	if p.s[p.pos] == '=' {
		p.pos++
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			return p.errorf(p.pos, "empty variable pattern")
		}
		if err := p.segments(true); err != nil {
			return err
		}
		// segments(true) stops only at '}'.
	} else {
		p.t.Segments = append(p.t.Segments, Segment{Kind: WildcardSegment})
	}
	p.pos++
	p.t.Vars = append(p.t.Vars, Variable{FieldPath: fp, Start: first, End: len(p.t.Segments)})
	return nil
}

// fieldPath parses IDENT { "." IDENT } and leaves p.pos at '=' or '}'.
func (p *parser) fieldPath() (string, error) {
	start := p.pos
	for {
		i := p.pos
		if i == len(p.s) {
			return "", p.errorf(i, "unclosed variable")
		}
		if c := p.s[i]; !identStart(c) {
			switch {
			case i == start && (c == '}' || c == '='):
				return "", p.errorf(i, "missing field path")
			case c == '.' || c == '}' || c == '=':
				return "", p.errorf(i, "empty identifier in field path")
			}
			return "", p.errorf(i, "unexpected character %s in field path", p.char(i))
		}
		for p.pos < len(p.s) && identChar(p.s[p.pos]) {
			p.pos++
		}
		if p.pos == len(p.s) {
			return "", p.errorf(p.pos, "unclosed variable")
		}
		switch c := p.s[p.pos]; c {
		case '.':
			p.pos++
		case '=', '}':
			return p.s[start:p.pos], nil
		default:
			return "", p.errorf(p.pos, "unexpected character %s in field path", p.char(p.pos))
		}
	}
}

// literal consumes literal characters and %XX escapes at p.pos and returns
// them decoded; it consumes nothing when p.pos holds no literal character.
func (p *parser) literal() (string, error) {
	start := p.pos
	esc := false
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == '%' {
			if p.pos+2 >= len(p.s) || !isHex(p.s[p.pos+1]) || !isHex(p.s[p.pos+2]) {
				return "", p.errorf(p.pos, "invalid percent-escape")
			}
			p.pos += 3
			esc = true
			continue
		}
		if !litChar(c) {
			break
		}
		p.pos++
	}
	raw := p.s[start:p.pos]
	if esc {
		return unescape(raw, false), nil
	}
	return raw, nil
}

func identStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func identChar(c byte) bool {
	return identStart(c) || '0' <= c && c <= '9'
}

// litChar reports whether c may appear unescaped in a literal: RFC 3986
// unreserved characters and the pchar sub-delims, except '*' (wildcards)
// and ':' (the verb separator), which the grammar reserves.
func litChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()+,;=@", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// validEscapes reports whether every '%' in s starts a %XX escape.
func validEscapes(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return true
}

// appendUnescape appends s, whose escapes are valid, to dst with %XX
// decoded; keepSlash leaves %2F and %2f as written, as the HttpRule spec
// asks for multi-segment variables.
func appendUnescape(dst []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		d := unhex(s[i+1])<<4 | unhex(s[i+2])
		if d == '/' && keepSlash {
			dst = append(dst, s[i:i+3]...)
		} else {
			dst = append(dst, d)
		}
		i += 2
	}
	return dst
}

// unescape is appendUnescape for a string; it does not allocate when s has
// nothing to decode.
func unescape(s string, keepSlash bool) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	return string(appendUnescape(make([]byte, 0, len(s)), s, keepSlash))
}

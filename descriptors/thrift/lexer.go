package thrift

import (
	"math"
	"strconv"
	"strings"
)

// tokKind is the lexical class of a token. Keywords are not a class of their
// own: Thrift lets most of them be used as field names, so the lexer returns
// every word as tokIdent and the parser decides from context.
type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokInt
	tokDouble
	tokString
	tokSymbol // one of : ; , { } ( ) = < > [ ] * &
)

type token struct {
	kind tokKind
	text string  // the source text (for tokString: the decoded value)
	i    int64   // tokInt
	f    float64 // tokDouble
	pos  Pos
	// doc is the doc comment (/** */ or a run of ///) that stands right
	// before this token, cleaned up; hasDoc tells an empty one from none.
	doc    string
	hasDoc bool
}

// describe names the token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return strconv.Quote(t.text)
	default:
		return "\"" + t.text + "\""
	}
}

// lexer turns one file's bytes into tokens. Lexical errors are reported to
// diag and the offending bytes skipped, so that parsing can go on and find
// the other errors of the file.
type lexer struct {
	src  []byte
	file string
	off  int
	line int
	col  int // 1-based column of src[off]
	d    *diag

	doc      string // pending doc comment, attached to the next token
	hasDoc   bool
	docSlash bool // the pending doc is a run of /// lines, which may go on
	lastLine int  // line of the last /// line, to join consecutive ones
}

func newLexer(file string, src []byte, d *diag) *lexer {
	// A UTF-8 byte order mark is skipped, as the Apache compiler does.
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		src = src[3:]
	}
	return &lexer{src: src, file: file, line: 1, col: 1, d: d}
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Column: l.col} }

func (l *lexer) peekByte(n int) byte {
	if l.off+n < len(l.src) {
		return l.src[l.off+n]
	}
	return 0
}

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
func isIdentStart(c byte) bool {
	return isLetter(c) || c == '_'
}
func isIdentPart(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

// next returns the next token, skipping whitespace and comments.
func (l *lexer) next() token {
	for {
		l.skipSpace()
		if l.off >= len(l.src) {
			return l.emit(token{kind: tokEOF, pos: l.pos()})
		}
		c := l.src[l.off]
		start := l.pos()
		switch {
		case c == '#':
			l.skipLine()
			continue
		case c == '/' && l.peekByte(1) == '/':
			if l.peekByte(2) == '/' && l.peekByte(3) != '/' {
				l.slashDoc(start)
			} else {
				l.skipLine()
			}
			continue
		case c == '/' && l.peekByte(1) == '*':
			l.blockComment(start)
			continue
		case isIdentStart(c):
			return l.emit(l.ident(start))
		case isDigit(c) || c == '.' && isDigit(l.peekByte(1)):
			return l.emit(l.number(start, 0))
		case (c == '+' || c == '-') && (isDigit(l.peekByte(1)) || l.peekByte(1) == '.' && isDigit(l.peekByte(2))):
			return l.emit(l.number(start, 1))
		case c == '"' || c == '\'':
			return l.emit(l.literal(start))
		case strings.IndexByte(":;,{}()=<>[]*&", c) >= 0:
			l.advance(1)
			return l.emit(token{kind: tokSymbol, text: string(c), pos: start})
		default:
			l.badChar(start)
		}
	}
}

// emit hands the pending doc comment to the token.
func (l *lexer) emit(t token) token {
	t.doc, t.hasDoc = l.doc, l.hasDoc
	l.doc, l.hasDoc, l.docSlash = "", false, false
	return t
}

func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		switch l.src[l.off] {
		case ' ', '\t', '\r', '\n', '\f', '\v':
			l.advance(1)
		default:
			return
		}
	}
}

func (l *lexer) skipLine() {
	for l.off < len(l.src) && l.src[l.off] != '\n' {
		l.advance(1)
	}
}

func (l *lexer) badChar(start Pos) {
	c := l.src[l.off]
	if c >= 0x20 && c < 0x7f {
		l.d.fatalf(start, "unexpected character %q", rune(c))
		l.advance(1)
		return
	}
	// Skip a whole run of non-ASCII or control bytes with one error.
	n := 0
	for l.off+n < len(l.src) {
		b := l.src[l.off+n]
		if b >= 0x20 && b < 0x7f || b == '\n' || b == '\t' || b == '\r' || b == ' ' {
			break
		}
		n++
	}
	l.d.fatalf(start, "unexpected byte 0x%02X", c)
	l.advance(n)
}

// slashDoc reads one /// line. Consecutive /// lines form one doc comment.
func (l *lexer) slashDoc(start Pos) {
	l.advance(3)
	from := l.off
	l.skipLine()
	text := strings.TrimRight(string(l.src[from:l.off]), " \t\r")
	text = strings.TrimPrefix(text, " ")
	if l.hasDoc && l.docSlash && start.Line == l.lastLine+1 {
		l.doc += "\n" + text
	} else {
		l.doc, l.hasDoc, l.docSlash = text, true, true
	}
	l.lastLine = start.Line
}

// blockComment skips /* */; a /** */ comment becomes the pending doc.
func (l *lexer) blockComment(start Pos) {
	from := l.off
	l.advance(2)
	for {
		if l.off >= len(l.src) {
			l.d.fatalf(start, "comment not terminated")
			return
		}
		if l.src[l.off] == '*' && l.peekByte(1) == '/' {
			l.advance(2)
			break
		}
		l.advance(1)
	}
	body := l.src[from:l.off]
	// "/**" followed by at least one byte that is not the closing "*/" and
	// not only more stars: the Apache lexer's rule for a doc comment.
	if len(body) >= 5 && body[2] == '*' && strings.Trim(string(body[2:len(body)-2]), "*") != "" {
		l.doc, l.hasDoc, l.docSlash = cleanDoc(string(body[3:len(body)-2])), true, false
	}
}

// cleanDoc removes the comment decoration from a /** */ body the way the
// Apache compiler does: leading " * " columns, common indentation, trailing
// blanks and a leading empty line.
func cleanDoc(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	lines := strings.Split(s, "\n")
	if last := lines[len(lines)-1]; strings.TrimLeft(last, " \t") == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	lines[0] = strings.TrimLeft(lines[0], " \t")
	// A star column shared by every non-blank line after the first.
	havePrefix, found, prefix := true, false, 0
	for i := 1; i < len(lines); i++ {
		ln := lines[i]
		p := strings.IndexFunc(ln, func(r rune) bool { return r != ' ' && r != '\t' })
		if p < 0 {
			lines[i] = ""
			continue
		}
		if !found {
			if ln[p] != '*' {
				havePrefix = false
				break
			}
			found, prefix = true, p
		} else if ln[p] != '*' || p != prefix {
			havePrefix = false
			break
		}
	}
	if havePrefix && found {
		for i := 1; i < len(lines); i++ {
			if len(lines[i]) > prefix {
				lines[i] = lines[i][prefix+1:]
			} else {
				lines[i] = ""
			}
		}
	}
	// The least indentation of the non-blank lines after the first.
	indent := -1
	for _, ln := range lines[1:] {
		p := strings.IndexFunc(ln, func(r rune) bool { return r != ' ' && r != '\t' })
		if p >= 0 && (indent < 0 || p < indent) {
			indent = p
		}
	}
	for i := range lines {
		if i > 0 && indent > 0 && len(lines[i]) >= indent {
			lines[i] = lines[i][indent:]
		}
		lines[i] = strings.TrimRight(lines[i], " \t")
	}
	if lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// ident reads [a-zA-Z_](\.?[a-zA-Z_0-9])*: a dot must be followed by an
// identifier character, so "a.b.c" is one token and "a." is not.
func (l *lexer) ident(start Pos) token {
	from := l.off
	l.advance(1)
	for l.off < len(l.src) {
		c := l.src[l.off]
		if isIdentPart(c) {
			l.advance(1)
		} else if c == '.' && isIdentPart(l.peekByte(1)) {
			l.advance(2)
		} else {
			break
		}
	}
	return token{kind: tokIdent, text: string(l.src[from:l.off]), pos: start}
}

// number reads an integer, a hex integer or a double, with an optional sign
// (sign is 1 when src[off] is '+' or '-').
func (l *lexer) number(start Pos, sign int) token {
	from := l.off
	l.advance(sign)
	neg := sign == 1 && l.src[from] == '-'
	if l.peekByte(0) == '0' && l.peekByte(1) == 'x' && isHex(l.peekByte(2)) {
		l.advance(2)
		ds := l.off
		for l.off < len(l.src) && isHex(l.src[l.off]) {
			l.advance(1)
		}
		text := string(l.src[from:l.off])
		u, err := strconv.ParseUint(string(l.src[ds:l.off]), 16, 64)
		if err != nil || u > math.MaxInt64 {
			l.d.fatalf(start, "integer %s is too big", text)
			return token{kind: tokInt, text: text, pos: start}
		}
		v := int64(u)
		if neg {
			v = -v
		}
		return token{kind: tokInt, text: text, i: v, pos: start}
	}
	isDouble := false
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.advance(1)
	}
	if l.peekByte(0) == '.' && isDigit(l.peekByte(1)) {
		isDouble = true
		l.advance(1)
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance(1)
		}
	}
	if c := l.peekByte(0); c == 'e' || c == 'E' {
		n := 1
		if s := l.peekByte(1); s == '+' || s == '-' {
			n = 2
		}
		if isDigit(l.peekByte(n)) {
			isDouble = true
			l.advance(n)
			for l.off < len(l.src) && isDigit(l.src[l.off]) {
				l.advance(1)
			}
		}
	}
	text := string(l.src[from:l.off])
	if isDouble {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			l.d.fatalf(start, "double %s is out of range", text)
		}
		return token{kind: tokDouble, text: text, f: f, pos: start}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		l.d.fatalf(start, "integer %s is too big", text)
	}
	return token{kind: tokInt, text: text, i: v, pos: start}
}

// literal reads a '...' or "..." string. Thrift's escapes are \n \r \t \"
// \' and \\; any other backslash pair is kept as written and warned about,
// because regular expressions in annotations are common in real files and
// other Thrift tools pass them through.
func (l *lexer) literal(start Pos) token {
	quote := l.src[l.off]
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			l.d.fatalf(start, "string literal not terminated")
			return token{kind: tokString, text: b.String(), pos: start}
		}
		c := l.src[l.off]
		switch {
		case c == quote:
			l.advance(1)
			return token{kind: tokString, text: b.String(), pos: start}
		case c == '\n':
			l.d.fatalf(start, "string literal not terminated before the end of the line")
			return token{kind: tokString, text: b.String(), pos: start}
		case c == '\\':
			epos := l.pos()
			e := l.peekByte(1)
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\'', '\\':
				b.WriteByte(e)
			case '\n', 0:
				if l.off+1 >= len(l.src) || e == '\n' {
					l.d.fatalf(start, "string literal not terminated before the end of the line")
					l.advance(1)
					return token{kind: tokString, text: b.String(), pos: start}
				}
				fallthrough
			default:
				l.d.warnf(epos, "unknown escape sequence \\%c kept as written", rune(e))
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			l.advance(2)
		default:
			b.WriteByte(c)
			l.advance(1)
		}
	}
}

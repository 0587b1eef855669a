package thrift

import (
	"unicode/utf16"
	"unicode/utf8"
)

// A small scanner over JSON that json.Valid has already accepted: it only
// finds where values, keys and members start and end, so it needs no error
// handling of its own. The encoder works on these spans rather than on a
// decoded tree: no intermediate values are allocated, numbers keep their
// exact text (an i64 never passes through float64), and a struct's members
// can be written in field-id order whatever order the client sent them in.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] ('"'),
// and whether it holds escapes.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return len(b), escaped
}

// valueEnd returns the index just past the value starting at b[i].
// Containers are skipped with a counter, not recursion, so that a deeply
// nested value the schema does not reach costs no stack.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// members iterates an object's members: b is the object's span.
type members struct {
	b []byte
	i int
}

func newMembers(b []byte) members { return members{b: b, i: skipSpace(b, 1)} }

// next returns the next member's key (the quoted span) and value span.
func (m *members) next() (key, val []byte, ok bool) {
	b := m.b
	if m.i >= len(b) || b[m.i] == '}' {
		return nil, nil, false
	}
	ks := m.i
	ke, _ := stringEnd(b, ks)
	i := skipSpace(b, ke)
	i = skipSpace(b, i+1) // ':'
	ve := valueEnd(b, i)
	key, val = b[ks:ke], b[i:ve]
	i = skipSpace(b, ve)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	m.i = i
	return key, val, true
}

// elements iterates an array's elements: b is the array's span.
type elements struct {
	b []byte
	i int
}

func newElements(b []byte) elements { return elements{b: b, i: skipSpace(b, 1)} }

func (a *elements) next() ([]byte, bool) {
	b := a.b
	if a.i >= len(b) || b[a.i] == ']' {
		return nil, false
	}
	s := a.i
	e := valueEnd(b, s)
	i := skipSpace(b, e)
	if i < len(b) && b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	a.i = i
	return b[s:e], true
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// jsonKind names the kind of JSON value v is, for messages.
func jsonKind(v []byte) string {
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

// unquote returns the text of the quoted JSON string q. Without escapes it
// is the bytes between the quotes (no copy); with escapes they are decoded
// as encoding/json decodes them, surrogate pairs included and a lone
// surrogate as U+FFFD. ok is false for text that is not UTF-8.
func unquote(q []byte) (s []byte, ok bool) {
	inner := q[1 : len(q)-1]
	escaped := false
	for _, c := range inner {
		if c == '\\' {
			escaped = true
			break
		}
	}
	if !escaped {
		return inner, utf8.Valid(inner)
	}
	if !utf8.Valid(inner) {
		return nil, false
	}
	return unescape(inner)
}

// unescape decodes the escapes of a valid JSON string's inner bytes.
func unescape(in []byte) ([]byte, bool) {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(in) {
			return nil, false
		}
		i++
		switch in[i] {
		case '"', '\\', '/':
			out = append(out, in[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(in[i+1:])
			if r < 0 {
				return nil, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A pair only with the escape right after it; otherwise
				// U+FFFD, and what follows is read on its own.
				r2 := rune(-1)
				if i+2 < len(in) && in[i+1] == '\\' && in[i+2] == 'u' {
					r2 = hex4(in[i+3:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false
		}
	}
	return out, true
}

// hex4 reads four hex digits at the start of b, or -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// isIntLiteral reports whether s is -?(0|[1-9][0-9]*), JSON's integer form.
func isIntLiteral(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

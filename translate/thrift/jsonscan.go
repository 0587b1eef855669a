package thrift

import (
	"encoding/json"
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
// is the bytes between the quotes (no copy); with escapes encoding/json
// decodes them, surrogate pairs included. ok is false for text that is not
// UTF-8.
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
	var str string
	if err := json.Unmarshal(q, &str); err != nil {
		return nil, false
	}
	return []byte(str), true
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

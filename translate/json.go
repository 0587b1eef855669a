package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsJSONMediaType accepts application/json with any parameters, as long as a
// charset, if given, is UTF-8: JSON has no other encoding (RFC 8259 §8.1).
// An absent Content-Type is accepted because many clients send JSON without
// one. This runs per request, so it avoids mime.ParseMediaType's map.
func IsJSONMediaType(ct string) bool {
	if ct == "" {
		return true
	}
	return isMediaType(ct, "application/json")
}

// IsNDJSONMediaType reports whether ct is application/x-ndjson (a stream
// of JSON messages, one a line), in UTF-8 if a charset is given.
func IsNDJSONMediaType(ct string) bool { return ct != "" && isMediaType(ct, "application/x-ndjson") }

func isMediaType(ct, want string) bool {
	mt, params, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), want) {
		return false
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "charset") {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if !strings.EqualFold(v, "utf-8") && !strings.EqualFold(v, "utf8") {
			return false
		}
	}
	return true
}

// CompactJSON removes the whitespace protojson inserts at random (to deter
// byte comparisons) so that clients and golden files see stable bytes. It
// works in place, as the input is protojson's own fresh buffer; it does what
// json.Compact does for the valid JSON protojson writes, without a second
// buffer or validation.
func CompactJSON(b []byte) []byte {
	j := 0
	var st stringState
	for _, c := range b {
		if !st.inside(c) && (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			continue
		}
		b[j] = c
		j++
	}
	return b[:j]
}

// DeeperThan reports whether valid JSON nests objects and arrays more than
// max levels. encoding/json's own limit is 10000, far beyond what a
// service should be handed.
func DeeperThan(b []byte, max int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = skipString(b, i)
		case '{', '[':
			depth++
			if depth > max {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// skipString returns the index of the quote that closes the string
// opening at b[i], or len(b): the scans below jump over a string's bytes
// rather than following them one at a time through a stringState.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b)
}

// stringState follows, byte by byte through valid JSON, whether a byte is
// part of a string, so scanners can skip brackets and spaces inside them.
type stringState struct{ in, escaped bool }

// inside reports whether c belongs to a string, its quotes included.
func (s *stringState) inside(c byte) bool {
	switch {
	case s.in:
		switch {
		case s.escaped:
			s.escaped = false
		case c == '\\':
			s.escaped = true
		case c == '"':
			s.in = false
		}
		return true
	case c == '"':
		s.in = true
		return true
	}
	return false
}

// ProtoErrorText is a protobuf-go error's text without its "proto:"
// prefix, which protobuf-go writes with a randomly chosen regular or
// non-breaking space to deter comparisons.
func ProtoErrorText(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	return strings.TrimLeftFunc(s, unicode.IsSpace)
}

// JSONShape is what a JSON text may expand into once decoded: how many
// values it holds (scalars, objects and arrays; object keys are not
// values) and how many of them are objects or arrays, the ones that cost
// a message or a list each.
type JSONShape struct {
	Values, Containers int
}

// ShapeOf counts the values of valid JSON in one pass over its bytes,
// stopping once either count passes its limit (0 is no limit), so that a
// body's cost is known before anything is built from it.
func ShapeOf(b []byte, maxValues, maxContainers int) JSONShape {
	var sh JSONShape
	var objects nesting // which open containers are objects
	prev := byte(0)     // the last structural byte, or 'v' after a value
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			// A string right after '{', or after ',' in an object, is a key.
			if !(prev == '{' || prev == ',' && objects.top()) {
				sh.Values++
			}
			if i = skipString(b, i); i < len(b) {
				prev = 'v'
			}
			continue
		case '{', '[':
			sh.Values++
			sh.Containers++
			objects.push(c == '{')
		case '}', ']':
			objects.pop()
			c = 'v'
		case ',', ':':
		default: // the first byte of a number or literal
			if prev != 'v' {
				sh.Values++
			}
			c = 'v'
		}
		prev = c
		if maxValues > 0 && sh.Values > maxValues || maxContainers > 0 && sh.Containers > maxContainers {
			return sh
		}
	}
	return sh
}

// nesting is a stack of booleans that allocates only past 64 levels.
type nesting struct {
	bits  uint64
	n     int
	spill []bool
}

func (s *nesting) push(v bool) {
	if s.n < 64 {
		if v {
			s.bits |= 1 << s.n
		} else {
			s.bits &^= 1 << s.n
		}
	} else {
		s.spill = append(s.spill, v)
	}
	s.n++
}

func (s *nesting) pop() {
	if s.n == 0 {
		return
	}
	s.n--
	if s.n >= 64 {
		s.spill = s.spill[:len(s.spill)-1]
	}
}

func (s *nesting) top() bool {
	switch {
	case s.n == 0:
		return false
	case s.n <= 64:
		return s.bits&(1<<(s.n-1)) != 0
	}
	return s.spill[len(s.spill)-1]
}

// CheckText reports what makes a JSON body's text unusable before any
// parser sees it, with its line:column: bytes that are not UTF-8 (JSON has
// no other encoding, and encoding/json would quietly replace them), and a
// \u escape of half a surrogate pair, which no decoder can turn into a
// character (protojson says only "unexpected EOF").
func CheckText(b []byte) error {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, size := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		line, col := PositionOf(b, off)
		return BadRequest(fmt.Sprintf("request body is not valid UTF-8 (line %d:%d)", line, col))
	}
	var st stringState
	pendingHigh := -1 // offset of an unpaired high surrogate escape
	for i := 0; i < len(b); i++ {
		if !st.in {
			// Outside strings only a quote matters.
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				break
			}
			i += j
			st.in = true
			continue
		}
		if pendingHigh < 0 && !st.escaped {
			// Plain bytes inside a string change nothing: jump to the
			// next escape or the closing quote.
			for i < len(b) && b[i] != '\\' && b[i] != '"' {
				i++
			}
			if i == len(b) {
				break
			}
		}
		c := b[i]
		if !st.escaped && c == '\\' && i+1 < len(b) && b[i+1] == 'u' && i+5 < len(b) {
			v, ok := hex4(b[i+2 : i+6])
			switch {
			case ok && v >= 0xD800 && v <= 0xDBFF:
				if pendingHigh >= 0 {
					return loneSurrogate(b, pendingHigh)
				}
				pendingHigh = i
			case ok && v >= 0xDC00 && v <= 0xDFFF:
				if pendingHigh < 0 || pendingHigh != i-6 {
					return loneSurrogate(b, i)
				}
				pendingHigh = -1
			default:
				if pendingHigh >= 0 {
					return loneSurrogate(b, pendingHigh)
				}
			}
			i += 5
			continue
		}
		if pendingHigh >= 0 {
			return loneSurrogate(b, pendingHigh)
		}
		st.inside(c)
	}
	if pendingHigh >= 0 {
		return loneSurrogate(b, pendingHigh)
	}
	return nil
}

func loneSurrogate(b []byte, off int) error {
	line, col := PositionOf(b, off)
	return BadRequest(fmt.Sprintf("request body has %s, half of a UTF-16 surrogate pair, which is not a character (line %d:%d)",
		string(b[off:off+6]), line, col))
}

func hex4(b []byte) (rune, bool) {
	var v rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// DuplicateKey returns the first object key that appears twice in one
// object of valid JSON. Parsers disagree on which value wins (the first,
// the last, an error), so a gateway that passes JSON on unparsed must not
// let one through. Keys are compared as decoded ("a" and "\u0061" are the
// same key), as encoding/json decodes them.
//
// It runs on every body of an untyped NATS route, so it scans the bytes
// once and allocates nothing for the usual objects of a few keys; an
// object with many keys gets a set, so a huge one stays linear.
func DuplicateKey(b []byte) (string, bool) {
	type object struct {
		start int                 // its first key in keys
		set   map[string]struct{} // its keys, once it has more than manyKeys
	}
	const manyKeys = 16
	var kinds nesting // which open containers are objects
	var objBuf [8]object
	var keyBuf [32][]byte
	objs, keys := objBuf[:0], keyBuf[:0]
	prev := byte(0) // the last structural byte, or 'v' after a value
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			end, plain := stringEnd(b, i)
			if end < 0 {
				return "", false
			}
			// A string right after '{', or after ',' in an object, is a key.
			if len(objs) > 0 && (prev == '{' || prev == ',' && kinds.top()) {
				key := b[i+1 : end]
				if !plain {
					var s string
					if json.Unmarshal(b[i:end+1], &s) != nil {
						return "", false
					}
					key = []byte(s)
				}
				o := &objs[len(objs)-1]
				if o.set != nil {
					if _, dup := o.set[string(key)]; dup {
						return string(key), true
					}
					o.set[string(key)] = struct{}{}
				} else {
					for _, k := range keys[o.start:] {
						if bytes.Equal(k, key) {
							return string(key), true
						}
					}
					keys = append(keys, key)
					if len(keys)-o.start > manyKeys {
						o.set = make(map[string]struct{}, 2*manyKeys)
						for _, k := range keys[o.start:] {
							o.set[string(k)] = struct{}{}
						}
					}
				}
			}
			i = end
			c = 'v'
		case '{':
			kinds.push(true)
			objs = append(objs, object{start: len(keys)})
		case '[':
			kinds.push(false)
		case '}':
			if len(objs) == 0 {
				return "", false
			}
			kinds.pop()
			keys = keys[:objs[len(objs)-1].start]
			objs = objs[:len(objs)-1]
			c = 'v'
		case ']':
			kinds.pop()
			c = 'v'
		case ',', ':':
		default: // a number or literal
			c = 'v'
		}
		prev = c
	}
	return "", false
}

// stringEnd is the index of the quote that ends the string starting at
// b[start], or -1; plain says its bytes are its decoded value (no escapes,
// valid UTF-8).
func stringEnd(b []byte, start int) (end int, plain bool) {
	plain = true
	ascii := true
	for i := start + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			if plain && !ascii {
				plain = utf8.Valid(b[start+1 : i])
			}
			return i, plain
		case c == '\\':
			plain = false
			i++
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return -1, false
}

// maxJSONDepth is encoding/json's nesting limit, which ValidJSON keeps.
const maxJSONDepth = 10000

// ValidJSON reports whether b is one JSON value, exactly as json.Valid
// does (the same grammar, bytes that are not UTF-8 allowed in strings, at
// most 10000 levels of nesting), in one pass of plain loops rather than
// encoding/json's state function per byte: it runs on request and reply
// bodies, some of them twice.
func ValidJSON(b []byte) bool {
	var open nesting // which open containers are objects
	i := skipJSONSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if open.n >= maxJSONDepth {
				return false
			}
			open.push(c == '{')
			i = skipJSONSpace(b, i+1)
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				open.pop()
				i++
				break // an empty container is a value
			}
			if c == '{' {
				if i = jsonKey(b, i); i < 0 {
					return false
				}
			}
			continue // its first value
		case '"':
			i = jsonStringEnd(b, i)
		case 't':
			i = jsonLiteral(b, i, "true")
		case 'f':
			i = jsonLiteral(b, i, "false")
		case 'n':
			i = jsonLiteral(b, i, "null")
		default:
			i = jsonNumberEnd(b, i)
		}
		if i < 0 {
			return false
		}
		// After a value: close what it ends, or go on to the next one.
		for {
			i = skipJSONSpace(b, i)
			if open.n == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			obj := open.top()
			if c := b[i]; obj && c == '}' || !obj && c == ']' {
				open.pop()
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = skipJSONSpace(b, i+1)
			if obj {
				if i = jsonKey(b, i); i < 0 {
					return false
				}
			}
			break
		}
	}
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// jsonKey reads `"key" :` from b[i] and returns where its value starts,
// or -1.
func jsonKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = jsonStringEnd(b, i); i < 0 {
		return -1
	}
	i = skipJSONSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipJSONSpace(b, i+1)
}

// jsonStringEnd returns the index after the string that starts at b[i],
// or -1 for a bad escape, a control character or no closing quote.
func jsonStringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue // the common case first
		}
		switch {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				if _, ok := hex4(b[i+1 : i+5]); !ok {
					return -1
				}
				i += 4
			default:
				return -1
			}
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// IsJSONNumber reports whether b is exactly one JSON number.
func IsJSONNumber(b []byte) bool {
	return len(b) > 0 && jsonNumberEnd(b, 0) == len(b)
}

// jsonNumberEnd returns the index after the number that starts at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, or -1.
func jsonNumberEnd(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = jsonDigitsEnd(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		i = jsonDigitsEnd(b, i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return -1
		}
		i = jsonDigitsEnd(b, i)
	}
	return i
}

func jsonDigitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func jsonLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

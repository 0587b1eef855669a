package translate

import (
	"strings"
	"unicode"
)

// IsJSONMediaType accepts application/json with any parameters, as long as a
// charset, if given, is UTF-8: JSON has no other encoding (RFC 8259 §8.1).
// An absent Content-Type is accepted because many clients send JSON without
// one. This runs per request, so it avoids mime.ParseMediaType's map.
func IsJSONMediaType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, params, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
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
	var st stringState
	for _, c := range b {
		if st.inside(c) {
			continue
		}
		switch c {
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

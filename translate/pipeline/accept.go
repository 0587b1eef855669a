package pipeline

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// AcceptsJSON reports whether Accept header values admit application/json:
// no header (or an empty one) does, and so does any range that matches it (application/json,
// application/*, */*) with a quality above zero. A more specific range
// decides over a wider one, as RFC 9110 §12.5.1 says.
func AcceptsJSON(values []string) bool {
	best, bestQ := -1, 0.0 // specificity of the most specific matching range, and its q
	ranges := 0
	for _, v := range values {
		// Cut rather than Split, and no ToLower: this runs on every
		// request, and allocates nothing this way.
		for rest, more := v, true; more; {
			var item string
			item, rest, more = strings.Cut(rest, ",")
			mt, params, _ := strings.Cut(item, ";")
			mt = strings.TrimSpace(mt)
			if mt != "" {
				ranges++
			}
			spec := -1
			switch {
			case lowerIs(mt, "application/json"):
				spec = 2
			case lowerIs(mt, "application/*"):
				spec = 1
			case mt == "*/*":
				spec = 0
			case mt == "":
				continue
			}
			if spec < best || spec < 0 {
				continue
			}
			q := 1.0
			for params != "" {
				var p string
				p, params, _ = strings.Cut(params, ";")
				k, val, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			if spec > best || q > bestQ {
				best, bestQ = spec, q
			}
		}
	}
	// An Accept header with no media range in it says nothing, like none.
	return ranges == 0 || best >= 0 && bestQ > 0
}

// lowerIs reports whether strings.ToLower(s) == lower, for an ASCII
// lower, comparing bytes when s is ASCII (the usual header) and asking
// ToLower only otherwise (U+0130 lower-cases to 'i', U+212A to 'k').
func lowerIs(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.ToLower(s) == lower
		}
	}
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

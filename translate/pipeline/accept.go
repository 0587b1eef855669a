package pipeline

import (
	"strconv"
	"strings"
)

// AcceptsJSON reports whether Accept header values admit application/json:
// no header (or an empty one) does, and so does any range that matches it (application/json,
// application/*, */*) with a quality above zero. A more specific range
// decides over a wider one, as RFC 9110 §12.5.1 says.
func AcceptsJSON(values []string) bool {
	best, bestQ := -1, 0.0 // specificity of the most specific matching range, and its q
	ranges := 0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			mt, params, _ := strings.Cut(item, ";")
			mt = strings.ToLower(strings.TrimSpace(mt))
			if mt != "" {
				ranges++
			}
			spec := -1
			switch mt {
			case "application/json":
				spec = 2
			case "application/*":
				spec = 1
			case "*/*":
				spec = 0
			case "":
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

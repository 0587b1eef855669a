package openapi

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/switchboard-gw/switchboard/routes"
)

// pathParam is one parameter of an OpenAPI path: a template variable, or a
// wildcard no variable binds (which a client must still send).
type pathParam struct {
	name  string // as the OpenAPI path writes it
	field string // the template's field path; "" for an unbound wildcard
	// pattern is an anchored regular expression of the value when it is
	// more than one plain segment; "" otherwise.
	pattern string
	// segments is the variable's sub-template ("shelves/*/books/*").
	segments string
	multi    bool // the value spans segments
}

// openAPIPath converts a google.api.http template into an OpenAPI path:
// each variable becomes one {field.path} parameter however many segments
// it spans (its pattern says which), and a custom verb stays as written
// ("/v1/{name=shelves/*/books/*}:archive" is "/v1/{name}:archive").
func openAPIPath(t *routes.Template) (string, []pathParam) {
	var b strings.Builder
	var params []pathParam
	vi, unbound := 0, 0
	for i := 0; i < len(t.Segments); i++ {
		b.WriteByte('/')
		if vi < len(t.Vars) && t.Vars[vi].Start == i {
			v := t.Vars[vi]
			vi++
			segs := t.Segments[v.Start:v.End]
			p := pathParam{name: v.FieldPath, field: v.FieldPath, segments: segmentsText(segs)}
			p.multi = len(segs) > 1 || segs[0].Kind == routes.DoubleWildcardSegment
			if len(segs) > 1 || segs[0].Kind != routes.WildcardSegment {
				p.pattern = segmentsPattern(segs)
			}
			params = append(params, p)
			fmt.Fprintf(&b, "{%s}", p.name)
			i = v.End - 1
			continue
		}
		switch s := t.Segments[i]; s.Kind {
		case routes.LiteralSegment:
			b.WriteString(url.PathEscape(s.Literal))
		default:
			unbound++
			p := pathParam{name: fmt.Sprintf("segment%d", unbound), segments: segmentsText(t.Segments[i : i+1])}
			if s.Kind == routes.DoubleWildcardSegment {
				p.multi, p.pattern = true, segmentsPattern(t.Segments[i:i+1])
			}
			params = append(params, p)
			fmt.Fprintf(&b, "{%s}", p.name)
		}
	}
	if t.Verb != "" {
		b.WriteString(":" + url.PathEscape(t.Verb))
	}
	return b.String(), params
}

// shapeOf is a path with its parameter names left out: two paths of one
// shape are the same path to OpenAPI, which forbids telling them apart by
// parameter names alone.
var paramName = regexp.MustCompile(`\{[^}]*\}`)

func shapeOf(path string) string { return paramName.ReplaceAllString(path, "{}") }

func segmentsText(segs []routes.Segment) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		switch s.Kind {
		case routes.WildcardSegment:
			parts[i] = "*"
		case routes.DoubleWildcardSegment:
			parts[i] = "**"
		default:
			parts[i] = s.Literal
		}
	}
	return strings.Join(parts, "/")
}

// segmentsPattern is the regular expression of what a variable spanning
// segs holds: literals as written, * one segment, ** any number of them.
func segmentsPattern(segs []routes.Segment) string {
	var b strings.Builder
	b.WriteByte('^')
	for i, s := range segs {
		switch s.Kind {
		case routes.DoubleWildcardSegment:
			if i == 0 {
				b.WriteString(`(?:[^/]+(?:/[^/]+)*)?`)
			} else {
				b.WriteString(`(?:/[^/]+)*`)
			}
			continue
		}
		if i > 0 {
			b.WriteByte('/')
		}
		if s.Kind == routes.WildcardSegment {
			b.WriteString(`[^/]+`)
		} else {
			b.WriteString(regexp.QuoteMeta(s.Literal))
		}
	}
	b.WriteByte('$')
	return b.String()
}

package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Find returns the first stub, in file order, for method whose Match keys
// all match request. method may be spelled "/pkg.Svc/M", "pkg.Svc/M" or
// "pkg.Svc.M". request is the request as decoded JSON (map[string]any,
// []any, string, bool, json.Number or Go numbers, nil).
func (s *Stubs) Find(method string, request map[string]any) (*Stub, bool) {
	i := s.FindIndex(method, request)
	if i < 0 {
		return nil, false
	}
	return &s.Stubs[i], true
}

// FindIndex is Find returning the stub's index (-1 for none), which call
// logs report so a user can tell which of several stubs answered.
func (s *Stubs) FindIndex(method string, request map[string]any) int {
	if s == nil {
		return -1
	}
	want := sameMethod(method)
	for i := range s.Stubs {
		st := &s.Stubs[i]
		if sameMethod(st.Method) != want {
			continue
		}
		if st.Matches(request) {
			return i
		}
	}
	return -1
}

// sameMethod normalises without failing: a method that does not parse is
// compared as written, so a bad name simply matches nothing.
func sameMethod(m string) string {
	if c, err := CanonicalMethod(m); err == nil {
		return c
	}
	return m
}

// Matches reports whether every Match key of the stub matches request; a
// stub without Match matches everything.
func (s *Stub) Matches(request map[string]any) bool {
	for path, want := range s.Match {
		got, ok := Lookup(request, path)
		if !matchValue(want, got, ok) {
			return false
		}
	}
	return true
}

func matchValue(want, got any, present bool) bool {
	switch w := want.(type) {
	case nil:
		return !present || got == nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := lookupKey(g, k)
			if !matchValue(wv, gv, ok) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchValue(w[i], g[i], true) {
				return false
			}
		}
		return true
	}
	if !present {
		return false
	}
	ws, ok1 := scalarText(want)
	gs, ok2 := scalarText(got)
	return ok1 && ok2 && ws == gs
}

// Lookup follows a dotted path through decoded JSON: object keys (in
// either field spelling, see lookupKey) and list indexes. The empty path is
// v itself.
func Lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	cur := v
	for _, seg := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := lookupKey(c, seg)
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// lookupKey tries the key as written and then in the other field spelling,
// so page_count finds pageCount and back. Protocol mocks with a schema
// rewrite paths exactly (Stub.RewritePaths); this fallback serves those
// without one.
func lookupKey(m map[string]any, k string) (any, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	if alt := otherSpelling(k); alt != k {
		v, ok := m[alt]
		return v, ok
	}
	return nil, false
}

func otherSpelling(k string) string {
	if strings.Contains(k, "_") {
		// protoc's json_name rule: drop each '_' and upper-case what follows.
		var b strings.Builder
		up := false
		for _, r := range k {
			if r == '_' {
				up = true
				continue
			}
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	var b strings.Builder
	for i, r := range k {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var (
	templateRE     = regexp.MustCompile(`^\{\{\s*request((?:\.[^\s{}.]+)*)\s*\}\}$`)
	wholeTemplate  = regexp.MustCompile(`^\{\{.*\}\}$`)
	partTemplateRE = regexp.MustCompile(`\{\{\s*request\b`)
)

// templatePath reports whether s is a response template and which request
// path it names ("" for the whole request).
func templatePath(s string) (string, bool) {
	m := templateRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return strings.TrimPrefix(m[1], "."), true
}

// checkTemplates reports every string in v that looks like a template
// but is not a whole one, each at its key (key.sub.0 ...).
func checkTemplates(v any, key string) []error {
	var errs []error
	switch x := v.(type) {
	case string:
		if _, ok := templatePath(x); ok {
			return nil
		}
		if wholeTemplate.MatchString(x) {
			errs = append(errs, At(key, fmt.Errorf("%q is not a template; only {{request.some.path}} is supported", x)))
		} else if partTemplateRE.MatchString(x) {
			errs = append(errs, At(key, fmt.Errorf("%q: a template must be the whole string", x)))
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			errs = append(errs, checkTemplates(x[k], key+"."+k)...)
		}
	case []any:
		for i, e := range x {
			errs = append(errs, checkTemplates(e, key+"."+strconv.Itoa(i))...)
		}
	}
	return errs
}

// Templated reports whether the response uses request templates, so that
// protocol mocks can encode everything else once at load time.
func (s *Stub) Templated() bool { return hasTemplate(s.Response) }

// Templated reports whether the error's message, details or fields use
// request templates.
func (e *StubError) Templated() bool {
	if e == nil {
		return false
	}
	if hasTemplate(e.Message) || hasTemplate(e.Fields) {
		return true
	}
	for _, d := range e.Details {
		if hasTemplate(map[string]any(d)) {
			return true
		}
	}
	return false
}

func hasTemplate(v any) bool {
	switch x := v.(type) {
	case string:
		_, ok := templatePath(x)
		return ok
	case map[string]any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasTemplate(e) {
				return true
			}
		}
	}
	return false
}

// RenderResponse returns Response with each template replaced by the
// request value it names, or nil when the request lacks it. request is
// usually the map given to Find, but may be any decoded JSON value (a
// google.protobuf.StringValue request is a bare string). Response itself is
// not modified.
func (s *Stub) RenderResponse(request any) any {
	return render(s.Response, request)
}

// Render returns a copy of the error with its templates replaced, as
// RenderResponse does for responses. A message that is a template becomes
// the request value as text: a string as it is, anything else as JSON, and
// a missing value as "".
func (e *StubError) Render(request any) *StubError {
	if e == nil {
		return nil
	}
	out := *e
	if p, ok := templatePath(e.Message); ok {
		out.Message = ""
		if request != nil {
			if v, ok := Lookup(request, p); ok && v != nil {
				if s, isStr := v.(string); isStr {
					out.Message = s
				} else if b, err := json.Marshal(v); err == nil {
					out.Message = string(b)
				}
			}
		}
	}
	if e.Details != nil {
		out.Details = make([]map[string]any, len(e.Details))
		for i, d := range e.Details {
			out.Details[i], _ = render(map[string]any(d), request).(map[string]any)
		}
	}
	if e.Fields != nil {
		out.Fields, _ = render(e.Fields, request).(map[string]any)
	}
	return &out
}

func render(v any, request any) any {
	switch x := v.(type) {
	case string:
		if p, ok := templatePath(x); ok {
			if request == nil {
				return nil
			}
			got, _ := Lookup(request, p)
			return got
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = render(e, request)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = render(e, request)
		}
		return out
	}
	return v
}

// RewritePaths returns a copy of the stub whose Match keys and template
// paths (in the response, and in the error's message, details and fields)
// are rewritten by f. Protocol mocks call it at load time with a
// schema-aware f, which both rejects paths naming no field (a typo would
// otherwise make a stub silently never match) and spells them the way
// their request maps are keyed. Every path f refuses is reported, joined,
// each at its key (see At); the stub is then returned as far as it could
// be rewritten (refused match keys left out, refused templates as
// written), so that the caller can go on checking the rest of it.
func (s Stub) RewritePaths(f func(path string) (string, error)) (Stub, error) {
	out := s
	var errs []error
	if s.Match != nil {
		out.Match = make(map[string]any, len(s.Match))
		from := map[string]string{}
		for _, k := range sortedKeys(s.Match) {
			nk, err := f(k)
			if err != nil {
				errs = append(errs, At("match."+k, err))
				continue
			}
			if prev, dup := from[nk]; dup {
				errs = append(errs, At("match."+k, fmt.Errorf("match keys %q and %q name the same field", prev, k)))
				continue
			}
			from[nk] = k
			out.Match[nk] = s.Match[k]
		}
	}
	out.Response = rewriteTemplates(s.Response, f, "response", &errs)
	if e := s.Error; e != nil {
		ne := *e
		ne.Message, _ = rewriteTemplates(e.Message, f, "error.message", &errs).(string)
		if e.Details != nil {
			ne.Details = make([]map[string]any, len(e.Details))
			for i, d := range e.Details {
				ne.Details[i], _ = rewriteTemplates(map[string]any(d), f, "error.details."+strconv.Itoa(i), &errs).(map[string]any)
			}
		}
		if e.Fields != nil {
			ne.Fields, _ = rewriteTemplates(e.Fields, f, "error.fields", &errs).(map[string]any)
		}
		out.Error = &ne
	}
	return out, errors.Join(errs...)
}

func rewriteTemplates(v any, f func(string) (string, error), key string, errs *[]error) any {
	switch x := v.(type) {
	case string:
		p, ok := templatePath(x)
		if !ok {
			return x
		}
		if p == "" {
			return "{{request}}"
		}
		np, err := f(p)
		if err != nil {
			*errs = append(*errs, At(key, fmt.Errorf("template %q: %w", x, err)))
			return x
		}
		return "{{request." + np + "}}"
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			out[k] = rewriteTemplates(x[k], f, key+"."+k, errs)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rewriteTemplates(e, f, key+"."+strconv.Itoa(i), errs)
		}
		return out
	}
	return v
}

// Unreachable reports the stubs that can never answer because an earlier
// stub for the same method answers every request they match: one with no
// match, or whose match keys are a subset of theirs with the same values.
// Protocol mocks call it once methods are canonical and paths rewritten,
// so that spellings do not hide a repeat, skipping the stubs usable says
// are not (nil: none). It reports each at its match (or its method),
// naming the stub that answers instead.
func (s *Stubs) Unreachable(usable func(i int) bool) Problems {
	if usable == nil {
		usable = func(int) bool { return true }
	}
	var ps Problems
	for j := range s.Stubs {
		later := &s.Stubs[j]
		if !usable(j) || later.damaged {
			continue
		}
		for i := range j {
			earlier := &s.Stubs[i]
			if !usable(i) || earlier.damaged || earlier.Method != later.Method || !coversMatch(earlier.Match, later.Match) {
				continue
			}
			by := fmt.Sprintf("stubs[%d]", i)
			if earlier.file != "" && earlier.line > 0 {
				by = fmt.Sprintf("the stub at line %d", earlier.line)
			}
			key := "method"
			if len(later.Match) > 0 {
				key = "match"
			}
			ps = append(ps, later.Problems(j, At(key, fmt.Errorf("never answers: %s answers every request it matches first; put the more specific stub first", by)))...)
			break
		}
	}
	return ps
}

// coversMatch reports whether every request matching b matches a too: a's
// keys are among b's, with equal values.
func coversMatch(a, b map[string]any) bool {
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !reflect.DeepEqual(av, bv) {
			return false
		}
	}
	return true
}

// sortedKeys keeps error messages and rewrites deterministic.
func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// DropNulls removes nulls from objects and lists. It is used only to check
// templated responses at load time: a null message field means unset
// anyway, but protojson refuses null as a list element or map value, where
// a template will put a real value at call time.
func DropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e != nil {
				out[k] = DropNulls(e)
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e != nil {
				out = append(out, DropNulls(e))
			}
		}
		return out
	}
	return v
}

// DropNulls is the error with nulls removed from its details and fields,
// for checking a templated error at load time as DropNulls does for a
// response.
func (e *StubError) DropNulls() *StubError {
	if e == nil {
		return nil
	}
	out := *e
	if e.Details != nil {
		out.Details = make([]map[string]any, len(e.Details))
		for i, d := range e.Details {
			out.Details[i], _ = DropNulls(map[string]any(d)).(map[string]any)
		}
	}
	if e.Fields != nil {
		out.Fields, _ = DropNulls(e.Fields).(map[string]any)
	}
	return &out
}

// protoJSONPrefix is what protojson puts before its messages: "proto:",
// a space it randomises on purpose (a no-break space at times, so nobody
// compares its text), and a position in the JSON the mock built, which
// means nothing to someone reading their stub file.
var protoJSONPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(?:\(line \d+:\d+\):[\s\x{00a0}]*)?`)

// ProtoJSONError is a protojson error's message for a stub problem:
// without protojson's prefix and its position in JSON the user never saw.
func ProtoJSONError(err error) string {
	return protoJSONPrefix.ReplaceAllString(err.Error(), "")
}

// DecodeRequest decodes a request's JSON the way stubs see it, numbers kept
// as json.Number so that a 64-bit integer matches exactly.
func DecodeRequest(js []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

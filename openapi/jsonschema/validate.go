package jsonschema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Validate checks a JSON value, as encoding/json decodes it into an any
// (numbers as json.Number or float64), against s, following references
// through d. It returns one problem per mismatch, each at its JSON
// pointer, or nil. Every keyword of Schema is checked; of the formats,
// date-time, byte and uuid are, the others being annotations.
//
// It exists so that tests can hold the gateway's real replies to the
// schemas it documents without a full JSON Schema implementation.
func (d *Definitions) Validate(s *Schema, v any) []string {
	c := checker{defs: d}
	c.check(s, v, "", 0)
	return c.problems
}

// ValidateJSON is Validate for JSON text.
func (d *Definitions) ValidateJSON(s *Schema, data []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	return d.Validate(s, v)
}

type checker struct {
	defs     *Definitions
	problems []string
}

func (c *checker) fail(at, format string, args ...any) {
	if at == "" {
		at = "/"
	}
	c.problems = append(c.problems, at+": "+fmt.Sprintf(format, args...))
}

// matches runs s on v in a checker of its own: anyOf and oneOf count the
// branches that match without reporting the others' problems.
func (c *checker) matches(s *Schema, v any, at string, depth int) bool {
	sub := checker{defs: c.defs}
	sub.check(s, v, at, depth)
	return len(sub.problems) == 0
}

func (c *checker) check(s *Schema, v any, at string, depth int) {
	if s == nil {
		return
	}
	if depth > 256 {
		c.fail(at, "nested too deeply to check")
		return
	}
	if s.never {
		c.fail(at, "no value is allowed here")
		return
	}
	if s.Ref != "" {
		def := c.defs.Resolve(&Schema{Ref: s.Ref})
		if def == nil {
			c.fail(at, "reference %s names no definition", s.Ref)
		} else {
			c.check(def, v, at, depth+1)
		}
	}
	if len(s.Type) > 0 && !hasType(s.Type, v) {
		c.fail(at, "%s is not of type %s", kind(v), strings.Join(s.Type, " or "))
		return
	}
	if len(s.Enum) > 0 && !containsValue(s.Enum, v) {
		c.fail(at, "%s is not one of the enum's values", short(v))
	}
	if s.Const != nil && !equalValues(s.Const, v) {
		c.fail(at, "%s is not the constant %s", short(v), short(s.Const))
	}
	switch x := v.(type) {
	case string:
		c.checkString(s, x, at)
	case json.Number, float64:
		f, _ := number(x)
		if s.Minimum != nil && f < *s.Minimum {
			c.fail(at, "%s is below the minimum %v", short(v), *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			c.fail(at, "%s is above the maximum %v", short(v), *s.Maximum)
		}
	case []any:
		c.checkArray(s, x, at, depth)
	case map[string]any:
		c.checkObject(s, x, at, depth)
	}
	for _, sub := range s.AllOf {
		c.check(sub, v, at, depth+1)
	}
	if len(s.AnyOf) > 0 {
		ok := false
		for _, sub := range s.AnyOf {
			if c.matches(sub, v, at, depth+1) {
				ok = true
				break
			}
		}
		if !ok {
			c.fail(at, "%s matches none of anyOf's %d schemas", short(v), len(s.AnyOf))
		}
	}
	if len(s.OneOf) > 0 {
		n := 0
		for _, sub := range s.OneOf {
			if c.matches(sub, v, at, depth+1) {
				n++
			}
		}
		if n != 1 {
			c.fail(at, "%s matches %d of oneOf's schemas, not exactly one", short(v), n)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (c *checker) checkString(s *Schema, x, at string) {
	n := utf8.RuneCountInString(x)
	if s.MinLength != nil && n < *s.MinLength {
		c.fail(at, "%q is shorter than %d characters", x, *s.MinLength)
	}
	if s.MaxLength != nil && n > *s.MaxLength {
		c.fail(at, "%q is longer than %d characters", x, *s.MaxLength)
	}
	if s.Pattern != "" {
		re, err := compile(s.Pattern)
		switch {
		case err != nil:
			c.fail(at, "pattern %q does not compile: %v", s.Pattern, err)
		case !re.MatchString(x):
			c.fail(at, "%q does not match the pattern %s", x, s.Pattern)
		}
	}
	switch s.Format {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
			c.fail(at, "%q is not an RFC 3339 date-time", x)
		}
	case "byte":
		if _, err := base64.StdEncoding.DecodeString(x); err != nil {
			c.fail(at, "%q is not base64", x)
		}
	case "uuid":
		if !uuidPattern.MatchString(x) {
			c.fail(at, "%q is not a UUID", x)
		}
	}
}

func (c *checker) checkArray(s *Schema, x []any, at string, depth int) {
	for i, e := range x {
		c.check(s.Items, e, at+"/"+strconv.Itoa(i), depth+1)
	}
	if s.UniqueItems {
		for i := range x {
			for j := i + 1; j < len(x); j++ {
				if equalValues(x[i], x[j]) {
					c.fail(at, "items %d and %d are equal, and items must be unique", i, j)
				}
			}
		}
	}
	if s.Contains != nil {
		found := false
		for i, e := range x {
			if c.matches(s.Contains, e, at+"/"+strconv.Itoa(i), depth+1) {
				found = true
				break
			}
		}
		if !found {
			c.fail(at, "no item matches what the array must contain")
		}
	}
}

func (c *checker) checkObject(s *Schema, x map[string]any, at string, depth int) {
	for _, name := range s.Required {
		if _, ok := x[name]; !ok {
			c.fail(at, "required property %q is missing", name)
		}
	}
	if s.MinProperties != nil && len(x) < *s.MinProperties {
		c.fail(at, "%d properties, fewer than %d", len(x), *s.MinProperties)
	}
	if s.MaxProperties != nil && len(x) > *s.MaxProperties {
		c.fail(at, "%d properties, more than %d", len(x), *s.MaxProperties)
	}
	for _, name := range slices.Sorted(maps.Keys(x)) {
		v := x[name]
		where := at + "/" + escapePointer(name)
		if s.PropertyNames != nil && !c.matches(s.PropertyNames, name, where, depth+1) {
			c.fail(where, "property name %q is not allowed", name)
		}
		if ps := s.Properties.Get(name); ps != nil {
			c.check(ps, v, where, depth+1)
		} else if s.AdditionalProperties != nil {
			c.check(s.AdditionalProperties, v, where, depth+1)
		}
	}
}

func hasType(types Types, v any) bool {
	for _, t := range types {
		switch t {
		case "null":
			if v == nil {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "number":
			if _, ok := number(v); ok {
				return true
			}
		case "integer":
			if f, ok := number(v); ok && f == math.Trunc(f) {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		case "object":
			if _, ok := v.(map[string]any); ok {
				return true
			}
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64, int, int32, int64, uint32:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// equalValues compares JSON values, numbers by value whatever their Go
// type (an enum of ints against a decoded json.Number).
func equalValues(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalValues(xv, yv) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func containsValue(values []any, v any) bool {
	for _, e := range values {
		if equalValues(e, v) {
			return true
		}
	}
	return false
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// compiled caches patterns: a document repeats a few of them many times.
var compiled sync.Map

func compile(pattern string) (*regexp.Regexp, error) {
	if re, ok := compiled.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	compiled.Store(pattern, re)
	return re, nil
}

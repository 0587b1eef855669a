package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/config/yamlpos"
)

// lineError is a problem at a line of the stub file. The UnmarshalYAML
// methods do not know the file name, so ParseStubs adds it.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineErrorf(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// fileError rewrites decoder errors as "file:line: message", the form
// editors and terminals turn into links.
func fileError(name string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%s:%d: %s", name, le.line, le.msg)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			msgs[i] = yamlpos.Format(name, e)
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	return errors.New(yamlpos.Format(name, err.Error()))
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			break
		}
	}
	return n
}

type field struct{ key, val *yaml.Node }

// mappingFields returns the keys of a mapping, with YAML merge keys (<<)
// applied, and rejects keys outside known. Strictness lives here rather
// than in yaml.v3's KnownFields because that option is lost once a custom
// UnmarshalYAML calls Node.Decode.
func mappingFields(n *yaml.Node, what string, known ...string) (map[string]field, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		if what == "stub file" {
			return nil, lineErrorf(n, "a stub file is a mapping with one key, stubs")
		}
		return nil, lineErrorf(n, "%s must be a mapping", what)
	}
	out := map[string]field{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, lineErrorf(k, "%s keys must be plain names", what)
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !contains(known, k.Value) {
			return nil, lineErrorf(k, "unknown key %q in %s (want one of %s)", k.Value, what, strings.Join(known, ", "))
		}
		if prev, dup := out[k.Value]; dup {
			return nil, lineErrorf(k, "key %q already set at line %d", k.Value, prev.key.Line)
		}
		out[k.Value] = field{k, v}
	}
	// Explicit keys win over merged ones, as in YAML's merge-key spec.
	for _, m := range merges {
		m = resolveAlias(m)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			fs, err := mappingFields(src, what, known...)
			if err != nil {
				return nil, err
			}
			for k, f := range fs {
				if _, ok := out[k]; !ok {
					out[k] = f
				}
			}
		}
	}
	return out, nil
}

// contains treats an entry ending in '*' as a prefix, for the stub
// file's x-* keys.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || (strings.HasSuffix(x, "*") && strings.HasPrefix(s, strings.TrimSuffix(x, "*"))) {
			return true
		}
	}
	return false
}

// nodeValue converts a YAML node to the JSON-shaped value a stub holds. It
// does not use Node.Decode into `any` because that turns timestamps into
// time.Time, !!binary into raw bytes, non-string keys into map[any]any and
// .inf into a float encoding/json refuses; stubs need what the user wrote,
// ready for proto3 JSON.
func nodeValue(n *yaml.Node) (any, error) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, lineErrorf(k, "mapping keys must be scalars")
			}
			if k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			if _, dup := out[k.Value]; dup {
				return nil, lineErrorf(k, "key %q is set twice", k.Value)
			}
			val, err := nodeValue(v)
			if err != nil {
				return nil, err
			}
			out[k.Value] = val
		}
		for _, m := range merges {
			m = resolveAlias(m)
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				mv, err := nodeValue(src)
				if err != nil {
					return nil, err
				}
				mm, ok := mv.(map[string]any)
				if !ok {
					return nil, lineErrorf(src, "merge (<<) needs a mapping")
				}
				for k, v := range mm {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
			}
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			// A timestamp stays as written: proto3 JSON wants RFC 3339 text.
			return n.Value, nil
		case "!!binary":
			// bytes fields take base64 in proto3 JSON, which is what was written.
			return strings.Join(strings.Fields(n.Value), ""), nil
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, lineErrorf(n, "bad bool %q", n.Value)
			}
			return b, nil
		case "!!int":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, lineErrorf(n, "bad integer %q", n.Value)
			}
			return v, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, lineErrorf(n, "bad number %q", n.Value)
			}
			switch {
			case math.IsNaN(f):
				return "NaN", nil
			case math.IsInf(f, 1):
				return "Infinity", nil
			case math.IsInf(f, -1):
				return "-Infinity", nil
			}
			return f, nil
		}
		return nil, lineErrorf(n, "unsupported YAML tag %s", n.Tag)
	}
	return nil, lineErrorf(n, "unsupported YAML node")
}

// scalarText is the JSON text of a scalar, used to compare match values:
// numbers are printed the way JSON encoders print them, so 5, 5.0 and the
// int64 string "5" all read "5".
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float32:
		return floatText(float64(x)), true
	case float64:
		return floatText(x), true
	case json.Number:
		s := x.String()
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return s, true
		}
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return s, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatText(f), true
		}
		return s, true
	}
	return "", false
}

// floatText prints like JavaScript's Number#toString, the convention JSON
// writers (protojson among them) follow: integral values without exponent
// up to 1e21.
func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

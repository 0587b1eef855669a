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

// fileError rewrites a YAML syntax error as a problem at "file:line".
func fileError(name string, err error) Problems {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		ps := make(Problems, len(te.Errors))
		for i, e := range te.Errors {
			ps[i] = yamlProblem(name, e)
		}
		return ps
	}
	return Problems{yamlProblem(name, err.Error())}
}

func yamlProblem(name, msg string) Problem {
	line, rest, _ := yamlpos.Split(msg)
	return Problem{File: name, Line: line, Msg: rest}
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

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

type field struct{ key, val *yaml.Node }

// mappingFields returns the keys of a mapping, with YAML merge keys (<<)
// applied. Keys outside known, repeated keys and keys that are not plain
// names are reported, each as a problem at its line about parent.key, and
// left out; ok is false when n is not a mapping at all. Strictness lives
// here rather than in yaml.v3's KnownFields because that option stops at
// the first unknown key and is lost once a custom UnmarshalYAML calls
// Node.Decode.
func mappingFields(n *yaml.Node, parent, what string, errs *[]error, known ...string) (map[string]field, bool) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, atLine(parent, n.Line, fmt.Errorf("%s must be a mapping", what)))
		return nil, false
	}
	out := map[string]field{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			*errs = append(*errs, atLine(parent, k.Line, fmt.Errorf("%s keys must be plain names", what)))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !contains(known, k.Value) {
			*errs = append(*errs, &keyError{key: joinKey(parent, k.Value), line: k.Line, soft: true,
				err: fmt.Errorf("unknown key in %s (want one of %s)", what, strings.Join(known, ", "))})
			continue
		}
		if prev, dup := out[k.Value]; dup {
			*errs = append(*errs, &keyError{key: joinKey(parent, k.Value), line: k.Line, soft: true,
				err: fmt.Errorf("key %q already set at line %d", k.Value, prev.key.Line)})
			continue
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
			if resolveAlias(src).Kind != yaml.MappingNode {
				*errs = append(*errs, atLine(parent, src.Line, errors.New("merge (<<) needs a mapping")))
				continue
			}
			fs, _ := mappingFields(src, parent, what, errs, known...)
			for k, f := range fs {
				if _, ok := out[k]; !ok {
					out[k] = f
				}
			}
		}
	}
	return out, true
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

// valueDecoder converts YAML nodes to the JSON-shaped values stubs hold,
// recording every problem (at key, with its line) and the line of every
// key and list element it passes, so that later checks can point at them.
type valueDecoder struct {
	errs *[]error
	pos  map[string]int // nil: positions not wanted
}

func (d valueDecoder) fail(key string, n *yaml.Node, format string, args ...any) {
	*d.errs = append(*d.errs, atLine(key, n.Line, fmt.Errorf(format, args...)))
}

// value converts n, found at key. It does not use Node.Decode into `any`
// because that turns timestamps into time.Time, !!binary into raw bytes,
// non-string keys into map[any]any and .inf into a float encoding/json
// refuses; stubs need what the user wrote, ready for proto3 JSON. ok is
// false when n held a problem; the value is then partial.
func (d valueDecoder) value(n *yaml.Node, key string) (v any, ok bool) {
	before := len(*d.errs)
	v = d.convert(n, key)
	return v, len(*d.errs) == before
}

func (d valueDecoder) at(key string, n *yaml.Node) {
	if d.pos != nil {
		if _, ok := d.pos[key]; !ok {
			d.pos[key] = n.Line
		}
	}
}

func (d valueDecoder) convert(n *yaml.Node, key string) any {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.fail(key, k, "mapping keys must be scalars")
				continue
			}
			if k.ShortTag() == "!!merge" {
				merges = append(merges, v)
				continue
			}
			ck := joinKey(key, k.Value)
			if _, dup := out[k.Value]; dup {
				d.fail(ck, k, "key %q is set twice", k.Value)
				continue
			}
			d.at(ck, k)
			out[k.Value] = d.convert(v, ck)
		}
		for _, m := range merges {
			m = resolveAlias(m)
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, src := range srcs {
				mm, ok := d.convert(src, key).(map[string]any)
				if !ok {
					d.fail(key, src, "merge (<<) needs a mapping")
					continue
				}
				for k, v := range mm {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
			}
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			ck := joinKey(key, strconv.Itoa(i))
			d.at(ck, c)
			out = append(out, d.convert(c, ck))
		}
		return out
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			// A timestamp stays as written: proto3 JSON wants RFC 3339 text.
			return n.Value
		case "!!binary":
			// bytes fields take base64 in proto3 JSON, which is what was written.
			return strings.Join(strings.Fields(n.Value), "")
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				d.fail(key, n, "bad bool %q", n.Value)
			}
			return b
		case "!!int":
			var v any
			if err := n.Decode(&v); err != nil {
				d.fail(key, n, "bad integer %q", n.Value)
			}
			return v
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				d.fail(key, n, "bad number %q", n.Value)
				return nil
			}
			switch {
			case math.IsNaN(f):
				return "NaN"
			case math.IsInf(f, 1):
				return "Infinity"
			case math.IsInf(f, -1):
				return "-Infinity"
			}
			return f
		}
		d.fail(key, n, "unsupported YAML tag %s", n.Tag)
		return nil
	}
	d.fail(key, n, "unsupported YAML node")
	return nil
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

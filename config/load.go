package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/config/yamlpos"
)

// Problem is one error in a YAML file (the config, a stub file) with its
// position, printed "file:line: key: message"; File may be empty for
// problems of values built in code.
type Problem struct {
	File string
	Line int
	Key  string // key path, e.g. routes[3].backend
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems are all the errors found in a configuration, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes and validates path with the protocols the gateway
// knows; a non-nil error is Problems.
func Load(path string, protocols Protocols) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	return Parse(b, path, protocols)
}

// Parse decodes and validates a configuration; name is used in positions.
func Parse(b []byte, name string, protocols Protocols) (*Config, error) {
	c, ps := ParseAll(b, name, protocols)
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

// LoadAll is Load for tools that report every problem in one run: it also
// returns what decoded, when anything did, beside the problems.
func LoadAll(path string, protocols Protocols) (*Config, Problems) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error()}}
	}
	return ParseAll(b, path, protocols)
}

// ParseAll is Parse returning what decoded beside the problems: nil only
// when nothing could be decoded (not YAML, empty). A config with problems
// must not be served; validate builds it anyway to find the rest.
func ParseAll(b []byte, name string, protocols Protocols) (*Config, Problems) {
	c := &Config{File: name, pos: map[string]int{}, protocols: protocols}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, Problems{yamlProblem(name, err.Error())}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{File: name, Msg: "empty configuration"}}
	}
	doc := root.Content[0]
	exp, ps := expand(doc, name)
	c.doc, c.exp = doc, exp
	c.walk(doc, reflect.TypeOf(Config{}), "", &ps)
	if err := doc.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				ps = append(ps, c.keyed(yamlProblem(name, e)))
			}
		} else {
			ps = append(ps, yamlProblem(name, err.Error()))
		}
	}
	ps = append(ps, c.decodeSections(doc)...)
	// Validate what decoded, even past decoding errors: validate should
	// name every problem in one run.
	c.defaults()
	ps = append(ps, c.validate()...)
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
		return c, ps
	}
	return c, nil
}

func yamlProblem(file, msg string) Problem {
	line, rest, _ := yamlpos.Split(msg)
	return Problem{File: file, Line: line, Msg: rest}
}

// keyed adds the deepest key path declared on the problem's line, so decoder
// errors read like validation errors.
func (c *Config) keyed(p Problem) Problem {
	if p.Line == 0 {
		return p
	}
	for k, l := range c.pos {
		if l == p.Line && len(k) > len(p.Key) {
			p.Key = k
		}
	}
	if f := c.exp.fileFor(p.Key); f != "" {
		p.File = f // the key was declared in an included file
	}
	return p
}

// walk records the line of every key path and reports unknown keys, all of
// them at once (yaml.v3's KnownFields stops at the struct level and names Go
// types rather than key paths).
func (c *Config) walk(n *yaml.Node, t reflect.Type, path string, ps *Problems) {
	c.pos[path] = n.Line
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(Duration(0)) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type mismatch
		}
		fields := c.fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			c.pos[p] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				file := c.File
				if f := c.exp.fileFor(p); f != "" {
					file = f
				}
				*ps = append(*ps, Problem{File: file, Line: k.Line, Key: p,
					Msg: "unknown key (known: " + strings.Join(sortedKeys(fields), ", ") + ")"})
				continue
			}
			c.walk(v, ft, p, ps)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			c.pos[p] = k.Line
			c.walk(v, t.Elem(), p, ps)
		}
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" && t.Elem().Kind() != reflect.Struct && t.Elem().Kind() != reflect.Slice {
			// One value where a list is expected (proto: a.proto): a list
			// of one.
			item := *n
			*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column, Content: []*yaml.Node{&item}}
			c.walk(&item, t.Elem(), path+"[0]", ps)
			return
		}
		if n.Kind == yaml.MappingNode && t.Elem().Kind() == reflect.Struct {
			c.walk(n, t.Elem(), path, ps) // one item where a list may stand (jwt:)
			return
		}
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			c.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	}
}

// fieldsOf are the keys a mapping of type t may hold: its own, and for
// the config, a backend and a route, the ones the protocols add.
func (c *Config) fieldsOf(t reflect.Type) map[string]reflect.Type {
	fields := yamlFields(t)
	switch t {
	case reflect.TypeOf(Config{}):
		for _, p := range c.protocols {
			for k, v := range p.Sections() {
				fields[k] = reflect.TypeOf(v)
			}
		}
	case reflect.TypeOf(Backend{}):
		for _, p := range c.protocols {
			fields[p.Name()] = reflect.TypeOf(p.NewBackendSection())
		}
	case reflect.TypeOf(Route{}):
		for k, v := range c.protocols.routeKeys() {
			fields[k] = v
		}
	}
	return fields
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = f.Type
	}
	return m
}

func sortedKeys(m map[string]reflect.Type) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Line returns the line of key path p, or of its nearest recorded parent.
func (c *Config) Line(p string) int {
	for {
		if l, ok := c.pos[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return 0
		}
		p = p[:i]
	}
}

// Problem builds a Problem positioned at key path p.
func (c *Config) Problem(p, format string, args ...any) Problem {
	file := c.File
	if f := c.exp.fileFor(p); f != "" {
		file = f // declared in an included file
	}
	return Problem{File: file, Line: c.Line(p), Key: p, Msg: fmt.Sprintf(format, args...)}
}

package config

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// What a config file may say beyond its keys: include: other files, and
// ${NAME} or ${NAME:-default} in values, read from the environment.

// maxIncludeDepth bounds include: chains; a cycle is refused before it.
const maxIncludeDepth = 8

// includeKey lists files whose keys join the including file's.
const includeKey = "include"

// expansion is what expanding includes and the environment produced,
// beside the document: which file each top-level list item and mapping
// entry came from (for positions), and which values came from the
// environment (for --print).
type expansion struct {
	// files maps a key path ("routes[3]", "backends.b") to the file that
	// declared it, when that is not the main file.
	files map[string]string
	// fromEnv holds the nodes whose value was substituted, with the names
	// of the variables.
	fromEnv map[*yaml.Node][]string
}

// expand resolves include: in doc (relative to the including file's
// directory) and substitutes the environment in every value.
func expand(doc *yaml.Node, file string) (*expansion, Problems) {
	x := &expansion{files: map[string]string{}, fromEnv: map[*yaml.Node][]string{}}
	var ps Problems
	// Each file's values are substituted before its keys join, so that a
	// problem names the file that holds the reference.
	x.substitute(doc, file, &ps)
	x.include(doc, file, []string{file}, &ps)
	return x, ps
}

func (x *expansion) include(doc *yaml.Node, file string, chain []string, ps *Problems) {
	if doc.Kind != yaml.MappingNode {
		return
	}
	var includes []*yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != includeKey {
			continue
		}
		v := doc.Content[i+1]
		switch v.Kind {
		case yaml.ScalarNode:
			includes = append(includes, v)
		case yaml.SequenceNode:
			includes = append(includes, v.Content...)
		default:
			*ps = append(*ps, Problem{File: file, Line: v.Line, Key: includeKey, Msg: "want a file name or a list of them"})
		}
		doc.Content = append(doc.Content[:i], doc.Content[i+2:]...)
		i -= 2
	}
	for _, n := range includes {
		path := n.Value
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), path)
		}
		problem := func(format string, args ...any) {
			*ps = append(*ps, Problem{File: file, Line: n.Line, Key: includeKey, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case n.Kind != yaml.ScalarNode || n.Value == "":
			problem("want a file name")
			continue
		case len(chain) >= maxIncludeDepth:
			problem("includes nest deeper than %d files", maxIncludeDepth)
			continue
		}
		cycle := false
		for _, f := range chain {
			if same(f, path) {
				cycle = true
			}
		}
		if cycle {
			problem("%s includes itself (through %s)", path, strings.Join(chain, " -> "))
			continue
		}
		b, err := readIncluded(path)
		if err != nil {
			problem("%v", err)
			continue
		}
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err != nil {
			*ps = append(*ps, yamlProblem(path, err.Error()))
			continue
		}
		if len(root.Content) == 0 {
			continue // an empty file adds nothing
		}
		sub := root.Content[0]
		if sub.Kind != yaml.MappingNode {
			*ps = append(*ps, Problem{File: path, Line: sub.Line, Msg: "an included file must be a mapping of config keys"})
			continue
		}
		x.substitute(sub, path, ps)
		x.include(sub, path, append(chain, path), ps)
		x.merge(doc, sub, file, path, ps)
	}
}

// maxIncludeBytes bounds an included file: configs are small, and a
// device or a huge file must not take the gateway's memory.
const maxIncludeBytes = 4 << 20

// readIncluded reads an included config: a regular .yaml, .yml or .json
// file of at most maxIncludeBytes. Anything else (/etc/shadow, a FIFO,
// /dev/zero) is refused before it is opened for reading, so that its
// content can neither hang the gateway nor reach a problem message.
func readIncluded(path string) ([]byte, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
	default:
		return nil, fmt.Errorf("%s: an included config must be a .yaml, .yml or .json file", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxIncludeBytes {
		return nil, fmt.Errorf("%s: %d bytes; an included config is at most %d", path, st.Size(), maxIncludeBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIncludeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxIncludeBytes {
		return nil, fmt.Errorf("%s: an included config is at most %d bytes", path, maxIncludeBytes)
	}
	return b, nil
}

// same reports two names of one file.
func same(a, b string) bool {
	if a == b {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// merge adds the keys of sub (from file) to doc: lists are joined, in
// include order after the including file's own items; mappings of names
// (backends, policies) are joined, a name declared twice is a problem;
// any other key may be set once.
func (x *expansion) merge(doc, sub *yaml.Node, mainFile, file string, ps *Problems) {
	for i := 0; i+1 < len(sub.Content); i += 2 {
		k, v := sub.Content[i], sub.Content[i+1]
		j := index(doc, k.Value)
		if j < 0 {
			doc.Content = append(doc.Content, k, v)
			x.mark(k.Value, v, 0, file)
			continue
		}
		have := doc.Content[j+1]
		switch {
		case have.Kind == yaml.SequenceNode && v.Kind == yaml.SequenceNode:
			x.mark(k.Value, v, len(have.Content), file)
			have.Content = append(have.Content, v.Content...)
		case have.Kind == yaml.MappingNode && v.Kind == yaml.MappingNode && namedMapping(k.Value):
			for m := 0; m+1 < len(v.Content); m += 2 {
				name := v.Content[m].Value
				if index(have, name) >= 0 {
					*ps = append(*ps, Problem{File: file, Line: v.Content[m].Line, Key: k.Value + "." + name,
						Msg: fmt.Sprintf("%s %q is already declared in %s", strings.TrimSuffix(k.Value, "s"), name, x.fileOf(k.Value+"."+name, mainFile))})
					continue
				}
				have.Content = append(have.Content, v.Content[m], v.Content[m+1])
				x.files[k.Value+"."+name] = file
			}
		default:
			*ps = append(*ps, Problem{File: file, Line: k.Line, Key: k.Value,
				Msg: fmt.Sprintf("already set in %s; a key other than a list or a mapping of names may be set once", x.fileOf(k.Value, mainFile))})
		}
	}
}

// namedMapping: the top-level mappings whose keys are names users choose.
func namedMapping(key string) bool {
	return key == "backends" || key == "policies"
}

// mark records that the items of v (a list appended at offset, or a
// mapping of names, or a single key) came from file.
func (x *expansion) mark(key string, v *yaml.Node, offset int, file string) {
	switch {
	case v.Kind == yaml.SequenceNode:
		for i := range v.Content {
			x.files[fmt.Sprintf("%s[%d]", key, offset+i)] = file
		}
	case v.Kind == yaml.MappingNode && namedMapping(key):
		for m := 0; m+1 < len(v.Content); m += 2 {
			x.files[key+"."+v.Content[m].Value] = file
		}
	default:
		x.files[key] = file
	}
}

func (x *expansion) fileOf(key, mainFile string) string {
	if f, ok := x.files[key]; ok {
		return f
	}
	return mainFile
}

// fileFor is the file that declared key path p: the deepest recorded
// prefix's, or "" for the main file.
func (x *expansion) fileFor(p string) string {
	if x == nil {
		return ""
	}
	for {
		if f, ok := x.files[p]; ok {
			return f
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return ""
		}
		p = p[:i]
	}
}

func index(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// envRef is ${NAME} or ${NAME:-default}; $$ is a literal $.
var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// substitute replaces environment references in every scalar value (not
// in keys). An unset variable without a default is a problem: a config
// that silently lost a value (an endpoint, a token) is worse than one
// that does not load.
func (x *expansion) substitute(n *yaml.Node, file string, ps *Problems) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			x.substitute(c, file, ps)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			x.substitute(n.Content[i+1], file, ps)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		var names []string
		out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			if ref == "$$" {
				return "$"
			}
			m := envRef.FindStringSubmatch(ref)
			names = append(names, m[1])
			if v, ok := os.LookupEnv(m[1]); ok && (v != "" || m[2] == "") {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			*ps = append(*ps, Problem{File: file, Line: n.Line, Msg: fmt.Sprintf("environment variable %s is not set (write ${%s:-default} for a default)", m[1], m[1])})
			return ""
		})
		if len(names) > 0 {
			x.fromEnv[n] = names
		}
		if out != n.Value {
			n.Value = out
			// A substituted value is text; YAML may type it again where
			// it was plain (a port number stays a number), but never as
			// null: NAME=null (or ~, or empty) must not erase a value,
			// such as a token, that the config writes as set.
			if n.Style == 0 {
				n.Tag = ""
				if resolvesNull(out) {
					n.Tag = "!!str"
				}
			}
		}
	}
}

// notSecret are keys secretName matches whose values are not secrets.
func notSecret(key string) bool {
	switch key {
	case "client_auth", "allow_credentials", "key", "api_keys", "authenticate", "ext_authz":
		return true
	}
	return strings.HasSuffix(key, "_env") || strings.HasSuffix(key, "_file")
}

// resolvesNull: text YAML reads as null in a plain scalar.
func resolvesNull(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// secretName: a variable name or a config key whose value --print hides.
var secretName = regexp.MustCompile(`(?i)token|secret|passw|pwd|auth|credential|key|sha256`)

// Print writes the effective config: includes joined and the environment
// substituted, with values from variables whose names suggest secrets
// (TOKEN, SECRET, PASSWORD, KEY...) replaced by a placeholder.
func (c *Config) Print() ([]byte, error) {
	if c.doc == nil {
		return nil, fmt.Errorf("config %s: nothing to print", c.File)
	}
	masked := map[*yaml.Node]string{}
	hide := func(n *yaml.Node, why string) {
		if _, done := masked[n]; !done {
			masked[n] = n.Value
			n.Value = "<hidden: " + why + ">"
		}
	}
	for n, names := range c.exp.fromEnv {
		for _, name := range names {
			if secretName.MatchString(name) {
				hide(n, "from $"+name)
				break
			}
		}
	}
	// Secrets written in the file or in URLs are hidden too: keys named
	// like secrets, and the password of any URL.
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, k := range n.Content {
				walk(k)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind == yaml.ScalarNode && secretName.MatchString(k.Value) && !notSecret(k.Value) {
					hide(v, "secret")
					continue
				}
				walk(v)
			}
		case yaml.ScalarNode:
			if u, err := url.Parse(n.Value); err == nil && u.User != nil {
				if _, hasPass := u.User.Password(); hasPass {
					if _, done := masked[n]; !done {
						masked[n] = n.Value
						u.User = url.UserPassword(u.User.Username(), "hidden")
						n.Value = u.String()
					}
				}
			}
		}
	}
	walk(c.doc)
	defer func() {
		for n, v := range masked {
			n.Value = v
		}
	}()
	b, err := yaml.Marshal(c.doc)
	if err != nil {
		return nil, err
	}
	var notes []string
	for _, f := range c.exp.files {
		notes = append(notes, f)
	}
	sort.Strings(notes)
	header := "# effective configuration of " + c.File
	if len(notes) > 0 {
		header += ", with " + strings.Join(dedupeSorted(notes), ", ")
	}
	return append([]byte(header+"\n"), b...), nil
}

func dedupeSorted(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Included lists the files the config includes, for watchers.
func (c *Config) Included() []string {
	if c.exp == nil {
		return nil
	}
	var out []string
	for _, f := range c.exp.files {
		out = append(out, f)
	}
	sort.Strings(out)
	return dedupeSorted(out)
}

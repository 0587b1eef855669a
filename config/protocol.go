package config

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Protocol is what the config needs of a backend protocol: the YAML it
// adds and how to check it. Protocols are passed to Parse as a value (the
// gateway's registry); config itself names none of them.
type Protocol interface {
	// Name is the protocol's key: the backend section (backends.B.<name>)
	// and the route target (routes[i].<name>).
	Name() string
	// NewBackendSection returns a pointer to a new zero value of the
	// backend section's type.
	NewBackendSection() any
	// NewRouteSection returns a pointer to a new zero value of a struct
	// holding every key a route of this protocol may carry beyond the
	// shared ones: the target key and its options.
	NewRouteSection() any
	// TargetHint shows the target key's form, for "missing target".
	TargetHint() string
	// Sections are the top-level keys the protocol owns, each with a
	// pointer to a new zero value of its type.
	Sections() map[string]any
	// Validate checks the protocol's parts of c, naming each problem's
	// key path (c.Problem).
	Validate(c *Config) Problems
}

// Protocols is a registry of protocols, in the order their names are
// listed in messages.
type Protocols []Protocol

// Get returns the protocol named name.
func (ps Protocols) Get(name string) (Protocol, bool) {
	for _, p := range ps {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// structType is the struct type a New* pointer points to.
func structType(v any) reflect.Type {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// routeKeys are the keys any protocol's route section declares, with the
// first declaration's type.
func (ps Protocols) routeKeys() map[string]reflect.Type {
	keys := map[string]reflect.Type{}
	for _, p := range ps {
		for k, t := range yamlFields(structType(p.NewRouteSection())) {
			if _, ok := keys[k]; !ok {
				keys[k] = t
			}
		}
	}
	return keys
}

// decodeSections decodes each backend's protocol section, each route's
// protocol keys and the protocols' top-level sections, after the shared
// parts decoded into c.
func (c *Config) decodeSections(doc *yaml.Node) Problems {
	var ps Problems
	decode := func(n *yaml.Node, into any) {
		if err := n.Decode(into); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				for _, e := range te.Errors {
					ps = append(ps, c.keyed(yamlProblem(c.File, e)))
				}
				return
			}
			ps = append(ps, yamlProblem(c.File, err.Error()))
		}
	}
	c.Sections = map[string]any{}
	for _, p := range c.protocols {
		for key, zero := range p.Sections() {
			c.Sections[key] = zero
			if n := member(doc, key); n != nil {
				decode(n, zero)
			}
		}
	}
	if bn := member(doc, "backends"); bn != nil && bn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(bn.Content); i += 2 {
			name, node := bn.Content[i].Value, bn.Content[i+1]
			b, ok := c.Backends[name]
			if !ok || node.Kind != yaml.MappingNode {
				continue
			}
			found := 0
			for _, p := range c.protocols {
				if sn := member(node, p.Name()); sn != nil {
					found++
					b.Protocol, b.Section = p.Name(), p.NewBackendSection()
					decode(sn, b.Section)
				}
			}
			if found != 1 {
				b.Protocol, b.Section = "", nil
			}
			c.Backends[name] = b
		}
	}
	if rn := member(doc, "routes"); rn != nil && rn.Kind == yaml.SequenceNode {
		for i, node := range rn.Content {
			if i >= len(c.Routes) || node.Kind != yaml.MappingNode {
				continue
			}
			r := &c.Routes[i]
			found := 0
			for _, p := range c.protocols {
				if member(node, p.Name()) != nil {
					found++
					r.Protocol = p.Name()
				}
			}
			if found != 1 {
				r.Protocol = ""
				continue
			}
			p, _ := c.protocols.Get(r.Protocol)
			r.Section = p.NewRouteSection()
			decode(node, r.Section)
		}
	}
	return ps
}

// member is the value of key in mapping n, or nil.
func member(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// validateSections checks what every protocol shares about sections:
// exactly one per backend, exactly one target per route, of its backend's
// protocol, and no key another protocol owns; then each protocol's own
// checks.
func (c *Config) validateSections(add func(Problem)) {
	names := c.BackendNames()
	for _, name := range names {
		if c.Backends[name].Protocol == "" {
			add(c.Problem("backends."+name, "set exactly one protocol section: %s", joinOr(c.protocolNames())))
		}
	}
	routeKeys := c.protocols.routeKeys()
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		var set []string
		for _, p := range c.protocols {
			if c.routeHas(i, p.Name()) {
				set = append(set, p.Name())
			}
		}
		switch {
		case len(set) == 0:
			hints := make([]string, len(c.protocols))
			for j, p := range c.protocols {
				hints[j] = p.TargetHint()
			}
			add(c.Problem(key, "missing target (%s)", joinOr(hints)))
			continue
		case len(set) > 1:
			add(c.Problem(key, "more than one target: %s (a route calls one)", strings.Join(set, ", ")))
			continue
		}
		if b, ok := c.Backends[r.Backend]; ok && b.Protocol != "" && b.Protocol != r.Protocol {
			add(c.Problem(key+"."+r.Protocol, "backend %q is a %s backend", r.Backend, b.Protocol))
		}
		// Keys that mean nothing for the route's protocol are errors, not
		// silently ignored.
		p, _ := c.protocols.Get(r.Protocol)
		own := yamlFields(structType(p.NewRouteSection()))
		var foreign []string
		for k := range routeKeys {
			if _, mine := own[k]; !mine && c.routeHas(i, k) {
				foreign = append(foreign, k)
			}
		}
		sort.Slice(foreign, func(a, b int) bool { return c.Line(key+"."+foreign[a]) < c.Line(key+"."+foreign[b]) })
		for _, k := range foreign {
			add(c.Problem(key+"."+k, "does not apply to %s routes", r.Protocol))
		}
	}
	for _, p := range c.protocols {
		for _, pr := range p.Validate(c) {
			add(pr)
		}
	}
}

// routeHas reports whether route i's YAML sets key.
func (c *Config) routeHas(i int, key string) bool {
	_, ok := c.pos[fmt.Sprintf("routes[%d].%s", i, key)]
	return ok
}

// protocolNames are the registry's names, in its order.
func (c *Config) protocolNames() []string {
	n := make([]string, len(c.protocols))
	for i, p := range c.protocols {
		n[i] = p.Name()
	}
	return n
}

// joinOr lists items as "a, b or c".
func joinOr(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// BackendsOf lists, sorted, the backends whose protocol is name.
func (c *Config) BackendsOf(name string) []string {
	var out []string
	for _, n := range c.BackendNames() {
		if c.Backends[n].Protocol == name {
			out = append(out, n)
		}
	}
	return out
}

// Section returns the top-level section key as the type its protocol
// declared (a pointer to it), or nil.
func Section[T any](c *Config, key string) T {
	v, _ := c.Sections[key].(T)
	return v
}

// SectionList is a top-level section that a protocol declared as a
// pointer to a list of T, or nil.
func SectionList[T any](c *Config, key string) []T {
	if s := Section[*[]T](c, key); s != nil {
		return *s
	}
	return nil
}

// CheckEndpoints reports an empty list and any endpoint that is not
// host:port, under key.
func (c *Config) CheckEndpoints(key string, endpoints []string) Problems {
	var ps Problems
	if len(endpoints) == 0 {
		ps = append(ps, c.Problem(key, "at least one endpoint is required"))
	}
	for j, ep := range endpoints {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			ps = append(ps, c.Problem(fmt.Sprintf("%s[%d]", key, j), "invalid endpoint %q: want host:port", ep))
		}
	}
	return ps
}

// Check reports a client certificate without its key or the reverse.
func (t *TLS) Check(c *Config, key string) Problems {
	if t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		return Problems{c.Problem(key, "cert_file and key_file go together")}
	}
	return nil
}

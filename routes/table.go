package routes

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotFound is returned by Match when no route matches the path.
var ErrNotFound = errors.New("no route matches the path")

// ErrBadPath is returned by Match for a path with a malformed percent-escape
// ("%zz", a truncated "%4"); the request is bad, so the caller answers 400.
var ErrBadPath = errors.New("malformed percent-escape in path")

// MethodNotAllowedError is returned by Match when routes match the path but
// none with the request's method; the caller answers 405 with an Allow header.
type MethodNotAllowedError struct {
	// Allowed are the methods that would match the path, sorted.
	Allowed []string
}

func (e *MethodNotAllowedError) Error() string {
	return "method not allowed; allowed: " + strings.Join(e.Allowed, ", ")
}

// Conflict is two routes with the same method and the same template up to
// variable names: the table could not tell which one a request means.
type Conflict struct {
	Method string
	// A was listed before B.
	A, B *Route
}

func (c Conflict) String() string {
	pa, pb := pattern(c.A), pattern(c.B)
	s := fmt.Sprintf("%s %s: conflicts between %s and %s", c.Method, pa, source(c.A), source(c.B))
	if pb != pa {
		s += " (" + pb + ")"
	}
	return s
}

// ConflictError lists every conflict found by NewTable, so one run of the
// configuration check reports them all.
type ConflictError struct {
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	n := len(e.Conflicts)
	fmt.Fprintf(&b, "routes: %d conflict", n)
	if n != 1 {
		b.WriteByte('s')
	}
	for i, c := range e.Conflicts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// Table finds the route for a request. It is a trie of template segments, so
// a match costs a walk as deep as the path, whatever the number of routes.
// A Table is immutable and safe for concurrent use.
type Table struct {
	root   node
	routes []*Route // sorted for Routes
}

// node is one trie level; its children are tried literal first, then *, then
// **, which gives literal > * > ** precedence with backtracking.
type node struct {
	lits  map[string]*node // keyed by decoded literal
	star  *node
	dstar *node       // ** is always last, so this node only has ends
	ends  []*endpoint // templates ending here, sorted by verb
}

// endpoint is one template shape (segments + verb).
type endpoint struct {
	verb    string
	entries []entry // sorted by method
}

// entry is one route; t is the route's parsed template, kept here so that
// NewTable need not write into the caller's routes.
type entry struct {
	r *Route
	t *Template
}

// NewTable builds a table from rs. A route's Template is used when set,
// otherwise its Pattern is parsed; the routes are not modified and must not
// be modified afterwards. Invalid routes are reported together; routes with
// the same method and shape are reported as one *ConflictError.
func NewTable(rs []*Route) (*Table, error) {
	t := &Table{}
	var errs []error
	var cs []Conflict
	for i, r := range rs {
		tmpl, err := check(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("route %d: %w", i, err))
			continue
		}
		if prev := t.root.insert(r, tmpl); prev != nil {
			cs = append(cs, Conflict{Method: r.Method, A: prev, B: r})
			continue
		}
		t.routes = append(t.routes, r)
	}
	if len(cs) > 0 {
		errs = append(errs, &ConflictError{Conflicts: cs})
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default:
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(t.routes, func(a, b *Route) int {
		return cmp.Or(
			strings.Compare(pattern(a), pattern(b)),
			strings.Compare(a.Method, b.Method),
			strings.Compare(a.Source, b.Source))
	})
	return t, nil
}

// check validates r and returns its template.
func check(r *Route) (*Template, error) {
	if r == nil {
		return nil, errors.New("nil route")
	}
	if !validMethod(r.Method) {
		return nil, fmt.Errorf("%s: method %q is not an upper-case HTTP token", source(r), r.Method)
	}
	if r.Template != nil {
		if err := r.Template.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", source(r), err)
		}
		return r.Template, nil
	}
	tmpl, err := ParseTemplate(r.Pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source(r), err)
	}
	return tmpl, nil
}

// validMethod accepts RFC 9110 tokens without lower-case letters: methods
// are case-sensitive and matched exactly, so "get" would never match a
// browser's GET and is a configuration mistake.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func pattern(r *Route) string {
	if r.Pattern == "" && r.Template != nil {
		return r.Template.String()
	}
	return r.Pattern
}

func source(r *Route) string {
	if r.Source == "" {
		return "<unnamed route>"
	}
	return r.Source
}

// insert adds r under tmpl and returns the route it conflicts with, if any.
func (n *node) insert(r *Route, tmpl *Template) *Route {
	for _, s := range tmpl.Segments {
		switch s.Kind {
		case LiteralSegment:
			if n.lits == nil {
				n.lits = make(map[string]*node)
			}
			c := n.lits[s.Literal]
			if c == nil {
				c = &node{}
				n.lits[s.Literal] = c
			}
			n = c
		case WildcardSegment:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		default:
			if n.dstar == nil {
				n.dstar = &node{}
			}
			n = n.dstar
		}
	}
	i, ok := slices.BinarySearchFunc(n.ends, tmpl.Verb, func(e *endpoint, v string) int {
		return strings.Compare(e.verb, v)
	})
	if !ok {
		n.ends = slices.Insert(n.ends, i, &endpoint{verb: tmpl.Verb})
	}
	ep := n.ends[i]
	j, ok := slices.BinarySearchFunc(ep.entries, r.Method, func(e entry, m string) int {
		return strings.Compare(e.r.Method, m)
	})
	if ok {
		return ep.entries[j].r
	}
	ep.entries = slices.Insert(ep.entries, j, entry{r: r, t: tmpl})
	return nil
}

// Routes returns all routes sorted by pattern, then method, for listings.
func (t *Table) Routes() []*Route {
	return slices.Clone(t.routes)
}

// Len returns the number of routes.
func (t *Table) Len() int {
	return len(t.routes)
}

// Match finds the route for method and escapedPath (r.URL.EscapedPath(),
// not the decoded r.URL.Path, so that an encoded '/' cannot split a
// segment) and binds its variables.
//
// When the last segment holds a ':', its text after the last ':' is tried
// as a custom verb first, then the segment is tried whole against routes
// without a verb. Within each try literals beat *, which beats **.
//
// Errors are ErrNotFound, ErrBadPath or *MethodNotAllowedError when the path
// matches only routes with other methods.
func (t *Table) Match(method, escapedPath string) (*Route, Params, error) {
	p, ok := strings.CutPrefix(escapedPath, "/")
	if !ok {
		return nil, nil, ErrNotFound
	}
	m := matcher{method: method, esc: strings.IndexByte(p, '%') >= 0}
	if m.esc && !validEscapes(p) {
		return nil, nil, ErrBadPath
	}

	last := strings.LastIndexByte(p, '/') + 1
	if c := strings.LastIndexByte(p[last:], ':'); c >= 0 && last+c+1 < len(p) {
		m.path, m.verb = p[:last+c], p[last+c+1:]
		if m.esc {
			m.verb = unescape(m.verb, false)
		}
		if e := m.find(&t.root, 0); e != nil {
			return e.r, bind(e.t, m.path), nil
		}
	}
	m.path, m.verb = p, ""
	start := 0
	if p == "" {
		start = 1 // "/" has no segments, so only a "/**" route matches it
	}
	if e := m.find(&t.root, start); e != nil {
		return e.r, bind(e.t, m.path), nil
	}
	if !m.hit {
		return nil, nil, ErrNotFound
	}
	return nil, nil, &MethodNotAllowedError{Allowed: t.allowed(p)}
}

// Methods lists the methods of every route matching escapedPath, sorted;
// none for a path no route matches.
func (t *Table) Methods(escapedPath string) []string {
	p, ok := strings.CutPrefix(escapedPath, "/")
	if !ok || strings.IndexByte(p, '%') >= 0 && !validEscapes(p) {
		return nil
	}
	return t.allowed(p)
}

// allowed lists the methods of every route matching path; it repeats the
// walk rather than collecting during Match so that a successful match never
// allocates for it.
func (t *Table) allowed(p string) []string {
	var ms []string
	m := matcher{all: &ms, esc: strings.IndexByte(p, '%') >= 0}
	last := strings.LastIndexByte(p, '/') + 1
	if c := strings.LastIndexByte(p[last:], ':'); c >= 0 && last+c+1 < len(p) {
		m.path, m.verb = p[:last+c], unescape(p[last+c+1:], false)
		m.find(&t.root, 0)
	}
	m.path, m.verb = p, ""
	start := 0
	if p == "" {
		start = 1
	}
	m.find(&t.root, start)
	slices.Sort(ms)
	return slices.Compact(ms)
}

// matcher is the state of one walk of the trie.
type matcher struct {
	method string
	path   string // escaped, without the leading '/' and the verb
	verb   string // decoded
	esc    bool   // path holds escapes, so literals need decoding
	hit    bool   // a route matched the path but not the method
	all    *[]string
}

// find walks the segments of m.path from offset pos under n, depth first in
// precedence order. pos > len(m.path) means all segments are consumed.
func (m *matcher) find(n *node, pos int) *entry {
	if pos > len(m.path) {
		if e := m.end(n); e != nil {
			return e
		}
		if n.dstar != nil { // ** matching zero segments
			return m.end(n.dstar)
		}
		return nil
	}
	rest := m.path[pos:]
	seg := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg = rest[:i]
	}
	if seg == "" {
		return nil // empty segments ("//", trailing '/') match nothing
	}
	next := pos + len(seg) + 1
	if n.lits != nil {
		var c *node
		if m.esc && strings.IndexByte(seg, '%') >= 0 {
			var buf [64]byte
			c = n.lits[string(appendUnescape(buf[:0], seg, false))]
		} else {
			c = n.lits[seg]
		}
		if c != nil {
			if e := m.find(c, next); e != nil {
				return e
			}
		}
	}
	if n.star != nil {
		if e := m.find(n.star, next); e != nil {
			return e
		}
	}
	if n.dstar != nil && !strings.Contains(rest, "//") && rest[len(rest)-1] != '/' {
		return m.end(n.dstar)
	}
	return nil
}

// end returns the route at n for the verb and method; a route with the verb
// but another method only records that the path matched.
func (m *matcher) end(n *node) *entry {
	ends := n.ends
	lo, hi := 0, len(ends)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ends[h].verb < m.verb {
			lo = h + 1
		} else {
			hi = h
		}
	}
	if lo == len(ends) || ends[lo].verb != m.verb {
		return nil
	}
	es := ends[lo].entries
	if m.all != nil {
		for _, e := range es {
			*m.all = append(*m.all, e.r.Method)
		}
		return nil
	}
	lo, hi = 0, len(es)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if es[h].r.Method < m.method {
			lo = h + 1
		} else {
			hi = h
		}
	}
	if lo < len(es) && es[lo].r.Method == m.method {
		return &es[lo]
	}
	m.hit = true
	return nil
}

// bind extracts the variables of t from the matched path p. Values are
// substrings of p unless they need decoding: a single-segment value is fully
// decoded, a multi-segment one keeps %2F so that its '/' stay meaningful.
func bind(t *Template, p string) Params {
	if len(t.Vars) == 0 {
		return nil
	}
	ps := make(Params, len(t.Vars))
	for i, v := range t.Vars {
		multi := v.multi(t.Segments)
		toEnd := t.Segments[v.End-1].Kind == DoubleWildcardSegment
		ps[i] = Param{FieldPath: v.FieldPath, Value: unescape(span(p, v.Start, v.End, toEnd), multi)}
	}
	return ps
}

// span returns the text of segments [i, j) of p, or from i to the end when
// toEnd; "" when a ** matched no segment at i.
func span(p string, i, j int, toEnd bool) string {
	off := 0
	for range i {
		s := strings.IndexByte(p[off:], '/')
		if s < 0 {
			return ""
		}
		off += s + 1
	}
	if toEnd {
		return p[off:]
	}
	end := off
	for range j - i {
		s := strings.IndexByte(p[end:], '/')
		if s < 0 {
			return p[off:]
		}
		end += s + 1
	}
	return p[off : end-1]
}

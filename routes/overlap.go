package routes

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Overlaps reports whether some request path with the same method could
// match both a and b (both already parsed), and returns one such example
// path (for messages), built from literals, with "x" for a * segment, etc.
//
// "Match" is Table.Match's sense for a table holding only that template, so
// precedence plays no part: both templates match the example alone, and in
// a table holding both one of them takes it from the other. Precisely:
//
//   - Literals compare decoded, as the matcher compares them; * is one
//     non-empty segment and ** zero or more; the matcher never matches an
//     empty segment ("//", a trailing '/'), so neither does an example.
//   - Two templates with verbs overlap only when the verbs are equal: the
//     matcher cuts the verb at the last ':' of the last segment, so one path
//     has one verb. Such a match needs at least one segment before the
//     ':' ("/:v" matches nothing), even for "/**:v".
//   - A template without a verb also matches paths whose last segment holds
//     a ':' (the matcher falls back to the whole segment when no route has
//     the verb), so "/v1/{x}" overlaps "/v1/a:get" at "/v1/a:get", and the
//     literal "/v1/a%3Aget" overlaps it too. There the last segment is
//     X:V for the template without a verb and X (non-empty) for the other.
//
// The answer is symmetric; the example is escaped like Template.String, so
// it is a path Table.Match accepts as is. Only segments and verbs count, not
// variables. The search is a memoised walk over pairs of positions in the
// two segment lists, each visited once: time and memory are at worst the
// product of their lengths, whatever the wildcards.
func Overlaps(a, b *Template) (example string, ok bool) {
	if a == nil || b == nil {
		return "", false
	}
	o := overlap{a: a.Segments, b: b.Segments}
	switch {
	case a.Verb == b.Verb:
		o.verb = a.Verb
	case a.Verb == "":
		o.verb, o.split = b.Verb, true
	case b.Verb == "":
		o.a, o.b = b.Segments, a.Segments
		o.verb, o.split = a.Verb, true
	default:
		return "", false
	}
	o.w = len(o.b) + 1
	o.aTail, o.bTail = doubleTail(o.a), doubleTail(o.b)
	n := (len(o.a) + 1) * o.w * 2
	var buf [256]uint8
	if n <= len(buf) {
		o.memo = buf[:n]
	} else {
		o.memo = make([]uint8, n)
	}
	// With a verb on both sides the path needs a segment before the ':'.
	one := o.verb != "" && !o.split
	if !o.solve(0, 0, !one) {
		return "", false
	}
	return o.example(!one), true
}

// overlap is the search for a path matched by both segment lists a and b.
// Its states are (i, j, seen): a[:i] and b[:j] matched the path so far, and
// seen says whether the path has a segment yet. The moves are: a ** at a[i]
// or b[j] matches no more segments (skip); both match one more segment
// (step; a ** stays where it is); with split, both match the last segment,
// which is X:verb for a and X for b, and what is left of a and b is **.
type overlap struct {
	a, b  []Segment
	verb  string
	split bool // a has no verb and b has verb; else both have verb
	w     int  // len(b)+1
	// aTail and bTail are where the trailing **s of a and b start.
	aTail, bTail int
	// memo holds, per state, 0 when not searched, 1 when no path completes
	// from it (or while it is being searched), else 2+ the move to take.
	memo []uint8
}

const (
	moveEnd = iota
	moveSkipA
	moveSkipB
	moveLast
	moveStep
)

func (o *overlap) state(i, j int, seen bool) int {
	k := (i*o.w + j) * 2
	if seen {
		k++
	}
	return k
}

// solve reports whether the state leads to a path matched by both. The
// moves make i+j grow except a step of ** against ** from an unseen state,
// which sets seen, and the same step from a seen state, which is never
// taken, so states do not recur and each is searched once.
func (o *overlap) solve(i, j int, seen bool) bool {
	k := o.state(i, j, seen)
	if m := o.memo[k]; m != 0 {
		return m >= 2
	}
	o.memo[k] = 1
	mv := o.search(i, j, seen)
	if mv >= 0 {
		o.memo[k] = uint8(2 + mv)
	}
	return mv >= 0
}

// search tries the moves in an order that keeps examples short.
func (o *overlap) search(i, j int, seen bool) int {
	la, lb := len(o.a), len(o.b)
	if !o.split && seen && i == la && j == lb {
		return moveEnd
	}
	if i < la && o.a[i].Kind == DoubleWildcardSegment && o.solve(i+1, j, seen) {
		return moveSkipA
	}
	if j < lb && o.b[j].Kind == DoubleWildcardSegment && o.solve(i, j+1, seen) {
		return moveSkipB
	}
	if i == la || j == lb {
		return -1
	}
	ni, nj := o.next(i, j)
	if o.split {
		if _, ok := lastText(o.a[i], o.b[j], o.verb); ok && ni >= o.aTail && nj >= o.bTail {
			return moveLast
		}
	}
	if ni == i && nj == j && seen {
		return -1 // ** against **: one segment is as good as many
	}
	if _, ok := segText(o.a[i], o.b[j]); ok && o.solve(ni, nj, true) {
		return moveStep
	}
	return -1
}

// next is where a step from (i, j) leads: a ** can match more segments.
func (o *overlap) next(i, j int) (int, int) {
	if o.a[i].Kind != DoubleWildcardSegment {
		i++
	}
	if o.b[j].Kind != DoubleWildcardSegment {
		j++
	}
	return i, j
}

// example replays the moves memo recorded from the start state.
func (o *overlap) example(seen bool) string {
	var sb strings.Builder
	sb.Grow(exampleLen(o.a, o.b) + 1 + len(o.verb))
	i, j, n := 0, 0, 0
	for {
		switch int(o.memo[o.state(i, j, seen)]) - 2 {
		case moveEnd:
			if n == 0 {
				sb.WriteByte('/') // only without a verb: "/**" matches "/"
			}
			if o.verb != "" {
				sb.WriteByte(':')
				writeEscaped(&sb, o.verb)
			}
			return sb.String()
		case moveSkipA:
			i++
		case moveSkipB:
			j++
		case moveLast:
			x, _ := lastText(o.a[i], o.b[j], o.verb)
			sb.WriteByte('/')
			writeEscaped(&sb, x)
			sb.WriteByte(':')
			writeEscaped(&sb, o.verb)
			return sb.String()
		case moveStep:
			s, _ := segText(o.a[i], o.b[j])
			sb.WriteByte('/')
			writeEscaped(&sb, s)
			n++
			i, j = o.next(i, j)
			seen = true
		default:
			panic("routes: overlap example from a failed state")
		}
	}
}

// exampleLen bounds the length of an example without escapes: each
// segment of the path is matched by a segment of a or of b.
func exampleLen(a, b []Segment) int {
	n := 1
	for _, ss := range [2][]Segment{a, b} {
		for _, s := range ss {
			n += 2 + len(s.Literal)
		}
	}
	return n
}

func wild(k SegmentKind) bool {
	return k == WildcardSegment || k == DoubleWildcardSegment
}

// doubleTail returns the smallest k such that ss[k:] is all **.
func doubleTail(ss []Segment) int {
	k := len(ss)
	for k > 0 && ss[k-1].Kind == DoubleWildcardSegment {
		k--
	}
	return k
}

// segText returns the decoded text of a segment both x and y match. An
// empty literal (only in a hand-made Template) matches nothing, like an
// empty path segment.
func segText(x, y Segment) (string, bool) {
	switch {
	case x.Kind == LiteralSegment && y.Kind == LiteralSegment:
		return x.Literal, x.Literal != "" && x.Literal == y.Literal
	case x.Kind == LiteralSegment && wild(y.Kind):
		return x.Literal, x.Literal != ""
	case wild(x.Kind) && y.Kind == LiteralSegment:
		return y.Literal, y.Literal != ""
	case wild(x.Kind) && wild(y.Kind):
		return "x", true
	}
	return "", false
}

// lastText returns a non-empty decoded X such that x, of the template
// without a verb, matches the last segment X:verb and y, of the template
// with verb, matches X.
func lastText(x, y Segment, verb string) (string, bool) {
	switch {
	case x.Kind == LiteralSegment && y.Kind == LiteralSegment:
		l := x.Literal
		n := len(y.Literal)
		return y.Literal, n > 0 && len(l) == n+1+len(verb) &&
			l[:n] == y.Literal && l[n] == ':' && l[n+1:] == verb
	case x.Kind == LiteralSegment && wild(y.Kind):
		l := x.Literal
		n := len(l) - len(verb) - 1
		if n <= 0 || l[n] != ':' || l[n+1:] != verb {
			return "", false
		}
		return l[:n], true
	case wild(x.Kind) && y.Kind == LiteralSegment:
		return y.Literal, y.Literal != ""
	case wild(x.Kind) && wild(y.Kind):
		return "x", true
	}
	return "", false
}

// Shadow is one route of an incoming group that can take requests another
// route already serves: both match Example with the same method, and in a
// table holding both, precedence gives the path to only one of them.
type Shadow struct {
	New, Existing *Route
	// Example is a path both routes match, escaped as a request would be.
	Example string
}

func (s Shadow) String() string {
	return fmt.Sprintf("%s %s (%s) overlaps %s (%s): both match %s %s",
		s.New.Method, pattern(s.New), source(s.New), pattern(s.Existing), source(s.Existing), s.New.Method, s.Example)
}

// Shadowing returns every pair (n, e) with n in incoming and e in existing,
// same Method, different Pattern (exact duplicates are the table's
// conflicts), whose templates overlap. Sorted deterministically: by
// New.Source, New.Method, New.Pattern and New's position in incoming, then
// Existing.Source, Existing.Pattern and its position in existing.
//
// "Different Pattern" means different templates up to variable names, the
// table's own notion of a conflict: "/v1/{a}" and "/v1/{b}" are left to
// NewTable, which rejects them when both are in one table. A route's
// Template is used when set, otherwise its Pattern is parsed; nil routes
// and patterns that do not parse are skipped (NewTable reports them).
//
// The smaller group is indexed in a trie per method keyed by literal
// segments, and each route of the other group walks it with its template,
// so only routes that agree on every aligned literal are compared with
// Overlaps.
func Shadowing(incoming, existing []*Route) []Shadow {
	small, large := incoming, existing
	swapped := len(existing) < len(incoming)
	if swapped {
		small, large = existing, incoming
	}
	idx := shadowIndex{methods: map[string]*shadowNode{}}
	tmpls := make([]*Template, len(small))
	for k, r := range small {
		t := routeTemplate(r)
		if t == nil {
			continue
		}
		tmpls[k] = t
		root := idx.methods[r.Method]
		if root == nil {
			root = &shadowNode{}
			idx.methods[r.Method] = root
		}
		root.insert(t.Segments, int32(k))
	}

	// A found is a pair by position in incoming and existing.
	type found struct {
		ni, ei  int32
		example string
	}
	var fs []found
	var cands []int32
	for q, r := range large {
		if r == nil {
			continue
		}
		root := idx.methods[r.Method]
		if root == nil {
			continue
		}
		t := routeTemplate(r)
		if t == nil {
			continue
		}
		cands = root.collect(t.Segments, cands[:0])
		for _, k := range cands {
			nt, et, ni, ei := tmpls[k], t, k, int32(q)
			if swapped {
				nt, et, ni, ei = et, nt, ei, ni
			}
			if nt.Verb == et.Verb && slices.Equal(nt.Segments, et.Segments) {
				continue // a conflict, NewTable's business
			}
			if ex, ok := Overlaps(nt, et); ok {
				fs = append(fs, found{ni, ei, ex})
			}
		}
	}
	if len(fs) == 0 {
		return nil
	}
	// Rank the routes that take part once, so that sorting the pairs, of
	// which there can be many more, compares integers.
	newRank := rankRoutes(incoming, fs, func(f found) int32 { return f.ni }, true)
	existingRank := rankRoutes(existing, fs, func(f found) int32 { return f.ei }, false)
	slices.SortFunc(fs, func(x, y found) int {
		return cmp.Or(
			cmp.Compare(newRank[x.ni], newRank[y.ni]),
			cmp.Compare(existingRank[x.ei], existingRank[y.ei]))
	})
	out := make([]Shadow, len(fs))
	for i, f := range fs {
		out[i] = Shadow{New: incoming[f.ni], Existing: existing[f.ei], Example: f.example}
	}
	return out
}

// rankRoutes returns, for each route of rs that some pair in fs names (by
// at), its rank in the order of Source, Method when withMethod, Pattern,
// then position.
func rankRoutes[F any](rs []*Route, fs []F, at func(F) int32, withMethod bool) []int32 {
	type key struct {
		k   int32
		pat string
	}
	rank := make([]int32, len(rs))
	var keys []key
	for _, f := range fs {
		if k := at(f); rank[k] == 0 {
			rank[k] = 1
			keys = append(keys, key{k, pattern(rs[k])})
		}
	}
	slices.SortFunc(keys, func(x, y key) int {
		a, b := rs[x.k], rs[y.k]
		c := strings.Compare(a.Source, b.Source)
		if c == 0 && withMethod {
			c = strings.Compare(a.Method, b.Method)
		}
		return cmp.Or(c, strings.Compare(x.pat, y.pat), cmp.Compare(x.k, y.k))
	})
	for i, k := range keys {
		rank[k.k] = int32(i)
	}
	return rank
}

// routeTemplate is r's template as NewTable would use it, nil when there
// is none.
func routeTemplate(r *Route) *Template {
	if r == nil {
		return nil
	}
	if r.Template != nil {
		return r.Template
	}
	t, err := ParseTemplate(r.Pattern)
	if err != nil {
		return nil
	}
	return t
}

type shadowIndex struct {
	methods map[string]*shadowNode
}

// shadowNode is one level of the index trie. Literal children are keyed by
// the literal up to its first ':' (litKey), so that a literal X:verb of a
// template without a verb meets the literal X of one with the verb; the
// candidates it yields are a superset that Overlaps sorts out.
type shadowNode struct {
	lits        map[string]*shadowNode
	star, dstar *shadowNode
	ends        []int32 // routes whose segments end here
}

func litKey(l string) string {
	k, _, _ := strings.Cut(l, ":")
	return k
}

func (n *shadowNode) insert(segs []Segment, k int32) {
	for _, s := range segs {
		switch s.Kind {
		case LiteralSegment:
			if n.lits == nil {
				n.lits = map[string]*shadowNode{}
			}
			key := litKey(s.Literal)
			c := n.lits[key]
			if c == nil {
				c = &shadowNode{}
				n.lits[key] = c
			}
			n = c
		case WildcardSegment:
			if n.star == nil {
				n.star = &shadowNode{}
			}
			n = n.star
		case DoubleWildcardSegment:
			if n.dstar == nil {
				n.dstar = &shadowNode{}
			}
			n = n.dstar
		default:
			return // matches nothing
		}
	}
	n.ends = append(n.ends, k)
}

// collect appends the routes under n that a template whose remaining
// segments are segs might overlap: a path matched by both is matched
// segment by segment, so the walk follows segs down the trie and takes
// whole subtrees where either side has a **.
func (n *shadowNode) collect(segs []Segment, out []int32) []int32 {
	if len(segs) == 0 {
		out = append(out, n.ends...)
		if n.dstar != nil {
			out = n.dstar.all(out)
		}
		return out
	}
	rest := segs[1:]
	switch s := segs[0]; s.Kind {
	case LiteralSegment:
		if c := n.lits[litKey(s.Literal)]; c != nil {
			out = c.collect(rest, out)
		}
	case WildcardSegment:
		for _, c := range n.lits {
			out = c.collect(rest, out)
		}
	case DoubleWildcardSegment:
		return n.all(out)
	default:
		return out
	}
	if n.star != nil {
		out = n.star.collect(rest, out)
	}
	if n.dstar != nil {
		out = n.dstar.all(out)
	}
	return out
}

// all appends every route under n.
func (n *shadowNode) all(out []int32) []int32 {
	out = append(out, n.ends...)
	for _, c := range n.lits {
		out = c.all(out)
	}
	if n.star != nil {
		out = n.star.all(out)
	}
	if n.dstar != nil {
		out = n.dstar.all(out)
	}
	return out
}

package routes

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustTemplate(t testing.TB, s string) *Template {
	t.Helper()
	tmpl, err := ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// matchesAlone reports whether a table holding only tmpl matches path.
func matchesAlone(t testing.TB, tmpl *Template, path string) bool {
	t.Helper()
	tab := mustTable(t, []*Route{{Method: "GET", Template: tmpl, Source: "alone"}})
	r, _, err := tab.Match("GET", path)
	switch {
	case err == nil:
		return r != nil
	case errors.Is(err, ErrNotFound):
		return false
	}
	t.Fatalf("Match(GET %q) with only %s: %v", path, tmpl.Raw, err)
	return false
}

// TestOverlapMatcherFacts pins the behaviour of Table.Match that Overlaps
// relies on, each template matched alone.
func TestOverlapMatcherFacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl, path string
		want       bool
	}{
		// Literals compare decoded.
		{"/v1/a", "/v1/%61", true},
		{"/v1/%61", "/v1/a", true},
		{"/v1/a%2Fb", "/v1/a%2fb", true},
		{"/v1/a%2Fb", "/v1/a/b", false},
		// * is one non-empty segment; empty segments match nothing.
		{"/v1/*", "/v1", false},
		{"/v1/*", "/v1/", false},
		{"/v1/*/b", "/v1//b", false},
		// ** is zero or more non-empty segments, and the only way to match "/".
		{"/v1/**", "/v1", true},
		{"/v1/**", "/v1/a/b", true},
		{"/v1/**", "/v1/a/", false},
		{"/v1/**", "/v1/a//b", false},
		{"/**", "/", true},
		{"/*", "/", false},
		// A verb is cut at the last ':' of the last segment; what is before
		// it needs a segment, even for a **.
		{"/v1/*:v", "/v1/a:v", true},
		{"/v1/*:v", "/v1/a:b:v", true},
		{"/v1/*:v", "/v1/a:v:b", false},
		{"/v1/*:v", "/v1/:v", false},
		{"/v1/**:v", "/v1:v", true},
		{"/**:v", "/:v", false},
		{"/**:v", "/a:v", true},
		{"/v1/*:v", "/v1/a%3Av", false}, // an escaped ':' is no separator
		{"/v1/*:a%3Ab", "/v1/x:a%3Ab", true},
		// A template without a verb matches the whole last segment, ':' and
		// all, when no verb route takes it.
		{"/v1/*", "/v1/a:v", true},
		{"/v1/a%3Av", "/v1/a:v", true},
		{"/v1/a%3Av", "/v1/a%3Av", true},
		{"/v1/**", "/v1/a/b:v", true},
		{"/*", "/:v", true},
	}
	for _, tt := range tests {
		if got := matchesAlone(t, mustTemplate(t, tt.tmpl), tt.path); got != tt.want {
			t.Errorf("%s alone matches %s: %v, want %v", tt.tmpl, tt.path, got, tt.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want string // the example; "" for no overlap
	}{
		// The probe: a literal path under another set's template.
		{"/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books/1", "/v1/shelves/1/books/1"},
		{"/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books", ""},
		{"/v1/{name=shelves/*/books/*}", "/v1/{parent=shelves/*}/books/{b}", "/v1/shelves/x/books/x"},
		{"/v1/shelves/{s}", "/v1/books/{b}", ""},
		{"/v1/shelves/{s}", "/v1/{x}/{y}", "/v1/shelves/x"},
		{"/v1/{a=*/b}/c", "/v1/x/{y=b/*}", "/v1/x/b/c"},
		// ** matches zero or more segments.
		{"/v1/{name=**}", "/v1/shelves/1/books/1", "/v1/shelves/1/books/1"},
		{"/v1/{name=**}", "/v1", "/v1"},
		{"/v1/{name=**}", "/v1/{x}/b", "/v1/x/b"},
		{"/v1/{name=**}", "/v2/a", ""},
		{"/v1/{name=**}", "/{x=**}", "/v1"},
		{"/**", "/a/**", "/a"},
		{"/{x=**}", "/{y=**}", "/"},
		{"/v1/**", "/v1/*/**", "/v1/x"},
		{"/v1/*", "/v1", ""},
		{"/v1/a", "/v1/a/*", ""},
		// Literals compare decoded.
		{"/v1/%61", "/v1/a", "/v1/a"},
		{"/v1/a%2Fb", "/v1/{x}", "/v1/a%2Fb"},
		{"/v1/a%2Fb", "/v1/a/b", ""},
		{"/v1/%E2%82%AC", "/v1/*", "/v1/%E2%82%AC"},
		// Verbs: both the same, or none.
		{"/v1/{x}:get", "/v1/a:get", "/v1/a:get"},
		{"/v1/{x}:get", "/v1/{x}:list", ""},
		{"/v1/{x}:get", "/v1/{x}:%67et", "/v1/x:get"},
		{"/v1/a:get", "/v1/a", ""},
		{"/**:v", "/{x=**}:v", "/x:v"},
		{"/v1/**:v", "/v1:v", "/v1:v"},
		// Without a verb, a template matches a last segment X:verb whole.
		{"/v1/a:verb", "/v1/{x}", "/v1/a:verb"},
		{"/v1/{x}", "/v1/a:verb", "/v1/a:verb"},
		{"/v1/a%3Averb", "/v1/a:verb", "/v1/a:verb"},
		{"/v1/a%3Averb", "/v1/*:verb", "/v1/a:verb"},
		{"/v1/a%3Ab%3Averb", "/v1/*:verb", "/v1/a%3Ab:verb"},
		{"/v1/a%3Averb", "/v1/b:verb", ""},
		{"/v1/a%3Averb", "/v1/*:other", ""},
		{"/v1/%3Averb", "/v1/*:verb", ""}, // X would be empty
		{"/v1/{name=**}", "/v1/{x}:get", "/v1/x:get"},
		{"/v1/{name=**}", "/v1:get", ""}, // "v1:get" is one segment, not v1
		{"/v1%3Aundelete", "/v1/**:undelete", "/v1:undelete"},
		{"/%3Av", "/**:v", ""},
		{"/{x}", "/**:v", "/x:v"},
		{"/v1/{x}/c", "/v1/a:v", ""},
	}
	for _, tt := range tests {
		a, b := mustTemplate(t, tt.a), mustTemplate(t, tt.b)
		for _, p := range [][2]*Template{{a, b}, {b, a}} {
			ex, ok := Overlaps(p[0], p[1])
			if ok != (tt.want != "") || ex != tt.want {
				t.Errorf("Overlaps(%s, %s) = %q, %v; want %q", p[0].Raw, p[1].Raw, ex, ok, tt.want)
				continue
			}
			if ok && (!matchesAlone(t, a, ex) || !matchesAlone(t, b, ex)) {
				t.Errorf("Overlaps(%s, %s) example %s is not matched by both", p[0].Raw, p[1].Raw, ex)
			}
		}
	}
	if _, ok := Overlaps(nil, mustTemplate(t, "/a")); ok {
		t.Error("Overlaps(nil, /a) = true")
	}
}

// TestOverlapsHandMade covers Templates that ParseTemplate would not make:
// a ** in the middle and an empty literal.
func TestOverlapsHandMade(t *testing.T) {
	t.Parallel()
	star := Segment{Kind: WildcardSegment}
	dstar := Segment{Kind: DoubleWildcardSegment}
	tests := []struct {
		a, b []Segment
		want string
	}{
		{segs(lit("a"), dstar, lit("c")), segs(lit("a"), lit("b"), lit("b"), lit("c")), "/a/b/b/c"},
		{segs(lit("a"), dstar, lit("c")), segs(lit("a"), lit("c")), "/a/c"},
		{segs(lit("a"), dstar, lit("c")), segs(lit("a"), lit("b")), ""},
		{segs(dstar, lit("c"), dstar), segs(dstar, lit("d"), dstar), "/c/d"},
		{segs(dstar, dstar, dstar), segs(star, star, star, star), "/x/x/x/x"},
		{segs(lit("")), segs(star), ""},
		{segs(lit("a"), Segment{Kind: 7}), segs(lit("a"), star), ""},
	}
	for _, tt := range tests {
		a, b := &Template{Segments: tt.a}, &Template{Segments: tt.b}
		if ex, ok := Overlaps(a, b); ok != (tt.want != "") || ex != tt.want {
			t.Errorf("Overlaps(%v, %v) = %q, %v; want %q", tt.a, tt.b, ex, ok, tt.want)
		}
	}
}

// TestOverlapsLong checks that memoisation keeps long templates of
// wildcards polynomial: without it these take exponential time.
func TestOverlapsLong(t *testing.T) {
	t.Parallel()
	var a, b []Segment
	for range 200 {
		a = append(a, Segment{Kind: DoubleWildcardSegment})
		b = append(b, Segment{Kind: WildcardSegment})
	}
	b = append(b, lit("z"))
	a = append(a, lit("y"))
	if _, ok := Overlaps(&Template{Segments: a}, &Template{Segments: b}); ok {
		t.Error("overlap found for paths ending in y and in z")
	}
	a[len(a)-1] = Segment{Kind: DoubleWildcardSegment}
	ex, ok := Overlaps(&Template{Segments: a}, &Template{Segments: b})
	if !ok || ex != strings.Repeat("/x", 200)+"/z" {
		t.Errorf("Overlaps = %q, %v", ex, ok)
	}
}

// genTemplate writes a random template of at most maxSegs segments after
// flattening, from a small grammar: literals a, b, and a%3Av and %3Av
// (literals with a ':'), *, **, variables with and without patterns, and
// an optional verb.
func genTemplate(rng *rand.Rand, maxSegs int) *Template {
	pieces := []struct {
		s string
		n int // segments
	}{
		{"a", 1}, {"b", 1}, {"%61", 1}, {"a%3Av", 1}, {"%3Av", 1}, {"*", 1}, {"{v%d}", 1},
		{"{v%d=a/*}", 2}, {"{v%d=*/b}", 2}, {"**", 1}, {"{v%d=**}", 1}, {"{v%d=a/**}", 2},
	}
	verbs := []string{"", "", ":v", ":w"}
	for {
		var sb strings.Builder
		n := 0
		want := 1 + rng.IntN(maxSegs)
		for i := 0; n < want; i++ {
			p := pieces[rng.IntN(len(pieces))]
			sb.WriteByte('/')
			if strings.Contains(p.s, "%d") {
				fmt.Fprintf(&sb, p.s, i)
			} else {
				sb.WriteString(p.s)
			}
			n += p.n
			if strings.Contains(p.s, "**") {
				break
			}
		}
		if n > maxSegs {
			continue
		}
		sb.WriteString(verbs[rng.IntN(len(verbs))])
		tmpl, err := ParseTemplate(sb.String())
		if err != nil {
			panic(fmt.Sprintf("genTemplate %s: %v", sb.String(), err))
		}
		return tmpl
	}
}

// candidatePaths returns every path of at most one segment more than the
// longer template, each segment a literal of a or b (escaped, and raw when
// that differs), a literal cut before ":verb", or "x", and then ":verb" for
// each verb of a or b, or nothing. If two templates overlap, one of these
// paths shows it.
func candidatePaths(a, b *Template) []string {
	alpha := []string{"x"}
	add := func(s string) {
		if s != "" && !slices.Contains(alpha, s) {
			alpha = append(alpha, s)
		}
	}
	var verbs []string
	for _, t := range []*Template{a, b} {
		if t.Verb != "" && !slices.Contains(verbs, t.Verb) {
			verbs = append(verbs, t.Verb)
		}
	}
	for _, t := range []*Template{a, b} {
		for _, s := range t.Segments {
			if s.Kind != LiteralSegment {
				continue
			}
			var sb strings.Builder
			writeEscaped(&sb, s.Literal)
			add(sb.String())
			if strings.IndexFunc(s.Literal, func(r rune) bool { return r == '/' || r == '%' || r == '?' }) < 0 {
				add(s.Literal)
			}
			for _, v := range verbs {
				if x, ok := strings.CutSuffix(s.Literal, ":"+v); ok {
					sb.Reset()
					writeEscaped(&sb, x)
					add(sb.String())
				}
			}
		}
	}
	suffixes := []string{""}
	for _, v := range verbs {
		var sb strings.Builder
		sb.WriteByte(':')
		writeEscaped(&sb, v)
		suffixes = append(suffixes, sb.String())
	}
	maxLen := max(len(a.Segments), len(b.Segments)) + 1
	var paths []string
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		for _, s := range suffixes {
			p := prefix + s
			if p == "" {
				p = "/"
			}
			paths = append(paths, p)
		}
		if n == maxLen {
			return
		}
		for _, s := range alpha {
			walk(prefix+"/"+s, n+1)
		}
	}
	walk("", 0)
	return paths
}

// checkOverlapAgainstMatcher asserts that Overlaps(a, b) holds iff a
// candidate path is matched by both a and b alone, and that its example is.
func checkOverlapAgainstMatcher(t *testing.T, a, b *Template) {
	t.Helper()
	ta := mustTable(t, []*Route{{Method: "GET", Template: a, Source: "a"}})
	tb := mustTable(t, []*Route{{Method: "GET", Template: b, Source: "b"}})
	both := func(p string) bool {
		_, _, ea := ta.Match("GET", p)
		_, _, eb := tb.Match("GET", p)
		return ea == nil && eb == nil
	}
	ex, ok := Overlaps(a, b)
	ex2, ok2 := Overlaps(b, a)
	if ok != ok2 {
		t.Fatalf("Overlaps(%s, %s) = %v but reversed %v", a, b, ok, ok2)
	}
	if ok && (!both(ex) || !both(ex2)) {
		t.Fatalf("Overlaps(%s, %s) examples %q, %q are not matched by both", a, b, ex, ex2)
	}
	witness := ""
	for _, p := range candidatePaths(a, b) {
		if both(p) {
			witness = p
			break
		}
	}
	if ok != (witness != "") {
		t.Fatalf("Overlaps(%s, %s) = %q, %v, but both match %q", a, b, ex, ok, witness)
	}
}

func TestOverlapsAgainstMatcher(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	n, hits := 2000, 0
	if testing.Short() {
		n = 300
	}
	for range n {
		a, b := genTemplate(rng, 3), genTemplate(rng, 3)
		checkOverlapAgainstMatcher(t, a, b)
		if _, ok := Overlaps(a, b); ok {
			hits++
		}
	}
	// The grammar should give both answers often, or the test proves little.
	if hits < n/10 || hits > n*9/10 {
		t.Errorf("%d overlaps in %d pairs", hits, n)
	}
}

// FuzzOverlaps checks Overlaps against the matcher for any two short
// templates.
func FuzzOverlaps(f *testing.F) {
	for _, p := range [][2]string{
		{"/v1/{name=shelves/*/books/*}", "/v1/shelves/1/books/1"},
		{"/v1/a:verb", "/v1/{x}"},
		{"/v1/a%3Averb", "/v1/*:verb"},
		{"/v1/**:v", "/v1%3Av"},
		{"/**", "/{x}:v"},
		{"/a/**", "/*/b"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, sa, sb string) {
		a, err := ParseTemplate(sa)
		if err != nil {
			return
		}
		b, err := ParseTemplate(sb)
		if err != nil {
			return
		}
		// Keep the brute force small.
		if len(a.Segments) > 3 || len(b.Segments) > 3 || len(sa)+len(sb) > 60 {
			return
		}
		checkOverlapAgainstMatcher(t, a, b)
	})
}

func TestShadowing(t *testing.T) {
	t.Parallel()
	existing := []*Route{
		{Method: "GET", Pattern: "/v1/{name=shelves/*/books/*}", Source: "gateway.yaml:12"},
		{Method: "GET", Pattern: "/v1/{parent=shelves/*}/books", Source: "library.ListBooks"},
		{Method: "POST", Pattern: "/v1/{name=shelves/*/books/*}:archive", Source: "library.ArchiveBook"},
		{Method: "GET", Pattern: "/v1/files/{path=**}", Source: "files.Get"},
		{Method: "GET", Pattern: "/v2/{x}", Source: "v2"},
		nil,
		{Method: "GET", Pattern: "/v1/{", Source: "broken"},
	}
	incoming := []*Route{
		// Takes one URL of gateway.yaml:12.
		{Method: "GET", Pattern: "/v1/shelves/1/books/1", Source: "upload.GetFirst"},
		// Same template as an existing route: NewTable's conflict, not here.
		{Method: "GET", Pattern: "/v1/{name=shelves/*/books/*}", Source: "upload.GetBook"},
		{Method: "GET", Pattern: "/v1/{book=shelves/*/books/*}", Source: "upload.GetBookRenamed"},
		// Another method: nothing to take.
		{Method: "DELETE", Pattern: "/v1/shelves/1/books/1", Source: "upload.Delete"},
		// Overlaps two existing routes.
		{Method: "GET", Pattern: "/v1/{x=**}", Source: "upload.All"},
		// Different verb, different paths.
		{Method: "POST", Pattern: "/v1/shelves/1/books/1:restore", Source: "upload.Restore"},
		{Method: "POST", Pattern: "/v1/shelves/1/books/1:archive", Source: "upload.Archive"},
		{Method: "GET", Pattern: "/v3/{x}", Source: "upload.V3"},
		nil,
		{Method: "GET", Pattern: "bad", Source: "upload.Bad"},
	}
	got := Shadowing(incoming, existing)
	type row struct{ n, e, ex string }
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.New.Source, s.Existing.Source, s.Example})
	}
	want := []row{
		{"upload.All", "files.Get", "/v1/files"},
		{"upload.All", "gateway.yaml:12", "/v1/shelves/x/books/x"},
		{"upload.All", "library.ListBooks", "/v1/shelves/x/books"},
		{"upload.Archive", "library.ArchiveBook", "/v1/shelves/1/books/1:archive"},
		{"upload.GetFirst", "gateway.yaml:12", "/v1/shelves/1/books/1"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("Shadowing:\n got %v\nwant %v", rows, want)
	}
	if got[4].New != incoming[0] || got[4].Existing != existing[0] {
		t.Errorf("Shadowing[4] = %+v, want incoming[0] and existing[0]", got[4])
	}
	wantMsg := "GET /v1/shelves/1/books/1 (upload.GetFirst) overlaps /v1/{name=shelves/*/books/*} (gateway.yaml:12): both match GET /v1/shelves/1/books/1"
	if s := got[4].String(); s != wantMsg {
		t.Errorf("String() =\n %s\nwant\n %s", s, wantMsg)
	}
	// The other way round, the index is built over the other group.
	back := Shadowing(existing, incoming)
	if len(back) != len(got) {
		t.Errorf("Shadowing(existing, incoming) has %d shadows, want %d", len(back), len(got))
	}
	if s := Shadowing(incoming, nil); s != nil {
		t.Errorf("Shadowing(incoming, nil) = %v", s)
	}
}

func TestShadowingTemplates(t *testing.T) {
	t.Parallel()
	// Routes with only a Template, or with a Template that disagrees with
	// Pattern: the Template is what the table uses.
	existing := []*Route{
		{Method: "GET", Template: mustTemplate(t, "/v1/{x}"), Source: "ex"},
	}
	incoming := []*Route{
		{Method: "GET", Template: mustTemplate(t, "/v1/a"), Source: "a"},
		{Method: "GET", Pattern: "/v1/a/b", Template: mustTemplate(t, "/v1/b"), Source: "b"},
		{Method: "GET", Template: mustTemplate(t, "/v1/{y}"), Source: "same"},
	}
	got := Shadowing(incoming, existing)
	if len(got) != 2 || got[0].New != incoming[0] || got[0].Example != "/v1/a" ||
		got[1].New != incoming[1] || got[1].Example != "/v1/b" {
		t.Errorf("Shadowing = %+v", got)
	}
	if s := got[0].String(); s != "GET /v1/a (a) overlaps /v1/{x} (ex): both match GET /v1/a" {
		t.Errorf("String() = %s", s)
	}
}

// TestShadowingOrder checks the order when sources tie.
func TestShadowingOrder(t *testing.T) {
	t.Parallel()
	existing := []*Route{
		{Method: "POST", Pattern: "/{x=**}", Source: "e"},
		{Method: "GET", Pattern: "/{x=**}", Source: "e"},
		{Method: "GET", Pattern: "/{x}", Source: "e"},
		{Method: "GET", Pattern: "/{x}", Source: "d"},
	}
	incoming := []*Route{
		{Method: "POST", Pattern: "/a", Source: "n"},
		{Method: "GET", Pattern: "/b", Source: "n"},
		{Method: "GET", Pattern: "/a", Source: "n"},
		{Method: "GET", Pattern: "/a", Source: "m"},
	}
	var got []string
	for _, s := range Shadowing(incoming, existing) {
		got = append(got, fmt.Sprintf("%s %s %s<-%s %s", s.New.Source, s.New.Method, s.New.Pattern, s.Existing.Source, s.Existing.Pattern))
	}
	want := []string{
		"m GET /a<-d /{x}",
		"m GET /a<-e /{x=**}",
		"m GET /a<-e /{x}",
		"n GET /a<-d /{x}",
		"n GET /a<-e /{x=**}",
		"n GET /a<-e /{x}",
		"n GET /b<-d /{x}",
		"n GET /b<-e /{x=**}",
		"n GET /b<-e /{x}",
		"n POST /a<-e /{x=**}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Shadowing order:\n got %q\nwant %q", got, want)
	}
}

// TestShadowingAgainstPairs compares Shadowing, which only compares the
// routes its index yields, with Overlaps on every pair.
func TestShadowingAgainstPairs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	genRoutes := func(prefix string, n int) []*Route {
		rs := make([]*Route, n)
		for i := range rs {
			rs[i] = &Route{
				Method:   []string{"GET", "POST"}[rng.IntN(2)],
				Template: genTemplate(rng, 4),
				Source:   fmt.Sprintf("%s%03d", prefix, i),
			}
			if rng.IntN(2) == 0 {
				rs[i].Pattern = rs[i].Template.Raw
				rs[i].Template = nil
			}
		}
		return rs
	}
	for round := range 20 {
		incoming, existing := genRoutes("in", 1+rng.IntN(30)), genRoutes("ex", 1+rng.IntN(60))
		if round%2 == 1 {
			incoming, existing = genRoutes("in", 1+rng.IntN(60)), genRoutes("ex", 1+rng.IntN(30))
		}
		var want []Shadow
		for _, n := range incoming {
			for _, e := range existing {
				nt, et := routeTemplate(n), routeTemplate(e)
				if n.Method != e.Method || (nt.Verb == et.Verb && slices.Equal(nt.Segments, et.Segments)) {
					continue
				}
				if ex, ok := Overlaps(nt, et); ok {
					want = append(want, Shadow{n, e, ex})
				}
			}
		}
		slices.SortStableFunc(want, func(x, y Shadow) int {
			return cmp.Compare(x.New.Source, y.New.Source)
		})
		got := Shadowing(incoming, existing)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: Shadowing found %d shadows, all pairs %d", round, len(got), len(want))
		}
		for _, s := range got {
			nt, et := routeTemplate(s.New), routeTemplate(s.Existing)
			if !matchesAlone(t, nt, s.Example) || !matchesAlone(t, et, s.Example) {
				t.Fatalf("round %d: %v: example not matched by both", round, s)
			}
		}
	}
}

// shadowBench is 10,000 existing routes (benchRoutes, templates parsed as
// the protocols do) and 100 incoming ones shaped like an uploaded
// descriptor set: mostly new services, some literal paths into existing
// services, some with verbs, and with broad, a few with a * where the
// existing services differ.
func shadowBench(b *testing.B, broad bool) (incoming, existing []*Route) {
	existing = benchRoutes(10000)
	for _, r := range existing {
		r.Template = mustTemplate(b, r.Pattern)
	}
	for i := range 100 {
		var m, p string
		switch {
		case broad && i%10 == 0:
			m, p = "GET", "/v1/{svc}/items/{id}"
		case i%4 == 0:
			m, p = "GET", fmt.Sprintf("/v1/svc%d/items/1", i*25)
		case i%4 == 1:
			m, p = "POST", fmt.Sprintf("/v1/svc%d/items/1/things:verb", i*25)
		default:
			m, p = "GET", fmt.Sprintf("/v1/upload%d/{name=items/*}", i)
		}
		incoming = append(incoming, &Route{Method: m, Pattern: p, Template: mustTemplate(b, p), Source: fmt.Sprintf("upload:%d", i)})
	}
	return incoming, existing
}

func BenchmarkShadowing(b *testing.B) {
	for _, broad := range []bool{false, true} {
		b.Run(fmt.Sprintf("existing=10000/incoming=100/broad=%v", broad), func(b *testing.B) {
			incoming, existing := shadowBench(b, broad)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = len(Shadowing(incoming, existing))
			}
			b.ReportMetric(float64(n), "shadows")
		})
	}
	// For comparison: Overlaps on every pair of the same method.
	b.Run("allpairs/existing=10000/incoming=100/broad=false", func(b *testing.B) {
		incoming, existing := shadowBench(b, false)
		for b.Loop() {
			for _, n := range incoming {
				for _, e := range existing {
					if n.Method == e.Method {
						Overlaps(n.Template, e.Template)
					}
				}
			}
		}
	})
}

func BenchmarkOverlaps(b *testing.B) {
	x := mustTemplate(b, "/v1/{name=shelves/*/books/*}")
	y := mustTemplate(b, "/v1/shelves/1/books/1:get")
	b.ReportAllocs()
	for b.Loop() {
		Overlaps(x, y)
	}
}

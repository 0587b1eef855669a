package routes

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// libraryRoutes is shaped like the google library example, plus routes that
// exercise precedence and backtracking.
func libraryRoutes() []*Route {
	rs := []*Route{
		{Method: "GET", Pattern: "/v1/{name=shelves/*/books/*}", Source: "GetBook"},
		{Method: "GET", Pattern: "/v1/{parent=shelves/*}/books", Source: "ListBooks"},
		{Method: "POST", Pattern: "/v1/{name=shelves/*/books/*}:archive", Source: "ArchiveBook"},
		{Method: "GET", Pattern: "/v1/books:search", Source: "SearchBooks"},
		{Method: "GET", Pattern: "/v1/files/{path=**}", Source: "GetFile"},
		{Method: "GET", Pattern: "/v1/files/readme", Source: "GetReadme"},
		{Method: "GET", Pattern: "/v1/shelves", Source: "ListShelves"},
		{Method: "POST", Pattern: "/v1/shelves", Source: "CreateShelf"},
		{Method: "GET", Pattern: "/v1/{name=shelves/*}", Source: "GetShelf"},
		{Method: "DELETE", Pattern: "/v1/{shelf=shelves/*}", Source: "DeleteShelf"},
		{Method: "GET", Pattern: "/v1/shelves/featured", Source: "GetFeatured"},
		{Method: "PATCH", Pattern: "/v1/shelves/featured/books/{book}", Source: "UpdateFeaturedBook"},
		{Method: "GET", Pattern: "/v1/authors/{author}", Source: "GetAuthor"},
		{Method: "POST", Pattern: "/v1/{name=**}:undelete", Source: "Undelete"},
		{Method: "GET", Pattern: "/v1/a%20b", Source: "GetSpaced"},
		{Method: "POST", Pattern: "/library.v1.LibraryService/Ping", Source: "Ping"},
	}
	return rs
}

func mustTable(t testing.TB, rs []*Route) *Table {
	t.Helper()
	tab, err := NewTable(rs)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	return tab
}

func TestMatch(t *testing.T) {
	t.Parallel()
	rs := libraryRoutes()
	tab := mustTable(t, rs)
	type p = Param
	tests := []struct {
		method, path string
		want         string   // Source of the matched route
		wantParams   Params   // nil when none
		wantErr      error    // ErrNotFound or ErrBadPath
		wantAllowed  []string // set for a 405
	}{
		// Nested and multi-segment variables.
		{method: "GET", path: "/v1/shelves/1/books/2", want: "GetBook", wantParams: Params{p{"name", "shelves/1/books/2"}}},
		{method: "GET", path: "/v1/shelves/1/books", want: "ListBooks", wantParams: Params{p{"parent", "shelves/1"}}},
		{method: "GET", path: "/v1/shelves/7", want: "GetShelf", wantParams: Params{p{"name", "shelves/7"}}},
		{method: "DELETE", path: "/v1/shelves/7", want: "DeleteShelf", wantParams: Params{p{"shelf", "shelves/7"}}},
		{method: "GET", path: "/v1/shelves", want: "ListShelves"},
		{method: "POST", path: "/v1/shelves", want: "CreateShelf"},
		{method: "POST", path: "/library.v1.LibraryService/Ping", want: "Ping"},
		// ** matches one, several and zero segments.
		{method: "GET", path: "/v1/files/a", want: "GetFile", wantParams: Params{p{"path", "a"}}},
		{method: "GET", path: "/v1/files/a/b/c.txt", want: "GetFile", wantParams: Params{p{"path", "a/b/c.txt"}}},
		{method: "GET", path: "/v1/files", want: "GetFile", wantParams: Params{p{"path", ""}}},
		// Verbs.
		{method: "POST", path: "/v1/shelves/1/books/2:archive", want: "ArchiveBook", wantParams: Params{p{"name", "shelves/1/books/2"}}},
		{method: "POST", path: "/v1/shelves/1/books/2:%61rchive", want: "ArchiveBook", wantParams: Params{p{"name", "shelves/1/books/2"}}},
		{method: "POST", path: "/v1/shelves/1/books/2:x:archive", want: "ArchiveBook", wantParams: Params{p{"name", "shelves/1/books/2:x"}}},
		{method: "GET", path: "/v1/books:search", want: "SearchBooks"},
		{method: "POST", path: "/v1/a/b/c:undelete", want: "Undelete", wantParams: Params{p{"name", "a/b/c"}}},
		{method: "POST", path: "/v1:undelete", want: "Undelete", wantParams: Params{p{"name", ""}}},
		{method: "POST", path: "/v1/a%2Fb/c:undelete", want: "Undelete", wantParams: Params{p{"name", "a%2Fb/c"}}},
		// An unknown verb falls back to the whole segment.
		{method: "GET", path: "/v1/shelves/1:archive", want: "GetShelf", wantParams: Params{p{"name", "shelves/1:archive"}}},
		{method: "GET", path: "/v1/shelves/1/books/2:unknown", want: "GetBook", wantParams: Params{p{"name", "shelves/1/books/2:unknown"}}},
		{method: "GET", path: "/v1/authors/x:", want: "GetAuthor", wantParams: Params{p{"author", "x:"}}},
		{method: "GET", path: "/v1/books:searchx", wantErr: ErrNotFound},
		{method: "POST", path: "/v1/:undelete", wantErr: ErrNotFound},
		// Precedence literal > * > **, with backtracking.
		{method: "GET", path: "/v1/shelves/featured", want: "GetFeatured"},
		{method: "GET", path: "/v1/files/readme", want: "GetReadme"},
		{method: "GET", path: "/v1/files/readme/x", want: "GetFile", wantParams: Params{p{"path", "readme/x"}}},
		{method: "PATCH", path: "/v1/shelves/featured/books/7", want: "UpdateFeaturedBook", wantParams: Params{p{"book", "7"}}},
		// The literal branch has the path but not the method: back to *.
		{method: "GET", path: "/v1/shelves/featured/books/7", want: "GetBook", wantParams: Params{p{"name", "shelves/featured/books/7"}}},
		// The literal branch dead-ends: back to *.
		{method: "GET", path: "/v1/shelves/featured/books", want: "ListBooks", wantParams: Params{p{"parent", "shelves/featured"}}},
		// Percent-decoding: literals compare decoded, single-segment values
		// are fully decoded, multi-segment values keep %2F.
		{method: "GET", path: "/v1/%73helves", want: "ListShelves"},
		{method: "GET", path: "/v1/a%20b", want: "GetSpaced"},
		{method: "GET", path: "/v1/a%20%62", want: "GetSpaced"},
		{method: "GET", path: "/v1/authors/a%2Fb%20c", want: "GetAuthor", wantParams: Params{p{"author", "a/b c"}}},
		{method: "GET", path: "/v1/authors/100%25", want: "GetAuthor", wantParams: Params{p{"author", "100%"}}},
		{method: "GET", path: "/v1/authors/%E2%82%AC", want: "GetAuthor", wantParams: Params{p{"author", "€"}}},
		{method: "GET", path: "/v1/shelves/a%2Fb/books/c%20d", want: "GetBook", wantParams: Params{p{"name", "shelves/a%2Fb/books/c d"}}},
		{method: "GET", path: "/v1/shelves/a%2fb", want: "GetShelf", wantParams: Params{p{"name", "shelves/a%2fb"}}},
		{method: "GET", path: "/v1/files/a%2Fb/c%20d", want: "GetFile", wantParams: Params{p{"path", "a%2Fb/c d"}}},
		{method: "GET", path: "/v1/files/%252F", want: "GetFile", wantParams: Params{p{"path", "%2F"}}},
		{method: "GET", path: "/v1/shelves%2F", wantErr: ErrNotFound},
		{method: "GET", path: "/v1%2Fshelves", wantErr: ErrNotFound},
		// Malformed escapes are a bad request wherever they are.
		{method: "GET", path: "/v1/shelves/%zz", wantErr: ErrBadPath},
		{method: "GET", path: "/v1/shelves/1%4", wantErr: ErrBadPath},
		{method: "GET", path: "/v1/shelves/1%", wantErr: ErrBadPath},
		{method: "GET", path: "/v1/shelves/1:%g1", wantErr: ErrBadPath},
		{method: "GET", path: "/nowhere/%", wantErr: ErrBadPath},
		// 405 only when the path matches with another method.
		{method: "DELETE", path: "/v1/shelves", wantAllowed: []string{"GET", "POST"}},
		{method: "HEAD", path: "/v1/shelves", wantAllowed: []string{"GET", "POST"}},
		{method: "get", path: "/v1/shelves", wantAllowed: []string{"GET", "POST"}},
		{method: "PUT", path: "/v1/shelves/7", wantAllowed: []string{"DELETE", "GET"}},
		{method: "PUT", path: "/v1/shelves/featured/books/7", wantAllowed: []string{"GET", "PATCH"}},
		{method: "GET", path: "/library.v1.LibraryService/Ping", wantAllowed: []string{"POST"}},
		// GetReadme and GetFile both match: GET is listed once.
		{method: "PUT", path: "/v1/files/readme", wantAllowed: []string{"GET"}},
		{method: "POST", path: "/v1/books:search", wantAllowed: []string{"GET"}},
		{method: "GET", path: "/v1/x/y:undelete", wantAllowed: []string{"POST"}},
		{method: "DELETE", path: "/v1/shelves/1/books/2:archive", wantAllowed: []string{"GET", "POST"}},
		// 404: unknown paths, trailing and doubled slashes, empty paths.
		{method: "GET", path: "/v2/shelves", wantErr: ErrNotFound},
		{method: "GET", path: "/v1/shelves/", wantErr: ErrNotFound},
		{method: "GET", path: "/v1/shelves/1/books/2/", wantErr: ErrNotFound},
		{method: "GET", path: "/v1/files/a/", wantErr: ErrNotFound},
		{method: "GET", path: "/v1/files/a//b", wantErr: ErrNotFound},
		{method: "GET", path: "/v1//shelves", wantErr: ErrNotFound},
		{method: "GET", path: "//v1/shelves", wantErr: ErrNotFound},
		{method: "GET", path: "/v1/shelves/1/books/2/3", wantErr: ErrNotFound},
		{method: "GET", path: "", wantErr: ErrNotFound},
		{method: "GET", path: "/", wantErr: ErrNotFound},
		{method: "GET", path: "v1/shelves", wantErr: ErrNotFound},
		{method: "OPTIONS", path: "*", wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			r, ps, err := tab.Match(tt.method, tt.path)
			switch {
			case tt.wantAllowed != nil:
				var mna *MethodNotAllowedError
				if !errors.As(err, &mna) {
					t.Fatalf("Match = %v, %v, %v; want 405 %v", src(r), ps, err, tt.wantAllowed)
				}
				if !slices.Equal(mna.Allowed, tt.wantAllowed) {
					t.Errorf("Allowed = %v, want %v", mna.Allowed, tt.wantAllowed)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) || r != nil || ps != nil {
					t.Errorf("Match = %v, %v, %v; want %v", src(r), ps, err, tt.wantErr)
				}
			default:
				if err != nil || r == nil || r.Source != tt.want || !reflect.DeepEqual(ps, tt.wantParams) {
					t.Errorf("Match = %v, %q, %v; want %v, %q", src(r), ps, err, tt.want, tt.wantParams)
				}
			}
			checkAgainstNaive(t, tab, rs, tt.method, tt.path)
		})
	}
}

func src(r *Route) string {
	if r == nil {
		return "<nil>"
	}
	return r.Source
}

func TestMatchRoot(t *testing.T) {
	t.Parallel()
	rs := []*Route{
		{Method: "GET", Pattern: "/{rest=**}", Source: "CatchAll"},
		{Method: "GET", Pattern: "/health", Source: "Health"},
		{Method: "POST", Pattern: "/{a}/{b=**}", Source: "Post"},
	}
	tab := mustTable(t, rs)
	tests := []struct {
		method, path string
		want         string
		wantParams   Params
	}{
		{"GET", "/", "CatchAll", Params{{"rest", ""}}},
		{"GET", "/health", "Health", nil},
		{"GET", "/health/x", "CatchAll", Params{{"rest", "health/x"}}},
		{"GET", "/a%2Fb/c", "CatchAll", Params{{"rest", "a%2Fb/c"}}},
		{"POST", "/x", "Post", Params{{"a", "x"}, {"b", ""}}},
		{"POST", "/x%2Fy/z/w", "Post", Params{{"a", "x/y"}, {"b", "z/w"}}},
	}
	for _, tt := range tests {
		r, ps, err := tab.Match(tt.method, tt.path)
		if err != nil || r.Source != tt.want || !reflect.DeepEqual(ps, tt.wantParams) {
			t.Errorf("Match(%s %s) = %v, %q, %v; want %v, %q", tt.method, tt.path, src(r), ps, err, tt.want, tt.wantParams)
		}
		checkAgainstNaive(t, tab, rs, tt.method, tt.path)
	}
	if _, _, err := tab.Match("POST", "/"); !errors.As(err, new(*MethodNotAllowedError)) {
		t.Errorf("POST / = %v, want 405", err)
	}
}

func TestNewTableConflicts(t *testing.T) {
	t.Parallel()
	rs := []*Route{
		{Method: "GET", Pattern: "/v1/{name=shelves/*}", Source: "library.v1.Lib.GetShelf"},
		{Method: "POST", Pattern: "/v1/{name=shelves/*}", Source: "library.v1.Lib.UpdateShelf"},
		{Method: "GET", Pattern: "/v1/{shelf=shelves/*}", Source: "gateway.yaml:12"},
		{Method: "GET", Pattern: "/v1/{a}", Source: "a"},
		{Method: "GET", Pattern: "/v1/{b}", Source: "b"},
		{Method: "GET", Pattern: "/v1/%7Bb%7D", Source: "literal-braces"}, // a literal, no conflict
		{Method: "GET", Pattern: "/v1/{c=*}", Source: "c"},
		{Method: "GET", Pattern: "/v1/{c}:verb", Source: "verb"}, // the verb differs
		{Method: "GET", Pattern: "/v1/%7e/{x=**}", Source: "tilde1"},
		{Method: "GET", Pattern: "/v1/~/**", Template: nil, Source: ""},
	}
	_, err := NewTable(rs)
	want := "routes: 4 conflicts: " +
		"GET /v1/{name=shelves/*}: conflicts between library.v1.Lib.GetShelf and gateway.yaml:12 (/v1/{shelf=shelves/*}); " +
		"GET /v1/{a}: conflicts between a and b (/v1/{b}); " +
		"GET /v1/{a}: conflicts between a and c (/v1/{c=*}); " +
		"GET /v1/%7e/{x=**}: conflicts between tilde1 and <unnamed route> (/v1/~/**)"
	if err == nil || err.Error() != want {
		t.Fatalf("NewTable error:\n got %v\nwant %s", err, want)
	}
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 4 {
		t.Fatalf("error %#v is not a *ConflictError with 4 conflicts", err)
	}
	if c := ce.Conflicts[0]; c.Method != "GET" || c.A != rs[0] || c.B != rs[2] {
		t.Errorf("Conflicts[0] = %+v, want routes 0 and 2", c)
	}

	_, err = NewTable(rs[:3])
	want = "routes: 1 conflict: GET /v1/{name=shelves/*}: conflicts between library.v1.Lib.GetShelf and gateway.yaml:12 (/v1/{shelf=shelves/*})"
	if err == nil || err.Error() != want {
		t.Errorf("NewTable error:\n got %v\nwant %s", err, want)
	}
}

func TestNewTableInvalid(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate("/v1/{x}")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give []*Route
		want string
	}{
		{
			give: []*Route{{Method: "GET", Pattern: "/v1/{x", Source: "gateway.yaml:3"}},
			want: `route 0: gateway.yaml:3: template "/v1/{x": column 6: unclosed variable`,
		},
		{
			give: []*Route{{Method: "get", Pattern: "/v1", Source: "s"}},
			want: `route 0: s: method "get" is not an upper-case HTTP token`,
		},
		{
			give: []*Route{{Pattern: "/v1", Source: "s"}},
			want: `route 0: s: method "" is not an upper-case HTTP token`,
		},
		{
			give: []*Route{{Method: "GET", Template: &Template{}, Source: "s"}},
			want: `route 0: s: template has no segments`,
		},
		{
			give: []*Route{{Method: "GET", Template: &Template{
				Segments: []Segment{{Kind: LiteralSegment, Literal: "v1"}},
				Vars:     []Variable{{FieldPath: "x", Start: 1, End: 2}},
			}, Source: "s"}},
			want: `route 0: s: template variable "x" covers segments [1:2] of 1`,
		},
		{
			give: []*Route{{Method: "GET", Template: &Template{
				Segments: []Segment{{Kind: DoubleWildcardSegment}, {Kind: LiteralSegment, Literal: "a"}},
			}, Source: "s"}},
			want: `route 0: s: template "/**/a": column 2: '**' must be the last segment`,
		},
		{
			give: []*Route{{Method: "GET", Template: &Template{
				Segments: []Segment{{Kind: LiteralSegment}},
			}, Source: "s"}},
			want: `route 0: s: template "/": column 1: empty segment`,
		},
		{
			give: []*Route{{Method: "GET", Template: &Template{
				Segments: []Segment{{Kind: WildcardSegment}},
				Vars:     []Variable{{FieldPath: "a b", Start: 0, End: 1}},
			}, Source: "s"}},
			want: `route 0: s: template "/{a b}": column 4: unexpected character ' ' in field path`,
		},
		{
			give: []*Route{nil},
			want: `route 0: nil route`,
		},
		{
			// Every invalid route and the conflicts, in one error.
			give: []*Route{
				{Method: "GET", Pattern: "v1", Source: "a"},
				{Method: "GET", Template: tmpl, Source: "b"},
				{Method: "GET", Pattern: "/v1/{y}", Source: "c"},
				{Method: "G T", Pattern: "/v2", Source: "d"},
			},
			want: "route 0: a: template \"v1\": column 1: template must start with '/'\n" +
				"route 3: d: method \"G T\" is not an upper-case HTTP token\n" +
				"routes: 1 conflict: GET /v1/{x}: conflicts between b and c (/v1/{y})",
		},
	}
	for _, tt := range tests {
		_, err := NewTable(tt.give)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewTable error:\n got %v\nwant %s", err, tt.want)
		}
	}
	if _, err := NewTable(tests[0].give); !errors.As(err, new(*ParseError)) {
		t.Errorf("error %v does not wrap a *ParseError", err)
	}
}

func TestTableRoutes(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate("/v1/{x}")
	if err != nil {
		t.Fatal(err)
	}
	rs := []*Route{
		{Method: "POST", Pattern: "/v1/b", Source: "1"},
		{Method: "GET", Pattern: "/v1/b", Source: "2"},
		{Method: "GET", Pattern: "/v1/a", Source: "3"},
		{Method: "GET", Template: tmpl, Source: "4"}, // listed by its canonical form
	}
	tab := mustTable(t, rs)
	var got []string
	for _, r := range tab.Routes() {
		got = append(got, r.Source)
	}
	if want := []string{"3", "2", "1", "4"}; !slices.Equal(got, want) {
		t.Errorf("Routes() sources = %v, want %v", got, want)
	}
	if tab.Len() != 4 {
		t.Errorf("Len() = %d, want 4", tab.Len())
	}
	tab.Routes()[0] = nil // a copy: the table must not change
	if tab.Routes()[0] == nil {
		t.Error("Routes() exposes the table's slice")
	}
	if rs[0].Template != nil {
		t.Error("NewTable modified a route")
	}
	if r, ps, err := tab.Match("GET", "/v1/c"); err != nil || r != rs[3] || !reflect.DeepEqual(ps, Params{{"x", "c"}}) {
		t.Errorf("Match with a preset Template = %v, %v, %v", src(r), ps, err)
	}
}

// TestMatchAllocs pins the allocation budget of the hot path: nothing for a
// route without variables, the Params slice otherwise, and no more for
// escapes in literals. It is not parallel: AllocsPerRun counts the
// allocations of the whole process.
func TestMatchAllocs(t *testing.T) {
	tab := mustTable(t, libraryRoutes())
	tests := []struct {
		method, path string
		want         float64
	}{
		{"GET", "/v1/shelves", 0},
		{"GET", "/v1/%73helves", 0},
		{"GET", "/v1/books:search", 0},
		{"GET", "/v1/shelves/1/books/2", 1},
		{"POST", "/v1/shelves/1/books/2:archive", 1},
		{"GET", "/v1/shelves/featured/books/7", 1},
		{"GET", "/v1/files/a/b/c", 1},
		{"GET", "/v1/nothing", 0},
	}
	for _, tt := range tests {
		got := testing.AllocsPerRun(100, func() { tab.Match(tt.method, tt.path) })
		if got != tt.want {
			t.Errorf("Match(%s %s) allocs = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

// naiveMatch is a reference matcher: it tries every route on its own, with
// url.PathUnescape for decoding, and picks the best by precedence (the verb
// try first, then literal < * < ** segment by segment, shorter first).
func naiveMatch(rs []*Route, method, path string) (*Route, Params, error) {
	p, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, nil, ErrNotFound
	}
	if _, err := url.PathUnescape(p); err != nil {
		return nil, nil, ErrBadPath
	}
	type try struct {
		segs []string
		verb string
	}
	var tries []try
	last := strings.LastIndex(p, "/") + 1
	if c := strings.LastIndex(p[last:], ":"); c >= 0 && last+c+1 < len(p) {
		v, _ := url.PathUnescape(p[last+c+1:])
		tries = append(tries, try{strings.Split(p[:last+c], "/"), v})
	}
	if p == "" {
		tries = append(tries, try{nil, ""})
	} else {
		tries = append(tries, try{strings.Split(p, "/"), ""})
	}
	var allowed []string
	for _, tr := range tries {
		var best *Route
		var bestT *Template
		for _, r := range rs {
			tmpl, _ := check(r)
			if !naiveFits(tmpl, tr.segs, tr.verb) {
				continue
			}
			if r.Method != method {
				allowed = append(allowed, r.Method)
				continue
			}
			if best == nil || rank(tmpl, bestT) < 0 {
				best, bestT = r, tmpl
			}
		}
		if best != nil {
			var ps Params
			for _, v := range bestT.Vars {
				end := v.End
				if bestT.Segments[v.End-1].Kind == DoubleWildcardSegment {
					end = len(tr.segs)
				}
				var val string
				if v.Start < end {
					val = strings.Join(tr.segs[v.Start:end], "/")
				}
				if v.multi(bestT.Segments) {
					val = strings.ReplaceAll(strings.ReplaceAll(val, "%2F", "%252F"), "%2f", "%252f")
				}
				val, _ = url.PathUnescape(val)
				ps = append(ps, Param{v.FieldPath, val})
			}
			return best, ps, nil
		}
	}
	if allowed == nil {
		return nil, nil, ErrNotFound
	}
	slices.Sort(allowed)
	return nil, nil, &MethodNotAllowedError{Allowed: slices.Compact(allowed)}
}

func naiveFits(t *Template, segs []string, verb string) bool {
	if t.Verb != verb {
		return false
	}
	for i, s := range t.Segments {
		switch s.Kind {
		case DoubleWildcardSegment:
			return !slices.Contains(segs[i:], "")
		case WildcardSegment:
			if i >= len(segs) || segs[i] == "" {
				return false
			}
		default:
			if i >= len(segs) {
				return false
			}
			d, err := url.PathUnescape(segs[i])
			if err != nil || segs[i] == "" || d != s.Literal {
				return false
			}
		}
	}
	return len(segs) == len(t.Segments)
}

// rank orders two templates matching the same path by precedence.
func rank(a, b *Template) int {
	for i := range min(len(a.Segments), len(b.Segments)) {
		if d := int(a.Segments[i].Kind) - int(b.Segments[i].Kind); d != 0 {
			return d
		}
	}
	return len(a.Segments) - len(b.Segments)
}

// checkAgainstNaive compares tab.Match with naiveMatch and checks that a
// 405's methods all match.
func checkAgainstNaive(t *testing.T, tab *Table, rs []*Route, method, path string) {
	t.Helper()
	r, ps, err := tab.Match(method, path)
	wr, wps, werr := naiveMatch(rs, method, path)
	if r != wr || !reflect.DeepEqual(ps, wps) || fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("Match(%q, %q) = %v, %q, %v; reference says %v, %q, %v", method, path, src(r), ps, err, src(wr), wps, werr)
	}
	if r != nil && r.Method != method {
		t.Fatalf("Match(%q, %q) returned a %s route", method, path, r.Method)
	}
	var mna *MethodNotAllowedError
	if errors.As(err, &mna) {
		for _, m := range mna.Allowed {
			if _, _, err := tab.Match(m, path); err != nil {
				t.Fatalf("Match(%q, %q) allows %s, which fails: %v", method, path, m, err)
			}
		}
	}
}

func fuzzRoutes() []*Route {
	return append(libraryRoutes(),
		&Route{Method: "GET", Pattern: "/{a}/{b}/{c}", Source: "ABC"},
		&Route{Method: "OPTIONS", Pattern: "/**", Source: "Options"},
		&Route{Method: "PUT", Pattern: "/v1/{x=*/**}:set", Source: "Set"},
		&Route{Method: "GET", Pattern: "/v1/{x}:get", Source: "Get"},
		&Route{Method: "GET", Pattern: "/v1/%2F/{y=a/*}", Source: "Slash"},
		&Route{Method: "DELETE", Pattern: "/v1/*/{z=**}", Source: "DeleteAny"},
	)
}

// FuzzMatch checks Match against the reference matcher on a fixed table.
func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"/v1/shelves/1/books/2", "/v1/shelves/1/books/2:archive", "/v1/books:search",
		"/v1/files/a%2Fb/c", "/v1/shelves/featured/books/7", "/", "", "/v1/%2F/a/b",
		"/x/y/z", "/v1/a/b/c:set", "/v1/q:get", "/v1/a%zz", "/v1:undelete",
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
	}
	rs := fuzzRoutes()
	tab := mustTable(f, rs)
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}
	f.Fuzz(func(t *testing.T, mi uint8, path string) {
		method := methods[int(mi)%len(methods)]
		checkAgainstNaive(t, tab, rs, method, path)
		r, ps, err := tab.Match(method, path)
		if err != nil {
			return
		}
		tmpl, _ := check(r)
		if len(ps) != len(tmpl.Vars) {
			t.Fatalf("%d params for %d variables", len(ps), len(tmpl.Vars))
		}
		for i, p := range ps {
			if p.FieldPath != tmpl.Vars[i].FieldPath {
				t.Fatalf("param %d is %q, want %q", i, p.FieldPath, tmpl.Vars[i].FieldPath)
			}
		}
	})
}

// TestMatchConcurrent runs matches from several goroutines; with -race it
// checks that Match only reads the table.
func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	tab := mustTable(t, libraryRoutes())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				path := fmt.Sprintf("/v1/shelves/%d/books/%d", g, i)
				r, ps, err := tab.Match("GET", path)
				if err != nil || r.Source != "GetBook" || ps[0].Value != path[len("/v1/"):] {
					t.Errorf("Match(GET %s) = %v, %v, %v", path, src(r), ps, err)
					return
				}
				if _, _, err := tab.Match("PUT", path); !errors.As(err, new(*MethodNotAllowedError)) {
					t.Errorf("Match(PUT %s) = %v, want 405", path, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

package routes

import (
	"errors"
	"reflect"
	"testing"
)

func lit(s string) Segment { return Segment{Kind: LiteralSegment, Literal: s} }

func segs(ss ...Segment) []Segment { return ss }

func TestParseTemplate(t *testing.T) {
	t.Parallel()
	star := Segment{Kind: WildcardSegment}
	dstar := Segment{Kind: DoubleWildcardSegment}
	tests := []struct {
		give string
		want Template // Raw is checked to be give
		// wantString is the canonical form; "" means give is canonical.
		wantString string
	}{
		// The examples of the google.api.http HttpRule documentation.
		{
			give: "/v1/{name=messages/*}",
			want: Template{
				Segments: segs(lit("v1"), lit("messages"), star),
				Vars:     []Variable{{FieldPath: "name", Start: 1, End: 3}},
			},
		},
		{
			give: "/v1/messages/{message_id}",
			want: Template{
				Segments: segs(lit("v1"), lit("messages"), star),
				Vars:     []Variable{{FieldPath: "message_id", Start: 2, End: 3}},
			},
		},
		{
			give: "/v1/users/{user_id}/messages/{message_id}",
			want: Template{
				Segments: segs(lit("v1"), lit("users"), star, lit("messages"), star),
				Vars: []Variable{
					{FieldPath: "user_id", Start: 2, End: 3},
					{FieldPath: "message_id", Start: 4, End: 5},
				},
			},
		},
		{
			give: "/v1/{name=shelves/*/books/*}",
			want: Template{
				Segments: segs(lit("v1"), lit("shelves"), star, lit("books"), star),
				Vars:     []Variable{{FieldPath: "name", Start: 1, End: 5}},
			},
		},
		{
			give: "/v1/{book.name=shelves/*/books/*}",
			want: Template{
				Segments: segs(lit("v1"), lit("shelves"), star, lit("books"), star),
				Vars:     []Variable{{FieldPath: "book.name", Start: 1, End: 5}},
			},
		},
		{
			give: "/v1/files/{path=**}",
			want: Template{
				Segments: segs(lit("v1"), lit("files"), dstar),
				Vars:     []Variable{{FieldPath: "path", Start: 2, End: 3}},
			},
		},
		{
			give: "/v1/{name=projects/*/locations/*}/things:batchGet",
			want: Template{
				Segments: segs(lit("v1"), lit("projects"), star, lit("locations"), star, lit("things")),
				Verb:     "batchGet",
				Vars:     []Variable{{FieldPath: "name", Start: 1, End: 5}},
			},
		},
		// Verbs after a variable, a literal and a trailing **.
		{
			give: "/v1/{name=books/*}:publish",
			want: Template{
				Segments: segs(lit("v1"), lit("books"), star),
				Verb:     "publish",
				Vars:     []Variable{{FieldPath: "name", Start: 1, End: 3}},
			},
		},
		{
			give: "/v1/books:search",
			want: Template{Segments: segs(lit("v1"), lit("books")), Verb: "search"},
		},
		{
			give: "/v1/{name=**}:verb",
			want: Template{
				Segments: segs(lit("v1"), dstar),
				Verb:     "verb",
				Vars:     []Variable{{FieldPath: "name", Start: 1, End: 2}},
			},
		},
		{
			give: "/v1/**:verb",
			want: Template{Segments: segs(lit("v1"), dstar), Verb: "verb"},
		},
		{
			give: "/v1/{x}:cancel",
			want: Template{
				Segments: segs(lit("v1"), star),
				Verb:     "cancel",
				Vars:     []Variable{{FieldPath: "x", Start: 1, End: 2}},
			},
		},
		// Wildcards outside variables, and {x=*} printed as {x}.
		{
			give: "/*/**",
			want: Template{Segments: segs(star, dstar)},
		},
		{
			give: "/**",
			want: Template{Segments: segs(dstar)},
		},
		{
			give:       "/v1/{x=*}",
			want:       Template{Segments: segs(lit("v1"), star), Vars: []Variable{{FieldPath: "x", Start: 1, End: 2}}},
			wantString: "/v1/{x}",
		},
		{
			give: "/v1/{a=shelves}/{b=x/**}",
			want: Template{
				Segments: segs(lit("v1"), lit("shelves"), lit("x"), dstar),
				Vars: []Variable{
					{FieldPath: "a", Start: 1, End: 2},
					{FieldPath: "b", Start: 2, End: 4},
				},
			},
		},
		{
			give: "/{_a.B_1.c2}",
			want: Template{Segments: segs(star), Vars: []Variable{{FieldPath: "_a.B_1.c2", Start: 0, End: 1}}},
		},
		// Literals are stored decoded and printed with canonical escapes.
		{
			give:       "/v1/a%20b/%7e:do%2fit",
			want:       Template{Segments: segs(lit("v1"), lit("a b"), lit("~")), Verb: "do/it"},
			wantString: "/v1/a%20b/~:do%2Fit",
		},
		{
			give: "/-._~!$&'()+,;=@/%2A%25%3A",
			want: Template{Segments: segs(lit("-._~!$&'()+,;=@"), lit("*%:"))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTemplate(tt.give)
			if err != nil {
				t.Fatalf("ParseTemplate(%q) error: %v", tt.give, err)
			}
			want := tt.want
			want.Raw = tt.give
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("ParseTemplate(%q) =\n%+v\nwant\n%+v", tt.give, *got, want)
			}
			wantString := tt.wantString
			if wantString == "" {
				wantString = tt.give
			}
			if s := got.String(); s != wantString {
				t.Errorf("String() = %q, want %q", s, wantString)
			}
			again, err := ParseTemplate(got.String())
			if err != nil || !again.Equal(got) {
				t.Errorf("ParseTemplate(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string
	}{
		{"", `template "": column 1: template must start with '/'`},
		{"v1/x", `template "v1/x": column 1: template must start with '/'`},
		{"/", `template "/": column 1: empty segment`},
		{"/v1/", `template "/v1/": column 4: empty segment`},
		{"//v1", `template "//v1": column 2: empty segment`},
		{"/v1//x", `template "/v1//x": column 5: empty segment`},
		{"/v1/:verb", `template "/v1/:verb": column 5: empty segment`},
		{"/v1/{x", `template "/v1/{x": column 6: unclosed variable`},
		{"/v1/{x=a/*", `template "/v1/{x=a/*": column 10: unclosed variable`},
		{"/v1/{x=a/", `template "/v1/{x=a/": column 9: unclosed variable`},
		{"/v1/{x.", `template "/v1/{x.": column 7: unclosed variable`},
		{"/v1/{x=}", `template "/v1/{x=}": column 8: empty variable pattern`},
		{"/v1/{x=a/}", `template "/v1/{x=a/}": column 10: empty segment`},
		{"/v1/{x=a//b}", `template "/v1/{x=a//b}": column 10: empty segment`},
		{"/v1/{}", `template "/v1/{}": column 6: missing field path`},
		{"/v1/{=*}", `template "/v1/{=*}": column 6: missing field path`},
		{"/v1/{a.}", `template "/v1/{a.}": column 8: empty identifier in field path`},
		{"/v1/{a..b}", `template "/v1/{a..b}": column 8: empty identifier in field path`},
		{"/v1/{1a}", `template "/v1/{1a}": column 6: unexpected character '1' in field path`},
		{"/v1/{a-b}", `template "/v1/{a-b}": column 7: unexpected character '-' in field path`},
		{"/v1/{a/b}", `template "/v1/{a/b}": column 7: unexpected character '/' in field path`},
		{"/v1/{x}/{x}", `template "/v1/{x}/{x}": column 10: duplicate variable "x"`},
		{"/v1/{a.b}/{a.b=c/*}", `template "/v1/{a.b}/{a.b=c/*}": column 12: duplicate variable "a.b"`},
		{"/v1/{a={b}}", `template "/v1/{a={b}}": column 8: nested variable`},
		{"/v1/{a=x/{b}}", `template "/v1/{a=x/{b}}": column 10: nested variable`},
		{"/v1/**/x", `template "/v1/**/x": column 5: '**' must be the last segment`},
		{"/v1/**/**", `template "/v1/**/**": column 5: '**' must be the last segment`},
		{"/v1/{x=**}/y", `template "/v1/{x=**}/y": column 8: '**' must be the last segment`},
		{"/v1/{x=**/y}", `template "/v1/{x=**/y}": column 8: '**' must be the last segment`},
		{"/v1/{x=**}/{y}", `template "/v1/{x=**}/{y}": column 8: '**' must be the last segment`},
		{"/v1/a*", `template "/v1/a*": column 6: wildcard must be a whole segment`},
		{"/v1/*a", `template "/v1/*a": column 5: wildcard must be a whole segment`},
		{"/v1/***", `template "/v1/***": column 7: wildcard must be a whole segment`},
		{"/v1/a{x}", `template "/v1/a{x}": column 6: variable must be a whole segment`},
		{"/v1/{x}a", `template "/v1/{x}a": column 5: variable must be a whole segment`},
		{"/v1/{x}{y}", `template "/v1/{x}{y}": column 8: variable must be a whole segment`},
		{"/v1/a b", `template "/v1/a b": column 6: unexpected character ' '`},
		{"/v1/é", `template "/v1/é": column 5: unexpected character 'é'`},
		{"/v1/a?b", `template "/v1/a?b": column 6: unexpected character '?'`},
		{"/v1/}", `template "/v1/}": column 5: unexpected character '}'`},
		{"/v1/x}", `template "/v1/x}": column 6: unexpected character '}'`},
		{"/v1/{x=a:b}", `template "/v1/{x=a:b}": column 9: unexpected character ':' in variable`},
		{"/v1/{x=:b}", `template "/v1/{x=:b}": column 8: unexpected character ':' in variable`},
		{"/v1/a%zz", `template "/v1/a%zz": column 6: invalid percent-escape`},
		{"/v1/a%4", `template "/v1/a%4": column 6: invalid percent-escape`},
		{"/v1/a%", `template "/v1/a%": column 6: invalid percent-escape`},
		{"/v1/x:", `template "/v1/x:": column 6: empty verb`},
		{"/v1/x:%g0", `template "/v1/x:%g0": column 7: invalid percent-escape`},
		{"/v1/x:/y", `template "/v1/x:/y": column 7: unexpected character '/' in verb`},
		{"/v1/x:a/b", `template "/v1/x:a/b": column 8: unexpected character '/' after verb`},
		{"/v1/x:a:b", `template "/v1/x:a:b": column 8: unexpected character ':' after verb`},
		{"/v1/{x}:a}", `template "/v1/{x}:a}": column 10: unexpected character '}' after verb`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTemplate(tt.give)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = %+v, want error %s", tt.give, got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseTemplate(%q) error:\n got %s\nwant %s", tt.give, err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Template != tt.give {
				t.Errorf("error %#v is not a *ParseError for %q", err, tt.give)
			}
		})
	}
}

func TestTemplateFieldPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want []string
	}{
		{"/v1/shelves", []string{}},
		{"/v1/{name=shelves/*}", []string{"name"}},
		{"/v1/users/{user_id}/messages/{message.id}", []string{"user_id", "message.id"}},
	}
	for _, tt := range tests {
		tmpl, err := ParseTemplate(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		if got := tmpl.FieldPaths(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("FieldPaths(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestTemplateEqual(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"/v1/{x}", "/v1/{x=*}", true},
		{"/v1/%7E", "/v1/~", true},
		{"/v1/{x}", "/v1/{y}", false},
		{"/v1/{x}", "/v1/*", false},
		{"/v1/a", "/v1/a:b", false},
		{"/v1/{x=a/*}", "/v1/a/{x}", false},
		{"/v1/**", "/v1/*", false},
	}
	for _, tt := range tests {
		a, err := ParseTemplate(tt.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseTemplate(tt.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Equal(b); got != tt.want {
			t.Errorf("%q.Equal(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzParseTemplate checks that parsing never panics and that the canonical
// form of every template parses back to the same template.
func FuzzParseTemplate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseTemplate(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Column < 1 || pe.Column > max(len(s), 1) {
				t.Fatalf("column %d out of range for %q", pe.Column, s)
			}
			return
		}
		if len(tmpl.Segments) == 0 {
			t.Fatalf("%q parsed to no segments", s)
		}
		for i, sg := range tmpl.Segments {
			if sg.Kind == DoubleWildcardSegment && i != len(tmpl.Segments)-1 {
				t.Fatalf("%q: ** at %d of %d", s, i, len(tmpl.Segments))
			}
		}
		end := 0
		for _, v := range tmpl.Vars {
			if v.Start < end || v.End <= v.Start || v.End > len(tmpl.Segments) {
				t.Fatalf("%q: bad variable %+v", s, v)
			}
			end = v.End
		}
		c := tmpl.String()
		again, err := ParseTemplate(c)
		if err != nil {
			t.Fatalf("ParseTemplate(%q).String() = %q does not parse: %v", s, c, err)
		}
		if !again.Equal(tmpl) {
			t.Fatalf("%q -> %q reparsed to %+v, want %+v", s, c, again, tmpl)
		}
		if c2 := again.String(); c2 != c {
			t.Fatalf("String not canonical: %q then %q", c, c2)
		}
	})
}

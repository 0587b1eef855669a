package mock

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"gopkg.in/yaml.v3"
)

func TestLoadGood(t *testing.T) {
	t.Parallel()
	s, err := LoadStubs("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Stubs) != 3 {
		t.Fatalf("got %d stubs, want 3", len(s.Stubs))
	}
	get := s.Stubs[0]
	if get.Method != "library.v1.LibraryService/GetBook" {
		t.Errorf("method not normalised: %q", get.Method)
	}
	if got := get.Source(); got != "testdata/good.yaml:6" {
		t.Errorf("Source() = %q", got)
	}
	resp := get.Response.(map[string]any)
	// Timestamps must stay text, not become time.Time, for proto3 JSON.
	if resp["publish_time"] != "1974-05-01T00:00:00Z" {
		t.Errorf("publish_time = %#v", resp["publish_time"])
	}
	if get.Headers["X-Mock"] != "true" || get.Trailers["x-served-by"] != "mock" {
		t.Errorf("headers %v trailers %v", get.Headers, get.Trailers)
	}
	fallback := s.Stubs[1]
	if fallback.Method != "library.v1.LibraryService/GetBook" {
		t.Errorf("dotted method not normalised: %q", fallback.Method)
	}
	if time.Duration(fallback.Delay) != 150*time.Millisecond {
		t.Errorf("merged delay = %v", fallback.Delay)
	}
	if c, err := fallback.Error.GRPCCode(); err != nil || c != codes.NotFound {
		t.Errorf("code = %v, %v", c, err)
	}
	if fallback.Error.Details[0]["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" {
		t.Errorf("details = %v", fallback.Error.Details)
	}
	if !s.Stubs[2].Templated() || get.Templated() {
		t.Error("Templated() wrong")
	}
	// Stubs must be JSON-able: protocol mocks feed them to protojson.
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"unknown stub key", "stubs:\n  - method: a.B/C\n    respnse: {}\n", "x.yaml:3: stubs[0].respnse: unknown key in stub (want one of method, match, response, error, headers, trailers, delay)"},
		{"unknown top key", "stub:\n  - method: a.B/C\n", "x.yaml:1: stub: unknown key in stub file (want one of stubs, faults, seed, x-*)"},
		{"unknown error key", "stubs:\n  - method: a.B/C\n    error:\n      code: 5\n      mesage: x\n", "x.yaml:5: stubs[0].error.mesage: unknown key in error"},
		{"bad code", "stubs:\n  - method: a.B/C\n    error: {code: NOT_FOUNDD}\n", "x.yaml:3: stubs[0].error.code: unknown status code \"NOT_FOUNDD\""},
		{"code out of range", "stubs:\n  - method: a.B/C\n    error: {code: 17}\n", "x.yaml:3: stubs[0].error.code: unknown status code \"17\""},
		{"code OK", "stubs:\n  - method: a.B/C\n    error: {code: OK}\n", "x.yaml:3: stubs[0].error.code: error code OK is not an error"},
		{"bad delay", "stubs:\n  - method: a.B/C\n    delay: soon\n", "x.yaml:3: stubs[0].delay: bad delay \"soon\""},
		{"delay without unit", "stubs:\n  - method: a.B/C\n    delay: 200\n", "x.yaml:3: stubs[0].delay: delay \"200\" has no unit"},
		{"negative delay", "stubs:\n  - method: a.B/C\n    delay: -1s\n", "must not be negative"},
		{"bad method", "stubs:\n  - method: GetBook\n", "x.yaml:2: stubs[0].method: method \"GetBook\": want package.Service/Method"},
		{"no method", "stubs:\n  - response: {}\n", "x.yaml:2: stubs[0].method: stub has no method"},
		{"both", "stubs:\n  - method: a.B/C\n    response: {}\n    error: {code: 5}\n", "x.yaml:4: stubs[0].error: stub has both response and error"},
		{"detail without type", "stubs:\n  - method: a.B/C\n    error:\n      code: 5\n      details:\n        - reason: X\n", "x.yaml:6: stubs[0].error.details[0]: error detail has no \"@type\""},
		{"partial template", "stubs:\n  - method: a.B/C\n    response: {title: \"Hi {{request.name}}\"}\n", "a template must be the whole string"},
		{"reserved header", "stubs:\n  - method: a.B/C\n    headers: {grpc-status: \"0\"}\n", "grpc-* keys are reserved"},
		{"syntax", "stubs:\n  - method: a.B/C\n   bad\n", "x.yaml:"},
		{"not a mapping", "- method: a.B/C\n", "x.yaml:1: a stub file is a mapping with one key, stubs"},
		{"two documents", "stubs: []\n---\nstubs: []\n", "only one YAML document"},
		{"duplicate key", "stubs:\n  - method: a.B/C\n    method: a.B/D\n", "x.yaml:3: stubs[0].method: key \"method\" already set at line 2"},
		{"no code", "stubs:\n  - method: a.B/C\n    error: {message: x}\n", "x.yaml:3: stubs[0].error.code: error has no code"},
		{"exception with a code", "stubs:\n  - method: a.B/C\n    error:\n      exception: E\n      code: 5\n", "x.yaml:5: stubs[0].error.code: a Thrift exception carries no status code"},
		{"fields without an exception", "stubs:\n  - method: a.B/C\n    error:\n      code: 5\n      fields: {a: 1}\n", "x.yaml:5: stubs[0].error.fields: fields are a Thrift exception's"},
		{"exception not a name", "stubs:\n  - method: a.B/C\n    error: {exception: [E]}\n", "x.yaml:3: stubs[0].error.exception: error exception must be the name of a declared exception"},
		{"partial template in a message", "stubs:\n  - method: a.B/C\n    error:\n      code: 5\n      message: \"no {{request.name}}\"\n", "x.yaml:5: stubs[0].error.message: \"no {{request.name}}\": a template must be the whole string"},
		{"bad interval", "stubs:\n  - method: a.B/C\n    interval: soon\n", "x.yaml:3: stubs[0].interval: bad interval \"soon\": want a duration such as 200ms or 1.5s"},
		{"interval without unit", "stubs:\n  - method: a.B/C\n    interval: 50\n", "x.yaml:3: stubs[0].interval: interval \"50\" has no unit; write e.g. 50ms or 50s"},
		{"interval not a scalar", "stubs:\n  - method: a.B/C\n    interval: [1s]\n", "x.yaml:3: stubs[0].interval: interval must be a duration such as 200ms"},
		{"repeat zero", "stubs:\n  - method: a.B/C\n    repeat: 0\n", "x.yaml:3: stubs[0].repeat: repeat 0: want a whole number from 1 to 10000000"},
		{"repeat negative", "stubs:\n  - method: a.B/C\n    repeat: -3\n", "x.yaml:3: stubs[0].repeat: repeat -3: want a whole number from 1 to 10000000"},
		{"repeat too large", "stubs:\n  - method: a.B/C\n    repeat: 10_000_001\n", "x.yaml:3: stubs[0].repeat: repeat 10000001: want a whole number from 1 to 10000000"},
		{"repeat not whole", "stubs:\n  - method: a.B/C\n    repeat: 1.5\n", "x.yaml:3: stubs[0].repeat: repeat must be a whole number from 1 to 10000000"},
		{"echo not a bool", "stubs:\n  - method: a.B/C\n    echo: please\n", "x.yaml:3: stubs[0].echo: echo must be true or false"},
		{"stream not a list", "stubs:\n  - method: a.B/C\n    stream: {a: 1}\n", "x.yaml:3: stubs[0].stream: stream must be a list of messages"},
		{"stream and response", "stubs:\n  - method: a.B/C\n    response: {}\n    stream: [{}]\n", "x.yaml:4: stubs[0].stream: stub has both response and stream; keep one"},
		{"echo and stream", "stubs:\n  - method: a.B/C\n    stream: [{}]\n    echo: true\n", "x.yaml:4: stubs[0].echo: echo sends back the message received, so the stub can have no response or stream; keep one"},
		{"partial template in a message", "stubs:\n  - method: a.B/C\n    stream:\n      - {a: 1}\n      - {title: \"Hi {{request.name}}\"}\n", "x.yaml:5: stubs[0].stream[1].title: \"Hi {{request.name}}\": a template must be the whole string"},
		{"misspelt streaming key", "stubs:\n  - method: a.B/C\n    intervall: 1s\n", "x.yaml:3: stubs[0].intervall: unknown key in stub (want one of method, match, response, error, headers, trailers, delay, stream, interval, repeat, echo)"},
		{"unknown key beside a streaming one", "stubs:\n  - method: a.B/C\n    stream: []\n    respnse: {}\n", "x.yaml:4: stubs[0].respnse: unknown key in stub (want one of method, match, response, error, headers, trailers, delay, stream, interval, repeat, echo)"},
		{"partial template in a detail", "stubs:\n  - method: a.B/C\n    error:\n      code: 5\n      details:\n        - \"@type\": T\n          reason: \"{{request}}!\"\n", "x.yaml:7: stubs[0].error.details[0].reason: \"{{request}}!\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStubs([]byte(c.yaml), "x.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "# nothing\n", "stubs:\n", "stubs: []\nx-anchors: {a: 1}\n"} {
		s, err := ParseStubs([]byte(in), "e.yaml")
		if err != nil || len(s.Stubs) != 0 {
			t.Errorf("%q: %v, %v", in, s, err)
		}
	}
}

func TestParseCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]codes.Code{
		"NOT_FOUND": codes.NotFound, "not_found": codes.NotFound, "NotFound": codes.NotFound, "5": codes.NotFound,
		"CANCELLED": codes.Canceled, "Canceled": codes.Canceled, "UNAVAILABLE": codes.Unavailable, "16": codes.Unauthenticated,
	} {
		if got, err := ParseCode(in); err != nil || got != want {
			t.Errorf("ParseCode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if CodeName(codes.DeadlineExceeded) != "DEADLINE_EXCEEDED" {
		t.Error(CodeName(codes.DeadlineExceeded))
	}
}

func TestCanonicalMethod(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"/a.b.Svc/M", "a.b.Svc/M", "a.b.Svc.M", " a.b.Svc/M "} {
		if got, err := CanonicalMethod(in); err != nil || got != "a.b.Svc/M" {
			t.Errorf("CanonicalMethod(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"M", "a.b/", "/a.b/M/x", "a..b/M", ""} {
		if got, err := CanonicalMethod(in); err == nil {
			t.Errorf("CanonicalMethod(%q) = %q, want error", in, got)
		}
	}
}

// request is what grpcmock hands Find: protojson output decoded with
// UseNumber, so int32s are json.Number and int64s are strings.
func request(t *testing.T, js string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFind(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte(`
stubs:
  - method: p.S/Search
    match: {filter.author.name: Ursula K. Le Guin}
    response: {n: 0}
  - method: p.S/Search
    match: {page_size: 5, filter.minPages: 100}
    response: {n: 1}
  - method: p.S/Search
    match: {pageSize: 5}
    response: {n: 2}
  - method: p.S/Search
    match:
      tags: [a, b]
      filter: {author: {country: US}}
    response: {n: 3}
  - method: p.S/Search
    match: {tags.1: z, cursor: null}
    response: {n: 4}
  - method: p.S/Search
    match: {rating: 4.5, available: true}
    response: {n: 5}
  - method: p.S/Other
    response: {n: 6}
  - method: p.S/Search
    response: {n: 7}
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, req string
		want        int
	}{
		// Nested path, first in file order wins even though #7 also fits.
		{"/p.S/Search", `{"filter":{"author":{"name":"Ursula K. Le Guin"}}}`, 0},
		// 5 matches json.Number 5; 100 matches the int64 string "100";
		// filter.minPages finds the proto-named min_pages.
		{"p.S/Search", `{"page_size":5,"filter":{"min_pages":"100"}}`, 1},
		// pageSize finds page_size; min_pages differs so #1 is skipped.
		{"p.S.Search", `{"page_size":5,"filter":{"min_pages":"99"}}`, 2},
		// "5" (a string) still matches 5 by JSON text.
		{"p.S/Search", `{"page_size":"5"}`, 2},
		// Lists compare element-wise; objects by the keys they list.
		{"p.S/Search", `{"tags":["a","b"],"filter":{"author":{"name":"X","country":"US"}}}`, 3},
		{"p.S/Search", `{"tags":["a","b","c"],"filter":{"author":{"country":"US"}}}`, 7},
		// List index in a path; null matches a missing field.
		{"p.S/Search", `{"tags":["y","z"]}`, 4},
		{"p.S/Search", `{"tags":["y","z"],"cursor":"AAA="}`, 7},
		// Numbers normalise (4.50 is 4.5), bools by text.
		{"p.S/Search", `{"rating":4.50,"available":true}`, 5},
		{"p.S/Search", `{"rating":4.5,"available":false}`, 7},
		{"p.S/Other", `{}`, 6},
		{"p.S/Missing", `{}`, -1},
	}
	for _, c := range cases {
		if got := s.FindIndex(c.method, request(t, c.req)); got != c.want {
			t.Errorf("FindIndex(%s, %s) = %d, want %d", c.method, c.req, got, c.want)
		}
	}
	st, ok := s.Find("p.S/Other", nil)
	if !ok || st != &s.Stubs[6] {
		t.Errorf("Find returned %v, %v", st, ok)
	}
	if _, ok := s.Find("p.S/Missing", nil); ok {
		t.Error("Find matched a missing method")
	}
}

func TestRenderResponse(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte(`
stubs:
  - method: p.S/Create
    response:
      title: "{{request.book.title}}"
      pages: "{{request.book.pageCount}}"
      author: "{{request.book.author}}"
      first_tag: "{{request.tags.0}}"
      missing: "{{request.nope}}"
      all: "{{request}}"
      list: ["{{request.parent}}", literal]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	req := request(t, `{"parent":"shelves/1","tags":["x"],"book":{"title":"Hi","page_count":"12","author":{"name":"A"}}}`)
	got, err := json.Marshal(s.Stubs[0].RenderResponse(req))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"all":{"book":{"author":{"name":"A"},"page_count":"12","title":"Hi"},"parent":"shelves/1","tags":["x"]},"author":{"name":"A"},"first_tag":"x","list":["shelves/1","literal"],"missing":null,"pages":"12","title":"Hi"}`
	if string(got) != want {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
	// The stub itself is untouched.
	if s.Stubs[0].Response.(map[string]any)["title"] != "{{request.book.title}}" {
		t.Error("RenderResponse modified the stub")
	}
}

func TestRewritePaths(t *testing.T) {
	t.Parallel()
	st := Stub{
		Method:   "p.S/M",
		Match:    map[string]any{"bookId": "1"},
		Response: map[string]any{"t": "{{request.book.pageCount}}", "w": "{{request}}"},
	}
	upper := func(p string) (string, error) { return strings.ToUpper(p), nil }
	out, err := st.RewritePaths(upper)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Match["BOOKID"]; !ok {
		t.Errorf("match = %v", out.Match)
	}
	r := out.Response.(map[string]any)
	if r["t"] != "{{request.BOOK.PAGECOUNT}}" || r["w"] != "{{request}}" {
		t.Errorf("response = %v", r)
	}
	if st.Match["bookId"] != "1" {
		t.Error("RewritePaths modified the original")
	}
	st.Match["BookId"] = "2"
	if _, err := st.RewritePaths(upper); err == nil || !strings.Contains(err.Error(), "name the same field") {
		t.Errorf("collision not reported: %v", err)
	}
}

func TestValidateGoStubs(t *testing.T) {
	t.Parallel()
	s := &Stubs{Stubs: []Stub{
		{Method: "/p.S/M", Delay: Duration(time.Second)},
		{Method: "p.S/M", Error: &StubError{Code: "NotFound", Details: []map[string]any{{"reason": "x"}}}},
	}}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), `stubs[1].error.details[0]: error detail has no "@type"`) {
		t.Fatalf("err = %v", err)
	}
	if s.Stubs[0].Method != "p.S/M" {
		t.Errorf("Validate did not normalise: %q", s.Stubs[0].Method)
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"1.5s"`), &d); err != nil || time.Duration(d) != 1500*time.Millisecond {
		t.Errorf("Duration JSON: %v %v", d, err)
	}
}

// A stub file with several mistakes reports them all, in file order, and
// still returns the stubs worth checking further: those without problems
// and those whole without a key that was left out.
func TestParseAllProblems(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte(`x-a: &a {delay: 5}
stubs:
  - method: a.B/C
    respnse: {}
  - method: a.B/C
    <<: *a
  - method: nodots
  - method: a.B/D
    error: {code: NOPE, message: [x]}
  - method: a.B/E
    response: {}
`), "m.yaml")
	want := `m.yaml:1: stubs[1].delay: delay "5" has no unit; write e.g. 5ms or 5s
m.yaml:4: stubs[0].respnse: unknown key in stub (want one of method, match, response, error, headers, trailers, delay)
m.yaml:7: stubs[2].method: method "nodots": want package.Service/Method
m.yaml:9: stubs[3].error.message: error message must be a string
m.yaml:9: stubs[3].error.code: unknown status code "NOPE": want a name such as NOT_FOUND or a number`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var methods []string
	for _, st := range s.Stubs {
		methods = append(methods, st.Method)
	}
	if got := strings.Join(methods, " "); got != "a.B/C a.B/C a.B/E" {
		t.Errorf("stubs returned: %s", got)
	}
	// A problem names the stub by its place in the file, even once stubs
	// before it were left out.
	ps := s.Stubs[2].Problems(2, At("response", errors.New("x")))
	if len(ps) != 1 || ps[0].String() != "m.yaml:11: stubs[4].response: x" {
		t.Errorf("Problems = %v", ps)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	s := &Stubs{Stubs: []Stub{
		{Method: "p.S/M", Match: map[string]any{"a": 1}},
		{Method: "p.S/M", Match: map[string]any{"a": 2}},
		{Method: "p.S/N"},
		{Method: "p.S/M", Match: map[string]any{"a": 1, "b": 2}},
		{Method: "p.S/N", Match: map[string]any{"x": true}},
		{Method: "p.S/M", Match: map[string]any{"a": 3}},
	}}
	want := `stubs[3].match: never answers: stubs[0] answers every request it matches first; put the more specific stub first
stubs[4].match: never answers: stubs[2] answers every request it matches first; put the more specific stub first`
	if got := s.Unreachable(nil); got.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", got, want)
	}
	if got := s.Unreachable(func(i int) bool { return i != 0 && i != 2 }); len(got) != 0 {
		t.Errorf("unusable stubs compared: %v", got)
	}
}

func TestJoinProblems(t *testing.T) {
	t.Parallel()
	a := Problems{{File: "f.yaml", Line: 9, Msg: "late"}, {File: "f.yaml", Line: 2, Msg: "early"}}
	b := Problems{{File: "f.yaml", Line: 5, Key: "stubs[1]", Msg: "middle"}, {File: "f.yaml", Line: 2, Msg: "early"}}
	err := JoinProblems(nil, a, errors.New("not a problem list"), b)
	// Files in the order first named, lines in order, repeats dropped.
	want := "f.yaml:2: early\nf.yaml:5: stubs[1]: middle\nf.yaml:9: late\nnot a problem list"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if JoinProblems(nil, nil) != nil {
		t.Error("no errors joined into one")
	}
}

// Stubs decode with yaml.v3 too, every problem a "line N: ..." of a
// *yaml.TypeError.
func TestYAMLUnmarshal(t *testing.T) {
	t.Parallel()
	var s Stubs
	if err := yaml.Unmarshal([]byte("stubs:\n  - method: a.B/C\n    delay: 1s\n"), &s); err != nil || len(s.Stubs) != 1 || s.Stubs[0].Source() != "" {
		t.Fatalf("%v %+v", err, s)
	}
	err := yaml.Unmarshal([]byte("stubs:\n  - method: a.B/C\n    delay: 1\n  - metod: x\n"), &s)
	var te *yaml.TypeError
	if !errors.As(err, &te) || strings.Join(te.Errors, "|") !=
		`line 3: stubs[0].delay: delay "1" has no unit; write e.g. 1ms or 1s|line 4: stubs[1].metod: unknown key in stub (want one of method, match, response, error, headers, trailers, delay)|line 4: stubs[1].method: stub has no method` {
		t.Errorf("got %v", err)
	}
}

// The streaming keys: stream (a list of messages, each with positions for
// problems), interval, repeat and echo.
func TestParseStreamKeys(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte(`x-often: &often {interval: 100ms, repeat: 1_000}
stubs:
  - method: p.S/Watch
    <<: *often
    stream:
      - {at: 1}
      - {at: "{{request.at}}"}
    error: {code: UNAVAILABLE}
  - method: p.S/Chat
    echo: true
  - method: p.S/Watch
    stream: []
  - method: p.S/Get
    response: {}
`), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, chat, empty, unary := s.Stubs[0], s.Stubs[1], s.Stubs[2], s.Stubs[3]
	if len(w.Stream) != 2 || time.Duration(w.Interval) != 100*time.Millisecond || w.Repeat != 1000 || w.Repeats() != 1000 {
		t.Errorf("Watch: %+v", w)
	}
	if w.StreamTemplated(0) || !w.StreamTemplated(1) {
		t.Error("StreamTemplated wrong")
	}
	req := request(t, `{"at":"7"}`)
	if got := w.RenderStream(1, req).(map[string]any)["at"]; got != "7" {
		t.Errorf("RenderStream: %v", got)
	}
	if w.Line("stream.1") != 7 || w.Line("stream.1.at") != 7 || w.Line("interval") != 1 {
		t.Errorf("lines: stream.1 %d, interval %d", w.Line("stream.1"), w.Line("interval"))
	}
	if !chat.Echo || chat.Repeats() != 1 || chat.Stream != nil {
		t.Errorf("Chat: %+v", chat)
	}
	// An empty list is a stream of no message, not no stream.
	if empty.Stream == nil || len(empty.Stream) != 0 {
		t.Errorf("stream: [] decoded as %#v", empty.Stream)
	}
	for _, c := range []struct {
		st   Stub
		want string
	}{{w, "stream interval repeat"}, {chat, "echo"}, {empty, "stream"}, {unary, ""}} {
		if got := strings.Join(c.st.StreamKeysSet(), " "); got != c.want {
			t.Errorf("%s: StreamKeysSet %q, want %q", c.st.Method, got, c.want)
		}
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"stream":[{"at":1},{"at":"{{request.at}}"}]`, `"interval":"100ms"`, `"repeat":1000`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	var back Stub
	if err := json.Unmarshal(b, &back); err != nil || back.Repeat != 1000 || back.Interval != w.Interval || len(back.Stream) != 2 {
		t.Errorf("JSON round trip: %+v %v", back, err)
	}
	// A unary stub's typo is answered with the keys every stub takes.
	_, err = ParseStubs([]byte("stubs:\n  - method: a.B/C\n    respnse: {}\n"), "u.yaml")
	if err == nil || err.Error() != "u.yaml:3: stubs[0].respnse: unknown key in stub (want one of method, match, response, error, headers, trailers, delay)" {
		t.Errorf("unary typo: %v", err)
	}
}

// A stub whose streaming keys failed to load is still checked further
// (see Damaged): it is whole without them.
func TestStreamKeysLeftOut(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte("stubs:\n  - method: a.B/C\n    repeat: 0\n    interval: x\n    echo: 1\n"), "d.yaml")
	if err == nil || len(s.Stubs) != 1 {
		t.Fatalf("%v, %d stubs", err, len(s.Stubs))
	}
	if st := s.Stubs[0]; len(st.StreamKeysSet()) > 0 {
		t.Errorf("keys that failed to load were kept: %+v", st)
	}
	// A stream that is no list is not left out: a protocol mock would
	// check the stub without the messages the user meant to send.
	s, err = ParseStubs([]byte("stubs:\n  - method: a.B/C\n    stream: 5\n"), "d.yaml")
	if err == nil || len(s.Stubs) != 0 {
		t.Errorf("%v, %d stubs", err, len(s.Stubs))
	}
}

func TestValidateGoStreamStubs(t *testing.T) {
	t.Parallel()
	s := &Stubs{Stubs: []Stub{
		{Method: "p.S/W", Stream: []any{map[string]any{}}, Interval: Duration(-time.Second), Repeat: -1},
		{Method: "p.S/W", Stream: []any{}, Response: map[string]any{}, Repeat: MaxRepeat},
		{Method: "p.S/C", Echo: true, Response: map[string]any{}},
	}}
	want := `stubs[0].interval: interval -1s must not be negative
stubs[0].repeat: repeat -1: want a whole number from 1 to 10000000
stubs[1].stream: stub has both response and stream; keep one (a response alone is a stream of one message)
stubs[2].echo: echo sends back the message received, so the stub can have no response or stream; keep one`
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

package natsmock

import (
	"strings"
	"testing"
	"time"
)

func TestParseStubs(t *testing.T) {
	stubs, err := ParseStubs([]byte(`
x-slow: &slow
  delay: 150ms
stubs:
  - subject: orders.*.get
    match: {tokens.1: "42"}
    response: {id: "42"}
    headers: {X-Order-Version: "3"}
  - method: orders.>
    <<: *slow
    error: {code: 404, message: nope}
  - subject: " orders.typed.status "
    error: {code: not_found}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(stubs.Stubs) != 3 {
		t.Fatalf("got %d stubs", len(stubs.Stubs))
	}
	s0, s1, s2 := stubs.Stubs[0], stubs.Stubs[1], stubs.Stubs[2]
	if s0.Method != "orders.*.get" || s1.Method != "orders.>" || s2.Method != "orders.typed.status" {
		t.Errorf("subjects %q %q %q", s0.Method, s1.Method, s2.Method)
	}
	if s0.Headers["X-Order-Version"] != "3" {
		t.Errorf("headers %v", s0.Headers)
	}
	if s1.Error == nil || s1.Error.Code != "404" || s1.Error.Message != "nope" || time.Duration(s1.Delay) != 150*time.Millisecond {
		t.Errorf("stub 1: %+v %+v", s1, s1.Error)
	}
	if s2.Error == nil || s2.Error.Code != "not_found" {
		t.Errorf("stub 2 error %+v", s2.Error)
	}
	if src := s1.Source(); src != "t.yaml:9" {
		t.Errorf("stub 1 source %q, want line 9", src)
	}
}

func TestParseStubsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"no subject", "stubs:\n  - response: {}\n", "t.yaml:2: stubs[0].subject: stub has no subject"},
		{"empty token", "stubs:\n  - subject: orders..get\n", `t.yaml:2: stubs[0].subject: subject "orders..get" has an empty token`},
		{"partial wildcard", "stubs:\n  - subject: orders.a*.get\n", "wildcards must be whole tokens"},
		{"gt not last", "stubs:\n  - subject: orders.>.get\n", "'>' must be the last token"},
		{"system namespace", "stubs:\n  - subject: $JS.API.>\n", "system namespace"},
		{"inbox", "stubs:\n  - subject: _INBOX.*\n", "system namespace"},
		{"space", "stubs:\n  - subject: \"orders. x\"\n", "whitespace"},
		{"subject not a string", "stubs:\n  - subject: [a]\n", "t.yaml:2: stubs[0].subject: subject must be a string"},
		{"both keys", "stubs:\n  - subject: a.b\n    method: a.c\n", "t.yaml:3: stubs[0].method: the subject is already set at line 2"},
		{"http code out of range", "stubs:\n  - subject: a.b\n    error: {code: 200}\n", "t.yaml:3: stubs[0].error.code: error code 200: want an HTTP-like status from 400 to 599"},
		{"bad code name", "stubs:\n  - subject: a.b\n    error: {code: NOPE}\n", `t.yaml:3: stubs[0].error.code: unknown status code "NOPE"`},
		{"code OK", "stubs:\n  - subject: a.b\n    error: {code: OK}\n", "error code OK is not an error"},
		{"trailers", "stubs:\n  - subject: a.b\n    trailers: {x: y}\n", "t.yaml:3: stubs[0].trailers: NATS replies have no trailers"},
		{"unknown stub key", "stubs:\n  - subject: a.b\n    reply: {}\n", `t.yaml:3: stubs[0].reply: unknown key in stub`},
		{"response and error", "stubs:\n  - subject: a.b\n    response: {}\n    error: {code: 404}\n", "both response and error"},
		{"partial template", "stubs:\n  - subject: a.b\n    response: {x: \"hi {{request.id}}\"}\n", "a template must be the whole string"},
		{"bad delay", "stubs:\n  - subject: a.b\n    delay: 200\n", "t.yaml:3: stubs[0].delay: delay \"200\" has no unit"},
		{"unknown top key", "stubz: []\n", `t.yaml:1: stubz: unknown key in stub file`},
		{"two documents", "stubs: []\n---\nstubs: []\n", "only one YAML document"},
		{"not a list", "stubs: {a: b}\n", "t.yaml:1: stubs: must be a list"},
		{"yaml syntax", "stubs:\n  - subject: [\n", "t.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStubs([]byte(tc.yaml), "t.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseStubsEmpty(t *testing.T) {
	for _, in := range []string{"", "stubs:\n", "# nothing\n", "x-a: 1\n"} {
		s, err := ParseStubs([]byte(in), "t.yaml")
		if err != nil || len(s.Stubs) != 0 {
			t.Errorf("%q: %v %v", in, s, err)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, subject string
		want             bool
	}{
		{"orders.*.get", "orders.42.get", true},
		{"orders.*.get", "orders.42.put", false},
		{"orders.*.get", "orders.42.get.x", false},
		{"orders.*.get", "orders.get", false},
		{"orders.>", "orders.42", true},
		{"orders.>", "orders.42.get", true},
		{"orders.>", "orders", false},
		{">", "a", true},
		{"a.b", "a.b", true},
		{"a.b", "a", false},
		{"a", "a.b", false},
	} {
		if got := subjectMatches(strings.Split(tc.pattern, "."), tc.subject); got != tc.want {
			t.Errorf("%s ~ %s = %v, want %v", tc.pattern, tc.subject, got, tc.want)
		}
	}
}

package nats

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

const (
	// MaxValueBytes bounds one path variable placed in a subject.
	MaxValueBytes = 256
	// MaxSubjectBytes bounds a rendered subject. The server refuses a
	// protocol line longer than max_control_line (4 KiB by default) by
	// closing the connection, so an over-long subject built from a client's
	// path would cut every request in flight on the shared connection; the
	// bound keeps "HPUB subject inbox sizes" well inside that line.
	MaxSubjectBytes = 1024
)

// subjectTemplate is a parsed Route.Subject: literal text and {field}
// references, in order. A variable may fill a whole token ("orders.{id}")
// or part of one ("orders.v{version}.get"); its value can never span tokens
// because values may not contain '.'.
type subjectTemplate struct {
	raw   string
	parts []subjectPart
	// leadingVar is set when the first token starts with a variable, so a
	// value decides the subject's namespace; values starting with '$' or
	// naming _INBOX are refused then, as those are the server's and
	// clients' reply namespaces ($JS.API, $SRV, $SYS, _INBOX).
	leadingVar bool
	// size is the length of the literal text, to size the builder.
	size int
	// wildcards: a subscription's template, whose literal tokens may be
	// * and > (never its values).
	wildcards bool
}

type subjectPart struct {
	literal string
	field   string // path variable field path; "" for a literal
}

// variable reports whether path values fill part of the subject.
func (t *subjectTemplate) variable() bool {
	for _, p := range t.parts {
		if p.field != "" {
			return true
		}
	}
	return false
}

// parseSubject checks a subject template against the route's path fields:
// every {var} must name one, literal text must be valid subject text, and
// no token may be empty. Wildcards are refused unless wildcards is set (a
// subscription), and then only as whole literal tokens, > only last.
func parseSubject(tmpl string, pathFields []string, wildcards bool) (*subjectTemplate, error) {
	if tmpl == "" {
		return nil, errors.New("subject template is empty")
	}
	t := &subjectTemplate{raw: tmpl, wildcards: wildcards}
	var shape strings.Builder // the template with each variable as "x", to check tokens
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if lit != "" {
			if err := checkLiteral(lit, wildcards); err != nil {
				return nil, fmt.Errorf("subject %q: %w", tmpl, err)
			}
			t.parts = append(t.parts, subjectPart{literal: lit})
			t.size += len(lit)
			shape.WriteString(lit)
		}
		if open < 0 {
			break
		}
		closeAt := strings.IndexByte(rest[open:], '}')
		if closeAt < 0 {
			return nil, fmt.Errorf("subject %q: '{' without a closing '}'", tmpl)
		}
		name := rest[open+1 : open+closeAt]
		if name == "" || strings.ContainsAny(name, "{ \t") {
			return nil, fmt.Errorf("subject %q: bad variable {%s}", tmpl, name)
		}
		if !slices.Contains(pathFields, name) {
			if len(pathFields) == 0 {
				return nil, fmt.Errorf("subject %q: {%s} is not a path variable (the route has none)", tmpl, name)
			}
			return nil, fmt.Errorf("subject %q: {%s} is not a path variable (the route has %s)", tmpl, name, strings.Join(pathFields, ", "))
		}
		if len(t.parts) == 0 {
			t.leadingVar = true
		}
		t.parts = append(t.parts, subjectPart{field: name})
		shape.WriteString("x")
		rest = rest[open+closeAt+1:]
	}
	toks := strings.Split(shape.String(), ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return nil, fmt.Errorf("subject %q: empty token (leading, trailing or double '.')", tmpl)
		case tok == ">" && i < len(toks)-1:
			return nil, fmt.Errorf("subject %q: wildcard > must be the last token", tmpl)
		case i == 0 && (tok == "*" || tok == ">"):
			// A subscription to "*.>" or ">" would hand clients every
			// reply inbox (_INBOX.*) and JetStream's API traffic ($JS.*).
			return nil, fmt.Errorf("subject %q: the first token must not be a wildcard (it would take every namespace, _INBOX and $JS among them)", tmpl)
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			// "a*" or "{id}>" would be a literal character, not the
			// wildcard the author meant.
			return nil, fmt.Errorf("subject %q: wildcards * and > must be whole tokens", tmpl)
		}
	}
	return t, nil
}

func checkLiteral(s string, wildcards bool) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case (r == '*' || r == '>') && !wildcards:
			return errors.New("wildcards * and > cannot be published to (only mode subscribe takes them)")
		case r == '}':
			return errors.New("'}' without an opening '{'")
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return errors.New("whitespace or control character")
		}
	}
	return nil
}

// render builds the subject for one request. Values are validated after
// percent-decoding (net/http and the route table decode %2E, %2A, %3E,
// %00, %20 and friends before they reach us), which is the only place a
// check can be trusted: any of '.', '*', '>' or whitespace in a value would
// let a caller address a different subject, or a wildcard, than the route
// declares.
func (t *subjectTemplate) render(params routes.Params) (string, *translate.Error) {
	var b strings.Builder
	b.Grow(t.size + 16*len(t.parts))
	for _, p := range t.parts {
		if p.field == "" {
			b.WriteString(p.literal)
			continue
		}
		v, _ := params.Get(p.field)
		if problem := valueProblem(v); problem != "" {
			return "", translate.BadRequest("path variable "+p.field+" "+problem,
				translate.Violation(p.field, problem))
		}
		b.WriteString(v)
	}
	s := b.String()
	if len(s) > MaxSubjectBytes {
		return "", translate.BadRequest(fmt.Sprintf("the NATS subject would be longer than %d bytes", MaxSubjectBytes))
	}
	if t.leadingVar && reservedNamespace(s) {
		return "", translate.BadRequest("path variable "+t.parts[0].field+" names a reserved NATS subject",
			translate.Violation(t.parts[0].field, "must not start with '$' or be _INBOX"))
	}
	// Belt and braces: the parts were checked one by one, the whole is
	// checked as the server will see it.
	if (t.wildcards && !validFilter(s)) || (!t.wildcards && !validSubject(s)) {
		return "", translate.BadRequest("the path variables do not form a valid NATS subject")
	}
	return s, nil
}

// valueProblem says what is wrong with one path variable value, or "".
func valueProblem(v string) string {
	if v == "" {
		return "must not be empty"
	}
	if len(v) > MaxValueBytes {
		return fmt.Sprintf("must not be longer than %d bytes", MaxValueBytes)
	}
	if !utf8.ValidString(v) {
		return "must be valid UTF-8"
	}
	for _, r := range v {
		switch {
		case r == '.':
			return "must not contain '.' (it separates NATS subject tokens)"
		case r == '*' || r == '>':
			return "must not contain the NATS wildcards * and >"
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return "must not contain whitespace or control characters"
		}
	}
	return ""
}

func reservedNamespace(s string) bool {
	first, _, _ := strings.Cut(s, ".")
	return strings.HasPrefix(first, "$") || first == "_INBOX"
}

// validSubject reports whether s is a subject one can publish to: non-empty
// tokens, no wildcards, no whitespace or control characters.
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectBytes || !utf8.ValidString(s) {
		return false
	}
	// Token by token without a slice of them: this runs twice a request.
	for rest, more := s, true; more; {
		var tok string
		tok, rest, more = strings.Cut(rest, ".")
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
	}
	for _, r := range s {
		if r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// validFilter reports whether s is a subject one can subscribe to: as
// validSubject, but tokens may be the wildcards * and > (last only).
func validFilter(s string) bool {
	if s == "" || len(s) > MaxSubjectBytes || !utf8.ValidString(s) {
		return false
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		if tok == "" || (tok == ">" && i < len(toks)-1) || (tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>")) {
			return false
		}
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

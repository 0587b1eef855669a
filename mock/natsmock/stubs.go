package natsmock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/grpc/codes"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/translate"
)

// placeholder is the method a stub is parsed and validated under. The
// shared stub loader insists on gRPC's pkg.Service/Method, which a NATS
// subject (orders.*.get, orders.42.get) is not; everything else about a
// stub (match, response templates, error, headers, delay) is the shared
// format and is checked by the shared code.
const placeholder = "natsmock.Subject/Stub"

// LoadStubs reads a NATS stub file: the shared stub format (mock/doc.go)
// with a subject where gRPC stubs have a method. See ParseStubs.
func LoadStubs(path string) (*mock.Stubs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStubs(b, path)
}

// ParseStubs parses a NATS stub file. Each stub names its subject with
// subject: (or method:, the shared key), wildcards allowed, written in the
// stub itself rather than merged from an anchor. error.code is an
// HTTP-like status from 400 to 599 (what the micro protocol carries) or a
// gRPC code name, mapped to its HTTP status. NATS replies have no trailers.
// The returned stubs hold the subjects as Method and the codes as written;
// give them to New, not to the gRPC mock. Errors are "file:line: message".
func ParseStubs(b []byte, name string) (*mock.Stubs, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fileError(name, err)
		}
		return nil, fmt.Errorf("%s:%d: only one YAML document is allowed in a stub file", name, extra.Line)
	}
	root := resolve(&doc)
	out := &mock.Stubs{}
	if root == nil || root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		return out, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a stub file is a mapping with one key, stubs", name, root.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == "stubs":
			if list != nil {
				return nil, fmt.Errorf("%s:%d: key \"stubs\" already set at line %d", name, k.Line, list.Line)
			}
			list = resolve(v)
		case strings.HasPrefix(k.Value, "x-"):
			// x-* keys hold anchors shared by several stubs.
		default:
			return nil, fmt.Errorf("%s:%d: unknown key %q in stub file (want stubs, x-*)", name, k.Line, k.Value)
		}
	}
	if list == nil || (list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null") {
		return out, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: stubs must be a list", name, list.Line)
	}
	for i, n := range list.Content {
		st, err := parseStub(n)
		if err != nil {
			return nil, fmt.Errorf("%v (stub #%d)", fileError(name, err), i)
		}
		out.Stubs = append(out.Stubs, st)
	}
	return out, nil
}

// parseStub hands the shared decoder a copy of the stub's mapping in which
// the subject is the placeholder method and an HTTP-like error code is a
// gRPC name, then puts subject and code back. Line numbers survive because
// the copy reuses the original nodes.
func parseStub(n *yaml.Node) (mock.Stub, error) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return mock.Stub{}, lineErr(n, "stub must be a mapping")
	}
	cp := *n
	cp.Content = append([]*yaml.Node(nil), n.Content...)
	var subject string
	var subjectKey *yaml.Node
	httpCode := ""
	for i := 0; i+1 < len(cp.Content); i += 2 {
		k, v := cp.Content[i], resolve(cp.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			continue // the shared decoder reports it
		}
		switch k.Value {
		case "subject", "method":
			if subjectKey != nil {
				return mock.Stub{}, lineErr(k, "%s: the subject is already set at line %d", k.Value, subjectKey.Line)
			}
			subjectKey = k
			if v.Kind != yaml.ScalarNode {
				return mock.Stub{}, lineErr(v, "subject must be a string")
			}
			subject = strings.TrimSpace(v.Value)
			if err := checkPattern(subject); err != nil {
				return mock.Stub{}, lineErr(v, "%v", err)
			}
			nk, nv := *k, *v
			nk.Value = "method"
			nv.Value, nv.Tag, nv.Style = placeholder, "!!str", 0
			cp.Content[i], cp.Content[i+1] = &nk, &nv
		case "trailers":
			return mock.Stub{}, lineErr(k, "NATS replies have no trailers; use headers")
		case "error":
			if v.Kind != yaml.MappingNode {
				continue
			}
			ev := *v
			ev.Content = append([]*yaml.Node(nil), v.Content...)
			for j := 0; j+1 < len(ev.Content); j += 2 {
				ck, cv := ev.Content[j], resolve(ev.Content[j+1])
				if ck.Value != "code" || cv.Kind != yaml.ScalarNode {
					continue
				}
				c, isHTTP, err := parseStatus(cv.Value)
				if err != nil {
					return mock.Stub{}, lineErr(cv, "%v", err)
				}
				if isHTTP {
					httpCode = strconv.Itoa(c)
					ncv := *cv
					ncv.Value, ncv.Tag, ncv.Style = "UNKNOWN", "!!str", 0
					ev.Content[j+1] = &ncv
				}
			}
			cp.Content[i+1] = &ev
		}
	}
	if subjectKey == nil {
		return mock.Stub{}, lineErr(n, "stub has no subject")
	}
	var st mock.Stub
	if err := st.UnmarshalYAML(&cp); err != nil {
		return mock.Stub{}, err
	}
	st.Method = subject
	if httpCode != "" && st.Error != nil {
		st.Error.Code = httpCode
	}
	return st, nil
}

// parseStatus reads a stub error code: an HTTP-like status from 400 to 599,
// or a gRPC code (name or 0-16) turned into its HTTP status. isHTTP says
// the code was written as an HTTP status.
func parseStatus(s string) (status int, isHTTP bool, err error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil && n > 16 {
		if n < 400 || n > 599 {
			return 0, false, fmt.Errorf("error code %d: want an HTTP-like status from 400 to 599 or a gRPC code such as NOT_FOUND", n)
		}
		return n, true, nil
	}
	c, err := mock.ParseCode(t)
	if err != nil {
		return 0, false, fmt.Errorf("%v, or an HTTP-like status from 400 to 599", err)
	}
	if c == codes.OK {
		return 0, false, errors.New("error code OK is not an error; use response instead")
	}
	return translate.HTTPStatus(c), false, nil
}

// checkPattern validates a stub subject, wildcards allowed: non-empty
// tokens, '*' and '>' only as whole tokens, '>' only last, no whitespace.
// System namespaces are refused: a stub answering $JS.API or _INBOX
// subjects would break JetStream or steal replies.
func checkPattern(s string) error {
	if s == "" {
		return errors.New("subject is empty")
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case tok == ">" && i != len(toks)-1:
			return fmt.Errorf("subject %q: '>' must be the last token", s)
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("subject %q: wildcards must be whole tokens", s)
		case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return fmt.Errorf("subject %q contains whitespace or a control character", s)
		}
	}
	if strings.HasPrefix(toks[0], "$") || toks[0] == "_INBOX" {
		return fmt.Errorf("subject %q is in a system namespace", s)
	}
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func lineErr(n *yaml.Node, format string, args ...any) error {
	return &lineError{line: n.Line, msg: fmt.Sprintf(format, args...)}
}

// The shared decoder's errors read "line N: message", as do yaml.v3's.
var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// fileError rewrites "line N: message" as "file:N: message", the form
// editors turn into links.
func fileError(name string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for i, m := range msgs {
		if sm := lineRE.FindStringSubmatch(m); sm != nil {
			msgs[i] = fmt.Sprintf("%s:%s: %s", name, sm[1], sm[2])
		} else {
			msgs[i] = name + ": " + strings.TrimPrefix(m, "yaml: ")
		}
	}
	return errors.New(strings.Join(msgs, "\n"))
}

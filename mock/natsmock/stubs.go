package natsmock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/grpc/codes"
	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/config/yamlpos"
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
// give them to New, not to the gRPC mock.
//
// Every mistake is reported, as mock.Problems in file order; unless the
// file is not YAML at all, the stubs without problems come back beside
// them, for Check (see mock.JoinProblems).
func ParseStubs(b []byte, name string) (*mock.Stubs, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(name, err)
	}
	var ps mock.Problems
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fileError(name, err)
		}
		ps = append(ps, mock.Problem{File: name, Line: extra.Line, Msg: "only one YAML document is allowed in a stub file"})
	}
	fileProblem := func(n *yaml.Node, key, format string, args ...any) {
		ps = append(ps, mock.Problem{File: name, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	root := resolve(&doc)
	out := &mock.Stubs{}
	if root == nil || root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		return out, mock.JoinProblems(ps)
	}
	if root.Kind != yaml.MappingNode {
		fileProblem(root, "", "a stub file is a mapping with one key, stubs")
		return out, mock.JoinProblems(ps)
	}
	var list *yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == "stubs" || k.Value == "faults" || k.Value == "seed":
			if prev := seen[k.Value]; prev != nil {
				fileProblem(k, k.Value, "key %q already set at line %d", k.Value, prev.Line)
				continue
			}
			seen[k.Value] = k
			var more mock.Problems
			switch k.Value {
			case "stubs":
				list = resolve(v)
			case "faults":
				// NATS faults name a subject pattern, as stubs do.
				out.Faults, more = mock.DecodeFaults(v, name, "subject")
			case "seed":
				out.Seed, more = mock.DecodeSeed(v, name)
			}
			ps = append(ps, more...)
		case strings.HasPrefix(k.Value, "x-"):
			// x-* keys hold anchors shared by several stubs.
		default:
			fileProblem(k, k.Value, "unknown key in stub file (want one of stubs, faults, seed, x-*)")
		}
	}
	switch {
	case list == nil || (list.Kind == yaml.ScalarNode && list.ShortTag() == "!!null"):
	case list.Kind != yaml.SequenceNode:
		fileProblem(list, "stubs", "must be a list")
	default:
		for i, n := range list.Content {
			st, more, ok := parseStub(n, name, i)
			ps = append(ps, more...)
			if ok {
				out.Stubs = append(out.Stubs, st)
			}
		}
	}
	return out, mock.JoinProblems(ps)
}

// parseStub hands the shared decoder a copy of the stub's mapping in which
// the subject is the placeholder method and an HTTP-like error code is a
// gRPC name, then puts subject and code back. Line numbers survive because
// the copy reuses the original nodes. Problems the shared decoder finds
// about the method are about the subject, and named by the key the stub
// used. ok says the stub is worth checking further: it has no problems,
// or only some that left a key out (see mock.Damaged).
func parseStub(n *yaml.Node, file string, index int) (st mock.Stub, ps mock.Problems, ok bool) {
	n = resolve(n)
	fatal := false
	problem := func(node *yaml.Node, key, format string, args ...any) {
		ps = append(ps, mock.Problem{File: file, Line: node.Line, Key: fmt.Sprintf("stubs[%d].%s", index, key), Msg: fmt.Sprintf(format, args...)})
		// Keys left out (trailers, the streaming keys) leave a stub that
		// is whole without them; the subject's problems are their own.
		fatal = fatal || key != "trailers" && key != "method" && key != "subject" && !slices.Contains(mock.StreamKeys, key)
	}
	if n.Kind != yaml.MappingNode {
		ps = append(ps, mock.Problem{File: file, Line: n.Line, Key: fmt.Sprintf("stubs[%d]", index), Msg: "stub must be a mapping"})
		return mock.Stub{}, ps, false
	}
	cp := *n
	cp.Content = nil
	var subject string
	var subjectKey *yaml.Node
	httpCode := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			cp.Content = append(cp.Content, k, n.Content[i+1]) // the shared decoder reports it
			continue
		}
		switch k.Value {
		case "subject", "method":
			if subjectKey != nil {
				problem(k, k.Value, "the subject is already set at line %d", subjectKey.Line)
				continue
			}
			subjectKey = k
			if v.Kind != yaml.ScalarNode {
				problem(v, k.Value, "subject must be a string")
				fatal = true
			} else {
				subject = strings.TrimSpace(v.Value)
				if err := checkPattern(subject); err != nil {
					problem(v, k.Value, "%v", err)
					fatal = true
				}
			}
			// The placeholder passes the shared checks whatever was wrong
			// with the subject, which is reported above.
			nk, nv := *k, *v
			nk.Value = "method"
			nv.Kind, nv.Value, nv.Tag, nv.Style, nv.Content = yaml.ScalarNode, placeholder, "!!str", 0, nil
			cp.Content = append(cp.Content, &nk, &nv)
			continue
		case "trailers":
			problem(k, "trailers", "NATS replies have no trailers; use headers")
			continue
		case "stream", "interval", "repeat", "echo":
			problem(k, k.Value, "NATS stubs have no streaming: a request gets one reply; drop %s", k.Value)
			continue
		case "error":
			if v.Kind != yaml.MappingNode {
				break
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
					problem(cv, "error.code", "%v", err)
				}
				if isHTTP || err != nil {
					if isHTTP {
						httpCode = strconv.Itoa(c)
					}
					ncv := *cv
					ncv.Value, ncv.Tag, ncv.Style = "UNKNOWN", "!!str", 0
					ev.Content[j+1] = &ncv
				}
			}
			cp.Content = append(cp.Content, k, &ev)
			continue
		}
		cp.Content = append(cp.Content, k, n.Content[i+1])
	}
	if subjectKey == nil {
		ps = append(ps, mock.Problem{File: file, Line: n.Line, Key: fmt.Sprintf("stubs[%d].subject", index), Msg: "stub has no subject"})
		fatal = true
	}
	st, err := mock.DecodeStub(&cp, file, index)
	var shared mock.Problems
	errors.As(err, &shared)
	var damaged *mock.Damaged
	if err != nil && !errors.As(err, &damaged) {
		fatal = true
	}
	for _, p := range shared {
		if subjectKey != nil && p.Key == fmt.Sprintf("stubs[%d].method", index) {
			p.Key = fmt.Sprintf("stubs[%d].%s", index, subjectKey.Value)
		}
		if subjectKey == nil && p.Msg == "stub has no method" {
			continue // reported as "no subject"
		}
		ps = append(ps, p)
	}
	if fatal {
		return mock.Stub{}, ps, false
	}
	st.Method = subject
	if httpCode != "" && st.Error != nil {
		st.Error.Code = httpCode
	}
	return st, ps, true
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

// fileError rewrites a YAML syntax error as a problem at "file:line".
func fileError(name string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	ps := make(mock.Problems, len(msgs))
	for i, m := range msgs {
		line, rest, _ := yamlpos.Split(m)
		ps[i] = mock.Problem{File: name, Line: line, Msg: rest}
	}
	return ps
}

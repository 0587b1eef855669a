package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"gopkg.in/yaml.v3"
)

// Stubs is a stub file: a list of canned answers tried in order.
type Stubs struct {
	Stubs []Stub `yaml:"stubs" json:"stubs"`
	// Faults make methods slow or broken on purpose (see Fault); a
	// protocol mock checks them against its schema and starts with them.
	Faults []Fault `yaml:"faults,omitempty" json:"faults,omitempty"`
	// Seed, when set, makes the faults' draws repeat from run to run.
	Seed *uint64 `yaml:"seed,omitempty" json:"seed,omitempty"`
}

// Stub is one canned answer for one method.
type Stub struct {
	// Method is "pkg.Service/Method". "/pkg.Service/Method" and
	// "pkg.Service.Method" are accepted and normalised when loading.
	Method string `yaml:"method" json:"method"`
	// Match maps dotted request paths to expected values; all must match.
	Match map[string]any `yaml:"match,omitempty" json:"match,omitempty"`
	// Response is the response message in proto3 JSON form.
	Response any `yaml:"response,omitempty" json:"response,omitempty"`
	// Error, when set, is returned instead of a response.
	Error *StubError `yaml:"error,omitempty" json:"error,omitempty"`
	// Headers and Trailers are sent as response metadata.
	Headers  map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Trailers map[string]string `yaml:"trailers,omitempty" json:"trailers,omitempty"`
	// Delay is waited before answering, for timeout demos; on a stream,
	// before the first message sent.
	Delay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`

	// The keys below are for streaming methods, which only the gRPC mock
	// has (the NATS and Thrift mocks refuse them). A server-streaming stub
	// matches the request and sends its messages, then Error, when set, as
	// the stream's final status. A client-streaming stub matches the
	// client's first message (with no message, only stubs without Match
	// apply) and answers with Response or Error once the client is done;
	// stream, interval and repeat are not for it. A bidirectional method
	// answers each message it receives with the first stub that matches
	// it: its messages (or the message itself, see Echo), then its Error,
	// which ends the stream. Which keys suit which method is the protocol
	// mock's to check, as it knows the method.

	// Stream, for a server-streaming or bidirectional method, is the
	// messages sent, in order, each in proto3 JSON like Response (and
	// checked against the output type the same way). Response alone is a
	// stream of one message; neither, of none. Stream and Response cannot
	// both be set.
	Stream []any `yaml:"stream,omitempty" json:"stream,omitempty"`
	// Interval is waited between streamed messages (Delay before the
	// first).
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Repeat sends the Stream list this many times, from 1 to MaxRepeat (0,
	// unset, means once), so that a small file makes a long stream.
	Repeat int `yaml:"repeat,omitempty" json:"repeat,omitempty"`
	// Echo, for a bidirectional method whose input and output are the same
	// message type, sends each message the stub answers back as it came,
	// instead of Stream or Response.
	Echo bool `yaml:"echo,omitempty" json:"echo,omitempty"`

	// Where the stub was loaded from, so that errors and call logs can
	// point the user at the line to edit: the stub's line, and the line of
	// each key in it ("method", "response.title", "match.w.op").
	file  string
	line  int
	index int // in the file's list
	pos   map[string]int
	// damaged: loading reported a problem that left a key out (an unknown
	// key, say); the stub is checked further but not compared with others.
	damaged bool
}

// StubError is an error to return instead of a response.
type StubError struct {
	// Code is a gRPC code: "NOT_FOUND", "NotFound" or "5". A NATS stub may
	// give an HTTP-like status from 400 to 599 instead (see natsmock); a
	// Thrift stub that names an exception has none.
	Code    string `yaml:"code,omitempty" json:"code,omitempty"`
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// Details are google.protobuf.Any values in proto3 JSON form, each with
	// an "@type".
	Details []map[string]any `yaml:"details,omitempty" json:"details,omitempty"`
	// Exception names a Thrift exception the function declares
	// ("InvalidOperation", "shared.InvalidOperation" or the gateway's
	// "thrift/calculator.InvalidOperation"), thrown with Fields as its
	// fields and Message in its message, msg, what or why field. Thrift
	// exceptions carry no status code, so Code must be empty.
	Exception string         `yaml:"exception,omitempty" json:"exception,omitempty"`
	Fields    map[string]any `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// MaxRepeat is the largest Repeat: ten million times a stream's list is
// plenty for a long stream, and a typo of a few more zeros should not tie
// a mock up for days.
const MaxRepeat = 10_000_000

// StreamKeys are the stub keys only streaming methods take, in the order
// problems name them.
var StreamKeys = []string{"stream", "interval", "repeat", "echo"}

// StreamKeysSet lists the StreamKeys the stub sets, for a protocol mock
// that refuses them (each at its key, see At).
func (s *Stub) StreamKeysSet() []string {
	var out []string
	for _, k := range StreamKeys {
		switch {
		case k == "stream" && s.Stream != nil,
			k == "interval" && s.Interval != 0,
			k == "repeat" && s.Repeat != 0,
			k == "echo" && s.Echo:
			out = append(out, k)
		}
	}
	return out
}

// Repeats is how many times the Stream list is sent: Repeat, or 1.
func (s *Stub) Repeats() int { return max(s.Repeat, 1) }

// StreamTemplated reports whether message i of Stream uses request
// templates, so that protocol mocks encode the others once at load time.
func (s *Stub) StreamTemplated(i int) bool { return hasTemplate(s.Stream[i]) }

// RenderStream returns message i of Stream with its templates replaced, as
// RenderResponse does for Response.
func (s *Stub) RenderStream(i int, request any) any { return render(s.Stream[i], request) }

// RewriteStreamPaths is RewritePaths for the template paths in Stream: a
// copy of the stub with them rewritten by f, and every path f refuses,
// joined, each at its key (stream.2.title).
func (s Stub) RewriteStreamPaths(f func(path string) (string, error)) (Stub, error) {
	if s.Stream == nil {
		return s, nil
	}
	out := s
	var errs []error
	out.Stream = make([]any, len(s.Stream))
	for i, m := range s.Stream {
		out.Stream[i] = rewriteTemplates(m, f, "stream."+strconv.Itoa(i), &errs)
	}
	return out, errors.Join(errs...)
}

// Source is "file:line" for a stub read from a file, "" otherwise.
func (s *Stub) Source() string {
	if s.file == "" || s.line == 0 {
		return s.file
	}
	return fmt.Sprintf("%s:%d", s.file, s.line)
}

// GRPCCode parses Code.
func (e *StubError) GRPCCode() (codes.Code, error) { return ParseCode(e.Code) }

// Duration is a time.Duration written as "200ms" or "1.5s" in YAML and
// JSON. A bare number is rejected because "delay: 200" is ambiguous.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func parseDuration(s string) (Duration, error) { return parseDurationOf("delay", s) }

// parseDurationOf is parseDuration for the stub key named key (delay,
// interval), which its problems name.
func parseDurationOf(key, s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, fmt.Errorf("%s %q has no unit; write e.g. %sms or %ss", key, s, s, s)
		}
		return 0, fmt.Errorf("bad %s %q: want a duration such as 200ms or 1.5s", key, s)
	}
	if v < 0 {
		return 0, fmt.Errorf("bad %s %q: must not be negative", key, s)
	}
	return Duration(v), nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: delay must be a duration such as 200ms", n.Line)}}
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = v
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("delay must be a string such as \"200ms\"")
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// LoadStubs reads and validates a stub file. See ParseStubs.
func LoadStubs(path string) (*Stubs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStubs(b, path)
}

// ParseStubs parses and validates a stub file; name is used in problems
// and in Stub.Source. Every mistake in the file is reported, as Problems
// in file order. Unless the file is not YAML at all, the stubs worth
// checking further are returned beside them (those without problems, and
// those that are whole without a key that was left out: see Damaged), so
// that a protocol mock can check them against its schema as well and the
// user sees every problem in one run (see JoinProblems).
func ParseStubs(b []byte, name string) (*Stubs, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(name, err)
	}
	var ps Problems
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fileError(name, err)
		}
		ps = append(ps, Problem{File: name, Line: extra.Line, Msg: "only one YAML document is allowed in a stub file"})
	}
	sec, errs := fileSections(&doc)
	ps = append(ps, (&Stub{file: name}).Problems(-1, errors.Join(errs...))...)
	out := &Stubs{}
	for i, n := range sec.stubs {
		st, err := DecodeStub(n, name, i)
		if err != nil {
			var more Problems
			errors.As(err, &more)
			ps = append(ps, more...)
			var d *Damaged
			if !errors.As(err, &d) {
				continue
			}
		}
		out.Stubs = append(out.Stubs, st)
	}
	var more Problems
	out.Faults, more = DecodeFaults(sec.faults, name, "method")
	ps = append(ps, more...)
	out.Seed, more = DecodeSeed(sec.seed, name)
	ps = append(ps, more...)
	if ps = ps.normalise(); len(ps) > 0 {
		return out, ps
	}
	return out, nil
}

// sections are the parts of a stub file's document.
type sections struct {
	stubs        []*yaml.Node
	faults, seed *yaml.Node // nil when absent
}

// fileSections finds the parts of a stub file's document: a mapping with
// the keys stubs, faults and seed, and any number of x-* keys, which are
// ignored so that YAML anchors shared by several stubs have somewhere to
// live (the convention Docker Compose made familiar).
func fileSections(doc *yaml.Node) (sections, []error) {
	var sec sections
	root := resolveAlias(doc)
	if isNull(root) {
		return sec, nil
	}
	if root.Kind != yaml.MappingNode {
		return sec, []error{atLine("", root.Line, errors.New("a stub file is a mapping with one key, stubs"))}
	}
	var errs []error
	fs, _ := mappingFields(root, "", "stub file", &errs, "stubs", "faults", "seed", "x-*")
	if f, ok := fs["faults"]; ok {
		sec.faults = f.val
	}
	if f, ok := fs["seed"]; ok {
		sec.seed = f.val
	}
	f, ok := fs["stubs"]
	if !ok {
		return sec, errs
	}
	v := resolveAlias(f.val)
	if isNull(v) {
		return sec, errs
	}
	if v.Kind != yaml.SequenceNode {
		return sec, append(errs, atLine("stubs", v.Line, errors.New("must be a list")))
	}
	sec.stubs = v.Content
	return sec, errs
}

// UnmarshalYAML decodes and checks a stub file's document. Problems come
// back as a *yaml.TypeError, one "line N: key: message" each; ParseStubs
// gives them with the file name.
func (s *Stubs) UnmarshalYAML(n *yaml.Node) error {
	sec, errs := fileSections(n)
	ps := (&Stub{file: "-"}).Problems(-1, errors.Join(errs...))
	out := make([]Stub, 0, len(sec.stubs))
	for i, c := range sec.stubs {
		st, err := DecodeStub(c, "-", i)
		var more Problems
		if errors.As(err, &more) {
			ps = append(ps, more...)
		}
		st.file = ""
		out = append(out, st)
	}
	faults, more := DecodeFaults(sec.faults, "-", "method")
	ps = append(ps, more...)
	seed, more := DecodeSeed(sec.seed, "-")
	ps = append(ps, more...)
	if err := typeError(ps); err != nil {
		return err
	}
	for i := range faults {
		faults[i].file = ""
	}
	s.Stubs, s.Faults, s.Seed = out, faults, seed
	return nil
}

// UnmarshalYAML decodes and checks one stub. Problems come back as a
// *yaml.TypeError, one "line N: key: message" each; DecodeStub gives them
// with the file name.
func (s *Stub) UnmarshalYAML(n *yaml.Node) error {
	st, err := DecodeStub(n, "-", -1)
	var ps Problems
	errors.As(err, &ps)
	if err := typeError(ps); err != nil {
		return err
	}
	st.file = ""
	*s = st
	return nil
}

// typeError is the form yaml.v3's decoder collects from UnmarshalYAML
// methods, carrying on past them, as it does for its own type errors.
func typeError(ps Problems) error {
	if len(ps) == 0 {
		return nil
	}
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = fmt.Sprintf("line %d: %s", p.Line, Problem{Key: p.Key, Msg: p.Msg})
	}
	return &yaml.TypeError{Errors: lines}
}

var stubKeys = []string{"method", "match", "response", "error", "headers", "trailers", "delay"}

// allStubKeys are every key a stub may have: stubKeys and StreamKeys.
var allStubKeys = append(slices.Clone(stubKeys), StreamKeys...)

// knownStubKeys are the keys a stub's unknown keys are told to choose
// from: all of them when the stub uses a streaming key or its unknown key
// is a near miss of one ("strem", "intervall"), otherwise those every
// stub takes, so that a typo in a unary stub is not answered with keys
// its method cannot use.
func knownStubKeys(n *yaml.Node) []string {
	var scratch []error
	fs, ok := mappingFields(n, "", "stub", &scratch, allStubKeys...)
	if !ok {
		return stubKeys
	}
	for _, k := range StreamKeys {
		if _, ok := fs[k]; ok {
			return allStubKeys
		}
	}
	for _, err := range scratch {
		var ke *keyError
		if !errors.As(err, &ke) || !ke.soft {
			continue
		}
		for _, k := range StreamKeys {
			if nearMiss(ke.key, k) {
				return allStubKeys
			}
		}
	}
	return stubKeys
}

// nearMiss reports whether typed is within two edits of key, ignoring
// case: a typo rather than another word.
func nearMiss(typed, key string) bool {
	a, b := []rune(strings.ToLower(typed)), []rune(key)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)] <= 2
}

// DecodeStub decodes and checks the stub at node n, the i-th of file.
// Every problem is reported, as Problems, or as *Damaged (which errors.As
// also finds as Problems) when the stub is whole enough without the keys
// it left out to be checked further against a schema; otherwise the stub
// is usable only when there are none. Protocol mocks with their own
// spelling of the shared format (natsmock) build on it.
func DecodeStub(n *yaml.Node, file string, i int) (Stub, error) {
	n = resolveAlias(n)
	st := Stub{file: file, line: n.Line, index: i, pos: map[string]int{}}
	var errs []error
	fs, ok := mappingFields(n, "", "stub", &errs, knownStubKeys(n)...)
	if !ok {
		return st, st.Problems(i, errors.Join(errs...))
	}
	for k, f := range fs {
		st.pos[k] = f.key.Line
	}
	vd := valueDecoder{errs: &errs, pos: st.pos}
	if f, ok := fs["method"]; ok {
		if v := resolveAlias(f.val); v.Kind == yaml.ScalarNode && !isNull(v) {
			st.Method = v.Value
			st.pos["method"] = v.Line
		} else {
			errs = append(errs, atLine("method", v.Line, errors.New("method must be a string")))
		}
	} else {
		errs = append(errs, atLine("method", n.Line, errors.New("stub has no method")))
	}
	if f, ok := fs["match"]; ok {
		v, _ := vd.value(f.val, "match")
		if m, ok := v.(map[string]any); ok {
			st.Match = m
		} else if v != nil {
			errs = append(errs, atLine("match", resolveAlias(f.val).Line, errors.New("match must be a mapping of request paths to values")))
		}
	}
	if f, ok := fs["response"]; ok {
		st.Response, _ = vd.value(f.val, "response")
	}
	if f, ok := fs["error"]; ok {
		st.Error = decodeError(f.val, vd)
	}
	for _, k := range []string{"headers", "trailers"} {
		f, ok := fs[k]
		if !ok {
			continue
		}
		var md map[string]string
		if err := f.val.Decode(&md); err != nil {
			errs = append(errs, atLine(k, resolveAlias(f.val).Line, fmt.Errorf("%s must be a mapping of names to strings", k)))
			continue
		}
		if v := resolveAlias(f.val); v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				st.pos[k+"."+v.Content[j].Value] = v.Content[j].Line
			}
		}
		if k == "headers" {
			st.Headers = md
		} else {
			st.Trailers = md
		}
	}
	for _, k := range []string{"delay", "interval"} {
		f, ok := fs[k]
		if !ok {
			continue
		}
		v := resolveAlias(f.val)
		if v.Kind != yaml.ScalarNode {
			errs = append(errs, atLine(k, v.Line, fmt.Errorf("%s must be a duration such as 200ms", k)))
		} else if d, err := parseDurationOf(k, v.Value); err != nil {
			errs = append(errs, atLine(k, v.Line, err))
		} else if k == "delay" {
			st.Delay = d
		} else {
			st.Interval = d
		}
	}
	if f, ok := fs["stream"]; ok {
		if v := resolveAlias(f.val); v.Kind != yaml.SequenceNode {
			errs = append(errs, atLine("stream", v.Line, errors.New("stream must be a list of messages")))
		} else {
			sv, _ := vd.value(v, "stream")
			st.Stream, _ = sv.([]any)
		}
	}
	if f, ok := fs["repeat"]; ok {
		v := resolveAlias(f.val)
		var r int64
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&r) != nil {
			errs = append(errs, atLine("repeat", v.Line, fmt.Errorf("repeat must be a whole number from 1 to %d", MaxRepeat)))
		} else if r < 1 || r > MaxRepeat {
			errs = append(errs, atLine("repeat", v.Line, repeatError(r)))
		} else {
			st.Repeat = int(r)
		}
	}
	if f, ok := fs["echo"]; ok {
		v := resolveAlias(f.val)
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" || v.Decode(&st.Echo) != nil {
			errs = append(errs, atLine("echo", v.Line, errors.New("echo must be true or false")))
		}
	}
	// The semantic checks, shared with stubs built in Go, on what decoded
	// well: a key whose value did not decode was reported already.
	var bad []string
	for _, err := range errs {
		if ke, ok := err.(*keyError); ok && !ke.soft {
			bad = append(bad, ke.key)
		}
	}
	checked := st.check(func(key string) bool {
		for _, b := range bad {
			if b == key || strings.HasPrefix(b, key+".") || strings.HasPrefix(key, b+".") {
				return true
			}
		}
		return false
	})
	if err := errors.Join(append(errs, checked)...); err != nil {
		st.damaged = true
		ps := st.Problems(i, err)
		if checked == nil && allSoft(errs) {
			return st, &Damaged{Stub: st, Problems: ps}
		}
		return st, ps
	}
	return st, nil
}

// Damaged is DecodeStub's error for a stub whose only problems left parts
// of it out (unknown or repeated keys, headers, trailers or a delay that
// did not decode): Stub is the rest, whole enough for a protocol mock to
// check against its schema, so that one run reports those problems too.
type Damaged struct {
	Stub     Stub
	Problems Problems
}

func (d *Damaged) Error() string { return d.Problems.Error() }

// As lets errors.As find the Problems.
func (d *Damaged) As(target any) bool {
	if p, ok := target.(*Problems); ok {
		*p = d.Problems
		return true
	}
	return false
}

// allSoft reports whether every problem left a key out rather than holding
// a wrong value the protocol mock would trip over: unknown and repeated
// keys; headers, trailers and delay, which no protocol check reads; and
// interval, repeat and echo, which the stub is whole without (left out,
// they are unset, which every method accepts).
func allSoft(errs []error) bool {
	for _, err := range errs {
		var ke *keyError
		if !errors.As(err, &ke) {
			return false
		}
		top, _, _ := strings.Cut(ke.key, ".")
		switch {
		case ke.soft:
		case top == "headers", top == "trailers", top == "delay", top == "interval", top == "repeat", top == "echo":
		default:
			return false
		}
	}
	return true
}

// repeatError is the problem with a repeat out of range.
func repeatError(r int64) error {
	return fmt.Errorf("repeat %d: want a whole number from 1 to %d", r, MaxRepeat)
}

func decodeError(n *yaml.Node, vd valueDecoder) *StubError {
	n = resolveAlias(n)
	fs, ok := mappingFields(n, "error", "error", vd.errs, "code", "message", "details", "exception", "fields")
	e := &StubError{}
	if !ok {
		return e
	}
	for k, f := range fs {
		vd.pos["error."+k] = f.key.Line
	}
	scalar := func(k, what string) string {
		f, ok := fs[k]
		if !ok {
			return ""
		}
		v := resolveAlias(f.val)
		if v.Kind != yaml.ScalarNode || isNull(v) {
			vd.fail("error."+k, v, "%s", what)
			return ""
		}
		vd.pos["error."+k] = v.Line
		return v.Value
	}
	e.Code = scalar("code", "error code must be a name such as NOT_FOUND or a number")
	e.Message = scalar("message", "error message must be a string")
	e.Exception = scalar("exception", "error exception must be the name of a declared exception")
	if f, ok := fs["details"]; ok {
		v := resolveAlias(f.val)
		if v.Kind != yaml.SequenceNode {
			vd.fail("error.details", v, "error details must be a list")
		} else {
			for j, d := range v.Content {
				key := "error.details." + strconv.Itoa(j)
				vd.at(key, d)
				dv, _ := vd.value(d, key)
				m, ok := dv.(map[string]any)
				if !ok {
					vd.fail(key, d, "each error detail must be a mapping with an \"@type\"")
					continue
				}
				e.Details = append(e.Details, m)
			}
		}
	}
	if f, ok := fs["fields"]; ok {
		v, _ := vd.value(f.val, "error.fields")
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			vd.fail("error.fields", resolveAlias(f.val), "error fields must be a mapping of the exception's field names to values")
		}
		e.Fields = m
	}
	return e
}

// Validate checks every stub and normalises Method in place. ParseStubs
// calls it; callers that build Stubs in Go should too. Every problem is
// reported, as Problems.
func (s *Stubs) Validate() error {
	var ps Problems
	for i := range s.Stubs {
		st := &s.Stubs[i]
		ps = append(ps, st.Problems(i, st.Check())...)
	}
	if ps = ps.normalise(); len(ps) > 0 {
		return ps
	}
	return nil
}

// Check runs Validate's checks on one stub, normalising its Method, and
// returns every problem joined, each at its key: turn them into Problems
// with Stub.Problems.
func (s *Stub) Check() error { return s.check(nil) }

// check runs the semantic checks on a stub, skipping the top-level keys
// skip reports (they failed to decode and were reported already), and
// returns every problem joined, each at its key. It normalises Method.
func (s *Stub) check(skip func(key string) bool) error {
	if skip == nil {
		skip = func(string) bool { return false }
	}
	var errs []error
	if !skip("method") {
		if m, err := CanonicalMethod(s.Method); err != nil {
			errs = append(errs, At("method", err))
		} else {
			s.Method = m
		}
	}
	if !skip("match") {
		for _, k := range sortedKeys(s.Match) {
			if err := checkPath(k); err != nil {
				errs = append(errs, At("match."+k, fmt.Errorf("bad match key: %w", err)))
			}
		}
	}
	for _, err := range checkTemplates(s.Response, "response") {
		if ke, ok := err.(*keyError); !ok || !skip(ke.key) {
			errs = append(errs, err)
		}
	}
	if s.Error != nil {
		if s.Response != nil {
			errs = append(errs, At("error", errors.New("stub has both response and error; keep one")))
		}
		for _, err := range s.Error.check() {
			if ke, ok := err.(*keyError); !ok || !skip(ke.key) {
				errs = append(errs, err)
			}
		}
	}
	for _, k := range []string{"headers", "trailers"} {
		if skip(k) {
			continue
		}
		md := s.Headers
		if k == "trailers" {
			md = s.Trailers
		}
		for _, name := range slices.Sorted(maps.Keys(md)) {
			if err := checkMetadataKey(name); err != nil {
				errs = append(errs, At(k+"."+name, err))
			}
		}
	}
	if s.Delay < 0 {
		errs = append(errs, At("delay", fmt.Errorf("delay %s must not be negative", s.Delay)))
	}
	errs = append(errs, s.checkStream(skip)...)
	return errors.Join(errs...)
}

// checkStream is check's half for the streaming keys: what fits together
// whatever the method. Which keys suit which kind of method is the
// protocol mock's to say, as it knows the method.
func (s *Stub) checkStream(skip func(key string) bool) []error {
	var errs []error
	if s.Stream != nil && !skip("stream") {
		if s.Response != nil {
			errs = append(errs, At("stream", errors.New("stub has both response and stream; keep one (a response alone is a stream of one message)")))
		}
		for _, err := range checkTemplates(s.Stream, "stream") {
			if ke, ok := err.(*keyError); !ok || !skip(ke.key) {
				errs = append(errs, err)
			}
		}
	}
	if s.Echo && (s.Response != nil || s.Stream != nil) {
		errs = append(errs, At("echo", errors.New("echo sends back the message received, so the stub can have no response or stream; keep one")))
	}
	if s.Interval < 0 {
		errs = append(errs, At("interval", fmt.Errorf("interval %s must not be negative", s.Interval)))
	}
	if s.Repeat < 0 || s.Repeat > MaxRepeat {
		errs = append(errs, At("repeat", repeatError(int64(s.Repeat))))
	}
	return errs
}

// check is the protocol-neutral half of an error's checks: code,
// exception and details fit together, and templates are whole strings.
// Whether a code is right for the protocol, and whether an exception is
// declared, is the protocol mock's to say.
func (e *StubError) check() []error {
	var errs []error
	switch {
	case e.Exception != "":
		if e.Code != "" {
			errs = append(errs, At("error.code", errors.New("a Thrift exception carries no status code (the gateway takes it from the route's exceptions: or the IDL's http.status); drop code")))
		}
		if len(e.Details) > 0 {
			errs = append(errs, At("error.details", errors.New("an exception takes its fields from fields, not details")))
		}
	case len(e.Fields) > 0:
		errs = append(errs, At("error.fields", errors.New("fields are a Thrift exception's: name it with exception")))
	case e.Code == "" && len(e.Details) == 0:
		errs = append(errs, At("error.code", errors.New("error has no code")))
	case e.Code != "":
		c, err := ParseCode(e.Code)
		if err == nil && c == codes.OK {
			err = errors.New("error code OK is not an error; use response instead")
		}
		if err != nil {
			errs = append(errs, At("error.code", err))
		}
	}
	errs = append(errs, checkTemplates(e.Message, "error.message")...)
	for i, d := range e.Details {
		key := "error.details." + strconv.Itoa(i)
		if err := checkDetail(d); err != nil {
			errs = append(errs, At(key, err))
		}
		errs = append(errs, checkTemplates(map[string]any(d), key)...)
	}
	errs = append(errs, checkTemplates(e.Fields, "error.fields")...)
	return errs
}

func checkDetail(m map[string]any) error {
	t, ok := m["@type"].(string)
	if !ok || t == "" {
		return errors.New(`error detail has no "@type" (e.g. "@type": type.googleapis.com/google.rpc.ErrorInfo)`)
	}
	return nil
}

var metadataKey = regexp.MustCompile(`^[0-9a-z_.-]+$`)

// checkMetadataKey rejects keys grpc-go would refuse or silently rewrite,
// so a stub never appears to send a header that never arrives.
func checkMetadataKey(k string) error {
	l := strings.ToLower(k)
	switch {
	case !metadataKey.MatchString(l):
		return fmt.Errorf("metadata key %q may only hold letters, digits, '-', '_' and '.'", k)
	case strings.HasPrefix(l, "grpc-"):
		return fmt.Errorf("metadata key %q: grpc-* keys are reserved", k)
	}
	return nil
}

func checkPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return errors.New("empty path segment")
		}
	}
	return nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CanonicalMethod turns "/pkg.Svc/M", "pkg.Svc/M" or "pkg.Svc.M" into
// "pkg.Svc/M", the one spelling stubs are compared in.
func CanonicalMethod(m string) (string, error) {
	s := strings.TrimPrefix(strings.TrimSpace(m), "/")
	var svc, name string
	if i := strings.IndexByte(s, '/'); i >= 0 {
		svc, name = s[:i], s[i+1:]
	} else if i := strings.LastIndexByte(s, '.'); i >= 0 {
		svc, name = s[:i], s[i+1:]
	} else {
		return "", fmt.Errorf("method %q: want package.Service/Method", m)
	}
	if !identRE.MatchString(name) {
		return "", fmt.Errorf("method %q: want package.Service/Method", m)
	}
	for _, seg := range strings.Split(svc, ".") {
		if !identRE.MatchString(seg) {
			return "", fmt.Errorf("method %q: want package.Service/Method", m)
		}
	}
	return svc + "/" + name, nil
}

// codeNames holds the canonical google.rpc.Code names, the spelling users
// see in JSON error bodies.
var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

// ParseCode accepts "NOT_FOUND", "not_found", "NotFound" (grpc-go's
// spelling), "CANCELED" and "5": people copy codes from all of them.
func ParseCode(s string) (codes.Code, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseUint(t, 10, 32); err == nil {
		if n >= uint64(len(codeNames)) {
			return 0, fmt.Errorf("unknown status code %q: numbers run from 0 to %d", s, len(codeNames)-1)
		}
		return codes.Code(n), nil
	}
	key := strings.ToUpper(strings.NewReplacer("_", "", "-", "", " ", "").Replace(t))
	if key == "CANCELED" {
		return codes.Canceled, nil
	}
	for i, name := range codeNames {
		if key == strings.ReplaceAll(name, "_", "") {
			return codes.Code(i), nil
		}
	}
	return 0, fmt.Errorf("unknown status code %q: want a name such as NOT_FOUND or a number", s)
}

// CodeName is the canonical google.rpc.Code name of c ("NOT_FOUND"), for logs
// that should read like the stub file.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE(" + strconv.Itoa(int(c)) + ")"
}

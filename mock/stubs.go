package mock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"gopkg.in/yaml.v3"
)

// Stubs is a stub file: a list of canned answers tried in order.
type Stubs struct {
	Stubs []Stub `yaml:"stubs" json:"stubs"`
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
	// Delay is waited before answering, for timeout demos.
	Delay Duration `yaml:"delay,omitempty" json:"delay,omitempty"`

	// Where the stub was loaded from, so that errors and call logs can
	// point the user at the line to edit.
	file string
	line int
}

// StubError is a status to return instead of a response.
type StubError struct {
	// Code is a gRPC code: "NOT_FOUND", "NotFound" or "5".
	Code    string `yaml:"code" json:"code"`
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// Details are google.protobuf.Any values in proto3 JSON form, each with
	// an "@type".
	Details []map[string]any `yaml:"details,omitempty" json:"details,omitempty"`
}

// Source is "file:line" for a stub read from a file, "" otherwise.
func (s *Stub) Source() string {
	if s.line == 0 {
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

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, fmt.Errorf("delay %q has no unit; write e.g. %sms or %ss", s, s, s)
		}
		return 0, fmt.Errorf("bad delay %q: want a duration such as 200ms or 1.5s", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("bad delay %q: must not be negative", s)
	}
	return Duration(v), nil
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return lineErrorf(n, "delay must be a duration such as 200ms")
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return lineErrorf(n, "%v", err)
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

// LoadStubs reads and validates a stub file.
func LoadStubs(path string) (*Stubs, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseStubs(b, path)
}

// ParseStubs parses and validates a stub file; name is used in errors and
// in Stub.Source.
func ParseStubs(b []byte, name string) (*Stubs, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var s Stubs
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fileError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fileError(name, err)
		}
		return nil, fmt.Errorf("%s:%d: only one YAML document is allowed in a stub file", name, extra.Line)
	}
	for i := range s.Stubs {
		s.Stubs[i].file = name
	}
	// Structure was checked while decoding, with exact lines; Validate
	// repeats the semantic checks so that stubs built in Go get them too.
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Stubs) UnmarshalYAML(n *yaml.Node) error {
	// x-* keys are ignored so that YAML anchors shared by several stubs
	// have somewhere to live, the convention Docker Compose made familiar.
	fs, err := mappingFields(n, "stub file", "stubs", "x-*")
	if err != nil {
		return err
	}
	f, ok := fs["stubs"]
	if !ok {
		return nil
	}
	v := resolveAlias(f.val)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return lineErrorf(v, "stubs must be a list")
	}
	out := make([]Stub, len(v.Content))
	for i, c := range v.Content {
		if err := out[i].UnmarshalYAML(c); err != nil {
			return err
		}
	}
	s.Stubs = out
	return nil
}

func (s *Stub) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	fs, err := mappingFields(n, "stub", "method", "match", "response", "error", "headers", "trailers", "delay")
	if err != nil {
		return err
	}
	var st Stub
	st.line = n.Line
	if f, ok := fs["method"]; ok {
		v := resolveAlias(f.val)
		if v.Kind != yaml.ScalarNode {
			return lineErrorf(v, "method must be a string")
		}
		m, err := CanonicalMethod(v.Value)
		if err != nil {
			return lineErrorf(v, "%v", err)
		}
		st.Method = m
	} else {
		return lineErrorf(n, "stub has no method")
	}
	if f, ok := fs["match"]; ok {
		v, err := nodeValue(f.val)
		if err != nil {
			return err
		}
		if v != nil {
			m, ok := v.(map[string]any)
			if !ok {
				return lineErrorf(f.val, "match must be a mapping of request paths to values")
			}
			for k := range m {
				if err := checkPath(k); err != nil {
					return lineErrorf(f.val, "match key %q: %v", k, err)
				}
			}
			st.Match = m
		}
	}
	if f, ok := fs["response"]; ok {
		v, err := nodeValue(f.val)
		if err != nil {
			return err
		}
		if err := checkTemplates(v, "response"); err != nil {
			return lineErrorf(f.val, "%v", err)
		}
		st.Response = v
	}
	if f, ok := fs["error"]; ok {
		st.Error = new(StubError)
		if err := st.Error.UnmarshalYAML(f.val); err != nil {
			return err
		}
		if _, has := fs["response"]; has {
			return lineErrorf(f.key, "stub has both response and error; keep one")
		}
	}
	for _, k := range []string{"headers", "trailers"} {
		f, ok := fs[k]
		if !ok {
			continue
		}
		var md map[string]string
		if err := f.val.Decode(&md); err != nil {
			return lineErrorf(f.val, "%s must be a mapping of names to strings", k)
		}
		for name := range md {
			if err := checkMetadataKey(name); err != nil {
				return lineErrorf(f.val, "%s: %v", k, err)
			}
		}
		if k == "headers" {
			st.Headers = md
		} else {
			st.Trailers = md
		}
	}
	if f, ok := fs["delay"]; ok {
		if err := st.Delay.UnmarshalYAML(f.val); err != nil {
			return err
		}
	}
	*s = st
	return nil
}

func (e *StubError) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	fs, err := mappingFields(n, "error", "code", "message", "details")
	if err != nil {
		return err
	}
	var out StubError
	f, ok := fs["code"]
	if !ok {
		return lineErrorf(n, "error has no code")
	}
	cn := resolveAlias(f.val)
	if cn.Kind != yaml.ScalarNode {
		return lineErrorf(cn, "error code must be a name such as NOT_FOUND or a number")
	}
	c, err := ParseCode(cn.Value)
	if err != nil {
		return lineErrorf(cn, "%v", err)
	}
	if c == codes.OK {
		return lineErrorf(cn, "error code OK is not an error; use response instead")
	}
	out.Code = cn.Value
	if f, ok := fs["message"]; ok {
		v := resolveAlias(f.val)
		if v.Kind != yaml.ScalarNode {
			return lineErrorf(v, "error message must be a string")
		}
		out.Message = v.Value
	}
	if f, ok := fs["details"]; ok {
		v := resolveAlias(f.val)
		if v.Kind != yaml.SequenceNode {
			return lineErrorf(v, "error details must be a list")
		}
		for _, d := range v.Content {
			dv, err := nodeValue(d)
			if err != nil {
				return err
			}
			m, ok := dv.(map[string]any)
			if !ok {
				return lineErrorf(d, "each error detail must be a mapping with an \"@type\"")
			}
			if err := checkDetail(m); err != nil {
				return lineErrorf(d, "%v", err)
			}
			out.Details = append(out.Details, m)
		}
	}
	*e = out
	return nil
}

// Validate checks every stub and normalises Method in place. ParseStubs
// calls it; callers that build Stubs in Go should too.
func (s *Stubs) Validate() error {
	for i := range s.Stubs {
		st := &s.Stubs[i]
		if err := st.validate(); err != nil {
			return fmt.Errorf("%s: %w", st.describe(i), err)
		}
	}
	return nil
}

// describe names a stub in errors: by its file position when it has one.
func (s *Stub) describe(i int) string {
	if src := s.Source(); src != "" {
		return fmt.Sprintf("%s: stub #%d (%s)", src, i, s.Method)
	}
	return fmt.Sprintf("stub #%d (%s)", i, s.Method)
}

func (s *Stub) validate() error {
	m, err := CanonicalMethod(s.Method)
	if err != nil {
		return err
	}
	s.Method = m
	for k := range s.Match {
		if err := checkPath(k); err != nil {
			return fmt.Errorf("match key %q: %w", k, err)
		}
	}
	if err := checkTemplates(s.Response, "response"); err != nil {
		return err
	}
	if s.Error != nil {
		if s.Response != nil {
			return errors.New("stub has both response and error; keep one")
		}
		c, err := s.Error.GRPCCode()
		if err != nil {
			return err
		}
		if c == codes.OK {
			return errors.New("error code OK is not an error; use response instead")
		}
		for i, d := range s.Error.Details {
			if err := checkDetail(d); err != nil {
				return fmt.Errorf("error.details[%d]: %w", i, err)
			}
		}
	}
	for k := range s.Headers {
		if err := checkMetadataKey(k); err != nil {
			return fmt.Errorf("headers: %w", err)
		}
	}
	for k := range s.Trailers {
		if err := checkMetadataKey(k); err != nil {
			return fmt.Errorf("trailers: %w", err)
		}
	}
	if s.Delay < 0 {
		return fmt.Errorf("delay %s must not be negative", s.Delay)
	}
	return nil
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

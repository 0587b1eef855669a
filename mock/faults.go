package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Fault makes the calls to one method (a NATS subject pattern) slow or
// broken, so that a user can rehearse an outage against a mock. See the
// package documentation for the knobs and the order they are drawn in.
type Fault struct {
	// Method is the gRPC or Thrift method, spelled as in a stub; the
	// protocol mock normalises it. NATS faults use Subject instead.
	Method  string `yaml:"method,omitempty" json:"method,omitempty"`
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	// Latency is waited before anything else, on every call.
	Latency Latency `yaml:"latency,omitempty" json:"latency,omitzero"`
	// The rates are independent probabilities from 0 to 1, drawn in this
	// order; the first that hits decides the call.
	HangRate    float64 `yaml:"hang_rate,omitempty" json:"hang_rate,omitempty"`
	DropRate    float64 `yaml:"drop_rate,omitempty" json:"drop_rate,omitempty"`
	GarbageRate float64 `yaml:"garbage_rate,omitempty" json:"garbage_rate,omitempty"`
	ErrorRate   float64 `yaml:"error_rate,omitempty" json:"error_rate,omitempty"`
	// ErrorCode is what an error_rate hit answers: a gRPC code (name or
	// number), for Thrift also a TApplicationException type, for NATS
	// also an HTTP-like status. Empty means UNAVAILABLE.
	ErrorCode string `yaml:"error_code,omitempty" json:"error_code,omitempty"`

	// Where the fault was read from, as for a Stub.
	file  string
	line  int
	index int
	pos   map[string]int
}

// DefaultFaultCode is what an error_rate hit answers when the fault gives
// no error_code: the code of an outage.
const DefaultFaultCode = "UNAVAILABLE"

// Name is the method or subject the fault is for.
func (f *Fault) Name() string {
	if f.Subject != "" {
		return f.Subject
	}
	return f.Method
}

// Source is "file:line" for a fault read from a file, "" otherwise.
func (f *Fault) Source() string {
	if f.file == "" || f.line == 0 {
		return f.file
	}
	return fmt.Sprintf("%s:%d", f.file, f.line)
}

// Problems turns what a check found wrong with the fault into problems
// naming its file, the line of the key concerned, and the key as
// faults[i].key (just key when i < 0, for a fault sent on its own).
func (f *Fault) Problems(i int, err error) Problems {
	if f.file != "" && i >= 0 {
		i = f.index
	}
	return keyedProblems(f.file, f.line, f.lineOf, "faults", i, err)
}

func (f *Fault) lineOf(key string) int {
	if l, ok := f.pos[key]; ok {
		return l
	}
	return f.line
}

// rates lists the rates in the order they are drawn.
func (f *Fault) rates() []struct {
	key     string
	rate    float64
	outcome FaultOutcome
} {
	return []struct {
		key     string
		rate    float64
		outcome FaultOutcome
	}{
		{"hang_rate", f.HangRate, FaultHang},
		{"drop_rate", f.DropRate, FaultDrop},
		{"garbage_rate", f.GarbageRate, FaultGarbage},
		{"error_rate", f.ErrorRate, FaultError},
	}
}

// Check reports what is wrong with the knobs, every problem joined, each at
// its key (see At). Whether the method exists and the error code suits the
// protocol is the protocol mock's to say (FaultRules.Check).
func (f *Fault) Check() error {
	var errs []error
	for _, r := range f.rates() {
		if math.IsNaN(r.rate) || r.rate < 0 || r.rate > 1 {
			errs = append(errs, At(r.key, fmt.Errorf("%s %v: want a probability from 0 to 1", r.key, r.rate)))
		}
	}
	if err := f.Latency.check(); err != nil {
		errs = append(errs, At("latency", err))
	}
	return errors.Join(errs...)
}

// Latency is a fault's added wait: a duration ("200ms"), or a range
// ("50ms-200ms") drawn uniformly for each call.
type Latency struct{ Min, Max time.Duration }

// IsZero lets encoding/json leave an unset latency out (omitzero).
func (l Latency) IsZero() bool { return l.Min == 0 && l.Max == 0 }

func (l Latency) String() string {
	if l.Max <= l.Min {
		return l.Min.String()
	}
	return l.Min.String() + "-" + l.Max.String()
}

func (l Latency) check() error {
	switch {
	case l.Min < 0 || l.Max < 0:
		return fmt.Errorf("latency %s must not be negative", l)
	case l.Max != 0 && l.Max < l.Min:
		return fmt.Errorf("latency range %s-%s runs backwards", l.Min, l.Max)
	}
	return nil
}

// ParseLatency reads "200ms" or "50ms-200ms". A bare number is refused, as
// for a stub's delay, because "latency: 200" is ambiguous.
func ParseLatency(s string) (Latency, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return Latency{}, fmt.Errorf("latency %q must not be negative", s)
	}
	lo, hi, isRange := strings.Cut(t, "-")
	one := func(part string) (time.Duration, error) {
		part = strings.TrimSpace(part)
		d, err := time.ParseDuration(part)
		if err != nil {
			if _, nerr := strconv.ParseFloat(part, 64); nerr == nil {
				return 0, fmt.Errorf("latency %q has no unit; write e.g. %sms", s, part)
			}
			return 0, fmt.Errorf("bad latency %q: want a duration such as 200ms or a range such as 50ms-200ms", s)
		}
		return d, nil
	}
	min, err := one(lo)
	if err != nil {
		return Latency{}, err
	}
	l := Latency{Min: min, Max: min}
	if isRange {
		if l.Max, err = one(hi); err != nil {
			return Latency{}, err
		}
	}
	return l, l.check()
}

func (l Latency) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

func (l Latency) MarshalYAML() (any, error) { return l.String(), nil }

func (l *Latency) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`latency must be a string such as "200ms" or "50ms-200ms"`)
	}
	v, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// faultKeys are a fault's keys after its name key, in the order problems
// list them.
var faultKeys = []string{"latency", "hang_rate", "drop_rate", "garbage_rate", "error_rate", "error_code"}

// knownFaultKeys are the keys of a fault named by nameKey: "method", or
// "subject" (NATS, which takes method too, as its stubs do).
func knownFaultKeys(nameKey string) []string {
	keys := []string{nameKey}
	if nameKey == "subject" {
		keys = append(keys, "method")
	}
	return append(keys, faultKeys...)
}

// fill sets the fault's fields from m, a fault as decoded YAML or JSON,
// and returns every problem with a value's type, each at its key. Ranges
// are Check's.
func (f *Fault) fill(m map[string]any, nameKey string) []error {
	var errs []error
	known := knownFaultKeys(nameKey)
	var named []string
	for _, k := range sortedKeys(m) {
		v := m[k]
		if !slices.Contains(known, k) {
			errs = append(errs, &keyError{key: k, soft: true, err: fmt.Errorf("unknown key in fault (want one of %s)", strings.Join(known, ", "))})
			continue
		}
		switch k {
		case "method", "subject":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				errs = append(errs, At(k, fmt.Errorf("%s must be a non-empty string", k)))
				continue
			}
			named = append(named, k)
			if nameKey == "subject" {
				f.Subject = s
			} else {
				f.Method = s
			}
		case "latency":
			s, ok := v.(string)
			if n, isNum := number(v); isNum {
				errs = append(errs, At(k, fmt.Errorf("latency %v has no unit; write e.g. %vms", n, n)))
				continue
			} else if !ok {
				errs = append(errs, At(k, errors.New("latency must be a duration such as 200ms or a range such as 50ms-200ms")))
				continue
			}
			l, err := ParseLatency(s)
			if err != nil {
				errs = append(errs, At(k, err))
				continue
			}
			f.Latency = l
		case "error_code":
			s, ok := scalarText(v)
			if _, isBool := v.(bool); !ok || isBool || s == "" {
				errs = append(errs, At(k, errors.New("error_code must be a code name such as UNAVAILABLE or a number")))
				continue
			}
			f.ErrorCode = s
		default:
			r, ok := number(v)
			if !ok {
				errs = append(errs, At(k, fmt.Errorf("%s must be a number from 0 to 1", k)))
				continue
			}
			switch k {
			case "hang_rate":
				f.HangRate = r
			case "drop_rate":
				f.DropRate = r
			case "garbage_rate":
				f.GarbageRate = r
			case "error_rate":
				f.ErrorRate = r
			}
		}
	}
	switch {
	case len(named) == 0 && m != nil:
		errs = append(errs, At(nameKey, fmt.Errorf("fault has no %s", nameKey)))
	case len(named) > 1:
		errs = append(errs, At(named[1], fmt.Errorf("fault has both %s and %s; keep one", named[0], named[1])))
	}
	return errs
}

// number reads a rate from decoded YAML or JSON.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// DecodeFault decodes and checks the fault at node n, the i-th of file's
// faults list. nameKey is "method" (gRPC, Thrift) or "subject" (NATS, which
// takes method too). Every problem is reported, as Problems; the fault is
// still worth a protocol mock's checks when it has a name.
func DecodeFault(n *yaml.Node, file string, i int, nameKey string) (Fault, error) {
	n = resolveAlias(n)
	f := Fault{file: file, line: n.Line, index: i, pos: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		return f, f.Problems(i, atLine("", n.Line, errors.New("fault must be a mapping")))
	}
	var errs []error
	vd := valueDecoder{errs: &errs, pos: f.pos}
	v, _ := vd.value(n, "")
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	errs = append(errs, f.fill(m, nameKey)...)
	errs = append(errs, f.Check())
	if err := errors.Join(errs...); err != nil {
		return f, f.Problems(i, err)
	}
	return f, nil
}

// DecodeFaults decodes a stub file's faults list, node n; see DecodeFault.
// The faults that have a name come back beside the problems, for the
// protocol mock to check too, so that one run reports everything.
func DecodeFaults(n *yaml.Node, file, nameKey string) ([]Fault, Problems) {
	n = resolveAlias(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fileProblems(file, atLine("faults", n.Line, errors.New("must be a list")))
	}
	var out []Fault
	var ps Problems
	for i, c := range n.Content {
		f, err := DecodeFault(c, file, i, nameKey)
		var more Problems
		if errors.As(err, &more) {
			ps = append(ps, more...)
		}
		if f.Name() != "" {
			out = append(out, f)
		}
	}
	return out, ps
}

// DecodeSeed reads a stub file's seed: a whole number, which makes the
// fault draws repeat from one run to the next.
func DecodeSeed(n *yaml.Node, file string) (*uint64, Problems) {
	n = resolveAlias(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return &v, nil
		}
	}
	return nil, fileProblems(file, atLine("seed", n.Line, fmt.Errorf("seed %q: want a whole number from 0 to %d", n.Value, uint64(math.MaxUint64))))
}

// fileProblems are problems about a stub file's top-level keys.
func fileProblems(file string, err error) Problems {
	return keyedProblems(file, 0, func(string) int { return 0 }, "", -1, err)
}

// DecodeFaultJSON decodes one fault sent to a control endpoint, reporting
// every problem with a key or a value's type (as Problems, keyed without a
// list index); ranges are the table's to check.
func DecodeFaultJSON(b []byte, nameKey string) (Fault, error) {
	v, err := DecodeRequest(b)
	if err != nil {
		return Fault{}, Problems{{Msg: "the body is not JSON: " + err.Error()}}
	}
	return faultFromJSON(v, nameKey, -1)
}

func faultFromJSON(v any, nameKey string, i int) (Fault, error) {
	var f Fault
	f.index = i
	m, ok := v.(map[string]any)
	if !ok {
		return f, f.Problems(i, errors.New("a fault is a JSON object such as {\""+nameKey+"\": ..., \"error_rate\": 1}"))
	}
	if err := errors.Join(f.fill(m, nameKey)...); err != nil {
		return f, f.Problems(i, err)
	}
	return f, nil
}

// FaultOutcome is what a fault decided for one call.
type FaultOutcome int

const (
	// FaultNone: the call is answered as usual (after the latency).
	FaultNone FaultOutcome = iota
	// FaultHang: no answer until the client gives up or the mock stops.
	FaultHang
	// FaultDrop: the connection is closed without an answer (gRPC, Thrift);
	// no answer (NATS).
	FaultDrop
	// FaultGarbage: an answer that is not a valid message (see Garbage).
	FaultGarbage
	// FaultError: an error with the fault's code.
	FaultError
)

func (o FaultOutcome) String() string {
	switch o {
	case FaultHang:
		return "hang"
	case FaultDrop:
		return "drop"
	case FaultGarbage:
		return "garbage"
	case FaultError:
		return "error"
	}
	return "none"
}

// Garbage is what a garbage_rate hit sends instead of a reply: its first
// byte is a protobuf tag with the invalid wire type 7, which no JSON text
// starts with and no Thrift protocol accepts as a message header, so every
// client fails to decode it at once rather than waiting for more bytes.
var Garbage = []byte("\x0f\xff\xfe\xfd switchboard mock fault: garbage, not a valid message")

// FaultDecision is what the faults decided for one call.
type FaultDecision struct {
	// Fault is the method or subject of the fault that applied; "" when
	// none did.
	Fault   string
	Latency time.Duration
	Outcome FaultOutcome
	// Code is the error code to answer with, for FaultError.
	Code string
}

// Attrs are the call-log fields of a decision: fault (the outcome, or
// "latency" when only the latency applied) and fault_latency; none when no
// fault applied or it changed nothing.
func (d FaultDecision) Attrs() []slog.Attr {
	if d.Fault == "" || d.Outcome == FaultNone && d.Latency == 0 {
		return nil
	}
	what := d.Outcome.String()
	switch d.Outcome {
	case FaultNone:
		what = "latency"
	case FaultError:
		what = "error " + d.Code
	}
	attrs := []slog.Attr{slog.String("fault", what)}
	if d.Latency > 0 {
		attrs = append(attrs, DurationAttr("fault_latency", d.Latency))
	}
	return attrs
}

// FaultRules are what a protocol mock tells a FaultTable.
type FaultRules struct {
	// NameKey names a fault's method: "method" (gRPC, Thrift) or "subject"
	// (NATS).
	NameKey string
	// Check checks a fault's name and error code against the mock (a
	// method that does not exist, a code the protocol cannot send), every
	// problem joined, each at its key (At), and normalises the name to the
	// spelling Decide is given. Nil accepts any.
	Check func(f *Fault) error
	// Match reports whether a fault applies to a call to name; nil means
	// its normalised name is name.
	Match func(f *Fault, name string) bool
}

// FaultTable holds a mock's faults and the random source their rates are
// drawn from. It is safe for concurrent use: the control endpoint changes
// it while calls read it.
type FaultTable struct {
	rules FaultRules

	mu     sync.Mutex
	faults []Fault
	seed   uint64
	rng    *rand.Rand
}

// NewFaultTable returns an empty table with a random seed (Seed reports
// it, so that a run can be repeated).
func NewFaultTable(rules FaultRules) *FaultTable {
	if rules.NameKey == "" {
		rules.NameKey = "method"
	}
	t := &FaultTable{rules: rules}
	// Small enough to copy into a stub file, and exact in any JSON reader.
	t.SetSeed(rand.Uint64N(1_000_000_000))
	return t
}

// NameKey is "method" or "subject", the key naming a fault's method.
func (t *FaultTable) NameKey() string { return t.rules.NameKey }

// Check checks faults as Set would and returns them normalised; every
// problem is reported, as Problems, with the faults' files and lines when
// they were read from one.
func (t *FaultTable) Check(faults []Fault) ([]Fault, error) {
	out := slices.Clone(faults)
	var ps Problems
	seen := map[string]int{}
	for i := range out {
		f := &out[i]
		errs := []error{f.Check()}
		name := t.rules.NameKey
		switch {
		case name == "subject" && f.Method != "" && f.Subject != "":
			errs = append(errs, At("method", errors.New("fault has both subject and method; keep one")))
		case name == "subject" && f.Method != "":
			f.Subject, f.Method = f.Method, "" // method is the shared key's alias
		case name == "method" && f.Subject != "":
			errs = append(errs, At("subject", errors.New("only NATS faults name a subject; name a method")))
		}
		switch {
		case len(errs) > 1:
		case f.Name() == "":
			errs = append(errs, At(name, fmt.Errorf("fault has no %s", name)))
		case t.rules.Check != nil:
			errs = append(errs, t.rules.Check(f))
		}
		mine := f.Problems(i, errors.Join(errs...))
		ps = append(ps, mine...)
		if slices.ContainsFunc(mine, func(p Problem) bool { return p.Key == name || strings.HasSuffix(p.Key, "."+name) }) {
			continue // a name that did not check out is no repeat
		}
		if j, dup := seen[f.Name()]; dup {
			prev := fmt.Sprintf("faults[%d]", j)
			if l := out[j].line; out[j].file != "" && l > 0 {
				prev = fmt.Sprintf("the fault at line %d", l)
			}
			ps = append(ps, f.Problems(i, At(name, fmt.Errorf("%s %s already has a fault (%s); give each one fault", name, f.Name(), prev)))...)
			continue
		}
		seen[f.Name()] = i
	}
	if ps = ps.normalise(); len(ps) > 0 {
		return nil, ps
	}
	return out, nil
}

// Set replaces every fault, or none when any has a problem (Check's).
func (t *FaultTable) Set(faults []Fault) error {
	out, err := t.Check(faults)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.faults = out
	t.mu.Unlock()
	return nil
}

// Put adds f, or replaces the fault for the same method in place (its
// place matters for NATS subjects, tried in order). Its problems are keyed
// without a list index.
func (t *FaultTable) Put(f Fault) error {
	g, err := t.checkOne(f)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.IndexFunc(t.faults, func(h Fault) bool { return h.Name() == g.Name() }); i >= 0 {
		t.faults[i] = g
	} else {
		t.faults = append(t.faults, g)
	}
	return nil
}

// checkOne is Check for a fault on its own: its problems are keyed
// without a list index.
func (t *FaultTable) checkOne(f Fault) (Fault, error) {
	f.file, f.index = "", -1
	out, err := t.Check([]Fault{f})
	if err != nil {
		var ps Problems
		errors.As(err, &ps)
		for i := range ps {
			ps[i].Key = strings.TrimPrefix(strings.TrimPrefix(ps[i].Key, "faults[0]"), ".")
		}
		return Fault{}, ps
	}
	return out[0], nil
}

// Remove drops the fault for name (spelled any way Check accepts) and
// reports whether there was one.
func (t *FaultTable) Remove(name string) bool {
	probe := Fault{Method: name}
	if t.rules.NameKey == "subject" {
		probe = Fault{Subject: name}
	}
	if t.rules.Check != nil {
		_ = t.rules.Check(&probe) // normalises when it can
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.faults)
	t.faults = slices.DeleteFunc(t.faults, func(g Fault) bool { return g.Name() == probe.Name() || g.Name() == name })
	return len(t.faults) < n
}

// Clear drops every fault.
func (t *FaultTable) Clear() {
	t.mu.Lock()
	t.faults = nil
	t.mu.Unlock()
}

// Faults is a copy of the faults, in order.
func (t *FaultTable) Faults() []Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.faults)
}

// Seed is the seed the draws started from.
func (t *FaultTable) Seed() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seed
}

// SetSeed restarts the draws from seed: the same seed and the same calls
// give the same outcomes.
func (t *FaultTable) SetSeed(seed uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seed = seed
	// PCG because it is seedable and its output is specified, so a seed
	// means the same draws in every build.
	t.rng = rand.New(rand.NewPCG(seed, 0))
}

// Decide draws what happens to one call to name: the first fault in order
// that applies gives the latency (a range is drawn first), then each of
// its nonzero rates is drawn in the order hang, drop, garbage, error, and
// the first that hits is the outcome. A nil table decides nothing.
func (t *FaultTable) Decide(name string) FaultDecision {
	if t == nil {
		return FaultDecision{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.faults {
		f := &t.faults[i]
		if t.rules.Match != nil && !t.rules.Match(f, name) || t.rules.Match == nil && f.Name() != name {
			continue
		}
		d := FaultDecision{Fault: f.Name(), Latency: f.Latency.Min}
		if f.Latency.Max > f.Latency.Min {
			d.Latency += time.Duration(t.rng.Int64N(int64(f.Latency.Max-f.Latency.Min) + 1))
		}
		for _, r := range f.rates() {
			// Float64 is in [0, 1): a rate of 1 always hits, 0 never draws.
			if r.rate > 0 && t.rng.Float64() < r.rate {
				d.Outcome = r.outcome
				break
			}
		}
		if d.Outcome == FaultError {
			d.Code = f.ErrorCode
			if d.Code == "" {
				d.Code = DefaultFaultCode
			}
		}
		return d
	}
	return FaultDecision{}
}

// Wait waits d's latency; false means done or ctxDone closed first.
func (d FaultDecision) Wait(ctxDone, done <-chan struct{}) bool {
	if d.Latency <= 0 {
		return true
	}
	t := time.NewTimer(d.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctxDone:
	case <-done:
	}
	return false
}

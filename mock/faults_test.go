package mock

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that control endpoints take their goroutines with them
// when closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFaults(t *testing.T) {
	t.Parallel()
	s, err := ParseStubs([]byte(`
x-flaky: &flaky {error_rate: 0.25, error_code: 14}
stubs: []
seed: 42
faults:
  - method: /library.v1.LibraryService/GetBook
    latency: 50ms-200ms
    hang_rate: 0.1
    drop_rate: 0.2
    garbage_rate: 0.3
    error_rate: 0.4
    error_code: RESOURCE_EXHAUSTED
  - method: library.v1.LibraryService.ListBooks
    <<: *flaky
    latency: 1s
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed == nil || *s.Seed != 42 {
		t.Errorf("seed = %v", s.Seed)
	}
	if len(s.Faults) != 2 {
		t.Fatalf("got %d faults", len(s.Faults))
	}
	f := s.Faults[0]
	want := Fault{Method: "/library.v1.LibraryService/GetBook", Latency: Latency{50 * time.Millisecond, 200 * time.Millisecond},
		HangRate: 0.1, DropRate: 0.2, GarbageRate: 0.3, ErrorRate: 0.4, ErrorCode: "RESOURCE_EXHAUSTED"}
	if f.Method != want.Method || f.Latency != want.Latency || f.HangRate != want.HangRate || f.DropRate != want.DropRate ||
		f.GarbageRate != want.GarbageRate || f.ErrorRate != want.ErrorRate || f.ErrorCode != want.ErrorCode {
		t.Errorf("fault = %+v\nwant %+v", f, want)
	}
	if f.Source() != "f.yaml:6" {
		t.Errorf("Source() = %q", f.Source())
	}
	g := s.Faults[1]
	if g.ErrorRate != 0.25 || g.ErrorCode != "14" || g.Latency != (Latency{time.Second, time.Second}) {
		t.Errorf("merged fault = %+v", g)
	}
}

func TestFaultProblems(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"rate above 1", "faults:\n  - method: a.B/C\n    error_rate: 1.5\n", "x.yaml:3: faults[0].error_rate: error_rate 1.5: want a probability from 0 to 1"},
		{"negative rate", "faults:\n  - method: a.B/C\n    drop_rate: -0.1\n", "x.yaml:3: faults[0].drop_rate: drop_rate -0.1: want a probability from 0 to 1"},
		{"rate not a number", "faults:\n  - method: a.B/C\n    hang_rate: often\n", "x.yaml:3: faults[0].hang_rate: hang_rate must be a number from 0 to 1"},
		{"bad latency", "faults:\n  - method: a.B/C\n    latency: soon\n", "x.yaml:3: faults[0].latency: bad latency \"soon\""},
		{"latency without unit", "faults:\n  - method: a.B/C\n    latency: 200\n", "x.yaml:3: faults[0].latency: latency 200 has no unit; write e.g. 200ms"},
		{"latency backwards", "faults:\n  - method: a.B/C\n    latency: 2s-1s\n", "x.yaml:3: faults[0].latency: latency range 2s-1s runs backwards"},
		{"unknown key", "faults:\n  - method: a.B/C\n    eror_rate: 1\n", "x.yaml:3: faults[0].eror_rate: unknown key in fault (want one of method, latency, hang_rate, drop_rate, garbage_rate, error_rate, error_code)"},
		{"subject in a gRPC file", "faults:\n  - subject: a.b\n", "x.yaml:2: faults[0].subject: unknown key in fault"},
		{"no method", "faults:\n  - error_rate: 1\n", "x.yaml:2: faults[0].method: fault has no method"},
		{"not a list", "faults: {method: a.B/C}\n", "x.yaml:1: faults: must be a list"},
		{"not a mapping", "faults:\n  - a.B/C\n", "x.yaml:2: faults[0]: fault must be a mapping"},
		{"bad seed", "seed: soon\n", "x.yaml:1: seed: seed \"soon\": want a whole number"},
		{"negative seed", "seed: -1\n", "x.yaml:1: seed: seed \"-1\""},
		{"repeated key", "faults:\n  - method: a.B/C\n    error_rate: 1\n    error_rate: 0\n", "x.yaml:4: faults[0].error_rate: key \"error_rate\" is set twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStubs([]byte(c.yaml), "x.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestFaultProblemsAtOnce: every problem of every fault in one error, in
// file order, as for stubs.
func TestFaultProblemsAtOnce(t *testing.T) {
	t.Parallel()
	_, err := ParseStubs([]byte(`stubs:
  - method: a.B/C
    respnse: {}
faults:
  - method: a.B/C
    error_rate: 2
    latency: fast
  - drop_rate: 1
seed: x
`), "x.yaml")
	want := `x.yaml:3: stubs[0].respnse: unknown key in stub (want one of method, match, response, error, headers, trailers, delay)
x.yaml:6: faults[0].error_rate: error_rate 2: want a probability from 0 to 1
x.yaml:7: faults[0].latency: bad latency "fast": want a duration such as 200ms or a range such as 50ms-200ms
x.yaml:8: faults[1].method: fault has no method
x.yaml:9: seed: seed "x": want a whole number from 0 to 18446744073709551615`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestParseLatency(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Latency{
		"200ms":       {200 * time.Millisecond, 200 * time.Millisecond},
		"50ms-200ms":  {50 * time.Millisecond, 200 * time.Millisecond},
		" 1s - 1.5s ": {time.Second, 1500 * time.Millisecond},
		"0s":          {},
	} {
		got, err := ParseLatency(in)
		if err != nil || got != want {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1s", "1s-", "200", "1s-500ms", "soon"} {
		if _, err := ParseLatency(in); err == nil {
			t.Errorf("ParseLatency(%q): no error", in)
		}
	}
	if s := (Latency{50 * time.Millisecond, 200 * time.Millisecond}).String(); s != "50ms-200ms" {
		t.Errorf("String() = %q", s)
	}
}

func table(t *testing.T, faults ...Fault) *FaultTable {
	t.Helper()
	ft := NewFaultTable(FaultRules{NameKey: "method"})
	if err := ft.Set(faults); err != nil {
		t.Fatal(err)
	}
	return ft
}

// TestDecideOrder: each knob at rate 1 decides every call, and the rates
// are drawn in the documented order, hang first.
func TestDecideOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f    Fault
		want FaultOutcome
	}{
		{Fault{HangRate: 1, DropRate: 1, GarbageRate: 1, ErrorRate: 1}, FaultHang},
		{Fault{DropRate: 1, GarbageRate: 1, ErrorRate: 1}, FaultDrop},
		{Fault{GarbageRate: 1, ErrorRate: 1}, FaultGarbage},
		{Fault{ErrorRate: 1}, FaultError},
		{Fault{Latency: Latency{Min: time.Second}}, FaultNone},
	}
	for _, tt := range tests {
		tt.f.Method = "a.B/C"
		ft := table(t, tt.f)
		for range 20 {
			d := ft.Decide("a.B/C")
			if d.Outcome != tt.want || d.Fault != "a.B/C" {
				t.Fatalf("%+v: decided %+v, want %v", tt.f, d, tt.want)
			}
			if tt.want == FaultError && d.Code != DefaultFaultCode {
				t.Errorf("code %q, want the default %s", d.Code, DefaultFaultCode)
			}
		}
		if d := ft.Decide("a.B/D"); d.Fault != "" || d.Outcome != FaultNone {
			t.Errorf("another method got %+v", d)
		}
	}
}

// TestDecideSeeded: the same seed gives the same draws, a rate of 0.5
// gives both outcomes, and SetSeed restarts the sequence.
func TestDecideSeeded(t *testing.T) {
	t.Parallel()
	f := Fault{Method: "a.B/C", ErrorRate: 0.5, Latency: Latency{10 * time.Millisecond, 20 * time.Millisecond}}
	run := func(ft *FaultTable) string {
		var b strings.Builder
		for range 40 {
			d := ft.Decide("a.B/C")
			if d.Latency < 10*time.Millisecond || d.Latency > 20*time.Millisecond {
				t.Fatalf("latency %v outside 10ms-20ms", d.Latency)
			}
			if d.Outcome == FaultError {
				b.WriteByte('E')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := table(t, f), table(t, f)
	a.SetSeed(7)
	b.SetSeed(7)
	first := run(a)
	if second := run(b); first != second {
		t.Fatalf("same seed, different draws:\n%s\n%s", first, second)
	}
	if !strings.Contains(first, "E") || !strings.Contains(first, ".") {
		t.Errorf("rate 0.5 gave %s", first)
	}
	a.SetSeed(7)
	if again := run(a); again != first {
		t.Errorf("SetSeed did not restart the draws:\n%s\n%s", first, again)
	}
	if a.Seed() != 7 {
		t.Errorf("Seed() = %d", a.Seed())
	}
}

func TestFaultTableChecks(t *testing.T) {
	t.Parallel()
	ft := NewFaultTable(FaultRules{
		NameKey: "method",
		Check: func(f *Fault) error {
			if f.Method != "a.B/C" && f.Method != "/a.B/C" {
				return At("method", fmt.Errorf("no method %s", f.Method))
			}
			f.Method = "a.B/C"
			return nil
		},
	})
	err := ft.Set([]Fault{{Method: "a.B/C"}, {Method: "/a.B/C", ErrorRate: 2}, {Method: "x.Y/Z"}, {Method: "/a.B/C"}})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	want := "faults[1].error_rate: error_rate 2: want a probability from 0 to 1\n" +
		"faults[1].method: method a.B/C already has a fault (faults[0]); give each one fault\n" +
		"faults[2].method: no method x.Y/Z\n" +
		"faults[3].method: method a.B/C already has a fault (faults[0]); give each one fault"
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if len(ft.Faults()) != 0 {
		t.Error("Set with problems changed the table")
	}
	// Put normalises, replaces in place and keys problems without an index.
	if err := ft.Put(Fault{Method: "/a.B/C", ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ft.Put(Fault{Method: "a.B/C", DropRate: 1}); err != nil {
		t.Fatal(err)
	}
	if fs := ft.Faults(); len(fs) != 1 || fs[0].DropRate != 1 || fs[0].ErrorRate != 0 {
		t.Errorf("faults after two puts: %+v", fs)
	}
	if err := ft.Put(Fault{Method: "a.B/C", HangRate: 3}); err == nil || err.Error() != "hang_rate: hang_rate 3: want a probability from 0 to 1" {
		t.Errorf("Put error %v", err)
	}
	if !ft.Remove("/a.B/C") || ft.Remove("a.B/C") {
		t.Error("Remove did not remove exactly once")
	}
}

func TestNATSFaultNames(t *testing.T) {
	t.Parallel()
	ft := NewFaultTable(FaultRules{NameKey: "subject"})
	// method: is the shared key's alias for a subject, as in stubs.
	if err := ft.Set([]Fault{{Method: "orders.*.get", ErrorRate: 1}}); err != nil {
		t.Fatal(err)
	}
	if fs := ft.Faults(); fs[0].Subject != "orders.*.get" || fs[0].Method != "" {
		t.Errorf("faults %+v", fs)
	}
	if err := ft.Set([]Fault{{Method: "a", Subject: "b"}}); err == nil || !strings.Contains(err.Error(), "both subject and method") {
		t.Errorf("both: %v", err)
	}
	g := NewFaultTable(FaultRules{NameKey: "method"})
	if err := g.Set([]Fault{{Subject: "orders.42.get"}}); err == nil || !strings.Contains(err.Error(), "faults[0].subject: only NATS faults name a subject") {
		t.Errorf("subject for gRPC: %v", err)
	}
}

package wirejson

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var writeSeeds = flag.Bool("wirejson.write-seeds", false, "rewrite the seed corpus under testdata/fuzz/FuzzRender")

// fuzzTypes are the message types FuzzRender picks from.
var fuzzTypes = []string{
	"bindingtest.v1.Kinds", "bindingtest.v1.QueryKinds", "bindingtest.examplepb.Proto3Message",
	"bindingtest.examplepb.Proto2Message", "bindingtest.v1.Legacy", "library.v1.Book", "library.v1.ListBooksResponse",
	"library.v1.BookFilter", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue",
	"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.Empty",
	"google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value",
	"google.protobuf.Int32Value", "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue",
	"google.protobuf.BytesValue",
}

// fuzzDepths are the wire depths the selector picks from: small ones put
// the recursion limit within reach of short inputs.
var fuzzDepths = [8]int{0, 1, 2, 3, 5, 8, 0, 0}

// selector packs what FuzzRender does with the wire bytes: bits 0-7 the
// message type, 8-10 the options, 11-13 the wire depth, bit 14 one field
// (AppendFieldJSON) rather than the whole message, bits 16-23 the field.
type selector uint32

func makeSelector(typ int, opts Options, depth int, field int) selector {
	s := selector(typ)
	if opts.UseProtoNames {
		s |= 1 << 8
	}
	if opts.EmitUnpopulated {
		s |= 1 << 9
	}
	if opts.UseEnumNumbers {
		s |= 1 << 10
	}
	for i, d := range fuzzDepths {
		if d == depth {
			s |= selector(i) << 11
			break
		}
	}
	if field >= 0 {
		s |= 1<<14 | selector(field)<<16
	}
	return s
}

func (s selector) typeName() string { return fuzzTypes[int(s&0xff)%len(fuzzTypes)] }

func (s selector) options() Options {
	return Options{
		UseProtoNames:   s&(1<<8) != 0,
		EmitUnpopulated: s&(1<<9) != 0,
		UseEnumNumbers:  s&(1<<10) != 0,
		WireDepth:       fuzzDepths[s>>11&7],
	}
}

// field is the index of the field to render, or -1 for the whole message.
func (s selector) field(m *Message) int {
	if s&(1<<14) == 0 || len(m.Fields) == 0 || m.WellKnown != NotWellKnown && m.WellKnown != Empty {
		return -1
	}
	return int(s>>16&0xff) % len(m.Fields)
}

// fuzzOne compares wirejson with the reference on one fuzz input.
func fuzzOne(t testing.TB, sel selector, wire []byte) (diff string, anyOnly bool) {
	md := messageDesc(t, sel.typeName())
	opts := sel.options()
	if fi := sel.field(plan(t, md, opts)); fi >= 0 {
		return fieldMismatch(t, md, wire, opts, fi)
	}
	return mismatch(t, md, wire, opts)
}

// FuzzRender holds AppendJSON and AppendFieldJSON to the reference path:
// both fail or neither, and equal bytes when neither does. The one
// difference allowed is wirejson refusing a google.protobuf.Any that the
// reference renders through its resolver.
func FuzzRender(f *testing.F) {
	loadSchema(f)
	f.Fuzz(func(t *testing.T, sel uint32, wire []byte) {
		if diff, _ := fuzzOne(t, selector(sel), wire); diff != "" {
			t.Fatalf("%s %+v field mode %v: %s", selector(sel).typeName(), selector(sel).options(), sel&(1<<14) != 0, diff)
		}
	})
}

// TestWriteFuzzSeeds writes the seed corpus, with -wirejson.write-seeds:
// the valid messages and the wire cases of the unit tests, each under a
// few option sets, whole and field by field.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -wirejson.write-seeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzRender")
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	typeIndex := map[string]int{}
	for i, n := range fuzzTypes {
		typeIndex[n] = i
	}
	all := allOptions()
	n := 0
	write := func(name string, sel selector, wire []byte) {
		if len(wire) > 4096 {
			return // the deepest cases would slow every fuzz run down
		}
		name = strings.NewReplacer(" ", "-", "/", "-").Replace(name)
		content := fmt.Sprintf("go test fuzz v1\nuint32(%d)\n[]byte(%q)\n", uint32(sel), wire)
		path := filepath.Join(dir, fmt.Sprintf("seed-%03d-%s", n, name))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for i, c := range jsonCases {
		typ, ok := typeIndex[c.msg]
		if !ok {
			t.Fatalf("%s is not among fuzzTypes", c.msg)
		}
		wire := encodeJSON(t, c.msg, c.json)
		write(c.name, makeSelector(typ, all[i%len(all)], 0, -1), wire)
		write(c.name+"-field", makeSelector(typ, all[(i+3)%len(all)], 0, i*7), wire)
	}
	for i, c := range wireCases() {
		typ, ok := typeIndex[c.msg]
		if !ok {
			t.Fatalf("%s is not among fuzzTypes", c.msg)
		}
		write(c.name, makeSelector(typ, all[i%len(all)], c.depth, -1), c.wire)
		if i%3 == 0 {
			write(c.name+"-field", makeSelector(typ, all[(i+5)%len(all)], c.depth, i*11), c.wire)
		}
	}
	t.Logf("wrote %d seeds", n)
}

// TestFuzzCorpus runs every input of a corpus directory (the committed
// seeds and regressions, or WIREJSON_CORPUS, such as the fuzz cache) and
// tallies the outcomes: how often wirejson refused an Any the reference
// rendered.
func TestFuzzCorpus(t *testing.T) {
	dir := os.Getenv("WIREJSON_CORPUS")
	if dir == "" {
		dir = filepath.Join("testdata", "fuzz", "FuzzRender")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var total, anyOnly int
	for _, p := range paths {
		sel, wire, err := readCorpusFile(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		total++
		diff, refused := fuzzOne(t, sel, wire)
		if diff != "" {
			t.Errorf("%s: %s", filepath.Base(p), diff)
		}
		if refused {
			anyOnly++
		}
	}
	t.Logf("%d inputs from %s; wirejson refused an Any the reference rendered in %d (%.2f%%)",
		total, dir, anyOnly, 100*float64(anyOnly)/float64(max(total, 1)))
}

// readCorpusFile reads a "go test fuzz v1" file of FuzzRender's arguments.
func readCorpusFile(path string) (selector, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != "go test fuzz v1" {
		return 0, nil, fmt.Errorf("not a FuzzRender corpus file")
	}
	num, ok := strings.CutPrefix(lines[1], "uint32(")
	num, ok2 := strings.CutSuffix(num, ")")
	if !ok || !ok2 {
		return 0, nil, fmt.Errorf("bad selector line %q", lines[1])
	}
	sel, err := strconv.ParseUint(num, 0, 32)
	if err != nil {
		return 0, nil, err
	}
	quoted, ok := strings.CutPrefix(lines[2], "[]byte(")
	quoted, ok2 = strings.CutSuffix(quoted, ")")
	if !ok || !ok2 {
		return 0, nil, fmt.Errorf("bad bytes line %q", lines[2])
	}
	wire, err := strconv.Unquote(quoted)
	if err != nil {
		return 0, nil, err
	}
	return selector(sel), bytes.Clone([]byte(wire)), nil
}

// Command benchratio reads `go test -bench` output on stdin, passes it
// through, and then prints each variant's time and allocations as a ratio
// of its baseline measured in the same run: sub-benchmarks named
// reference, direct, direct_grpc or generated are baselines for their
// siblings, and -pair names baselines for benchmarks that are not
// siblings. `make bench` pipes into it, so that one run prints the ratios.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

var baselines = []string{"reference", "direct", "direct_grpc", "generated"}

type result struct {
	pkg         string
	name        string // without the -GOMAXPROCS suffix
	nsPerOp     float64
	allocsPerOp float64
	hasAllocs   bool
}

func main() {
	pairs := flag.String("pair", "BenchmarkServerStreamNDJSON=BenchmarkServerStreamDirect",
		"comma-separated benchmark=baseline pairs that are not siblings")
	flag.Parse()
	results, err := read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
	fmt.Println()
	fmt.Println("Ratios to the baseline measured in the same run (time/op, allocs/op; lower is better):")
	for _, line := range ratios(results, *pairs) {
		fmt.Println("  " + line)
	}
}

// read parses benchmark result lines, copying all input to echo. When a
// benchmark ran several times (-count), the median is kept.
func read(r io.Reader, echo io.Writer) ([]result, error) {
	runs := map[string][]result{}
	var order []string
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		res, ok := parse(line)
		if !ok {
			continue
		}
		res.pkg = pkg
		key := pkg + " " + res.name
		if _, seen := runs[key]; !seen {
			order = append(order, key)
		}
		runs[key] = append(runs[key], res)
	}
	var out []result
	for _, k := range order {
		out = append(out, median(runs[k]))
	}
	return out, sc.Err()
}

func parse(line string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return result{}, false
	}
	name := f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	res := result{name: name}
	ok := false
	for i := 2; i+1 < len(f); i++ {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			res.nsPerOp, ok = v, true
		case "allocs/op":
			res.allocsPerOp, res.hasAllocs = v, true
		}
	}
	return res, ok
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].nsPerOp < rs[j].nsPerOp })
	return rs[len(rs)/2]
}

func ratios(results []result, pairs string) []string {
	byName := map[string]result{}
	for _, r := range results {
		byName[r.pkg+" "+r.name] = r
	}
	var lines []string
	for _, r := range results {
		parent, variant := splitVariant(r.name)
		if variant == "" || isBaseline(variant) {
			continue
		}
		for _, b := range baselines {
			if base, ok := byName[r.pkg+" "+parent+"/"+b]; ok {
				lines = append(lines, line(r, base))
				break
			}
		}
	}
	for _, p := range strings.Split(pairs, ",") {
		name, baseName, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		for _, r := range results {
			if r.name != name {
				continue
			}
			if base, ok := byName[r.pkg+" "+baseName]; ok {
				lines = append(lines, line(r, base))
			}
		}
	}
	return lines
}

// splitVariant splits "BenchmarkCall/small/dynamic" into
// "BenchmarkCall/small" and "dynamic".
func splitVariant(name string) (parent, variant string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+1:]
}

func isBaseline(v string) bool {
	for _, b := range baselines {
		if v == b {
			return true
		}
	}
	return false
}

func line(r, base result) string {
	_, bv := splitVariant(base.name)
	if bv == "" {
		bv = base.name
	}
	s := fmt.Sprintf("%-60s %5.2fx time of %s", r.name, r.nsPerOp/base.nsPerOp, bv)
	if r.hasAllocs && base.hasAllocs && base.allocsPerOp > 0 {
		s += fmt.Sprintf(", %5.2fx allocs (%.0f vs %.0f)", r.allocsPerOp/base.allocsPerOp, r.allocsPerOp, base.allocsPerOp)
	}
	return s
}

package main

import (
	"io"
	"strings"
	"testing"
)

func TestRatios(t *testing.T) {
	in := `goos: linux
pkg: example.com/a
BenchmarkReply/fast-2         	  100	      500 ns/op	  416 B/op	       1 allocs/op
BenchmarkReply/reference-2    	  100	     5000 ns/op	10512 B/op	     141 allocs/op
BenchmarkCall/small/dynamic-2  	  100	     1200 ns/op
BenchmarkCall/small/generated-2	  100	     1000 ns/op
BenchmarkCall/small/dynamic-2  	  100	     9999 ns/op
BenchmarkCall/small/dynamic-2  	  100	     1100 ns/op
BenchmarkLonely-2              	  100	       10 ns/op
pkg: example.com/b
BenchmarkServerStreamNDJSON-2  	  100	     6200 ns/op	  37 allocs/op
BenchmarkServerStreamDirect-2  	  100	     1600 ns/op	  22 allocs/op
`
	results, err := read(strings.NewReader(in), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := ratios(results, "BenchmarkServerStreamNDJSON=BenchmarkServerStreamDirect")
	want := []string{
		"BenchmarkReply/fast", "0.10x time of reference", "0.01x allocs (1 vs 141)",
		"BenchmarkCall/small/dynamic", "1.20x time of generated", // the median of three runs
		"BenchmarkServerStreamNDJSON", "3.88x time of BenchmarkServerStreamDirect", "1.68x allocs (37 vs 22)",
	}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("ratios lack %q:\n%s", w, joined)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d ratios, want 3 (no baseline, no line):\n%s", len(got), joined)
	}
}

package thrift

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenIncludeDir is the include directory of the golden fixtures, so
// that they exercise the search path as well as same-directory includes.
const goldenIncludeDir = "testdata/golden/inc"

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update to accept it); got:\n%s", golden, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows a few lines around the first line that differs.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		if i >= len(w) || i >= len(g) || w[i] != g[i] {
			lo := max(i-3, 0)
			var b strings.Builder
			for j := lo; j < i+4 && j < len(g); j++ {
				mark := "  "
				if j == i {
					mark = "> "
				}
				b.WriteString(mark + g[j] + "\n")
			}
			if i < len(w) {
				b.WriteString("want line " + w[i] + "\n")
			}
			return b.String()
		}
	}
	return ""
}

// TestGolden parses the fixtures and a real file and compares the resolved
// model, rendered as JSON, with testdata/golden/*.json.
func TestGolden(t *testing.T) {
	roots, err := filepath.Glob("testdata/golden/*.thrift")
	if err != nil || len(roots) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	roots = append(roots, "testdata/corpus/apache-thrift/tutorial/tutorial.thrift")
	for _, root := range roots {
		name := strings.TrimSuffix(filepath.Base(root), ".thrift")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseFile(root, Options{IncludeDirs: []string{goldenIncludeDir}})
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			checkModel(t, p)
			got, err := dumpProgram(p)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata/golden", name+".json"), append(got, '\n'))
		})
	}
}

// TestGoldenErrors parses the bad fixtures and compares the whole error
// report, several errors a file, with testdata/errors/*.err.
func TestGoldenErrors(t *testing.T) {
	roots, err := filepath.Glob("testdata/errors/*.thrift")
	if err != nil || len(roots) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, root := range roots {
		name := strings.TrimSuffix(filepath.Base(root), ".thrift")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := ParseFile(root, Options{IncludeDirs: []string{"testdata/errors/inc"}})
			if err == nil {
				t.Fatalf("ParseFile succeeded (%d files), want errors", len(p.Files))
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want Errors", err)
			}
			if len(list) < 2 {
				t.Errorf("got %d errors, want several reported together", len(list))
			}
			for i := 1; i < len(list); i++ {
				a, b := list[i-1].Pos, list[i].Pos
				if a.File > b.File || a.File == b.File && (a.Line > b.Line || a.Line == b.Line && a.Column > b.Column) {
					t.Errorf("errors not sorted: %v before %v", list[i-1], list[i])
				}
			}
			checkGolden(t, filepath.Join("testdata/errors", name+".err"), []byte(filepath.ToSlash(err.Error())+"\n"))
		})
	}
}

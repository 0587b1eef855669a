package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/descriptors/diff"
)

// writeProto writes src at dir/rel, creating directories.
func writeProto(t *testing.T, dir, rel, src string) string {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDiffCLI: switchboard diff exits 1 on a breaking change and 0
// otherwise, breaking changes listed first, from .pb and .proto alike.
func TestDiffCLI(t *testing.T) {
	tmp := t.TempDir()
	const head = "syntax = \"proto3\";\npackage t.v1;\n"
	oldA := writeProto(t, tmp, "old/t/v1/a.proto", head+"message A { string x = 1; }\n")
	newA := writeProto(t, tmp, "new/t/v1/a.proto", head+"message A { string x = 1; string y = 2; }\n")
	// Same relative name under both import paths: each side must compile
	// from its own tree.
	oldDir, newDir := filepath.Join(tmp, "old"), filepath.Join(tmp, "new")
	t.Chdir("../..")
	edited := "descriptors/diff/testdata/library/v1/library.proto"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   []string // in this order
		stderr   string
	}{
		{"same set", []string{"diff", "testdata/library.pb", "testdata/library.pb"}, 0,
			[]string{"testdata/library.pb -> testdata/library.pb: no changes\n"}, ""},
		{".pb against its own .proto", []string{"diff", "-I", "testdata/proto", "testdata/library.pb", "testdata/proto/library/v1/library.proto"}, 0,
			[]string{"no changes"}, ""},
		{"breaking", []string{"diff", "testdata/library.pb", edited}, 1,
			[]string{
				"BREAKING    field library.v1.Author.country became required (google.api.field_behavior = REQUIRED)\n",
				"BREAKING    method library.v1.LibraryService.Ping removed\n",
				"compatible  field library.v1.Book.subtitle (number 14, string) added\n",
				"testdata/library.pb -> " + edited + ": 9 breaking changes, 7 compatible changes\n",
			},
			"switchboard diff: " + edited + " breaks clients of testdata/library.pb\n"},
		{"backwards", []string{"diff", edited, "testdata/library.pb"}, 1,
			[]string{"BREAKING    method library.v1.LibraryService.ListAuthors removed (it served GET /v1/authors)\n",
				"compatible  method library.v1.LibraryService.Ping added\n"},
			"breaks clients of " + edited},
		{"compatible only, import paths", []string{"diff", "-I", oldDir, "-I", newDir, oldA, newA}, 0,
			[]string{"compatible  field t.v1.A.y (number 2, string) added\n", ": 0 breaking changes, 1 compatible change\n"}, ""},
		{"import paths the other way", []string{"diff", "-I", newDir, "-I", oldDir, newA, oldA}, 1,
			[]string{"BREAKING    field t.v1.A.y (number 2) removed\n"}, "breaks clients"},
		{"flags after the files", []string{"diff", oldA, newA, "-I", oldDir, "-I", newDir}, 0,
			[]string{"1 compatible change"}, ""},
		{"missing file", []string{"diff", "testdata/library.pb", "testdata/nope.pb"}, 1, nil, "testdata/nope.pb"},
		{"proto error", []string{"diff", "-I", "testdata/proto", "testdata/library.pb", "testdata/proto/bad/syntax.proto"}, 1, nil, "bad/syntax.proto:"},
		{"thrift", []string{"diff", "testdata/thrift/calculator.thrift", "testdata/thrift/calculator.thrift"}, 1, nil, "not Thrift IDL"},
		{"one file", []string{"diff", "testdata/library.pb"}, 1, nil, "name two schemas, OLD and NEW (have 1)"},
		{"three files", []string{"diff", "testdata/library.pb", "testdata/library.pb", "testdata/echo.pb"}, 1, nil, "(have 3)"},
		{"unknown flag", []string{"diff", "--yaml", "testdata/library.pb", "testdata/library.pb"}, 1, nil, "flag provided but not defined: -yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			out, at := stdout.String(), 0
			for _, want := range tt.stdout {
				i := strings.Index(out[at:], want)
				if i < 0 {
					t.Errorf("stdout lacks %q after offset %d:\n%s", want, at, out)
					break
				}
				at += i + len(want)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}

// TestDiffCLIJSON: --json prints the changes for tools, breaking first,
// and still exits 1 on a breaking change.
func TestDiffCLIJSON(t *testing.T) {
	t.Chdir("../..")
	edited := "descriptors/diff/testdata/library/v1/library.proto"
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"diff", "testdata/library.pb", edited, "--json"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	var out struct {
		Old, New string
		Breaking int
		Changes  []diff.Change
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if out.Old != "testdata/library.pb" || out.New != edited || out.Breaking != 9 || len(out.Changes) != 16 {
		t.Fatalf("JSON answer %+v", out)
	}
	for i, c := range out.Changes {
		if c.Breaking != (i < out.Breaking) {
			t.Errorf("change %d (%s) out of order: breaking ones come first", i, c.Message)
		}
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"diff", "--json", "testdata/library.pb", "testdata/library.pb"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), `"changes": []`) {
		t.Errorf("no changes: exit %d, %s", code, stdout.String())
	}
}

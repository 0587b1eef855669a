package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCLI runs the commands from the repository root, as a user would, and
// compares exit code and output with golden files.
func TestCLI(t *testing.T) {
	golden, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"validate_ok", []string{"validate", "-c", "testdata/gateway.yaml"}, 0},
		{"validate_problems", []string{"validate", "-c", "testdata/bad-gateway.yaml"}, 1},
		{"validate_missing_file", []string{"validate", "-c", "testdata/nope.yaml"}, 1},
		{"routes", []string{"routes", "-c", "testdata/gateway.yaml"}, 0},
		{"schema_pb", []string{"schema", "testdata/library.pb", "testdata/echo.pb"}, 0},
		{"schema_proto", []string{"schema", "-I", "testdata/proto", "testdata/proto/echo/v1/echo.proto"}, 0},
		{"schema_errors", []string{"schema", "-I", "testdata/proto", "testdata/proto/bad/syntax.proto", "testdata/proto/bad/unknown_type.proto", "testdata/proto/bad/missing_import.proto"}, 1},
		{"schema_thrift", []string{"schema", "testdata/thrift/calculator.thrift"}, 0},
		{"schema_thrift_errors", []string{"schema", "testdata/thrift/bad.thrift"}, 1},
		{"schema_builtins", []string{"schema", "--builtins"}, 0},
		{"schema_policy_option", []string{"schema", "-I", "testdata/proto", "testdata/proto/guarded/v1/guarded.proto"}, 0},
		{"validate_policies", []string{"validate", "-c", "testdata/bad-policies.yaml"}, 1},
		{"validate_print", []string{"validate", "--print", "-c", "testdata/gateway-split.yaml"}, 0},
		{"unknown_command", []string{"frobnicate"}, 2},
		{"validate_everything", []string{"validate", "-c", "testdata/bad-everything.yaml"}, 1},
		{"validate_hidden", []string{"validate", "-c", "testdata/hidden.yaml"}, 0},
		{"validate_streaming", []string{"validate", "-c", "testdata/streaming.yaml"}, 0},
		{"validate_no_routes", []string{"validate", "-c", "testdata/no-routes.yaml", "--dial"}, 0},
		{"help", []string{"--help"}, 0},
		{"help_validate", []string{"validate", "--help"}, 0},
		{"help_mock_thrift", []string{"mock", "thrift", "-h"}, 0},
		{"help_command", []string{"help", "routes"}, 0},
		{"mock_without_protocol", []string{"mock"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			got := fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
			path := filepath.Join(golden, tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (-update to accept):\n%s", path, got)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "library.pb")
	var stdout, stderr bytes.Buffer
	t.Chdir("../..")
	if code := run(context.Background(), []string{"compile", "-o", out, "-I", "testdata/proto", "testdata/proto/library/v1/library.proto"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/library.pb")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("compile output differs from testdata/library.pb (make testdata regenerates it)")
	}
}

// TestHelpForEveryCommand: every command of the table explains itself on
// --help and exits 0, and the top-level help lists it.
func TestHelpForEveryCommand(t *testing.T) {
	var top bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &top, io.Discard); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range commands {
		args := append(strings.Fields(c.name), "--help")
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Errorf("%s --help: exit %d: %s", c.name, code, stderr.String())
		}
		out := stdout.String()
		if !strings.Contains(out, c.summary) || !strings.Contains(out, "Example:\n  "+c.example) {
			t.Errorf("%s --help lacks its summary or example:\n%s", c.name, out)
		}
		if !strings.Contains(top.String(), "switchboard "+c.name) {
			t.Errorf("top-level help does not list %s", c.name)
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "switchboard ") || !strings.Contains(out, "commit ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version output:\n%s", out)
	}
}

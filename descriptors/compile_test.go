package descriptors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestCompileGolden compiles the demo proto and compares the result byte for
// byte with testdata/library.pb, which the demo and other packages' tests
// load. A difference means Compile's output changed (or the proto did):
// look at it, then regenerate with go test ./descriptors -update.
func TestCompileGolden(t *testing.T) {
	t.Parallel()
	fds, err := Compile(context.Background(), []string{libraryProto}, []string{protoRoot})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	got := marshalDet(t, fds)
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzSeed(t, "library_pb", got)
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (create it with go test ./descriptors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Compile output (%d bytes) differs from %s (%d bytes); regenerate with -update if the change is intended", len(got), goldenPath, len(want))
	}

	// Dependency order, as protoc --include_imports writes it: every file
	// after its imports, the compiled file last.
	var names []string
	for i, f := range fds.GetFile() {
		for _, dep := range f.GetDependency() {
			if !slices.Contains(names, dep) {
				t.Errorf("file #%d %s comes before its import %s", i, f.GetName(), dep)
			}
		}
		names = append(names, f.GetName())
	}
	if last := names[len(names)-1]; last != libraryProto {
		t.Errorf("last file is %s, want %s", last, libraryProto)
	}
	for _, want := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/api/httpbody.proto", "google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto"} {
		if !slices.Contains(names, want) {
			t.Errorf("import %s missing from the compiled set", want)
		}
	}
	// Source info is kept for compiled files (comments feed the docs the
	// gateway serves); the built-ins have none.
	lib := fds.GetFile()[len(fds.GetFile())-1]
	if len(lib.GetSourceCodeInfo().GetLocation()) == 0 {
		t.Error("library.proto has no source info")
	}
}

// writeFuzzSeed writes a seed for FuzzParseSet in the corpus encoding of go
// test.
func writeFuzzSeed(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzParseSet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCompileRoundTrip checks that a compiled set is what NewSet and the
// rest of the gateway expect: it links, digests the same as the golden file
// read back, and its options hold generated types.
func TestCompileRoundTrip(t *testing.T) {
	t.Parallel()
	fds, err := Compile(context.Background(), []string{libraryProto}, []string{protoRoot})
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := NewSet("library", "b", Source{Kind: SourceProto, Ref: libraryProto}, fds)
	if err != nil {
		t.Fatal(err)
	}
	if golden := librarySet(t); compiled.Digest != golden.Digest {
		t.Errorf("digest of compiled set %s != digest of golden file %s", compiled.Digest, golden.Digest)
	}
	d, err := compiled.Files.FindDescriptorByName("library.v1.LibraryService.GetBook")
	if err != nil {
		t.Fatal(err)
	}
	// Straight out of protocompile this would panic ("invalid type: got
	// *dynamicpb.Message"): Compile must hand back generated types.
	opts := d.(protoreflect.MethodDescriptor).Options()
	rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule.GetGet() != "/v1/{name=shelves/*/books/*}" {
		t.Errorf("GetBook http rule = %v", rule)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	const (
		syntaxErr = "bad/syntax.proto:8:3: syntax error: expecting ';'"
		unknown1  = "bad/unknown_type.proto:7:3: field bad.v1.Holder.one: unknown type Missing"
		unknown2  = "bad/unknown_type.proto:8:12: field bad.v1.Holder.two: unknown type bad.v1.AlsoMissing"
		unknown3  = "bad/unknown_type.proto:12:11: method bad.v1.Holders.Get: unknown request type Nowhere"
		missing   = `bad/missing_import.proto:7:8: import "bad/does_not_exist.proto" not found`
	)
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{name: "syntax error", files: []string{"bad/syntax.proto"}, want: []string{syntaxErr}},
		{name: "several unknown types at once", files: []string{"bad/unknown_type.proto"}, want: []string{unknown1, unknown2, unknown3}},
		{name: "missing import", files: []string{"bad/missing_import.proto"}, want: []string{missing}},
		{name: "error in an imported file", files: []string{"bad/imports_broken.proto"}, want: []string{syntaxErr}},
		{name: "file not found", files: []string{"bad/nope.proto"}, want: []string{"bad/nope.proto: file not found in import paths ../testdata/proto"}},
		{
			// protocompile alone would drop the missing import here: it
			// is never passed to the reporter, and Compile returns only
			// "invalid proto source" once the other files reported.
			name:  "all problems of several files, sorted",
			files: []string{"bad/unknown_type.proto", "bad/syntax.proto", "bad/missing_import.proto"},
			want:  []string{missing, syntaxErr, unknown1, unknown2, unknown3},
		},
		{
			name:  "on-disk path under an import path",
			files: []string{"../testdata/proto/bad/missing_import.proto"},
			want:  []string{missing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fds, err := Compile(context.Background(), tt.files, []string{protoRoot})
			if err == nil {
				t.Fatalf("Compile succeeded with %d files, want errors", len(fds.GetFile()))
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *CompileError", err, err)
			}
			var got []string
			for _, se := range ce.Errors {
				got = append(got, se.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
			var se SourceError
			if !errors.As(err, &se) || se != ce.Errors[0] {
				t.Errorf("errors.As(SourceError) = %v, want the first problem", se)
			}
		})
	}
}

// TestCompileBuiltins compiles sources that import google/api, google/rpc
// and well-known types without shipping any of them.
func TestCompileBuiltins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `syntax = "proto3";
package demo.v1;
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/rpc/status.proto";
import "google/rpc/error_details.proto";
import "google/protobuf/any.proto";
message R {
  string name = 1 [(google.api.field_behavior) = REQUIRED];
  google.rpc.Status status = 2;
  google.rpc.BadRequest bad = 3;
  google.protobuf.Any any = 4;
}
service S {
  rpc Get(R) returns (R) { option (google.api.http) = {get: "/v1/{name=r/*}"}; }
}
`
	if err := os.MkdirAll(filepath.Join(dir, "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo", "demo.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// An on-disk path is mapped to its name under the import path.
	fds, err := Compile(context.Background(), []string{filepath.Join(dir, "demo", "demo.proto")}, []string{dir})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	s, err := NewSet("demo", "b", Source{Kind: SourceProto, Ref: "demo/demo.proto"}, fds)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	for _, f := range []string{"demo/demo.proto", "google/rpc/status.proto", "google/rpc/error_details.proto", "google/api/field_behavior.proto"} {
		if _, err := s.Files.FindFileByPath(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	with, without := s.MethodsWithHTTPRules()
	if fmt.Sprint(with, without) != "[demo.v1.S.Get] []" {
		t.Errorf("MethodsWithHTTPRules = %v, %v", with, without)
	}
}

func TestCompileCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Compile(ctx, []string{libraryProto}, []string{protoRoot})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Compile with canceled ctx: %v, want context.Canceled", err)
	}
}

func TestCompileNoFiles(t *testing.T) {
	t.Parallel()
	if _, err := Compile(context.Background(), nil, []string{protoRoot}); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}

package binding

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	_ "google.golang.org/genproto/googleapis/api/annotations" // google/api/*.proto for the compiler
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/translate"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// schema is the compiled test schemas, shared by all tests.
type schema struct {
	files linker.Files
	res   translate.Resolver
}

var (
	schemaOnce sync.Once
	testSchema *schema
	schemaErr  error
)

func loadSchema(t testing.TB) *schema {
	t.Helper()
	schemaOnce.Do(func() {
		// google/api/*.proto are not among protocompile's standard imports;
		// take them from the descriptors genproto registers.
		global := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			if err != nil {
				return protocompile.SearchResult{}, err
			}
			return protocompile.SearchResult{Desc: fd}, nil
		})
		c := protocompile.Compiler{
			Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
				&protocompile.SourceResolver{ImportPaths: []string{"../../testdata/proto", "testdata/proto"}},
				global,
			}),
		}
		files, err := c.Compile(context.Background(),
			"library/v1/library.proto", "bindingtest/v1/kinds.proto", "bindingtest/v1/legacy.proto",
			"bindingtest/v1/query.proto", "bindingtest/examplepb/proto3.proto", "bindingtest/examplepb/proto2.proto")
		if err != nil {
			schemaErr = err
			return
		}
		testSchema = &schema{files: files, res: typeResolver{files.AsResolver()}}
	})
	if schemaErr != nil {
		t.Fatalf("compile test schema: %v", schemaErr)
	}
	return testSchema
}

// typeResolver finds the compiled types first, then the linked-in ones
// (well-known types, google.api, google.rpc).
type typeResolver struct{ files linker.Resolver }

func (r typeResolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.files.FindMessageByName(n); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := r.files.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r typeResolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.files.FindExtensionByName(n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r typeResolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.files.FindExtensionByNumber(m, n); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

// method finds a method by full name, e.g. "library.v1.LibraryService.GetBook".
func (s *schema) method(t testing.TB, name string) protoreflect.MethodDescriptor {
	t.Helper()
	for _, f := range s.files {
		if d := f.FindDescriptorByName(protoreflect.FullName(name)); d != nil {
			if md, ok := d.(protoreflect.MethodDescriptor); ok {
				return md
			}
		}
	}
	t.Fatalf("no method %s", name)
	return nil
}

// message finds a message descriptor by full name, in the test schemas or
// among the linked-in types.
func (s *schema) message(t testing.TB, name string) protoreflect.MessageDescriptor {
	t.Helper()
	mt, err := s.res.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatalf("no message %s: %v", name, err)
	}
	return mt.Descriptor()
}

// encode builds a message of type md from its JSON, for replies.
func (s *schema) encode(t testing.TB, md protoreflect.MessageDescriptor, js string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: s.res}).Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("test reply %s: %v", js, err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// render decodes a built request and renders it as compact JSON with proto
// names, the form the golden files hold.
func (s *schema) render(t testing.TB, md protoreflect.MessageDescriptor, b []byte) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: s.res}).Unmarshal(b, m); err != nil {
		t.Fatalf("built request does not decode: %v", err)
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true, Resolver: s.res}.Marshal(m)
	if err != nil {
		t.Fatalf("render request: %v", err)
	}
	return translate.CompactJSON(out)
}

// golden compares got (JSON) with testdata/golden/name.json, indented for
// readable diffs, and rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("golden %s: output is not JSON: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("golden %s differs:\n got: %s\nwant: %s", name, buf.Bytes(), want)
	}
}

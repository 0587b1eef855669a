package descriptors

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// -update rewrites testdata/library.pb and the FuzzParseSet seed made from
// it: go test ./descriptors -update
var update = flag.Bool("update", false, "rewrite golden files (../testdata/library.pb and the fuzz seed)")

const (
	goldenPath     = "../testdata/library.pb"
	protoRoot      = "../testdata/proto"
	libraryProto   = "library/v1/library.proto"
	libraryService = "library.v1.LibraryService"
)

// TestMain fails the run if any test leaves a goroutine behind: the
// reflection tests start gRPC servers and clients, and FetchReflection must
// end its streams on every path.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// librarySet loads the golden set, failing the test if it does not link.
func librarySet(t testing.TB) *Set {
	t.Helper()
	fds, err := ReadSetFile(goldenPath)
	if err != nil {
		t.Fatalf("ReadSetFile: %v (regenerate with go test ./descriptors -update)", err)
	}
	s, err := NewSet("library", "library-backend", Source{Kind: SourceFile, Ref: "testdata/library.pb"}, fds)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// libraryOnly returns a set holding library.proto alone, as protoc writes it
// without --include_imports.
func libraryOnly(t testing.TB) *descriptorpb.FileDescriptorSet {
	t.Helper()
	fds, err := ReadSetFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fds.GetFile() {
		if f.GetName() == libraryProto {
			return &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{f}}
		}
	}
	t.Fatalf("%s not in %s", libraryProto, goldenPath)
	return nil
}

func marshalDet(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

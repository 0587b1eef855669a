package descriptors

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The built-in files: google/api (http, annotations, httpbody,
	// field_behavior, client, resource, ...), google/rpc (status, code,
	// error_details) and the well-known types. Importing the generated Go
	// packages registers their descriptors in protoregistry.GlobalFiles, which
	// is where builtinFile reads them from, so users can upload sets and
	// compile sources without shipping these files.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/genproto/googleapis/rpc/status"
	_ "google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/apipb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/sourcecontextpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/typepb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// builtinPrefixes are the directories whose files may be supplied from the
// generated code linked into the binary. The list is deliberately closed:
// GlobalFiles also holds whatever else the binary happens to import (gRPC's
// reflection and health protos, for instance), and a set must link the same
// way whatever the binary links, so only these well-known trees count, and
// Switchboard's own options (options.go).
var builtinPrefixes = [...]string{"google/protobuf/", "google/api/", "google/rpc/", "switchboard/v1/"}

// IsBuiltin reports whether path names a file the gateway can supply itself
// (a well-known type or a google/api or google/rpc file linked into the
// binary), so that sets and sources need not ship it.
func IsBuiltin(path string) bool {
	_, ok := builtinFile(path)
	return ok
}

// builtinFile returns the linked-in descriptor for a built-in file path.
func builtinFile(path string) (protoreflect.FileDescriptor, bool) {
	if !hasBuiltinPrefix(path) {
		return nil, false
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		return nil, false
	}
	return fd, true
}

func hasBuiltinPrefix(path string) bool {
	for _, p := range builtinPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// BuiltinFiles lists the paths sets and sources may import without
// shipping them, sorted.
func BuiltinFiles() []string {
	var out []string
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if hasBuiltinPrefix(fd.Path()) {
			out = append(out, fd.Path())
		}
		return true
	})
	sort.Strings(out)
	return out
}

package descriptors

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// file builds a small proto3 file descriptor for link tests.
func file(name string, deps []string, msgs ...*descriptorpb.DescriptorProto) *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String(name),
		Package:     proto.String("t"),
		Syntax:      proto.String("proto3"),
		Dependency:  deps,
		MessageType: msgs,
	}
}

func msg(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
}

func msgField(name, typeName string) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		Number:   proto.Int32(1),
		Label:    descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
		TypeName: proto.String(typeName),
		JsonName: proto.String(name),
	}
}

func set(files ...*descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorSet {
	return &descriptorpb.FileDescriptorSet{File: files}
}

func TestNewSet(t *testing.T) {
	t.Parallel()
	golden, err := ReadSetFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	reversed := proto.CloneOf(golden)
	slices.Reverse(reversed.File)

	tests := []struct {
		name      string
		setName   string
		fds       *descriptorpb.FileDescriptorSet
		wantErr   string // exact, "" for success
		wantIs    error
		wantFiles []string // must be in Files
	}{
		{name: "golden links", setName: "s", fds: golden, wantFiles: []string{libraryProto, "google/api/http.proto"}},
		{name: "files in reverse dependency order", setName: "s", fds: reversed, wantFiles: []string{libraryProto}},
		{
			name: "built-in imports filled in", setName: "s", fds: libraryOnly(t),
			wantFiles: []string{libraryProto, "google/api/annotations.proto", "google/api/http.proto", "google/api/httpbody.proto", "google/protobuf/descriptor.proto", "google/protobuf/any.proto", "google/protobuf/timestamp.proto"},
		},
		{
			name: "built-in used through a non-built-in", setName: "s",
			fds:       set(file("b.proto", []string{"a.proto"}, msg("B", msgField("a", ".t.A"))), file("a.proto", []string{"google/rpc/status.proto"}, msg("A", msgField("s", ".google.rpc.Status")))),
			wantFiles: []string{"a.proto", "b.proto", "google/rpc/status.proto", "google/protobuf/any.proto"},
		},
		{
			name: "unresolvable import", setName: "s",
			fds:     set(file("library.proto", []string{"x.proto"})),
			wantErr: `set "s": library.proto: unresolvable import "x.proto"`,
		},
		{
			name: "built-in prefix but no such file", setName: "s",
			fds:     set(file("a.proto", []string{"google/api/nope.proto"})),
			wantErr: `set "s": a.proto: unresolvable import "google/api/nope.proto"`,
		},
		{
			name: "duplicate file", setName: "s",
			fds:     set(file("a.proto", nil), file("b.proto", nil), file("a.proto", nil)),
			wantErr: `set "s": a.proto: file appears more than once in the set`, wantIs: ErrDuplicateFile,
		},
		{
			name: "import cycle", setName: "s",
			fds:     set(file("a.proto", []string{"b.proto"}), file("b.proto", []string{"a.proto"})),
			wantErr: `set "s": a.proto: import cycle`,
		},
		{
			name: "unknown type names the file", setName: "s",
			fds:     set(file("a.proto", nil, msg("A", msgField("x", ".t.Nope")))),
			wantErr: `set "s": a.proto: message field "t.A.x" cannot resolve type: "t.Nope" not found`,
		},
		{
			name: "same message in two files", setName: "s",
			fds:     set(file("a.proto", nil, msg("A")), file("b.proto", nil, msg("A"))),
			wantErr: `set "s": b.proto: file "b.proto" has a name conflict over t.A`,
		},
		{name: "empty set", setName: "s", fds: set(), wantIs: ErrEmptySet},
		{name: "nil set", setName: "s", fds: nil, wantIs: ErrEmptySet},
		{name: "empty name", setName: "", fds: golden, wantErr: "descriptors: set name must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSet(tt.setName, "backend", Source{Kind: SourceUpload}, tt.fds)
			if tt.wantErr == "" && tt.wantIs == nil {
				if err != nil {
					t.Fatalf("NewSet: %v", err)
				}
				for _, f := range tt.wantFiles {
					if _, err := s.Files.FindFileByPath(f); err != nil {
						t.Errorf("Files lacks %s: %v", f, err)
					}
				}
				if s.Version != 0 || s.Name != tt.setName || s.Backend != "backend" || s.Source.String() != "admin" || s.Loaded.IsZero() {
					t.Errorf("fields: %+v", s)
				}
				if !strings.HasPrefix(s.Digest, "sha256:") || len(s.Digest) != len("sha256:")+64 {
					t.Errorf("Digest = %q", s.Digest)
				}
				// FDS is what was given, without the filled-in built-ins.
				if len(s.FDS.GetFile()) != len(tt.fds.GetFile()) {
					t.Errorf("FDS has %d files, given %d", len(s.FDS.GetFile()), len(tt.fds.GetFile()))
				}
				return
			}
			if err == nil {
				t.Fatal("NewSet succeeded, want error")
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("error %q, want %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

// TestNewSetFilledBuiltinsAreLinkedIn checks that a built-in NewSet supplied
// is the linked-in descriptor itself, which is what lets Types hand out the
// generated Go types for it.
func TestNewSetFilledBuiltinsAreLinkedIn(t *testing.T) {
	t.Parallel()
	s, err := NewSet("s", "b", Source{Kind: SourceUpload}, libraryOnly(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Files.FindFileByPath("google/api/http.proto")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := protoregistry.GlobalFiles.FindFileByPath("google/api/http.proto")
	if got != want {
		t.Error("filled-in google/api/http.proto is not the linked-in descriptor")
	}
}

func TestNewSetCopiesInput(t *testing.T) {
	t.Parallel()
	fds := libraryOnly(t)
	s, err := NewSet("s", "b", Source{Kind: SourceUpload}, fds)
	if err != nil {
		t.Fatal(err)
	}
	digest := s.Digest
	fds.File[0].Name = proto.String("changed.proto")
	fds.File[0].Service[0].Name = proto.String("Changed")
	if s.FDS.GetFile()[0].GetName() != libraryProto || s.FDS.GetFile()[0].GetService()[0].GetName() != "LibraryService" {
		t.Error("the set shares the caller's FileDescriptorSet")
	}
	if d, _ := Digest(s.FDS); d != digest {
		t.Error("digest changed")
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	golden, err := ReadSetFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	reversed := proto.CloneOf(golden)
	slices.Reverse(reversed.File)
	changed := proto.CloneOf(golden)
	changed.File[len(changed.File)-1].MessageType[0].Name = proto.String("Changed")

	d := func(fds *descriptorpb.FileDescriptorSet) string {
		t.Helper()
		s, err := Digest(fds)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if d(golden) != d(proto.CloneOf(golden)) {
		t.Error("digest not stable across copies")
	}
	if d(golden) != d(reversed) {
		t.Error("digest depends on file order")
	}
	if d(golden) == d(changed) {
		t.Error("digest ignores content")
	}
	if d(golden) == d(libraryOnly(t)) {
		t.Error("digest ignores files")
	}
	if slices.Equal(reversed.File, golden.File) {
		t.Error("Digest sorted the caller's slice")
	}
}

func TestServicesAndHTTPRules(t *testing.T) {
	t.Parallel()
	wantWith := []protoreflect.FullName{
		"library.v1.LibraryService.ArchiveBook", "library.v1.LibraryService.CreateBook",
		"library.v1.LibraryService.DeleteBook", "library.v1.LibraryService.GetBook",
		"library.v1.LibraryService.GetBookCover", "library.v1.LibraryService.GetFile",
		"library.v1.LibraryService.ListBooks", "library.v1.LibraryService.ListShelves",
		"library.v1.LibraryService.SearchBooks", "library.v1.LibraryService.UpdateBook",
		"library.v1.LibraryService.UploadBookCover",
	}
	wantWithout := []protoreflect.FullName{"library.v1.LibraryService.Ping"}

	// A second file with two services, to check sorting, and a set that
	// ships a file under google/api/ with a service: built-in trees are
	// not the backend's and stay out.
	extra := set(
		&descriptorpb.FileDescriptorProto{Name: proto.String("z.proto"), Package: proto.String("a.z"), Syntax: proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{msg("M")},
			Service: []*descriptorpb.ServiceDescriptorProto{
				{Name: proto.String("Zed"), Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Do"), InputType: proto.String(".a.z.M"), OutputType: proto.String(".a.z.M")}}},
				{Name: proto.String("Alpha")},
			}},
		&descriptorpb.FileDescriptorProto{Name: proto.String("google/api/http.proto"), Package: proto.String("google.api"), Syntax: proto.String("proto3"),
			Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("NotMine")}}},
	)
	tests := []struct {
		name         string
		fds          *descriptorpb.FileDescriptorSet
		wantServices []protoreflect.FullName
		wantWith     []protoreflect.FullName
		wantWithout  []protoreflect.FullName
	}{
		{name: "golden", fds: mustRead(t), wantServices: []protoreflect.FullName{libraryService}, wantWith: wantWith, wantWithout: wantWithout},
		{name: "without imports", fds: libraryOnly(t), wantServices: []protoreflect.FullName{libraryService}, wantWith: wantWith, wantWithout: wantWithout},
		{name: "sorted, built-ins excluded", fds: extra, wantServices: []protoreflect.FullName{"a.z.Alpha", "a.z.Zed"}, wantWithout: []protoreflect.FullName{"a.z.Zed.Do"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSet("s", "b", Source{Kind: SourceUpload}, tt.fds)
			if err != nil {
				t.Fatal(err)
			}
			var got []protoreflect.FullName
			for _, svc := range s.Services() {
				got = append(got, svc.FullName())
			}
			if !slices.Equal(got, tt.wantServices) {
				t.Errorf("Services = %v, want %v", got, tt.wantServices)
			}
			with, without := s.MethodsWithHTTPRules()
			if !slices.Equal(with, tt.wantWith) || !slices.Equal(without, tt.wantWithout) {
				t.Errorf("MethodsWithHTTPRules = %v, %v; want %v, %v", with, without, tt.wantWith, tt.wantWithout)
			}
		})
	}
}

func mustRead(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	fds, err := ReadSetFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	return fds
}

// TestHTTPRuleShapes feeds HTTPRule the three shapes a google.api.http
// option takes: generated, dynamicpb (protocompile's own descriptors) and
// unknown fields (options decoded without the extension registered).
func TestHTTPRuleShapes(t *testing.T) {
	t.Parallel()
	// protocompile's descriptors, used directly.
	comp := protocompile.Compiler{Resolver: protocompile.CompositeResolver{
		&protocompile.SourceResolver{ImportPaths: []string{protoRoot}},
		protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
			fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
			return protocompile.SearchResult{Desc: fd}, err
		}),
	}}
	linked, err := comp.Compile(t.Context(), libraryProto)
	if err != nil {
		t.Fatal(err)
	}
	dynamicMethod := linked[0].Services().Get(0).Methods().ByName("SearchBooks")

	// Options decoded with an empty resolver: the rule is an unknown field.
	raw := marshalDet(t, libraryOnly(t))
	unknownFDS := new(descriptorpb.FileDescriptorSet)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(raw, unknownFDS); err != nil {
		t.Fatal(err)
	}
	unknownFiles, err := link(unknownFDS)
	if err != nil {
		t.Fatal(err)
	}
	d, err := unknownFiles.FindDescriptorByName("library.v1.LibraryService.SearchBooks")
	if err != nil {
		t.Fatal(err)
	}
	unknownMethod := d.(protoreflect.MethodDescriptor)
	if proto.HasExtension(unknownMethod.Options(), annotations.E_Http) {
		t.Fatal("test setup: the option is not an unknown field")
	}

	generated := librarySet(t).Files
	d, err = generated.FindDescriptorByName("library.v1.LibraryService.SearchBooks")
	if err != nil {
		t.Fatal(err)
	}
	generatedMethod := d.(protoreflect.MethodDescriptor)
	d, _ = generated.FindDescriptorByName("library.v1.LibraryService.Ping")
	ping := d.(protoreflect.MethodDescriptor)

	want := &annotations.HttpRule{
		Pattern:            &annotations.HttpRule_Get{Get: "/v1/books:search"},
		AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Post{Post: "/v1/books:search"}, Body: "*"}},
	}
	tests := []struct {
		name   string
		method protoreflect.MethodDescriptor
		want   *annotations.HttpRule
	}{
		{name: "generated", method: generatedMethod, want: want},
		{name: "dynamicpb", method: dynamicMethod, want: want},
		{name: "unknown fields", method: unknownMethod, want: want},
		{name: "no annotation", method: ping},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := HTTPRule(tt.method)
			if ok != (tt.want != nil) || !proto.Equal(got, tt.want) {
				t.Errorf("HTTPRule = %v, %v; want %v", got, ok, tt.want)
			}
			if ok {
				// A copy: changing it must not change the descriptor.
				got.Pattern = &annotations.HttpRule_Get{Get: "/changed"}
				again, _ := HTTPRule(tt.method)
				if !proto.Equal(again, tt.want) {
					t.Error("HTTPRule returned the descriptor's own message")
				}
			}
		})
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	golden := librarySet(t)                                                      // ships its own google/protobuf and google/api files
	bare, err := NewSet("bare", "b", Source{Kind: SourceUpload}, libraryOnly(t)) // built-ins filled in
	if err != nil {
		t.Fatal(err)
	}
	const httpNumber = 72295728

	tests := []struct {
		name string
		set  *Set
		find func(*Types) (any, error)
		// wantGo is the Go type of a new message/extension value, or ""
		// for a lookup that must fail with NotFound.
		wantGo string
		// wantSetDesc: the descriptor must be the set's own.
		wantSetDesc bool
	}{
		{name: "set message is dynamic", set: golden, find: byName("library.v1.Book"), wantGo: "*dynamicpb.Message", wantSetDesc: true},
		{name: "by URL", set: golden, find: byURL("type.googleapis.com/library.v1.Book"), wantGo: "*dynamicpb.Message", wantSetDesc: true},
		{name: "by bare URL", set: golden, find: byURL("library.v1.Shelf"), wantGo: "*dynamicpb.Message", wantSetDesc: true},
		{name: "shipped well-known type is the set's", set: golden, find: byName("google.protobuf.Timestamp"), wantGo: "*dynamicpb.Message", wantSetDesc: true},
		{name: "filled-in built-in is generated", set: bare, find: byName("google.api.HttpBody"), wantGo: "*httpbody.HttpBody", wantSetDesc: true},
		{name: "filled-in well-known type is generated", set: bare, find: byName("google.protobuf.Timestamp"), wantGo: "*timestamppb.Timestamp", wantSetDesc: true},
		{name: "error detail falls back to generated", set: golden, find: byURL("type.googleapis.com/google.rpc.BadRequest"), wantGo: "*errdetails.BadRequest"},
		{name: "status falls back to generated", set: golden, find: byName("google.rpc.Status"), wantGo: "*status.Status"},
		{name: "unknown message", set: golden, find: byName("no.Such"), wantGo: ""},
		{name: "enum", set: golden, find: enumByName("library.v1.Genre"), wantGo: "dynamicpb.enumType", wantSetDesc: true},
		{name: "extension by name, shipped", set: golden, find: extByName("google.api.http"), wantGo: "dynamicpb.extensionType", wantSetDesc: true},
		{name: "extension by name, filled in", set: bare, find: extByName("google.api.http"), wantGo: "*impl.ExtensionInfo", wantSetDesc: true},
		{name: "extension by number, shipped", set: golden, find: extByNumber("google.protobuf.MethodOptions", httpNumber), wantGo: "dynamicpb.extensionType", wantSetDesc: true},
		{name: "extension by number, filled in", set: bare, find: extByNumber("google.protobuf.MethodOptions", httpNumber), wantGo: "*impl.ExtensionInfo", wantSetDesc: true},
		{name: "extension falls back to generated", set: golden, find: extByName("google.api.field_behavior"), wantGo: "*impl.ExtensionInfo"},
		{name: "unknown extension number", set: golden, find: extByNumber("google.protobuf.MethodOptions", 1), wantGo: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.find(tt.set.Types)
			if tt.wantGo == "" {
				if !errors.Is(err, protoregistry.NotFound) {
					t.Fatalf("got %v, %v; want NotFound", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var goType string
			var desc protoreflect.Descriptor
			switch v := got.(type) {
			case protoreflect.MessageType:
				goType, desc = typeName(v.New().Interface()), v.Descriptor()
			case protoreflect.EnumType:
				goType, desc = typeName(v), v.Descriptor()
			case protoreflect.ExtensionType:
				goType, desc = typeName(v), v.TypeDescriptor().Descriptor()
			}
			if goType != tt.wantGo {
				t.Errorf("Go type %s, want %s", goType, tt.wantGo)
			}
			if tt.wantSetDesc {
				own, err := tt.set.Files.FindDescriptorByName(desc.FullName())
				if err != nil || own != desc {
					t.Errorf("descriptor of %s is not the set's own", desc.FullName())
				}
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func byName(n protoreflect.FullName) func(*Types) (any, error) {
	return func(ty *Types) (any, error) { return ty.FindMessageByName(n) }
}

func byURL(u string) func(*Types) (any, error) {
	return func(ty *Types) (any, error) { return ty.FindMessageByURL(u) }
}

func enumByName(n protoreflect.FullName) func(*Types) (any, error) {
	return func(ty *Types) (any, error) { return ty.FindEnumByName(n) }
}

func extByName(n protoreflect.FullName) func(*Types) (any, error) {
	return func(ty *Types) (any, error) { return ty.FindExtensionByName(n) }
}

func extByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) func(*Types) (any, error) {
	return func(ty *Types) (any, error) { return ty.FindExtensionByNumber(m, n) }
}

// TestTypesWithProtoJSON uses Types the way the transcoder will: a set's
// message holding an Any whose payload is a google.rpc error detail the set
// never mentions, and a JSON round trip through a dynamic message.
func TestTypesWithProtoJSON(t *testing.T) {
	t.Parallel()
	s := librarySet(t)
	detail, err := anypb.New(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "required"}}})
	if err != nil {
		t.Fatal(err)
	}
	st := &status.Status{Code: 3, Message: "bad", Details: []*anypb.Any{detail}}
	b, err := protojson.MarshalOptions{Resolver: s.Types}.Marshal(st)
	if err != nil {
		t.Fatalf("marshal status with details: %v", err)
	}
	if !strings.Contains(string(b), `"@type":"type.googleapis.com/google.rpc.BadRequest"`) && !strings.Contains(string(b), `"@type": "type.googleapis.com/google.rpc.BadRequest"`) {
		t.Errorf("status JSON %s", b)
	}
	back := new(status.Status)
	if err := (protojson.UnmarshalOptions{Resolver: s.Types}).Unmarshal(b, back); err != nil || !proto.Equal(back, st) {
		t.Errorf("round trip: %v, %v", back, err)
	}

	mt, err := s.Types.FindMessageByName("library.v1.Book")
	if err != nil {
		t.Fatal(err)
	}
	in := `{"name":"shelves/1/books/2","pageCount":"300","publishTime":"2024-01-02T03:04:05Z","genre":"SCIENCE","labels":{"a":"b"}}`
	book := mt.New().Interface()
	if err := (protojson.UnmarshalOptions{Resolver: s.Types}).Unmarshal([]byte(in), book); err != nil {
		t.Fatalf("unmarshal Book: %v", err)
	}
	fd := book.ProtoReflect().Descriptor().Fields().ByName("publish_time")
	ts := book.ProtoReflect().Get(fd).Message().Interface()
	secs := ts.ProtoReflect().Get(ts.ProtoReflect().Descriptor().Fields().ByName("seconds")).Int()
	if want := (&timestamppb.Timestamp{Seconds: 1704164645}).GetSeconds(); secs != want {
		t.Errorf("publish_time seconds %d, want %d", secs, want)
	}
	if _, ok := book.(*dynamicpb.Message); !ok {
		t.Errorf("Book is %T", book)
	}
	// protodesc round trip of a linked file keeps the option, so the
	// reflection server and the admin API show what was uploaded.
	lib, err := s.Files.FindFileByPath(libraryProto)
	if err != nil {
		t.Fatal(err)
	}
	if fdp := protodesc.ToFileDescriptorProto(lib); !proto.HasExtension(fdp.GetService()[0].GetMethod()[0].GetOptions(), annotations.E_Http) {
		t.Error("http option lost in ToFileDescriptorProto")
	}
}

package descriptors

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ErrDuplicateFile is returned (wrapped, with the file name) by NewSet when a
// FileDescriptorSet holds two files with the same name. protoc never writes
// such a set, so it means two sets were concatenated or the set was edited,
// and there is no right answer to which copy should win.
var ErrDuplicateFile = errors.New("file appears more than once in the set")

// Set is one named, linked protobuf schema set: what a backend speaks, as it
// was loaded at one moment. A Set is immutable once built; every field is
// shared by every snapshot that holds it, so nothing may modify FDS, Files or
// Types after NewSet returns.
type Set struct {
	// Name identifies the set in a Snapshot and in the admin API.
	Name string
	// Backend is the backend (upstream) the set describes.
	Backend string
	// Source says where the schema came from.
	Source Source
	// Version is 1 for the first set registered under Name in a line of
	// snapshots and increments with every replacement. Snapshot.With assigns
	// it; NewSet leaves it 0.
	Version int
	// Digest is "sha256:<hex>" of the deterministic marshalling of FDS with
	// its files sorted by name, so two uploads of the same schema compare
	// equal whatever order the tool wrote the files in.
	Digest string
	// Loaded is when NewSet built the set.
	Loaded time.Time
	// FDS is the set exactly as given (files in their original order),
	// without the built-in files NewSet had to supply. It is what gets
	// pinned, shown and re-uploaded.
	FDS *descriptorpb.FileDescriptorSet
	// Files holds the linked descriptors of FDS's files plus every built-in
	// file they needed that FDS did not ship.
	Files *protoregistry.Files
	// Types resolves message and extension types for Files (for
	// protojson/proto unmarshalling and google.protobuf.Any), falling back
	// to the built-in generated types.
	Types *Types
}

// SourceKind is how a schema set was loaded.
type SourceKind uint8

const (
	SourceFile       SourceKind = iota + 1 // a binary FileDescriptorSet file
	SourceProto                            // .proto sources compiled at start
	SourceReflection                       // a backend's server reflection
	SourceUpload                           // the admin API
)

// Source says where a schema set came from: its kind, and the file, the
// .proto files (comma-separated) or the backend it was read from.
type Source struct {
	Kind SourceKind
	Ref  string
}

// String is the form operators see: "file:testdata/library.pb",
// "proto:a.proto", "reflection:library", "admin".
func (s Source) String() string {
	switch s.Kind {
	case SourceFile:
		return "file:" + s.Ref
	case SourceProto:
		return "proto:" + s.Ref
	case SourceReflection:
		return "reflection:" + s.Ref
	case SourceUpload:
		return "admin"
	}
	return s.Ref
}

// NewSet links fds into a Set. fds is cloned, so the caller may keep using
// it.
//
// Files are linked in dependency order whatever order fds lists them in. An
// import that fds does not contain is taken from the built-in files (google/
// protobuf, google/api and google/rpc linked into the binary), so a set
// built without --include_imports still links. Failures name the file:
// `library.proto: unresolvable import "x.proto"`, or the protodesc error
// prefixed with the file name.
func NewSet(name, backend string, source Source, fds *descriptorpb.FileDescriptorSet) (*Set, error) {
	if name == "" {
		return nil, errors.New("descriptors: set name must not be empty")
	}
	if len(fds.GetFile()) == 0 {
		return nil, fmt.Errorf("set %q: %w", name, ErrEmptySet)
	}
	fds, err := canonical(fds)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", name, err)
	}
	files, err := link(fds)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", name, err)
	}
	digest, err := Digest(fds)
	if err != nil {
		return nil, fmt.Errorf("set %q: %w", name, err)
	}
	return &Set{
		Name:    name,
		Backend: backend,
		Source:  source,
		Digest:  digest,
		Loaded:  time.Now(),
		FDS:     fds,
		Files:   files,
		Types:   newTypes(files),
	}, nil
}

// canonical returns a deep copy of fds made by a round trip through the
// wire format, decoding with protoregistry.GlobalTypes. Unlike proto.Clone
// this turns option extensions held as dynamicpb messages (what protocompile
// produces) into the generated types, so code reading the set can call
// proto.GetExtension(opts, annotations.E_Http) without the "invalid type"
// panic, and a set digests the same whether it was compiled here or read
// back from the file it was written to.
func canonical(fds *descriptorpb.FileDescriptorSet) (*descriptorpb.FileDescriptorSet, error) {
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(fds)
	if err != nil {
		return nil, fmt.Errorf("copy set: %w", err)
	}
	out := new(descriptorpb.FileDescriptorSet)
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("copy set: %w", err)
	}
	return out, nil
}

// Digest returns "sha256:<hex>" of the deterministic marshalling of fds with
// its files sorted by name. fds is not modified.
func Digest(fds *descriptorpb.FileDescriptorSet) (string, error) {
	sorted := &descriptorpb.FileDescriptorSet{File: slices.Clone(fds.GetFile())}
	slices.SortStableFunc(sorted.File, func(a, b *descriptorpb.FileDescriptorProto) int {
		return cmp.Compare(a.GetName(), b.GetName())
	})
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sorted)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// link builds a registry from fds. It does what protodesc.NewFiles does, but
// (1) supplies missing built-in imports from the linked-in generated code,
// (2) visits files in sorted order so that the error reported for a broken
// set is always the same one (protodesc.NewFiles ranges over a map), and
// (3) names the failing file in every error.
func link(fds *descriptorpb.FileDescriptorSet) (*protoregistry.Files, error) {
	byName := make(map[string]*descriptorpb.FileDescriptorProto, len(fds.GetFile()))
	names := make([]string, 0, len(fds.GetFile()))
	for i, f := range fds.GetFile() {
		n := f.GetName()
		if n == "" {
			return nil, fmt.Errorf("file #%d has no name", i)
		}
		if _, dup := byName[n]; dup {
			return nil, fmt.Errorf("%s: %w", n, ErrDuplicateFile)
		}
		byName[n] = f
		names = append(names, n)
	}
	slices.Sort(names)

	reg := new(protoregistry.Files)
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int, len(names))

	var visit func(name string) error
	var addBuiltin func(fd protoreflect.FileDescriptor) error
	// resolveImport makes sure dep is in reg, from the set or the built-ins.
	resolveImport := func(importer, dep string) error {
		if _, own := byName[dep]; own {
			return visit(dep)
		}
		if _, err := reg.FindFileByPath(dep); err == nil {
			return nil
		}
		bfd, ok := builtinFile(dep)
		if !ok {
			return fmt.Errorf("%s: unresolvable import %q", importer, dep)
		}
		return addBuiltin(bfd)
	}
	addBuiltin = func(fd protoreflect.FileDescriptor) error {
		imports := fd.Imports()
		for i := range imports.Len() {
			if err := resolveImport(fd.Path(), imports.Get(i).Path()); err != nil {
				return err
			}
		}
		if _, err := reg.FindFileByPath(fd.Path()); err == nil {
			return nil
		}
		if err := reg.RegisterFile(fd); err != nil {
			return fmt.Errorf("built-in %s: %w", fd.Path(), err)
		}
		return nil
	}
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("%s: import cycle", name)
		}
		state[name] = visiting
		f := byName[name]
		for _, dep := range f.GetDependency() {
			if err := resolveImport(name, dep); err != nil {
				return err
			}
		}
		fd, err := protodesc.NewFile(f, reg)
		if err != nil {
			return fileError(name, err)
		}
		if err := reg.RegisterFile(fd); err != nil {
			return fileError(name, err)
		}
		state[name] = done
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// fileError prefixes a protobuf runtime error with the file name, dropping
// the runtime's own "proto: " prefix so the message reads
// `a.proto: message field "t.A.x" cannot resolve type: ...`. (The runtime
// deliberately alternates between a space and a no-break space after
// "proto:" to stop callers from matching its text; both are trimmed.) Its
// errors carry no sentinel worth keeping in the chain.
func fileError(name string, err error) error {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "proto:"); ok {
		msg = strings.TrimLeft(rest, " \u00a0")
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// Services returns the services defined in the set's own files, sorted by
// full name. Built-in files (google/protobuf, google/api, google/rpc) are
// left out even when the set ships its own copy, since they describe the
// gateway's vocabulary, not the backend.
func (s *Set) Services() []protoreflect.ServiceDescriptor {
	var out []protoreflect.ServiceDescriptor
	for _, f := range s.FDS.GetFile() {
		if IsBuiltin(f.GetName()) {
			continue
		}
		fd, err := s.Files.FindFileByPath(f.GetName())
		if err != nil {
			continue // cannot happen for a set built by NewSet
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			out = append(out, svcs.Get(i))
		}
	}
	slices.SortFunc(out, func(a, b protoreflect.ServiceDescriptor) int {
		return cmp.Compare(a.FullName(), b.FullName())
	})
	return out
}

// MethodsWithHTTPRules splits the methods of Services into those that carry
// a google.api.http option and those that do not (reachable only at
// POST /pkg.Service/Method), each sorted by full name. The admin API shows
// the second list so that a forgotten annotation is visible.
func (s *Set) MethodsWithHTTPRules() (with, without []protoreflect.FullName) {
	for _, svc := range s.Services() {
		methods := svc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			if _, ok := HTTPRule(m); ok {
				with = append(with, m.FullName())
			} else {
				without = append(without, m.FullName())
			}
		}
	}
	slices.Sort(with)
	slices.Sort(without)
	return with, without
}

// HTTPRule returns a copy of the method's google.api.http option.
//
// It copes with the three shapes the option takes in practice: a generated
// *annotations.HttpRule (sets decoded by ParseSet or cloned by NewSet), a
// dynamicpb message (descriptors straight out of protocompile, where
// proto.GetExtension panics with "invalid type"), and raw unknown fields
// (options decoded without the extension registered). An annotation is
// therefore never silently missed, and never panics.
func HTTPRule(m protoreflect.MethodDescriptor) (*annotations.HttpRule, bool) {
	opts := m.Options()
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil, false
	}
	pr := opts.ProtoReflect()
	if xd := annotations.E_Http.TypeDescriptor(); pr.Descriptor().FullName() == xd.ContainingMessage().FullName() && pr.Has(xd) {
		return asHTTPRule(pr.Get(xd).Message().Interface())
	}
	if len(pr.GetUnknown()) == 0 {
		return nil, false
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(opts)
	if err != nil {
		return nil, false
	}
	mo := new(descriptorpb.MethodOptions)
	uo := proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}
	if err := uo.Unmarshal(b, mo); err != nil || !proto.HasExtension(mo, annotations.E_Http) {
		return nil, false
	}
	return asHTTPRule(proto.GetExtension(mo, annotations.E_Http).(proto.Message))
}

func asHTTPRule(m proto.Message) (*annotations.HttpRule, bool) {
	if r, ok := m.(*annotations.HttpRule); ok {
		if r == nil {
			return nil, false
		}
		return proto.CloneOf(r), true
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		return nil, false
	}
	r := new(annotations.HttpRule)
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(b, r); err != nil {
		return nil, false
	}
	return r, true
}

// HTTPBinding is one google.api.http binding of a method, additional
// bindings flattened.
type HTTPBinding struct {
	Method, Path, Body, ResponseBody string
}

// HTTPRules returns the google.api.http bindings of md, additional ones
// flattened; none if it has no annotation.
func HTTPRules(md protoreflect.MethodDescriptor) []HTTPBinding {
	rule, ok := HTTPRule(md)
	if !ok {
		return nil
	}
	var out []HTTPBinding
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		b := HTTPBinding{Body: r.GetBody(), ResponseBody: r.GetResponseBody()}
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			b.Method, b.Path = "GET", p.Get
		case *annotations.HttpRule_Put:
			b.Method, b.Path = "PUT", p.Put
		case *annotations.HttpRule_Post:
			b.Method, b.Path = "POST", p.Post
		case *annotations.HttpRule_Delete:
			b.Method, b.Path = "DELETE", p.Delete
		case *annotations.HttpRule_Patch:
			b.Method, b.Path = "PATCH", p.Patch
		case *annotations.HttpRule_Custom:
			b.Method, b.Path = strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
		default:
			continue
		}
		out = append(out, b)
	}
	return out
}

// Origin names the set as the declarer of the routes it exposes, for
// messages about them.
func (s *Set) Origin() string { return "descriptor set " + strconv.Quote(s.Name) }

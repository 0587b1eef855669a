package descriptors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxReflectionFiles bounds how many files one FetchReflection accepts, so a
// misbehaving server that keeps inventing imports cannot make the gateway
// loop until the caller's deadline (or forever, without one).
const maxReflectionFiles = 10000

// FetchReflection builds a FileDescriptorSet from a backend's gRPC server
// reflection service: it lists the services, asks for the file defining each
// one, then asks by file name for every import not yet received until the
// set is closed under imports. The result is in dependency order and is
// meant to be pinned: hand it to NewSet and keep it, so that a backend
// restarting with a different schema changes nothing until someone fetches
// again.
//
// It speaks grpc.reflection.v1 and falls back to v1alpha when the server
// answers v1 with UNIMPLEMENTED. The reflection and health services
// themselves are skipped. Servers differ in what they volunteer: grpc-go
// sends a file with its not-yet-sent dependencies, others send the file
// alone, and some cannot serve the google/api or google/protobuf files their
// own files import; an import the server cannot provide is taken from the
// built-ins when it is one. Errors name the service or file that failed.
//
// Use a ctx with a deadline: a server that never answers blocks until ctx
// ends. All streams are closed before FetchReflection returns.
//
// It is hand-written rather than built on grpcreflect.Client from
// github.com/jhump/protoreflect/v2, which returns re-rendered descriptors
// instead of the server's files and takes UNAVAILABLE for "no v1";
// reflection_v2_test.go compares the two and fails when that changes.
func FetchReflection(ctx context.Context, cc grpc.ClientConnInterface) (*descriptorpb.FileDescriptorSet, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream (and its goroutines) on every path

	st, services, err := openReflection(ctx, cc)
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.CloseSend() }()

	f := &fetcher{st: st, files: map[string]*descriptorpb.FileDescriptorProto{}, importedBy: map[string]string{}}
	for _, svc := range services {
		resp, err := f.exchange(&reflectionv1.ServerReflectionRequest{
			MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc},
		})
		if err == nil {
			err = f.addFiles(resp)
		}
		if err != nil {
			return nil, fmt.Errorf("descriptors: reflection: service %s: %w", svc, err)
		}
	}
	if err := f.closeImports(); err != nil {
		return nil, err
	}
	fds := &descriptorpb.FileDescriptorSet{File: dependencyOrder(f.order, f.files)}
	if err := checkServices(fds, services); err != nil {
		return nil, err
	}
	return fds, nil
}

// reflectionStream is the v1 client stream; v1alpha is adapted to it.
type reflectionStream interface {
	Send(*reflectionv1.ServerReflectionRequest) error
	Recv() (*reflectionv1.ServerReflectionResponse, error)
	CloseSend() error
}

// openReflection opens a v1 stream, or a v1alpha one if the server does not
// implement v1, and lists the services to fetch.
func openReflection(ctx context.Context, cc grpc.ClientConnInterface) (reflectionStream, []string, error) {
	var (
		st       reflectionStream
		services []string
	)
	v1, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err == nil {
		st = v1
		services, err = listServices(st)
	}
	if status.Code(err) == codes.Unimplemented {
		var alpha grpc.BidiStreamingClient[reflectionv1alpha.ServerReflectionRequest, reflectionv1alpha.ServerReflectionResponse]
		alpha, err = reflectionv1alpha.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
		if err == nil {
			st = alphaStream{alpha}
			services, err = listServices(st)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("descriptors: reflection: list services: %w", err)
	}
	if len(services) == 0 {
		return nil, nil, errors.New("descriptors: reflection: the server lists no services besides reflection and health")
	}
	return st, services, nil
}

func listServices(st reflectionStream) ([]string, error) {
	resp, err := exchange(st, &reflectionv1.ServerReflectionRequest{
		MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{ListServices: "*"},
	})
	if err != nil {
		return nil, err
	}
	list := resp.GetListServicesResponse()
	if list == nil {
		return nil, fmt.Errorf("unexpected answer %T to list_services", resp.GetMessageResponse())
	}
	var out []string
	for _, s := range list.GetService() {
		n := s.GetName()
		if n == "" || strings.HasPrefix(n, "grpc.reflection.") || strings.HasPrefix(n, "grpc.health.") {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// exchange sends one request and reads its answer. The reflection protocol
// answers requests in order, one response each. An ErrorResponse becomes an
// error carrying its status code.
func exchange(st reflectionStream, req *reflectionv1.ServerReflectionRequest) (*reflectionv1.ServerReflectionResponse, error) {
	if err := st.Send(req); err != nil {
		if errors.Is(err, io.EOF) {
			// The stream has ended; Recv has the status saying why.
			_, err = st.Recv()
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("reflection stream closed by the server")
			}
		}
		return nil, err
	}
	resp, err := st.Recv()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("reflection stream closed by the server")
	}
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, &answerError{code: codes.Code(e.GetErrorCode()), message: e.GetErrorMessage()}
	}
	return resp, nil
}

type fetcher struct {
	st         reflectionStream
	files      map[string]*descriptorpb.FileDescriptorProto
	order      []string          // names in the order received
	importedBy map[string]string // import -> first importer, for errors
}

func (f *fetcher) exchange(req *reflectionv1.ServerReflectionRequest) (*reflectionv1.ServerReflectionResponse, error) {
	return exchange(f.st, req)
}

// addFiles keeps every file of a FileDescriptorResponse. grpc-go's server
// never sends a file twice on one stream, so anything received must be kept
// even if it was not what was asked for.
func (f *fetcher) addFiles(resp *reflectionv1.ServerReflectionResponse) error {
	fdr := resp.GetFileDescriptorResponse()
	if fdr == nil {
		return fmt.Errorf("unexpected answer %T", resp.GetMessageResponse())
	}
	for _, raw := range fdr.GetFileDescriptorProto() {
		fd := new(descriptorpb.FileDescriptorProto)
		if err := proto.Unmarshal(raw, fd); err != nil {
			return fmt.Errorf("bad file descriptor: %w", err)
		}
		f.add(fd)
	}
	if len(f.files) > maxReflectionFiles {
		return fmt.Errorf("more than %d files", maxReflectionFiles)
	}
	return nil
}

func (f *fetcher) add(fd *descriptorpb.FileDescriptorProto) {
	name := fd.GetName()
	if name == "" {
		return // unusable; an import of it will be reported missing
	}
	if _, ok := f.files[name]; ok {
		return
	}
	f.files[name] = fd
	f.order = append(f.order, name)
}

// missingImports returns the imports not received yet, sorted.
func (f *fetcher) missingImports() []string {
	var out []string
	for _, name := range f.order {
		for _, dep := range f.files[name].GetDependency() {
			if _, ok := f.files[dep]; ok {
				continue
			}
			if _, ok := f.importedBy[dep]; !ok {
				f.importedBy[dep] = name
			}
			out = append(out, dep)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// closeImports asks by file name for every import not yet received, until
// there are none.
func (f *fetcher) closeImports() error {
	for {
		missing := f.missingImports()
		if len(missing) == 0 {
			return nil
		}
		for _, dep := range missing {
			if _, ok := f.files[dep]; ok {
				continue // arrived with an earlier answer
			}
			resp, err := f.exchange(&reflectionv1.ServerReflectionRequest{
				MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: dep},
			})
			if err == nil {
				err = f.addFiles(resp)
			}
			var ae *answerError
			if answered := err == nil || errors.As(err, &ae); answered && f.files[dep] == nil {
				if bfd, ok := builtinFile(dep); ok {
					f.add(protodesc.ToFileDescriptorProto(bfd))
					continue
				}
				if err == nil {
					err = errors.New("the server answered without it")
				}
			}
			if err != nil {
				return fmt.Errorf("descriptors: reflection: file %q (imported by %q): %w", dep, f.importedBy[dep], err)
			}
		}
	}
}

// answerError is an ErrorResponse from the server: the request failed but
// the stream is still usable.
type answerError struct {
	code    codes.Code
	message string
}

func (e *answerError) Error() string { return fmt.Sprintf("%s: %s", e.code, e.message) }

// GRPCStatus lets status.Code see the server's code.
func (e *answerError) GRPCStatus() *status.Status { return status.New(e.code, e.message) }

// dependencyOrder lists files so that each comes after its imports,
// otherwise keeping the given order.
func dependencyOrder(order []string, files map[string]*descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(order))
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		fd, ok := files[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		for _, dep := range fd.GetDependency() {
			visit(dep)
		}
		out = append(out, fd)
	}
	for _, n := range order {
		visit(n)
	}
	return out
}

// checkServices makes sure every listed service is defined in the fetched
// files, so a server that answers a symbol request with the wrong file is
// caught here rather than as a missing route later.
func checkServices(fds *descriptorpb.FileDescriptorSet, services []string) error {
	defined := map[string]bool{}
	for _, fd := range fds.GetFile() {
		for _, s := range fd.GetService() {
			name := s.GetName()
			if p := fd.GetPackage(); p != "" {
				name = p + "." + name
			}
			defined[name] = true
		}
	}
	for _, s := range services {
		if !defined[s] {
			return fmt.Errorf("descriptors: reflection: service %s: not defined in the files the server returned", s)
		}
	}
	return nil
}

// alphaStream adapts a v1alpha stream to the v1 messages. The two protocols
// are wire-identical, so messages are converted by re-marshalling.
type alphaStream struct {
	s grpc.BidiStreamingClient[reflectionv1alpha.ServerReflectionRequest, reflectionv1alpha.ServerReflectionResponse]
}

func (a alphaStream) Send(req *reflectionv1.ServerReflectionRequest) error {
	out := new(reflectionv1alpha.ServerReflectionRequest)
	if err := convertWire(req, out); err != nil {
		return err
	}
	return a.s.Send(out)
}

func (a alphaStream) Recv() (*reflectionv1.ServerReflectionResponse, error) {
	in, err := a.s.Recv()
	if err != nil {
		return nil, err
	}
	out := new(reflectionv1.ServerReflectionResponse)
	if err := convertWire(in, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (a alphaStream) CloseSend() error { return a.s.CloseSend() }

func convertWire(from, to proto.Message) error {
	b, err := proto.Marshal(from)
	if err != nil {
		return err
	}
	return proto.Unmarshal(b, to)
}

package descriptors

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// serviceList is a reflection.ServiceInfoProvider advertising fixed names.
type serviceList []string

func (l serviceList) GetServiceInfo() map[string]grpc.ServiceInfo {
	m := make(map[string]grpc.ServiceInfo, len(l))
	for _, n := range l {
		m[n] = grpc.ServiceInfo{}
	}
	return m
}

// serve starts a gRPC server on 127.0.0.1:0 and returns a client for it.
// Cleanup closes the client, stops the server and waits for Serve to
// return, so goleak sees nothing left.
func serve(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		srv.Stop()
		<-done
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-done
	})
	return cc
}

// fakeReflection is a v1 reflection server that answers a symbol request
// with the defining file alone, never its imports, the way some non-Go
// servers do; imports must then be asked for by name.
type fakeReflection struct {
	reflectionv1.UnimplementedServerReflectionServer
	services []string
	files    map[string]*descriptorpb.FileDescriptorProto
	symbols  map[string]string // service -> file
	refuse   func(file string) bool
}

func (f *fakeReflection) ServerReflectionInfo(stream grpc.BidiStreamingServer[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp := &reflectionv1.ServerReflectionResponse{OriginalRequest: req}
		notFound := func(what string) {
			resp.MessageResponse = &reflectionv1.ServerReflectionResponse_ErrorResponse{ErrorResponse: &reflectionv1.ErrorResponse{
				ErrorCode: int32(codes.NotFound), ErrorMessage: what + " not found",
			}}
		}
		sendFile := func(name string) {
			fd, ok := f.files[name]
			if !ok || (f.refuse != nil && f.refuse(name)) {
				notFound("file " + name)
				return
			}
			b, err := proto.Marshal(fd)
			if err != nil {
				panic(err)
			}
			resp.MessageResponse = &reflectionv1.ServerReflectionResponse_FileDescriptorResponse{FileDescriptorResponse: &reflectionv1.FileDescriptorResponse{
				FileDescriptorProto: [][]byte{b},
			}}
		}
		switch r := req.GetMessageRequest().(type) {
		case *reflectionv1.ServerReflectionRequest_ListServices:
			list := &reflectionv1.ListServiceResponse{}
			for _, s := range f.services {
				list.Service = append(list.Service, &reflectionv1.ServiceResponse{Name: s})
			}
			resp.MessageResponse = &reflectionv1.ServerReflectionResponse_ListServicesResponse{ListServicesResponse: list}
		case *reflectionv1.ServerReflectionRequest_FileContainingSymbol:
			if name, ok := f.symbols[r.FileContainingSymbol]; ok {
				sendFile(name)
			} else {
				notFound("symbol " + r.FileContainingSymbol)
			}
		case *reflectionv1.ServerReflectionRequest_FileByFilename:
			sendFile(r.FileByFilename)
		default:
			resp.MessageResponse = &reflectionv1.ServerReflectionResponse_ErrorResponse{ErrorResponse: &reflectionv1.ErrorResponse{
				ErrorCode: int32(codes.Unimplemented), ErrorMessage: "not implemented",
			}}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func filesByName(fds *descriptorpb.FileDescriptorSet) map[string]*descriptorpb.FileDescriptorProto {
	m := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range fds.GetFile() {
		m[f.GetName()] = f
	}
	return m
}

func TestFetchReflection(t *testing.T) {
	t.Parallel()
	lib := librarySet(t)
	golden := filesByName(lib.FDS)
	advertised := serviceList{libraryService, "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "grpc.health.v1.Health"}
	opts := reflection.ServerOptions{Services: advertised, DescriptorResolver: lib.Files}

	// A service whose file imports a non-built-in file the server will not
	// give out.
	withDep := set(
		file("dep.proto", nil, msg("D")),
		&descriptorpb.FileDescriptorProto{Name: proto.String("svc.proto"), Package: proto.String("t"), Syntax: proto.String("proto3"),
			Dependency: []string{"dep.proto"},
			Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Svc"), Method: []*descriptorpb.MethodDescriptorProto{
				{Name: proto.String("Do"), InputType: proto.String(".t.D"), OutputType: proto.String(".t.D")},
			}}}},
	)

	tests := []struct {
		name     string
		register func(*grpc.Server)
		wantErr  string // exact; "" for success
		// builtinsFromBinary: google/* files must be the linked-in ones
		// because the server refused them.
		builtinsFromBinary bool
	}{
		{
			name: "grpc-go v1",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(opts))
			},
		},
		{
			name: "grpc-go v1alpha only",
			register: func(s *grpc.Server) {
				reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(opts))
			},
		},
		{
			name: "file alone, imports by name",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{
					services: advertised, files: golden, symbols: map[string]string{libraryService: libraryProto},
				})
			},
		},
		{
			name: "file alone, built-ins refused",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{
					services: advertised, files: golden, symbols: map[string]string{libraryService: libraryProto},
					refuse: func(f string) bool { return strings.HasPrefix(f, "google/") },
				})
			},
			builtinsFromBinary: true,
		},
		{
			name: "symbol not found",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{services: advertised, files: golden})
			},
			wantErr: "descriptors: reflection: service library.v1.LibraryService: NotFound: symbol library.v1.LibraryService not found",
		},
		{
			name: "non-built-in import refused",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{
					services: []string{"t.Svc"}, files: filesByName(withDep), symbols: map[string]string{"t.Svc": "svc.proto"},
					refuse: func(f string) bool { return f == "dep.proto" },
				})
			},
			wantErr: `descriptors: reflection: file "dep.proto" (imported by "svc.proto"): NotFound: file dep.proto not found`,
		},
		{
			name: "symbol answered with the wrong file",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{
					services: []string{"t.Svc"}, files: filesByName(withDep), symbols: map[string]string{"t.Svc": "dep.proto"},
				})
			},
			wantErr: "descriptors: reflection: service t.Svc: not defined in the files the server returned",
		},
		{
			name: "only reflection and health",
			register: func(s *grpc.Server) {
				reflectionv1.RegisterServerReflectionServer(s, &fakeReflection{services: []string{"grpc.reflection.v1.ServerReflection", "grpc.health.v1.Health"}})
			},
			wantErr: "descriptors: reflection: the server lists no services besides reflection and health",
		},
		{
			name:     "no reflection service",
			register: func(*grpc.Server) {},
			wantErr:  "descriptors: reflection: list services: rpc error: code = Unimplemented desc = unknown service grpc.reflection.v1alpha.ServerReflection",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := serve(t, tt.register)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			fds, err := FetchReflection(ctx, cc)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("FetchReflection error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FetchReflection: %v", err)
			}
			checkFetched(t, fds, lib, tt.builtinsFromBinary)
		})
	}
}

func checkFetched(t *testing.T, fds *descriptorpb.FileDescriptorSet, lib *Set, builtinsFromBinary bool) {
	t.Helper()
	// Dependency order, and the same files as the set the server has.
	var names []string
	for _, f := range fds.GetFile() {
		for _, dep := range f.GetDependency() {
			if !slices.Contains(names, dep) {
				t.Errorf("%s comes before its import %s", f.GetName(), dep)
			}
		}
		names = append(names, f.GetName())
	}
	var want []string
	for _, f := range lib.FDS.GetFile() {
		want = append(want, f.GetName())
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("fetched files %v, want %v", names, want)
	}

	s, err := NewSet("fetched", "library", Source{Kind: SourceReflection, Ref: "library"}, fds)
	if err != nil {
		t.Fatalf("fetched set does not link: %v", err)
	}
	svcs := s.Services()
	if len(svcs) != 1 || svcs[0].FullName() != libraryService {
		t.Fatalf("services %v", svcs)
	}
	with, without := s.MethodsWithHTTPRules()
	if len(with) != 11 || len(without) != 1 {
		t.Errorf("MethodsWithHTTPRules = %v, %v", with, without)
	}
	rule, ok := HTTPRule(svcs[0].Methods().ByName("UpdateBook"))
	if !ok || rule.GetPatch() != "/v1/{book.name=shelves/*/books/*}" || rule.GetBody() != "book" {
		t.Errorf("UpdateBook rule %v", rule)
	}
	// The service's own file arrives unchanged, options and comments
	// included.
	if got, want := filesByName(fds)[libraryProto], filesByName(lib.FDS)[libraryProto]; !proto.Equal(got, want) {
		t.Error("fetched library.proto differs from the served one")
	}
	if builtinsFromBinary {
		global, ok := builtinFile("google/api/http.proto")
		if !ok {
			t.Fatal("no built-in http.proto")
		}
		if !proto.Equal(filesByName(fds)["google/api/http.proto"], protodesc.ToFileDescriptorProto(global)) {
			t.Error("refused google/api/http.proto was not taken from the built-ins")
		}
	}
}

// TestFetchReflectionCanceled checks that a server that never answers does
// not hang the caller past its deadline, and leaves no stream behind.
func TestFetchReflectionCanceled(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	cc := serve(t, func(s *grpc.Server) {
		reflectionv1.RegisterServerReflectionServer(s, silentReflection{release: release})
	})
	defer close(release) // let the handler return before the server stops
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := FetchReflection(ctx, cc)
	if err == nil || !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Fatalf("FetchReflection = %v, want a deadline error", err)
	}
}

// silentReflection reads requests and never answers.
type silentReflection struct {
	reflectionv1.UnimplementedServerReflectionServer
	release chan struct{}
}

func (s silentReflection) ServerReflectionInfo(stream grpc.BidiStreamingServer[reflectionv1.ServerReflectionRequest, reflectionv1.ServerReflectionResponse]) error {
	select {
	case <-stream.Context().Done():
	case <-s.release:
	}
	return nil
}

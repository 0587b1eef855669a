package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/grpcmock"
)

func cmdMock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "grpc" {
		fmt.Fprintln(stderr, "usage: switchboard mock grpc --descriptors FILE --stubs FILE [--listen ADDR] [-I DIR]...")
		return errUsage
	}
	fs := flag.NewFlagSet("mock grpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	desc := fs.String("descriptors", "", "FileDescriptorSet (.pb) or .proto file")
	stubs := fs.String("stubs", "", "stub file (YAML)")
	listen := fs.String("listen", "127.0.0.1:50051", "address to serve on")
	var importPaths stringList
	fs.Var(&importPaths, "I", "import path for .proto files (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *desc == "" || *stubs == "" {
		fmt.Fprintln(stderr, "switchboard mock grpc: --descriptors and --stubs are required")
		return errUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	srv, err := newMockServer(ctx, *desc, importPaths, *stubs, log)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mock gRPC backend on %s (reflection on)\n", lis.Addr())
	return serveUntil(ctx, srv, lis)
}

func newMockServer(ctx context.Context, descPath string, importPaths []string, stubsPath string, log *slog.Logger) (*grpcmock.Server, error) {
	fds, err := loadSchemaFile(ctx, descPath, importPaths)
	if err != nil {
		return nil, err
	}
	set, err := descriptors.NewSet(filepath.Base(descPath), "", descPath, fds)
	if err != nil {
		return nil, err
	}
	st, err := mock.LoadStubs(stubsPath)
	if err != nil {
		return nil, err
	}
	return grpcmock.New(set.Files, set.Types, st, log)
}

// serveUntil serves srv on lis until ctx ends, then stops it gracefully.
func serveUntil(ctx context.Context, srv *grpcmock.Server, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		srv.GracefulStop()
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/descriptors"
	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/grpcmock"
	"github.com/switchboard-gw/switchboard/mock/natsmock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
)

func cmdMockGRPC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock grpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	desc := fs.String("descriptors", "", "FileDescriptorSet (.pb) or .proto file")
	stubs := fs.String("stubs", "", "stub file (YAML)")
	listen := fs.String("listen", "127.0.0.1:50051", "address to serve on")
	control := fs.String("control", "", controlUsage)
	var importPaths stringList
	fs.Var(&importPaths, "I", "import path for .proto files (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := noArgsLeft(fs, stderr); err != nil {
		return err
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
	stopControl, err := startControl(*control, srv.Faults(), stdout)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopControl()
	fmt.Fprintf(stdout, "mock gRPC backend on %s (reflection on)\n", lis.Addr())
	return serveUntil(ctx, srv.Serve, srv.GracefulStop, lis)
}

func newMockServer(ctx context.Context, descPath string, importPaths []string, stubsPath string, log *slog.Logger) (*grpcmock.Server, error) {
	fds, err := loadSchemaFile(ctx, descPath, importPaths)
	if err != nil {
		return nil, err
	}
	set, err := descriptors.NewSet(filepath.Base(descPath), "", schemaSource(descPath), fds)
	if err != nil {
		return nil, err
	}
	// Every problem of the stub file at once: the loader's, and the
	// mock's checks against the schema of the stubs the loader kept.
	st, err := mock.LoadStubs(stubsPath)
	if st == nil {
		return nil, err
	}
	srv, nerr := grpcmock.New(set.Files, set.Types, st, log)
	if err := mock.JoinProblems(err, nerr); err != nil {
		if srv != nil {
			srv.Stop()
		}
		return nil, err
	}
	return srv, nil
}

const controlUsage = "serve the fault control endpoint (/faults) on this address, e.g. 127.0.0.1:9092 (loopback when no host is given)"

// startControl starts a mock's fault control endpoint when --control gave
// an address, and returns what stops it.
func startControl(addr string, faults *mock.FaultTable, stdout io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	c, err := mock.StartControl(addr, faults)
	if err != nil {
		return nil, fmt.Errorf("--control: %w", err)
	}
	fmt.Fprintf(stdout, "fault control endpoint on %s/faults (seed %d)\n", c.URL(), faults.Seed())
	return func() { _ = c.Close() }, nil
}

// serveUntil runs serve on lis until ctx ends, then calls stop and waits
// for serve to return.
func serveUntil(ctx context.Context, serve func(net.Listener) error, stop func(), lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- serve(lis) }()
	select {
	case <-ctx.Done():
		stop()
		<-errc
		return nil
	case err := <-errc:
		return err
	}
}

func cmdMockThrift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock thrift", flag.ContinueOnError)
	fs.SetOutput(stderr)
	idlPath := fs.String("idl", "", ".thrift file")
	stubs := fs.String("stubs", "", "stub file (YAML)")
	service := fs.String("service", "", "service to serve (default: the only service of the file)")
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve on")
	control := fs.String("control", "", controlUsage)
	protocol := fs.String("protocol", "binary", "binary or compact")
	transport := fs.String("transport", "framed", "framed or buffered")
	multiplexed := fs.Bool("multiplexed", false, "serve Service:method names (TMultiplexedProtocol)")
	var includeDirs stringList
	fs.Var(&includeDirs, "I", "include directory (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := noArgsLeft(fs, stderr); err != nil {
		return err
	}
	if *idlPath == "" || *stubs == "" {
		fmt.Fprintln(stderr, "switchboard mock thrift: --idl and --stubs are required")
		return errUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	srv, err := newThriftMock(*idlPath, includeDirs, *service, *stubs,
		thriftmock.Options{Protocol: *protocol, Transport: *transport, Multiplexed: *multiplexed}, log)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	stopControl, err := startControl(*control, srv.Faults(), stdout)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopControl()
	fmt.Fprintf(stdout, "mock Thrift backend on %s (%s, %s)\n", lis.Addr(), *protocol, *transport)
	return serveUntil(ctx, srv.Serve, srv.Stop, lis)
}

func newThriftMock(idlPath string, includeDirs []string, service, stubsPath string, opts thriftmock.Options, log *slog.Logger) (*thriftmock.Server, error) {
	prog, err := idl.ParseFile(idlPath, idl.Options{IncludeDirs: includeDirs})
	if err != nil {
		return nil, err
	}
	if service == "" {
		if len(prog.Root.Services) != 1 {
			return nil, fmt.Errorf("%s has %d services: name one with --service", idlPath, len(prog.Root.Services))
		}
		for name := range prog.Root.Services {
			service = name
		}
	}
	st, err := mock.LoadStubs(stubsPath)
	if st == nil {
		return nil, err
	}
	srv, nerr := thriftmock.New(prog, service, st, opts, log)
	if err := mock.JoinProblems(err, nerr); err != nil {
		if srv != nil {
			srv.Stop()
		}
		return nil, err
	}
	return srv, nil
}

func cmdMockNATS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mock nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "nats://127.0.0.1:4222", "NATS server URL")
	control := fs.String("control", "", controlUsage)
	stubs := fs.String("stubs", "", "stub file (YAML, subject: per stub)")
	desc := fs.String("descriptors", "", "FileDescriptorSet (.pb) or .proto file with the --typed message types")
	var importPaths, typed stringList
	fs.Var(&importPaths, "I", "import path for .proto files (repeatable)")
	fs.Var(&typed, "typed", "SUBJECT=REQUEST:REPLY: protobuf payloads on that stub subject (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := noArgsLeft(fs, stderr); err != nil {
		return err
	}
	if *stubs == "" || (len(typed) > 0 && *desc == "") {
		fmt.Fprintln(stderr, "switchboard mock nats: --stubs is required, and --typed needs --descriptors")
		return errUsage
	}
	var set *descriptors.Set
	if *desc != "" {
		fds, err := loadSchemaFile(ctx, *desc, importPaths)
		if err != nil {
			return err
		}
		if set, err = descriptors.NewSet(filepath.Base(*desc), "", schemaSource(*desc), fds); err != nil {
			return err
		}
	}
	types := natsmock.TypesForSubject{}
	for _, t := range typed {
		subject, pair, ok1 := strings.Cut(t, "=")
		req, rep, ok2 := strings.Cut(pair, ":")
		if !ok1 || !ok2 {
			return fmt.Errorf("--typed %q: want SUBJECT=REQUEST:REPLY", t)
		}
		tt, err := messageTypes(set, req, rep)
		if err != nil {
			return err
		}
		types[subject] = tt
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	r, err := newNATSMock(*url, *stubs, types, log)
	if err != nil {
		return err
	}
	stopControl, err := startControl(*control, r.r.Faults(), stdout)
	if err != nil {
		r.stop()
		return err
	}
	defer stopControl()
	fmt.Fprintf(stdout, "mock NATS responder on %s\n", *url)
	<-ctx.Done()
	r.stop()
	return nil
}

func messageTypes(set *descriptors.Set, req, rep string) (natsmock.Types, error) {
	var tt natsmock.Types
	for _, m := range []struct {
		name string
		dst  *protoreflect.MessageDescriptor
	}{{req, &tt.Request}, {rep, &tt.Reply}} {
		d, err := set.Files.FindDescriptorByName(protoreflect.FullName(m.name))
		md, ok := d.(protoreflect.MessageDescriptor)
		if err != nil || !ok {
			return tt, fmt.Errorf("no message %s in %s", m.name, set.Source.String())
		}
		*m.dst = md
	}
	tt.Resolver = set.Types
	return tt, nil
}

// natsMock is a running stub responder and its connection.
type natsMock struct {
	nc *natsgo.Conn
	r  *natsmock.Responder
}

func (m *natsMock) stop() {
	_ = m.r.Stop()
	m.nc.Close()
}

func newNATSMock(url, stubsPath string, types natsmock.TypesForSubject, log *slog.Logger) (*natsMock, error) {
	// Every problem of the stub file at once, before connecting.
	st, err := natsmock.LoadStubs(stubsPath)
	if st == nil {
		return nil, err
	}
	if err := mock.JoinProblems(err, natsmock.Check(st, types)); err != nil {
		return nil, err
	}
	nc, err := natsgo.Connect(url, natsgo.Name("switchboard-mock"))
	if err != nil {
		return nil, err
	}
	r, err := natsmock.New(nc, st, types, log)
	if err == nil {
		err = r.Start()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &natsMock{nc: nc, r: r}, nil
}

// startNATSMock runs the demo's order responder, with shop.proto's types on
// the typed subject.
func startNATSMock(ctx context.Context, url, stubsPath, protoRoot string, log *slog.Logger) (*natsMock, error) {
	fds, err := descriptors.Compile(ctx, []string{"shop/v1/shop.proto"}, []string{protoRoot})
	if err != nil {
		return nil, err
	}
	set, err := descriptors.NewSet("shop", "", descriptors.Source{Kind: descriptors.SourceProto, Ref: "shop/v1/shop.proto"}, fds)
	if err != nil {
		return nil, err
	}
	tt, err := messageTypes(set, "shop.v1.Order", "shop.v1.OrderStatus")
	if err != nil {
		return nil, err
	}
	return newNATSMock(url, stubsPath, natsmock.TypesForSubject{"orders.typed.status": tt}, log)
}

// Command backend is the gRPC LibraryService both gateways call in the
// comparison: generated code, fixed replies, and a check of every request
// against what the scenario's HTTP request must transcode to, so that a
// gateway that loses a parameter is answered INVALID_ARGUMENT. It prints
// "grpc ADDR" on stdout once it listens, and stops on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/bench/fixture"
	libraryv1 "github.com/switchboard-gw/switchboard/bench/gen/library/v1"
)

type server struct {
	libraryv1.UnimplementedLibraryServiceServer
	wantList    *libraryv1.ListBooksRequest
	wantCreate  *libraryv1.CreateBookRequest
	listReply   *libraryv1.ListBooksResponse
	createReply *libraryv1.Book
}

func (s *server) ListBooks(_ context.Context, req *libraryv1.ListBooksRequest) (*libraryv1.ListBooksResponse, error) {
	if !proto.Equal(req, s.wantList) {
		return nil, status.Errorf(codes.InvalidArgument, "unexpected ListBooksRequest: %v", req)
	}
	return s.listReply, nil
}

func (s *server) CreateBook(_ context.Context, req *libraryv1.CreateBookRequest) (*libraryv1.Book, error) {
	if !proto.Equal(req, s.wantCreate) {
		return nil, status.Errorf(codes.InvalidArgument, "unexpected CreateBookRequest: %v", req)
	}
	return s.createReply, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	// The replies are built once and only read from then on: marshalling
	// a message concurrently is safe.
	libraryv1.RegisterLibraryServiceServer(srv, &server{
		wantList:    fixture.WantList(),
		wantCreate:  fixture.WantCreate(),
		listReply:   fixture.ListReply(),
		createReply: fixture.CreateReply(),
	})
	fmt.Printf("grpc %s\n", lis.Addr())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

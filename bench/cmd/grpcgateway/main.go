// Command grpcgateway is the other side of the comparison: grpc-gateway v2's
// generated handlers for LibraryService (RegisterLibraryServiceHandlerFromEndpoint)
// on a runtime.ServeMux with its default options, served by a plain
// net/http server, as a grpc-gateway deployment would be. A second listener
// serves Prometheus /metrics with the Go runtime and process collectors
// (go_memstats_mallocs_total, go_goroutines), as Switchboard's admin
// listener does, so the harness measures both processes the same way.
//
// It prints "http ADDR" and "metrics ADDR" on stdout once both listen, and
// stops on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	libraryv1 "github.com/switchboard-gw/switchboard/bench/gen/library/v1"
)

func main() {
	backend := flag.String("backend", "", "gRPC backend address")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listener")
	metricsAddr := flag.String("metrics", "127.0.0.1:0", "metrics listener")
	version := flag.Bool("version", false, "print the grpc-gateway module version and exit")
	flag.Parse()
	if *version {
		fmt.Println("grpc-gateway", moduleVersion("github.com/grpc-ecosystem/grpc-gateway/v2"))
		return
	}
	if err := run(*backend, *listen, *metricsAddr); err != nil {
		fmt.Fprintln(os.Stderr, "grpcgateway:", err)
		os.Exit(1)
	}
}

func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

func run(backend, listen, metricsAddr string) error {
	if backend == "" {
		return errors.New("-backend is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	mux := runtime.NewServeMux() // grpc-gateway v2 defaults: EmitUnpopulated, DiscardUnknown
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if err := libraryv1.RegisterLibraryServiceHandlerFromEndpoint(ctx, mux, backend, opts); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metricsMux := http.NewServeMux()
	metricsMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	mlis, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	msrv := &http.Server{Handler: metricsMux}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(lis) }()
	go func() { errc <- msrv.Serve(mlis) }()
	fmt.Printf("http %s\nmetrics %s\n", lis.Addr(), mlis.Addr())

	select {
	case <-ctx.Done():
		srv.Close()
		msrv.Close()
		return nil
	case err := <-errc:
		return err
	}
}

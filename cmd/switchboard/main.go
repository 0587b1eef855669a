// Command switchboard is the gateway: serve, validate, list routes and
// schemas, run the demo, and serve mock backends.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `switchboard: a REST/JSON gateway for gRPC services, transcoding at run time.

Usage:
  switchboard serve -c gateway.yaml        run the gateway
  switchboard validate -c gateway.yaml     check config and schemas; errors name file:line
  switchboard routes -c gateway.yaml       print the route table
  switchboard schema FILE...               list services, methods and HTTP rules in .proto or .pb files
  switchboard compile -o OUT.pb [-I DIR]... FILE.proto...
                                           compile .proto sources to a FileDescriptorSet (imports included)
  switchboard demo [--listen A] [--admin B] gateway + mock gRPC backend, with curl lines to try
  switchboard mock grpc --descriptors FILE --stubs FILE [--listen ADDR] [-I DIR]...
                                           serve a mock gRPC backend from descriptors and stubs
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "validate":
		err = cmdValidate(ctx, args[1:], stdout, stderr)
	case "routes":
		err = cmdRoutes(ctx, args[1:], stdout, stderr)
	case "schema":
		err = cmdSchema(args[1:], stdout, stderr)
	case "compile":
		err = cmdCompile(ctx, args[1:], stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "mock":
		err = cmdMock(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err != errUsage {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	return 0
}

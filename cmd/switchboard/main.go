// Command switchboard is the gateway: serve, validate, list routes and
// schemas, run the demo, and serve mock backends.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// command is one row of the command table, which both the dispatch and
// every help text are made from, so the two cannot drift.
type command struct {
	name    string // "serve", or "mock grpc" for a subcommand
	args    string
	summary string
	example string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

func init() {
	// In init: the table refers to functions that print it.
	commands = []command{
		{"serve", "-c FILE", "run the gateway", "switchboard serve -c examples/grpc.yaml", cmdServe},
		{"validate", "-c FILE [--dial]", "check config and schemas, every problem at once as file:line: key: problem; --dial also tries each backend endpoint",
			"switchboard validate -c examples/grpc.yaml --dial", cmdValidate},
		{"routes", "-c FILE", "print the route table: METHOD PATH -> backend target", "switchboard routes -c examples/grpc.yaml", cmdRoutes},
		{"openapi", "-c FILE [-o OUT] [--yaml] [--server URL]...", "write the OpenAPI 3.1 document of every route, the one the admin listener serves at /openapi.json",
			"switchboard openapi -c examples/demo.yaml -o openapi.json", cmdOpenAPI},
		{"schema", "[-I DIR]... FILE...", "list the services, methods and HTTP rules in .proto, .pb or .thrift files; errors name file:line:column",
			"switchboard schema testdata/thrift/calculator.thrift", func(_ context.Context, args []string, stdout, stderr io.Writer) error {
				return cmdSchema(args, stdout, stderr)
			}},
		{"compile", "-o OUT.pb [-I DIR]... FILE.proto...", "compile .proto sources to a FileDescriptorSet, imports included (no protoc needed)",
			"switchboard compile -o library.pb -I testdata/proto testdata/proto/library/v1/library.proto", cmdCompile},
		{"diff", "[-I DIR]... [--json] OLD NEW", "compare two versions of a schema (.pb or .proto) as the admin API checks an upload; exits 1 if a change breaks clients",
			"switchboard diff testdata/library.pb descriptors/diff/testdata/library/v1/library.proto", cmdDiff},
		{"demo", "[--listen ADDR] [--admin ADDR] [--dir DIR]", "the gateway with mock gRPC, Thrift and NATS backends, and curl lines to try",
			"switchboard demo --listen 127.0.0.1:8080", cmdDemo},
		{"mock grpc", "--descriptors FILE --stubs FILE [--listen ADDR] [--control ADDR] [-I DIR]...", "serve a mock gRPC backend from descriptors and a stub file",
			"switchboard mock grpc --descriptors testdata/library.pb --stubs testdata/stubs/library.yaml --listen 127.0.0.1:50051", cmdMockGRPC},
		{"mock thrift", "--idl FILE --stubs FILE [--service NAME] [--listen ADDR] [--control ADDR] [--protocol binary|compact] [--transport framed|buffered] [--multiplexed] [-I DIR]...",
			"serve a mock Thrift backend from an IDL and a stub file",
			"switchboard mock thrift --idl testdata/thrift/calculator.thrift --stubs testdata/stubs/calculator.yaml --listen 127.0.0.1:9090", cmdMockThrift},
		{"mock nats", "--url URL --stubs FILE [--control ADDR] [--descriptors FILE [-I DIR]... --typed SUBJECT=REQUEST:REPLY]...",
			"answer NATS requests on a server's subjects from a stub file",
			"switchboard mock nats --url nats://127.0.0.1:4222 --stubs testdata/stubs/orders.yaml", cmdMockNATS},
		{"explain", "-c FILE [--json] 'curl ...'", "show what the gateway would do with a request: the route and near misses, bindings, the backend message, policies and backend; calls nothing",
			"switchboard explain -c examples/demo.yaml 'curl -s http://127.0.0.1:8080/v1/shelves/1/books/2'", cmdExplain},
		{"ws", "[--origin O] [-H 'Name: value']... [--timeout D] URL", "a WebSocket client for streaming routes: each stdin line a text frame, each frame received a line of stdout",
			`printf '{"at":1}\n{"at":2}\n' | switchboard ws ws://127.0.0.1:8080/v1/ticks:chat`, cmdWS},
		{"version", "", "print the module version, commit and Go version", "switchboard version", cmdVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// usage is the top-level help, from the command table.
func usage() string {
	var b strings.Builder
	b.WriteString("switchboard: a REST/JSON gateway for gRPC, Thrift and NATS backends, transcoding at run time.\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", strings.TrimSpace("switchboard "+c.name+" "+c.args), c.summary)
	}
	b.WriteString("\n'switchboard COMMAND --help' shows a command's flags and an example.\n")
	return b.String()
}

// lookup finds the command args name ("mock grpc" takes two words) and
// returns it with the arguments after its name.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			return &commands[i], args[len(words):]
		}
	}
	return nil, nil
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// run is main without the process: tests call it with their own streams.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			fmt.Fprint(stdout, usage())
			return 0
		}
		if c, _ := lookup(args[1:]); c != nil {
			return help(ctx, c, stdout)
		}
		fmt.Fprintf(stderr, "switchboard help: unknown command %q\n\n%s", strings.Join(args[1:], " "), usage())
		return 2
	}
	c, rest := lookup(args)
	if c == nil {
		if args[0] == "mock" {
			if wantsHelp(args[1:]) {
				fmt.Fprint(stdout, usage())
				return 0
			}
			fmt.Fprintf(stderr, "switchboard mock: want grpc, thrift or nats\n\n%s", usage())
			return 2
		}
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage())
		return 2
	}
	if wantsHelp(rest) {
		return help(ctx, c, stdout)
	}
	if err := c.run(ctx, rest, stdout, stderr); err != nil {
		if err != errUsage {
			fmt.Fprintln(stderr, err)
		} else {
			fmt.Fprintf(stderr, "usage: %s\n", strings.TrimSpace("switchboard "+c.name+" "+c.args))
		}
		return 1
	}
	return 0
}

// help prints a command's summary, usage, flags and example on stdout.
func help(ctx context.Context, c *command, stdout io.Writer) int {
	fmt.Fprintf(stdout, "switchboard %s: %s\n\nUsage:\n  %s\n", c.name, c.summary, strings.TrimSpace("switchboard "+c.name+" "+c.args))
	if strings.Contains(c.args, "-") {
		// The command's own flag set prints its flags on -h and stops;
		// its "Usage of ..." line repeats what is above.
		var flags strings.Builder
		_ = c.run(ctx, []string{"-h"}, io.Discard, &flags)
		fmt.Fprintf(stdout, "\nFlags:\n")
		for _, line := range strings.SplitAfter(flags.String(), "\n") {
			if !strings.HasPrefix(line, "Usage of ") {
				fmt.Fprint(stdout, line)
			}
		}
	}
	fmt.Fprintf(stdout, "\nExample:\n  %s\n", c.example)
	return 0
}

func cmdVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return errUsage
	}
	version, commit, modified, goVersion := "(devel)", "unknown", false, "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += " (modified)"
	}
	fmt.Fprintf(stdout, "switchboard %s\ncommit %s\n%s\n", version, commit, goVersion)
	return nil
}

// noArgsLeft refuses words after the flags: flag parsing stops at the
// first one, so "--listen A extra --stubs B" would drop --stubs silently.
func noArgsLeft(fs *flag.FlagSet, stderr io.Writer) error {
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchboard %s: unexpected argument %q (flags go before any other word)\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

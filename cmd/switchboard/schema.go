package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// loadSchemaFile reads a .pb FileDescriptorSet or compiles a .proto file,
// searching importPaths and the file's own directory.
func loadSchemaFile(ctx context.Context, path string, importPaths []string) (*descriptorpb.FileDescriptorSet, error) {
	if strings.HasSuffix(path, ".proto") {
		paths := importPaths
		rel := path
		if len(paths) == 0 {
			paths = []string{filepath.Dir(path)}
			rel = filepath.Base(path)
		} else {
			rel = relativeTo(path, paths)
		}
		return descriptors.Compile(ctx, []string{rel}, paths)
	}
	return descriptors.ReadSetFile(path)
}

// relativeTo names path relative to the first import path that holds it,
// as protoc expects.
func relativeTo(path string, importPaths []string) string {
	for _, ip := range importPaths {
		if r, err := filepath.Rel(ip, path); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	}
	return path
}

func cmdSchema(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var importPaths stringList
	fs.Var(&importPaths, "I", "import path for .proto files, include directory for .thrift files (repeatable)")
	builtins := fs.Bool("builtins", false, "list the .proto files every schema may import without shipping them")
	asProto := fs.Bool("proto", false, "print .proto and .pb schemas as .proto source (a .pb's comments only if it kept them)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *builtins {
		fmt.Fprintln(stdout, "built-in files (import them; sets and sources need not include them):")
		for _, f := range descriptors.BuiltinFiles() {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
		return nil
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "switchboard schema: name at least one .proto, .pb or .thrift file")
		return errUsage
	}
	failed := false
	for _, path := range fs.Args() {
		if strings.HasSuffix(path, ".thrift") {
			prog, err := idl.ParseFile(path, idl.Options{IncludeDirs: importPaths})
			if err != nil {
				fmt.Fprintln(stderr, err)
				failed = true
				continue
			}
			printThrift(stdout, path, prog)
			continue
		}
		fds, err := loadSchemaFile(context.Background(), path, importPaths)
		if err == nil {
			var set *descriptors.Set
			if set, err = descriptors.NewSet(filepath.Base(path), "", schemaSource(path), fds); err == nil {
				if *asProto {
					err = set.PrintProto(stdout)
				} else {
					printSchema(stdout, path, set)
				}
				if err == nil {
					continue
				}
			}
		}
		fmt.Fprintln(stderr, err)
		failed = true
	}
	if failed {
		return errors.New("switchboard schema: errors above")
	}
	return nil
}

func printSchema(w io.Writer, path string, set *descriptors.Set) {
	services := set.Services()
	if len(services) == 0 {
		fmt.Fprintf(w, "%s: no services\n", path)
	}
	for _, sd := range services {
		fmt.Fprintf(w, "service %s  (%s)\n", sd.FullName(), path)
		ms := sd.Methods()
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			in, out := string(md.Input().FullName()), string(md.Output().FullName())
			if md.IsStreamingClient() {
				in = "stream " + in
			}
			if md.IsStreamingServer() {
				out = "stream " + out
			}
			fmt.Fprintf(w, "  rpc %s(%s) returns (%s)\n", md.Name(), in, out)
			rules := descriptors.HTTPRules(md)
			switch {
			case md.IsStreamingClient() && md.IsStreamingServer():
				fmt.Fprintf(w, "      (bidirectional stream: over a WebSocket, one JSON message a text frame each way)\n")
			case md.IsStreamingClient():
				fmt.Fprintf(w, "      (client stream: an application/x-ndjson body, one message a line; one JSON reply)\n")
			case md.IsStreamingServer():
				fmt.Fprintf(w, "      (server stream: NDJSON, Server-Sent Events or a JSON array, as Accept asks; or a WebSocket)\n")
			}
			if len(rules) == 0 {
				fmt.Fprintf(w, "      POST /%s/%s  (no google.api.http rule)\n", sd.FullName(), md.Name())
			}
			for _, r := range rules {
				extra := ""
				if r.Body != "" {
					extra += "  body: " + r.Body
				}
				if r.ResponseBody != "" {
					extra += "  response_body: " + r.ResponseBody
				}
				fmt.Fprintf(w, "      %s %s%s\n", r.Method, r.Path, extra)
			}
			printPolicyOption(w, md)
		}
	}
}

// printPolicyOption shows a method's switchboard.v1.policy option.
func printPolicyOption(w io.Writer, md protoreflect.MethodDescriptor) {
	p, ok, err := descriptors.PolicyOption(md)
	switch {
	case err != nil:
		fmt.Fprintf(w, "      policy option: %v\n", err)
	case ok:
		var parts []string
		if p.Policy != "" {
			parts = append(parts, "policy "+p.Policy)
		}
		if len(p.Scopes) > 0 {
			parts = append(parts, "scopes "+strings.Join(p.Scopes, " "))
		}
		if rl := p.RateLimit; rl != nil {
			key := rl.Key
			if key == "" {
				key = "client_ip"
			}
			parts = append(parts, fmt.Sprintf("rate limit %g per %s, burst %d, by %s", rl.Rate, rl.Per, rl.Burst, key))
		}
		fmt.Fprintf(w, "      (switchboard.v1.policy) %s\n", strings.Join(parts, "; "))
	}
}

// printThrift lists the services of a Thrift IDL file with their function
// signatures and HTTP annotations (the CloudWeGo api.* dialect).
func printThrift(w io.Writer, path string, prog *idl.Program) {
	var names []string
	for name := range prog.Root.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintf(w, "%s: no services\n", path)
	}
	for _, name := range names {
		svc := prog.Root.Services[name]
		ext := ""
		if svc.Extends != nil {
			ext = " extends " + svc.Extends.FullName()
		}
		fmt.Fprintf(w, "service %s%s  (%s)\n", svc.Name, ext, path)
		fmt.Fprintf(w, "  (Thrift has no streaming: every function is one call and one reply, or none when oneway)\n")
		for _, fn := range svc.AllFunctions() {
			fmt.Fprintf(w, "  %s\n", thriftSignature(fn))
			rules := 0
			for _, verb := range []string{"get", "post", "put", "delete", "patch"} {
				if p, ok := fn.Annotations.Get("api." + verb); ok {
					fmt.Fprintf(w, "      %s %s\n", strings.ToUpper(verb), p)
					rules++
				}
			}
			if rules == 0 {
				fmt.Fprintf(w, "      POST /%s/%s  (no api.* annotation)\n", svc.Name, fn.Name)
			}
		}
	}
	for _, warn := range prog.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func thriftSignature(fn *idl.Function) string {
	var b strings.Builder
	if fn.Oneway {
		b.WriteString("oneway ")
	}
	if fn.Returns == nil || fn.Returns.Kind == idl.KindVoid {
		b.WriteString("void")
	} else {
		b.WriteString(fn.Returns.Name)
	}
	b.WriteString(" " + fn.Name + "(" + thriftFields(fn.Args) + ")")
	if len(fn.Throws) > 0 {
		b.WriteString(" throws (" + thriftFields(fn.Throws) + ")")
	}
	return b.String()
}

func thriftFields(fs []*idl.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		req := ""
		switch f.Required {
		case idl.Required:
			req = "required "
		case idl.Optional:
			req = "optional "
		}
		parts[i] = fmt.Sprintf("%d: %s%s %s", f.ID, req, f.Type.Name, f.Name)
	}
	return strings.Join(parts, ", ")
}

func cmdCompile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var importPaths stringList
	fs.Var(&importPaths, "I", "import path (repeatable); files are named relative to one")
	out := fs.String("o", "", "output FileDescriptorSet file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: switchboard compile -o OUT.pb [-I DIR]... FILE.proto...")
		return errUsage
	}
	if len(importPaths) == 0 {
		importPaths = stringList{"."}
	}
	files := make([]string, fs.NArg())
	for i, f := range fs.Args() {
		files[i] = relativeTo(f, importPaths)
	}
	fds, err := descriptors.Compile(ctx, files, importPaths)
	if err != nil {
		return err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fds)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d files\n", *out, len(fds.GetFile()))
	return nil
}

// schemaSource is where a schema file named on the command line comes
// from: a .proto compiled now, or a descriptor set.
func schemaSource(path string) descriptors.Source {
	if strings.HasSuffix(path, ".proto") {
		return descriptors.Source{Kind: descriptors.SourceProto, Ref: path}
	}
	return descriptors.Source{Kind: descriptors.SourceFile, Ref: path}
}

// Command regen regenerates the Go code under gen/ that the grpc-gateway
// side of the comparison needs: protoc-gen-go messages, protoc-gen-go-grpc
// stubs and protoc-gen-grpc-gateway handlers for library/v1/library.proto.
//
// It needs no protoc: the schema is compiled by the project's own compiler
// (descriptors.Compile, which supplies google/api/annotations.proto itself),
// the result is wrapped in a pluginpb.CodeGeneratorRequest, and each plugin
// runs through `go run MODULE@VERSION` with that request on its stdin, the
// way protoc would call it. Run it from bench/ (make bench-regen).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/switchboard-gw/switchboard/descriptors"
)

// The plugins, pinned. protoc-gen-go matches the google.golang.org/protobuf
// the modules use, and protoc-gen-grpc-gateway the runtime in go.mod.
var plugins = []string{
	"google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12",
	"google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2",
	"github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@v2.34.0",
}

const (
	protoFile = "library/v1/library.proto"
	goPackage = "github.com/switchboard-gw/switchboard/bench/gen/library/v1;libraryv1"
)

func main() {
	repo := flag.String("repo", "..", "the repository root (its testdata/proto holds the schema)")
	out := flag.String("out", "gen", "directory the generated files are written under")
	flag.Parse()
	if err := run(context.Background(), *repo, *out); err != nil {
		fmt.Fprintln(os.Stderr, "regen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, repo, out string) error {
	fds, err := descriptors.Compile(ctx, []string{protoFile}, []string{filepath.Join(repo, "testdata", "proto")})
	if err != nil {
		return err
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{protoFile},
		// Source-relative paths put library/v1/*.go under out; M gives the
		// file, which has no go_package option, its Go package.
		Parameter: proto.String("paths=source_relative,M" + protoFile + "=" + goPackage),
		ProtoFile: fds.GetFile(), // dependencies first, as protoc sends them
	}
	in, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	for _, p := range plugins {
		if err := generate(ctx, p, in, out); err != nil {
			return err
		}
	}
	return nil
}

// generate runs one plugin on the request and writes the files it returns.
func generate(ctx context.Context, plugin string, in []byte, out string) error {
	cmd := exec.CommandContext(ctx, "go", "run", plugin)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v\n%s", plugin, err, stderr.Bytes())
	}
	var resp pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return fmt.Errorf("%s: reading its response: %v", plugin, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("%s: %s", plugin, resp.GetError())
	}
	for _, f := range resp.GetFile() {
		if f.GetInsertionPoint() != "" {
			return fmt.Errorf("%s: insertion points are not supported (%s)", plugin, f.GetName())
		}
		name := filepath.Join(out, filepath.FromSlash(f.GetName()))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(name, []byte(f.GetContent()), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s  (%s)\n", name, plugin)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/switchboard-gw/switchboard/openapi"
)

// openAPIServers collects repeated --server flags.
type openAPIServers []string

func (s *openAPIServers) String() string { return strings.Join(*s, ",") }

func (s *openAPIServers) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// cmdOpenAPI writes the document the admin listener serves at
// /openapi.json, from the config alone: the gateway is built as serve
// builds it, without listening, and nothing is dialled.
func cmdOpenAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "configuration file")
	out := fs.String("o", "", "write the document to this file instead of standard output")
	asYAML := fs.Bool("yaml", false, "write YAML instead of JSON")
	var servers openAPIServers
	fs.Var(&servers, "server", "a URL clients call the gateway at, such as https://api.example.com (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := noArgsLeft(fs, stderr); err != nil {
		return err
	}
	g, cfg, _, err := load(ctx, *path, io.Discard)
	if err != nil {
		return err
	}
	defer g.Close()
	if len(servers) == 0 {
		servers = cfg.OpenAPI.Servers // what the listeners serve
	}
	doc := openapi.Build(g.State(), g.PolicySummary, openapi.Options{Servers: servers})
	var b []byte
	if *asYAML {
		b, err = doc.YAML()
	} else {
		b, err = doc.JSON()
	}
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	return nil
}

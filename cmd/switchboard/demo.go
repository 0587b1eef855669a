package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
)

// demoConfig is the gateway the demo runs; %s are the mock backends' addresses.
const demoConfig = `
listen: %q
admin: %q
log: {level: info, format: text}
descriptors:
  - name: library
    proto: [library/v1/library.proto]
    import_paths: [%q]
backends:
  library:
    grpc: {endpoints: [%q]}
    timeout: 2s
    retry: {attempts: 3, backoff: 50ms, on: [UNAVAILABLE]}
    breaker: {failures: 5, cooldown: 10s}
    headers: [X-Tenant]
  echo:
    grpc: {endpoints: [%q]}
    timeout: 2s
services:
  - name: library.v1.LibraryService
    backend: library
routes:
  - get: /v1/shelves/{parent}/titles
    backend: library
    grpc: library.v1.LibraryService/ListBooks
`

// demoCurls are the lines the demo prints; {gw} and {admin} are replaced by
// the listeners. The cmd tests run every one of them.
var demoCurls = []struct{ Say, Cmd, Want string }{
	{"GET with a nested path variable", `curl -s {gw}/v1/shelves/1/books/1`, `"title":"The Dispossessed"`},
	{"another book: 64-bit integers as strings, enums as names", `curl -s {gw}/v1/shelves/1/books/2`, `"copiesSold":"25000000"`},
	{"query parameters into nested fields, repeated enums and a map", `curl -s -g '{gw}/v1/books:search?filter.author.name=Ursula%20K.%20Le%20Guin&filter.genres=FICTION&filter.labels[lang]=en&page_size=5'`, `"totalSize":"1"`},
	{"POST with a body field", `curl -s -X POST {gw}/v1/shelves/1/books -H 'Content-Type: application/json' -d '{"title":"The Left Hand of Darkness","author":{"name":"Ursula K. Le Guin"},"pageCount":"304"}'`, `"title":"The Left Hand of Darkness"`},
	{"PATCH with a field mask", `curl -s -X PATCH '{gw}/v1/shelves/1/books/1?update_mask=title,rating' -H 'Content-Type: application/json' -d '{"title":"The Dispossessed: An Ambiguous Utopia","rating":4.7}'`, `"rating":4.7`},
	{"a custom verb", `curl -s -X POST {gw}/v1/shelves/1/books/1:archive -H 'Content-Type: application/json' -d '{"reason":"worn out"}'`, `"archived":"true"`},
	{"response_body: only the shelves list", `curl -s {gw}/v1/shelves`, `[{"name":"shelves/1"`},
	{"a multi-segment wildcard", `curl -s {gw}/v1/files/covers/2024/dispossessed.png`, `"path":"covers/2024/dispossessed.png"`},
	{"google.api.HttpBody: raw bytes with their content type", `curl -s -i {gw}/v1/shelves/1/books/1/cover`, `Content-Type: text/plain`},
	{"a method without annotation", `curl -s -X POST {gw}/library.v1.LibraryService/Ping -H 'Content-Type: application/json' -d '{"message":"hello"}'`, `"message":"hello"`},
	{"a route from the config file", `curl -s {gw}/v1/shelves/1/titles`, `"books":[`},
	{"an error with details (404, google.rpc.ErrorInfo)", `curl -s -i {gw}/v1/shelves/1/books/404`, `"reason":"BOOK_NOT_FOUND"`},
	{"a bad parameter (400 naming the field)", `curl -s '{gw}/v1/shelves/1/books?page_size=many'`, `for field \"page_size\"`},
	{"the route table", `curl -s {admin}/admin/routes`, `"path": "/v1/{name=shelves/*/books/*}"`},
	{"register a descriptor set at run time, then call it", `curl -s -X POST '{admin}/admin/descriptors?name=echo&backend=echo' --data-binary @testdata/echo.pb && curl -s {gw}/v1/echo/hi`, `{"message":"hi","repeat":0}`},
	{"upload it again (version 2), roll back to version 1", `curl -s -X POST '{admin}/admin/descriptors?name=echo&backend=echo' --data-binary @testdata/echo.pb && curl -s -X POST {admin}/admin/descriptors/echo/rollback`, `"version": 1`},
	{"the registered sets", `curl -s {admin}/admin/descriptors`, `"name": "echo"`},
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "gateway address")
	adminAddr := fs.String("admin", "127.0.0.1:9901", "admin API address")
	dir := fs.String("dir", ".", "the repository root, where testdata/ is")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	return runDemo(ctx, *dir, *listen, *adminAddr, stdout, stderr, nil)
}

// runDemo starts the mock backends and the gateway and blocks until ctx
// ends. started, if set, gets the gateway's listeners (tests use port 0).
func runDemo(ctx context.Context, dir, listen, adminAddr string, stdout, stderr io.Writer, started func(gateway.Listeners)) error {
	td := filepath.Join(dir, "testdata")
	if _, err := os.Stat(filepath.Join(td, "library.pb")); err != nil {
		return fmt.Errorf("demo: %s not found: run the demo from the repository root or pass --dir", filepath.Join(td, "library.pb"))
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	mocks := []struct{ desc, stubs string }{
		{filepath.Join(td, "library.pb"), filepath.Join(td, "stubs", "library.yaml")},
		{filepath.Join(td, "echo.pb"), filepath.Join(td, "stubs", "echo.yaml")},
	}
	addrs := make([]string, len(mocks))
	errc := make(chan error, len(mocks)+1)
	for i, m := range mocks {
		srv, err := newMockServer(ctx, m.desc, nil, m.stubs, log.With("mock", filepath.Base(m.desc)))
		if err != nil {
			return fmt.Errorf("demo mock: %w", err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[i] = lis.Addr().String()
		go func() { errc <- serveUntil(ctx, srv, lis) }()
	}

	yaml := fmt.Sprintf(demoConfig, listen, adminAddr, filepath.Join(td, "proto"), addrs[0], addrs[1])
	cfg, err := config.Parse([]byte(yaml), "demo.yaml")
	if err != nil {
		return err
	}
	metrics := observability.NewMetrics()
	g, err := gateway.New(ctx, cfg, log, metrics)
	if err != nil {
		return err
	}
	err = g.Run(ctx, admin.Handler(g, metrics.Handler(), g.Ready), func(l gateway.Listeners) {
		fmt.Fprintf(stdout, "Switchboard demo: gateway on http://%s, admin on http://%s\n", l.HTTP, l.Admin)
		fmt.Fprintf(stdout, "mock gRPC backends (server reflection on): library on %s, echo on %s\n\nTry:\n\n", addrs[0], addrs[1])
		for _, c := range demoCurls {
			fmt.Fprintf(stdout, "# %s\n%s\n\n", c.Say, expandCurl(c.Cmd, l))
		}
		fmt.Fprintln(stdout, "Ctrl-C stops the demo.")
		if started != nil {
			started(l)
		}
	})
	cancel()
	for range mocks {
		<-errc
	}
	return err
}

func expandCurl(cmd string, l gateway.Listeners) string {
	return strings.NewReplacer("{gw}", "http://"+l.HTTP, "{admin}", "http://"+l.Admin).Replace(cmd)
}

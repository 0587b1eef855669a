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
	"strconv"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy/idp"
	"github.com/switchboard-gw/switchboard/translate/builtin"
	grpcproto "github.com/switchboard-gw/switchboard/translate/grpc"
	thriftproto "github.com/switchboard-gw/switchboard/translate/thrift"
)

// demoConfigFile is the gateway the demo runs, relative to the repository
// root; the demo replaces its listeners and mock endpoints.
const demoConfigFile = "examples/demo.yaml"

// demoCurls are the lines the demo prints; {gw} and {admin} are replaced by
// the listeners, {libctl} by the library mock's fault control endpoint.
// The cmd tests run every one of them.
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
	{"the route table", `curl -s {admin}/admin/routes -H 'Authorization: Bearer {admintoken}'`, `"path": "/v1/{name=shelves/*/books/*}"`},
	{"register a descriptor set at run time, then call it", `curl -s -X POST '{admin}/admin/descriptors?name=echo&backend=echo' -H 'Authorization: Bearer {admintoken}' -H 'Content-Type: application/x-protobuf' --data-binary @testdata/echo.pb && curl -s {gw}/v1/echo/hi`, `{"message":"hi","repeat":0}`},
	{"upload it again (version 2), roll back to version 1", `curl -s -X POST '{admin}/admin/descriptors?name=echo&backend=echo' -H 'Authorization: Bearer {admintoken}' -H 'Content-Type: application/x-protobuf' --data-binary @testdata/echo.pb && curl -s -X POST {admin}/admin/descriptors/echo/rollback -H 'Authorization: Bearer {admintoken}'`, `"version": 1`},
	{"the registered sets", `curl -s {admin}/admin/descriptors -H 'Authorization: Bearer {admintoken}'`, `"name": "echo"`},
	{"Thrift: a config route to Calculator.add", `curl -s {gw}/v1/sum/1/2`, `3`},
	{"Thrift: an IDL-annotated route (api.post), a struct argument from path and body", `curl -s -X POST {gw}/v1/calculate/7 -H 'Content-Type: application/json' -d '{"w":{"num1":6,"num2":7,"op":"MULTIPLY"}}'`, `42`},
	{"Thrift: a declared exception, its status from the IDL (422)", `curl -s -i -X POST {gw}/v1/calculate/7 -H 'Content-Type: application/json' -d '{"w":{"num1":1,"num2":0,"op":"DIVIDE"}}'`, `"@type":"thrift/calculator.InvalidOperation"`},
	{"Thrift: containers, maps keyed by enum, i64 as strings, binary as base64", `curl -s -X POST {gw}/Calculator/stats -H 'Content-Type: application/json' -d '{}'`, `"by_op":{"ADD":"7","DIVIDE":"5"}`},
	{"Thrift: a oneway call answers 202", `curl -s -i -X POST {gw}/v1/zip`, `202 Accepted`},
	{"NATS: request/reply on orders.42.get", `curl -s {gw}/v1/orders/42`, `"status":"SHIPPED"`},
	{"NATS: a micro-protocol error becomes 404 with details", `curl -s -i {gw}/v1/orders/9`, `"reason":"ORDER_NOT_FOUND"`},
	{"NATS: a subject injection attempt is refused", `curl -s {gw}/v1/orders/a.%2A`, `"code":3`},
	{"NATS: publish, fire and forget (202)", `curl -s -X POST {gw}/v1/orders/42/events -H 'Content-Type: application/json' -d '{"event":"packed"}'`, `"subject":"orders.42.events"`},
	{"NATS: JetStream publish, acknowledged; a retry with the same Idempotency-Key is stored once", `curl -s -X POST {gw}/v1/orders/42 -H 'Content-Type: application/json' -H 'Idempotency-Key: 0b6f3c1e-order-42' -d '{"sku":"BOOK-DISPOSSESSED"}' && curl -s -X POST {gw}/v1/orders/42 -H 'Content-Type: application/json' -H 'Idempotency-Key: 0b6f3c1e-order-42' -d '{"sku":"BOOK-DISPOSSESSED"}'`, `"duplicate":true`},
	{"NATS: a subscription streams what another curl publishes (here in the background for 3s; in a terminal of its own, leave out --max-time and &)", `curl -N -s --max-time 3 {gw}/v1/orders/42/events & sleep 1; curl -s -X POST {gw}/v1/orders/42/events -H 'Content-Type: application/json' -d '{"event":"shipped"}'; wait; echo`, `{"result":{"subject":"orders.42.events","data":{"event":"shipped"}}}`},
	{"NATS: a JetStream subscription replays the ORDERS stream from its start, each event with its sequence as id", `curl -N -s --max-time 2 '{gw}/v1/orders/42/created?deliver=all' -H 'Accept: text/event-stream'; echo`, `"subject":"orders.42.created","sequence":`},
	{"NATS: typed, JSON in, protobuf on the wire, JSON out", `curl -s -X POST {gw}/v1/orders:status -H 'Content-Type: application/json' -d '{"id":"42","items":[{"sku":"BOOK","quantity":1}]}'`, `"status":"STATUS_SHIPPED"`},
	{"a server stream in NDJSON: each tick arrives as the backend sends it (-N: curl does not buffer)", `curl -N -s {gw}/v1/ticks`, `{"result":{"at":"3","note":"tick"}}`},
	{"the same stream as Server-Sent Events, each with an id", `curl -N -s {gw}/v1/ticks -H 'Accept: text/event-stream'`, `id: 3`},
	{"a stream that fails after two messages: the error is its last line", `curl -N -s '{gw}/v1/ticks?at=99'`, `{"error":{"code":14,"message":"ticker restarting"`},
	{"a client-streaming upload: one JSON message a line (-T FILE.ndjson streams a file); the mock says how many arrived", `printf '{"at":1}\n{"at":2}\n{"at":3}\n' | curl -s -i -X POST {gw}/v1/ticks:upload -H 'Content-Type: application/x-ndjson' --data-binary @-`, `Grpc-Metadata-Mock-Messages-Received: 3`},
	{"rehearse an outage: the library mock's control endpoint makes GetBook fail with UNAVAILABLE; the gateway retries, then answers 503 (run it twice and the breaker opens: see /admin/backends on the admin listener)", `curl -s -X POST {libctl}/faults -d '{"method":"library.v1.LibraryService/GetBook","error_rate":1,"error_code":"UNAVAILABLE"}' && curl -s -i {gw}/v1/shelves/1/books/1`, `503 Service Unavailable`},
	{"the policy stage: a protected route answers 401 without credentials", `curl -s -i {gw}/v1/members/shelves/1/books`, `401 Unauthorized`},
	{"200 with the demo's API key (kept in the config only as its SHA-256)", `curl -s {gw}/v1/members/shelves/1/books -H 'X-Api-Key: ` + demoAPIKey + `'`, `"books":[`},
	{"200 with a JWT minted by the identity provider the demo runs in-process (the backend gets its subject as X-User-Id)", `curl -s {gw}/v1/members/shelves/1/books -H 'Authorization: Bearer {jwt}'`, `"books":[`},
	{"403 with a JWT that lacks the library.read scope", `curl -s -i {gw}/v1/members/shelves/1/books -H 'Authorization: Bearer {jwt_noscope}'`, `403 Forbidden`},
	{"a rate-limited route: 3 requests at once per client, then 429 with Retry-After and RateLimit headers", `for i in 1 2 3; do curl -s -o /dev/null {gw}/v1/limited/shelves/1/titles; done; curl -s -i {gw}/v1/limited/shelves/1/titles`, `429 Too Many Requests`},
	{"a CORS preflight from an allowed origin, answered by the gateway", `curl -s -i -X OPTIONS {gw}/v1/members/shelves/1/books -H 'Origin: https://app.example.com' -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: authorization'`, `Access-Control-Allow-Origin: https://app.example.com`},
	{"the admin API refuses a request without its token", `curl -s -i {admin}/admin/backends`, `401 Unauthorized`},
	{"the live OpenAPI 3.1 document of every route (no token needed); a browser at the admin address gets the dashboard", `curl -s {admin}/openapi.json | head -c 300`, `"openapi": "3.1.0"`},
	{"clear the mock's faults: the book is back (after the breaker's 10s cooldown, if it opened)", `curl -s -X DELETE {libctl}/faults && curl -s {gw}/v1/shelves/1/books/1`, `"title":"The Dispossessed"`},
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
	if err := noArgsLeft(fs, stderr); err != nil {
		return err
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
		{filepath.Join(td, "stream.pb"), filepath.Join(td, "stubs", "ticker.yaml")},
	}
	addrs := make([]string, len(mocks))
	errc := make(chan error, len(mocks)+1)
	var libControl *mock.Control
	defer func() {
		if libControl != nil {
			_ = libControl.Close()
		}
	}()
	for i, m := range mocks {
		srv, err := newMockServer(ctx, m.desc, nil, m.stubs, log.With("mock", filepath.Base(m.desc)))
		if err != nil {
			return fmt.Errorf("demo mock: %w", err)
		}
		if i == 0 {
			// The library mock's faults can be changed with curl, to
			// rehearse an outage.
			if libControl, err = mock.StartControl(libControlAddr(adminAddr), srv.Faults()); err != nil {
				srv.Stop()
				return fmt.Errorf("demo mock control endpoint: %w", err)
			}
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[i] = lis.Addr().String()
		go func() { errc <- serveUntil(ctx, srv.Serve, srv.GracefulStop, lis) }()
	}
	idlPath := filepath.Join(td, "thrift", "calculator.thrift")
	thriftSrv, err := newThriftMock(idlPath, nil, "Calculator", filepath.Join(td, "stubs", "calculator.yaml"),
		thriftmock.Options{Protocol: "binary", Transport: "framed"}, log.With("mock", "calculator.thrift"))
	if err != nil {
		return fmt.Errorf("demo thrift mock: %w", err)
	}
	thriftLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { errc <- serveUntil(ctx, thriftSrv.Serve, thriftSrv.Stop, thriftLis) }()

	endpoints := map[string]string{"library": addrs[0], "echo": addrs[1], "ticker": addrs[2], "calc": thriftLis.Addr().String()}
	cfg, err := demoConfig(dir, listen, adminAddr, endpoints)
	if err != nil {
		return err
	}
	// The identity provider whose tokens the members policy trusts.
	provider, err := demoProvider()
	if err != nil {
		return fmt.Errorf("demo identity provider: %w", err)
	}
	if err := provider.Start("127.0.0.1:0"); err != nil {
		return fmt.Errorf("demo identity provider: %w", err)
	}
	defer provider.Close()
	providerURL := provider.Issuer() // Start names its own address; the tokens keep the demo's issuer
	provider.SetIssuer(demoIssuer)
	pointAtProvider(cfg, providerURL+idp.JWKSPath)
	if os.Getenv(demoAdminTokenEnv) == "" {
		// The demo's admin API wants a token like any other; this one is
		// printed in the curl lines.
		_ = os.Setenv(demoAdminTokenEnv, demoAdminTokenDefault)
	}
	metrics := observability.NewMetrics()
	// An edit of examples/demo.yaml (or SIGHUP, or POST /admin/reload)
	// reloads it, pointed at the same mocks.
	g, err := gateway.New(ctx, cfg, log, metrics, gateway.WithFailures(recentErrors.RecordFailure), gateway.WithConfigTransform(demoTransform(dir, listen, adminAddr, endpoints, providerURL+idp.JWKSPath)))
	if err != nil {
		return err
	}
	go func() { _ = g.WatchConfig(ctx) }()
	// The NATS responder answers on the gateway's embedded server.
	busURL, _ := g.ClientURL("bus")
	responder, err := startNATSMock(ctx, busURL, filepath.Join(td, "stubs", "orders.yaml"), filepath.Join(td, "proto"), log.With("mock", "orders.yaml"))
	if err != nil {
		g.Close()
		return fmt.Errorf("demo nats mock: %w", err)
	}
	defer responder.stop()
	var adminListener string
	defer func() { demoControls.Delete(adminListener) }()
	adminOpts, err := adminOptions(g, cfg)
	if err != nil {
		g.Close()
		return err
	}
	err = g.Run(ctx, admin.Handler(g, metrics.Handler(), g.Ready, adminOpts...), func(l gateway.Listeners) {
		adminListener = l.Admin
		demoControls.Store(l.Admin, libControl.Addr().String())
		fmt.Fprintf(stdout, "Switchboard demo: gateway on http://%s, admin on http://%s\n", l.HTTP, l.Admin)
		fmt.Fprintf(stdout, "mock gRPC backends (server reflection on): library on %s (fault control endpoint: %s/faults), echo on %s, ticker (streams) on %s\n",
			addrs[0], libControl.URL(), addrs[1], addrs[2])
		fmt.Fprintf(stdout, "mock Thrift backend (binary, framed): %s; embedded NATS with JetStream: %s\n", thriftLis.Addr(), busURL)
		fmt.Fprintf(stdout, "identity provider (OIDC discovery, JWKS): %s; admin token: %s; API key: %s\n\nTry:\n\n", providerURL, demoAdminToken(), demoAPIKey)
		for _, c := range demoCurls {
			fmt.Fprintf(stdout, "# %s\n%s\n\n", c.Say, expandCurl(c.Cmd, l))
		}
		fmt.Fprintf(stdout, "The mock backends answer from stub files and keep no state: a PATCH is not seen by the next GET.\n")
		fmt.Fprintf(stdout, "The gateway's config is %s.\n", filepath.Join(dir, demoConfigFile))
		fmt.Fprintln(stdout, "Ctrl-C stops the demo.")
		if started != nil {
			started(l)
		}
	})
	cancel()
	for range len(mocks) + 1 {
		<-errc
	}
	return err
}

func expandCurl(cmd string, l gateway.Listeners) string {
	ctl, ok := demoControls.Load(l.Admin)
	if !ok {
		ctl = libControlAddr(l.Admin)
	}
	toks := demoTokens()
	return strings.NewReplacer("{gw}", "http://"+l.HTTP, "{admin}", "http://"+l.Admin, "{libctl}", "http://"+ctl.(string),
		"{jwt}", toks.member, "{jwt_noscope}", toks.guest, "{admintoken}", demoAdminToken()).Replace(cmd)
}

// demoControls maps a running demo's admin listener to its library mock's
// control endpoint, for expandCurl: the curl lines name the endpoint
// {libctl}, and the gateway's Listeners, which they are expanded with,
// do not hold it.
var demoControls sync.Map

// libControlAddr is where the demo serves the library mock's fault control
// endpoint: on loopback, on the port after the admin API's (9902 beside
// the default 9901), or on any free port when the admin's is 0.
func libControlAddr(adminAddr string) string {
	_, port, _ := net.SplitHostPort(adminAddr)
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n >= 65535 {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n+1))
}

// demoConfig loads examples/demo.yaml from the repository at dir and points
// it at the demo's listeners and mock backends.
func demoConfig(dir, listen, adminAddr string, endpoints map[string]string) (*config.Config, error) {
	cfg, err := config.Load(filepath.Join(dir, demoConfigFile), builtin.Protocols().Config())
	if err != nil {
		return nil, err
	}
	return cfg, demoTransform(dir, listen, adminAddr, endpoints, "")(cfg)
}

// demoTransform points a config read from examples/demo.yaml at the demo's
// listeners, mock backends and identity provider: at start, and again on
// every reload of the edited file.
func demoTransform(dir, listen, adminAddr string, endpoints map[string]string, jwksURL string) func(*config.Config) error {
	return func(cfg *config.Config) error {
		cfg.Listen, cfg.Admin.Listen = listen, adminAddr
		for i := range cfg.Descriptors {
			for j, p := range cfg.Descriptors[i].ImportPaths {
				cfg.Descriptors[i].ImportPaths[j] = filepath.Join(dir, p)
			}
		}
		for name, addr := range endpoints {
			b, ok := cfg.Backends[name]
			if !ok {
				continue // removed by an edit: the reload says what changed
			}
			switch sec := b.Section.(type) {
			case *grpcproto.BackendConfig:
				sec.Endpoints = []string{addr}
			case *thriftproto.BackendConfig:
				sec.Endpoints = []string{addr}
				sec.IDL = filepath.Join(dir, sec.IDL)
			default:
				return fmt.Errorf("%s: backend %s is not the gRPC or Thrift backend the demo mocks", demoConfigFile, name)
			}
		}
		if jwksURL != "" {
			pointAtProvider(cfg, jwksURL)
		}
		return nil
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

var errUsage = errors.New("usage")

func configFlag(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchboard %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", errUsage
	}
	return *path, nil
}

// load does everything serve does before listening: config, backends,
// schemas, route table.
func load(ctx context.Context, path string, logOut io.Writer) (*gateway.Gateway, *config.Config, *observability.Metrics, error) {
	cfg, err := config.Load(path, builtin.Protocols().Config())
	if err != nil {
		return nil, nil, nil, err
	}
	log, err := observability.NewLogger(logOut, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, nil, nil, err
	}
	metrics := observability.NewMetrics()
	g, err := gateway.New(ctx, cfg, log, metrics, gateway.WithFailures(recentErrors.RecordFailure))
	if err != nil {
		return nil, nil, nil, err
	}
	return g, cfg, metrics, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// SIGHUP reloads the config; until the watcher is up (loading may take
	// seconds), one must not end the process as its default action would.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	path, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	g, cfg, metrics, err := load(ctx, path, stderr)
	if err != nil {
		return err
	}
	opts, err := adminOptions(g, cfg)
	if err != nil {
		g.Close()
		return err
	}
	// SIGHUP and an edited config file reload it; POST /admin/reload too.
	go func() {
		if err := g.WatchConfig(ctx); err != nil {
			fmt.Fprintf(stderr, "switchboard: %v (reload with SIGHUP or POST /admin/reload)\n", err)
		}
	}()
	return g.Run(ctx, admin.Handler(g, metrics.Handler(), g.Ready, opts...), nil)
}

// adminOptions are the admin API's settings from the config: the Host
// names it answers to, its token, and the gateway's readiness detail.
func adminOptions(g *gateway.Gateway, cfg *config.Config) ([]admin.Option, error) {
	tok, err := admin.Token(cfg.Admin)
	if err != nil {
		return nil, err
	}
	if cfg.OpenAPI.Public {
		for _, p := range []string{"/openapi.json", "/openapi.yaml"} {
			if r, _, err := g.State().Table.Match(http.MethodGet, p); err == nil {
				return nil, fmt.Errorf("openapi.public serves GET %s, which route %s (%s) takes too: move one of them", p, r.Pattern, r.Source)
			}
		}
		jsonDoc, yamlDoc := admin.OpenAPIHandlers(g, cfg.OpenAPI.Servers...)
		g.Mount("/openapi.json", jsonDoc)
		g.Mount("/openapi.yaml", yamlDoc)
	}
	return []admin.Option{admin.WithHosts(admin.ConfiguredHosts(cfg.Admin)...), admin.WithToken(tok),
		admin.WithReadyDetail(g.ReadyDetail), admin.WithRecentErrors(recentErrors),
		admin.WithOpenAPIServers(cfg.OpenAPI.Servers...)}, nil
}

// recentErrors are the failed requests the dashboard lists: one process
// serves one gateway.
var recentErrors = admin.NewRecentErrors()

// loadOffline loads the gateway named by -c without listening, for the
// commands that only inspect it.
func loadOffline(ctx context.Context, name string, args []string, stderr io.Writer) (*gateway.Gateway, string, error) {
	path, err := configFlag(name, args, stderr)
	if err != nil {
		return nil, "", err
	}
	g, _, _, err := load(ctx, path, io.Discard)
	return g, path, err
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "configuration file")
	dial := fs.Bool("dial", false, "also connect to each backend endpoint (2s each) and warn about those that do not answer")
	printConfig := fs.Bool("print", false, "print the effective config (includes joined, ${ENV} substituted, secret-looking variables hidden)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchboard validate: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	// Every problem in one run: the config's own, then those that building
	// what did decode finds (schemas, routes), so that a user fixing a typo
	// does not learn of an unknown service only on the next run.
	cfg, problems := config.LoadAll(*path, builtin.Protocols().Config())
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	var g *gateway.Gateway
	if cfg != nil {
		if _, err := admin.Token(cfg.Admin); err != nil {
			lines = append(lines, err.Error())
		}
		var err error
		g, err = gateway.New(ctx, cfg, slog.New(slog.DiscardHandler), observability.NewMetrics())
		if err != nil {
			lines = append(lines, strings.Split(err.Error(), "\n")...)
		}
	}
	if len(lines) > 0 {
		return errors.New(strings.Join(dedupe(lines), "\n"))
	}
	defer g.Close()
	for _, w := range g.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *dial {
		for _, w := range dialEndpoints(ctx, g.Endpoints()) {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	st := g.State()
	if *printConfig {
		b, err := cfg.Print()
		if err != nil {
			return err
		}
		_, _ = stdout.Write(b)
	}
	fmt.Fprintf(stdout, "%s: ok: %d descriptor sets, %d routes\n", *path, len(st.Schemas.Sets()), st.Table.Len())
	return nil
}

// dialEndpoints connects to every endpoint at once, with a short timeout,
// and describes each that does not answer.
func dialEndpoints(ctx context.Context, endpoints map[string][]string) []string {
	type result struct{ backend, endpoint, err string }
	var wg sync.WaitGroup
	results := make(chan result, 64)
	for name, eps := range endpoints {
		for _, ep := range eps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := net.Dialer{Timeout: 2 * time.Second}
				c, err := d.DialContext(ctx, "tcp", ep)
				if err != nil {
					results <- result{name, ep, err.Error()}
					return
				}
				c.Close()
			}()
		}
	}
	go func() { wg.Wait(); close(results) }()
	var out []string
	for r := range results {
		out = append(out, fmt.Sprintf("backend %s: endpoint %s does not answer: %s", r.backend, r.endpoint, r.err))
	}
	sort.Strings(out)
	return out
}

func dedupe(lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

func cmdRoutes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g, _, err := loadOffline(ctx, "routes", args, stderr)
	if err != nil {
		return err
	}
	defer g.Close()
	printRoutes(stdout, admin.Routes(g.State()))
	return nil
}

func printRoutes(w io.Writer, rs []admin.Route) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t->\t%s\t%s\n", r.Method, r.Path, r.Backend, r.Target)
	}
	tw.Flush()
}

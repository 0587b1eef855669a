package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

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
	g, err := gateway.New(ctx, cfg, log, metrics)
	if err != nil {
		return nil, nil, nil, err
	}
	return g, cfg, metrics, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	g, cfg, metrics, err := load(ctx, path, stderr)
	if err != nil {
		return err
	}
	return g.Run(ctx, admin.Handler(g, metrics.Handler(), g.Ready, admin.WithHosts(admin.ConfiguredHosts(cfg.Admin)...)), nil)
}

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
	g, path, err := loadOffline(ctx, "validate", args, stderr)
	if err != nil {
		return err
	}
	defer g.Close()
	st := g.State()
	fmt.Fprintf(stdout, "%s: ok: %d descriptor sets, %d routes\n", path, len(st.Schemas.Sets()), st.Table.Len())
	return nil
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

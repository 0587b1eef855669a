package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// ErrReloadRefused wraps a reload whose config does not load, validate or
// build: nothing changed.
var ErrReloadRefused = errors.New("reload refused")

// ReloadResult says what a reload changed.
type ReloadResult struct {
	Routes int `json:"routes"`
	// Backends by what happened to them: kept (connections and all),
	// added, changed (rebuilt), removed.
	Kept    []string `json:"kept,omitempty"`
	Added   []string `json:"added,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Removed []string `json:"removed,omitempty"`
	// RestartNeeded lists settings that changed but only take effect when
	// the gateway starts: its listeners and their limits, logging, tracing.
	RestartNeeded []string `json:"restart_needed,omitempty"`
}

// WithConfigTransform adjusts every config a reload reads from the file
// (the demo points it at its mocks). The config given to New is used as
// it is: its caller has adjusted it already.
func WithConfigTransform(fn func(*config.Config) error) Option {
	return func(g *Gateway) { g.transform = fn }
}

// retireAfter is how long a replaced runtime's backends and policies stay
// open for the requests that started on them.
func (g *Gateway) retireAfter(rt *runtime) time.Duration {
	// A request may still be sending its body (read_timeout) or reading
	// its answer (write_timeout) when the swap happens.
	d := max(g.cfg.Limits.ShutdownTimeout.D(config.DefaultShutdownTimeout),
		g.cfg.Limits.ReadTimeout.D(config.DefaultReadTimeout), g.cfg.Limits.WriteTimeout.D(0))
	for _, b := range rt.backends {
		if t := b.Config.Timeout.D(config.DefaultBackendTimeout); t > d {
			d = t
		}
	}
	return d + time.Second
}

// Reload reads the config file again and swaps routes, policies and
// backends at once. Backends whose settings did not change are kept with
// their connections; descriptor sets registered through the admin API are
// kept. A config that does not load, validate or build changes nothing:
// the error wraps ErrReloadRefused and names every problem. Requests in
// flight finish on the state they started on.
func (g *Gateway) Reload(ctx context.Context) (*ReloadResult, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	res, err := g.reload(ctx)
	g.metrics.ConfigReload(err == nil)
	if err != nil {
		g.log.Error("config reload refused; the gateway serves the config it had", "file", g.cfg.File, "error", err)
		return nil, err
	}
	g.log.Info("config reloaded", "file", g.cfg.File, "routes", res.Routes, "kept", len(res.Kept),
		"added", strings.Join(res.Added, ","), "changed", strings.Join(res.Changed, ","), "removed", strings.Join(res.Removed, ","))
	for _, s := range res.RestartNeeded {
		g.log.Warn("config reload: this setting takes effect at the next start", "setting", s)
	}
	return res, nil
}

func (g *Gateway) reload(ctx context.Context) (*ReloadResult, error) {
	cfg, ps := config.LoadAll(g.cfg.File, g.cfg.Protocols())
	if len(ps) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrReloadRefused, ps)
	}
	if g.transform != nil {
		if err := g.transform(cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrReloadRefused, err)
		}
	}
	// Schema changes wait for the swap, so that an upload lands on one
	// state or the other, never between.
	g.mu.Lock()
	defer g.mu.Unlock()
	cur := g.state.Load()
	next, problems := g.build(ctx, cfg, cur)
	if len(problems) == 0 && next.Table.Len() == 0 && cur.Table.Len() > 0 {
		// A file caught half-written looks like this; a gateway that
		// should serve nothing is better stopped than emptied by a reload.
		problems = append(problems, cfg.File+": the new config exposes no routes; nothing changed")
	}
	if len(problems) > 0 {
		g.closeRuntime(next.rt, cur.rt.backends) // what it built, not what it borrowed
		return nil, fmt.Errorf("%w:\n%s", ErrReloadRefused, strings.Join(problems, "\n"))
	}
	g.state.Store(next)
	res := &ReloadResult{Routes: next.Table.Len(), RestartNeeded: append(restartNeeded(g.cfg, cfg), next.rt.restartNeeded...)}
	for name, b := range next.rt.backends {
		switch old, ok := cur.rt.backends[name]; {
		case !ok:
			res.Added = append(res.Added, name)
		case old == b:
			res.Kept = append(res.Kept, name)
		default:
			res.Changed = append(res.Changed, name)
		}
	}
	for name := range cur.rt.backends {
		if _, ok := next.rt.backends[name]; !ok {
			res.Removed = append(res.Removed, name)
		}
	}
	for _, l := range [][]string{res.Kept, res.Added, res.Changed, res.Removed} {
		sort.Strings(l)
	}
	cur.rt.keepPolicies = next.rt.policies == cur.rt.policies
	g.retire(cur.rt, next.rt.backends)
	return res, nil
}

// samePolicies: the parts of the config the policy engine is built from
// did not change, so the engine (its buckets, its keys) can be kept.
func samePolicies(a, b *config.Config) bool {
	return reflect.DeepEqual(a.Policies, b.Policies) && a.Policy == b.Policy && reflect.DeepEqual(a.Stores, b.Stores) &&
		reflect.DeepEqual(a.TrustedProxies, b.TrustedProxies) && a.ForwardedHeader == b.ForwardedHeader
}

// retire closes old's policies and the backends keep does not hold, once
// requests that started on them have had time to finish.
func (g *Gateway) retire(old *runtime, keep map[string]*protocol.Backend) {
	old.keep = keep
	g.retired = append(g.retired, old)
	time.AfterFunc(g.retireAfter(old), func() {
		g.reloadMu.Lock()
		defer g.reloadMu.Unlock()
		for i, rt := range g.retired {
			if rt == old {
				g.retired = append(g.retired[:i], g.retired[i+1:]...)
				g.closeRuntime(old, keep)
				return
			}
		}
	})
}

// restartNeeded names the settings of next that differ from the ones the
// gateway started with and that a reload cannot apply.
func restartNeeded(started, next *config.Config) []string {
	var out []string
	for _, c := range []struct {
		key      string
		old, new any
	}{
		{"listen", started.Listen, next.Listen},
		{"tls", started.TLS, next.TLS},
		{"admin", started.Admin, next.Admin},
		{"limits", started.Limits, next.Limits},
		{"log", started.Log, next.Log},
		{"tracing", started.Tracing, next.Tracing},
		{"openapi", started.OpenAPI, next.OpenAPI},
	} {
		if !reflect.DeepEqual(c.old, c.new) {
			out = append(out, c.key)
		}
	}
	return out
}

// WatchConfig reloads the config when its file (or a file it includes)
// changes on disk, and on SIGHUP, until ctx ends. Editors and Kubernetes
// replace files rather than write them, so the directories are watched and
// events for the config's files are debounced.
func (g *Gateway) WatchConfig(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var events <-chan fsnotify.Event
	var errs <-chan error
	w, err := fsnotify.NewWatcher()
	if err != nil {
		// SIGHUP and POST /admin/reload still work.
		g.log.Warn("cannot watch the config file; reload with SIGHUP or POST /admin/reload", "file", g.cfg.File, "error", err)
	} else {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	files := map[string]bool{}
	watch := func() {
		if w == nil {
			return
		}
		for _, f := range append([]string{g.cfg.File}, g.State().rt.cfg.Included()...) {
			abs, err := filepath.Abs(f)
			if err != nil {
				continue
			}
			files[abs] = true
			_ = w.Add(filepath.Dir(abs)) // adding a watched directory again is a no-op
		}
	}
	watch()
	last := configDigest(files)
	g.log.Info("watching the config for changes; SIGHUP reloads it too", "file", g.cfg.File)
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			g.log.Info("SIGHUP: reloading the config", "file", g.cfg.File)
			_, _ = g.Reload(ctx)
			watch()
			last = configDigest(files)
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			// Any change in the watched directories may be the config's:
			// Kubernetes swaps a ..data symlink, not the file. The digest
			// below tells whether the config's files really changed.
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				debounce = time.After(250 * time.Millisecond)
			}
		case err, ok := <-errs:
			if !ok {
				return nil
			}
			g.log.Warn("watching the config file", "error", err)
		case <-debounce:
			debounce = nil
			if d := configDigest(files); d == last {
				continue // another file of the directory changed
			} else {
				last = d
			}
			g.log.Info("config file changed: reloading", "file", g.cfg.File)
			_, _ = g.Reload(ctx)
			watch()
		}
	}
}

// configDigest is a digest of the config's files as they are on disk now
// (through any symlinks), "" for a file that cannot be read.
func configDigest(files map[string]bool) string {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, f := range names {
		b, err := os.ReadFile(f)
		if err != nil {
			b = nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/policy/framing"
	"github.com/switchboard-gw/switchboard/translate"
)

// Listeners are the addresses the gateway ended up listening on, which
// differ from the config when it asks for port 0.
type Listeners struct {
	HTTP, Admin string
}

// Ready reports whether the gateway should receive traffic: not while it drains.
func (g *Gateway) Ready() error {
	if g.draining.Load() {
		return errors.New("shutting down")
	}
	if g.state.Load() == nil {
		return errors.New("no route table")
	}
	for _, name := range g.cfg.BackendNames() {
		b, ok := g.backends[name]
		if !ok {
			continue
		}
		if err := readiness(b); err != nil {
			return fmt.Errorf("backend %s: %w", name, err)
		}
	}
	return nil
}

// Run serves the gateway, and the admin API when cfg.Admin is set, until
// ctx ends; then it stops accepting, fails readiness, waits for requests in
// flight up to the shutdown timeout, and closes the backends. started, if
// not nil, is called once both listeners are bound.
func (g *Gateway) Run(ctx context.Context, admin http.Handler, started func(Listeners)) error {
	cfg := g.cfg
	srv := g.httpServer(g.Handler(), cfg.Limits)
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	// Request heads are judged below net/http, which hides the evidence of
	// smuggling (a Content-Length beside Transfer-Encoding) from handlers.
	lis = framing.Listener(lis)
	servers := []*http.Server{srv}
	listeners := []net.Listener{lis}
	addrs := Listeners{HTTP: lis.Addr().String()}
	if cfg.Admin.Listen != "" && admin != nil {
		alis, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			lis.Close()
			return fmt.Errorf("listen admin %s: %w", cfg.Admin.Listen, err)
		}
		// The admin API gets the same framing guard: a smuggled DELETE
		// behind a proxy is worse there than anywhere.
		alis = framing.Listener(alis)
		asrv := g.httpServer(framing.Guard(admin, func(w http.ResponseWriter, r *http.Request, err error) {
			translate.WriteError(w, err, nil, "")
		}), cfg.Limits)
		asrv.WriteTimeout = 0 // uploads and reflection refreshes may be slow
		servers = append(servers, asrv)
		listeners = append(listeners, alis)
		addrs.Admin = alis.Addr().String()
	}
	errc := make(chan error, len(servers))
	for i := range servers {
		go func(s *http.Server, l net.Listener) {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(servers[i], listeners[i])
	}
	g.log.Info("gateway listening", "http", addrs.HTTP, "admin", addrs.Admin, "routes", g.State().Table.Len())
	if started != nil {
		started(addrs)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	g.draining.Store(true)
	if d := cfg.Limits.ShutdownDelay.D(0); d > 0 && runErr == nil {
		// Keep serving while /readyz fails, so the load balancer notices
		// before connections are refused.
		g.log.Info("failing readiness before shutdown", "delay", d.String())
		time.Sleep(d)
	}
	timeout := cfg.Limits.ShutdownTimeout.D(config.DefaultShutdownTimeout)
	g.log.Info("shutting down", "drain_timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			g.log.Warn("shutdown did not drain in time", "error", err)
			_ = s.Close()
		}
	}
	g.Close()
	return runErr
}

func (g *Gateway) httpServer(h http.Handler, l config.Limits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(config.DefaultReadHeaderTimeout),
		ReadTimeout:       l.ReadTimeout.D(config.DefaultReadTimeout),
		WriteTimeout:      l.WriteTimeout.D(0),
		IdleTimeout:       l.IdleTimeout.D(config.DefaultIdleTimeout),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
		ConnContext:       framing.ConnContext,
		// OPTIONS * reaches the handler, so the framing guard judges it too.
		DisableGeneralOptionsHandler: true,
		ConnState:                    framing.ConnState,
	}
}

package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/policy/framing"
	"github.com/switchboard-gw/switchboard/policy/tlsconf"
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
	rt := g.State().rt
	if _, err := rt.policies.Ready(); err != nil {
		return err
	}
	for _, name := range rt.cfg.BackendNames() {
		b, ok := rt.backends[name]
		if !ok {
			continue
		}
		if err := readiness(b); err != nil {
			return fmt.Errorf("backend %s: %w", name, err)
		}
	}
	return nil
}

// ReadyDetail says what the gateway lacks without being unready: a store
// whose fail mode lets requests through, an identity provider whose keys
// cannot be fetched.
func (g *Gateway) ReadyDetail() []string {
	d, _ := g.State().rt.policies.Ready()
	return d
}

// Run serves the gateway, and the admin API when cfg.Admin is set, until
// ctx ends; then it stops accepting, fails readiness, waits for requests in
// flight up to the shutdown timeout, and closes the backends. started, if
// not nil, is called once both listeners are bound.
func (g *Gateway) Run(ctx context.Context, admin http.Handler, started func(Listeners)) error {
	cfg := g.cfg
	srv := g.httpServer(g.Handler(), cfg.Limits)
	lis, closeTLS, err := g.listen(cfg.Listen, cfg.TLS)
	if err != nil {
		return err
	}
	defer closeTLS()
	servers := []*http.Server{srv}
	listeners := []net.Listener{lis}
	addrs := Listeners{HTTP: lis.Addr().String()}
	if cfg.Admin.Listen != "" && admin != nil {
		// The admin API gets the same framing guard: a smuggled DELETE
		// behind a proxy is worse there than anywhere.
		alis, closeAdminTLS, err := g.listen(cfg.Admin.Listen, cfg.Admin.TLS)
		if err != nil {
			lis.Close()
			return fmt.Errorf("admin: %w", err)
		}
		defer closeAdminTLS()
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
	// Streams never go idle by themselves: they are told to end (a last
	// error line, a WebSocket's 1001) and waited for.
	g.startDrain()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			g.log.Warn("shutdown did not drain in time", "error", err)
			_ = s.Close()
		}
	}
	streamsDone := make(chan struct{})
	go func() {
		g.streams.Wait()
		close(streamsDone)
	}()
	select {
	case <-streamsDone:
	case <-sctx.Done():
		g.log.Warn("streams did not end in time")
	}
	g.Close()
	return runErr
}

// listen binds addr, under TLS when tc is set. Plain listeners get the
// framing guard: request heads are judged below net/http, which hides the
// evidence of smuggling (a Content-Length beside Transfer-Encoding) from
// handlers. Under TLS net/http must see the *tls.Conn itself (for ALPN
// and r.TLS), so the guard cannot read the plaintext; the peer there is
// the client itself or a proxy that terminated its own TLS, and HTTP/2,
// which ALPN offers, has no such ambiguity.
func (g *Gateway) listen(addr string, tc *config.ListenerTLS) (net.Listener, func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if tc == nil {
		return framing.Listener(lis), func() {}, nil
	}
	rl, err := tlsconf.Server(tlsOptions(*tc, g.log))
	if err != nil {
		lis.Close()
		return nil, nil, fmt.Errorf("tls for %s: %w", addr, err)
	}
	return tls.NewListener(lis, rl.Config()), func() { _ = rl.Close() }, nil
}

func tlsOptions(tc config.ListenerTLS, log *slog.Logger) tlsconf.Options {
	return tlsconf.Options{CertFile: tc.CertFile, KeyFile: tc.KeyFile, ClientCAFile: tc.ClientCAFile,
		ClientAuth: tc.ClientAuth, MinVersion: tc.MinVersion, Log: log}
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

// Package embedded runs a NATS server with JetStream inside the gateway's
// process, for the demo, tests and single-node deployments. It is a
// server, not a client: the NATS protocol package connects to it like to
// any other server.
package embedded

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	// Name names the server in its own logs ("switchboard-<Name>").
	Name string
	// Listen is the client address, host:port; "" is 127.0.0.1 on a random
	// port. The server has no TLS, and no authentication unless Token or
	// User/Password are set, so listen beyond loopback only with those.
	Listen string
	// StoreDir is the JetStream storage; "" is a temporary directory
	// removed by Close.
	StoreDir string
	// Token, or User and Password, become the server's authorization.
	Token, User, Password string
	Log                   *slog.Logger
}

// startTimeout bounds the wait for the server to accept clients.
const startTimeout = 10 * time.Second

// Server is a running embedded server.
type Server struct {
	srv     *server.Server
	dir     string
	tempDir string // dir, when Close removes it
	log     *slog.Logger
}

// Start starts the server and waits until it accepts clients.
func Start(opts Options) (*Server, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, port := "127.0.0.1", server.RANDOM_PORT
	if opts.Listen != "" {
		h, p, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen %q: %w", opts.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("listen %q: bad port", opts.Listen)
		}
		host = h
		if n != 0 { // 0 would mean 4222 to nats-server; we mean "any"
			port = n
		}
	}
	s := &Server{log: log}
	dir := opts.StoreDir
	if dir == "" {
		d, err := os.MkdirTemp("", "switchboard-nats-")
		if err != nil {
			return nil, err
		}
		dir, s.tempDir = d, d
	}
	sopts := &server.Options{
		ServerName: "switchboard-" + sanitizeName(opts.Name),
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true, // the gateway owns the process's signals
		Username:   opts.User,
		Password:   opts.Password,
	}
	if opts.Token != "" {
		sopts.Authorization = opts.Token
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		_ = s.removeTemp()
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLog{log}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		_ = s.removeTemp()
		return nil, fmt.Errorf("embedded server did not start within %s", startTimeout)
	}
	s.srv, s.dir = srv, dir
	log.Info("embedded nats server started", slog.String("url", srv.ClientURL()), slog.String("store_dir", dir))
	return s, nil
}

// ClientURL is where clients connect.
func (s *Server) ClientURL() string { return s.srv.ClientURL() }

// StoreDir is the JetStream storage, and whether it is a temporary one
// that Close removes.
func (s *Server) StoreDir() (dir string, temporary bool) { return s.dir, s.tempDir != "" }

// Close shuts the server down, waits for it, and removes a temporary
// store.
func (s *Server) Close() error {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.log.Info("embedded nats server stopped")
	return s.removeTemp()
}

func (s *Server) removeTemp() error {
	if s.tempDir == "" {
		return nil
	}
	err := os.RemoveAll(s.tempDir)
	s.tempDir = ""
	return err
}

func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// serverLog sends the server's log to slog. Its notices (a banner of a
// dozen lines at start) are debug: the gateway logs its own summary.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) {
	l.log.Debug("nats-server: " + fmt.Sprintf(format, v...))
}
func (l serverLog) Warnf(format string, v ...any) {
	l.log.Warn("nats-server: " + fmt.Sprintf(format, v...))
}
func (l serverLog) Errorf(format string, v ...any) {
	l.log.Error("nats-server: " + fmt.Sprintf(format, v...))
}

// Fatalf is an error, not an exit: the embedded server must not take the
// gateway down with it.
func (l serverLog) Fatalf(format string, v ...any) {
	l.log.Error("nats-server: " + fmt.Sprintf(format, v...))
}
func (l serverLog) Debugf(string, ...any) {}
func (l serverLog) Tracef(string, ...any) {}

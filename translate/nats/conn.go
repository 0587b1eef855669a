package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/nats/embedded"
)

// EmbeddedURL as ConnOptions.URL starts an in-process NATS server with
// JetStream instead of connecting to one.
const EmbeddedURL = "embedded"

// Defaults for ConnOptions' zero values.
const (
	DefaultReconnectWait        = 2 * time.Second
	DefaultReconnectBufferBytes = 8 << 20
	// drainTimeout bounds Close's wait for replies already on their way.
	drainTimeout = 5 * time.Second
)

// ConnOptions configure one NATS backend.
type ConnOptions struct {
	// URL is EmbeddedURL or a comma-separated server list,
	// "nats://a:4222,nats://b:4222".
	URL string
	// StoreDir is the embedded server's JetStream storage; "" is a
	// temporary directory removed by Close. Embedded only.
	StoreDir string
	// EmbeddedListen is the embedded server's client address, host:port;
	// "" is 127.0.0.1 on a random port. The embedded server has no TLS, and
	// no authentication unless Token or User/Password are set, so listen
	// beyond loopback only with those.
	EmbeddedListen string
	// Streams are created (or updated) on the embedded server at start,
	// file-backed, for demos and tests. Embedded only: streams on a real
	// deployment belong to its operators, not to a gateway's start-up.
	Streams []StreamConfig

	// CredentialsFile is a .creds file (JWT and NKey seed). External only.
	CredentialsFile string
	// Token, or User and Password, authenticate the connection. With the
	// embedded server they also become its own authorization.
	Token, User, Password string
	// TLS for external servers; nil is plaintext (or whatever the URL
	// scheme, tls://, asks for).
	TLS *TLS

	// ReconnectWait is the pause between reconnect attempts to one server;
	// 0 means DefaultReconnectWait. Up to half of it again is added as
	// jitter, so that a fleet of gateways does not reconnect in lockstep.
	ReconnectWait time.Duration
	// MaxReconnects bounds reconnect attempts; 0 or negative means forever.
	// A gateway that gives up on a backend for good needs a restart to
	// serve it again, which is rarely what anyone wants.
	MaxReconnects int
	// ReconnectBufferBytes bounds what publishes are buffered while
	// reconnecting; beyond it they fail with 503. 0 means
	// DefaultReconnectBufferBytes; negative disables buffering, so every
	// publish during a reconnect fails at once.
	ReconnectBufferBytes int
	// Name is the connection name the server shows; "" is
	// "switchboard-<backend>".
	Name string
}

// StreamConfig is a JetStream stream to create on the embedded server.
// Keep its subjects apart from request/reply subjects: a stream captures
// requests too, and its acknowledgement then races the service's reply.
type StreamConfig struct {
	Name     string
	Subjects []string
}

// TLS configures a TLS connection; see translate.TLS.
type TLS = translate.TLS

// Backend is a NATS backend: one connection, shared by every route, that
// reconnects by itself, and optionally the embedded server it talks to.
// It implements translate.Backend.
type Backend struct {
	name string
	url  string
	log  *slog.Logger
	nc   *natsgo.Conn
	js   jetstream.JetStream

	srv *embedded.Server // embedded server this backend owns, or nil

	streams streamSet // open subscriptions (OpenStream)

	closed    chan struct{} // closed by the connection's ClosedHandler
	closeOnce sync.Once
	closeErr  error
}

// Connect builds the backend. It does not wait for an external server: with
// the servers down, the connection keeps retrying in the background and
// Ready reports it, so a gateway starts while a backend is away.
func Connect(name string, opts ConnOptions, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("backend", name))
	b := &Backend{name: name, log: log, closed: make(chan struct{})}
	url := strings.TrimSpace(opts.URL)
	switch url {
	case "":
		return nil, fmt.Errorf("nats backend %s: no URL (want %q or nats://host:port)", name, EmbeddedURL)
	case EmbeddedURL:
		if opts.TLS != nil || opts.CredentialsFile != "" {
			return nil, fmt.Errorf("nats backend %s: tls and credentials_file apply to external servers, not the embedded one", name)
		}
		srv, err := embedded.Start(embedded.Options{Name: name, Listen: opts.EmbeddedListen, StoreDir: opts.StoreDir,
			Token: opts.Token, User: opts.User, Password: opts.Password, Log: log})
		if err != nil {
			return nil, fmt.Errorf("nats backend %s: %w", name, err)
		}
		b.srv = srv
		url = srv.ClientURL()
	default:
		if len(opts.Streams) > 0 || opts.StoreDir != "" || opts.EmbeddedListen != "" {
			return nil, fmt.Errorf("nats backend %s: streams, store_dir and embedded_listen apply to the embedded server only", name)
		}
	}
	b.url = url

	nopts, err := b.options(opts)
	if err != nil {
		b.stopEmbedded()
		return nil, fmt.Errorf("nats backend %s: %w", name, err)
	}
	nc, err := natsgo.Connect(url, nopts...)
	if err != nil {
		b.stopEmbedded()
		return nil, fmt.Errorf("nats backend %s: %w", name, err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("nats backend %s: %w", name, err)
	}
	if len(opts.Streams) > 0 {
		if err := b.createStreams(opts.Streams); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("nats backend %s: %w", name, err)
		}
	}
	return b, nil
}

func (b *Backend) options(opts ConnOptions) ([]natsgo.Option, error) {
	wait := opts.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	maxReconnects := opts.MaxReconnects
	if maxReconnects <= 0 {
		maxReconnects = -1
	}
	buf := opts.ReconnectBufferBytes
	switch {
	case buf == 0:
		buf = DefaultReconnectBufferBytes
	case buf < 0:
		buf = -1
	}
	connName := opts.Name
	if connName == "" {
		connName = "switchboard-" + b.name
	}
	log := b.log
	o := []natsgo.Option{
		natsgo.Name(connName),
		// The gateway must start while NATS is down; requests meanwhile
		// fail fast or time out, and Ready says why.
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(maxReconnects),
		natsgo.ReconnectWait(wait),
		natsgo.ReconnectJitter(wait/2, wait/2),
		natsgo.ReconnectBufSize(buf),
		// Notice a silently dead server within a minute rather than the
		// library's default four, so Ready and 503s follow reality.
		natsgo.PingInterval(30 * time.Second),
		natsgo.MaxPingsOutstanding(2),
		natsgo.DrainTimeout(drainTimeout),
		natsgo.ConnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats connected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			// A core subscription misses what is published meanwhile:
			// its stream must end rather than go on with a silent gap.
			b.streams.endAll(errConnectionLost)
			if err != nil {
				log.Warn("nats disconnected", slog.String("error", err.Error()))
			} else {
				log.Info("nats disconnected")
			}
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
		natsgo.ReconnectErrHandler(func(_ *natsgo.Conn, err error) {
			// Once per attempt: debug, the disconnect was already a warning.
			log.Debug("nats reconnect attempt failed", slog.Any("error", err))
		}),
		natsgo.ClosedHandler(func(*natsgo.Conn) {
			b.streams.endAll(errBackendClosed)
			log.Info("nats connection closed")
			close(b.closed)
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			attrs := []slog.Attr{slog.String("error", err.Error())}
			if sub != nil {
				attrs = append(attrs, slog.String("subject", sub.Subject))
			}
			log.LogAttrs(context.Background(), slog.LevelWarn, "nats async error", attrs...)
		}),
		natsgo.LameDuckModeHandler(func(*natsgo.Conn) {
			log.Warn("nats server entering lame duck mode; will reconnect elsewhere")
		}),
	}
	switch {
	case opts.Token != "" && opts.User != "":
		return nil, errors.New("set token or user/password, not both")
	case opts.Token != "":
		o = append(o, natsgo.Token(opts.Token))
	case opts.User != "":
		o = append(o, natsgo.UserInfo(opts.User, opts.Password))
	}
	if opts.CredentialsFile != "" {
		if _, err := os.Stat(opts.CredentialsFile); err != nil {
			return nil, fmt.Errorf("credentials_file: %w", err)
		}
		o = append(o, natsgo.UserCredentials(opts.CredentialsFile))
	}
	if opts.TLS != nil {
		cfg, err := opts.TLS.Config()
		if err != nil {
			return nil, err
		}
		o = append(o, natsgo.Secure(cfg))
	}
	return o, nil
}

func (b *Backend) createStreams(streams []StreamConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, sc := range streams {
		_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:     sc.Name,
			Subjects: sc.Subjects,
			Storage:  jetstream.FileStorage,
		})
		if err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
		b.log.Info("jetstream stream ready", slog.String("stream", sc.Name), slog.Any("subjects", sc.Subjects))
	}
	return nil
}

// Ready is nil while the connection is up. Reconnecting, draining or
// closed are errors, for /readyz: a gateway that cannot reach NATS should
// be taken out of rotation rather than answer 503s.
func (b *Backend) Ready() error {
	switch st := b.nc.Status(); st {
	case natsgo.CONNECTED:
		return nil
	case natsgo.CLOSED:
		return fmt.Errorf("nats backend %s: connection closed", b.name)
	default:
		return fmt.Errorf("nats backend %s: not connected (%s)", b.name, st)
	}
}

// ClientURL is the embedded server's client URL (for a mock responder to
// connect to), or the configured URL.
func (b *Backend) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	return b.url
}

// Endpoints are the host:port addresses of the configured servers (none
// for the embedded one), for checks that dial them (validate --dial).
func (b *Backend) Endpoints() []string {
	if b.srv != nil {
		return nil
	}
	var eps []string
	for _, u := range strings.Split(b.url, ",") {
		if parsed, err := neturl.Parse(strings.TrimSpace(u)); err == nil && parsed.Host != "" {
			host := parsed.Host
			if parsed.Port() == "" {
				host = net.JoinHostPort(parsed.Hostname(), "4222")
			}
			eps = append(eps, host)
		}
	}
	return eps
}

var _ translate.HealthReporter = (*Backend)(nil)

// EndpointHealth is the connection's state for each configured server: a
// NATS client holds one connection, to one server at a time, and fails
// over to the others itself, so the others stand by.
func (b *Backend) EndpointHealth() []translate.EndpointHealth {
	st := b.nc.Status()
	up := st == natsgo.CONNECTED
	eps := b.Endpoints()
	if len(eps) == 0 {
		h := translate.EndpointHealth{Address: "embedded", Healthy: up, Detail: "in-process server: " + st.String()}
		return []translate.EndpointHealth{h}
	}
	current := ""
	if u, err := neturl.Parse(b.nc.ConnectedUrl()); up && err == nil {
		current = u.Host
	}
	out := make([]translate.EndpointHealth, len(eps))
	for i, ep := range eps {
		h := translate.EndpointHealth{Address: ep, Healthy: up}
		switch {
		case !up:
			h.Detail = "not connected (" + st.String() + ")"
		case ep == current:
			h.Detail = "connected"
		default:
			h.Detail = "standby: the connection is to " + current
		}
		out[i] = h
	}
	return out
}

// Conn is the connection, for tests and for tools that subscribe beside
// the gateway.
func (b *Backend) Conn() *natsgo.Conn { return b.nc }

// Close ends open subscriptions (deleting their consumers), drains the
// connection (replies already on their way are still delivered, for up
// to 5s), then shuts the embedded server down and waits for it. Calls
// made afterwards fail with UNAVAILABLE.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		if b.nc != nil {
			b.streams.close(errBackendClosed, deleteTimeout+time.Second)
			if err := b.nc.Drain(); err != nil {
				// Not connected (reconnecting): nothing can drain.
				b.nc.Close()
			}
			select {
			case <-b.closed:
			case <-time.After(drainTimeout + time.Second):
				b.nc.Close()
			}
		}
		b.stopEmbedded()
	})
	return b.closeErr
}

func (b *Backend) stopEmbedded() {
	if b.srv != nil {
		if err := b.srv.Close(); err != nil {
			b.closeErr = err
		}
		b.srv = nil
	}
}

// RestartOnChange reports that the backend owns an embedded server: a
// config reload cannot replace it (its address and JetStream store are
// in use, and clients connected to it would be cut off), so a changed
// section takes effect at the next start.
func (b *Backend) RestartOnChange() bool { return b.srv != nil }

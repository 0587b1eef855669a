package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/config"
	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate"
	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
	natsbackend "github.com/switchboard-gw/switchboard/translate/nats"
	"github.com/switchboard-gw/switchboard/translate/resilience"
	thriftbackend "github.com/switchboard-gw/switchboard/translate/thrift"
)

// backend is one configured upstream: the protocol client, wrapped in the
// shared resilience policy, and what its routes need to resolve targets.
type backend struct {
	wrapped translate.Backend // what targets call
	headers []string

	grpc        *grpcbackend.Backend // server reflection
	thrift      *idl.Program         // the backend's IDL, parsed at start
	thriftProto string               // binary or compact: targets encode in it
	multiplexed bool
	nats        *natsbackend.Backend // readiness, the embedded server's URL
}

// newBackend builds one backend from its config. A new protocol is added
// here, in config, and in the route targets of build.go.
func newBackend(name string, bc config.Backend, log *slog.Logger, metrics *observability.Metrics) (*backend, error) {
	b := &backend{headers: bc.Headers}
	var raw translate.Backend
	switch {
	case bc.GRPC != nil:
		opts := grpcbackend.Options{
			Endpoints:        bc.GRPC.Endpoints,
			KeepaliveTime:    bc.GRPC.Keepalive.Time.D(0),
			KeepaliveTimeout: bc.GRPC.Keepalive.Timeout.D(20 * time.Second),
			MaxMessageBytes:  bc.GRPC.MaxMessageBytes,
		}
		if t := bc.GRPC.TLS; t != nil {
			opts.TLS = &grpcbackend.TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
		}
		gb, err := grpcbackend.Dial(name, opts)
		if err != nil {
			return nil, err
		}
		b.grpc, raw = gb, gb
	case bc.Thrift != nil:
		tc := bc.Thrift
		prog, err := idl.ParseFile(tc.IDL, idl.Options{IncludeDirs: tc.IncludeDirs})
		if err != nil {
			return nil, err
		}
		tb, err := thriftbackend.Dial(name, thriftbackend.Options{
			Endpoints:       tc.Endpoints,
			Protocol:        tc.Protocol,
			Transport:       tc.Transport,
			Multiplexed:     tc.Multiplexed,
			ConnectTimeout:  tc.ConnectTimeout.D(0),
			PoolSize:        tc.PoolSize,
			MaxMessageBytes: tc.MaxMessageBytes,
		})
		if err != nil {
			return nil, err
		}
		b.thrift, b.thriftProto, b.multiplexed, raw = prog, tc.Protocol, tc.Multiplexed, tb
	case bc.NATS != nil:
		nc := bc.NATS
		opts := natsbackend.ConnOptions{
			URL:                  nc.URL,
			StoreDir:             nc.StoreDir,
			EmbeddedListen:       nc.Listen,
			CredentialsFile:      nc.CredentialsFile,
			Token:                nc.Token,
			User:                 nc.User,
			Password:             nc.Password,
			ReconnectWait:        nc.ReconnectWait.D(0),
			ReconnectBufferBytes: nc.ReconnectBufferBytes,
		}
		if nc.MaxReconnects != nil {
			opts.MaxReconnects = *nc.MaxReconnects
		}
		for _, s := range nc.Streams {
			opts.Streams = append(opts.Streams, natsbackend.StreamConfig{Name: s.Name, Subjects: s.Subjects})
		}
		if t := nc.TLS; t != nil {
			opts.TLS = &natsbackend.TLS{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
		}
		nb, err := natsbackend.Connect(name, opts, log)
		if err != nil {
			return nil, err
		}
		b.nats, raw = nb, nb
	default:
		return nil, fmt.Errorf("no protocol section")
	}
	b.wrapped = resilience.Wrap(name, raw, policyOf(bc), metrics)
	return b, nil
}

func (b *backend) ready() error {
	if b.nats != nil {
		return b.nats.Ready()
	}
	return nil
}

// thriftFunction finds "Service.function" in the backend's IDL.
func (b *backend) thriftFunction(name string) (*idl.Service, *idl.Function, error) {
	i := strings.LastIndex(name, ".")
	if i < 0 {
		return nil, nil, fmt.Errorf("want Service.function, got %q", name)
	}
	svc := b.thrift.Service(name[:i])
	if svc == nil {
		return nil, nil, fmt.Errorf("no service %s in the backend's IDL", name[:i])
	}
	fn := svc.Function(name[i+1:])
	if fn == nil {
		return nil, nil, fmt.Errorf("no function %s in service %s", name[i+1:], svc.Name)
	}
	return svc, fn, nil
}

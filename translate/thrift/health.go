package thrift

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/translate"
)

// HealthCheck configures active checks of a backend's endpoints: each is
// checked every Interval, and calls pass over those failing while another
// endpoint passes.
type HealthCheck struct {
	// Interval between checks of one endpoint; 0 means 5s, and less than
	// 100ms is refused.
	Interval time.Duration
	// Timeout bounds one check, connect and reply; 0 means 1s. It must be
	// below Interval, or checks would overlap.
	Timeout time.Duration
	// Method, when set, is called with no arguments by each check over the
	// backend's protocol and transport, and only a REPLY passes: it is the
	// name on the wire ("ping", or "Service:ping" when multiplexed). ""
	// checks that a TCP connect succeeds.
	Method string
}

const (
	defaultHealthInterval = 5 * time.Second
	defaultHealthTimeout  = time.Second
	// minHealthInterval keeps a typo ("1ns") from flooding a server with
	// connections.
	minHealthInterval = 100 * time.Millisecond
)

var _ translate.HealthReporter = (*Backend)(nil)

// withDefaults fills in the defaults and checks the rest.
func (h HealthCheck) withDefaults() (HealthCheck, error) {
	h.Interval = cmpOr(h.Interval, defaultHealthInterval)
	h.Timeout = cmpOr(h.Timeout, defaultHealthTimeout)
	switch {
	case h.Interval < minHealthInterval:
		return h, fmt.Errorf("health check interval %s: want at least %s", h.Interval, minHealthInterval)
	case h.Timeout < 0 || h.Timeout >= h.Interval:
		return h, fmt.Errorf("health check timeout %s: want more than 0 and below the interval (%s)", h.Timeout, h.Interval)
	}
	return h, nil
}

// startChecks runs one checker per endpoint until Close.
func (b *Backend) startChecks() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stopChecks = cancel
	for _, ep := range b.endpoints {
		b.checkers.Add(1)
		go b.watch(ctx, ep)
	}
}

// watch checks ep now and then every interval until ctx ends.
func (b *Backend) watch(ctx context.Context, ep *endpoint) {
	defer b.checkers.Done()
	t := time.NewTicker(b.health.Interval)
	defer t.Stop()
	for {
		err := b.check(ctx, ep)
		if ctx.Err() != nil {
			return // closing: the failure is ours, not the endpoint's
		}
		b.record(ep, err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// record sets ep's health from a check, logging only changes.
func (b *Backend) record(ep *endpoint, err error) {
	if err == nil {
		// A connect just succeeded: a refusal before it is stale.
		ep.downUntil.Store(0)
		if ep.failing.Swap(false) && b.log != nil {
			b.log.Info("thrift endpoint healthy again", slog.String("backend", b.name), slog.String("endpoint", ep.addr))
		}
		return
	}
	reason := "health check: " + err.Error()
	// The reason first: a reader that sees failing must find it.
	ep.reason.Store(&reason)
	if !ep.failing.Swap(true) && b.log != nil {
		b.log.Warn("thrift endpoint unhealthy", slog.String("backend", b.name), slog.String("endpoint", ep.addr),
			slog.String("reason", reason))
	}
}

// check connects to ep on a connection of its own and, with a method
// configured, calls it. The error reads as the rest of "health check: ".
func (b *Backend) check(ctx context.Context, ep *endpoint) error {
	timeout := b.health.Timeout
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("connect: no connection within %s", timeout)
		}
		return fmt.Errorf("connect: %s", dialCause(err))
	}
	defer nc.Close()
	method := b.health.Method
	if method == "" {
		return nil
	}
	deadline, _ := ctx.Deadline()
	if err := nc.SetDeadline(deadline); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	// Close must not wait out a check's timeout.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	defer stop()
	c := newConn(nc)
	c.deadline = deadline
	// The empty args struct is its stop byte, in either protocol.
	_, err = b.exchange(c, &translate.Call{Method: method, Body: []byte{0}, Delivery: translate.DeliveryReply})
	switch {
	case err == nil:
		// A REPLY, even one carrying a declared exception: the server's
		// processor answered.
		return nil
	case isTimeout(err):
		return fmt.Errorf("%s: no reply within %s", method, timeout)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: connection closed before the reply", method)
	}
	return fmt.Errorf("%s: %w", method, err)
}

// dialCause drops the "dial tcp <addr>:" the detail already implies.
func dialCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err.Error()
		}
		return oe.Err.Error()
	}
	return err.Error()
}

// EndpointHealth reports each endpoint, in config order: unhealthy while
// its check fails or since it refused a connection.
func (b *Backend) EndpointHealth() []translate.EndpointHealth {
	now := time.Now().UnixNano()
	out := make([]translate.EndpointHealth, len(b.endpoints))
	for i, ep := range b.endpoints {
		h := translate.EndpointHealth{Address: ep.addr, Healthy: true}
		switch {
		case ep.failing.Load():
			h.Healthy = false
			if r := ep.reason.Load(); r != nil {
				h.Detail = *r
			}
		case ep.downUntil.Load() > now:
			h.Healthy, h.Detail = false, "refused a connection"
		case b.health == nil:
		case b.health.Method == "":
			h.Detail = "tcp connect every " + b.health.Interval.String()
		default:
			h.Detail = b.health.Method + " every " + b.health.Interval.String()
		}
		out[i] = h
	}
	return out
}

// check validates h under key (backends.B.thrift.health); the method is
// looked up in the IDL only when that parses, or NewBackend reports it.
func (h *HealthConfig) check(add func(key, format string, args ...any), key string, t *BackendConfig) {
	interval := h.Interval.or(defaultHealthInterval)
	intervalOK := interval >= minHealthInterval
	if h.Interval.set && !intervalOK {
		add(key+".interval", "%s is too often: want at least %s", interval, minHealthInterval)
	}
	if h.Timeout.set {
		switch timeout := h.Timeout.or(0); {
		case timeout <= 0:
			add(key+".timeout", "want more than 0")
		case intervalOK && timeout >= interval:
			add(key+".timeout", "%s: want below the interval (%s), so that a check ends before the next", timeout, interval)
		}
	} else if intervalOK && defaultHealthTimeout >= interval {
		add(key+".timeout", "the default %s is not below the interval (%s): set a shorter timeout", defaultHealthTimeout, interval)
	}
	if h.Method == "" {
		return
	}
	if !functionName.MatchString(h.Method) {
		add(key+".method", "%q is not a function name: want e.g. ping or Service.ping", h.Method)
		return
	}
	if t.IDL == "" {
		return
	}
	prog, err := idl.ParseFile(t.IDL, idl.Options{IncludeDirs: t.IncludeDirs})
	if err != nil {
		return
	}
	if _, err := healthMethod(prog, h.Method, t.Multiplexed); err != nil {
		add(key+".method", "%v", err)
	}
}

var functionName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// healthMethod finds name, "function" or "Service.function", in prog and
// returns its name on the wire. A bare name is looked for in the root
// file's services; a multiplexed server needs the service, so there it
// must be found in one only.
func healthMethod(prog *idl.Program, name string, multiplexed bool) (string, error) {
	var svc *idl.Service
	var fn *idl.Function
	if i := strings.LastIndex(name, "."); i >= 0 {
		if svc = prog.Service(name[:i]); svc == nil {
			return "", fmt.Errorf("no service %s in %s", name[:i], prog.Root.Path)
		}
		if fn = svc.Function(name[i+1:]); fn == nil {
			return "", fmt.Errorf("no function %s in service %s (%s)", name[i+1:], svc.Name, noArgFunctions(svc))
		}
	} else {
		var in []string
		for _, d := range prog.Root.Definitions {
			s, ok := d.(*idl.Service)
			if !ok {
				continue
			}
			if f := s.Function(name); f != nil {
				if fn == nil {
					svc, fn = s, f
				}
				in = append(in, s.Name)
			}
		}
		switch {
		case fn == nil:
			return "", fmt.Errorf("no function %s in the services of %s", name, prog.Root.Path)
		case multiplexed && len(in) > 1:
			return "", fmt.Errorf("%s is in services %s: name one, e.g. %s.%s, for the multiplexed server", name, strings.Join(in, ", "), in[0], name)
		}
	}
	switch {
	case fn.Oneway:
		return "", fmt.Errorf("%s.%s is oneway: a check needs a reply", svc.Name, fn.Name)
	case len(fn.Args) > 0:
		return "", fmt.Errorf("%s.%s takes arguments and a check sends none (%s)", svc.Name, fn.Name, noArgFunctions(svc))
	}
	if multiplexed {
		return svc.Name + ":" + fn.Name, nil
	}
	return fn.Name, nil
}

// noArgFunctions names the functions of svc a check could call.
func noArgFunctions(svc *idl.Service) string {
	var names []string
	for _, f := range svc.AllFunctions() {
		if !f.Oneway && len(f.Args) == 0 {
			names = append(names, f.Name)
		}
	}
	if len(names) == 0 {
		return "it has no function without arguments"
	}
	return "without arguments: " + strings.Join(names, ", ")
}

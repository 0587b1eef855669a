package config

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// Defaults that harden the listener; each can be overridden under limits:.
const (
	DefaultMaxBodyBytes      = 4 << 20
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxJSONDepth      = 64
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultBackendTimeout    = 15 * time.Second
)

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Limits.MaxBodyBytes == 0 {
		c.Limits.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Limits.MaxJSONDepth == 0 {
		c.Limits.MaxJSONDepth = DefaultMaxJSONDepth
	}
	for i := range c.Descriptors {
		d := &c.Descriptors[i]
		if d.Name != "" {
			continue
		}
		switch {
		case d.File != "":
			d.Name = strings.TrimSuffix(filepath.Base(d.File), filepath.Ext(d.File))
		case len(d.Proto) > 0:
			d.Name = strings.TrimSuffix(filepath.Base(d.Proto[0]), ".proto")
		case d.Reflection != "":
			d.Name = d.Reflection + "-reflection"
		}
	}
}

// ParseCode reads a gRPC code name (UNAVAILABLE) or number (14).
func ParseCode(s string) (codes.Code, error) {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(`"` + strings.ToUpper(s) + `"`)); err == nil {
		return c, nil
	}
	var n uint32
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && n <= 16 && fmt.Sprint(n) == s {
		return codes.Code(n), nil
	}
	return 0, fmt.Errorf("unknown gRPC code %q", s)
}

func (c *Config) validate() Problems {
	var ps Problems
	add := func(p Problem) { ps = append(ps, p) }
	for _, a := range []struct{ key, addr string }{{"listen", c.Listen}, {"admin", c.Admin}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			add(c.Problem(a.key, "invalid address %q: want host:port", a.addr))
		}
	}
	if c.Limits.MaxBodyBytes < 0 {
		add(c.Problem("limits.max_body_bytes", "must not be negative"))
	}
	if c.Limits.MaxJSONDepth < 0 || c.Limits.MaxJSONDepth > 10000 {
		add(c.Problem("limits.max_json_depth", "must be between 1 and 10000"))
	}
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		add(c.Problem("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level))
	}
	switch c.Tracing.Exporter {
	case "", "none", "stdout":
	case "otlp":
		if _, _, err := net.SplitHostPort(c.Tracing.Endpoint); err != nil {
			add(c.Problem("tracing.endpoint", "otlp needs a collector address host:port"))
		}
	default:
		add(c.Problem("tracing.exporter", "unknown exporter %q (want none, stdout or otlp)", c.Tracing.Exporter))
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		add(c.Problem("tracing.sample_ratio", "must be between 0 and 1"))
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		add(c.Problem("log.format", "unknown format %q (want json or text)", c.Log.Format))
	}

	names := c.BackendNames()
	have := strings.Join(names, ", ")
	checkBackend := func(key, name string) {
		if name == "" {
			add(c.Problem(key, "missing backend (have: %s)", have))
		} else if _, ok := c.Backends[name]; !ok {
			add(c.Problem(key, "unknown backend %q (have: %s)", name, have))
		}
	}

	setNames := map[string]string{}
	for i, d := range c.Descriptors {
		key := fmt.Sprintf("descriptors[%d]", i)
		n := 0
		for _, set := range []bool{d.File != "", len(d.Proto) > 0, d.Reflection != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			add(c.Problem(key, "set exactly one of file, proto, reflection"))
		}
		if len(d.ImportPaths) > 0 && len(d.Proto) == 0 {
			add(c.Problem(key+".import_paths", "only applies to proto"))
		}
		if d.Reflection != "" {
			checkBackend(key+".reflection", d.Reflection)
			if b, ok := c.Backends[d.Reflection]; ok && b.GRPC == nil {
				add(c.Problem(key+".reflection", "backend %q is not a gRPC backend", d.Reflection))
			}
		}
		if prev, dup := setNames[d.Name]; dup && d.Name != "" {
			add(c.Problem(key+".name", "descriptor set name %q already used by %s", d.Name, prev))
		}
		setNames[d.Name] = key
	}

	for _, name := range names {
		b := c.Backends[name]
		key := "backends." + name
		n := 0
		for _, set := range []bool{b.GRPC != nil, b.Thrift != nil, b.NATS != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			add(c.Problem(key, "set exactly one protocol section: grpc, thrift or nats"))
		}
		if b.GRPC != nil {
			if len(b.GRPC.Endpoints) == 0 {
				add(c.Problem(key+".grpc.endpoints", "at least one endpoint is required"))
			}
			for j, ep := range b.GRPC.Endpoints {
				if _, _, err := net.SplitHostPort(ep); err != nil {
					add(c.Problem(fmt.Sprintf("%s.grpc.endpoints[%d]", key, j), "invalid endpoint %q: want host:port", ep))
				}
			}
			if t := b.GRPC.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
				add(c.Problem(key+".grpc.tls", "cert_file and key_file go together"))
			}
		}
		if t := b.Thrift; t != nil {
			if len(t.Endpoints) == 0 {
				add(c.Problem(key+".thrift.endpoints", "at least one endpoint is required"))
			}
			for j, ep := range t.Endpoints {
				if _, _, err := net.SplitHostPort(ep); err != nil {
					add(c.Problem(fmt.Sprintf("%s.thrift.endpoints[%d]", key, j), "invalid endpoint %q: want host:port", ep))
				}
			}
			if t.IDL == "" {
				add(c.Problem(key+".thrift.idl", "required: the .thrift file to parse"))
			}
			switch t.Protocol {
			case "", "binary", "compact":
			default:
				add(c.Problem(key+".thrift.protocol", "unknown protocol %q (want binary or compact)", t.Protocol))
			}
			switch t.Transport {
			case "", "framed", "buffered":
			default:
				add(c.Problem(key+".thrift.transport", "unknown transport %q (want framed or buffered)", t.Transport))
			}
		}
		if nc := b.NATS; nc != nil {
			if nc.URL == "" {
				add(c.Problem(key+".nats.url", `required: "embedded" or nats://host:port`))
			} else if nc.URL != "embedded" && !strings.HasPrefix(nc.URL, "nats://") && !strings.HasPrefix(nc.URL, "tls://") {
				add(c.Problem(key+".nats.url", "invalid url %q (want embedded, nats://host:port or tls://host:port, comma-separated)", nc.URL))
			}
			if nc.URL != "embedded" && (nc.StoreDir != "" || len(nc.Streams) > 0 || nc.Listen != "") {
				add(c.Problem(key+".nats", "store_dir, listen and streams apply to the embedded server only"))
			}
			if t := nc.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
				add(c.Problem(key+".nats.tls", "cert_file and key_file go together"))
			}
		}
		for j, h := range b.Headers {
			if !validHeaderName(h) {
				add(c.Problem(fmt.Sprintf("%s.headers[%d]", key, j), "%q is not a header name", h))
			} else if hopByHop(strings.ToLower(h)) {
				add(c.Problem(fmt.Sprintf("%s.headers[%d]", key, j), "%s is hop-by-hop and cannot be forwarded", h))
			}
		}
		if b.Retry.Attempts < 0 || b.Retry.Attempts > 10 {
			add(c.Problem(key+".retry.attempts", "must be between 1 and 10"))
		}
		if b.Retry.Attempts > 1 && len(b.Retry.On) == 0 {
			add(c.Problem(key+".retry.on", "name the codes to retry on, e.g. [UNAVAILABLE]"))
		}
		for j, code := range b.Retry.On {
			if _, err := ParseCode(code); err != nil {
				add(c.Problem(fmt.Sprintf("%s.retry.on[%d]", key, j), "%v", err))
			}
		}
		if b.Breaker.Failures > 0 && b.Breaker.Cooldown == 0 {
			add(c.Problem(key+".breaker.cooldown", "required when failures is set"))
		}
		if b.MaxConcurrent < 0 {
			add(c.Problem(key+".max_concurrent", "must not be negative"))
		}
	}

	seenSvc := map[string]bool{}
	for i, s := range c.Services {
		key := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add(c.Problem(key+".name", "missing service name"))
		} else if seenSvc[s.Name] {
			add(c.Problem(key+".name", "service %s is listed twice", s.Name))
		}
		seenSvc[s.Name] = true
		checkBackend(key+".backend", s.Backend)
		if b, ok := c.Backends[s.Backend]; ok && b.GRPC == nil {
			add(c.Problem(key+".backend", "backend %q is not a gRPC backend", s.Backend))
		}
	}
	for i, s := range c.ThriftServices {
		key := fmt.Sprintf("thrift_services[%d]", i)
		if s.Name == "" {
			add(c.Problem(key+".name", "missing service name"))
		}
		checkBackend(key+".backend", s.Backend)
		if b, ok := c.Backends[s.Backend]; ok && b.Thrift == nil {
			add(c.Problem(key+".backend", "backend %q is not a Thrift backend", s.Backend))
		}
		for name, st := range s.Exceptions {
			if st < 400 || st > 599 {
				add(c.Problem(key+".exceptions."+name, "HTTP status %d: want 400-599", st))
			}
		}
	}

	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		method, path, n := r.MethodPath()
		switch {
		case n == 0:
			add(c.Problem(key, "missing method and path (one of get, put, post, delete, patch, custom)"))
		case n > 1:
			add(c.Problem(key, "more than one of get, put, post, delete, patch, custom"))
		case r.Custom != nil && (r.Custom.Kind == "" || r.Custom.Path == ""):
			add(c.Problem(key+".custom", "kind and path are required"))
		case !strings.HasPrefix(path, "/"):
			add(c.Problem(key+"."+strings.ToLower(method), "path %q must start with /", path))
		}
		checkBackend(key+".backend", r.Backend)
		kind, n := r.Target()
		switch {
		case n == 0:
			add(c.Problem(key, "missing target (grpc: package.Service/Method, thrift: Service.method or nats: {subject: ...})"))
		case n > 1:
			add(c.Problem(key, "more than one target of grpc, thrift, nats"))
		default:
			if b, ok := c.Backends[r.Backend]; ok && b.Protocol() != "" && b.Protocol() != kind {
				add(c.Problem(key+"."+kind, "backend %q is a %s backend", r.Backend, b.Protocol()))
			}
		}
		// Keys that mean nothing for the route's protocol are errors, not
		// silently ignored.
		notFor := func(set bool, k string) {
			if set {
				add(c.Problem(key+"."+k, "does not apply to %s routes", kind))
			}
		}
		jsonSet := r.JSON != (JSON{})
		switch kind {
		case "grpc":
			notFor(len(r.Exceptions) > 0, "exceptions")
		case "thrift":
			notFor(r.ResponseBody != "", "response_body")
			notFor(jsonSet, "json")
		case "nats":
			notFor(r.Body != "", "body")
			notFor(r.ResponseBody != "", "response_body")
			notFor(len(r.Exceptions) > 0, "exceptions")
		}
		if r.Thrift != "" && !strings.Contains(r.Thrift, ".") {
			add(c.Problem(key+".thrift", "want Service.method, got %q", r.Thrift))
		}
		if nr := r.NATS; nr != nil {
			if nr.Subject == "" {
				add(c.Problem(key+".nats.subject", "required"))
			}
			switch nr.Mode {
			case "", "request", "publish", "jetstream":
			default:
				add(c.Problem(key+".nats.mode", "unknown mode %q (want request, publish or jetstream)", nr.Mode))
			}
			if nr.Raw && (nr.Request != "" || nr.Reply != "") {
				add(c.Problem(key+".nats.raw", "raw excludes typed request and reply"))
			}
		}
		for name, st := range r.Exceptions {
			if st < 400 || st > 599 {
				add(c.Problem(key+".exceptions."+name, "HTTP status %d: want 400-599", st))
			}
		}
	}
	return ps
}

// BackendNames returns the backend names, sorted.
func (c *Config) BackendNames() []string {
	names := make([]string, 0, len(c.Backends))
	for n := range c.Backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RouteKey returns the key path of route i's method, for positions.
func (c *Config) RouteKey(i int) string {
	method, _, _ := c.Routes[i].MethodPath()
	if c.Routes[i].Custom != nil {
		return fmt.Sprintf("routes[%d].custom", i)
	}
	return fmt.Sprintf("routes[%d].%s", i, strings.ToLower(method))
}

// validHeaderName is an HTTP token that is also a valid gRPC metadata key
// once lower-cased.
func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func hopByHop(h string) bool {
	switch h {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te",
		"proxy-authenticate", "proxy-authorization", "content-length":
		return true
	}
	return false
}

package config

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Defaults that harden the listener; each can be overridden under limits:.
const (
	DefaultMaxBodyBytes      = 4 << 20
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxJSONDepth      = 64
	DefaultMaxJSONValues     = 100_000
	DefaultMaxJSONContainers = 20_000
	DefaultMaxInflightBody   = 256 << 20
	// DefaultMaxInflightRequests stays well under the usual 64k file
	// descriptors and keeps goroutine memory bounded.
	DefaultMaxInflightRequests = 10_000
	DefaultReadHeaderTimeout   = 10 * time.Second
	DefaultReadTimeout         = 60 * time.Second
	DefaultIdleTimeout         = 120 * time.Second
	DefaultShutdownTimeout     = 15 * time.Second
	DefaultBackendTimeout      = 15 * time.Second
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
	if c.Limits.MaxJSONValues == 0 {
		c.Limits.MaxJSONValues = DefaultMaxJSONValues
	}
	if c.Limits.MaxJSONContainers == 0 {
		c.Limits.MaxJSONContainers = DefaultMaxJSONContainers
	}
	if c.Limits.MaxInflightBodyBytes == 0 {
		c.Limits.MaxInflightBodyBytes = DefaultMaxInflightBody
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
	for _, a := range []struct{ key, addr string }{{"listen", c.Listen}, {"admin", c.Admin.Listen}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			add(c.Problem(a.key, "invalid address %q: want host:port", a.addr))
		}
	}
	if c.Admin.Listen != "" {
		if host, _, err := net.SplitHostPort(c.Admin.Listen); err == nil && !loopback(host) &&
			c.Admin.TokenEnv == "" && c.Admin.TokenFile == "" && (c.Admin.TLS == nil || c.Admin.TLS.ClientAuth != "require") {
			add(c.Problem("admin", "the admin API listens beyond loopback (%s) with no protection: set admin.token_env or admin.token_file, or admin.tls with client_auth: require", c.Admin.Listen))
		}
		if c.Admin.TokenEnv != "" && c.Admin.TokenFile != "" {
			add(c.Problem("admin.token_file", "set token_env or token_file, not both"))
		}
	}
	if c.Limits.MaxBodyBytes < 0 {
		add(c.Problem("limits.max_body_bytes", "must not be negative"))
	}
	if c.Limits.MaxJSONValues < 0 {
		add(c.Problem("limits.max_json_values", "must not be negative"))
	}
	if c.Limits.MaxJSONContainers < 0 {
		add(c.Problem("limits.max_json_containers", "must not be negative"))
	}
	if c.Limits.MaxInflightRequests == 0 {
		c.Limits.MaxInflightRequests = DefaultMaxInflightRequests
	}
	if c.Limits.MaxInflightRequests < 0 {
		add(c.Problem("limits.max_inflight_requests", "must not be negative"))
	}
	if c.Limits.MaxInflightBodyBytes < 0 {
		add(c.Problem("limits.max_inflight_body_bytes", "must not be negative"))
	} else if c.Limits.MaxInflightBodyBytes > 0 && c.Limits.MaxInflightBodyBytes < c.Limits.MaxBodyBytes {
		add(c.Problem("limits.max_inflight_body_bytes", "must be at least limits.max_body_bytes (%d)", c.Limits.MaxBodyBytes))
	}
	validateStreamLimits(c, "limits.streams", &c.Limits.Streams, add)
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
		}
		if prev, dup := setNames[d.Name]; dup && d.Name != "" {
			add(c.Problem(key+".name", "descriptor set name %q already used by %s", d.Name, prev))
		}
		setNames[d.Name] = key
	}

	for _, name := range names {
		b := c.Backends[name]
		key := "backends." + name
		for j, h := range b.Headers {
			if !translate.ValidHeaderName(h) || !translate.ValidMetadataKey(strings.ToLower(h)) {
				add(c.Problem(fmt.Sprintf("%s.headers[%d]", key, j), "%q is not a header name", h))
			} else if translate.HopByHop(h) {
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
		if bu := b.Retry.Budget; bu != nil && !(*bu > 0 && *bu <= 1) { // NaN too
			add(c.Problem(key+".retry.budget", "must be above 0 and at most 1 (a share of calls in flight)"))
		}
		if b.Breaker.Failures > 0 && b.Breaker.Cooldown == 0 {
			add(c.Problem(key+".breaker.cooldown", "required when failures is set"))
		}
		if b.Breaker.Failures < 0 {
			add(c.Problem(key+".breaker.failures", "must not be negative"))
		}
		if b.Breaker.Probes < 0 || b.Breaker.Probes > maxProbes {
			add(c.Problem(key+".breaker.probes", "must be between 1 and %d (calls admitted at once when half-open)", maxProbes))
		} else if b.Breaker.Probes > 0 && b.Breaker.Failures == 0 {
			add(c.Problem(key+".breaker.probes", "set failures too: without it the breaker never opens"))
		}
		if o := b.Outlier; o != nil {
			validateOutlier(c, key+".outlier", o, add)
			if b.Protocol == "nats" {
				add(c.Problem(key+".outlier", "NATS holds one connection and fails over itself: it has no endpoints to eject"))
			}
		}
		if b.MaxConcurrent < 0 {
			add(c.Problem(key+".max_concurrent", "must not be negative"))
		}
		if b.MaxConcurrentStreams < 0 {
			add(c.Problem(key+".max_concurrent_streams", "must not be negative"))
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
		if r.Stream != nil {
			validateStreamLimits(c, key+".stream", r.Stream, add)
		}
		if msg := c.PolicyProblem(r.Policy); msg != "" {
			add(c.Problem(key+".policy", "%s", msg))
		}
	}
	if msg := c.PolicyProblem(c.Policy); msg != "" {
		add(c.Problem("policy", "%s", msg))
	}
	c.validateSections(add)
	return ps
}

// loopback reports a host that only this machine reaches.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
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

// maxProbes bounds breaker.probes and outlier.probes: a "half-open" state
// that admits more is not one.
const maxProbes = 100

func validateOutlier(c *Config, key string, o *Outlier, add func(Problem)) {
	if o.Failures < 1 || o.Failures > 1000 {
		add(c.Problem(key+".failures", "must be between 1 and 1000 (failures in a row that eject an endpoint)"))
	}
	if o.BaseEjection != 0 && o.BaseEjection.D(0) < 100*time.Millisecond {
		add(c.Problem(key+".base_ejection", "must be at least 100ms"))
	} else if o.MaxEjection != 0 && o.MaxEjection.D(0) < o.BaseEjection.D(30*time.Second) {
		add(c.Problem(key+".max_ejection", "must be at least base_ejection (%s)", o.BaseEjection.D(30*time.Second)))
	}
	if o.MaxEjectedPercent < 0 || o.MaxEjectedPercent > 100 {
		add(c.Problem(key+".max_ejected_percent", "must be between 1 and 100 (0 or unset: 50)"))
	}
	if o.Probes < 0 || o.Probes > maxProbes {
		add(c.Problem(key+".probes", "must be between 1 and %d (0 or unset: 1): calls at once to an endpoint back from ejection", maxProbes))
	}
}

// MaxStreamMessageBytes bounds limits.streams.max_message_bytes: one
// message is held whole.
const MaxStreamMessageBytes = 64 << 20

func validateStreamLimits(c *Config, key string, l *StreamLimits, add func(Problem)) {
	if l.MaxMessageBytes < 0 || l.MaxMessageBytes > MaxStreamMessageBytes {
		add(c.Problem(key+".max_message_bytes", "must be between 1 and %d", MaxStreamMessageBytes))
	}
	if l.MaxUploadBytes < 0 {
		add(c.Problem(key+".max_upload_bytes", "must not be negative (0 is no limit)"))
	}
	if l.KeepAlive != 0 && l.KeepAlive.D(0) < 100*time.Millisecond {
		add(c.Problem(key+".keepalive", "must be at least 100ms"))
	}
	if l.IdleTimeout != 0 && l.IdleTimeout.D(0) < 100*time.Millisecond {
		add(c.Problem(key+".idle_timeout", "must be at least 100ms"))
	}
	if l.MaxDuration != 0 && l.MaxDuration.D(0) < 100*time.Millisecond {
		add(c.Problem(key+".max_duration", "must be at least 100ms"))
	}
}

package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole gateway configuration.
type Config struct {
	Listen      string             `yaml:"listen"`
	Admin       Admin              `yaml:"admin"`
	Limits      Limits             `yaml:"limits"`
	Log         Log                `yaml:"log"`
	Tracing     Tracing            `yaml:"tracing"`
	JSON        JSON               `yaml:"json"`
	Descriptors []Descriptor       `yaml:"descriptors"`
	Backends    map[string]Backend `yaml:"backends"`
	Routes      []Route            `yaml:"routes"`

	// The policy stage: TLS on the listener, who may set forwarding
	// headers, shared stores, the global policy and the named ones.
	TLS            *ListenerTLS `yaml:"tls"`
	TrustedProxies []string     `yaml:"trusted_proxies"`
	// ForwardedHeader is the header the trusted proxies maintain:
	// X-Forwarded-For (default) or Forwarded. The other is ignored.
	ForwardedHeader string            `yaml:"forwarded_header"`
	Stores          Stores            `yaml:"stores"`
	Policy          string            `yaml:"policy"`
	Policies        map[string]Policy `yaml:"policies"`
	// OpenAPI configures the OpenAPI document of the routes.
	OpenAPI OpenAPI `yaml:"openapi"`

	// Sections are the top-level keys the protocols own (a gRPC
	// "services" list, say), decoded into each protocol's own types.
	Sections map[string]any `yaml:"-"`

	// File is the path the config was read from; positions index into it.
	File      string         `yaml:"-"`
	pos       map[string]int // key path -> line
	protocols Protocols
	// doc is the document as read, includes joined and the environment
	// substituted; exp says where its parts came from.
	doc *yaml.Node
	exp *expansion
}

// Protocols are the backend protocols the config was read with.
func (c *Config) Protocols() Protocols { return c.protocols }

// Admin configures the admin API's listener: "host:port", or a mapping.
type Admin struct {
	Listen string `yaml:"listen"`
	// Hosts are the Host header names /admin/* answers to (any port), so
	// that a page served by a name that resolves to this address (DNS
	// rebinding) cannot use the API. Default: localhost, 127.0.0.1, ::1
	// and the listen host when it is not a wildcard.
	Hosts []string `yaml:"hosts"`
	// TokenEnv and TokenFile name where the bearer token for /admin/*
	// is (an environment variable, a file); /healthz, /readyz and
	// /metrics stay open.
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// TLS serves the admin listener over TLS; with client_auth: require,
	// only holders of a client certificate reach it.
	TLS *ListenerTLS `yaml:"tls"`
}

// UnmarshalYAML accepts the bare "host:port" form as well.
func (a *Admin) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&a.Listen)
	}
	type plain Admin
	return n.Decode((*plain)(a))
}

// Limits harden the HTTP listener.
type Limits struct {
	MaxBodyBytes   int64 `yaml:"max_body_bytes"`
	MaxHeaderBytes int   `yaml:"max_header_bytes"`
	MaxJSONDepth   int   `yaml:"max_json_depth"`
	// MaxJSONValues and MaxJSONContainers bound what one JSON body may
	// expand into: its values, and its objects and arrays.
	MaxJSONValues     int `yaml:"max_json_values"`
	MaxJSONContainers int `yaml:"max_json_containers"`
	// MaxInflightBodyBytes bounds the request bodies the gateway holds at
	// once; past it a request with a body is refused with 503.
	MaxInflightBodyBytes int64 `yaml:"max_inflight_body_bytes"`
	// MaxInflightRequests bounds the requests served at once, gateway-wide;
	// beyond it, 503 at once. 0 is no limit.
	MaxInflightRequests int64    `yaml:"max_inflight_requests"`
	ReadHeaderTimeout   Duration `yaml:"read_header_timeout"`
	ReadTimeout         Duration `yaml:"read_timeout"`
	WriteTimeout        Duration `yaml:"write_timeout"`
	IdleTimeout         Duration `yaml:"idle_timeout"`
	ShutdownTimeout     Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long /readyz fails before the listener closes,
	// so that a load balancer stops sending new requests first.
	ShutdownDelay Duration `yaml:"shutdown_delay"`
	// Streams bound every streaming route; a route's stream: overrides.
	Streams StreamLimits `yaml:"streams"`
}

// StreamLimits bound a streaming route's streams; zero is the default.
type StreamLimits struct {
	MaxDuration     Duration `yaml:"max_duration"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	KeepAlive       Duration `yaml:"keepalive"`
	MaxMessageBytes int      `yaml:"max_message_bytes"`
	MaxUploadBytes  int64    `yaml:"max_upload_bytes"`
}

// Over is l with the values o sets.
func (l StreamLimits) Over(o *StreamLimits) StreamLimits {
	if o == nil {
		return l
	}
	if o.MaxDuration != 0 {
		l.MaxDuration = o.MaxDuration
	}
	if o.IdleTimeout != 0 {
		l.IdleTimeout = o.IdleTimeout
	}
	if o.KeepAlive != 0 {
		l.KeepAlive = o.KeepAlive
	}
	if o.MaxMessageBytes != 0 {
		l.MaxMessageBytes = o.MaxMessageBytes
	}
	if o.MaxUploadBytes != 0 {
		l.MaxUploadBytes = o.MaxUploadBytes
	}
	return l
}

// OpenAPI configures the OpenAPI 3.1 document of the routes.
type OpenAPI struct {
	// Public serves /openapi.json and /openapi.yaml on the gateway's
	// listener too, for API users who cannot reach the admin listener.
	Public bool `yaml:"public"`
	// Servers are the URLs the document tells clients to call, e.g. the
	// gateway's public URL.
	Servers []string `yaml:"servers"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, text
}

// Tracing configures OpenTelemetry tracing.
type Tracing struct {
	Exporter    string  `yaml:"exporter"` // none (default) | stdout | otlp
	Endpoint    string  `yaml:"endpoint"` // otlp: host:port of an OTLP/gRPC collector
	Insecure    bool    `yaml:"insecure"` // otlp: plaintext
	SampleRatio float64 `yaml:"sample_ratio"`
	ServiceName string  `yaml:"service_name"`
}

// JSON are the proto3 JSON mapping options, set globally, per service or per route.
type JSON struct {
	UseProtoNames   *bool `yaml:"use_proto_names"`
	EmitUnpopulated *bool `yaml:"emit_unpopulated"`
	UseEnumNumbers  *bool `yaml:"use_enum_numbers"`
	Strict          *bool `yaml:"strict"`
}

// Merge returns j with the options set in over replacing its own.
func (j JSON) Merge(over JSON) JSON {
	if over.UseProtoNames != nil {
		j.UseProtoNames = over.UseProtoNames
	}
	if over.EmitUnpopulated != nil {
		j.EmitUnpopulated = over.EmitUnpopulated
	}
	if over.UseEnumNumbers != nil {
		j.UseEnumNumbers = over.UseEnumNumbers
	}
	if over.Strict != nil {
		j.Strict = over.Strict
	}
	return j
}

// Descriptor is one protobuf schema source loaded at start. Exactly one of
// File, Proto and Reflection is set.
type Descriptor struct {
	Name        string   `yaml:"name"`         // set name; defaults to the file's base name or the backend
	File        string   `yaml:"file"`         // binary FileDescriptorSet
	Proto       []string `yaml:"proto"`        // .proto sources compiled at start
	ImportPaths []string `yaml:"import_paths"` // for Proto
	Reflection  string   `yaml:"reflection"`   // backend whose server reflection to ask
}

// Backend is one upstream: exactly one protocol section (its key is the
// protocol's name) beside the settings every protocol shares.
type Backend struct {
	Timeout Duration `yaml:"timeout"`
	Retry   Retry    `yaml:"retry"`
	Breaker Breaker  `yaml:"breaker"`
	// Outlier ejects endpoints that fail in a row; nil never ejects.
	Outlier *Outlier `yaml:"outlier"`
	// MaxConcurrent bounds calls in flight to this backend; 0 is unlimited.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxConcurrentStreams bounds the streams open to this backend; 0 is
	// unlimited.
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// Headers are request headers forwarded as metadata beside the defaults.
	Headers []string `yaml:"headers"`

	// Protocol names the protocol section, "" when none or several are set.
	Protocol string `yaml:"-"`
	// Section is the protocol's own settings, decoded into the type the
	// protocol gave (Protocol.NewBackendSection).
	Section any `yaml:"-"`
}

// TLS configures a TLS client connection.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Keepalive configures pings on idle connections.
type Keepalive struct {
	Time    Duration `yaml:"time"`
	Timeout Duration `yaml:"timeout"`
}

// Retry retries failed attempts whose code is in On, when the call is
// idempotent or provably never reached the backend's application.
type Retry struct {
	Attempts      int      `yaml:"attempts"`
	Backoff       Duration `yaml:"backoff"`
	On            []string `yaml:"on"`
	PerTryTimeout Duration `yaml:"per_try_timeout"`
	// Budget is the share of calls in flight that may be retries at once.
	Budget *float64 `yaml:"budget"`
}

// Breaker opens after Failures consecutive failures for Cooldown, then
// admits Probes calls at once (default 1) until one decides.
type Breaker struct {
	Failures int      `yaml:"failures"`
	Cooldown Duration `yaml:"cooldown"`
	Probes   int      `yaml:"probes"`
}

// Outlier is a backend's outlier detection: an endpoint failing Failures
// calls in a row is passed over for BaseEjection times its ejections (at
// most MaxEjection), at most MaxEjectedPercent of the endpoints at once;
// back, it takes Probes calls at once until one succeeds.
type Outlier struct {
	Failures          int      `yaml:"failures"`
	BaseEjection      Duration `yaml:"base_ejection"`
	MaxEjection       Duration `yaml:"max_ejection"`
	MaxEjectedPercent int      `yaml:"max_ejected_percent"`
	Probes            int      `yaml:"probes"`
}

// Route is one explicit route: exactly one method key holds the path, and
// exactly one protocol's target key (the protocol's name) says what it
// calls; the protocol decodes that key and its options into Section.
type Route struct {
	Get     string        `yaml:"get"`
	Put     string        `yaml:"put"`
	Post    string        `yaml:"post"`
	Delete  string        `yaml:"delete"`
	Patch   string        `yaml:"patch"`
	Custom  *CustomMethod `yaml:"custom"`
	Backend string        `yaml:"backend"`
	// RawPaths lets path values hold "." and ".." segments, for a backend
	// that wants paths as sent.
	RawPaths bool `yaml:"raw_paths"`
	// Idempotent says the route's calls may be sent twice: a failure that
	// may have reached the backend can then be retried.
	Idempotent bool `yaml:"idempotent"`
	// Hedge sends another copy of an idempotent call that has not answered
	// after a delay; the first reply wins. Calls that are not idempotent
	// (by method, idempotent: true or the gRPC idempotency_level) are
	// never hedged.
	Hedge *Hedge `yaml:"hedge"`
	// Policy names the route's own policy, after the global one and its
	// service's; "none" drops the service's.
	Policy string `yaml:"policy"`
	// Stream overrides limits.streams for a streaming route.
	Stream *StreamLimits `yaml:"stream"`

	// Protocol names the route's target kind, "" when none or several
	// are set.
	Protocol string `yaml:"-"`
	// Section holds the target key and the options of the route's
	// protocol (Protocol.NewRouteSection).
	Section any `yaml:"-"`
}

// Hedge is a route's hedging: hedge: {delay: 50ms} or {delay: p95, max: 2}.
type Hedge struct {
	// Delay is how long an attempt runs before it is hedged: a duration,
	// or p95, the backend's observed p95 latency of successful calls.
	Delay HedgeDelay `yaml:"delay"`
	// Max is how many hedges one attempt may have, 1 (default) or 2.
	Max int `yaml:"max"`
}

// MaxHedges bounds hedge.max.
const MaxHedges = 2

// UnmarshalYAML checks the hedge as it decodes, so that its problems
// carry their line.
func (h *Hedge) UnmarshalYAML(n *yaml.Node) error {
	type plain Hedge
	if err := n.Decode((*plain)(h)); err != nil {
		return err
	}
	var errs []string
	if !h.Delay.P95 && h.Delay.D == 0 {
		errs = append(errs, fmt.Sprintf("line %d: hedge.delay is required (a duration such as 50ms, or p95)", n.Line))
	}
	switch {
	case h.Max == 0:
		h.Max = 1
	case h.Max < 0 || h.Max > MaxHedges:
		errs = append(errs, fmt.Sprintf("line %d: hedge.max must be 1 or %d", n.Line, MaxHedges))
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// HedgeDelay is a duration, or "p95".
type HedgeDelay struct {
	D   time.Duration
	P95 bool
}

func (d *HedgeDelay) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if s == "p95" {
		*d = HedgeDelay{P95: true}
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid hedge delay %q (want a positive duration such as 50ms, or p95)", n.Line, s)}}
	}
	*d = HedgeDelay{D: v}
	return nil
}

// CustomMethod is an HTTP method outside the usual five.
type CustomMethod struct {
	Kind string `yaml:"kind"`
	Path string `yaml:"path"`
}

// MethodPath returns the route's HTTP method and path template.
func (r Route) MethodPath() (method, path string, n int) {
	for _, c := range []struct{ m, p string }{
		{"GET", r.Get}, {"PUT", r.Put}, {"POST", r.Post}, {"DELETE", r.Delete}, {"PATCH", r.Patch},
	} {
		if c.p != "" {
			method, path, n = c.m, c.p, n+1
		}
	}
	if r.Custom != nil {
		method, path, n = r.Custom.Kind, r.Custom.Path, n+1
	}
	return method, path, n
}

// Duration is a time.Duration written as "2s", "150ms".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	// A *yaml.TypeError keeps the line and lets decoding go on, so that
	// every problem is reported at once.
	v, err := time.ParseDuration(s)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: invalid duration %q (want e.g. 500ms, 2s, 1m)", n.Line, s)}}
	}
	if v < 0 {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: negative duration %q", n.Line, s)}}
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration, or def when unset.
func (d Duration) D(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// Mapping is the JSON mapping in force once defaults apply: grpc-gateway
// v2's, so that clients moving from it see the same JSON.
type Mapping struct {
	UseProtoNames, EmitUnpopulated, UseEnumNumbers, Strict bool
}

// Mapping applies the defaults to j.
func (j JSON) Mapping() Mapping {
	return Mapping{
		UseProtoNames: j.UseProtoNames != nil && *j.UseProtoNames,
		// grpc-gateway v2's default marshaller emits unpopulated fields;
		// clients moving from it expect them.
		EmitUnpopulated: j.EmitUnpopulated == nil || *j.EmitUnpopulated,
		UseEnumNumbers:  j.UseEnumNumbers != nil && *j.UseEnumNumbers,
		Strict:          j.Strict != nil && *j.Strict,
	}
}

package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole gateway configuration.
type Config struct {
	Listen      string             `yaml:"listen"`
	Admin       string             `yaml:"admin"`
	Limits      Limits             `yaml:"limits"`
	Log         Log                `yaml:"log"`
	Tracing     Tracing            `yaml:"tracing"`
	JSON        JSON               `yaml:"json"`
	Descriptors []Descriptor       `yaml:"descriptors"`
	Backends    map[string]Backend `yaml:"backends"`
	Services    []Service          `yaml:"services"`
	// ThriftServices expose Thrift services through HTTP annotations in
	// their IDL (the CloudWeGo api.* dialect) and POST /Service/method.
	ThriftServices []ThriftService `yaml:"thrift_services"`
	Routes         []Route         `yaml:"routes"`

	// File is the path the config was read from; positions index into it.
	File string         `yaml:"-"`
	pos  map[string]int // key path -> line
}

// Limits harden the HTTP listener.
type Limits struct {
	MaxBodyBytes      int64    `yaml:"max_body_bytes"`
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	MaxJSONDepth      int      `yaml:"max_json_depth"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long /readyz fails before the listener closes,
	// so that a load balancer stops sending new requests first.
	ShutdownDelay Duration `yaml:"shutdown_delay"`
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

// Backend is one upstream. Exactly one protocol section is set.
type Backend struct {
	GRPC    *GRPC    `yaml:"grpc"`
	Thrift  *Thrift  `yaml:"thrift"`
	NATS    *NATS    `yaml:"nats"`
	Timeout Duration `yaml:"timeout"`
	Retry   Retry    `yaml:"retry"`
	Breaker Breaker  `yaml:"breaker"`
	// MaxConcurrent bounds calls in flight to this backend; 0 is unlimited.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Headers are request headers forwarded as metadata beside the defaults.
	Headers []string `yaml:"headers"`
}

// GRPC configures a gRPC backend.
type GRPC struct {
	Endpoints       []string  `yaml:"endpoints"`
	TLS             *TLS      `yaml:"tls"`
	Keepalive       Keepalive `yaml:"keepalive"`
	MaxMessageBytes int       `yaml:"max_message_bytes"`
}

// Protocol names the backend's protocol section.
func (b Backend) Protocol() string {
	switch {
	case b.GRPC != nil:
		return "grpc"
	case b.Thrift != nil:
		return "thrift"
	case b.NATS != nil:
		return "nats"
	}
	return ""
}

// Thrift configures a Thrift backend; its IDL is parsed at start.
type Thrift struct {
	Endpoints       []string `yaml:"endpoints"`
	IDL             string   `yaml:"idl"`
	IncludeDirs     []string `yaml:"include_dirs"`
	Protocol        string   `yaml:"protocol"`  // binary (default) | compact
	Transport       string   `yaml:"transport"` // framed (default) | buffered
	Multiplexed     bool     `yaml:"multiplexed"`
	ConnectTimeout  Duration `yaml:"connect_timeout"`
	PoolSize        int      `yaml:"pool_size"`
	MaxMessageBytes int      `yaml:"max_message_bytes"`
}

// NATS configures a NATS backend: an embedded server or a cluster.
type NATS struct {
	URL                  string       `yaml:"url"`       // "embedded" or nats://host:4222[,nats://...]
	StoreDir             string       `yaml:"store_dir"` // embedded JetStream storage
	Listen               string       `yaml:"listen"`    // embedded server client address
	Streams              []NATSStream `yaml:"streams"`   // created on the embedded server
	CredentialsFile      string       `yaml:"credentials_file"`
	Token                string       `yaml:"token"`
	User                 string       `yaml:"user"`
	Password             string       `yaml:"password"`
	TLS                  *TLS         `yaml:"tls"`
	ReconnectWait        Duration     `yaml:"reconnect_wait"`
	MaxReconnects        *int         `yaml:"max_reconnects"`
	ReconnectBufferBytes int          `yaml:"reconnect_buffer_bytes"`
}

// NATSStream is a JetStream stream the embedded server creates.
type NATSStream struct {
	Name     string   `yaml:"name"`
	Subjects []string `yaml:"subjects"`
}

// ThriftService exposes a Thrift service of a backend's IDL.
type ThriftService struct {
	Name        string `yaml:"name"`
	Backend     string `yaml:"backend"`
	Unannotated *bool  `yaml:"unannotated"`
	// Exceptions map declared exception names to HTTP statuses.
	Exceptions map[string]int `yaml:"exceptions"`
}

// TLS configures a TLS client connection.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Keepalive configures HTTP/2 pings on idle connections.
type Keepalive struct {
	Time    Duration `yaml:"time"`
	Timeout Duration `yaml:"timeout"`
}

// Retry retries failed attempts whose code is in On.
type Retry struct {
	Attempts int      `yaml:"attempts"`
	Backoff  Duration `yaml:"backoff"`
	On       []string `yaml:"on"`
}

// Breaker opens after Failures consecutive failures for Cooldown.
type Breaker struct {
	Failures int      `yaml:"failures"`
	Cooldown Duration `yaml:"cooldown"`
}

// Service exposes a gRPC service through its google.api.http annotations.
type Service struct {
	Name    string `yaml:"name"`
	Backend string `yaml:"backend"`
	// Unannotated exposes methods without annotations at POST /pkg.Service/Method.
	Unannotated *bool `yaml:"unannotated"`
	JSON        JSON  `yaml:"json"`
}

// Route is one explicit route. Exactly one method key holds the path.
type Route struct {
	Get     string        `yaml:"get"`
	Put     string        `yaml:"put"`
	Post    string        `yaml:"post"`
	Delete  string        `yaml:"delete"`
	Patch   string        `yaml:"patch"`
	Custom  *CustomMethod `yaml:"custom"`
	Backend string        `yaml:"backend"`
	// GRPC names the method: "library.v1.LibraryService/GetBook" or "library.v1.LibraryService.GetBook".
	GRPC string `yaml:"grpc"`
	// Thrift names the function: "Calculator.add".
	Thrift string `yaml:"thrift"`
	// NATS sends the request to a subject.
	NATS         *NATSRoute `yaml:"nats"`
	Body         string     `yaml:"body"`
	ResponseBody string     `yaml:"response_body"`
	JSON         JSON       `yaml:"json"`
	// Exceptions map Thrift exception names to HTTP statuses.
	Exceptions map[string]int `yaml:"exceptions"`
}

// NATSRoute is a NATS target.
type NATSRoute struct {
	Subject string `yaml:"subject"` // template: "orders.{id}.created"
	Mode    string `yaml:"mode"`    // request (default) | publish | jetstream
	Raw     bool   `yaml:"raw"`     // pass the body through unvalidated
	// Request and Reply name protobuf message types of the loaded
	// descriptors: JSON is transcoded to protobuf on the wire and back.
	Request string   `yaml:"request"`
	Reply   string   `yaml:"reply"`
	Headers []string `yaml:"headers"`
}

// Target names the route's protocol target kind and how many are set.
func (r Route) Target() (kind string, n int) {
	if r.GRPC != "" {
		kind, n = "grpc", n+1
	}
	if r.Thrift != "" {
		kind, n = "thrift", n+1
	}
	if r.NATS != nil {
		kind, n = "nats", n+1
	}
	return kind, n
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

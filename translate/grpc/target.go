package grpc

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/binding"
)

// DefaultForwardedHeaders are the request headers that always become gRPC
// metadata, beside Grpc-Metadata-* and the configured ones.
var DefaultForwardedHeaders = []string{"Authorization", "X-Request-Id", "Traceparent", "Tracestate"}

// Target serves one route by calling one gRPC method. Everything in it is
// resolved when the route table is built.
type Target struct {
	backendName string
	backend     translate.Backend
	method      string // "/library.v1.LibraryService/GetBook"
	rule        *binding.Rule
	resolver    translate.Resolver
	forward     []string // canonical header names
}

var _ routes.Target = (*Target)(nil)

// NewTarget binds a method to a backend. forward lists extra request header
// names to pass on as metadata.
func NewTarget(backendName string, backend translate.Backend, rule *binding.Rule, res translate.Resolver, forward []string) *Target {
	md := rule.Method()
	names := make([]string, 0, len(DefaultForwardedHeaders)+len(forward))
	for _, h := range append(append([]string{}, DefaultForwardedHeaders...), forward...) {
		names = append(names, http.CanonicalHeaderKey(h))
	}
	return &Target{
		backendName: backendName,
		backend:     backend,
		method:      "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		rule:        rule,
		resolver:    res,
		forward:     names,
	}
}

func (t *Target) Backend() string  { return t.backendName }
func (t *Target) Describe() string { return "grpc " + t.method }

// ServeRoute transcodes the request, calls the backend and writes the reply.
func (t *Target) ServeRoute(w http.ResponseWriter, r *http.Request, params routes.Params) {
	ctx := r.Context()
	var body []byte
	if t.rule.HasBody() {
		var err error
		if body, err = translate.ReadBody(r); err != nil {
			translate.Fail(w, r, err, t.resolver)
			return
		}
	}
	req, err := t.rule.Request(params, r.URL.Query(), body, r.Header.Get("Content-Type"))
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	md, err := t.metadata(r)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	if v := r.Header.Get("Grpc-Timeout"); v != "" {
		d, err := ParseTimeout(v)
		if err != nil {
			translate.Fail(w, r, translate.BadRequest(err.Error(), translate.Violation("Grpc-Timeout", err.Error())), t.resolver)
			return
		}
		// The client may shorten the backend's deadline, never lengthen it:
		// the resilience layer applies the backend timeout on top of this.
		if d < time.Duration(math.MaxInt64) {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
	}
	reply, err := t.backend.Invoke(ctx, &translate.Call{Method: t.method, Body: req, Metadata: md})
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	out, contentType, err := t.rule.Reply(reply.Body)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	h := w.Header()
	MetadataToHeader(h, reply.Header)
	MetadataToHeader(h, reply.Trailer)
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// metadata builds the outgoing gRPC metadata: the allow-listed headers,
// Grpc-Metadata-* with the prefix removed (-bin values base64-decoded), and
// X-Forwarded-For/Host as grpc-gateway sends them. A client cannot use
// Grpc-Metadata-* to set hop-by-hop or transport keys, nor to add values to
// the keys the gateway sets itself (the request id, forwarded headers,
// allow-listed ones such as Authorization); values must be printable ASCII,
// which is all HTTP/2 metadata may carry.
func (t *Target) metadata(r *http.Request) (metadata.MD, error) {
	md := metadata.MD{}
	for _, name := range t.forward {
		vs := r.Header.Values(name)
		if len(vs) == 0 {
			continue
		}
		for _, v := range vs {
			if !printableASCII(v) {
				return nil, translate.BadRequest("header "+name+" has characters gRPC metadata cannot carry",
					translate.Violation(name, "must be printable ASCII"))
			}
		}
		md[strings.ToLower(name)] = vs
	}
	if id := observability.FromContext(r.Context()).ID; id != "" {
		md["x-request-id"] = []string{id}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Get("X-Forwarded-For"); prior != "" && printableASCII(prior) {
			host = prior + ", " + host
		}
		md["x-forwarded-for"] = []string{host}
	}
	if r.Host != "" && printableASCII(r.Host) {
		md["x-forwarded-host"] = []string{r.Host}
	}
	for name, vs := range r.Header {
		key, ok := strings.CutPrefix(name, "Grpc-Metadata-")
		if !ok {
			continue
		}
		key = strings.ToLower(key)
		if _, taken := md[key]; taken || !validMetadataKey(key) || isReservedMetadata(key) || strings.HasPrefix(key, "grpc-") || translate.HopByHop(key) {
			return nil, translate.BadRequest("header "+name+" names metadata a client may not set",
				translate.Violation(name, "reserved, hop-by-hop or already set by the gateway"))
		}
		for _, v := range vs {
			if strings.HasSuffix(key, "-bin") {
				b, err := decodeBase64(v)
				if err != nil {
					return nil, translate.BadRequest("header "+name+" is not valid base64",
						translate.Violation(name, "binary metadata must be base64"))
				}
				v = string(b)
			} else if !printableASCII(v) {
				return nil, translate.BadRequest("header "+name+" has characters gRPC metadata cannot carry",
					translate.Violation(name, "must be printable ASCII"))
			}
			md[key] = append(md[key], v)
		}
	}
	return md, nil
}

// validMetadataKey is the gRPC spec's key alphabet.
func validMetadataKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// ParseTimeout reads a grpc-timeout value: at most 8 digits and a unit,
// H, M, S, m (milli), u (micro) or n (nano). Note that "1m" is a millisecond.
func ParseTimeout(s string) (time.Duration, error) {
	bad := errors.New(`invalid Grpc-Timeout "` + s + `": want up to 8 digits and a unit H, M, S, m, u or n`)
	if len(s) < 2 || len(s) > 9 {
		return 0, bad
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	if err != nil {
		return 0, bad
	}
	const forever = time.Duration(math.MaxInt64)
	var unit time.Duration
	switch s[len(s)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, bad
	}
	if n > uint64(forever/unit) {
		return forever, nil // longer than any backend timeout: no limit from the client
	}
	return time.Duration(n) * unit, nil
}

// Package pipeline is the one path every request takes to a backend,
// whatever its protocol: read and check the body, settle the deadline,
// forward headers as metadata, let the route's transcoder build the call,
// call the backend under its resilience policy with the reply decoded
// inside each attempt, and write the response or the one error body.
//
// A protocol plugs in with a translate.Transcoder per route and a
// translate.Backend; neither chooses an HTTP status.
package pipeline

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// Target serves one route: a transcoder bound to a backend. It is built
// when the route table is built and only read while serving.
type Target struct {
	backendName string
	backend     *resilience.Backend
	tc          translate.Transcoder
	body        translate.BodyKind
	fwd         *translate.Forwarding
	resolver    translate.Resolver
	checks      []Check
	chain       *policy.Chain
	opts        Options
	// stream is the transcoder of a streaming route, else nil.
	stream translate.StreamTranscoder
	// What the transcoder says of itself, asked once, not per request.
	repliesJSON, idempotentCalls bool
	// aliases are the lower-cased names of headers the gateway treats
	// specially: a client may not set them as metadata through the
	// forwarding prefix, or a rule keyed on the real header (a front
	// proxy's, a policy's) would be bypassed.
	aliases map[string]bool
	// fwdKeys are fwd.Headers lower-cased, their metadata keys, made once.
	fwdKeys []string
}

// Options are a route's limits.
type Options struct {
	// MaxJSONValues and MaxJSONContainers bound what a JSON body may
	// expand into once decoded (values; objects and arrays), checked
	// before anything is built from it: 413 past either. 0 is the default.
	MaxJSONValues, MaxJSONContainers int
	// RawPaths lets path values hold "." and ".." segments, for a backend
	// that wants paths as sent. NUL, CR and LF are refused regardless.
	RawPaths bool
	// Idempotent marks every call of the route as safe to send twice (the
	// route's idempotent: true), beside what the HTTP method and the
	// transcoder say.
	Idempotent bool
	// Hedge races slow attempts of the route's idempotent calls (the
	// route's hedge:); the zero value hedges nothing.
	Hedge resilience.Hedge
	// Stream bounds a streaming route's streams; zero values are the
	// defaults.
	Stream StreamLimits
}

// Defaults for Options' zero values.
const (
	DefaultMaxJSONValues     = 100_000
	DefaultMaxJSONContainers = 20_000
)

// specialHeaders are headers whose meaning the gateway or the proxies in
// front of it act on; they reach a backend only as themselves.
var specialHeaders = []string{"authorization", "cookie", "proxy-authorization", "traceparent", "tracestate",
	"x-request-id", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded", "x-real-ip"}

// Check is one policy step of a route (policy.Check).
type Check = policy.Check

var _ routes.Target = (*Target)(nil)

// New binds a route's transcoder to its backend. res renders error
// details and may be nil (the built-in types only).
func New(backendName string, backend *resilience.Backend, tc translate.Transcoder, res translate.Resolver, opts Options) *Target {
	if opts.MaxJSONValues <= 0 {
		opts.MaxJSONValues = DefaultMaxJSONValues
	}
	if opts.MaxJSONContainers <= 0 {
		opts.MaxJSONContainers = DefaultMaxJSONContainers
	}
	t := &Target{backendName: backendName, backend: backend, tc: tc, body: tc.Body(), fwd: tc.Forwarding(), resolver: res, opts: opts}
	if j, ok := tc.(translate.JSONReplies); ok {
		t.repliesJSON = j.RepliesJSON()
	}
	if i, ok := tc.(interface{ Idempotent() bool }); ok {
		t.idempotentCalls = i.Idempotent()
	}
	if st, ok := tc.(translate.StreamTranscoder); ok && st.Kind() != translate.Unary {
		t.stream = st
	}
	if t.fwd != nil {
		for _, h := range t.fwd.Headers {
			t.fwdKeys = append(t.fwdKeys, strings.ToLower(h))
		}
	}
	if t.fwd != nil && t.fwd.ClientPrefix != "" {
		t.aliases = map[string]bool{}
		for _, h := range specialHeaders {
			t.aliases[h] = true
		}
		for _, h := range t.fwd.Headers {
			t.aliases[strings.ToLower(h)] = true
		}
	}
	return t
}

// WithIdempotent returns a copy of t whose calls may be retried after a
// failure that may have reached the backend.
func (t *Target) WithIdempotent() *Target {
	c := *t
	c.opts.Idempotent = true
	return &c
}

// WithStreamLimits returns a copy of t whose streams are bounded by l.
func (t *Target) WithStreamLimits(l StreamLimits) *Target {
	c := *t
	c.opts.Stream = l
	return &c
}

// Streaming is the route's kind of stream, Unary for none.
func (t *Target) Streaming() translate.StreamKind {
	if t.stream == nil {
		return translate.Unary
	}
	return t.stream.Kind()
}

// WithHedge returns a copy of t whose idempotent calls are hedged by h.
func (t *Target) WithHedge(h resilience.Hedge) *Target {
	c := *t
	c.opts.Hedge = h
	return &c
}

// WithRawPaths returns a copy of t whose path values may hold dot
// segments.
func (t *Target) WithRawPaths() *Target {
	c := *t
	c.opts.RawPaths = true
	return &c
}

func (t *Target) Backend() string  { return t.backendName }
func (t *Target) Describe() string { return t.tc.Describe() }

// WithChecks returns a copy of t that runs checks, in order, before
// anything else; the route table is immutable, so a route's policy is set
// when it is built.
func (t *Target) WithChecks(checks ...Check) *Target {
	c := *t
	c.checks = append(append([]Check(nil), t.checks...), checks...)
	return &c
}

// WithPolicy returns a copy of t that runs the route's policy chain
// before anything else.
func (t *Target) WithPolicy(c *policy.Chain) *Target {
	n := t.WithChecks(c.Check)
	n.chain = c
	return n
}

// Policy is the route's policy chain, nil when it has none beyond the
// global policy: the gateway answers CORS preflights from it.
func (t *Target) Policy() *policy.Chain { return t.chain }

// Transcoder is the route's protocol half, for tools that explain a route.
func (t *Target) Transcoder() translate.Transcoder { return t.tc }

// ServeRoute runs the pipeline for one request.
func (t *Target) ServeRoute(w http.ResponseWriter, r *http.Request, params routes.Params) {
	for _, check := range t.checks {
		next, err := check(w, r)
		if err != nil {
			translate.Fail(w, r, err, t.resolver)
			return
		}
		if next != nil {
			r = next
		}
	}
	if t.stream != nil {
		t.serveStream(w, r, params)
		return
	}
	resp, delivery, err := t.serve(r, params)
	if err != nil {
		translate.Fail(w, r, err, t.resolver)
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	// h.Set's work, with both values in one allocation.
	vals := make([]string, 2)
	vals[1] = strconv.Itoa(len(resp.Body))
	if resp.ContentType != "" {
		vals[0] = resp.ContentType
		h["Content-Type"] = vals[0:1:1]
	}
	h["Content-Length"] = vals[1:2:2]
	status := http.StatusOK
	if delivery != translate.DeliveryReply {
		// Handed over (a publish, a oneway call) or stored (a JetStream
		// acknowledgement): accepted, not processed.
		status = http.StatusAccepted
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

// exchange is one request's call and what came of it, in one allocation:
// the request the transcoder reads, the call it builds, and the response
// decode renders, which the resilience layer runs inside each attempt.
type exchange struct {
	t    *Target
	req  translate.Request
	call translate.Call
	resp *translate.Response
}

// Decode is the exchange's resilience.Decoder.
func (x *exchange) Decode(reply *translate.Reply) error {
	resp, err := x.t.tc.Decode(&x.call, reply)
	x.resp = resp
	return err
}

func (t *Target) serve(r *http.Request, params routes.Params) (*translate.Response, translate.Delivery, error) {
	if t.repliesJSON && !AcceptsJSON(r.Header.Values("Accept")) {
		return nil, 0, translate.Refuse(translate.ReasonNotAcceptable,
			"this route replies with application/json, which the Accept header %q excludes", truncate(strings.Join(r.Header.Values("Accept"), ", ")))
	}
	x := &exchange{t: t}
	if err := t.request(r, params, &x.req); err != nil {
		return nil, 0, err
	}
	ctx, cancel, err := clientDeadline(r)
	if err != nil {
		return nil, 0, err
	}
	defer cancel()
	if err := t.call(r, &x.req, &x.call); err != nil {
		return nil, 0, err
	}
	if _, err := t.backend.DoDecoded(ctx, &x.call, x, t.opts.Hedge); err != nil {
		return nil, 0, err
	}
	return x.resp, x.call.Delivery, nil
}

// request reads what the transcoder needs of r into req: path values, the
// query and, when the route takes one, the whole body, checked.
func (t *Target) request(r *http.Request, params routes.Params, req *translate.Request) error {
	*req = translate.Request{Params: params, Header: r.Header, ContentType: r.Header.Get("Content-Type")}
	if r.URL.RawQuery != "" {
		// url.Query would drop what does not parse (%zz, a ';'): refuse it.
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			// Named so that it cannot be taken for a field called "query".
			return translate.BadRequest("the query string does not parse: "+err.Error(),
				translate.Violation("(query string)", err.Error()))
		}
		req.Query = q
	}
	if t.body != translate.BodyNone && r.Body != nil {
		body, err := translate.ReadBody(r)
		if err != nil {
			return err
		}
		if t.body == translate.BodyJSON && len(body) > 0 {
			if !translate.IsJSONMediaType(req.ContentType) {
				return translate.Refuse(translate.ReasonUnsupportedMediaType,
					"unsupported Content-Type %s: the request body must be application/json", strconv.Quote(req.ContentType))
			}
			if err := translate.CheckText(body); err != nil {
				return err
			}
			if err := t.checkShape(r, body); err != nil {
				return err
			}
		}
		req.Body = body
	}
	return nil
}

// clientDeadline is r's context, shortened by the client's deadline
// headers when it sent one.
func clientDeadline(r *http.Request) (context.Context, context.CancelFunc, error) {
	d, limited, err := ClientTimeout(r.Header)
	if err != nil {
		return nil, nil, err
	}
	if !limited {
		return r.Context(), func() {}, nil
	}
	// The client may shorten the backend's deadline, never lengthen it:
	// the resilience layer applies the backend timeout on top.
	ctx, cancel := withTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// call builds the backend call: metadata from the forwarding rules, then
// the transcoder's encoding of req; path values are checked last, so that
// a protocol's own, more telling refusal (a NATS subject token's) comes
// first, and before anything is sent.
func (t *Target) call(r *http.Request, req *translate.Request, call *translate.Call) error {
	call.Idempotent = t.idempotent(r.Method)
	if t.fwd != nil {
		var err error
		if call.Metadata, err = t.metadata(r); err != nil {
			return err
		}
	}
	if err := t.tc.Encode(req, call); err != nil {
		return err
	}
	return checkParams(req.Params, t.opts.RawPaths)
}

// metadata builds the outgoing metadata from the route's forwarding
// rules: the allow-listed headers, the request id the gateway settled on,
// X-Forwarded-For/Host where the rules ask for them, and client metadata
// under the rules' prefix (Grpc-Metadata-*, -bin values base64-decoded).
// A client cannot use the prefix to set hop-by-hop or reserved keys, nor
// to add values to the keys the gateway sets itself.
func (t *Target) metadata(r *http.Request) (metadata.MD, error) {
	f := t.fwd
	md := make(metadata.MD, len(f.Headers)+3)
	for i, name := range f.Headers {
		vs := r.Header.Values(name)
		if len(vs) == 0 {
			continue
		}
		if len(vs) > 1 && (name == "Authorization" || name == "Proxy-Authorization") {
			// Which credential would the backend check? Refuse to guess.
			return nil, translate.BadRequest("header "+name+" is given more than once",
				translate.Violation(name, "send one credential"))
		}
		if f.PrintableOnly {
			for _, v := range vs {
				if !translate.PrintableASCII(v) {
					return nil, unprintable(name)
				}
			}
		}
		md[t.fwdKeys[i]] = vs
	}
	// What the policy stage set for the backend (an identity, an
	// authorization service's answer) goes as metadata whatever the
	// route's header list says.
	for _, name := range policy.Forwarded(r.Context()) {
		if vs := r.Header.Values(name); len(vs) > 0 {
			md[strings.ToLower(name)] = vs
		}
	}
	// The values the gateway sets itself share one allocation.
	own := make([]string, 3)
	if id := observability.FromContext(r.Context()).ID; id != "" {
		own[0] = id
		md["x-request-id"] = own[0:1:1]
	}
	if f.ProxyHeaders {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			// Several X-Forwarded-For lines are one list (RFC 9110 §5.3).
			if prior := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); prior != "" && translate.PrintableASCII(prior) {
				host = prior + ", " + host
			}
			own[1] = host
			md["x-forwarded-for"] = own[1:2:2]
		}
		if r.Host != "" && translate.PrintableASCII(r.Host) {
			own[2] = r.Host
			md["x-forwarded-host"] = own[2:3:3]
		}
	}
	if f.ClientPrefix == "" {
		return md, nil
	}
	reserved := policy.Reserved(r.Context())
	for name, vs := range r.Header {
		key, ok := strings.CutPrefix(name, f.ClientPrefix)
		if !ok {
			continue
		}
		key = strings.ToLower(key)
		if isReserved(reserved, key) {
			// A client's copy of an identity header, smuggled in as
			// metadata: dropped, as the header itself was.
			continue
		}
		if _, taken := md[key]; taken || t.alias(key) || !translate.ValidMetadataKey(key) || (f.Reserved != nil && f.Reserved(key)) || translate.HopByHop(key) {
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
			} else if !translate.PrintableASCII(v) {
				return nil, unprintable(name)
			}
			md[key] = append(md[key], v)
		}
	}
	return md, nil
}

// CheckRequest runs the checks the pipeline makes of a request's headers
// before it builds a call (the deadline headers, Accept, the metadata a
// client may send), for tools that explain a request without serving it.
func (t *Target) CheckRequest(r *http.Request) error {
	if t.repliesJSON && !AcceptsJSON(r.Header.Values("Accept")) {
		return translate.Refuse(translate.ReasonNotAcceptable,
			"this route replies with application/json, which the Accept header %q excludes", truncate(strings.Join(r.Header.Values("Accept"), ", ")))
	}
	if _, _, err := ClientTimeout(r.Header); err != nil {
		return err
	}
	if t.fwd != nil {
		if _, err := t.metadata(r); err != nil {
			return err
		}
	}
	return nil
}

// Idempotent reports whether a call of the route with this HTTP method may
// be sent twice (for tools that explain a route).
func (t *Target) Idempotent(method string) bool { return t.idempotent(method) }

// idempotent: the route says so, the HTTP method is one whose repetition
// has no further effect (RFC 9110 §9.2.2), or the transcoder knows the
// call is (a gRPC method's idempotency_level).
func (t *Target) idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return t.opts.Idempotent || t.idempotentCalls
}

// alias reports whether a metadata key a client sent under the forwarding
// prefix stands for a header the gateway or a proxy acts on, in any of the
// spellings a backend or proxy might fold together: '_' or '.' for '-', a
// "-bin" suffix, and the whole X-Forwarded-* and X-Envoy-* families.
func (t *Target) alias(key string) bool {
	k := strings.TrimSuffix(dashFolder.Replace(key), "-bin")
	return t.aliases[k] || t.aliases[key] || strings.HasPrefix(k, "x-forwarded-") || strings.HasPrefix(k, "x-envoy-") ||
		k == "forwarded" || k == "x-real-ip" || k == "x-client-ip" || k == "true-client-ip"
}

// isReserved: key names a header the policy stage sets, in any spelling
// a backend might fold to it ('_' or '.' for '-', a "-bin" suffix).
func isReserved(reserved []string, key string) bool {
	if len(reserved) == 0 {
		return false
	}
	k := strings.TrimSuffix(dashFolder.Replace(key), "-bin")
	for _, r := range reserved {
		if r == k || r == key {
			return true
		}
	}
	return false
}

// checkShape refuses a JSON body that would expand past the route's
// limits once decoded.
func (t *Target) checkShape(r *http.Request, body []byte) error {
	sh := translate.ShapeOf(body, t.opts.MaxJSONValues, t.opts.MaxJSONContainers)
	switch {
	case sh.Containers > t.opts.MaxJSONContainers:
		return translate.Refuse(translate.ReasonBodyTooLarge,
			"request body has more than %d objects and arrays (limits.max_json_containers)", t.opts.MaxJSONContainers)
	case sh.Values > t.opts.MaxJSONValues:
		return translate.Refuse(translate.ReasonBodyTooLarge,
			"request body has more than %d JSON values (limits.max_json_values)", t.opts.MaxJSONValues)
	}
	// What the body decodes into counts against the gateway-wide budget
	// too, until the request ends: a google.protobuf.Struct costs some
	// hundreds of bytes per value, far more than its text.
	return policy.TabFrom(r.Context()).Take(int64(sh.Values) * DecodedBytesPerValue)
}

// DecodedBytesPerValue is what one JSON value is charged to the body
// budget once decoded: about what a google.protobuf.Value costs in a
// dynamic message (measured at about 650), the dearest common case.
const DecodedBytesPerValue = 640

// checkParams refuses path values that no backend should be handed: NUL,
// CR and LF anywhere, and unless raw, "." and ".." segments, which a
// backend that builds a path or a key from the value would resolve.
func checkParams(params routes.Params, raw bool) error {
	var vs translate.Violations
	for _, p := range params {
		if strings.ContainsAny(p.Value, "\x00\r\n") {
			vs.Add(p.FieldPath, "path variable "+strconv.Quote(p.FieldPath)+" holds NUL, CR or LF")
			continue
		}
		if !raw && hasDotSegment(p.Value) {
			vs.Add(p.FieldPath, "path variable "+strconv.Quote(p.FieldPath)+` has a "." or ".." segment`)
		}
	}
	if vs.Len() > 0 {
		return vs.Err()
	}
	return nil
}

// hasDotSegment reports a "." or ".." segment in v, also as a backend
// that decodes once more, treats '\\' as a separator or folds fullwidth
// forms would see it: "%2e", "%2f" and "%5c" in any case, '\\', and U+FF0E,
// U+FF0F, U+2215.
func hasDotSegment(v string) bool {
	if !strings.ContainsAny(v, ".%\uff0e") {
		return false // the common case, without the replacer's copy
	}
	v = dotFolder.Replace(v)
	for v != "" {
		var seg string
		i := strings.IndexAny(v, "/\\")
		if i < 0 {
			seg, v = v, ""
		} else {
			seg, v = v[:i], v[i+1:]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// dashFolder folds the spellings of a metadata key a backend or proxy may
// read as the same header: '_' and '.' for '-'. Built once: it runs for
// every prefixed header of every request.
var dashFolder = strings.NewReplacer("_", "-", ".", "-")

var dotFolder = strings.NewReplacer(
	"%2e", ".", "%2E", ".", "%2f", "/", "%2F", "/", "%5c", "\\", "%5C", "\\",
	"\uff0e", ".", "\uff0f", "/", "\u2215", "/", "\uff3c", "\\")

func unprintable(name string) error {
	return translate.BadRequest("header "+name+" has characters gRPC metadata cannot carry",
		translate.Violation(name, "must be printable ASCII"))
}

// Unguarded binds a transcoder to a backend under no resilience policy
// (no deadline, retry, breaker or limit of its own), for tests and tools
// that drive one protocol directly.
func Unguarded(backendName string, b translate.Backend, tc translate.Transcoder, res translate.Resolver) *Target {
	return New(backendName, resilience.Wrap(backendName, b, resilience.Policy{}, nil), tc, res, Options{})
}

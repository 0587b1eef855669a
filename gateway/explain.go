package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
)

// Explanation is what the gateway would do with one request, worked out
// without calling the backend: the route it matches and those it nearly
// matched, what the request binds, the backend message, the policy chain
// and the backend it would go to.
type Explanation struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	// Route is the match; nil when none matched (Error says why).
	Route      *ExplainedRoute `json:"route,omitempty"`
	NearMisses []NearMiss      `json:"near_misses,omitempty"`
	Bindings   []Binding       `json:"bindings,omitempty"`
	// Call is the backend call the transcoder built.
	Call *ExplainedCall `json:"call,omitempty"`
	// MessageJSON and MessageText are the backend message, decoded back
	// from what the transcoder encoded.
	MessageJSON json.RawMessage `json:"message_json,omitempty"`
	MessageText string          `json:"message_text,omitempty"`
	Policy      *policy.Summary `json:"policy,omitempty"`
	Backend     *BackendStatus  `json:"backend,omitempty"`
	// Error is what the client would get before any backend call: no
	// route, a binding the transcoder refuses.
	Error *ExplainedError `json:"error,omitempty"`
	// Answer says when the gateway answers the request itself (OPTIONS,
	// a CORS preflight), with no backend call.
	Answer string `json:"answer,omitempty"`
}

// ExplainedRoute is the matched route.
type ExplainedRoute struct {
	Method  string `json:"method"`
	Pattern string `json:"pattern"`
	Source  string `json:"source"`
	Origin  string `json:"origin"`
	Target  string `json:"target"`
}

// NearMiss is a route that could have taken the request, and why it did not.
type NearMiss struct {
	Method  string `json:"method"`
	Pattern string `json:"pattern"`
	Source  string `json:"source"`
	Why     string `json:"why"`
}

// Binding is one value the request gives the backend message.
type Binding struct {
	From  string `json:"from"` // path, query, body
	Field string `json:"field"`
	Value string `json:"value"`
}

// ExplainedCall is the call as the backend would receive it.
type ExplainedCall struct {
	Method     string              `json:"method"`
	Delivery   string              `json:"delivery"`
	Idempotent bool                `json:"idempotent"`
	Metadata   map[string][]string `json:"metadata,omitempty"`
	BodyBytes  int                 `json:"body_bytes"`
}

// ExplainedError is an error answer: status and body.
type ExplainedError struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// maxNearMisses bounds the near misses listed, closest first.
const maxNearMisses = 5

// Explain works out what the gateway would do with a request, without
// calling its backend. rawURL is a path with an optional query, or an
// absolute URL whose path and query are used.
func (g *Gateway) Explain(method, rawURL string, header http.Header, body []byte) (*Explanation, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", rawURL, err)
	}
	if method == "" {
		method = http.MethodGet
	}
	method = strings.ToUpper(method)
	if strings.ContainsAny(method, " \t\r\n/:") || len(method) > 32 {
		return nil, fmt.Errorf("method %q is not an HTTP method", method)
	}
	if header == nil {
		header = http.Header{}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	ex := &Explanation{Method: method, Path: path, Query: u.RawQuery}
	st := g.State()
	if method == http.MethodOptions {
		return g.explainOptions(ex, st, header), nil
	}
	route, params, merr := st.Table.Match(method, path)
	if merr != nil && method == http.MethodHead {
		route, params, merr = st.Table.Match(http.MethodGet, path)
	}
	ex.NearMisses = nearMisses(st.Table, route, method, path)
	if merr != nil {
		var mna *routes.MethodNotAllowedError
		switch {
		case errors.As(merr, &mna):
			ex.Error = explainedError(translate.Refuse(translate.ReasonMethodNotAllowed,
				"method %s is not allowed on %s (allowed: %s)", method, path, strings.Join(allowedMethods(mna.Allowed), ", ")))
		default:
			ex.Error = explainedError(translate.Errorf(codes.NotFound, "no route for %s %s", method, path))
		}
		return ex, nil
	}
	ex.Route = &ExplainedRoute{Method: route.Method, Pattern: route.Pattern, Source: route.Source, Origin: route.Origin, Target: route.Target.Describe()}
	sum := g.PolicySummary(route)
	ex.Policy = &sum
	for _, b := range g.Backends() {
		if b.Name == route.Target.Backend() {
			ex.Backend = &b
		}
	}
	for _, p := range params {
		ex.Bindings = append(ex.Bindings, Binding{From: "path", Field: p.FieldPath, Value: p.Value})
	}
	q, qerr := url.ParseQuery(u.RawQuery)
	if qerr != nil {
		ex.Error = explainedError(translate.BadRequest("the query string does not parse: " + qerr.Error()))
		return ex, nil
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			ex.Bindings = append(ex.Bindings, Binding{From: "query", Field: k, Value: v})
		}
	}
	tg, ok := route.Target.(*pipeline.Target)
	if !ok {
		return ex, nil
	}
	if needs := credentialsNeeded(sum, header); needs != "" {
		ex.Answer = needs
	}
	hr := &http.Request{Method: method, URL: u, Header: header, Host: u.Host}
	if err := tg.CheckRequest(hr); err != nil {
		ex.Error = explainedError(err)
		return ex, nil
	}
	tc := tg.Transcoder()
	req := &translate.Request{Params: params, Query: q, Header: header, ContentType: header.Get("Content-Type")}
	if tc.Body() != translate.BodyNone && len(body) > 0 {
		req.Body = body
		ex.Bindings = append(ex.Bindings, Binding{From: "body", Field: "(the route's body field)", Value: fmt.Sprintf("%d bytes", len(body))})
	}
	call := &translate.Call{}
	if err := tc.Encode(req, call); err != nil {
		ex.Error = explainedError(err)
		return ex, nil
	}
	ex.Call = &ExplainedCall{Method: call.Method, Delivery: deliveryName(call.Delivery), BodyBytes: len(call.Body),
		Idempotent: tg.Idempotent(method), Metadata: call.Metadata}
	if e, ok := tc.(translate.Explainer); ok {
		js, text, err := e.ExplainCall(call)
		if err != nil {
			ex.MessageText = "cannot decode the encoded message: " + err.Error()
		} else {
			ex.MessageJSON, ex.MessageText = translate.StableJSON(js), translate.StableText(text)
		}
	}
	return ex, nil
}

func deliveryName(d translate.Delivery) string {
	switch d {
	case translate.DeliveryReply:
		return "reply"
	case translate.DeliveryOneway:
		return "oneway"
	}
	return fmt.Sprintf("delivery %d", d)
}

func explainedError(err error) *ExplainedError {
	e := translate.FromError(err)
	return &ExplainedError{Status: e.Status(), Body: translate.MarshalStatus(e, e.Details, nil)}
}

// nearMisses are the routes, other than the match, that take the path
// with another method, also match it but lose on precedence, or differ
// from it in one segment or the verb; closest first.
func nearMisses(t *routes.Table, matched *routes.Route, method, path string) []NearMiss {
	type scored struct {
		NearMiss
		score int
	}
	var out []scored
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, r := range t.Routes() {
		if r == matched {
			continue
		}
		one, err := routes.NewTable([]*routes.Route{r})
		if err != nil {
			continue
		}
		nm := NearMiss{Method: r.Method, Pattern: r.Pattern, Source: r.Source}
		_, _, merr := one.Match(method, path)
		var mna *routes.MethodNotAllowedError
		switch {
		case merr == nil:
			nm.Why = "it matches too, but the matched route takes precedence (more literal segments, then fewer wildcards)"
			out = append(out, scored{nm, 0})
		case errors.As(merr, &mna):
			nm.Why = fmt.Sprintf("the path matches, but the route takes %s, not %s", r.Method, method)
			out = append(out, scored{nm, 1})
		default:
			if why, ok := oneSegmentOff(r.Template, segs); ok && (r.Method == method || method == http.MethodHead && r.Method == http.MethodGet) {
				nm.Why = why
				out = append(out, scored{nm, 2})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score < out[j].score })
	var res []NearMiss
	for i, s := range out {
		if i == maxNearMisses {
			break
		}
		res = append(res, s.NearMiss)
	}
	return res
}

// oneSegmentOff says how a template with as many segments as the path
// differs from it in one literal segment or its verb.
func oneSegmentOff(tmpl *routes.Template, segs []string) (string, bool) {
	if tmpl == nil || len(tmpl.Segments) != len(segs) {
		return "", false
	}
	last := segs[len(segs)-1]
	verb := ""
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		last, verb = last[:i], last[i+1:]
	}
	why := ""
	diffs := 0
	for i, s := range tmpl.Segments {
		seg := segs[i]
		if i == len(segs)-1 {
			seg = last
		}
		if s.Kind == routes.LiteralSegment {
			if dec, err := url.PathUnescape(seg); err == nil && dec != s.Literal {
				diffs++
				why = fmt.Sprintf("segment %d is %q; the route wants %q", i+1, dec, s.Literal)
			}
		}
	}
	if verb != tmpl.Verb {
		diffs++
		why = fmt.Sprintf("the custom verb is %q; the route wants %q", verb, tmpl.Verb)
	}
	return why, diffs == 1
}

// explainOptions: the gateway answers OPTIONS itself, a CORS preflight
// from the policy of the route the requested method reaches.
func (g *Gateway) explainOptions(ex *Explanation, st *State, header http.Header) *Explanation {
	methods := st.Table.Methods(ex.Path)
	if len(methods) == 0 {
		ex.Error = explainedError(translate.Errorf(codes.NotFound, "no route for OPTIONS %s", ex.Path))
		return ex
	}
	allow := strings.Join(allowedMethods(methods), ", ")
	want := header.Get("Access-Control-Request-Method")
	if header.Get("Origin") == "" || want == "" {
		ex.Answer = "204 No Content, Allow: " + allow + " (answered by the gateway)"
		return ex
	}
	route, _, err := st.Table.Match(strings.ToUpper(want), ex.Path)
	if err != nil {
		ex.Answer = "a CORS preflight for " + want + ", which no route of the path takes: 204 with Allow: " + allow + " and no CORS headers, which a browser takes as a refusal"
		return ex
	}
	ex.Route = &ExplainedRoute{Method: route.Method, Pattern: route.Pattern, Source: route.Source, Origin: route.Origin, Target: route.Target.Describe()}
	sum := g.PolicySummary(route)
	ex.Policy = &sum
	if !sum.CORS {
		ex.Answer = "a CORS preflight on a route whose policies have no cors: 204 with Allow: " + allow + " and no CORS headers (a browser refuses)"
		return ex
	}
	ex.Answer = "a CORS preflight, answered by the gateway from the route's cors policy (methods: " + allow + "); no backend call"
	return ex
}

// credentialsNeeded says what the policy stage would answer a request
// that brings none of the credentials its route's policies take; explain
// does not verify credentials that are there.
func credentialsNeeded(sum policy.Summary, h http.Header) string {
	if len(sum.JWTIssuers) == 0 && sum.APIKeyHeader == "" {
		return ""
	}
	if len(sum.JWTIssuers) > 0 && h.Get("Authorization") != "" || sum.APIKeyHeader != "" && h.Get(sum.APIKeyHeader) != "" {
		return "the route's policies authenticate; explain does not verify the credentials the request carries"
	}
	if sum.ExtAuthz != "" {
		return "the route's policies ask " + sum.ExtAuthz + " whether to let the request through"
	}
	return "401 Unauthorized: the route's policies authenticate, and the request carries no credentials"
}

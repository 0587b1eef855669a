package openapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/policy"
)

// schemes are the security schemes of a document: one per set of JWT
// issuers and one per API key header its routes' policies accept.
type schemes struct {
	jwt    map[string]string // issuers, joined -> scheme name
	apiKey map[string]string // header -> scheme name
	defs   map[string]*SecurityScheme
}

func newSchemes(sums []policy.Summary) *schemes {
	s := &schemes{jwt: map[string]string{}, apiKey: map[string]string{}, defs: map[string]*SecurityScheme{}}
	issuers := map[string][]string{}
	for _, sum := range sums {
		if len(sum.JWTIssuers) > 0 {
			issuers[issuerKey(sum.JWTIssuers)] = sum.JWTIssuers
		}
		if sum.APIKeyHeader != "" {
			s.apiKey[sum.APIKeyHeader] = ""
		}
	}
	// Plain names when there is one of a kind, as there mostly is;
	// numbered ones, in a stable order, when policies differ.
	for i, k := range slices.Sorted(maps.Keys(issuers)) {
		name := "bearer"
		if len(issuers) > 1 {
			name = fmt.Sprintf("bearer-%d", i+1)
		}
		s.jwt[k] = name
		list := slices.Clone(issuers[k])
		slices.Sort(list)
		s.defs[name] = &SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "A JWT issued by " + orList(list) + "."}
	}
	for _, h := range slices.Sorted(maps.Keys(s.apiKey)) {
		name := "apiKey"
		if len(s.apiKey) > 1 {
			name = "apiKey-" + strings.Trim(nonWord.ReplaceAllString(h, "-"), "-")
		}
		s.apiKey[h] = name
		s.defs[name] = &SecurityScheme{Type: "apiKey", In: "header", Name: h,
			Description: "An API key in the " + h + " header."}
	}
	return s
}

func issuerKey(issuers []string) string {
	list := slices.Clone(issuers)
	slices.Sort(list)
	return strings.Join(slices.Compact(list), "\n")
}

// requirements are the alternatives that let a request through a route's
// policies: a JWT or an API key, each with the scopes the route needs.
// nil when the route authenticates no one.
func (s *schemes) requirements(sum policy.Summary) []SecurityRequirement {
	scopes := slices.Clone(sum.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	var out []SecurityRequirement
	if len(sum.JWTIssuers) > 0 {
		out = append(out, SecurityRequirement{s.jwt[issuerKey(sum.JWTIssuers)]: scopes})
	}
	if sum.APIKeyHeader != "" {
		out = append(out, SecurityRequirement{s.apiKey[sum.APIKeyHeader]: scopes})
	}
	return out
}

func (s *schemes) components() map[string]*SecurityScheme {
	if len(s.defs) == 0 {
		return nil
	}
	return s.defs
}

// accessNote says in words what the security requirements cannot: scopes
// and claims, an external authorizer, rate limits.
func accessNote(sum policy.Summary) string {
	var parts []string
	var creds []string
	if len(sum.JWTIssuers) > 0 {
		creds = append(creds, "a JWT (Authorization: Bearer)")
	}
	if sum.APIKeyHeader != "" {
		creds = append(creds, "an API key ("+sum.APIKeyHeader+")")
	}
	if len(creds) > 0 {
		parts = append(parts, "Needs "+strings.Join(creds, " or "))
	}
	if len(sum.Scopes) > 0 {
		parts = append(parts, "the scopes "+strings.Join(sum.Scopes, ", "))
	}
	if len(sum.Claims) > 0 {
		var cs []string
		for _, k := range slices.Sorted(maps.Keys(sum.Claims)) {
			cs = append(cs, k+"="+sum.Claims[k])
		}
		parts = append(parts, "the claims "+strings.Join(cs, ", "))
	}
	note := ""
	if len(parts) > 0 {
		note = strings.Join(parts, ", with ") + "."
		if len(creds) == 0 {
			note = "Needs " + note
		}
	}
	if sum.ExtAuthz != "" {
		note = joinSentences(note, "An external service authorizes each request.")
	}
	if len(sum.RateLimited) > 0 {
		note = joinSentences(note, "Rate limited: past the limit, 429 with Retry-After.")
	}
	return note
}

func joinSentences(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func orList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// statusSchema is the one error body (translate.MarshalStatus).
func statusSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type: jsonschema.Types{"object"},
		Description: "The error body of every failure, the JSON of a google.rpc.Status. Its HTTP status follows the code " +
			"(google/rpc/code.proto) unless the application declared one (a Thrift exception, a NATS service error).",
		Properties: jsonschema.Properties{
			{Name: "code", Schema: &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Format: "int32",
				Minimum: jsonschema.Float(0), Maximum: jsonschema.Float(16),
				Description: "The gRPC status code: 3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED, " +
					"14 UNAVAILABLE, 16 UNAUTHENTICATED, ..."}},
			{Name: "message", Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"},
				Description: "What went wrong, for people."}},
			{Name: "details", Schema: &jsonschema.Schema{Type: jsonschema.Types{"array"},
				Description: "Typed details: google.rpc.BadRequest naming each bad field, google.rpc.ErrorInfo, " +
					"a Thrift exception's fields; the last is a google.rpc.RequestInfo with the request id.",
				Items: &jsonschema.Schema{
					Type:       jsonschema.Types{"object"},
					Properties: jsonschema.Properties{{Name: "@type", Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}}}},
					Required:   []string{"@type"},
				}}},
		},
		Required: []string{"code", "message", "details"},
	}
}

// sharedResponses are the errors operations refer to.
func sharedResponses(status *jsonschema.Schema) map[string]*Response {
	r := func(description string, headers ...string) *Response {
		resp := &Response{Description: description, Content: map[string]*MediaType{"application/json": {Schema: status}}}
		for _, h := range headers {
			if resp.Headers == nil {
				resp.Headers = map[string]*Header{}
			}
			resp.Headers[h] = headerRef(h)
		}
		return resp
	}
	return map[string]*Response{
		"BadRequest":       r("The request is not valid: the details name each bad field (INVALID_ARGUMENT)."),
		"Unauthenticated":  r("No valid credentials (UNAUTHENTICATED).", "WWW-Authenticate"),
		"PermissionDenied": r("The credentials or the client are not allowed this (PERMISSION_DENIED)."),
		"NotFound":         r("The backend has no such resource (NOT_FOUND)."),
		"TooManyRequests":  r("Over the route's rate limit (RESOURCE_EXHAUSTED).", "Retry-After", "RateLimit", "RateLimit-Policy"),
		"Unavailable":      r("The backend cannot be reached, its circuit breaker is open, or the gateway is shedding load (UNAVAILABLE).", "Retry-After"),
		"GatewayTimeout":   r("The backend did not answer within the deadline (DEADLINE_EXCEEDED)."),
		"Error":            r("Any other failure, such as a reply the gateway cannot read (502)."),
	}
}

func headerRef(name string) *Header { return &Header{Ref: "#/components/headers/" + name} }

func sharedHeaders() map[string]*Header {
	str := func() *jsonschema.Schema { return &jsonschema.Schema{Type: jsonschema.Types{"string"}} }
	return map[string]*Header{
		"Retry-After": {Description: "Seconds to wait before trying again.",
			Schema: &jsonschema.Schema{Type: jsonschema.Types{"integer"}, Minimum: jsonschema.Float(0)}},
		"RateLimit":        {Description: `What is left of the limit: "NAME";r=REMAINING;t=RESET_SECONDS (IETF RateLimit headers).`, Schema: str()},
		"RateLimit-Policy": {Description: `The limit: "NAME";q=BURST;w=WINDOW_SECONDS.`, Schema: str()},
		"WWW-Authenticate": {Description: "The authentication scheme the route expects.", Schema: str()},
	}
}

package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
)

// Version is the OpenAPI version documents are written in.
const Version = "3.1.0"

// Document is an OpenAPI 3.1 document: the subset of the specification a
// gateway's routes need. Maps marshal with sorted keys and slices in the
// order Build sorts them, so the same routes give the same bytes.
type Document struct {
	OpenAPI    string               `json:"openapi"`
	Info       Info                 `json:"info"`
	Servers    []Server             `json:"servers,omitempty"`
	Tags       []Tag                `json:"tags,omitempty"`
	Paths      map[string]*PathItem `json:"paths"`
	Components Components           `json:"components"`
}

// Info is the document's title and version.
type Info struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version"`
}

// Server is a base URL the paths are relative to.
type Server struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// Tag groups operations; the gateway's are services.
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// PathItem holds the operations of one path.
type PathItem struct {
	Get     *Operation `json:"get,omitempty"`
	Put     *Operation `json:"put,omitempty"`
	Post    *Operation `json:"post,omitempty"`
	Delete  *Operation `json:"delete,omitempty"`
	Options *Operation `json:"options,omitempty"`
	Head    *Operation `json:"head,omitempty"`
	Patch   *Operation `json:"patch,omitempty"`
	Trace   *Operation `json:"trace,omitempty"`
}

// operation is the slot of an HTTP method's operation; nil for a method
// OpenAPI 3.1 has no slot for.
func (p *PathItem) operation(method string) **Operation {
	switch method {
	case "GET":
		return &p.Get
	case "PUT":
		return &p.Put
	case "POST":
		return &p.Post
	case "DELETE":
		return &p.Delete
	case "OPTIONS":
		return &p.Options
	case "HEAD":
		return &p.Head
	case "PATCH":
		return &p.Patch
	case "TRACE":
		return &p.Trace
	}
	return nil
}

// Operation returns the operation for method, or nil.
func (p *PathItem) Operation(method string) *Operation {
	if slot := p.operation(method); slot != nil {
		return *slot
	}
	return nil
}

// Operation is one route.
type Operation struct {
	Tags        []string             `json:"tags,omitempty"`
	Summary     string               `json:"summary,omitempty"`
	Description string               `json:"description,omitempty"`
	OperationID string               `json:"operationId"`
	Parameters  []*Parameter         `json:"parameters,omitempty"`
	RequestBody *RequestBody         `json:"requestBody,omitempty"`
	Responses   map[string]*Response `json:"responses"`
	Deprecated  bool                 `json:"deprecated,omitempty"`
	// Security lists alternatives, any one of which lets a request in;
	// nil for an open route (the document sets no default).
	Security []SecurityRequirement `json:"security,omitempty"`
}

// Parameter is a path, query or header parameter.
type Parameter struct {
	Name        string                `json:"name"`
	In          string                `json:"in"`
	Description string                `json:"description,omitempty"`
	Required    bool                  `json:"required,omitempty"`
	Deprecated  bool                  `json:"deprecated,omitempty"`
	Style       string                `json:"style,omitempty"`
	Explode     *bool                 `json:"explode,omitempty"`
	Schema      *jsonschema.Schema    `json:"schema,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

// RequestBody is what a route reads from the body.
type RequestBody struct {
	Description string                `json:"description,omitempty"`
	Content     map[string]*MediaType `json:"content"`
	Required    bool                  `json:"required,omitempty"`
}

// MediaType is a body in one media type; a nil schema is any content.
type MediaType struct {
	Schema *jsonschema.Schema `json:"schema,omitempty"`
}

// Response is an answer, or a reference to a shared one.
type Response struct {
	Ref         string                `json:"$ref,omitempty"`
	Description string                `json:"description,omitempty"`
	Headers     map[string]*Header    `json:"headers,omitempty"`
	Content     map[string]*MediaType `json:"content,omitempty"`
}

// Header is a response header, or a reference to a shared one.
type Header struct {
	Ref         string             `json:"$ref,omitempty"`
	Description string             `json:"description,omitempty"`
	Schema      *jsonschema.Schema `json:"schema,omitempty"`
}

// Components are what operations refer to.
type Components struct {
	Schemas         map[string]*jsonschema.Schema `json:"schemas,omitempty"`
	Responses       map[string]*Response          `json:"responses,omitempty"`
	Headers         map[string]*Header            `json:"headers,omitempty"`
	SecuritySchemes map[string]*SecurityScheme    `json:"securitySchemes,omitempty"`
}

// SecurityScheme is how a route authenticates callers.
type SecurityScheme struct {
	Type         string `json:"type"`
	Description  string `json:"description,omitempty"`
	Name         string `json:"name,omitempty"`
	In           string `json:"in,omitempty"`
	Scheme       string `json:"scheme,omitempty"`
	BearerFormat string `json:"bearerFormat,omitempty"`
}

// SecurityRequirement names schemes that must all pass, each with the
// scopes the route needs (OpenAPI 3.1 allows them beside any scheme).
type SecurityRequirement map[string][]string

// JSON is the document as indented JSON, ending in a newline.
func (d *Document) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // descriptions quote <, > and & as written
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return b.Bytes(), nil
}

// YAML is the document as YAML, keys in the JSON's order.
func (d *Document) YAML() ([]byte, error) {
	j, err := d.JSON()
	if err != nil {
		return nil, err
	}
	// JSON is YAML: decoding it into a node keeps the order of keys,
	// which a map would lose.
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, fmt.Errorf("openapi: yaml: %w", err)
	}
	plainStyle(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("openapi: yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("openapi: yaml: %w", err)
	}
	return b.Bytes(), nil
}

// plainStyle drops the JSON quoting and flow style the decoder recorded,
// so the encoder writes block YAML and quotes only what needs it (the
// tags stay, so "200" remains a string).
func plainStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plainStyle(c)
	}
}

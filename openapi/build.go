package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// Options shape the document beside the routes.
type Options struct {
	// Title is info.title; "Switchboard gateway" when empty.
	Title string
	// Version is info.version; by default the generation of the schemas,
	// which changes with every registration, removal and rollback.
	Version string
	// Description is info.description.
	Description string
	// Servers are the URLs clients call the gateway at. Without one, a
	// document fetched from the admin listener would point clients at it.
	Servers []string
}

// Summaries says what a route's policies ask of callers;
// gateway.(*Gateway).PolicySummary is one.
type Summaries func(*routes.Route) policy.Summary

// Build describes every route of st: one operation per route, its
// parameters, bodies and errors from its transcoder (translate.Documented),
// its security from summary (nil: no policies). Routes whose HTTP method
// OpenAPI 3.1 has no place for (a custom method) are left out. The result
// depends only on st, summary and opts.
func Build(st *gateway.State, summary Summaries, opts Options) *Document {
	b := &builder{
		defs:     jsonschema.NewDefinitions(),
		keyOf:    map[string]string{},
		opIDs:    map[string]bool{},
		sources:  map[string]int{},
		variants: map[*Operation][]variant{},
		tags:     map[string]string{},
	}
	doc := &Document{
		OpenAPI: Version,
		Info:    Info{Title: opts.Title, Version: opts.Version, Description: opts.Description},
		Paths:   map[string]*PathItem{},
	}
	if doc.Info.Title == "" {
		doc.Info.Title = "Switchboard gateway"
	}
	if doc.Info.Version == "" {
		doc.Info.Version = fmt.Sprintf("generation %d", st.Schemas.Generation())
	}
	if doc.Info.Description == "" {
		doc.Info.Description = "The routes of a Switchboard gateway, which transcodes REST/JSON to gRPC, Thrift and NATS backends. " +
			"Every error is a google.rpc.Status in JSON."
		if len(opts.Servers) == 0 {
			doc.Info.Description += " Requests go to the gateway's listener, not to the admin listener that serves this document."
		}
	}
	for _, s := range opts.Servers {
		doc.Servers = append(doc.Servers, Server{URL: s})
	}
	// The error body first, so that it keeps its name whatever the
	// schemas hold.
	b.status = b.defs.Define(statusID{}, "google.rpc.Status", statusSchema)

	rs := st.Table.Routes()
	sums := make([]policy.Summary, len(rs))
	for i, r := range rs {
		if summary != nil {
			sums[i] = summary(r)
		}
	}
	b.schemes = newSchemes(sums)
	b.choosePaths(rs)
	for _, r := range rs {
		b.sources[r.Source]++
	}
	for i, r := range rs {
		b.add(doc, r, sums[i])
	}

	responses := sharedResponses(b.status)
	doc.Components = Components{
		Schemas:         used(b.defs, doc.Paths, responses),
		Responses:       responses,
		Headers:         sharedHeaders(),
		SecuritySchemes: b.schemes.components(),
	}
	for _, name := range slices.Sorted(maps.Keys(b.tags)) {
		doc.Tags = append(doc.Tags, Tag{Name: name, Description: b.tags[name]})
	}
	return doc
}

type statusID struct{}

type builder struct {
	defs    *jsonschema.Definitions
	status  *jsonschema.Schema
	schemes *schemes
	// keyOf maps a path's shape to the path written for it, whose
	// parameter names all routes of that shape take on.
	keyOf map[string]string
	opIDs map[string]bool
	// sources count the routes of each source.
	sources map[string]int
	// variants are the routes an operation serves, more than one when
	// routes of one shape and method had to share it.
	variants map[*Operation][]variant
	tags     map[string]string
}

type variant struct {
	pattern, operationID, summary string
}

func (b *builder) add(doc *Document, r *routes.Route, sum policy.Summary) {
	if (&PathItem{}).operation(r.Method) == nil {
		return // a custom method: OpenAPI 3.1 has no slot for it
	}
	path, params := openAPIPath(r.Template)
	key := b.keyOf[shapeOf(path)]
	item := doc.Paths[key]
	if item == nil {
		item = &PathItem{}
		doc.Paths[key] = item
	}
	slot := item.operation(r.Method)
	// The names the shared path gives the parameters, by position.
	names := paramName.FindAllString(key, -1)
	for i := range params {
		params[i].name = strings.Trim(names[i], "{}")
	}

	od := b.describe(r)
	op := b.operation(r, od, params, sum)
	if od.Tag != "" {
		if b.tags[od.Tag] == "" {
			b.tags[od.Tag] = od.TagDescription
		}
	}
	b.variants[op] = []variant{{r.Pattern, op.OperationID, op.Summary}}
	if *slot == nil {
		*slot = op
		return
	}
	*slot = b.merge(*slot, op)
}

// choosePaths picks, for each shape of path, the parameter names its
// routes share: those most of them use (GET and DELETE /v1/{name} over
// PATCH /v1/{book.name}), then the shortest, then the first in order.
func (b *builder) choosePaths(rs []*routes.Route) {
	counts := map[string]map[string]int{}
	for _, r := range rs {
		path, _ := openAPIPath(r.Template)
		shape := shapeOf(path)
		if counts[shape] == nil {
			counts[shape] = map[string]int{}
		}
		counts[shape][path]++
	}
	for shape, paths := range counts {
		best := ""
		for _, p := range slices.Sorted(maps.Keys(paths)) {
			if best == "" || paths[p] > paths[best] || paths[p] == paths[best] && len(p) < len(best) {
				best = p
			}
		}
		b.keyOf[shape] = best
	}
}

// describe asks the route's transcoder for its operation; a transcoder
// that cannot say is documented as taking and returning anything.
func (b *builder) describe(r *routes.Route) translate.OperationDoc {
	var tc translate.Transcoder
	if t, ok := r.Target.(interface{ Transcoder() translate.Transcoder }); ok {
		tc = t.Transcoder()
	}
	if d, ok := tc.(translate.Documented); ok {
		return d.Operation(b.defs)
	}
	od := translate.OperationDoc{Status: http.StatusOK, Response: translate.BodyDoc{MediaType: translate.AnyMediaType}}
	if tc != nil {
		switch tc.Body() {
		case translate.BodyJSON:
			od.Request = &translate.BodyDoc{Schema: &jsonschema.Schema{}}
		case translate.BodyAny:
			od.Request = &translate.BodyDoc{MediaType: translate.AnyMediaType}
		}
	}
	return od
}

func (b *builder) operation(r *routes.Route, od translate.OperationDoc, params []pathParam, sum policy.Summary) *Operation {
	op := &Operation{Summary: od.Summary, Description: od.Description, Deprecated: od.Deprecated,
		OperationID: b.operationID(r), Responses: map[string]*Response{}}
	if op.Summary == "" {
		op.Summary, op.Description = splitSummary(od.Description)
	}
	if od.Tag != "" {
		op.Tags = []string{od.Tag}
	}
	switch {
	case od.ClientStreaming && od.ServerStreaming:
		op.Description = jsonschema.JoinParagraphs(op.Description, "The method streams both ways, over a WebSocket only "+
			"(Upgrade: websocket; 426 without): one JSON message a text frame each way; an empty frame ends the client's side. "+
			"The socket closes with 1000 when the stream ended well, else with 4000 plus the gRPC code after a last {\"error\": Status} frame.")
	case od.ClientStreaming:
		op.Description = jsonschema.JoinParagraphs(op.Description, "The method takes a stream of requests: an application/x-ndjson body, "+
			"one JSON message a line, read as it arrives (a bad line is a 400 naming it).")
	case od.ServerStreaming:
		op.Description = jsonschema.JoinParagraphs(op.Description, "The method answers with a stream, framed as Accept asks: "+
			"application/x-ndjson (the default; {\"result\": message} a line, a last {\"error\": Status} line if it fails), "+
			"text/event-stream (a data: event a message with an id:, a last event: error) or application/json (one array, written as messages arrive). "+
			"A WebSocket (Upgrade: websocket) carries it too, one message a text frame.")
	}

	for _, p := range params {
		op.Parameters = append(op.Parameters, pathParameter(p, od.PathParams))
	}
	for _, q := range od.Query {
		op.Parameters = append(op.Parameters, queryParameter(q))
	}
	for _, h := range od.Headers {
		op.Parameters = append(op.Parameters, &Parameter{Name: h.Name, In: "header", Description: h.Description,
			Required: h.Required, Deprecated: h.Deprecated, Schema: h.Schema})
	}

	// A body on GET or HEAD has no defined meaning (RFC 9110); one the
	// route merely tolerates is left out of the document.
	if rb := od.Request; rb != nil && (rb.Required || r.Method != http.MethodGet && r.Method != http.MethodHead) {
		op.RequestBody = &RequestBody{Description: rb.Description, Required: rb.Required, Content: content(*rb)}
		if od.ClientStreaming && !od.ServerStreaming {
			// Each line is one message of the schema.
			op.RequestBody.Content = map[string]*MediaType{"application/x-ndjson": {Schema: rb.Schema}}
		}
	}

	status := od.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := &Response{Description: od.Response.Description, Content: content(od.Response)}
	if od.ServerStreaming {
		ok.Content = b.streamContent(od.Response.Schema)
	}
	if ok.Description == "" {
		ok.Description = http.StatusText(status)
	}
	if len(sum.RateLimited) > 0 {
		ok.Headers = map[string]*Header{"RateLimit": headerRef("RateLimit"), "RateLimit-Policy": headerRef("RateLimit-Policy")}
	}
	op.Responses[strconv.Itoa(status)] = ok

	// The errors any route may answer, and those its policies add.
	refs := map[int]string{400: "BadRequest", 404: "NotFound", 503: "Unavailable", 504: "GatewayTimeout"}
	authenticates := len(sum.JWTIssuers) > 0 || sum.APIKeyHeader != "" || sum.ExtAuthz != ""
	if authenticates {
		refs[401] = "Unauthenticated"
	}
	if len(sum.Policies) > 0 {
		refs[403] = "PermissionDenied"
	}
	if len(sum.RateLimited) > 0 {
		refs[429] = "TooManyRequests"
	}
	for code, name := range refs {
		op.Responses[strconv.Itoa(code)] = &Response{Ref: "#/components/responses/" + name}
	}
	op.Responses["default"] = &Response{Ref: "#/components/responses/Error"}
	b.declaredErrors(op, od.Errors)

	op.Security = b.schemes.requirements(sum)
	if access := accessNote(sum); access != "" {
		op.Description = jsonschema.JoinParagraphs(op.Description, access)
	}
	return op
}

// declaredErrors replaces the shared answer of each status the schema
// declares errors for with one that names them and their details.
func (b *builder) declaredErrors(op *Operation, errs []translate.ErrorDoc) {
	byStatus := map[int][]translate.ErrorDoc{}
	for _, e := range errs {
		byStatus[e.Status] = append(byStatus[e.Status], e)
	}
	for _, status := range slices.Sorted(maps.Keys(byStatus)) {
		var descs []string
		var details []*jsonschema.Schema
		for _, e := range byStatus[status] {
			descs = append(descs, e.Description)
			if e.Detail != nil {
				details = append(details, e.Detail)
			}
		}
		s := b.status
		if len(details) > 0 {
			contains := details[0]
			if len(details) > 1 {
				contains = &jsonschema.Schema{AnyOf: details}
			}
			s = &jsonschema.Schema{AllOf: []*jsonschema.Schema{b.status, {Properties: jsonschema.Properties{
				{Name: "details", Schema: &jsonschema.Schema{Contains: contains}}}}}}
		}
		op.Responses[strconv.Itoa(status)] = &Response{Description: strings.Join(descs, "\n\n"),
			Content: map[string]*MediaType{"application/json": {Schema: s}}}
	}
}

func pathParameter(p pathParam, docs []translate.ParamDoc) *Parameter {
	param := &Parameter{Name: p.name, In: "path", Required: true}
	var pd *translate.ParamDoc
	for i := range docs {
		if p.field != "" && docs[i].Name == p.field {
			pd = &docs[i]
		}
	}
	var s jsonschema.Schema
	if pd != nil && pd.Schema != nil {
		s = *pd.Schema
		param.Description, param.Deprecated = pd.Description, pd.Deprecated
	} else {
		s = jsonschema.Schema{Type: jsonschema.Types{"string"}}
	}
	if p.field != "" && p.field != p.name {
		param.Description = jsonschema.JoinParagraphs("Sets "+p.field+".", param.Description)
	}
	if p.pattern != "" && s.Ref == "" && (len(s.Type) == 0 || slices.Contains(s.Type, "string")) {
		s.Pattern = p.pattern
	}
	switch {
	case p.field == "" && p.multi:
		param.Description = "The rest of the path, which the route does not read: its slashes are sent as they are, not as %2F."
	case p.field == "":
		param.Description = "Any one path segment, which the route does not read."
	case p.multi:
		param.Description = jsonschema.JoinParagraphs(param.Description, fmt.Sprintf(
			"Matches %s, so it spans path segments: send its slashes as they are, not as %%2F.", p.segments))
	case p.pattern != "":
		param.Description = jsonschema.JoinParagraphs(param.Description, "Matches "+p.segments+".")
	}
	param.Schema = &s
	return param
}

func queryParameter(q translate.ParamDoc) *Parameter {
	p := &Parameter{Name: q.Name, In: "query", Description: q.Description, Required: q.Required, Deprecated: q.Deprecated}
	switch {
	case q.JSONText:
		// The value is JSON text, which content (not schema) describes.
		p.Content = map[string]*MediaType{"application/json": {Schema: q.Schema}}
	case q.Map:
		// name[key]=value, one parameter per entry.
		explode := true
		p.Style, p.Explode, p.Schema = "deepObject", &explode, q.Schema
	default:
		p.Schema = q.Schema
	}
	return p
}

func content(bd translate.BodyDoc) map[string]*MediaType {
	mt := bd.MediaType
	if mt == "" {
		mt = "application/json"
	}
	return map[string]*MediaType{mt: {Schema: bd.Schema}}
}

// fileLine is a config route's source ("gateway.yaml:42"), which changes
// whenever the file does: not an id clients should generate code from.
var fileLine = regexp.MustCompile(`:[0-9]+$`)

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// operationID is the route's source, the method that declared it
// ("library.v1.LibraryService.GetBook"); a config route's is made of its
// method and path. The routes of a source with several (additional
// bindings) all add their HTTP method, so that none takes the plain name
// by the accident of sorting first; a number tells apart what is left.
func (b *builder) operationID(r *routes.Route) string {
	id := r.Source
	if id == "" || fileLine.MatchString(id) {
		id = strings.Trim(nonWord.ReplaceAllString(strings.ToLower(r.Method)+"_"+r.Pattern, "_"), "_")
	} else if b.sources[r.Source] > 1 {
		id += "_" + strings.ToLower(r.Method)
	}
	for i, base := 2, id; b.opIDs[id]; i++ {
		id = fmt.Sprintf("%s_%d", base, i)
	}
	b.opIDs[id] = true
	return id
}

// splitSummary takes the first paragraph of a comment as the summary, on
// one line, and leaves the rest as the description.
func splitSummary(comment string) (summary, description string) {
	first, rest, _ := strings.Cut(strings.TrimSpace(comment), "\n\n")
	return strings.Join(strings.Fields(first), " "), strings.TrimSpace(rest)
}

// merge makes one operation of two routes of one shape and method
// (GET /v1/{name=shelves/*} and GET /v1/{name=shelves/*/books/*} are both
// GET /v1/{name}): the request takes either route's parameters and body,
// and each answer either route's reply; the description says which
// pattern leads where.
func (b *builder) merge(a, c *Operation) *Operation {
	vs := append(b.variants[a], b.variants[c]...)
	delete(b.variants, c)
	b.variants[a] = vs
	var lines, summaries []string
	for _, v := range vs {
		line := fmt.Sprintf("- `%s`: %s", v.pattern, v.operationID)
		if v.summary != "" {
			line += ": " + v.summary
		}
		lines = append(lines, line)
		if v.summary != "" {
			summaries = append(summaries, v.summary)
		}
	}
	a.Summary = strings.Join(summaries, " / ")
	a.Description = fmt.Sprintf("Serves %d routes, told apart by the path:\n%s", len(vs), strings.Join(lines, "\n"))
	for _, t := range c.Tags {
		if !slices.Contains(a.Tags, t) {
			a.Tags = append(a.Tags, t)
		}
	}
	a.Deprecated = a.Deprecated && c.Deprecated

	for _, p := range c.Parameters {
		i := slices.IndexFunc(a.Parameters, func(q *Parameter) bool { return q.In == p.In && q.Name == p.Name })
		if i < 0 {
			q := *p
			q.Required = false // only one of the routes needs it
			a.Parameters = append(a.Parameters, &q)
			continue
		}
		q := *a.Parameters[i]
		if q.Schema != nil && p.Schema != nil && !sameJSON(q.Schema, p.Schema) {
			if q.Schema.Pattern != "" && p.Schema.Pattern != "" {
				s := *q.Schema
				s.Pattern = "^(?:" + unanchor(q.Schema.Pattern) + "|" + unanchor(p.Schema.Pattern) + ")$"
				q.Schema = &s
			} else {
				q.Schema = &jsonschema.Schema{AnyOf: []*jsonschema.Schema{q.Schema, p.Schema}}
			}
		}
		if p.Description != q.Description {
			q.Description = jsonschema.JoinParagraphs(q.Description, p.Description)
		}
		a.Parameters[i] = &q
	}

	switch {
	case a.RequestBody == nil && c.RequestBody != nil:
		rb := *c.RequestBody
		rb.Required = false
		a.RequestBody = &rb
	case a.RequestBody != nil && c.RequestBody == nil:
		rb := *a.RequestBody
		rb.Required = false
		a.RequestBody = &rb
	case a.RequestBody != nil:
		rb := *a.RequestBody
		rb.Content = mergeContent(a.RequestBody.Content, c.RequestBody.Content)
		rb.Required = a.RequestBody.Required && c.RequestBody.Required
		a.RequestBody = &rb
	}

	for code, r := range c.Responses {
		have, ok := a.Responses[code]
		switch {
		case !ok:
			a.Responses[code] = r
		case have.Ref != "" && have.Ref == r.Ref:
		case have.Ref != "" || r.Ref != "":
			if have.Ref != "" { // a declared error wins over the shared answer
				a.Responses[code] = r
			}
		default:
			m := *have
			m.Content = mergeContent(have.Content, r.Content)
			if r.Description != have.Description {
				m.Description = jsonschema.JoinParagraphs(have.Description, r.Description)
			}
			a.Responses[code] = &m
		}
	}
	a.Security = mergeSecurity(a.Security, c.Security)
	return a
}

func mergeContent(a, c map[string]*MediaType) map[string]*MediaType {
	out := maps.Clone(a)
	for mt, m := range c {
		have, ok := out[mt]
		switch {
		case !ok:
			out[mt] = m
		case have.Schema == nil || m.Schema == nil:
			out[mt] = &MediaType{}
		case !sameJSON(have.Schema, m.Schema):
			out[mt] = &MediaType{Schema: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{have.Schema, m.Schema}}}
		}
	}
	return out
}

// mergeSecurity: either route's credentials let a request in, and an
// open route makes the merged one open too (the empty requirement).
func mergeSecurity(a, c []SecurityRequirement) []SecurityRequirement {
	if len(a) == 0 && len(c) == 0 {
		return nil
	}
	out := slices.Clone(a)
	if len(a) == 0 || len(c) == 0 {
		out = append(out, c...)
		return append(out, SecurityRequirement{})
	}
	for _, r := range c {
		if !slices.ContainsFunc(out, func(s SecurityRequirement) bool { return sameJSON(s, r) }) {
			out = append(out, r)
		}
	}
	return out
}

func unanchor(p string) string { return strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$") }

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// used are the definitions the paths and responses refer to, directly or
// through other definitions. A message whose fields a route's body leaves
// out is defined to be copied, and need not be listed when nothing else
// refers to it.
func used(defs *jsonschema.Definitions, roots ...any) map[string]*jsonschema.Schema {
	out := map[string]*jsonschema.Schema{}
	var queue []string
	visit := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			return
		}
		for _, m := range schemaRef.FindAllSubmatch(b, -1) {
			name := string(m[1])
			if _, seen := out[name]; !seen && defs.Get(name) != nil {
				out[name] = defs.Get(name)
				queue = append(queue, name)
			}
		}
	}
	for _, r := range roots {
		visit(r)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		visit(out[name])
	}
	return out
}

// schemaRef finds references in marshalled JSON: definition names are
// made of name characters, so none holds a quote or an escape.
var schemaRef = regexp.MustCompile(`"\$ref":"` + regexp.QuoteMeta(jsonschema.RefPrefix) + `([^"\\]+)"`)

// streamContent is a server stream's response in each framing: msg is one
// message's schema.
func (b *builder) streamContent(msg *jsonschema.Schema) map[string]*MediaType {
	failed := &jsonschema.Schema{Type: jsonschema.Types{"object"}, Properties: jsonschema.Properties{{Name: "error", Schema: b.status}},
		Required: []string{"error"}}
	line := &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: jsonschema.Types{"object"}, Properties: jsonschema.Properties{{Name: "result", Schema: msg}}, Required: []string{"result"}},
		failed,
	}}
	return map[string]*MediaType{
		"application/x-ndjson": {Schema: line},
		"text/event-stream":    {Schema: &jsonschema.Schema{Type: jsonschema.Types{"string"}}},
		// The last element is an {"error": Status} when the stream fails.
		"application/json": {Schema: &jsonschema.Schema{Type: jsonschema.Types{"array"},
			Items: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{msg, failed}}}},
	}
}

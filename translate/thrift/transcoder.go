package thrift

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/translate"
)

// Binding says where a function's arguments come from in an HTTP request.
// Paths are argument paths: an argument's name, then field names into
// structs, dotted ("req.filter.page").
type Binding struct {
	// PathFields are the route template's variables, as argument paths.
	PathFields []string
	// Body is "" for no body, "*" for a JSON object keyed by argument
	// name, or an argument's name for a body that is that argument's value.
	Body string
	// Query maps query keys to argument paths (api.query annotations). A
	// key not listed is taken as an argument path itself ("a", "req.page").
	Query map[string]string
	// Headers maps argument paths to the request headers they come from
	// (api.header annotations).
	Headers map[string]string
	// ExceptionStatus maps exception names ("NotFound" or "shared.NotFound")
	// to HTTP statuses, overriding the IDL's annotations.
	ExceptionStatus map[string]int
	// MaxDepth bounds nesting in the request and the reply; 0 means 64.
	MaxDepth int
	// ServiceName, when set, prefixes the method name on the wire
	// ("Calculator:add"), for a multiplexed backend.
	ServiceName string
	// Protocol is the backend's protocol, "binary" (default) or "compact":
	// the Transcoder encodes the arguments once, in it.
	Protocol string
}

// DefaultExceptionStatus is the HTTP status of a declared exception with
// no status configured or annotated: the backend's application said no,
// for a reason the gateway cannot classify. Its code is UNKNOWN.
const DefaultExceptionStatus = http.StatusInternalServerError

// Transcoder is one route's Thrift half: a function of the IDL and where
// its arguments come from, resolved when the route table is built.
type Transcoder struct {
	backendName string
	m           *Method
	fn          *idl.Function
	method      string // the name on the wire
	describe    string
	body        bodyMode
	bodyArg     *tfield
	pathVars    []boundPath
	query       map[string]boundPath
	headers     []boundHeader
	excStatus   map[*tstruct]int
}

type bodyMode int

const (
	bodyNone bodyMode = iota
	bodyWhole
	bodyArg
)

type boundPath struct {
	path  string
	chain []*tfield
}

type boundHeader struct {
	boundPath
	header string
}

var _ translate.Transcoder = (*Transcoder)(nil)

// NewTranscoder binds fn for calls to the backend backendName, which
// speaks b.Protocol. Errors name the function and the path, key or name at
// fault.
func NewTranscoder(backendName string, fn *idl.Function, b Binding) (*Transcoder, error) {
	if fn == nil {
		return nil, errors.New("thrift target: no function")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("function %s: %s", fn.Name, fmt.Sprintf(format, args...))
	}
	codec, err := NewCodec(b.Protocol, b.MaxDepth)
	if err != nil {
		return nil, fail("%v", err)
	}
	m, err := codec.Method(fn)
	if err != nil {
		return nil, err
	}
	t := &Transcoder{
		backendName: backendName,
		m:           m,
		fn:          fn,
		method:      fn.Name,
		query:       map[string]boundPath{},
		excStatus:   map[*tstruct]int{},
	}
	if b.ServiceName != "" {
		t.method = b.ServiceName + ":" + fn.Name
	}
	svc := ""
	if fn.Service != nil {
		svc = fn.Service.Name
		if fn.Service.File != nil {
			svc = fn.Service.FullName()
		}
		svc += "/"
	}
	t.describe = "thrift " + svc + fn.Name
	if fn.Oneway {
		t.describe += " (oneway)"
	}

	switch b.Body {
	case "":
	case "*":
		t.body = bodyWhole
	default:
		f := m.args.byName[b.Body]
		if f == nil {
			return nil, fail("body %q names no argument (it has %s)", b.Body, argNames(m.args))
		}
		t.body, t.bodyArg = bodyArg, f
	}
	bound := map[string]string{} // chain key -> what binds it
	for _, p := range b.PathFields {
		chain, err := resolvePath(m.args, p)
		if err != nil {
			return nil, fail("path field %q: %v", p, err)
		}
		if !isScalar(chain[len(chain)-1].t) {
			return nil, fail("path field %q is %s; a path variable can only set a scalar", p, kindName(chain[len(chain)-1].t))
		}
		if t.body == bodyArg && len(chain) == 1 && chain[0] == t.bodyArg {
			return nil, fail("path field %q is also the body", p)
		}
		if prev, dup := bound[chainKey(chain)]; dup {
			return nil, fail("path field %q is bound twice (%s)", p, prev)
		}
		bound[chainKey(chain)] = "path variable " + strconv.Quote(p)
		t.pathVars = append(t.pathVars, boundPath{p, chain})
	}
	for _, k := range slices.Sorted(maps.Keys(b.Query)) {
		p := b.Query[k]
		if k == "" {
			return nil, fail("empty query key for %q", p)
		}
		chain, err := resolvePath(m.args, p)
		if err != nil {
			return nil, fail("query %q: %v", k, err)
		}
		if !isTextual(chain[len(chain)-1].t) {
			return nil, fail("query %q sets %q, which is %s; the query can only set scalars and lists of scalars", k, p, kindName(chain[len(chain)-1].t))
		}
		if prev, dup := bound[chainKey(chain)]; dup {
			return nil, fail("query %q sets %q, which is already bound to the %s", k, p, prev)
		}
		bound[chainKey(chain)] = "query parameter " + strconv.Quote(k)
		t.query[k] = boundPath{p, chain}
	}
	for _, p := range slices.Sorted(maps.Keys(b.Headers)) {
		h := b.Headers[p]
		if !translate.ValidHeaderName(h) {
			return nil, fail("header %q for %q is not a valid header name", h, p)
		}
		chain, err := resolvePath(m.args, p)
		if err != nil {
			return nil, fail("header %q: %v", h, err)
		}
		if !isTextual(chain[len(chain)-1].t) {
			return nil, fail("header %q sets %q, which is %s; a header can only set scalars and lists of scalars", h, p, kindName(chain[len(chain)-1].t))
		}
		if prev, dup := bound[chainKey(chain)]; dup {
			return nil, fail("header %q sets %q, which is already bound to the %s", h, p, prev)
		}
		bound[chainKey(chain)] = "header " + h
		t.headers = append(t.headers, boundHeader{boundPath{p, chain}, http.CanonicalHeaderKey(h)})
	}
	for _, f := range m.result.fields {
		if f == m.success {
			continue
		}
		st := f.t.st
		status, err := exceptionStatus(st, b.ExceptionStatus)
		if err != nil {
			return nil, fail("exception %s: %v", st.name, err)
		}
		t.excStatus[st] = status
	}
	return t, nil
}

// exceptionStatus is the HTTP status for an exception: the route's
// configuration, then the IDL annotation http.status (or api.http_code),
// then DefaultExceptionStatus.
func exceptionStatus(st *tstruct, configured map[string]int) (int, error) {
	short := st.name[strings.LastIndexByte(st.name, '.')+1:]
	for _, k := range []string{st.name, short} {
		if s, ok := configured[k]; ok {
			if s < 400 || s > 599 {
				return 0, fmt.Errorf("configured status %d: want 400 to 599", s)
			}
			return s, nil
		}
	}
	for _, key := range []string{"http.status", "api.http_code"} {
		if v, ok := st.ann.Get(key); ok {
			s, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || s < 400 || s > 599 {
				return 0, fmt.Errorf("annotation %s = %q: want a status from 400 to 599", key, v)
			}
			return s, nil
		}
	}
	return DefaultExceptionStatus, nil
}

func argNames(st *tstruct) string {
	if len(st.fields) == 0 {
		return "none"
	}
	names := make([]string, len(st.fields))
	for i, f := range st.fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func chainKey(chain []*tfield) string {
	var b strings.Builder
	for _, f := range chain {
		fmt.Fprintf(&b, "%p.", f)
	}
	return b.String()
}

// resolvePath follows an argument path through struct fields.
func resolvePath(args *tstruct, p string) ([]*tfield, error) {
	if p == "" {
		return nil, errors.New("empty path")
	}
	var chain []*tfield
	st := args
	for i, seg := range strings.Split(p, ".") {
		if st == nil {
			return nil, fmt.Errorf("%q is %s, which has no field %q", strings.Join(strings.Split(p, ".")[:i], "."), kindName(chain[len(chain)-1].t), seg)
		}
		f := st.byName[seg]
		if f == nil {
			if i == 0 {
				return nil, fmt.Errorf("no argument %q (the function has %s)", seg, argNames(st))
			}
			return nil, fmt.Errorf("%s has no field %q", kindNameOf(st), seg)
		}
		chain = append(chain, f)
		st = f.t.st
	}
	return chain, nil
}

func isScalar(t *ttype) bool {
	switch t.wire {
	case tStruct, tList, tSet, tMap:
		return false
	}
	return true
}

// isTextual: what a query parameter or header can set, repeated values
// making a list.
func isTextual(t *ttype) bool {
	return isScalar(t) || (t.wire == tList || t.wire == tSet) && isScalar(t.elem)
}

func (t *Transcoder) Describe() string { return t.describe }

func (t *Transcoder) Body() translate.BodyKind {
	if t.body == bodyNone {
		return translate.BodyNone
	}
	return translate.BodyJSON
}

// Forwarding is nil: Thrift's framed and buffered transports carry no
// metadata (headers reach arguments only through api.header bindings).
func (t *Transcoder) Forwarding() *translate.Forwarding { return nil }

// Encode builds the encoded args struct.
func (t *Transcoder) Encode(req *translate.Request, call *translate.Call) error {
	args, err := t.request(req)
	if err != nil {
		return err
	}
	call.Method, call.Body = t.method, args
	if t.fn.Oneway {
		call.Delivery = translate.DeliveryOneway
	}
	return nil
}

// Decode renders the result, or turns a declared exception into the
// application's error.
func (t *Transcoder) Decode(call *translate.Call, reply *translate.Reply) (*translate.Response, error) {
	if call.Delivery == translate.DeliveryOneway {
		// Handed to the transport; nothing comes back. The body is {} so
		// that a client that always parses JSON does not trip.
		return &translate.Response{Body: []byte("{}"), ContentType: "application/json"}, nil
	}
	out, err := t.reply(reply.Body)
	if err != nil {
		return nil, err
	}
	return &translate.Response{Body: out, ContentType: "application/json"}, nil
}

// request builds the encoded args struct. A body on a route without one
// is never read, as grpc-gateway ignores it.
func (t *Transcoder) request(req *translate.Request) ([]byte, error) {
	root := &node{}
	if t.body != bodyNone && len(req.Body) > 0 {
		v, terr := trimJSON(req.Body)
		if terr != nil {
			return nil, terr
		}
		if v != nil {
			if t.body == bodyWhole {
				root.raw = v
			} else {
				root.child(t.bodyArg).raw = v
			}
		}
	}
	var vs translate.Violations
	for _, pv := range t.pathVars {
		if v, ok := req.Params.Get(pv.path); ok {
			setLeaf(root, pv, []string{v}, "path variable "+strconv.Quote(pv.path), true, &vs)
		}
	}
	if q := req.Query; len(q) > 0 {
		for _, k := range slices.Sorted(maps.Keys(q)) {
			bp, ok := t.query[k]
			if !ok {
				chain, err := resolvePath(t.m.args, k)
				if err != nil {
					vs.Add(k, fmt.Sprintf("unknown query parameter %s: %v", strconv.Quote(k), err))
					continue
				}
				if !isTextual(chain[len(chain)-1].t) {
					vs.Add(k, fmt.Sprintf("query parameter %s names %s, which cannot be set from the query", strconv.Quote(k), kindName(chain[len(chain)-1].t)))
					continue
				}
				bp = boundPath{k, chain}
			}
			setLeaf(root, bp, q[k], "query parameter "+strconv.Quote(k), false, &vs)
		}
	}
	for _, h := range t.headers {
		if vals := req.Header.Values(h.header); len(vals) > 0 {
			setLeaf(root, h.boundPath, vals, "header "+h.header, false, &vs)
		}
	}
	if vs.Len() > 0 {
		return nil, vs.Err()
	}
	args, terr := t.m.encode(root, nil)
	if terr != nil {
		return nil, terr
	}
	return args, nil
}

// setLeaf records values for the field at the end of bp's chain. Two
// sources for one field (a path variable and a query parameter, two query
// spellings of one field) are an error rather than a silent choice.
func setLeaf(root *node, bp boundPath, texts []string, origin string, fromPath bool, vs *translate.Violations) {
	n := root
	for _, f := range bp.chain {
		n = n.child(f)
	}
	switch {
	case n.texts != nil:
		vs.Add(bp.path, fmt.Sprintf("field %s is set by both the %s and the %s", strconv.Quote(bp.path), n.origin, origin))
		return
	case n.raw != nil:
		vs.Add(bp.path, fmt.Sprintf("field %s is set by both the request body and the %s", strconv.Quote(bp.path), origin))
		return
	}
	n.texts, n.origin, n.fromPath = texts, origin, fromPath
}

// reply renders the result struct, or turns a declared exception into the
// error response.
func (t *Transcoder) reply(b []byte) ([]byte, error) {
	res, err := t.m.decodeResult(b)
	if errors.Is(err, ErrMissingResult) {
		return nil, &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "backend " + t.backendName + " returned no result for " + t.fn.Name, Cause: err}
	}
	if err != nil {
		return nil, &translate.Error{Code: codes.Internal, Reason: translate.ReasonBadGateway, FromServer: true,
			Message: "backend " + t.backendName + " sent a reply that does not match the IDL of " + t.fn.Name, Cause: err}
	}
	if ex := res.Exception; ex != nil {
		return nil, t.exception(ex)
	}
	if res.Success == nil {
		return []byte("{}"), nil // void
	}
	return res.Success, nil
}

// exception is the error for a declared exception: its message, its
// fields as a detail typed "thrift/<prefix>.<Name>", and its status.
func (t *Transcoder) exception(ex *ThrownException) *translate.Error {
	status, ok := t.excStatus[ex.st]
	if !ok {
		status = DefaultExceptionStatus
	}
	msg := ex.Message
	if msg == "" {
		msg = ex.Type[strings.LastIndexByte(ex.Type, '.')+1:]
	}
	typeJSON, _ := json.Marshal(ex.TypeURL)
	detail := make([]byte, 0, len(ex.JSON)+len(typeJSON)+10)
	detail = append(detail, `{"@type":`...)
	detail = append(detail, typeJSON...)
	if len(ex.JSON) > 2 {
		detail = append(detail, ',')
		detail = append(detail, ex.JSON[1:]...)
	} else {
		detail = append(detail, '}')
	}
	e := translate.Declared(status, msg)
	if status == DefaultExceptionStatus {
		// Declared, but with no status: the application said no for a
		// reason the gateway cannot classify.
		e.Code = codes.Unknown
	}
	e.FromServer = true
	e.JSONDetails = []json.RawMessage{detail}
	e.Cause = fmt.Errorf("%s threw %s", t.fn.Name, ex.Type)
	return e
}

// RepliesJSON: a Thrift result is always rendered as JSON.
func (t *Transcoder) RepliesJSON() bool { return true }

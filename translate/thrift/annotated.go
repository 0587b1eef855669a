package thrift

import (
	"fmt"
	"strings"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
)

// AnnotatedRoute is a route an IDL declares for itself.
type AnnotatedRoute struct {
	// Method is the HTTP method; Path a google.api.http template whose
	// variables are argument paths ("/v1/users/{req.id}").
	Method, Path string
	Function     *idl.Function
	Binding      Binding
}

// The function annotations of the CloudWeGo/Hertz dialect, in the order
// routes are listed.
var routeAnnotations = []struct{ key, method string }{
	{"api.get", "GET"},
	{"api.post", "POST"},
	{"api.put", "PUT"},
	{"api.patch", "PATCH"},
	{"api.delete", "DELETE"},
	{"api.head", "HEAD"},
	{"api.options", "OPTIONS"},
}

// Hertz binding annotations the gateway cannot honour: refusing them is
// better than a route that silently ignores part of its contract.
var unsupportedAnnotations = []string{"api.any", "api.form", "api.cookie", "api.raw_body", "api.file_name"}

// AnnotatedRoutes lists the routes svc declares with Hertz annotations (see
// the package documentation), for its own and inherited functions.
// Functions without route annotations get POST /<Service>/<function>, body
// "*".
func AnnotatedRoutes(svc *idl.Service) ([]AnnotatedRoute, error) {
	if svc == nil {
		return nil, fmt.Errorf("no service")
	}
	var out []AnnotatedRoute
	for _, fn := range svc.AllFunctions() {
		rs, err := functionRoutes(svc, fn)
		if err != nil {
			return nil, fmt.Errorf("service %s, function %s: %w", svc.Name, fn.Name, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

func functionRoutes(svc *idl.Service, fn *idl.Function) ([]AnnotatedRoute, error) {
	for _, k := range unsupportedAnnotations {
		if _, ok := fn.Annotations.Get(k); ok {
			return nil, fmt.Errorf("annotation %s is not supported: declare each method with its own api.get, api.post (and so on)", k)
		}
	}
	var out []AnnotatedRoute
	for _, ra := range routeAnnotations {
		for _, a := range fn.Annotations {
			if a.Key != ra.key {
				continue
			}
			r, err := annotatedRoute(fn, ra.method, a.Value)
			if err != nil {
				return nil, fmt.Errorf("%s = %q: %w", a.Key, a.Value, err)
			}
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = append(out, AnnotatedRoute{
			Method:   "POST",
			Path:     "/" + svc.Name + "/" + fn.Name,
			Function: fn,
			Binding:  Binding{Body: "*"},
		})
	}
	return out, nil
}

// requestStruct is the function's one struct argument, the Hertz request
// type, or nil when the function takes anything else.
func requestStruct(fn *idl.Function) (*idl.Field, *idl.Struct) {
	if len(fn.Args) != 1 {
		return nil, nil
	}
	a := fn.Args[0]
	u := a.Type.Underlying()
	if u == nil || u.Kind != idl.KindStruct || u.Struct == nil || u.Struct.Kind != idl.StructKindStruct {
		return nil, nil
	}
	return a, u.Struct
}

func annotatedRoute(fn *idl.Function, method, hertzPath string) (AnnotatedRoute, error) {
	r := AnnotatedRoute{Method: method, Function: fn}
	arg, req := requestStruct(fn)
	hasBody := method == "POST" || method == "PUT" || method == "PATCH"

	var fieldFor func(v string) (string, error)
	if req != nil {
		for _, f := range req.Fields {
			for _, k := range unsupportedAnnotations {
				if _, ok := f.Annotations.Get(k); ok {
					return r, fmt.Errorf("field %s.%s: annotation %s is not supported", req.Name, f.Name, k)
				}
			}
			if v, ok := f.Annotations.Get("api.body"); ok {
				if v != "" && v != f.Name {
					return r, fmt.Errorf("field %s.%s: api.body = %q renames the field, which is not supported: JSON keys are IDL field names", req.Name, f.Name, v)
				}
				hasBody = true
			}
		}
		fieldFor = func(v string) (string, error) {
			for _, f := range req.Fields {
				if p, ok := f.Annotations.Get("api.path"); ok && p == v {
					return arg.Name + "." + f.Name, nil
				}
			}
			if f := req.FieldByName(v); f != nil && !bindsElsewhere(f) {
				return arg.Name + "." + f.Name, nil
			}
			return "", fmt.Errorf("path variable %q matches no field of %s (by api.path or name)", v, req.Name)
		}
	} else {
		fieldFor = func(v string) (string, error) {
			for _, a := range fn.Args {
				if a.Name == v {
					return v, nil
				}
			}
			return "", fmt.Errorf("path variable %q names no argument", v)
		}
	}

	tmpl, vars, err := convertPath(hertzPath, fieldFor)
	if err != nil {
		return r, err
	}
	r.Path = tmpl
	r.Binding.PathFields = vars
	switch {
	case req == nil && hasBody:
		r.Binding.Body = "*"
	case req != nil && hasBody:
		r.Binding.Body = arg.Name
	}
	if req == nil {
		return r, nil
	}
	inPath := map[string]bool{}
	for _, v := range vars {
		inPath[v] = true
	}
	for _, f := range req.Fields {
		p := arg.Name + "." + f.Name
		if q, ok := f.Annotations.Get("api.query"); ok {
			if q == "" {
				q = f.Name
			}
			if prev, dup := r.Binding.Query[q]; dup {
				return r, fmt.Errorf("query %q is bound to both %s and %s", q, prev, p)
			}
			setMap(&r.Binding.Query, q, p)
		}
		if h, ok := f.Annotations.Get("api.header"); ok {
			if h == "" {
				return r, fmt.Errorf("field %s.%s: api.header names no header", req.Name, f.Name)
			}
			setMap(&r.Binding.Headers, p, h)
		}
		// Without a body, the fields nothing else binds are query
		// parameters under their own names, as Hertz binds them.
		if !hasBody && !bindsElsewhere(f) && !inPath[p] && isTextualIDL(f.Type) {
			if _, taken := r.Binding.Query[f.Name]; !taken {
				setMap(&r.Binding.Query, f.Name, p)
			}
		}
	}
	return r, nil
}

func setMap(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

// bindsElsewhere: the field has an api.path, api.query or api.header.
func bindsElsewhere(f *idl.Field) bool {
	for _, k := range []string{"api.path", "api.query", "api.header"} {
		if _, ok := f.Annotations.Get(k); ok {
			return true
		}
	}
	return false
}

func isTextualIDL(t *idl.Type) bool {
	u := t.Underlying()
	if u == nil {
		return false
	}
	switch u.Kind {
	case idl.KindStruct, idl.KindMap:
		return false
	case idl.KindList, idl.KindSet:
		e := u.Elem.Underlying()
		return e != nil && e.Kind != idl.KindStruct && e.Kind != idl.KindMap && e.Kind != idl.KindList && e.Kind != idl.KindSet
	}
	return true
}

// convertPath turns a Hertz path into a template: ":name" segments become
// {field} and a final "*name" becomes {field=**}.
func convertPath(p string, fieldFor func(string) (string, error)) (string, []string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", nil, fmt.Errorf("path must start with /")
	}
	segs := strings.Split(p[1:], "/")
	var b strings.Builder
	var vars []string
	seen := map[string]bool{}
	for i, s := range segs {
		b.WriteByte('/')
		switch {
		case strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*"):
			name := s[1:]
			if !isIdent(name) {
				return "", nil, fmt.Errorf("segment %q: want :name or *name", s)
			}
			if s[0] == '*' && i != len(segs)-1 {
				return "", nil, fmt.Errorf("the catch-all *%s must be the last segment", name)
			}
			if seen[name] {
				return "", nil, fmt.Errorf("variable %s appears twice", name)
			}
			seen[name] = true
			f, err := fieldFor(name)
			if err != nil {
				return "", nil, err
			}
			vars = append(vars, f)
			if s[0] == '*' {
				b.WriteString("{" + f + "=**}")
			} else {
				b.WriteString("{" + f + "}")
			}
		case strings.ContainsAny(s, ":*{}"):
			return "", nil, fmt.Errorf("segment %q: a variable must be a whole segment", s)
		default:
			b.WriteString(s)
		}
	}
	return b.String(), vars, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// HeaderBindings are the api.header annotations of fn's request struct, by
// argument path: a config route to fn honours them as the annotated route
// does, so that a header a policy sets (an identity) reaches the argument
// on every route to the function, and a client cannot set it through the
// query or the body instead.
func HeaderBindings(fn *idl.Function) map[string]string {
	arg, req := requestStruct(fn)
	if req == nil {
		return nil
	}
	var out map[string]string
	for _, f := range req.Fields {
		if h, ok := f.Annotations.Get("api.header"); ok && h != "" {
			setMap(&out, arg.Name+"."+f.Name, h)
		}
	}
	return out
}

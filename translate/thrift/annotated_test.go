package thrift_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

func hertzProgram(t *testing.T) *idl.Program {
	t.Helper()
	p, err := idl.ParseFile("testdata/hertz/users.thrift", idl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAnnotatedRoutes lists the routes of a Hertz-annotated IDL.
func TestAnnotatedRoutes(t *testing.T) {
	t.Parallel()
	rs, err := thrift.AnnotatedRoutes(hertzProgram(t).Service("Users"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rs {
		bind, _ := json.Marshal(r.Binding)
		fmt.Fprintf(&b, "%s %s %s %s\n", r.Method, r.Path, r.Function.Name, bind)
		if _, err := routes.ParseTemplate(r.Path); err != nil {
			t.Errorf("%s: %v", r.Path, err)
		}
	}
	want := `GET /v1/users/{req.id} getUser {"PathFields":["req.id"],"Body":"","Query":{"fields":"req.fields","only":"req.only","page":"req.page"},"Headers":{"req.token":"X-Token"},"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
PUT /v1/users/{req.id} updateUser {"PathFields":["req.id"],"Body":"req","Query":null,"Headers":{"req.trace":"X-Trace"},"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
PATCH /v1/users/{req.id} updateUser {"PathFields":["req.id"],"Body":"req","Query":null,"Headers":{"req.trace":"X-Trace"},"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
DELETE /v1/users/{req.id} deleteUser {"PathFields":["req.id"],"Body":"","Query":{"fields":"req.fields","only":"req.only","page":"req.page"},"Headers":{"req.token":"X-Token"},"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
GET /v1/files/{req.path=**} readFile {"PathFields":["req.path"],"Body":"","Query":null,"Headers":null,"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
POST /v1/add/{a} add {"PathFields":["a"],"Body":"*","Query":null,"Headers":null,"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
POST /Users/health health {"PathFields":null,"Body":"*","Query":null,"Headers":null,"ExceptionStatus":null,"MaxDepth":0,"ServiceName":"","Protocol":""}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestAnnotatedRouteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src, want string
	}{
		{`service S { void f() (api.any = "/x") }`, "service S, function f: annotation api.any is not supported: declare each method with its own api.get, api.post (and so on)"},
		{`struct R { 1: string a (api.form = "a") } service S { void f(1: R r) (api.post = "/x") }`,
			`service S, function f: api.post = "/x": field R.a: annotation api.form is not supported`},
		{`struct R { 1: string a (api.body = "b") } service S { void f(1: R r) (api.post = "/x") }`,
			`service S, function f: api.post = "/x": field R.a: api.body = "b" renames the field, which is not supported: JSON keys are IDL field names`},
		{`struct R { 1: string a } service S { void f(1: R r) (api.get = "/x/:b") }`,
			`service S, function f: api.get = "/x/:b": path variable "b" matches no field of R (by api.path or name)`},
		{`service S { void f(1: string a) (api.get = "/x/*a/y") }`,
			`service S, function f: api.get = "/x/*a/y": the catch-all *a must be the last segment`},
		{`service S { void f(1: string a) (api.get = "/x/v:a") }`,
			`service S, function f: api.get = "/x/v:a": segment "v:a": a variable must be a whole segment`},
		{`service S { void f(1: string a) (api.get = "/x/:b") }`,
			`service S, function f: api.get = "/x/:b": path variable "b" names no argument`},
		{`service S { void f(1: string a) (api.get = "x") }`, `service S, function f: api.get = "x": path must start with /`},
	}
	for _, tt := range tests {
		p, err := idl.Parse("t.thrift", []byte(tt.src), idl.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if _, err := thrift.AnnotatedRoutes(p.Service("S")); err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// TestAnnotatedEndToEnd serves the annotated routes against the mock: the
// path, query, header and body reach the arguments the annotations say.
func TestAnnotatedEndToEnd(t *testing.T) {
	t.Parallel()
	prog := hertzProgram(t)
	stubs, err := mock.LoadStubs("testdata/hertz/stubs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := thriftmock.New(prog, "Users", stubs, thriftmock.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	defer func() { srv.Stop(); <-done }()
	b, err := thrift.Dial("users", thrift.Options{Endpoints: []string{lis.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ars, err := thrift.AnnotatedRoutes(prog.Service("Users"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []*routes.Route
	for _, ar := range ars {
		tg, err := newTarget("users", b, ar.Function, ar.Binding)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &routes.Route{Method: ar.Method, Pattern: ar.Path, Source: ar.Function.Name, Target: tg})
	}
	table, err := routes.NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, url, body string, hdr ...string) (int, string) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		r := httptest.NewRequest(method, url, rd)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		rt, params, err := table.Match(r.Method, r.URL.EscapedPath())
		if err != nil {
			translate.Fail(w, r, translate.Errorf(codes.NotFound, "%v", err), nil)
		} else {
			rt.Target.ServeRoute(w, r, params)
		}
		return w.Code, w.Body.String()
	}
	tests := []struct {
		method, url, body string
		hdr               []string
		status            int
		want              string
	}{
		{"GET", "/v1/users/42?fields=name&page=2&only=1&only=2", "", []string{"X-Token", "t0k"}, 200, `{"id":"42","name":"name","tags":["t0k"]}`},
		{"GET", "/v1/users/42?nope=1", "", nil, 400, `{"code":3,"message":"unknown query parameter \"nope\": no argument \"nope\" (the function has req)","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"nope","description":"unknown query parameter \"nope\": no argument \"nope\" (the function has req)"}]}]}`},
		{"PUT", "/v1/users/7", `{"name":"ann","tags":["a","b"]}`, []string{"X-Trace", "tr"}, 200, `{"id":"7","name":"tr","tags":["a","b"]}`},
		{"PATCH", "/v1/users/7", `{"name":"ann","tags":[],"id":1}`, nil, 200, `{"id":"7","tags":[]}`},
		{"DELETE", "/v1/users/7", "", nil, 200, `{}`},
		{"GET", "/v1/files/a/b%2Fc/d.txt", "", nil, 200, `"a/b%2Fc/d.txt"`},
		{"POST", "/v1/add/1", `{"b":"9007199254740993"}`, nil, 200, `"9007199254740993"`},
		{"POST", "/Users/health", "", nil, 200, `"ok"`},
	}
	for _, tt := range tests {
		status, body := do(tt.method, tt.url, tt.body, tt.hdr...)
		if status != tt.status || body != tt.want {
			t.Errorf("%s %s: %d %s\nwant %d %s", tt.method, tt.url, status, body, tt.status, tt.want)
		}
	}
}

// newTarget serves fn over backend b through the shared pipeline, with no
// resilience policy; the binding's protocol defaults to the backend's.
func newTarget(name string, b translate.Backend, fn *idl.Function, bind thrift.Binding) (*pipeline.Target, error) {
	if tb, ok := b.(*thrift.Backend); ok && bind.Protocol == "" {
		bind.Protocol = tb.Protocol()
	}
	tc, err := thrift.NewTranscoder(name, fn, bind)
	if err != nil {
		return nil, err
	}
	return pipeline.Unguarded(name, b, tc, nil), nil
}

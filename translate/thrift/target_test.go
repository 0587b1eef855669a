package thrift

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
	"github.com/switchboard-gw/switchboard/translate/pipeline"
	"github.com/switchboard-gw/switchboard/translate/resilience"
)

// gateway routes HTTP requests through a routes.Table to Targets, the way
// the gateway does, without the rest of the gateway.
type gateway struct{ table *routes.Table }

func (g gateway) do(t testing.TB, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	rt, params, err := g.table.Match(r.Method, r.URL.EscapedPath())
	if err != nil {
		translate.Fail(w, r, translate.Errorf(codes.NotFound, "no route: %v", err), nil)
		return w
	}
	rt.Target.ServeRoute(w, r, params)
	return w
}

type routeSpec struct {
	method, pattern, fn string
	b                   Binding
}

// interopGateway builds the interop service's annotated routes (POST
// /Interop/<fn>, body "*") plus extra routes, over backend.
func interopGateway(t testing.TB, backend translate.Backend, protocol string, multiplexed bool, extra ...routeSpec) gateway {
	t.Helper()
	svc := interopProgram(t).Service("Interop")
	ars, err := AnnotatedRoutes(svc)
	if err != nil {
		t.Fatal(err)
	}
	var rs []*routes.Route
	add := func(method, pattern string, fnName string, b Binding) {
		fn := svc.Function(fnName)
		b.Protocol = protocol
		if multiplexed {
			b.ServiceName = "Interop"
		}
		tg, err := newTarget("interop", backend, fn, b)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &routes.Route{Method: method, Pattern: pattern, Source: fnName, Target: tg})
	}
	for _, ar := range ars {
		add(ar.Method, ar.Path, ar.Function.Name, ar.Binding)
	}
	for _, e := range extra {
		add(e.method, e.pattern, e.fn, e.b)
	}
	table, err := routes.NewTable(rs)
	if err != nil {
		t.Fatal(err)
	}
	return gateway{table}
}

var extraRoutes = []routeSpec{
	{"GET", "/v1/sum", "sum", Binding{}},
	{"GET", "/v1/divide/{a}/{b}", "divide", Binding{PathFields: []string{"a", "b"}, ExceptionStatus: map[string]int{"NotFound": 404}}},
	{"POST", "/v1/echo", "echo", Binding{Body: "e"}},
	{"POST", "/v1/echo/{e.req}", "echo", Binding{Body: "e", PathFields: []string{"e.req"}}},
	{"GET", "/v1/scalars/{s.s}", "scalars", Binding{PathFields: []string{"s.s"}, Query: map[string]string{"m": "s.medium"},
		Headers: map[string]string{"s.large": "X-Large"}}},
	{"POST", "/v1/touch/{id}", "touch", Binding{PathFields: []string{"id"}}},
}

const echoBody = `{"scalars":{"b":true,"by":1,"tiny":2,"small":3,"medium":4,"large":"5","d":6.5,"s":"s","bin":"AQI=","color":"BLUE","ts":"7","hue":"RED"},` +
	`"req":"r","names":["a"],"byName":{"p":{"x":1,"y":2}},"pointNames":[{"key":{"x":1,"y":2},"value":"v"}],"shape":{"label":"l"}}`

// TestEndToEnd runs HTTP -> Target -> Backend -> the generated processor in
// Apache's TSimpleServer, in every protocol and transport, plain and
// multiplexed.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	type tcase struct {
		name        string
		method, url string
		body        string
		header      []string
		status      int
		want        string // the body, or "golden:<file>"
	}
	cases := []tcase{
		{"echo whole body", "POST", "/Interop/echo", `{"e":` + echoBody + `}`, nil, 200, "golden:echo.json"},
		{"echo body arg", "POST", "/v1/echo", echoBody, nil, 200, "golden:echo.json"},
		{"echo path overrides body", "POST", "/v1/echo/from-path", echoBody, nil, 200, "golden:echo_path.json"},
		{"inherited", "POST", "/Interop/ping", ``, nil, 200, `"pong"`},
		{"void", "POST", "/Interop/touch", `{"id":1}`, nil, 200, `{}`},
		{"oneway", "POST", "/Interop/fire", `{"msg":"go","times":2}`, nil, 202, `{}`},
		{"i64 result as string", "GET", "/v1/sum?xs=9007199254740993&xs=1", ``, nil, 200, `"9007199254740994"`},
		{"map result", "POST", "/Interop/points", `{"ps":[{"x":1,"y":2}]}`, nil, 200, `{"1,2":{"x":1,"y":2}}`},
		{"union", "POST", "/Interop/shape", `{"s":{"radius":"NaN"}}`, nil, 200, `{"radius":"NaN"}`},
		{"path query header", "GET", "/v1/scalars/h%C3%A9?m=42&s.color=GREEN&s.hue=1", ``, []string{"X-Large", "-5"}, 200,
			`{"b":false,"by":0,"tiny":0,"small":0,"medium":42,"large":"-5","d":0,"s":"hé","bin":"","color":"GREEN","ts":"0","hue":"RED"}`},
		{"declared exception annotated 422", "GET", "/v1/divide/7/0", ``, nil, 422, "golden:error_invalid_operation.json"},
		{"declared exception configured 404", "GET", "/v1/divide/-7/1", ``, nil, 404, "golden:error_not_found.json"},
		{"declared exception default 500", "POST", "/Interop/divide", `{"a":-1,"b":1}`, nil, 500, "golden:error_not_found_default.json"},
		{"undeclared error", "POST", "/v1/touch/-1", ``, nil, 502, "golden:error_internal_error.json"},
		{"bad request", "POST", "/Interop/echo", `{"e":{"scalars":{"tiny":300,"color":"PINK"},"nope":1}}`, nil, 400, "golden:error_bad_request.json"},
		{"missing required", "POST", "/Interop/echo", `{"e":{}}`, nil, 400, "golden:error_missing_required.json"},
		{"not json", "POST", "/Interop/echo", `{"e":`, nil, 400, "golden:error_not_json.json"},
		{"wrong content type", "POST", "/Interop/touch", `id=1`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "golden:error_content_type.json"},
		{"unknown query", "GET", "/v1/sum?xs=1&x=2", ``, nil, 400, "golden:error_unknown_query.json"},
		{"bad path value", "GET", "/v1/divide/seven/1", ``, nil, 400, "golden:error_bad_path_value.json"},
	}
	for _, proto := range protocols {
		for _, transport := range []string{"framed", "buffered"} {
			for _, mux := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/multiplexed=%v", proto, transport, mux), func(t *testing.T) {
					t.Parallel()
					h := newHandler()
					addr := startInterop(t, proto, transport, mux, h)
					b := dial(t, Options{Endpoints: []string{addr}, Protocol: proto, Transport: transport, Multiplexed: mux})
					g := interopGateway(t, b, proto, mux, extraRoutes...)
					for _, c := range cases {
						w := g.do(t, c.method, c.url, c.body, c.header...)
						if w.Code != c.status {
							t.Errorf("%s: status %d, want %d: %s", c.name, w.Code, c.status, w.Body)
							continue
						}
						if ct := w.Header().Get("Content-Type"); ct != "application/json" {
							t.Errorf("%s: Content-Type %q", c.name, ct)
						}
						if name, ok := strings.CutPrefix(c.want, "golden:"); ok {
							golden(t, name, w.Body.Bytes())
						} else if w.Body.String() != c.want {
							t.Errorf("%s: body %s, want %s", c.name, w.Body, c.want)
						}
					}
					select {
					case got := <-h.fired:
						if got != "go x2" {
							t.Errorf("oneway delivered %q", got)
						}
					case <-time.After(5 * time.Second):
						t.Error("the oneway call never reached the server")
					}
				})
			}
		}
	}
}

// TestThroughResilience: the Target works over a wrapped backend when the
// binding names the protocol, as the gateway will wire it.
func TestThroughResilience(t *testing.T) {
	t.Parallel()
	addr := startInterop(t, "compact", "framed", false, newHandler())
	b := dial(t, Options{Endpoints: []string{addr}, Protocol: "compact"})
	wrapped := resilience.Wrap("interop", b, resilience.Policy{Timeout: 5 * time.Second}, nil)
	g := interopGateway(t, wrapped, "compact", false)
	if w := g.do(t, "POST", "/Interop/ping", ""); w.Code != 200 || w.Body.String() != `"pong"` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestUnknownMethod: a function the server does not have is 501.
func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	addr := startInterop(t, "binary", "framed", false, newHandler())
	b := dial(t, Options{Endpoints: []string{addr}})
	p := parseIDL(t, `service Interop { i32 nothere(1: i32 x) }`)
	tg, err := newTarget("interop", b, p.Service("Interop").Function("nothere"), Binding{Body: "*"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	tg.ServeRoute(w, httptest.NewRequest("POST", "/x", strings.NewReader(`{"x":1}`)), nil)
	if w.Code != 501 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	golden(t, "error_unknown_method.json", w.Body.Bytes())
}

// TestNewTargetErrors: binding mistakes name the function and the path.
func TestNewTargetErrors(t *testing.T) {
	t.Parallel()
	fn := interopFunc(t, "echo")
	tests := []struct {
		b    Binding
		want string
	}{
		{Binding{Body: "x"}, `function echo: body "x" names no argument (it has e)`},
		{Binding{PathFields: []string{"e.nope"}}, `function echo: path field "e.nope": struct interop.Everything has no field "nope"`},
		{Binding{PathFields: []string{"e.scalars"}}, `function echo: path field "e.scalars" is struct interop.Scalars; a path variable can only set a scalar`},
		{Binding{PathFields: []string{"e.req.x"}}, `function echo: path field "e.req.x": "e.req" is string, which has no field "x"`},
		{Binding{PathFields: []string{"f"}}, `function echo: path field "f": no argument "f" (the function has e)`},
		{Binding{Query: map[string]string{"m": "e.byName"}}, `function echo: query "m" sets "e.byName", which is map<string, Point>; the query can only set scalars and lists of scalars`},
		{Binding{PathFields: []string{"e.req"}, Query: map[string]string{"r": "e.req"}}, `function echo: query "r" sets "e.req", which is already bound to the path variable "e.req"`},
		{Binding{Headers: map[string]string{"e.req": "Bad Header"}}, `function echo: header "Bad Header" for "e.req" is not a valid header name`},
		{Binding{ExceptionStatus: map[string]int{}, MaxDepth: 1000}, `function echo: max depth 1000: want 0 (the default, 64) to 128`},
		{Binding{Protocol: "json"}, `function echo: unknown thrift protocol "json": want binary or compact`},
	}
	for _, tt := range tests {
		_, err := newTarget("b", nil, fn, tt.b)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v:\n got %v\nwant %s", tt.b, err, tt.want)
		}
	}
	p := parseIDL(t, `exception E { 1: string m } (http.status = "200")
		service S { void f() throws (1: E e) }`)
	if _, err := newTarget("b", nil, p.Service("S").Function("f"), Binding{}); err == nil ||
		err.Error() != `function f: exception test.E: annotation http.status = "200": want a status from 400 to 599` {
		t.Errorf("got %v", err)
	}
}

// TestBodyLimit: a body over the server's limit is 413.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	tg, err := newTarget("b", nil, interopFunc(t, "echo"), Binding{Body: "*"})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/x", strings.NewReader(strings.Repeat(" ", 100)))
	r.Body = http.MaxBytesReader(w, r.Body, 10)
	tg.ServeRoute(w, r, nil)
	if w.Code != 413 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestWireGolden records, byte for byte, the framed CALL the gateway sends
// for an HTTP request, in both protocols: the message envelope (strict
// binary, or compact), the sequence id, and the args struct with its
// defaults filled in.
func TestWireGolden(t *testing.T) {
	t.Parallel()
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			f := mustFramer(t, proto, "framed")
			got := make(chan []byte, 1)
			addr := rawServer(t, func(c net.Conn) {
				var hdr [4]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				frame := make([]byte, binary.BigEndian.Uint32(hdr[:]))
				if _, err := io.ReadFull(c, frame); err != nil {
					return
				}
				got <- append(hdr[:], frame...)
				m, err := f.ReadMessage(bufio.NewReader(bytes.NewReader(append(hdr[:], frame...))))
				if err != nil {
					return
				}
				var e encoder
				e.compact = proto == "compact"
				e.stop()
				_, _ = c.Write(f.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: e.buf}))
			})
			b := dial(t, Options{Endpoints: []string{addr}, Protocol: proto})
			g := interopGateway(t, b, proto, false, extraRoutes...)
			w := g.do(t, "POST", "/v1/touch/7", "")
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			golden(t, "wire_touch_call."+proto+".hex", []byte(hex.Dump(<-got)))
		})
	}
}

// TestMissingResultThroughTarget: a non-void function answered with an
// empty result struct is a 502, not a zero value.
func TestMissingResultThroughTarget(t *testing.T) {
	t.Parallel()
	f := mustFramer(t, "binary", "framed")
	addr, _ := fakeServer(t, f, func(m *Message) []byte {
		return f.AppendMessage(nil, &Message{Name: m.Name, Type: Reply, SeqID: m.SeqID, Body: []byte{0}})
	})
	b := dial(t, Options{Endpoints: []string{addr}})
	g := interopGateway(t, b, "binary", false)
	w := g.do(t, "POST", "/Interop/divide", `{"a":1,"b":1}`)
	if w.Code != 502 || w.Body.String() != `{"code":13,"message":"backend interop returned no result for divide","details":[]}` {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if w := g.do(t, "POST", "/Interop/touch", `{"id":1}`); w.Code != 200 || w.Body.String() != `{}` {
		t.Errorf("void: %d %s", w.Code, w.Body)
	}
}

// newTarget serves fn over backend b through the shared pipeline, with no
// resilience policy; the binding's protocol defaults to the backend's.
func newTarget(name string, b translate.Backend, fn *idl.Function, bind Binding) (*pipeline.Target, error) {
	if tb, ok := b.(*Backend); ok && bind.Protocol == "" {
		bind.Protocol = tb.Protocol()
	}
	tc, err := NewTranscoder(name, fn, bind)
	if err != nil {
		return nil, err
	}
	return pipeline.Unguarded(name, b, tc, nil), nil
}

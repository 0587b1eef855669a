package thrift

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	"github.com/switchboard-gw/switchboard/translate"
	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

// canned is a backend that answers every call with the same encoded
// result, from memory: what is left of a call is the gateway's own work.
type canned map[string][]byte

func (c canned) Invoke(_ context.Context, call *translate.Call) (*translate.Reply, error) {
	return &translate.Reply{Body: c[call.Method]}, nil
}
func (c canned) Close() error { return nil }

// discard is a ResponseWriter that keeps nothing but its header map.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkOverhead is BenchmarkCall's dynamic variant with the network and
// the server taken away (a backend answering from memory, a request built
// without parsing one): the route match, the Target, the transcoding both
// ways and the resilience attempt, which is what the gateway adds to a
// Thrift call.
func BenchmarkOverhead(b *testing.B) {
	sc, scJSON := fullScalars()
	rich := withDefaults(&gen.Everything{
		Scalars: sc, Req: "r", Matrix: [][]int32{{1, 2, 3}, {4, 5, 6}}, Names: []string{"a", "b", "c"},
		ByName:     map[string]*gen.Point{"p": {X: 1, Y: 2}, "q": {X: 3, Y: 4}},
		PointNames: map[*gen.Point]string{{X: 1, Y: 2}: "v"}, ColorsById: map[int64][]gen.Color{1: {gen.Color_RED, gen.Color_BLUE}},
		Shape: &gen.Shape{Label: athrift.StringPtr("l")}, Tags: gen.Tags{"t1", "t2"}, Smalls: []int16{1, 2, 3}, Blobs: [][]byte{{1, 2, 3}},
	})
	three := int32(3)
	backend := canned{
		"divide": serialize(b, "binary", &gen.InteropDivideResult{Success: &three}),
		"echo":   serialize(b, "binary", &gen.InteropEchoResult{Success: rich}),
	}
	g := interopGateway(b, backend, "binary", false)
	richJSON := `{"e":{"scalars":` + scJSON + `,"req":"r","matrix":[[1,2,3],[4,5,6]],"names":["a","b","c"],` +
		`"byName":{"p":{"x":1,"y":2},"q":{"x":3,"y":4}},"pointNames":[{"key":{"x":1,"y":2},"value":"v"}],` +
		`"colorsById":{"1":["RED","BLUE"]},"shape":{"label":"l"},"tags":["t1","t2"],"smalls":[1,2,3],"blobs":["AQID"]}}`
	for _, c := range []struct{ name, path, body string }{
		{"small", "/Interop/divide", `{"a":7,"b":2}`},
		{"rich", "/Interop/echo", richJSON},
	} {
		b.Run(c.name, func(b *testing.B) {
			u, _ := url.Parse(c.path)
			w := &discard{}
			b.ReportAllocs()
			for b.Loop() {
				r := &http.Request{Method: "POST", URL: u, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body)),
					ContentLength: int64(len(c.body)), RemoteAddr: "192.0.2.1:1234", Host: "example.com"}
				w.h, w.code = http.Header{}, 0
				rt, params, err := g.table.Match(r.Method, r.URL.EscapedPath())
				if err != nil {
					b.Fatal(err)
				}
				rt.Target.ServeRoute(w, r, params)
				if w.code != 200 {
					b.Fatal(w.code)
				}
			}
		})
	}
}

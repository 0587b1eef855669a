package thrift

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	athrift "github.com/apache/thrift/lib/go/thrift"

	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

// BenchmarkCall makes the same calls to the same generated server (Apache's
// TSimpleServer, binary protocol, framed, on loopback) three ways:
//
//   - dynamic: an HTTP request with a JSON body through the route table, the
//     Target (JSON to Thrift with the IDL model), the Backend's pool, and the
//     reply back to JSON: what the gateway does.
//   - generated: Apache's generated client with Go values, no JSON at all.
//   - generated+json: the generated client, with the request decoded from
//     and the reply encoded to JSON by encoding/json, what a hand-written
//     REST front on generated code would do.
//
// "small" is divide(7, 2) -> i32; "rich" is echo of a struct with every
// type in it.
//
// The dynamic variant's request is made as net/http's server hands one to
// a handler (http.NewRequest), not parsed from text by httptest.NewRequest
// as the tests' gateway.do does: that parse, with a 4 KiB reader of its own
// per request, is no part of the gateway (net/http's server reuses its
// reader per connection), and cost the dynamic side about a tenth of a
// small call, much of it in collections of the benchmark's small heap.
func BenchmarkCall(b *testing.B) {
	addr := startInterop(b, "binary", "framed", false, newHandler())
	backend := dial(b, Options{Endpoints: []string{addr}})
	g := interopGateway(b, backend, "binary", false)

	cfg := &athrift.TConfiguration{ConnectTimeout: time.Second, SocketTimeout: 10 * time.Second}
	trans, err := transportFactory("framed").GetTransport(athrift.NewTSocketConf(addr, cfg))
	if err != nil {
		b.Fatal(err)
	}
	if err := trans.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { trans.Close() })
	client := gen.NewInteropClientFactory(trans, protocolFactory("binary"))
	ctx := context.Background()

	_, scJSON := fullScalars()
	richJSON := `{"e":{"scalars":` + scJSON + `,"req":"r","matrix":[[1,2,3],[4,5,6]],"names":["a","b","c"],` +
		`"byName":{"p":{"x":1,"y":2},"q":{"x":3,"y":4}},"pointNames":[{"key":{"x":1,"y":2},"value":"v"}],` +
		`"colorsById":{"1":["RED","BLUE"]},"shape":{"label":"l"},"tags":["t1","t2"],"smalls":[1,2,3],"blobs":["AQID"]}}`
	sc, _ := fullScalars()
	rich := withDefaults(&gen.Everything{
		Scalars: sc, Req: "r", Matrix: [][]int32{{1, 2, 3}, {4, 5, 6}}, Names: []string{"a", "b", "c"},
		ByName:     map[string]*gen.Point{"p": {X: 1, Y: 2}, "q": {X: 3, Y: 4}},
		PointNames: map[*gen.Point]string{{X: 1, Y: 2}: "v"}, ColorsById: map[int64][]gen.Color{1: {gen.Color_RED, gen.Color_BLUE}},
		Shape: &gen.Shape{Label: athrift.StringPtr("l")}, Tags: gen.Tags{"t1", "t2"}, Smalls: []int16{1, 2, 3}, Blobs: [][]byte{{1, 2, 3}},
	})
	// encoding/json's own rendering of the generated value, for the
	// generated+json variant (map keys that are pointers cannot be JSON).
	plain := *rich
	plain.PointNames = nil
	//lint:ignore SA1026 PointNames, the map encoding/json cannot key, is nil
	plainJSON, err := json.Marshal(&gen.InteropEchoArgs{E: &plain})
	if err != nil {
		b.Fatal(err)
	}

	// post is gateway.do for a request made as net/http's server makes one.
	post := func(b *testing.B, target, body string) *httptest.ResponseRecorder {
		r, err := http.NewRequest("POST", target, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		rt, params, err := g.table.Match(r.Method, r.URL.EscapedPath())
		if err != nil {
			b.Fatal(err)
		}
		rt.Target.ServeRoute(w, r, params)
		return w
	}

	b.Run("small/dynamic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if w := post(b, "/Interop/divide", `{"a":7,"b":2}`); w.Code != 200 {
				b.Fatal(w.Code, w.Body)
			}
		}
	})
	b.Run("small/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if q, err := client.Divide(ctx, 7, 2); err != nil || q != 3 {
				b.Fatal(q, err)
			}
		}
	})
	b.Run("rich/dynamic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if w := post(b, "/Interop/echo", richJSON); w.Code != 200 {
				b.Fatal(w.Code, w.Body)
			}
		}
	})
	b.Run("rich/generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Echo(ctx, rich); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rich/generated+json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var args gen.InteropEchoArgs
			if err := json.Unmarshal(plainJSON, &args); err != nil {
				b.Fatal(err)
			}
			r, err := client.Echo(ctx, args.E)
			if err != nil {
				b.Fatal(err)
			}
			//lint:ignore SA1026 the echoed PointNames is nil
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCodec is the codec alone, no network: the rich echo argument
// from JSON to binary-protocol bytes and its result back to JSON, beside
// the generated code writing and reading the same value (with and without
// encoding/json on top).
func BenchmarkCodec(b *testing.B) {
	sc, scJSON := fullScalars()
	js := []byte(`{"e":{"scalars":` + scJSON + `,"req":"r","matrix":[[1,2,3],[4,5,6]],"names":["a","b","c"],` +
		`"byName":{"p":{"x":1,"y":2},"q":{"x":3,"y":4}},"colorsById":{"1":["RED","BLUE"]},"shape":{"label":"l"},` +
		`"tags":["t1","t2"],"smalls":[1,2,3],"blobs":["AQID"]}}`)
	v := withDefaults(&gen.Everything{
		Scalars: sc, Req: "r", Matrix: [][]int32{{1, 2, 3}, {4, 5, 6}}, Names: []string{"a", "b", "c"},
		ByName:     map[string]*gen.Point{"p": {X: 1, Y: 2}, "q": {X: 3, Y: 4}},
		ColorsById: map[int64][]gen.Color{1: {gen.Color_RED, gen.Color_BLUE}},
		Shape:      &gen.Shape{Label: athrift.StringPtr("l")}, Tags: gen.Tags{"t1", "t2"}, Smalls: []int16{1, 2, 3}, Blobs: [][]byte{{1, 2, 3}},
	})
	//lint:ignore SA1026 PointNames is nil in v
	vJSON, _ := json.Marshal(&gen.InteropEchoArgs{E: v})
	c, _ := NewCodec("binary", 0)
	m, err := c.Method(interopFunc(b, "echo"))
	if err != nil {
		b.Fatal(err)
	}
	result := serialize(b, "binary", &gen.InteropEchoResult{Success: v})
	ctx := context.Background()

	b.Run("encode/dynamic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.EncodeArgs(js); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/generated", func(b *testing.B) {
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		prot := athrift.NewTBinaryProtocolConf(buf, nil)
		args := &gen.InteropEchoArgs{E: v}
		for b.Loop() {
			buf.Reset()
			if err := args.Write(ctx, prot); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/generated+json", func(b *testing.B) {
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		prot := athrift.NewTBinaryProtocolConf(buf, nil)
		for b.Loop() {
			var args gen.InteropEchoArgs
			if err := json.Unmarshal(vJSON, &args); err != nil {
				b.Fatal(err)
			}
			buf.Reset()
			if err := args.Write(ctx, prot); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/dynamic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.DecodeResult(result); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/generated", func(b *testing.B) {
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		prot := athrift.NewTBinaryProtocolConf(buf, nil)
		for b.Loop() {
			buf.Reset()
			buf.Write(result)
			var r gen.InteropEchoResult
			if err := r.Read(ctx, prot); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/generated+json", func(b *testing.B) {
		b.ReportAllocs()
		buf := athrift.NewTMemoryBuffer()
		prot := athrift.NewTBinaryProtocolConf(buf, nil)
		for b.Loop() {
			buf.Reset()
			buf.Write(result)
			var r gen.InteropEchoResult
			if err := r.Read(ctx, prot); err != nil {
				b.Fatal(err)
			}
			//lint:ignore SA1026 PointNames is nil in the result
			if _, err := json.Marshal(r.Success); err != nil {
				b.Fatal(err)
			}
		}
	})
}

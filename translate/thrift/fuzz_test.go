package thrift

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

// fuzzMaxOut bounds a rendered reply in the fuzz targets, so that "bounded
// allocation" is checked against a number.
const fuzzMaxOut = 1 << 20

// FuzzDecodeReply feeds bytes to the result decoder of echo, the richest
// function (every type, unions, maps with struct keys), in both protocols.
// It must never panic, must render valid JSON when it succeeds, and must
// stay within its output bound however the input lies about sizes.
func FuzzDecodeReply(f *testing.F) {
	sc, _ := fullScalars()
	rich := withDefaults(&gen.Everything{
		Scalars:    sc,
		Matrix:     [][]int32{{1}, {}},
		ByName:     map[string]*gen.Point{"p": {X: 1}},
		PointNames: map[*gen.Point]string{{X: 3}: "q"},
		Shape:      &gen.Shape{Radius: new(float64)},
		Flags:      map[bool]float64{true: math.NaN()},
		Smalls:     []int16{1, 2},
		Blobs:      [][]byte{{0xff}},
		Req:        "r",
	})
	for _, proto := range protocols {
		f.Add(proto == "compact", serialize(f, proto, &gen.InteropEchoResult{Success: rich}))
		f.Add(proto == "compact", serialize(f, proto, &gen.InteropEchoResult{Success: withDefaults(&gen.Everything{Scalars: zeroScalars()})}))
	}
	f.Add(false, []byte{byte(tStruct), 0, 0, byte(tList), 0, 9, byte(tI32), 0x7f, 0xff, 0xff, 0xff, 0, 0}) // 2^31 list
	f.Add(true, []byte{0x0c, 0x29, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x07})                                    // compact 2^31 list
	f.Add(false, []byte{byte(tString), 0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Add(true, []byte{0x1c, 0x00})
	methods := map[bool]*Method{}
	for _, compact := range []bool{false, true} {
		c, _ := NewCodec(map[bool]string{false: "binary", true: "compact"}[compact], 0)
		m, err := c.Method(interopFunc(f, "echo"))
		if err != nil {
			f.Fatal(err)
		}
		m.maxOut = fuzzMaxOut
		methods[compact] = m
	}
	f.Fuzz(func(t *testing.T, compact bool, b []byte) {
		res, err := methods[compact].DecodeResult(b)
		if err != nil {
			if res != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		if res.Success != nil {
			if !json.Valid(res.Success) {
				t.Fatalf("invalid JSON %q", res.Success)
			}
			if len(res.Success) > fuzzMaxOut+64<<10 {
				t.Fatalf("rendered %d bytes", len(res.Success))
			}
		}
	})
}

// FuzzEncodeJSON feeds JSON to the argument encoder of echo. Every error
// must be a 400 (*translate.Error, INVALID_ARGUMENT), and whatever is
// accepted must be bytes the generated code reads back, and the dynamic
// decoder too.
func FuzzEncodeJSON(f *testing.F) {
	_, scJSON := fullScalars()
	f.Add(false, `{"e":{"scalars":`+scJSON+`,"req":"r"}}`)
	f.Add(true, `{"e":{"scalars":{},"req":"","byName":{"a":{"x":1}},"pointNames":[{"key":{"x":1,"y":2},"value":"v"}],"shape":{"radius":"NaN"}}}`)
	f.Add(false, `{"e":{"scalars":{"tiny":300},"nope":1}}`)
	f.Add(true, `{"e":{"smalls":[1,1],"colorNames":{"RED":"r","1":"x"},"flags":[{"key":true}]}}`)
	f.Add(false, `{"e":{"matrix":[[1,2],[3]],"names":["a","b"],"blobs":["AQ==","-_8"],"colorsById":{"-1":["RED"]}}}`)
	f.Add(true, `[1,2,3]`)
	f.Add(false, `{"e":null}`)
	f.Add(true, `{"e":{"shapes":[{"point":{"x":1},"label":"x"}]}}`)
	f.Add(false, "{\"e\":{\"req\":\"\\ud800\"}}")
	methods := map[bool]*Method{}
	for _, compact := range []bool{false, true} {
		c, _ := NewCodec(map[bool]string{false: "binary", true: "compact"}[compact], 0)
		m, err := c.Method(interopFunc(f, "echo"))
		if err != nil {
			f.Fatal(err)
		}
		methods[compact] = m
	}
	f.Fuzz(func(t *testing.T, compact bool, js string) {
		m := methods[compact]
		b, err := m.EncodeArgs([]byte(js))
		if err != nil {
			var e *translate.Error
			if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Status() != 400 {
				t.Fatalf("error %T %v is not a 400", err, err)
			}
			return
		}
		if _, err := m.DecodeArgs(b); err != nil {
			t.Fatalf("accepted %q but cannot decode %x: %v", js, b, err)
		}
		proto := map[bool]string{false: "binary", true: "compact"}[compact]
		deserialize(t, proto, b, gen.NewInteropEchoArgs())
	})
}

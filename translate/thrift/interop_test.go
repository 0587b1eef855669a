package thrift

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"

	athrift "github.com/apache/thrift/lib/go/thrift"

	gen "github.com/switchboard-gw/switchboard/translate/thrift/internal/interopgen"
)

var protocols = []string{"binary", "compact"}

// fullScalars is a Scalars value with every field set, and its JSON.
func fullScalars() (*gen.Scalars, string) {
	return &gen.Scalars{
			B: true, By: -128, Tiny: 127, Small: -32768, Medium: math.MaxInt32, Large: math.MinInt64,
			D: -0.15625, S: "héllo \"wörld\"\n", Bin: []byte{0, 0xff, 'a'}, Color: gen.Color_BLUE, Ts: math.MaxInt64,
			Hue: gen.Hue(gen.Color_GREEN),
		},
		`{"b":true,"by":-128,"tiny":127,"small":-32768,"medium":2147483647,"large":"-9223372036854775808",` +
			`"d":-0.15625,"s":"héllo \"wörld\"\n","bin":"AP9h","color":"BLUE","ts":"9223372036854775807","hue":"GREEN"}`
}

func zeroScalars() *gen.Scalars {
	return &gen.Scalars{Color: gen.Color_RED, Hue: gen.Hue(gen.Color_RED)}
}

// defaults sets what the IDL's defaults give, the way a Java or C++
// constructor would; 0.17's Go constructor leaves the struct default
// (origin) nil and writes it as an empty struct, so it is set by hand.
func withDefaults(e *gen.Everything) *gen.Everything {
	e.WithDefault = 42
	e.Origin = &gen.Point{X: 1, Y: 2}
	e.DefList = []string{"a", "b"}
	e.DefMap = map[string]int32{"one": 1}
	e.DefColor = gen.Color_GREEN
	return e
}

// TestInteropBytes checks that the dynamic codec encodes JSON to exactly
// the bytes the generated code writes for the same value, in both
// protocols, and decodes those bytes back to the canonical JSON. Maps have
// at most one entry here: generated Go writes maps in random order.
func TestInteropBytes(t *testing.T) {
	t.Parallel()
	sc, scJSON := fullScalars()
	big := make([]int32, 20) // compact's long list header
	for i := range big {
		big[i] = int32(i*i - 100)
	}
	bigJSON, _ := json.Marshal(big)
	tests := []struct {
		name   string
		st     string
		value  athrift.TStruct
		input  string // JSON sent
		output string // JSON rendered back; "" means input
	}{
		{"scalars zero", "Scalars", zeroScalars(), `{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":0,"d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"}`,
			`{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":"0","d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"}`},
		{"scalars full", "Scalars", sc, scJSON, ""},
		{"scalars numbers as strings", "Scalars", sc,
			`{"b":true,"by":"-128","tiny":"127","small":"-32768","medium":"2147483647","large":-9223372036854775808,` +
				`"d":"-0.15625","s":"h\u00e9llo \"w\u00f6rld\"\n","bin":"AP9h","color":5,"ts":9223372036854775807,"hue":2}`, scJSON},
		{"point", "Point", &gen.Point{X: -1, Y: 1 << 30}, `{"x":-1,"y":1073741824}`, ""},
		{"sparse all", "Sparse", &gen.Sparse{A: athrift.Int32Ptr(7), B: athrift.StringPtr("b"), C: athrift.BoolPtr(true), D: athrift.BoolPtr(false)},
			`{"a":7,"b":"b","c":true,"d":false}`, ""},
		{"sparse far", "Sparse", &gen.Sparse{C: athrift.BoolPtr(false)}, `{"c":false}`, ""},
		{"sparse empty", "Sparse", &gen.Sparse{}, `{}`, ""},
		{"declared out of id order", "Unordered", &gen.Unordered{C: 3, A: "a", B: athrift.BoolPtr(true)}, `{"c":3,"b":true,"a":"a"}`, `{"a":"a","b":true,"c":3}`},
		{"union radius", "Shape", &gen.Shape{Radius: athrift.Float64Ptr(math.Inf(-1))}, `{"radius":"-Infinity"}`, ""},
		{"union point", "Shape", &gen.Shape{Point: &gen.Point{X: 3}}, `{"point":{"x":3,"y":0}}`, ""},
		{"union label", "Shape", &gen.Shape{Label: athrift.StringPtr("")}, `{"label":""}`, ""},
		{"everything minimal", "Everything", withDefaults(&gen.Everything{Scalars: zeroScalars(), Req: "r"}),
			`{"scalars":{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":"0","d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"},"req":"r"}`,
			`{"scalars":{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":"0","d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"},` +
				`"withDefault":42,"origin":{"x":1,"y":2},"defList":["a","b"],"defMap":{"one":1},"req":"r","defColor":"GREEN"}`},
		{"everything full", "Everything", withDefaults(&gen.Everything{
			Scalars:    sc,
			Matrix:     [][]int32{{1, -2}, {}, big},
			Names:      []string{"x", "y", "z"},
			ByName:     map[string]*gen.Point{"p": {X: 1, Y: 2}},
			PointNames: map[*gen.Point]string{{X: 3, Y: 4}: "q"},
			ColorsById: map[int64][]gen.Color{-1 << 40: {gen.Color_RED, gen.Color_BLUE}},
			ColorNames: map[gen.Color]string{gen.Color_GREEN: "g"},
			Shape:      &gen.Shape{Point: &gen.Point{X: 9, Y: 9}},
			Tags:       gen.Tags{"t1"},
			Opt:        athrift.StringPtr("o"),
			Req:        "",
			Shapes:     []*gen.Shape{{Radius: athrift.Float64Ptr(1e300)}, {Label: athrift.StringPtr("l")}},
			Flags:      map[bool]float64{false: math.SmallestNonzeroFloat64},
			Smalls:     []int16{-1, 0, 1},
			Blobs:      [][]byte{{}, {1, 2, 3, 4}},
		}),
			`{"scalars":` + scJSON + `,"matrix":[[1,-2],[],` + string(bigJSON) + `],"names":["x","y","z"],"byName":{"p":{"x":1,"y":2}},` +
				`"pointNames":[{"key":{"x":3,"y":4},"value":"q"}],"colorsById":{"-1099511627776":["RED","BLUE"]},"colorNames":{"GREEN":"g"},` +
				`"shape":{"point":{"x":9,"y":9}},"tags":["t1"],"withDefault":42,"origin":{"x":1,"y":2},"defList":["a","b"],"defMap":{"one":1},` +
				`"opt":"o","req":"","shapes":[{"radius":1e+300},{"label":"l"}],"flags":[{"key":false,"value":5e-324}],"smalls":[-1,0,1],` +
				`"blobs":["","AQIDBA=="],"defColor":"GREEN"}`, ""},
		{"everything defaults overridden", "Everything", &gen.Everything{
			Scalars: zeroScalars(), Req: "r", WithDefault: -1, Origin: &gen.Point{}, DefList: []string{}, DefMap: map[string]int32{}, DefColor: gen.Color_RED},
			`{"defColor":"RED","defMap":{},"defList":[],"origin":{"x":0,"y":0},"withDefault":-1,"req":"r","scalars":{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":"0","d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"}}`,
			`{"scalars":{"b":false,"by":0,"tiny":0,"small":0,"medium":0,"large":"0","d":0,"s":"","bin":"","color":"RED","ts":"0","hue":"RED"},"withDefault":-1,"origin":{"x":0,"y":0},"defList":[],"defMap":{},"req":"r","defColor":"RED"}`},
	}
	for _, tt := range tests {
		for _, proto := range protocols {
			t.Run(tt.name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				c, err := NewCodec(proto, 0)
				if err != nil {
					t.Fatal(err)
				}
				st := interopStruct(t, tt.st)
				want := serialize(t, proto, tt.value)
				got, err := c.EncodeStruct(st, []byte(tt.input))
				if err != nil {
					t.Fatalf("EncodeStruct: %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("encoding differs from generated code\n got %x\nwant %x", got, want)
				}
				out, err := c.DecodeStruct(st, want)
				if err != nil {
					t.Fatalf("DecodeStruct: %v", err)
				}
				wantJSON := tt.output
				if wantJSON == "" {
					wantJSON = tt.input
				}
				if string(out) != wantJSON {
					t.Errorf("decoded JSON\n got %s\nwant %s", out, wantJSON)
				}
			})
		}
	}
}

// TestDecodeUndeclaredEnum: a value the IDL does not declare, from a
// backend ahead of the gateway, is shown as its number, also as a map key.
func TestDecodeUndeclaredEnum(t *testing.T) {
	t.Parallel()
	v := withDefaults(&gen.Everything{Scalars: &gen.Scalars{Color: 9}, Req: "r", ColorNames: map[gen.Color]string{7: "seven"}})
	for _, proto := range protocols {
		c, _ := NewCodec(proto, 0)
		out, err := c.DecodeStruct(interopStruct(t, "Everything"), serialize(t, proto, v))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(out, []byte(`"color":9,`)) || !bytes.Contains(out, []byte(`"hue":0`)) || !bytes.Contains(out, []byte(`"colorNames":{"7":"seven"}`)) {
			t.Errorf("%s: %s", proto, out)
		}
	}
}

// TestInteropManyEntries covers maps with several entries, which generated
// Go writes in random order: the dynamic encoding is read back by the
// generated code and compared as values.
func TestInteropManyEntries(t *testing.T) {
	t.Parallel()
	js := `{"scalars":{},"req":"r","byName":{"a":{"x":1,"y":1},"b":{"x":2,"y":2},"c":{"x":3,"y":3}},` +
		`"colorNames":{"RED":"r","2":"g","BLUE":"b"},"defMap":{"x":1,"y":2,"z":3}}`
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			c, _ := NewCodec(proto, 0)
			b, err := c.EncodeStruct(interopStruct(t, "Everything"), []byte(js))
			if err != nil {
				t.Fatal(err)
			}
			got := gen.NewEverything()
			deserialize(t, proto, b, got)
			if len(got.ByName) != 3 || got.ByName["b"].X != 2 || len(got.ColorNames) != 3 || got.ColorNames[gen.Color_GREEN] != "g" ||
				len(got.DefMap) != 3 || got.DefMap["z"] != 3 {
				t.Errorf("generated code read %+v", got)
			}
		})
	}
}

// TestInteropFunctionStructs checks the synthesized args and result
// structs against the generated ones.
func TestInteropFunctionStructs(t *testing.T) {
	t.Parallel()
	q := int32(3)
	tests := []struct {
		name   string
		fn     string
		args   bool // else result
		value  athrift.TStruct
		json   string
		decode string // "" means json
	}{
		{"divide args", "divide", true, &gen.InteropDivideArgs{A: 7, B: -2}, `{"a":7,"b":-2}`, ""},
		{"divide result", "divide", false, &gen.InteropDivideResult{Success: &q}, `{"success":3}`, ""},
		{"divide ouch", "divide", false, &gen.InteropDivideResult{Ouch: &gen.InvalidOperation{WhatOp: 1, Why: "w"}}, `{"ouch":{"whatOp":1,"why":"w"}}`, ""},
		{"divide missing", "divide", false, &gen.InteropDivideResult{Missing: &gen.NotFound{Message: "m", ID: 5}}, `{"missing":{"message":"m","id":"5"}}`, ""},
		{"touch args", "touch", true, &gen.InteropTouchArgs{ID: 1}, `{"id":1}`, ""},
		{"touch result", "touch", false, &gen.InteropTouchResult{}, `{}`, ""},
		{"fire args", "fire", true, &gen.InteropFireArgs{Msg: "m", Times: 2}, `{"msg":"m","times":2}`, ""},
		{"sum args", "sum", true, &gen.InteropSumArgs{Xs: []int64{1, -1, math.MaxInt64}}, `{"xs":[1,"-1","9223372036854775807"]}`, `{"xs":["1","-1","9223372036854775807"]}`},
		{"points result", "points", false, &gen.InteropPointsResult{Success: map[string]*gen.Point{"1,2": {X: 1, Y: 2}}}, `{"success":{"1,2":{"x":1,"y":2}}}`, ""},
		{"ping args", "ping", true, &gen.BasePingArgs{}, `{}`, ""},
		{"ping result", "ping", false, &gen.BasePingResult{Success: athrift.StringPtr("pong")}, `{"success":"pong"}`, ""},
	}
	for _, tt := range tests {
		for _, proto := range protocols {
			t.Run(tt.name+"/"+proto, func(t *testing.T) {
				t.Parallel()
				c, _ := NewCodec(proto, 0)
				m, err := c.Method(interopFunc(t, tt.fn))
				if err != nil {
					t.Fatal(err)
				}
				want := serialize(t, proto, tt.value)
				var got, out []byte
				if tt.args {
					got, err = m.EncodeArgs([]byte(tt.json))
					if err == nil {
						out, err = m.DecodeArgs(want)
					}
				} else {
					got, err = m.EncodeResult([]byte(tt.json))
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("encoding differs\n got %x\nwant %x", got, want)
				}
				decode := tt.decode
				if decode == "" {
					decode = tt.json
				}
				if tt.args && string(out) != decode {
					t.Errorf("DecodeArgs = %s, want %s", out, decode)
				}
			})
		}
	}
}

// TestUUIDAgainstApache checks uuid, which the 0.17 compiler cannot
// generate, against the v0.25.0 library's protocols written by hand.
func TestUUIDAgainstApache(t *testing.T) {
	t.Parallel()
	p := parseIDL(t, `struct U { 1: uuid id, 2: list<uuid> ids, 3: map<uuid, i32> m }`)
	st := p.Root.Structs["U"]
	u, _ := athrift.ParseTuuid("00112233-4455-6677-8899-aabbccddeeff")
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			buf := athrift.NewTMemoryBuffer()
			w := protocolFactory(proto).GetProtocol(buf)
			must := func(err error) {
				if err != nil {
					t.Fatal(err)
				}
			}
			must(w.WriteStructBegin(ctx, "U"))
			must(w.WriteFieldBegin(ctx, "id", athrift.UUID, 1))
			must(w.WriteUUID(ctx, u))
			must(w.WriteFieldEnd(ctx))
			must(w.WriteFieldBegin(ctx, "ids", athrift.LIST, 2))
			must(w.WriteListBegin(ctx, athrift.UUID, 2))
			must(w.WriteUUID(ctx, u))
			must(w.WriteUUID(ctx, athrift.Tuuid{}))
			must(w.WriteListEnd(ctx))
			must(w.WriteFieldEnd(ctx))
			must(w.WriteFieldBegin(ctx, "m", athrift.MAP, 3))
			must(w.WriteMapBegin(ctx, athrift.UUID, athrift.I32, 1))
			must(w.WriteUUID(ctx, u))
			must(w.WriteI32(ctx, 1))
			must(w.WriteMapEnd(ctx))
			must(w.WriteFieldEnd(ctx))
			must(w.WriteFieldStop(ctx))
			must(w.WriteStructEnd(ctx))
			must(w.Flush(ctx))

			c, _ := NewCodec(proto, 0)
			js := `{"id":"00112233-4455-6677-8899-AABBCCDDEEFF","ids":["00112233-4455-6677-8899-aabbccddeeff","00000000-0000-0000-0000-000000000000"],` +
				`"m":[{"key":"00112233-4455-6677-8899-aabbccddeeff","value":1}]}`
			got, err := c.EncodeStruct(st, []byte(js))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, buf.Bytes()) {
				t.Errorf("got %x\nwant %x", got, buf.Bytes())
			}
			out, err := c.DecodeStruct(st, got)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"id":"00112233-4455-6677-8899-aabbccddeeff","ids":["00112233-4455-6677-8899-aabbccddeeff","00000000-0000-0000-0000-000000000000"],` +
				`"m":[{"key":"00112233-4455-6677-8899-aabbccddeeff","value":1}]}`
			if string(out) != want {
				t.Errorf("decoded %s", out)
			}
		})
	}
}

package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// duplicateKeyReference is DuplicateKey as it was first written, on
// encoding/json's tokens: the scanner must find what it found.
func duplicateKeyReference(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		keys      map[string]struct{}
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.expectKey {
			if k, ok := tok.(string); ok {
				if _, dup := top.keys[k]; dup {
					return k, true
				}
				top.keys[k] = struct{}{}
				top.expectKey = false
				continue
			}
		}
		if top != nil && top.keys != nil {
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]struct{}{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].expectKey = true
			}
		}
	}
}

var duplicateKeySeeds = []string{
	`{"a":1,"b":2}`, `{"a":1,"a":2}`, `{"a":{"b":1},"c":{"b":2}}`, `{"x":[{"k":1,"k":2}]}`,
	`[{"a":1},{"a":1}]`, `{"a":[1,"a"],"b":{"a":{}},"a":0}`, `{"a":1,"\u0061":2}`, `{"\ud800":1,"\udbff":2}`,
	"{\"\xff\":1,\"\xfe\":2}", `{"é":1,"\u00e9":2}`, `{"a\"b":1,"a\u0022b":2}`, ` { "a" : "a" , "b" : [ "a" , "b" ] } `,
	`{"a":true,"b":null,"c":-1.5e3,"c":false}`, `"a"`, `[]`, `{}`, `{"":1,"":2}`, `{"a":{"a":{"a":1}}}`,
}

func TestDuplicateKeyMatchesTokens(t *testing.T) {
	t.Parallel()
	cases := append([]string(nil), duplicateKeySeeds...)
	// Objects past the point where a set takes over from the list.
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&many, `"k%d":{"k%d":1},`, i, i)
	}
	cases = append(cases, many.String()+`"z":1}`, many.String()+`"k39":1}`, many.String()+`"k3":1}`)
	for _, give := range cases {
		k, dup := DuplicateKey([]byte(give))
		wk, wdup := duplicateKeyReference([]byte(give))
		if k != wk || dup != wdup {
			t.Errorf("DuplicateKey(%s) = %q, %v; encoding/json's tokens find %q, %v", give, k, dup, wk, wdup)
		}
	}
}

func FuzzDuplicateKey(f *testing.F) {
	for _, s := range duplicateKeySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k, dup := DuplicateKey(b) // must not panic on anything
		if !json.Valid(b) {
			return
		}
		if wk, wdup := duplicateKeyReference(b); k != wk || dup != wdup {
			t.Errorf("DuplicateKey(%q) = %q, %v; encoding/json's tokens find %q, %v", b, k, dup, wk, wdup)
		}
	})
}

func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"id":"42","items":[{"sku":"BOOK","quantity":1},{"sku":"PEN","quantity":3}],"total_cents":2398,"note":"gift \"wrap\""}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, dup := DuplicateKey(body); dup {
			b.Fatal("dup")
		}
	}
}

var validJSONSeeds = []string{
	``, ` `, `1`, `-`, `-0`, `01`, `1.`, `1.5`, `1e`, `1e+`, `1E-5`, `-1.5e+10`, `0x1`, `1_0`, `.5`, `true`, `tru`, `truex`, `nul`, `null `,
	`"a"`, `"a`, `"\"`, `"\u00e9"`, `"\u00g9"`, `"\x"`, "\"\x01\"", "\"\xff\"", "\"\x7f\"", `"\/"`, `{}`, `[]`, `{ }`, `[ ]`, `[1,]`, `[,1]`,
	`{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":[1,{"b":null}]}`, `[[[]]]`, `[[[]]`, `]`, `}`,
	`1 1`, `{} {}`, "\t\r\n[\t1\r,\n2 ]\n", `[true,false,null,"x",-0.0e0]`, `{"a":{"b":{"c":[]}}}`, `["\ud800"]`, `"\u12"`, `[1]]`,
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := append([]string(nil), validJSONSeeds...)
	for _, n := range []int{9999, 10000, 10001} {
		cases = append(cases, strings.Repeat("[", n)+strings.Repeat("]", n), strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n))
	}
	for _, give := range cases {
		if got, want := ValidJSON([]byte(give)), json.Valid([]byte(give)); got != want {
			t.Errorf("ValidJSON(%.60q) = %v, json.Valid says %v", give, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range append(validJSONSeeds, duplicateKeySeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Errorf("ValidJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	body := []byte(`{"id":"42","items":[{"sku":"BOOK","quantity":1},{"sku":"PEN","quantity":3}],"total_cents":2398,"note":"gift \"wrap\"","ratio":-1.5e3,"ok":true,"none":null}`)
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"ValidJSON", ValidJSON}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !c.valid(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// TestCanonicalPrefixed: the one-allocation name is CanonicalHeaderKey's.
func TestCanonicalPrefixed(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"x-user-id", "trace-bin", "a", "", "x--y", "-x", "X_Y", "kéy", "a b", "Ab-cD", strings.Repeat("k", 80), "x.y~z"} {
		for _, prefix := range []string{"Grpc-Metadata-", "grpc-metadata-", ""} {
			if got, want := canonicalPrefixed(prefix, k), http.CanonicalHeaderKey(prefix+k); got != want {
				t.Errorf("canonicalPrefixed(%q, %q) = %q, want %q", prefix, k, got, want)
			}
		}
	}
}

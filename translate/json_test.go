package translate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestCompactJSON(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{
		`{ "a" : [1, 2] }`:            `{"a":[1,2]}`,
		"{\n\t\"a b\": \"c  d\"\r\n}": `{"a b":"c  d"}`,
		`{"q": "say \"hi there\""}`:   `{"q":"say \"hi there\""}`,
		`{"s": "\\", "t": " "}`:       `{"s":"\\","t":" "}`,
	} {
		if got := string(CompactJSON([]byte(give))); got != want {
			t.Errorf("CompactJSON(%q) = %q, want %q", give, got, want)
		}
	}
}

func TestDeeperThan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		max  int
		want bool
	}{
		{`{"a":{"b":1}}`, 2, false},
		{`{"a":{"b":1}}`, 1, true},
		{`[[[]]]`, 2, true},
		{`{"a":"[[[[{{{{"}`, 1, false},          // brackets in strings do not nest
		{`{"a":"\"[[[["}`, 1, false},            // nor after an escaped quote
		{`{"a":"\\"}` + `{"b":[[1]]}`, 2, true}, // an escaped backslash ends the escape
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), 64, true},
	}
	for _, tt := range tests {
		if got := DeeperThan([]byte(tt.give), tt.max); got != tt.want {
			t.Errorf("DeeperThan(%q, %d) = %v, want %v", tt.give, tt.max, got, tt.want)
		}
	}
}

func TestShapeOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give               string
		values, containers int
	}{
		{`1`, 1, 0},
		{`"s"`, 1, 0},
		{`{}`, 1, 1},
		{`{"a":1,"b":"x","c":null,"d":true}`, 5, 1},
		{`[1, 2, [3, {"k": [false]}], "]"]`, 9, 4},
		{`{"a:b,c":"{[,]}"}`, 2, 1},
		{`{"a\"":{"b":-1.5e3}}`, 3, 2},
		{`[[],[],[]]`, 4, 4},
		{strings.Repeat(`{"k":`, 70) + `0` + strings.Repeat(`}`, 70), 71, 70}, // deeper than the bit stack
		{`[` + strings.Repeat(`{"a":[1,{"b":2}]},`, 3) + `0]`, 1 + 3*5 + 1, 1 + 3*3},
	}
	for _, tt := range tests {
		got := ShapeOf([]byte(tt.give), 0, 0)
		if got.Values != tt.values || got.Containers != tt.containers {
			t.Errorf("ShapeOf(%.40q) = %+v, want %d values, %d containers", tt.give, got, tt.values, tt.containers)
		}
	}
	if got := ShapeOf([]byte(`[`+strings.Repeat(`[],`, 1000)+`[]]`), 0, 10); got.Containers != 11 {
		t.Errorf("stops past the limit: %+v", got)
	}
}

// FuzzShapeOf checks the count against encoding/json's own decoding.
func FuzzShapeOf(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[]`, `"x"`, `{"a\"b":"c\\"}`, `[1,[2,[3]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if json.Unmarshal(b, &v) != nil {
			ShapeOf(b, 0, 0) // must not panic on anything
			_ = CheckText(b)
			return
		}
		var want JSONShape
		var walk func(any)
		walk = func(v any) {
			want.Values++
			switch v := v.(type) {
			case map[string]any:
				want.Containers++
				for _, e := range v {
					walk(e)
				}
			case []any:
				want.Containers++
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(v)
		if got := ShapeOf(b, 0, 0); got.Containers != want.Containers || (got.Values != want.Values && !hasDuplicateKeys(b)) {
			t.Fatalf("ShapeOf(%q) = %+v, want %+v", b, got, want)
		}
	})
}

// hasDuplicateKeys: encoding/json keeps one value of a repeated key, so
// its count is lower than the text's.
func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []map[string]bool
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = true
				continue
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey && len(stack) > 0 && stack[len(stack)-1] != nil {
				if stack[len(stack)-1][tok] {
					return true
				}
				stack[len(stack)-1][tok] = true
				expectKey = false
				continue
			}
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil && dec.More()
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct{ give, want string }{
		{`{"a":"ok \u00e9 \ud83d\ude00"}`, ""},
		{`{"a":"\\ud800"}`, ""}, // an escaped backslash, then text
		{`{"a":"\ud800"}`, `\ud800, half of a UTF-16 surrogate pair`},
		{`{"a":"\udc00x"}`, `\udc00`},
		{`{"a":"\ud800\u0041"}`, `\ud800`},
		{"{\n\"a\":\"\\ud800\"}", "(line 2:6)"},
		{"{\"a\":\"\xff\"}", "not valid UTF-8 (line 1:7)"},
		{"{\"a\":\"\xed\xa0\x80\"}", "not valid UTF-8"}, // a surrogate encoded as UTF-8
	}
	for _, tt := range tests {
		err := CheckText([]byte(tt.give))
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckText(%q) = %v", tt.give, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) || FromError(err).Status() != 400 {
			t.Errorf("CheckText(%q) = %v, want a 400 containing %q", tt.give, err, tt.want)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{
		`{"a":1,"b":2}`:                    "",
		`{"a":1,"a":2}`:                    "a",
		`{"a":{"b":1},"c":{"b":2}}`:        "",
		`{"x":[{"k":1,"k":2}]}`:            "k",
		`[{"a":1},{"a":1}]`:                "",
		`{"a":[1,"a"],"b":{"a":{}},"a":0}`: "a",
	} {
		k, dup := DuplicateKey([]byte(give))
		if dup != (want != "") || k != want {
			t.Errorf("DuplicateKey(%s) = %q, %v; want %q", give, k, dup, want)
		}
	}
}

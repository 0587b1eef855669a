package translate

import (
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

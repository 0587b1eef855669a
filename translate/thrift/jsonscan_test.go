package thrift

import (
	"bytes"
	"encoding/json"
	"testing"
)

var unquoteSeeds = []string{
	`"plain"`, `"h\u00e9llo \"w\u00f6rld\"\n"`, `"\b\f\n\r\t\/\\"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83d\u0041"`,
	`"\ud83dx"`, `"\ud83d\ud83d\ude00"`, `"\uD83D\uDE00"`, `"é\u0000"`, "\"\xff\\n\"", `""`, `"\u"`,
}

// TestUnquoteMatchesEncodingJSON: escapes decode as encoding/json decodes
// them, lone surrogates included.
func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, give := range unquoteSeeds {
		checkUnquote(t, []byte(give))
	}
}

func FuzzUnquote(f *testing.F) {
	for _, s := range unquoteSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkUnquote(t, b)
	})
}

func checkUnquote(t *testing.T, q []byte) {
	t.Helper()
	if len(q) < 2 || q[0] != '"' || !json.Valid(q) {
		return // unquote is only given valid JSON strings
	}
	if end, _ := stringEnd(q, 0); end != len(q) {
		return // unquote is only given valid JSON strings
	}
	got, ok := unquote(q)
	var want string
	err := json.Unmarshal(q, &want)
	wantOK := err == nil && validUTF8(q[1:len(q)-1])
	if ok != wantOK || ok && string(got) != want {
		t.Errorf("unquote(%q) = %q, %v; encoding/json gives %q (%v)", q, got, ok, want, err)
	}
}

func validUTF8(b []byte) bool { return bytes.Equal(b, bytes.ToValidUTF8(b, nil)) }

package stream

import (
	"strings"
	"testing"
)

func TestNegotiate(t *testing.T) {
	many := func(n int, r string) string {
		return strings.TrimSuffix(strings.Repeat(r+", ", n), ", ")
	}
	const no = Framing(255) // want ok false
	tests := []struct {
		name   string
		accept []string
		want   Framing
	}{
		{"absent", nil, NDJSON},
		{"empty value", []string{""}, NDJSON},
		{"only commas", []string{" , ,"}, NDJSON},
		{"any", []string{"*/*"}, NDJSON},
		{"application any", []string{"application/*"}, NDJSON},
		{"text any", []string{"text/*"}, SSE},
		{"ndjson", []string{"application/x-ndjson"}, NDJSON},
		{"sse", []string{"text/event-stream"}, SSE},
		{"json", []string{"application/json"}, JSONArray},
		{"lower q loses", []string{"text/event-stream;q=0.5, application/json"}, JSONArray},
		{"higher q wins", []string{"application/json;q=0.4, text/event-stream;q=0.5"}, SSE},
		{"q=0 excludes", []string{"application/x-ndjson;q=0, */*"}, SSE},
		{"q=0 excludes wildcard match", []string{"*/*, application/x-ndjson;q=0, text/event-stream;q=0"}, JSONArray},
		{"q=0 everything", []string{"*/*;q=0"}, no},
		{"q=0 only choice", []string{"application/json;q=0"}, no},
		{"specific q=0 beats wildcard", []string{"application/*, application/x-ndjson;q=0.000"}, JSONArray},
		{"specific beats wildcard on tie", []string{"application/json, text/plain, */*"}, JSONArray},
		{"wildcard weight below specific", []string{"*/*;q=0.1, text/event-stream;q=0.2"}, SSE},
		{"tie order sse before json", []string{"application/json, text/event-stream"}, SSE},
		{"tie order ndjson first", []string{"application/json, application/x-ndjson, text/event-stream"}, NDJSON},
		{"html", []string{"text/html"}, no},
		{"browser", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, NDJSON},
		{"charset", []string{"application/json; charset=utf-8"}, JSONArray},
		{"params and q", []string{`text/event-stream;charset="utf-8";q=0.9;ext=1, application/json;q=0.8`}, SSE},
		{"quoted comma", []string{`text/html;x="a,application/json", text/event-stream;q=0.1`}, SSE},
		{"uppercase", []string{"TEXT/EVENT-STREAM"}, SSE},
		{"mixed case q", []string{"Application/JSON;Q=1, text/event-stream;q=0.9"}, JSONArray},
		{"OWS", []string{"  application/json\t;\tq=1  "}, JSONArray},
		{"empty parameter", []string{"application/json;;q=1"}, JSONArray},
		{"garbage", []string{"garbage"}, no},
		{"garbage then good", []string{"@@@, ;;;, text/event-stream"}, SSE},
		{"no subtype", []string{"application/"}, no},
		{"star type", []string{"*/json"}, no},
		{"bad q", []string{"application/json;q=abc"}, no},
		{"q above one", []string{"application/json;q=1.5"}, no},
		{"q four decimals", []string{"application/json;q=0.1234"}, no},
		{"q NaN", []string{"application/json;q=NaN"}, no},
		{"q exponent", []string{"application/json;q=1e0"}, no},
		{"q negative", []string{"application/json;q=-1"}, no},
		{"q empty", []string{"application/json;q="}, no},
		{"unterminated quote", []string{`application/json;a="x, text/event-stream`}, no},
		{"repeated headers", []string{"text/html", "application/json;q=0.5", "text/event-stream;q=0.7"}, SSE},
		{"repeated headers exclusion", []string{"*/*", "application/x-ndjson;q=0"}, SSE},
		{"64 ranges", []string{many(63, "text/html") + ", application/json"}, JSONArray},
		{"65 ranges", []string{many(64, "text/html") + ", application/json"}, no},
		{"200 ranges", []string{many(200, "application/json")}, no},
		{"ranges over headers", []string{many(40, "text/html"), many(40, "application/json")}, no},
		{"100 KiB header", []string{"application/json;x=" + strings.Repeat("a", 100<<10)}, no},
		{"8 KiB exactly", []string{"application/json;x=" + strings.Repeat("a", 8<<10-len("application/json;x="))}, JSONArray},
		{"8 KiB over", []string{"application/json;x=" + strings.Repeat("a", 8<<10-len("application/json;x=")+1)}, no},
		{"many empty headers", make([]string, 10000), no},
		{"non-ascii", []string{"application/jſon"}, no},
		{"kelvin", []string{"text/event-\u212Aeam"}, no},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := Negotiate(tt.accept)
			if tt.want == no {
				if ok {
					t.Fatalf("Negotiate = %v, true; want ok false", f)
				}
				return
			}
			if !ok || f != tt.want {
				t.Fatalf("Negotiate = %v, %v; want %v, true", f, ok, tt.want)
			}
		})
	}
}

func TestFramingNames(t *testing.T) {
	for _, tt := range []struct {
		f          Framing
		ct, name   string
		negotiates bool
	}{
		{NDJSON, "application/x-ndjson", "ndjson", true},
		{SSE, "text/event-stream", "sse", true},
		{JSONArray, "application/json", "json", true},
		{Framing(9), "", "Framing(9)", false},
	} {
		if got := tt.f.ContentType(); got != tt.ct {
			t.Errorf("%d.ContentType() = %q, want %q", tt.f, got, tt.ct)
		}
		if got := tt.f.String(); got != tt.name {
			t.Errorf("%d.String() = %q, want %q", tt.f, got, tt.name)
		}
		if tt.negotiates {
			if f, ok := Negotiate([]string{tt.ct}); !ok || f != tt.f {
				t.Errorf("Negotiate(%q) = %v, %v", tt.ct, f, ok)
			}
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	accept := []string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	b.ReportAllocs()
	for b.Loop() {
		Negotiate(accept)
	}
}

package pipeline

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseGRPCTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    time.Duration
		wantErr bool
	}{
		{"1H", time.Hour, false},
		{"2M", 2 * time.Minute, false},
		{"3S", 3 * time.Second, false},
		{"1m", time.Millisecond, false}, // m is milli, M is minute
		{"100m", 100 * time.Millisecond, false},
		{"5u", 5 * time.Microsecond, false},
		{"7n", 7 * time.Nanosecond, false},
		{"99999999H", time.Duration(math.MaxInt64), false}, // beyond time.Duration: no limit, not an overflow
		{"", 0, true},
		{"S", 0, true},
		{"10", 0, true},
		{"1x", 0, true},
		{"-1S", 0, true},
		{"123456789S", 0, true}, // more than 8 digits
		{"1.5S", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseGRPCTimeout(tt.give)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseGRPCTimeout(%q) = %v, %v; want %v (error %v)", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    time.Duration
		wantErr bool
	}{
		{"250ms", 250 * time.Millisecond, false},
		{"2s", 2 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"3", 3 * time.Second, false},
		{" 2s ", 2 * time.Second, false},
		{"1e300", 0, true}, // exponents are not decimal seconds
		{"1e400", 0, true},
		{"1_0", 0, true},
		{"0x1p-2", 0, true},
		{".", 0, true},
		{"1.2.3", 0, true},
		{"99999999999", 0, true}, // seconds beyond time.Duration
		{"", 0, true},
		{"0", 0, true},
		{"0s", 0, true},
		{"-1s", 0, true},
		{"-2", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
		{"soon", 0, true},
		{"1S", 0, true},                    // gRPC's format belongs in Grpc-Timeout
		{"99999999999h", 0, true},          // refused rather than guessed
		{strings.Repeat("9", 64), 0, true}, // oversized
		{"1s\r\nX-Evil: 1", 0, true},       // smuggled
		{"1s, 2s", 0, true},                // a list
	}
	for _, tt := range tests {
		got, err := ParseTimeout(tt.give)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v (error %v)", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestClientTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		header      http.Header
		want        time.Duration
		wantLimited bool
		wantErr     string
	}{
		{"none", http.Header{}, forever, false, ""},
		{"grpc", http.Header{"Grpc-Timeout": {"100m"}}, 100 * time.Millisecond, true, ""},
		{"generic", http.Header{"Request-Timeout": {"2s"}}, 2 * time.Second, true, ""},
		{"x generic", http.Header{"X-Request-Timeout": {"0.5"}}, 500 * time.Millisecond, true, ""},
		{"shortest wins", http.Header{"Grpc-Timeout": {"3S"}, "Request-Timeout": {"1s"}, "X-Request-Timeout": {"2s"}}, time.Second, true, ""},
		{"no limit", http.Header{"Grpc-Timeout": {"99999999H"}}, forever, false, ""},
		{"repeated", http.Header{"Request-Timeout": {"1s", "9s"}}, 0, false, "Request-Timeout is given more than once"},
		{"empty grpc", http.Header{"Grpc-Timeout": {""}}, forever, false, ""},
		{"huge grpc echoed short", http.Header{"Grpc-Timeout": {strings.Repeat("9", 60000)}}, 0, false, `..."`},
		{"invalid UTF-8 quoted", http.Header{"Grpc-Timeout": {"\xff\xfeS"}}, 0, false, `"\xff\xfeS"`},
		{"bad", http.Header{"X-Request-Timeout": {"later"}}, 0, false, `invalid timeout "later"`},
		{"bad grpc", http.Header{"Grpc-Timeout": {"1x"}}, 0, false, `invalid Grpc-Timeout "1x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, limited, err := ClientTimeout(tt.header)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || limited != tt.wantLimited {
				t.Errorf("= %v, %v, %v; want %v, %v", got, limited, err, tt.want, tt.wantLimited)
			}
		})
	}
}

func TestAcceptsJSON(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]bool{
		"":                                 true,
		"application/json":                 true,
		"Application/JSON; charset=utf-8":  true,
		"*/*":                              true,
		"application/*":                    true,
		"text/html, */*;q=0.8":             true,
		"application/xml":                  false,
		"text/html, application/xhtml+xml": false,
		"application/json;q=0":             false,
		"application/json;q=0, */*":        false, // the specific range decides
		"*/*;q=0, application/json;q=0.5":  true,
		"application/json-patch+json":      false,
	} {
		var vs []string
		if give != "" {
			vs = []string{give}
		}
		if got := AcceptsJSON(vs); got != want {
			t.Errorf("AcceptsJSON(%q) = %v, want %v", give, got, want)
		}
	}
}

package grpc

import (
	"github.com/switchboard-gw/switchboard/translate"
	"math"
	"testing"
	"time"
)

func TestParseTimeout(t *testing.T) {
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
		got, err := ParseTimeout(tt.give)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v (error %v)", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestMetadataKeyRules(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]bool{"x-tenant": true, "trace.id": true, "a_b": true, "": false, "X-Up": false, "a b": false, "é": false} {
		if got := validMetadataKey(give); got != want {
			t.Errorf("validMetadataKey(%q) = %v", give, got)
		}
	}
	for give, want := range map[string]bool{"connection": true, "upgrade": true, "host": true, "x-tenant": false} {
		if got := translate.HopByHop(give); got != want {
			t.Errorf("hopByHop(%q) = %v", give, got)
		}
	}
}

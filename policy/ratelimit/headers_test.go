package ratelimit

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestSetHeaders(t *testing.T) {
	l := Limit{Rate: 200, Per: time.Second, Burst: 50} // window 250ms
	tests := []struct {
		name    string
		policy  string
		limit   Limit
		d       Decision
		headers http.Header
	}{{
		name:   "allowed",
		policy: "per-client",
		limit:  l,
		d:      Decision{Allowed: true, Remaining: 49, Reset: 5 * time.Millisecond},
		headers: http.Header{
			"Ratelimit-Policy": {`"per-client";q=50;w=1`},
			"Ratelimit":        {`"per-client";r=49;t=1`},
		},
	}, {
		name:   "full bucket",
		policy: "per-client",
		limit:  Limit{Rate: 30, Per: time.Minute, Burst: 10},
		d:      Decision{Allowed: true, Remaining: 10},
		headers: http.Header{
			"Ratelimit-Policy": {`"per-client";q=10;w=20`},
			"Ratelimit":        {`"per-client";r=10;t=0`},
		},
	}, {
		name:   "refused",
		policy: "login",
		limit:  Limit{Rate: 0.5, Per: time.Second, Burst: 3}, // window 6s
		d:      Decision{RetryAfter: 1500 * time.Millisecond, Reset: 5500 * time.Millisecond},
		headers: http.Header{
			"Ratelimit-Policy": {`"login";q=3;w=6`},
			"Ratelimit":        {`"login";r=0;t=6`},
			"Retry-After":      {"2"},
		},
	}, {
		name:   "refused for under a second",
		policy: "api",
		limit:  l,
		d:      Decision{RetryAfter: time.Microsecond, Reset: 250 * time.Millisecond},
		headers: http.Header{
			"Ratelimit-Policy": {`"api";q=50;w=1`},
			"Ratelimit":        {`"api";r=0;t=1`},
			"Retry-After":      {"1"},
		},
	}, {
		name:   "name escaped as a structured-field string",
		policy: "a \"b\"\\c\n\xff",
		limit:  l,
		d:      Decision{Allowed: true, Remaining: 1, Reset: time.Second},
		headers: http.Header{
			"Ratelimit-Policy": {`"a \"b\"\\c??";q=50;w=1`},
			"Ratelimit":        {`"a \"b\"\\c??";r=1;t=1`},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			SetHeaders(h, tt.policy, tt.limit, tt.d)
			if !reflect.DeepEqual(h, tt.headers) {
				t.Errorf("got %q\nwant %q", h, tt.headers)
			}
		})
	}
}

func TestSetHeadersSeveralPolicies(t *testing.T) {
	h := http.Header{}
	SetHeaders(h, "per-key", Limit{Rate: 10, Per: time.Second, Burst: 10}, Decision{RetryAfter: 3 * time.Second, Reset: 4 * time.Second})
	SetHeaders(h, "per-ip", Limit{Rate: 1, Per: time.Second, Burst: 5}, Decision{RetryAfter: time.Second, Reset: 5 * time.Second})
	SetHeaders(h, "global", Limit{Rate: 1, Per: time.Second, Burst: 5}, Decision{Allowed: true, Remaining: 4, Reset: time.Second})
	want := http.Header{
		"Ratelimit-Policy": {`"per-key";q=10;w=1`, `"per-ip";q=5;w=5`, `"global";q=5;w=5`},
		"Ratelimit":        {`"per-key";r=0;t=4`, `"per-ip";r=0;t=5`, `"global";r=4;t=1`},
		"Retry-After":      {"3"}, // the longer wait
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %q\nwant %q", h, want)
	}
}

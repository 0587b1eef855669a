package policy

import (
	"net/url"
	"testing"
)

// An authorization service sees the path the router matched: encoded
// unreserved characters decoded, other escapes kept, upper-cased.
func TestNormalizedURI(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/%61dmin/x":          "/v1/admin/x",
		"/v1/a%2fb":              "/v1/a%2Fb",
		"/v1/%7e%2D%2e%5f":       "/v1/~-._",
		"/v1/%20x?q=%61":         "/v1/%20x?q=%61",
		"/v1/plain":              "/v1/plain",
		"/v1/%e2%82%ac":          "/v1/%E2%82%AC",
		"/v1/%41%42%43%2F%2e%2e": "/v1/ABC%2F..",
	} {
		u, err := url.ParseRequestURI(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := normalizedURI(u); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

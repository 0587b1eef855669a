package translate

import "testing"

func TestHeaderRules(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]bool{"x-tenant": true, "trace.id": true, "a_b": true, "": false, "X-Up": false, "a b": false, "é": false} {
		if got := ValidMetadataKey(give); got != want {
			t.Errorf("ValidMetadataKey(%q) = %v", give, got)
		}
	}
	for give, want := range map[string]bool{"X-Tenant": true, "a!#$%&'*+-.^_`|~z": true, "": false, "a b": false, "a:b": false, "é": false, "a\r\nb": false} {
		if got := ValidHeaderName(give); got != want {
			t.Errorf("ValidHeaderName(%q) = %v", give, got)
		}
	}
	for give, want := range map[string]bool{"connection": true, "upgrade": true, "host": true, "Transfer-Encoding": true, "x-tenant": false} {
		if got := HopByHop(give); got != want {
			t.Errorf("HopByHop(%q) = %v", give, got)
		}
	}
}

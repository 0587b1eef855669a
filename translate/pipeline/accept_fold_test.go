package pipeline

import (
	"strings"
	"testing"
)

// TestLowerIs: the byte comparison agrees with strings.ToLower for the
// media ranges AcceptsJSON looks for, non-ASCII look-alikes included.
func TestLowerIs(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"application/json", "application/*"} {
		for _, give := range []string{want, strings.ToUpper(want), "Application/JSON", "application/jſon", "\u212aapplication/json",
			"applİcation/json", "application/jso", "application/jsonx", "application/js\u00f6n"} {
			if got, old := lowerIs(give, want), strings.ToLower(give) == want; got != old {
				t.Errorf("lowerIs(%q, %q) = %v, strings.ToLower says %v", give, want, got, old)
			}
		}
	}
}

package yamlpos

import "testing"

func TestFormat(t *testing.T) {
	t.Parallel()
	for give, want := range map[string]string{
		"yaml: line 3: did not find expected key": "f.yaml:3: did not find expected key",
		"line 12: cannot unmarshal !!str `x`":     "f.yaml:12: cannot unmarshal !!str `x`",
		"yaml: unmarshal errors":                  "f.yaml: unmarshal errors",
		"yaml: line x: odd":                       "f.yaml: line x: odd",
		"":                                        "f.yaml: ",
	} {
		if got := Format("f.yaml", give); got != want {
			t.Errorf("Format(%q) = %q, want %q", give, got, want)
		}
	}
}

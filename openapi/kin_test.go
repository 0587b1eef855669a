package openapi_test

import (
	"context"
	"os"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestDemoDocumentKinOpenAPI validates the demo's golden document with a
// maintained OpenAPI 3.1 library, beside the package's own structural
// checks.
func TestDemoDocumentKinOpenAPI(t *testing.T) {
	for _, f := range []string{"testdata/demo.json", "testdata/demo.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s does not validate: %v", f, err)
		}
	}
}

package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
	grpcproto "github.com/switchboard-gw/switchboard/translate/grpc"
	thriftproto "github.com/switchboard-gw/switchboard/translate/thrift"
)

// repoRoot is where the demo's relative paths start.
const repoRoot = ".."

// demoGateway builds the demo's gateway (examples/demo.yaml) as the demo
// command does, without its mocks: building a gateway does not dial, so
// the backends' ports may be closed.
func demoGateway(t testing.TB) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Load(filepath.Join(repoRoot, "examples", "demo.yaml"), builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	for i := range cfg.Descriptors {
		for j, p := range cfg.Descriptors[i].ImportPaths {
			cfg.Descriptors[i].ImportPaths[j] = filepath.Join(repoRoot, p)
		}
	}
	for _, b := range cfg.Backends {
		switch sec := b.Section.(type) {
		case *grpcproto.BackendConfig:
			sec.Endpoints = []string{"127.0.0.1:1"}
		case *thriftproto.BackendConfig:
			sec.Endpoints = []string{"127.0.0.1:1"}
			sec.IDL = filepath.Join(repoRoot, sec.IDL)
		}
	}
	return newGateway(t, cfg)
}

// gatewayOf builds a gateway from config text, relative paths starting
// in the test's directory.
func gatewayOf(t testing.TB, yaml string) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	return newGateway(t, cfg)
}

func newGateway(t testing.TB, cfg *config.Config) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(context.Background(), cfg, slog.New(slog.DiscardHandler), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// checkDocument checks what OpenAPI 3.1 asks of a document's structure
// that JSON Schema for the document alone would not: every reference
// resolves, every {param} of a path is declared once as a required path
// parameter and nothing else is, operation ids are unique, security
// requirements name schemes, tags are declared, patterns compile.
func checkDocument(t *testing.T, doc *Document) {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if doc.OpenAPI != "3.1.0" || doc.Info.Title == "" || doc.Info.Version == "" {
		fail("openapi %q, info %+v", doc.OpenAPI, doc.Info)
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	walkRefs(tree, func(ref string) {
		if resolvePointer(tree, ref) == nil {
			fail("reference %s resolves to nothing", ref)
		}
	})
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	ids := map[string]string{}
	shapes := map[string]string{}
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/") {
			fail("path %s does not start with /", path)
		}
		if other, dup := shapes[shapeOf(path)]; dup {
			fail("paths %s and %s differ only in parameter names", path, other)
		}
		shapes[shapeOf(path)] = path
		var inPath []string
		for _, m := range paramName.FindAllString(path, -1) {
			inPath = append(inPath, strings.Trim(m, "{}"))
		}
		for _, method := range []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"} {
			op := item.Operation(method)
			if op == nil {
				continue
			}
			where := method + " " + path
			if prev, dup := ids[op.OperationID]; dup || op.OperationID == "" {
				fail("%s: operationId %q is also %s's", where, op.OperationID, prev)
			}
			ids[op.OperationID] = where
			for _, tag := range op.Tags {
				if !tags[tag] {
					fail("%s: tag %s is not declared", where, tag)
				}
			}
			seen := map[string]bool{}
			var declared []string
			for _, p := range op.Parameters {
				key := p.In + " " + p.Name
				if seen[key] {
					fail("%s: parameter %s twice", where, key)
				}
				seen[key] = true
				if (p.Schema == nil) == (p.Content == nil) {
					fail("%s: parameter %s needs a schema or content, not both", where, key)
				}
				switch p.In {
				case "path":
					declared = append(declared, p.Name)
					if !p.Required {
						fail("%s: path parameter %s is not required", where, p.Name)
					}
				case "query", "header":
				default:
					fail("%s: parameter %s is in %q", where, p.Name, p.In)
				}
				if p.Schema != nil && p.Schema.Pattern != "" {
					if _, err := regexp.Compile(p.Schema.Pattern); err != nil {
						fail("%s: parameter %s: pattern %v", where, p.Name, err)
					}
				}
			}
			slices.Sort(inPath)
			slices.Sort(declared)
			if !slices.Equal(inPath, declared) {
				fail("%s: the path has parameters %v, the operation declares %v", where, inPath, declared)
			}
			if len(op.Responses) == 0 {
				fail("%s: no responses", where)
			}
			for code, r := range op.Responses {
				if r.Ref == "" && r.Description == "" {
					fail("%s: response %s has no description", where, code)
				}
			}
			for _, req := range op.Security {
				for name := range req {
					if doc.Components.SecuritySchemes[name] == nil {
						fail("%s: security scheme %s is not declared", where, name)
					}
				}
			}
			if op.RequestBody != nil && len(op.RequestBody.Content) == 0 {
				fail("%s: a request body without content", where)
			}
		}
	}
	for name, r := range doc.Components.Responses {
		if r.Description == "" {
			fail("response %s has no description", name)
		}
	}
	if len(problems) > 0 {
		t.Errorf("the document does not hold together:\n%s", strings.Join(problems, "\n"))
	}
}

func walkRefs(v any, visit func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				visit(s)
			}
			walkRefs(e, visit)
		}
	case []any:
		for _, e := range x {
			walkRefs(e, visit)
		}
	}
}

// resolvePointer follows a local reference ("#/components/schemas/A").
func resolvePointer(tree any, ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	cur := tree
	for _, seg := range strings.Split(p, "/") {
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[seg]; !ok {
			return nil
		}
	}
	return cur
}

package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// TestExamplesValidate: every file in examples/ is a valid config, and
// those that need no running backend build a gateway (schemas compiled,
// IDL parsed, routes resolved) as serve would.
func TestExamplesValidate(t *testing.T) {
	t.Chdir("../..")
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := config.Load(f, builtin.Protocols().Config())
			if err != nil {
				t.Fatal(err)
			}
			if f == "examples/nats.yaml" || f == "examples/demo.yaml" {
				return // they start an embedded NATS server on a fixed port; the demo test runs demo.yaml
			}
			g, err := gateway.New(context.Background(), cfg, slog.New(slog.DiscardHandler), observability.NewMetrics())
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if g.State().Table.Len() == 0 {
				t.Error("no routes")
			}
		})
	}
}

// TestReadmeYAMLBlocks: every YAML block in the README is valid as what it
// shows: a gateway config, or a stub file.
func TestReadmeYAMLBlocks(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d YAML blocks", len(blocks))
	}
	for i, b := range blocks {
		text := b[1]
		if regexp.MustCompile(`(?m)^stubs:`).Match(text) {
			if _, err := mock.ParseStubs(text, "README.md block"); err != nil {
				t.Errorf("block %d (a stub file): %v", i, err)
			}
			continue
		}
		if _, err := config.Parse(text, "README.md block", builtin.Protocols().Config()); err != nil {
			t.Errorf("block %d (a config):\n%v", i, err)
		}
	}
}

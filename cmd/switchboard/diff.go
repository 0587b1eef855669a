package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
)

// cmdDiff compares two versions of a schema the way the admin API checks
// an upload, and exits 1 when a change breaks clients, so that CI can
// refuse it before it reaches a gateway.
func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var importPaths stringList
	fs.Var(&importPaths, "I", "import path for .proto files (repeatable); each file is compiled with the import path that holds it searched first")
	asJSON := fs.Bool("json", false, "print the changes as JSON: {old, new, breaking, changes: [{kind, breaking, element, path, message}]}")
	// Flags may come after the files too ("diff old.pb new.pb --json"),
	// as people type them.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			files = append(files, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
	if len(files) != 2 {
		fmt.Fprintf(stderr, "switchboard diff: name two schemas, OLD and NEW (have %d)\n", len(files))
		return errUsage
	}
	var sets [2]*descriptors.Set
	for i, path := range files {
		s, err := loadDiffSet(ctx, path, importPaths)
		if err != nil {
			return err
		}
		sets[i] = s
	}
	changes := diff.BreakingFirst(diff.Sets(sets[0], sets[1]))
	breaking := len(diff.Breaking(changes))
	if *asJSON {
		out := struct {
			Old      string        `json:"old"`
			New      string        `json:"new"`
			Breaking int           `json:"breaking"`
			Changes  []diff.Change `json:"changes"`
		}{files[0], files[1], breaking, changes}
		if out.Changes == nil {
			out.Changes = []diff.Change{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, c := range changes {
			label := "compatible"
			if c.Breaking {
				label = "BREAKING"
			}
			fmt.Fprintf(stdout, "%-10s  %s\n", label, c.Message)
		}
		fmt.Fprintf(stdout, "%s -> %s: %s\n", files[0], files[1], summary(breaking, len(changes)-breaking))
	}
	if breaking > 0 {
		return fmt.Errorf("switchboard diff: %s breaks clients of %s", files[1], files[0])
	}
	return nil
}

func summary(breaking, compatible int) string {
	if breaking+compatible == 0 {
		return "no changes"
	}
	count := func(n int, what string) string {
		if n == 1 {
			return "1 " + what + " change"
		}
		return fmt.Sprintf("%d %s changes", n, what)
	}
	return count(breaking, "breaking") + ", " + count(compatible, "compatible")
}

// loadDiffSet reads one side of a diff: a FileDescriptorSet or a .proto.
func loadDiffSet(ctx context.Context, path string, importPaths []string) (*descriptors.Set, error) {
	if strings.HasSuffix(path, ".thrift") {
		return nil, fmt.Errorf("%s: diff compares protobuf schemas (.pb or .proto), not Thrift IDL", path)
	}
	fds, err := loadSchemaFile(ctx, path, holdingFirst(path, importPaths))
	if err != nil {
		return nil, err
	}
	return descriptors.NewSet(filepath.Base(path), "", schemaSource(path), fds)
}

// holdingFirst puts the import paths that hold path before the others:
// the two versions of library/v1/library.proto under -I old -I new must
// each compile from their own tree, imports included.
func holdingFirst(path string, importPaths []string) []string {
	out := slices.Clone(importPaths)
	slices.SortStableFunc(out, func(a, b string) int {
		ha, hb := holds(a, path), holds(b, path)
		switch {
		case ha == hb:
			return 0
		case ha:
			return -1
		}
		return 1
	})
	return out
}

func holds(dir, path string) bool {
	r, err := filepath.Rel(dir, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

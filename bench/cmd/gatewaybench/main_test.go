package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke builds the five binaries and runs the harness with -smoke: both
// gateways and the direct client answer every scenario, every answer passes
// its check, and the table and the ratios are printed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds switchboard and the bench binaries, then runs them")
	}
	bin := t.TempDir()
	// Switchboard is built in its own module, with its own go.mod, as
	// `make build` builds it; the rest in this one. Without symbol tables
	// and DWARF, which the smoke run does not need, linking takes about
	// half as long.
	goBuild(t, "../../..", "-ldflags=-s -w", "-o", filepath.Join(bin, "switchboard"), "./cmd/switchboard")
	goBuild(t, "../..", "-ldflags=-s -w", "-o", bin+string(filepath.Separator), "./cmd/backend", "./cmd/grpcgateway", "./cmd/grpcclient")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"-smoke", "-bin", bin, "-repo", "../../.."}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"machine:", "equivalence", "ratios",
		"GET  CPU/request  switchboard ÷ grpc-gateway",
		"POST CPU/request  switchboard ÷ grpc-gateway",
		"switchboard vs direct gRPC",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, sc := range []string{"GET", "POST"} {
		for _, target := range []string{"switchboard", "grpc-gateway", directTarget} {
			if !hasRow(text, sc, target) {
				t.Errorf("no table row for %s %s", sc, target)
			}
		}
	}
	if strings.Contains(text, "ERROR") {
		t.Error("some requests failed their check")
	}
	// A difference in JSON between the gateways is reported, not fatal
	// here: the harness works; the gateway tests own compatibility.
	if strings.Contains(text, "WARNING") {
		t.Log("the gateways' answers differ: see WARNING above")
	}
}

func hasRow(text, scenario, target string) bool {
	for l := range strings.Lines(text) {
		if f := strings.Fields(l); len(f) > 2 && f[0] == scenario && strings.HasPrefix(strings.Join(f[1:], " "), target+" ") {
			return true
		}
	}
	return false
}

func goBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

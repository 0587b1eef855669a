package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-gw/switchboard/gateway"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to write from the demo's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoCurlLines runs the demo on random ports and every curl line it
// prints, with the real curl, from the repository root as the README says.
func TestDemoCurlLines(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the README's curl lines (.ci/run installs it)")
	}
	l, stdout := startDemo(t)
	for _, c := range demoCurls {
		cmdline := expandCurl(c.Cmd, l)
		if !strings.Contains(stdout.String(), cmdline) {
			t.Errorf("the demo did not print %q", cmdline)
		}
		cmd := exec.Command("sh", "-c", cmdline)
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", c.Say, err, out)
			continue
		}
		if !strings.Contains(string(out), c.Want) {
			t.Errorf("%s:\n$ %s\n%s\nwant output containing %s", c.Say, cmdline, out, c.Want)
		}
	}
}

// TestREADMECurlLines keeps the README's curl examples the ones the demo
// prints with its default addresses.
func TestREADMECurlLines(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	l := gateway.Listeners{HTTP: "127.0.0.1:8080", Admin: "127.0.0.1:9901"}
	for _, c := range demoCurls {
		if line := expandCurl(c.Cmd, l); !strings.Contains(string(readme), line) {
			t.Errorf("README lacks the demo's curl line:\n%s", line)
		}
	}
}

// startDemo runs the demo on random ports until the test ends and returns
// its listeners and what it prints.
func startDemo(t *testing.T) (gateway.Listeners, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan gateway.Listeners, 1)
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, "../..", "127.0.0.1:0", "127.0.0.1:0", stdout, stderr, func(l gateway.Listeners) { started <- l })
	}()
	var l gateway.Listeners
	select {
	case l = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("demo did not start: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("demo did not start in 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	})
	return l, stdout
}

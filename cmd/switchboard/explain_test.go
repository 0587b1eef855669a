package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/gateway"
)

// TestExplainDemoCurls explains the first gateway request of every demo
// curl line against the demo's config, offline, into one golden file.
func TestExplainDemoCurls(t *testing.T) {
	golden, err := filepath.Abs("testdata/explain_demo.golden")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	l := gateway.Listeners{HTTP: "127.0.0.1:8080", Admin: "127.0.0.1:9901"}
	var out bytes.Buffer
	for _, c := range demoCurls {
		line := expandCurl(c.Cmd, l)
		first := firstGatewayCurl(line)
		if first == "" {
			continue
		}
		fmt.Fprintf(&out, "### %s\n$ %s\n", c.Say, truncateCurl(first))
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"explain", "-c", demoConfigFile, first}, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d: %s", c.Say, code, stderr.String())
		}
		out.Write(stdout.Bytes())
		out.WriteString("\n")
	}
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("explain output differs from %s (-update to accept):\n%s", golden, out.String())
	}
}

// firstGatewayCurl is the first curl command of a demo line that calls the
// gateway (not the admin API or a mock), or "".
func firstGatewayCurl(line string) string {
	// The demo's lines join commands with " && ", "; " and " & ", which no
	// URL of theirs holds.
	for _, part := range strings.Split(strings.NewReplacer(" && ", "; ", " & ", "; ").Replace(line), "; ") {
		part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "do "))
		if strings.HasPrefix(part, "curl ") && strings.Contains(part, "http://127.0.0.1:8080/") {
			return part
		}
	}
	return ""
}

// truncateCurl keeps long tokens out of the golden file's headings.
func truncateCurl(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}

func TestParseCurl(t *testing.T) {
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		line                 string
		method, url, ct, got string
		wantErr              string
	}{
		{line: `curl -s http://h/v1/x`, method: "GET", url: "http://h/v1/x"},
		{line: `curl -X PATCH 'http://h/v1/x?a=1&b=2' -H 'Content-Type: application/json' -d '{"t":"it'\''s"}'`, method: "PATCH", url: "http://h/v1/x?a=1&b=2", ct: "application/json", got: `{"t":"it's"}`},
		{line: `curl -d a=1 -d b=2 http://h/f`, method: "POST", url: "http://h/f", ct: "application/x-www-form-urlencoded", got: "a=1&b=2"},
		{line: `curl -G -d q=1 http://h/s?p=2`, method: "GET", url: "http://h/s?p=2&q=1"},
		{line: `curl --json '{"x":1}' http://h/j`, method: "POST", url: "http://h/j", ct: "application/json", got: `{"x":1}`},
		{line: `curl -I http://h/`, method: "HEAD", url: "http://h/"},
		{line: `curl --data-binary @` + body + ` http://h/u`, method: "POST", url: "http://h/u", got: `{"a":1}`, ct: "application/x-www-form-urlencoded"},
		{line: `curl -XDELETE "http://h/a b" -H "X-Q: \"quoted\""`, method: "DELETE", url: "http://h/a b"},
		{line: `curl -H 'X-A: 1' \` + "\n" + ` http://h/cont`, method: "GET", url: "http://h/cont"},
		{line: `curl 'unterminated`, wantErr: "unterminated single quote"},
		{line: `curl "unterminated`, wantErr: "unterminated double quote"},
		{line: `curl -s`, wantErr: "no URL"},
		{line: `curl http://a http://b`, wantErr: "two URLs"},
		{line: `curl -H nocolon http://h`, wantErr: "want Name: value"},
		{line: `curl -d @/no/such/file http://h`, wantErr: "no such file"},
		{line: `curl -X`, wantErr: "-X needs a value"},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			r, err := parseCurl(c.line)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.method != c.method || r.url != c.url || r.header.Get("Content-Type") != c.ct || string(r.body) != c.got {
				t.Errorf("got %s %s ct=%q body=%q", r.method, r.url, r.header.Get("Content-Type"), r.body)
			}
		})
	}
}

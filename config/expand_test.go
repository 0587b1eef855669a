package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.yaml": `
include: [backends.yaml, routes/nats.yaml]
backends:
  bus: {nats: {url: embedded}}
routes:
  - {get: /a, backend: bus, nats: {subject: a}}
`,
		"backends.yaml": `
backends:
  bus2: {nats: {url: embedded}}
policies:
  open: {allow: [0.0.0.0/0]}
`,
		"routes/nats.yaml": `
include: more.yaml
routes:
  - {get: /b, backend: bus2, nats: {subject: b}}
`,
		"routes/more.yaml": `
routes:
  - {get: /c, backend: bus2, nats: {subject: c}, policy: open}
`,
	})
	cfg, err := config.Load(filepath.Join(dir, "main.yaml"), builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, r := range cfg.Routes {
		_, p, _ := r.MethodPath()
		paths = append(paths, p)
	}
	if got := strings.Join(paths, " "); got != "/a /b /c" {
		// A file's own items come before those of the files it includes.
		t.Errorf("routes %s, want /a /b /c", got)
	}
	if _, ok := cfg.Backends["bus2"]; !ok {
		t.Error("the included backend is missing")
	}
	if _, ok := cfg.Policies["open"]; !ok {
		t.Error("the included policy is missing")
	}
}

func TestIncludeProblems(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"a name declared twice names both files", map[string]string{
			"main.yaml": "include: b.yaml\nbackends:\n  bus: {nats: {url: embedded}}\n",
			"b.yaml":    "backends:\n  bus: {nats: {url: embedded}}\n",
		}, []string{`b.yaml:2: backends.bus: backend "bus" is already declared in`, "main.yaml"}},
		{"a scalar key set twice", map[string]string{
			"main.yaml": "include: b.yaml\nlisten: 127.0.0.1:1\n",
			"b.yaml":    "listen: 127.0.0.1:2\n",
		}, []string{"b.yaml:1: listen: already set in"}},
		{"a cycle", map[string]string{
			"main.yaml": "include: b.yaml\n",
			"b.yaml":    "include: main.yaml\n",
		}, []string{"includes itself"}},
		{"a missing file", map[string]string{"main.yaml": "include: nope.yaml\n"}, []string{"main.yaml:1: include:", "no such file"}},
		{"not a mapping", map[string]string{"main.yaml": "include: b.yaml\n", "b.yaml": "- 1\n"}, []string{"b.yaml:1: an included file must be a mapping"}},
		{"an unknown key in an included file names that file", map[string]string{
			"main.yaml": "include: b.yaml\n",
			"b.yaml":    "routes:\n  - {get: /x, backend: b, nats: {subject: x}, colour: red}\n",
		}, []string{"b.yaml:2: routes[0].colour: unknown key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			_, err := config.Load(filepath.Join(dir, "main.yaml"), builtin.Protocols().Config())
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("SB_BUS_URL", "embedded")
	t.Setenv("SB_EMPTY", "")
	t.Setenv("SB_API_TOKEN", "hunter2-hunter2-hunter2")
	cases := []struct {
		name, yaml, want, wantErr string
	}{
		{"set", "listen: 127.0.0.1:${SB_PORT:-8081}\n", "127.0.0.1:8081", ""},
		{"a default for an empty variable", "listen: 127.0.0.1:${SB_EMPTY:-8082}\n", "127.0.0.1:8082", ""},
		{"unset, no default", "listen: 127.0.0.1:${SB_NOT_SET_ANYWHERE}\n", "", "environment variable SB_NOT_SET_ANYWHERE is not set"},
		{"a literal dollar", "listen: \"127.0.0.1:$$8080\"\n", "127.0.0.1:$8080", ""},
		{"a default with a colon", "listen: \"${SB_X:-127.0.0.1:80}\"\n", "127.0.0.1:80", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, errs := config.ParseAll([]byte(c.yaml+"backends: {}\n"), "t.yaml", builtin.Protocols().Config())
			if c.wantErr != "" {
				if !strings.Contains(errs.Error(), c.wantErr) {
					t.Errorf("problems %v, want %q", errs, c.wantErr)
				}
				return
			}
			if cfg == nil || cfg.Listen != c.want {
				t.Errorf("listen = %q (%v), want %q", cfg.Listen, errs, c.want)
			}
		})
	}
	// Env in a list, a one-item list given as a string, and --print hiding
	// what came from a secret-looking variable.
	cfg, err := config.Parse([]byte(`
admin: {listen: "127.0.0.1:9901", token_env: SB_API_TOKEN, hosts: localhost}
backends:
  bus: {nats: {url: "${SB_BUS_URL}"}, headers: X-Tenant}
routes:
  - {get: /a, backend: bus, nats: {subject: "a.${SB_API_TOKEN}"}}
`), "t.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Backends["bus"].Headers; len(got) != 1 || got[0] != "X-Tenant" {
		t.Errorf("headers = %q, want [X-Tenant]", got)
	}
	if got := cfg.Admin.Hosts; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("admin.hosts = %q", got)
	}
	out, err := cfg.Print()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "<hidden: from $SB_API_TOKEN>") || !strings.Contains(string(out), `url: "embedded"`) {
		t.Errorf("print:\n%s", out)
	}
}

// TestPrintHidesSecrets: --print hides values from secret-looking
// variables, under secret-looking keys, and the passwords of URLs.
func TestPrintHidesSecrets(t *testing.T) {
	t.Setenv("SB_NATS_PASS", "s3cr3t-nats")
	cfg, err := config.Parse([]byte(`
stores:
  redis: {url: "redis://:redispw@127.0.0.1:6379/0", fail: open}
tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, client_auth: require}
backends:
  bus: {nats: {url: embedded, token: "${SB_NATS_PASS}"}}
  bus2: {nats: {url: "nats://u:pw-in-url@127.0.0.1:4222", token: literal-token-123}}
`), "t.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Print()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cr3t-nats", "redispw", "pw-in-url", "literal-token-123"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("--print shows %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"client_auth: require", "cert_file: c.pem"} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("--print hides %q:\n%s", kept, out)
		}
	}
}

// TestEnvironmentNeverNull: a variable set to null, ~ or nothing is a
// string, not a way to erase a value.
func TestEnvironmentNeverNull(t *testing.T) {
	for _, v := range []string{"null", "~", "NULL", ""} {
		t.Setenv("SB_TOKEN_VALUE", v)
		cfg, err := config.Parse([]byte("backends:\n  bus:\n    nats:\n      url: embedded\n      token: ${SB_TOKEN_VALUE}\n"), "t.yaml", builtin.Protocols().Config())
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		out, _ := cfg.Print()
		if !strings.Contains(string(out), "token: '<hidden") && !strings.Contains(string(out), `token: "<hidden`) {
			t.Errorf("%q: token not kept as a (hidden) string:\n%s", v, out)
		}
	}
}

func TestIncludeOnlyConfigFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.yaml": "include: [/etc/passwd]\n"})
	_, err := config.Load(filepath.Join(dir, "main.yaml"), builtin.Protocols().Config())
	if err == nil || !strings.Contains(err.Error(), "must be a .yaml, .yml or .json file") || strings.Contains(err.Error(), "root:") {
		t.Errorf("including /etc/passwd: %v", err)
	}
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "m2.yaml"), []byte("include: pipe.yaml\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Load(filepath.Join(dir, "m2.yaml"), builtin.Protocols().Config()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("including a FIFO: %v", err)
		}
	}
}

package gateway_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// TestAdminToken: /admin/* needs the bearer token; probes and scrapers
// do not.
func TestAdminToken(t *testing.T) {
	tg := startGateway(t, `
descriptors:
  - file: {root}/library.pb
backends:
  library: {grpc: {endpoints: ["127.0.0.1:1"]}}
`)
	const token = "s3cret-admin-token-0123"
	srv := httptest.NewServer(admin.Handler(tg.g, nil, tg.g.Ready, admin.WithToken(token)))
	t.Cleanup(srv.Close)
	cases := []struct {
		name, path, auth string
		want             int
	}{
		{"no token", "/admin/routes", "", 401},
		{"right token", "/admin/routes", "Bearer " + token, 200},
		{"lower-case scheme", "/admin/routes", "bearer " + token, 200},
		{"token one byte off", "/admin/routes", "Bearer " + token[:len(token)-1] + "4", 401},
		{"token prefix", "/admin/routes", "Bearer " + token[:8], 401},
		{"token with a suffix", "/admin/routes", "Bearer " + token + "x", 401},
		{"basic scheme", "/admin/routes", "Basic " + token, 401},
		{"token as the whole header", "/admin/routes", token, 401},
		{"an upload without the token", "/admin/descriptors", "", 401},
		{"health stays open", "/healthz", "", 200},
		{"readiness stays open", "/readyz", "", 200},
		{"the index stays open", "/", "", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = c.auth
			}
			r := do(t, "GET", srv.URL+c.path, nil, h)
			if r.status != c.want {
				t.Errorf("status %d, want %d: %s", r.status, c.want, r.body)
			}
			if c.want == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	// Two Authorization headers: refused, whichever is right.
	req := httptest.NewRequest("GET", "/admin/routes", nil)
	req.Host = "127.0.0.1"
	req.Header.Add("Authorization", "Bearer "+token)
	req.Header.Add("Authorization", "Bearer wrong-token-0123456789")
	rec := httptest.NewRecorder()
	admin.Handler(tg.g, nil, tg.g.Ready, admin.WithToken(token)).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("two Authorization headers: %d", rec.Code)
	}
}

// TestAdminTokenSources: the token comes from the environment or a file,
// must be long enough, and validate refuses an exposed admin listener
// without one.
func TestAdminTokenSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SB_TEST_ADMIN_TOKEN", "from-the-env-0123456789")
	t.Setenv("SB_TEST_EMPTY", "")
	for _, c := range []struct {
		name    string
		admin   config.Admin
		want    string
		wantErr string
	}{
		{"env", config.Admin{TokenEnv: "SB_TEST_ADMIN_TOKEN"}, "from-the-env-0123456789", ""},
		{"file, newline dropped", config.Admin{TokenFile: file}, "from-a-file-0123456789", ""},
		{"none", config.Admin{}, "", ""},
		{"empty env", config.Admin{TokenEnv: "SB_TEST_EMPTY"}, "", "unset or empty"},
		{"short", config.Admin{TokenFile: short}, "", "at least 16 bytes"},
		{"missing file", config.Admin{TokenFile: filepath.Join(dir, "nope")}, "", "no such file"},
		{"both", config.Admin{TokenEnv: "SB_TEST_ADMIN_TOKEN", TokenFile: file}, "", "not both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := admin.Token(c.admin)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name, admin, want string
	}{
		{"loopback without a token", `admin: 127.0.0.1:9901`, ""},
		{"localhost without a token", `admin: localhost:9901`, ""},
		{"every address without a token", `admin: 0.0.0.0:9901`, "no protection"},
		{"a public address without a token", `admin: "[2001:db8::1]:9901"`, "no protection"},
		{"every address with a token", "admin: {listen: \"0.0.0.0:9901\", token_env: SB_TEST_ADMIN_TOKEN}", ""},
		{"every address with mutual TLS", "admin: {listen: \"0.0.0.0:9901\", tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, client_auth: require}}", ""},
		{"every address with TLS but no client certificates", "admin: {listen: \"0.0.0.0:9901\", tls: {cert_file: c.pem, key_file: k.pem}}", "no protection"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse([]byte(c.admin+"\nbackends: {}\n"), "t.yaml", builtin.Protocols().Config())
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

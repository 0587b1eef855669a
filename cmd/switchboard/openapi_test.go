package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/openapi"
	"github.com/switchboard-gw/switchboard/openapi/jsonschema"
)

// TestOpenAPICommand: `switchboard openapi` writes, from the config
// alone, the document the openapi package's golden files hold for the
// demo (one source of truth for both).
func TestOpenAPICommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo.yaml")
	t.Chdir("../..")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantFile   string // the golden the output must equal
		outFile    string // where the command writes; "" for stdout
		wantStderr string
	}{
		{"json on stdout", []string{"openapi", "-c", "examples/demo.yaml", "--server", "http://127.0.0.1:8080"}, 0, "openapi/testdata/demo.json", "", ""},
		{"yaml to a file", []string{"openapi", "-c", "examples/demo.yaml", "--yaml", "-o", out, "--server", "http://127.0.0.1:8080"}, 0, "openapi/testdata/demo.yaml", out, ""},
		{"missing config", []string{"openapi", "-c", "testdata/nope.yaml"}, 1, "", "", "nope.yaml"},
		{"stray argument", []string{"openapi", "-c", "examples/demo.yaml", "extra"}, 1, "", "", "usage: switchboard openapi -c FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if tt.wantFile == "" {
				return
			}
			got := stdout.Bytes()
			if tt.outFile != "" {
				if stdout.Len() > 0 {
					t.Errorf("-o wrote to stdout too: %s", stdout.String())
				}
				var err error
				if got, err = os.ReadFile(tt.outFile); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test ./openapi -update rewrites it):\n%s", tt.wantFile, got)
			}
		})
	}
}

// TestOpenAPIDemoResponses runs the demo, fetches the document from the
// admin listener without the admin token, and holds the gateway's real
// answers to the demo's GET curl lines to it: each URL routes to a
// documented operation through the documented paths and patterns, each
// status is documented, and each JSON body (replies and errors alike)
// matches its documented schema.
func TestOpenAPIDemoResponses(t *testing.T) {
	l, _ := startDemo(t)
	client := &http.Client{Timeout: 10 * time.Second}

	doc := fetchOpenAPI(t, client, "http://"+l.Admin)
	defs := jsonschema.DefinitionsOf(doc.Components.Schemas)
	checked := 0
	check := func(say string, req *http.Request) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", say, err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		path, op := documentedOperation(doc, req.Method, req.URL.EscapedPath(), true)
		if op == nil {
			// A value its parameter's pattern refuses: the gateway must
			// refuse it too.
			if path, op = documentedOperation(doc, req.Method, req.URL.EscapedPath(), false); op == nil || resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: no documented operation routes %s %s (answered %s)", say, req.Method, req.URL.EscapedPath(), resp.Status)
				return
			}
		}
		where := fmt.Sprintf("%s (%s %s, %s)", say, req.Method, path, op.OperationID)
		r := op.Responses[fmt.Sprint(resp.StatusCode)]
		if r == nil {
			r = op.Responses["default"]
			if resp.StatusCode < 400 {
				t.Errorf("%s: status %d is not documented", where, resp.StatusCode)
				return
			}
		}
		if name, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
			r = doc.Components.Responses[name]
		}
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		mt := r.Content[ct]
		if mt == nil || ct != "application/json" && ct != "application/x-ndjson" {
			if mt == nil && r.Content["*/*"] == nil {
				t.Errorf("%s: %s answered in %s, which the document does not allow", where, resp.Status, resp.Header.Get("Content-Type"))
			}
			checked++
			return
		}
		docs := [][]byte{body}
		if ct == "application/x-ndjson" {
			// A stream: each line is one JSON value of the schema.
			docs = bytes.Split(bytes.TrimSpace(body), []byte("\n"))
		}
		for _, doc := range docs {
			if problems := defs.ValidateJSON(mt.Schema, doc); len(problems) > 0 {
				t.Errorf("%s: the %s answer\n%s\ndoes not match the document:\n%s", where, resp.Status, doc, strings.Join(problems, "\n"))
			}
		}
		if resp.StatusCode >= 400 {
			if problems := defs.ValidateJSON(jsonschema.Ref("google.rpc.Status"), body); len(problems) > 0 {
				t.Errorf("%s: the error body is no google.rpc.Status: %v", where, problems)
			}
		}
		checked++
	}

	for _, c := range demoCurls {
		u, headers, ok := curlGet(expandCurl(c.Cmd, l))
		if !ok || !strings.HasPrefix(u, "http://"+l.HTTP+"/") || strings.Contains(c.Cmd, "--max-time") {
			continue // --max-time: a stream that never ends by itself
		}
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		check(c.Say, req)
	}
	// The rate-limited route's 429, past its burst of 3.
	for i := range 4 {
		req, _ := http.NewRequest(http.MethodGet, "http://"+l.HTTP+"/v1/limited/shelves/1/titles", nil)
		check(fmt.Sprintf("rate-limited call %d", i+1), req)
	}
	if checked < 20 {
		t.Errorf("only %d answers checked", checked)
	}
	t.Logf("%d answers hold to the document", checked)
}

// fetchOpenAPI reads /openapi.json, and checks that /openapi.yaml says
// the same and that an unchanged document is not sent twice.
func fetchOpenAPI(t *testing.T, client *http.Client, admin string) *openapi.Document {
	t.Helper()
	resp, err := client.Get(admin + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json without the admin token: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var doc openapi.Document
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, admin+"/openapi.json", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if again, err := client.Do(req); err != nil || again.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: %v %v", again, err)
	} else {
		again.Body.Close()
	}
	ym, err := client.Get(admin + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ybody, _ := io.ReadAll(ym.Body)
	ym.Body.Close()
	if ym.StatusCode != http.StatusOK || ym.Header.Get("Content-Type") != "application/yaml" || !bytes.Contains(ybody, []byte("openapi: 3.1.0")) {
		t.Errorf("GET /openapi.yaml: %s %s", ym.Status, ym.Header.Get("Content-Type"))
	}
	return &doc
}

// documentedOperation routes a request through the document's paths, each
// parameter matching its pattern (one segment without one, or with
// patterns off, any text); the path with the most literal text wins, as
// in the gateway.
func documentedOperation(doc *openapi.Document, method, escapedPath string, patterns bool) (string, *openapi.Operation) {
	best, bestLiteral := "", -1
	var found *openapi.Operation
	for path, item := range doc.Paths {
		op := item.Operation(method)
		if op == nil {
			continue
		}
		var re strings.Builder
		re.WriteByte('^')
		literal := 0
		rest := path
		for rest != "" {
			open := strings.IndexByte(rest, '{')
			if open < 0 {
				re.WriteString(regexp.QuoteMeta(rest))
				literal += len(rest)
				break
			}
			re.WriteString(regexp.QuoteMeta(rest[:open]))
			literal += open
			end := strings.IndexByte(rest, '}')
			name := rest[open+1 : end]
			pattern := `[^/]+`
			if !patterns {
				pattern = `.+`
			}
			for _, p := range op.Parameters {
				if patterns && p.In == "path" && p.Name == name && p.Schema != nil && p.Schema.Pattern != "" {
					pattern = strings.TrimSuffix(strings.TrimPrefix(p.Schema.Pattern, "^"), "$")
				}
			}
			re.WriteString("(?:" + pattern + ")")
			rest = rest[end+1:]
		}
		re.WriteByte('$')
		unescaped, err := url.PathUnescape(escapedPath)
		if err != nil {
			continue
		}
		if regexp.MustCompile(re.String()).MatchString(unescaped) && literal > bestLiteral {
			best, bestLiteral, found = path, literal, op
		}
	}
	return best, found
}

// curlGet reads a demo line that is one curl GET: its URL and headers.
func curlGet(cmdline string) (string, map[string]string, bool) {
	if strings.Count(cmdline, "curl ") != 1 || strings.Contains(cmdline, "&&") || strings.Contains(cmdline, ";") {
		return "", nil, false
	}
	words := curlWords(cmdline)
	headers := map[string]string{}
	u := ""
	for i := 1; i < len(words); i++ {
		switch w := words[i]; {
		case w == "-X" || w == "-d" || w == "--data" || w == "--data-binary":
			return "", nil, false
		case w == "-H" && i+1 < len(words):
			k, v, _ := strings.Cut(words[i+1], ":")
			headers[k] = strings.TrimSpace(v)
			i++
		case strings.HasPrefix(w, "http://"):
			u = w
		}
	}
	return u, headers, u != ""
}

// curlWords splits a command line on spaces outside single quotes, the
// only quoting the demo's lines use.
func curlWords(s string) []string {
	var words []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/switchboard-gw/switchboard/gateway"
)

// cmdExplain shows what the gateway would do with one request, given as a
// curl command line, without calling any backend.
func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "gateway.yaml", "configuration file")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: switchboard explain -c FILE 'curl [-X METHOD] [-H HEADER]... [-d BODY] URL'")
		return errUsage
	}
	req, err := parseCurl(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	g, _, _, err := load(ctx, *path, io.Discard)
	if err != nil {
		return err
	}
	defer g.Close()
	ex, err := g.Explain(req.method, req.url, req.header, req.body)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	if *asJSON {
		b, err := json.MarshalIndent(ex, "", "  ")
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	printExplanation(stdout, ex)
	return nil
}

func printExplanation(w io.Writer, ex *gateway.Explanation) {
	target := ex.Path
	if ex.Query != "" {
		target += "?" + ex.Query
	}
	fmt.Fprintf(w, "request: %s %s\n", ex.Method, target)
	if r := ex.Route; r != nil {
		fmt.Fprintf(w, "route:   %s %s  (%s, from %s)\n         -> %s\n", r.Method, r.Pattern, r.Source, r.Origin, r.Target)
	} else {
		fmt.Fprintln(w, "route:   none")
	}
	if len(ex.NearMisses) > 0 {
		fmt.Fprintln(w, "near misses:")
		for _, n := range ex.NearMisses {
			fmt.Fprintf(w, "  %s %s  (%s): %s\n", n.Method, n.Pattern, n.Source, n.Why)
		}
	}
	if len(ex.Bindings) > 0 {
		fmt.Fprintln(w, "bindings:")
		for _, b := range ex.Bindings {
			fmt.Fprintf(w, "  %-5s %s = %q\n", b.From, b.Field, b.Value)
		}
	}
	if p := ex.Policy; p != nil && len(p.Policies) > 0 {
		fmt.Fprintf(w, "policies: %s\n", strings.Join(p.Policies, " -> "))
		var needs []string
		if len(p.JWTIssuers) > 0 {
			needs = append(needs, "a bearer JWT from "+strings.Join(p.JWTIssuers, " or "))
		}
		if p.APIKeyHeader != "" {
			needs = append(needs, "an API key in "+p.APIKeyHeader)
		}
		if p.ExtAuthz != "" {
			needs = append(needs, "the approval of "+p.ExtAuthz)
		}
		if len(needs) > 0 {
			fmt.Fprintf(w, "  authenticates with %s\n", strings.Join(needs, ", or "))
		}
		if len(p.Scopes) > 0 {
			fmt.Fprintf(w, "  requires scopes %s\n", strings.Join(p.Scopes, " "))
		}
		if len(p.RateLimited) > 0 {
			fmt.Fprintf(w, "  rate limited by %s\n", strings.Join(p.RateLimited, ", "))
		}
	}
	if b := ex.Backend; b != nil {
		var addrs []string
		for _, ep := range b.Endpoints {
			addrs = append(addrs, ep.Address)
		}
		eps := strings.Join(addrs, ", ")
		if eps == "" {
			eps = "no endpoints of its own"
		}
		fmt.Fprintf(w, "backend: %s (%s): %s\n", b.Name, b.Protocol, eps)
	}
	if c := ex.Call; c != nil {
		fmt.Fprintf(w, "call:    %s (%s, idempotent: %v, %d bytes)\n", c.Method, c.Delivery, c.Idempotent, c.BodyBytes)
	}
	if len(ex.MessageJSON) > 0 {
		fmt.Fprintf(w, "message as JSON:\n%s\n", indent(string(ex.MessageJSON)))
	}
	if ex.MessageText != "" {
		fmt.Fprintf(w, "message as sent:\n%s\n", indent(strings.TrimRight(ex.MessageText, "\n")))
	}
	if ex.Answer != "" {
		fmt.Fprintf(w, "answer:  %s\n", ex.Answer)
	}
	if e := ex.Error; e != nil {
		fmt.Fprintf(w, "answer:  %d %s\n", e.Status, e.Body)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// curlRequest is what a curl command line asks for.
type curlRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

// parseCurl reads the parts of a curl command line that shape a request:
// -X, -H, -d and its kin, --json, -G, -I and the URL. Flags that do not
// change the request (-s, -i, -v, -g, -L, -k, ...) are skipped.
func parseCurl(line string) (*curlRequest, error) {
	words, err := shellWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && (words[0] == "curl" || strings.HasSuffix(words[0], "/curl")) {
		words = words[1:]
	}
	r := &curlRequest{header: http.Header{}}
	var data []string
	get := false
	takesValue := map[string]bool{"-o": true, "--output": true, "-u": true, "--user": true, "-A": true, "--user-agent": true,
		"-e": true, "--referer": true, "-m": true, "--max-time": true, "--connect-timeout": true, "-w": true, "--write-out": true,
		"-b": true, "--cookie": true, "--resolve": true, "--cacert": true, "-E": true, "--cert": true, "--key": true}
	for i := 0; i < len(words); i++ {
		w := words[i]
		next := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return words[i], nil
		}
		switch {
		case w == "-X" || w == "--request":
			v, err := next()
			if err != nil {
				return nil, err
			}
			r.method = v
		case strings.HasPrefix(w, "-X") && len(w) > 2:
			r.method = w[2:]
		case w == "-H" || w == "--header":
			v, err := next()
			if err != nil {
				return nil, err
			}
			name, value, ok := strings.Cut(v, ":")
			if !ok {
				return nil, fmt.Errorf("header %q: want Name: value", v)
			}
			r.header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		case w == "-d" || w == "--data" || w == "--data-raw" || w == "--data-binary" || w == "--data-ascii" || w == "--json":
			v, err := next()
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(v, "@") && w != "--data-raw" {
				b, err := os.ReadFile(v[1:])
				if err != nil {
					return nil, err
				}
				v = string(b)
			}
			data = append(data, v)
			if w == "--json" {
				r.header.Set("Content-Type", "application/json")
				r.header.Set("Accept", "application/json")
			}
		case w == "-G" || w == "--get":
			get = true
		case w == "-I" || w == "--head":
			r.method = http.MethodHead
		case takesValue[w]:
			if _, err := next(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(w, "-"):
			// -s, -i, -v, -g, -L, -k and the like: no effect on the request.
		default:
			if r.url != "" {
				return nil, fmt.Errorf("two URLs: %q and %q", r.url, w)
			}
			r.url = w
		}
	}
	if r.url == "" {
		return nil, errors.New("no URL in the curl command")
	}
	if len(data) > 0 {
		joined := strings.Join(data, "&")
		if get {
			sep := "?"
			if strings.Contains(r.url, "?") {
				sep = "&"
			}
			r.url += sep + joined
		} else {
			r.body = []byte(joined)
			if r.method == "" {
				r.method = http.MethodPost
			}
			if r.header.Get("Content-Type") == "" {
				r.header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl sends
			}
		}
	}
	if r.method == "" {
		r.method = http.MethodGet
	}
	return r, nil
}

// shellWords splits a command line as a POSIX shell would for the quoting
// curl lines use: single quotes, double quotes with \ escapes, and \ and
// line continuations outside quotes. No expansion is done.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inWord = true
			}
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

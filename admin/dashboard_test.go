package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// Every goroutine the gateways, servers and browsers start must be gone
// when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "dashboard-test-token-0123456789"

// The backend need not run: the dashboard only reads the admin API.
const dashboardConfig = `
descriptors:
  - file: ../testdata/library.pb
backends:
  library:
    grpc: {endpoints: ["127.0.0.1:1"]}
    breaker: {failures: 5, cooldown: 10s}
services:
  - name: library.v1.LibraryService
    backend: library
    unannotated: true
`

// served is one request the admin handler answered.
type served struct {
	method, url string
	status      int
	auth        bool // it carried an Authorization header
}

type dashEnv struct {
	g      *gateway.Gateway
	srv    *httptest.Server
	recent *admin.RecentErrors

	mu  sync.Mutex
	log []served
}

// newDashEnv serves the admin API of a real gateway, with a token and a
// recent-errors ring, and records what it answered.
func newDashEnv(t *testing.T, opts ...admin.Option) *dashEnv {
	t.Helper()
	cfg, err := config.Parse([]byte(dashboardConfig), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	e := &dashEnv{g: g, recent: admin.NewRecentErrors()}
	opts = append([]admin.Option{admin.WithToken(testToken), admin.WithRecentErrors(e.recent)}, opts...)
	h := admin.Handler(g, nil, g.Ready, opts...)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		e.mu.Lock()
		e.log = append(e.log, served{r.Method, r.URL.String(), rec.status, r.Header.Get("Authorization") != ""})
		e.mu.Unlock()
	}))
	t.Cleanup(func() {
		e.srv.Close()
		g.Close()
	})
	return e
}

func (e *dashEnv) served() []served {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]served(nil), e.log...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// get calls the admin API with header and decodes a JSON answer into v.
func (e *dashEnv) get(t *testing.T, path string, header map[string]string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range header {
		req.Header.Set(k, val)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return resp
}

var bearer = map[string]string{"Authorization": "Bearer " + testToken}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --- without a browser ---

func TestDashboardPageForBrowsersListForCurl(t *testing.T) {
	e := newDashEnv(t)

	page := e.get(t, "/", map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, nil)
	if page.StatusCode != http.StatusOK || page.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / as a browser: %d %q", page.StatusCode, page.Header.Get("Content-Type"))
	}
	if body := readBody(t, page); !strings.Contains(body, `<script src="dashboard/app.js" defer></script>`) {
		t.Errorf("GET / as a browser is not the dashboard:\n%s", body)
	}
	wantHeaders := map[string]string{
		"Content-Security-Policy": admin.DashboardCSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-cache",
	}
	for k, v := range wantHeaders {
		if got := page.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if page.Header.Get("ETag") == "" || !strings.Contains(page.Header.Get("Vary"), "Accept") {
		t.Errorf("ETag %q, Vary %q", page.Header.Get("ETag"), page.Header.Get("Vary"))
	}

	// curl sends Accept: */*; Go's client none: both get the listing.
	for _, accept := range []string{"*/*", "", "application/json", "text/html;q=0"} {
		var index struct {
			Service   string           `json:"service"`
			Endpoints []admin.Endpoint `json:"endpoints"`
		}
		r := e.get(t, "/", map[string]string{"Accept": accept}, &index)
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || len(index.Endpoints) == 0 {
			t.Errorf("GET / with Accept %q: %d %q %+v", accept, r.StatusCode, r.Header.Get("Content-Type"), index)
		}
	}
}

func TestDashboardStaticFiles(t *testing.T) {
	e := newDashEnv(t)
	for file, ctype := range map[string]string{
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
		"index.html": "text/html; charset=utf-8",
	} {
		// No token: the files hold no data.
		r := e.get(t, "/dashboard/"+file, nil, nil)
		etag := r.Header.Get("ETag")
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ctype || etag == "" ||
			r.Header.Get("Content-Security-Policy") != admin.DashboardCSP || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, headers %v", file, r.StatusCode, r.Header)
			continue
		}
		again := e.get(t, "/dashboard/"+file, map[string]string{"If-None-Match": etag}, nil)
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %s: %d, want 304", file, etag, again.StatusCode)
		}
	}
	if r := e.get(t, "/dashboard/nope.js", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown file: %d", r.StatusCode)
	}
	if r := e.get(t, "/dashboard/..%2fadmin.go", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("path outside the files: %d", r.StatusCode)
	}
	// The data stays behind the token.
	if r := e.get(t, "/admin/routes", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /admin/routes without the token: %d", r.StatusCode)
	}
}

// The CSP forbids inline code, so none may creep into the files, and the
// script must never parse server data as HTML.
func TestDashboardFilesHaveNoInlineCodeNorHTMLSinks(t *testing.T) {
	page, err := os.ReadFile("dashboard/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`<script(?:\s[^>]*)?>\s*[^<\s]`, `<script(?:(?!src=)[^>])*>`, `<style`, `\sstyle=`, `\son[a-z]+=`, `javascript:`, `https?://`} {
		if strings.Contains(re, "?!") {
			// Go's regexp has no lookahead: check that every script has a src.
			for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
				if !strings.Contains(tag, ` src="dashboard/`) {
					t.Errorf("index.html: script without a local src: %s", tag)
				}
			}
			continue
		}
		if m := regexp.MustCompile(`(?i)` + re).FindString(string(page)); m != "" {
			t.Errorf("index.html holds %q (matched %s)", m, re)
		}
	}
	js, err := os.ReadFile("dashboard/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", ".style."} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}

func TestRecentErrorsRing(t *testing.T) {
	var ring admin.RecentErrors // the zero value is ready
	if got := ring.List(); len(got) != 0 {
		t.Fatalf("empty ring lists %d", len(got))
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				ring.Add(admin.RecentError{Method: "GET", Path: fmt.Sprintf("/w%d/%d", w, i), Status: 502})
			}
		})
	}
	wg.Wait()
	if got := ring.List(); len(got) != admin.RecentErrorsSize {
		t.Fatalf("after 400 adds the ring holds %d, want %d", len(got), admin.RecentErrorsSize)
	}

	for i := range 150 {
		ring.Add(admin.RecentError{Path: fmt.Sprintf("/%d", i), Message: strings.Repeat("é", 1000)})
	}
	got := ring.List()
	if got[0].Path != "/149" || got[99].Path != "/50" {
		t.Errorf("newest first, oldest dropped: first %q last %q", got[0].Path, got[99].Path)
	}
	if got[0].Time.IsZero() || time.Since(got[0].Time) > time.Minute {
		t.Errorf("a zero time becomes now: %v", got[0].Time)
	}
	if n := len(got[0].Message); n > 1100 || !strings.HasSuffix(got[0].Message, "…") || !strings.HasPrefix(got[0].Message, "éé") {
		t.Errorf("a long message is cut at a rune boundary to about 1 KiB: %d bytes", n)
	}
}

func TestRecentErrorsEndpoint(t *testing.T) {
	e := newDashEnv(t)
	e.recent.Add(admin.RecentError{Method: "GET", Path: "/v1/x", Status: 503, Code: "UNAVAILABLE", Backend: "library", Message: "connection refused", RequestID: "r1"})
	e.recent.Add(admin.RecentError{Method: "POST", Path: "/v1/y", Status: 400})
	if r := e.get(t, "/admin/errors", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d", r.StatusCode)
	}
	var ans struct {
		Recording bool                `json:"recording"`
		Capacity  int                 `json:"capacity"`
		Errors    []admin.RecentError `json:"errors"`
	}
	e.get(t, "/admin/errors", bearer, &ans)
	if !ans.Recording || ans.Capacity != 100 || len(ans.Errors) != 2 || ans.Errors[0].Path != "/v1/y" || ans.Errors[1].Code != "UNAVAILABLE" {
		t.Errorf("GET /admin/errors: %+v", ans)
	}

	// Without a ring: an empty list that says nothing is recorded.
	cfg, err := config.Parse([]byte(dashboardConfig), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rr := httptest.NewRecorder()
	admin.Handler(g, nil, g.Ready).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "http://localhost/admin/errors", nil))
	if rr.Code != http.StatusOK || !strings.Contains(rr.Body.String(), `"recording": false`) || !strings.Contains(rr.Body.String(), `"errors": []`) {
		t.Errorf("without WithRecentErrors: %d %s", rr.Code, rr.Body)
	}
}

// --- in a real browser ---

// findChromium finds a Chromium or Chrome to drive. Without one the
// browser tests skip, loudly, except in CI, where they must run.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "chromium not found on PATH: install Debian's chromium (apt-get install chromium); CI installs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip("SKIPPING BROWSER TEST: " + why)
	return ""
}

type browser struct {
	ctx context.Context
	env *dashEnv

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	// arrived is signalled (without blocking) each time a console message
	// is appended; marks numbers the markers noProblems logs.
	arrived chan struct{}
	marks   int
}

// newBrowser starts a headless Chromium with its own profile, bounded by
// 30 seconds, that collects the page's console. At cleanup it closes the
// browser and checks that no process of it is left.
func newBrowser(t *testing.T, env *dashEnv) *browser {
	t.Helper()
	exe := findChromium(t)
	profile := t.TempDir() // removed after the cleanup below: LIFO
	timeout, cancelTimeout := context.WithTimeout(context.Background(), 30*time.Second)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{ctx: ctx, env: env, arrived: make(chan struct{}, 1)}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and a tab
		cancel()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("starting %s: %v", exe, err)
	}
	pid := chromedp.FromContext(ctx).Browser.Process().Pid

	messages := chromedp.Console(ctx) // subscribes now, before any page loads
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
			select {
			case b.arrived <- struct{}{}:
			default:
			}
		}
	}()

	t.Cleanup(func() {
		// A graceful close first, bounded; the cancels below kill
		// whatever is left.
		closing, cancelClosing := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closing); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the browser: %v", err)
		}
		cancelClosing()
		cancel()
		cancelAlloc() // waits for the process
		cancelTimeout()
		<-done
		checkExited(t, pid, profile)
	})
	return b
}

// checkExited fails the test if the browser's process, or any process
// started with its profile directory, still runs a few seconds after the
// browser was closed.
func checkExited(t *testing.T, pid int, profile string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers(pid, profile)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("browser processes left running: %v", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leftovers(pid int, profile string) []string {
	var out []string
	// The allocator reaps the browser, so a pid that still answers
	// signal 0 is a process that runs.
	if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
		out = append(out, fmt.Sprintf("pid %d (the browser)", pid))
	}
	if runtime.GOOS != "linux" {
		return out
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err != nil || !strings.Contains(string(b), profile) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %.150s", filepath.Dir(c), strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

// do runs actions in the tab, failing the test on an error.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.dumpConsole(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is true in the page.
func (b *browser) waitFor(t *testing.T, expr string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		b.dumpConsole(t)
		t.Fatalf("waiting for %s: %v (page state %q)", expr, err, eval[string](t, b, `document.body.dataset.state || ''`))
	}
}

// open loads the dashboard; without a token in this tab it asks for one.
func (b *browser) open(t *testing.T) {
	t.Helper()
	b.do(t, "opening the dashboard", chromedp.Navigate(b.env.srv.URL+"/"))
	b.waitFor(t, `document.body.dataset.state === 'token'`)
}

// login types token into the prompt and waits for the answer: the data,
// or the prompt again with an error.
func (b *browser) login(t *testing.T, token string) {
	t.Helper()
	loads := eval[string](t, b, `document.body.dataset.loads || '0'`)
	b.do(t, "entering the token",
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
	)
	if token == testToken {
		b.waitFor(t, fmt.Sprintf(`document.body.dataset.state === 'ready' && document.body.dataset.loads !== %q`, loads))
	} else {
		b.waitFor(t, `document.body.dataset.state === 'refused'`)
	}
}

// problems are the console's errors, exceptions and warnings (a CSP
// violation is an error), except the 401s that make the page ask for the
// token.
// seen reports a console message whose text contains s.
func (b *browser) seen(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m.Text, s) {
			return true
		}
	}
	return false
}

func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		switch m.Type {
		case chromedp.ConsoleError, chromedp.ConsoleException, chromedp.ConsoleWarning:
		default:
			continue
		}
		if m.Source == "network" && strings.Contains(m.Text, "status of 401") {
			continue
		}
		out = append(out, fmt.Sprintf("%s [%s] %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line+1))
	}
	return out
}

func (b *browser) noProblems(t *testing.T) {
	t.Helper()
	// Console events travel apart from command replies, in order: once a
	// marker logged now has arrived, every event the last action caused
	// has too.
	b.marks++
	marker := fmt.Sprintf("switchboard-test-marker-%d", b.marks)
	eval[chromedp.Void](t, b, fmt.Sprintf("console.debug(%q)", marker))
	timeout := time.After(10 * time.Second)
	for !b.seen(marker) {
		select {
		case <-b.arrived:
		case <-timeout:
			t.Fatal("the console marker never arrived")
		}
	}
	if p := b.problems(); len(p) > 0 {
		t.Errorf("the console reports problems:\n%s", strings.Join(p, "\n"))
	}
}

func (b *browser) dumpConsole(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		t.Logf("console %s [%s] %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line+1)
	}
}

// apiRoutes are the routes the admin API lists.
func (e *dashEnv) apiRoutes(t *testing.T) []admin.Route {
	t.Helper()
	var ans struct {
		Routes []admin.Route `json:"routes"`
	}
	e.get(t, "/admin/routes", bearer, &ans)
	return ans.Routes
}

// The page loads, asks for the token, then shows every section, and the
// console stays free of errors and CSP reports throughout, also while the
// diff, details and explain views are used.
func TestDashboardLoadsCleanly(t *testing.T) {
	env := newDashEnv(t)
	env.recent.Add(admin.RecentError{Method: "GET", Path: "/v1/shelves/1/books/1", Status: 503, Code: "UNAVAILABLE",
		Route: "/v1/{name=shelves/*/books/*}", Backend: "library", Message: "connection refused", RequestID: "req-1"})
	b := newBrowser(t, env)
	start := time.Now()
	b.open(t)
	if n := eval[int](t, b, `document.querySelectorAll('#routes tbody tr').length`); n != 0 {
		t.Errorf("before the token the page shows %d routes", n)
	}
	b.login(t, testToken)

	routes := env.apiRoutes(t)
	if n := eval[int](t, b, `document.querySelectorAll('#routes tbody tr').length`); n != len(routes) || n == 0 {
		t.Errorf("the page shows %d routes, the API lists %d", n, len(routes))
	}
	var sets struct {
		Descriptors []admin.SetInfo `json:"descriptors"`
	}
	env.get(t, "/admin/descriptors", bearer, &sets)
	if got := eval[[]string](t, b, `[...document.querySelectorAll('article.set')].map(a => a.dataset.set)`); len(got) != len(sets.Descriptors) || got[0] != sets.Descriptors[0].Name {
		t.Errorf("sets shown %q, API %+v", got, sets.Descriptors)
	}
	backends := eval[string](t, b, `document.querySelector('#backends tbody').textContent`)
	for _, want := range []string{"library", "grpc", "127.0.0.1:1", "closed"} {
		if !strings.Contains(backends, want) {
			t.Errorf("backends table %q lacks %q", backends, want)
		}
	}
	errorsShown := eval[string](t, b, `document.querySelector('#errors tbody').textContent`)
	for _, want := range []string{"UNAVAILABLE: connection refused", "req-1", "503"} {
		if !strings.Contains(errorsShown, want) {
			t.Errorf("recent errors %q lack %q", errorsShown, want)
		}
	}

	// Diff and details of the first set.
	card := fmt.Sprintf(`article.set[data-set=%q]`, sets.Descriptors[0].Name)
	// One version: the diff shows everything in it as added.
	b.do(t, "diff", chromedp.Click(chromedp.CSS(card+` button.diff`)))
	b.waitFor(t, fmt.Sprintf(`/^v– → v1: [1-9][0-9]* change/.test(document.querySelector('%s .out').textContent)`, card))
	b.do(t, "details", chromedp.Click(chromedp.CSS(card+` button.details`)))
	b.waitFor(t, fmt.Sprintf(`/"digest"/.test(document.querySelector('%s .out').textContent)`, card))

	// Explain a GET of a GetBook route: each field of the answer is shown.
	url := ""
	for _, r := range routes {
		if r.Method == "GET" && strings.HasSuffix(r.Target, "/GetBook") {
			url = concreteURL(r.Path)
			break
		}
	}
	if url == "" {
		t.Fatalf("no GET route to GetBook in %+v", routes)
	}
	b.do(t, "explain",
		chromedp.SendKeys(chromedp.ID("explain-url"), url),
		chromedp.Click(chromedp.CSS(`#explain button[type=submit]`)),
	)
	b.waitFor(t, `document.querySelector('#explain-out h4, #explain-out .error') !== null`)
	if fields := eval[[]string](t, b, `[...document.querySelectorAll('#explain-out h4')].map(h => h.textContent)`); !slices.Contains(fields, "route") {
		t.Errorf("explain GET %s shows %q: %s", url, fields, eval[string](t, b, `document.getElementById('explain-out').textContent`))
	}
	b.noProblems(t)

	// Once the token was given, every call carried it and succeeded.
	for _, s := range env.served() {
		if s.auth && s.status >= 400 {
			t.Errorf("%s %s with the token: %d", s.method, s.url, s.status)
		}
	}
	t.Logf("page loaded and used in %v", time.Since(start).Round(time.Millisecond))
}

// Typing in the filter keeps the rows that mention what was typed;
// clearing it shows all rows again.
func TestDashboardRouteFilter(t *testing.T) {
	env := newDashEnv(t)
	b := newBrowser(t, env)
	b.open(t)
	b.login(t, testToken)

	routes := env.apiRoutes(t)
	want := 0
	for _, r := range routes {
		if strings.Contains(strings.ToLower(strings.Join([]string{r.Method, r.Path, r.Backend, r.Target, r.Source}, "\n")), "getbook") {
			want++
		}
	}
	if want == 0 || want == len(routes) {
		t.Fatalf("GetBook matches %d of %d routes: no test", want, len(routes))
	}
	const visible = `[...document.querySelectorAll('#routes tbody tr')].filter(tr => !tr.hidden)`
	b.do(t, "typing", chromedp.SendKeys(chromedp.ID("route-filter"), "GetBook"))
	targets := eval[[]string](t, b, visible+`.map(tr => tr.cells[3].textContent)`)
	if len(targets) != want {
		t.Errorf("GetBook leaves %d rows, want %d: %q", len(targets), want, targets)
	}
	// A substring of any column matches, so GetBookCover stays too.
	exact := 0
	for _, target := range targets {
		if !strings.Contains(target, "/GetBook") {
			t.Errorf("row for %q left by the filter GetBook", target)
		}
		if strings.HasSuffix(target, "/GetBook") {
			exact++
		}
	}
	if exact == 0 {
		t.Errorf("the filter GetBook hides GetBook's own rows: %q", targets)
	}
	if got, wantCount := eval[string](t, b, `document.getElementById('routes-count').textContent`), fmt.Sprintf("%d of %d", want, len(routes)); got != wantCount {
		t.Errorf("count %q, want %q", got, wantCount)
	}

	b.do(t, "clearing", chromedp.SendKeys(chromedp.ID("route-filter"), strings.Repeat(kb.Backspace, len("GetBook"))))
	if n := eval[int](t, b, visible+`.length`); n != len(routes) {
		t.Errorf("after clearing the filter %d rows show, want %d", n, len(routes))
	}
	b.noProblems(t)
}

// registerTwice registers testdata/echo.pb as set "echo" twice, so it has
// versions 1 and 2.
func registerTwice(t *testing.T, g *gateway.Gateway) {
	t.Helper()
	fds, err := descriptors.ReadSetFile("../testdata/echo.pb")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := g.Register("echo", "library", fds); err != nil {
			t.Fatal(err)
		}
	}
}

// The rollback button, clicked and confirmed, makes the previous version
// current, as the API then reports, and the page shows it.
func TestDashboardRollback(t *testing.T) {
	env := newDashEnv(t)
	registerTwice(t, env.g)
	b := newBrowser(t, env)
	b.open(t)
	b.login(t, testToken)

	const card = `article.set[data-set="echo"]`
	if v := eval[string](t, b, `document.querySelector('`+card+` h3 .version').textContent`); v != "v2" {
		t.Fatalf("echo shows %s before the rollback, want v2", v)
	}
	// The diff of the two versions, which are the same file.
	b.do(t, "diff", chromedp.Click(chromedp.CSS(card+` button.diff`)))
	b.waitFor(t, `/v1 → v2: 0 change/.test(document.querySelector('`+card+` .out').textContent)`)

	b.do(t, "arming the rollback", chromedp.Click(chromedp.CSS(card+` button.rollback`)))
	if label := eval[string](t, b, `document.querySelector('`+card+` button.rollback').textContent`); !strings.HasPrefix(label, "Confirm") {
		t.Fatalf("one click on rollback shows %q, want a confirmation", label)
	}
	var si admin.SetInfo
	if env.get(t, "/admin/descriptors/echo", bearer, &si); si.Version != 2 {
		t.Fatalf("one click rolled back: version %d", si.Version)
	}
	b.do(t, "confirming the rollback", chromedp.Click(chromedp.CSS(card+` button.rollback`)))
	b.waitFor(t, `document.querySelector('`+card+` h3 .version').textContent === 'v1'`)

	if env.get(t, "/admin/descriptors/echo", bearer, &si); si.Version != 1 {
		t.Errorf("after the rollback the API reports version %d, want 1", si.Version)
	}
	if s := eval[string](t, b, `document.getElementById('status').textContent`); !strings.Contains(s, "v1 is current") {
		t.Errorf("status %q", s)
	}
	if disabled := eval[bool](t, b, `document.querySelector('`+card+` button.rollback').disabled`); !disabled {
		t.Error("with one version left, rollback stays enabled")
	}
	b.noProblems(t)
}

const hostile = `<img src=x onerror="window.__pwned=1">`

// Server data that is markup shows as text: no element is made from it
// and no script runs. The CSP would refuse inline handlers anyway; the
// control at the end checks that it does, and that such a refusal would
// be seen.
func TestDashboardShowsHostileTextAsText(t *testing.T) {
	env := newDashEnv(t)
	env.recent.Add(admin.RecentError{Method: "GET", Path: "/v1/" + hostile, Status: 502, Route: "/v1/<script>window.__pwned=2</script>",
		Backend: "library", Message: `upstream said <script>window.__pwned=3</script>` + hostile, RequestID: "<b>id</b>"})

	// A custom HTTP verb is the one route field that a descriptor set can
	// fill with markup (paths are percent-escaped, names are identifiers).
	fds, err := descriptors.ReadSetFile("../testdata/echo.pb")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fds.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				if m.GetOptions() != nil && proto.HasExtension(m.GetOptions(), annotations.E_Http) {
					proto.SetExtension(m.GetOptions(), annotations.E_Http, &annotations.HttpRule{
						Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: hostile, Path: "/v1/hostile/{message}"}},
					})
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("echo.pb has no HTTP rule to replace")
	}
	hostileRoute := true
	if _, err := env.g.Register("hostile", "library", fds); err != nil {
		hostileRoute = false
		t.Logf("the gateway refuses a custom verb of markup (%v); checking the recent errors only", err)
	}

	b := newBrowser(t, env)
	b.open(t)
	b.login(t, testToken)

	if n := eval[int](t, b, `document.querySelectorAll('img').length + document.querySelectorAll('b').length`); n != 0 {
		t.Errorf("server text became %d elements", n)
	}
	if n := eval[int](t, b, `document.querySelectorAll('script').length`); n != 1 {
		t.Errorf("%d script elements, want app.js only", n)
	}
	if got := eval[string](t, b, `document.querySelector('#errors tbody').textContent`); !strings.Contains(got, "/v1/"+hostile) ||
		!strings.Contains(got, "<script>window.__pwned=3</script>") || !strings.Contains(got, "<b>id</b>") {
		t.Errorf("the markup is not shown as text: %q", got)
	}
	if hostileRoute {
		methods := eval[[]string](t, b, `[...document.querySelectorAll('#routes tbody tr')].map(tr => tr.cells[0].textContent)`)
		want := strings.ToUpper(hostile) // the gateway upper-cases a custom verb
		if !strings.Contains(strings.Join(methods, "\n"), want) {
			t.Errorf("route methods %q lack %q", methods, want)
		}
	}
	if pwned := eval[bool](t, b, `window.__pwned !== undefined`); pwned {
		t.Error("a script from server data ran")
	}
	b.noProblems(t)

	// The control: markup with an inline handler, put in by hand, is
	// refused by the CSP, and the refusal reaches the console.
	b.do(t, "injecting an inline handler", chromedp.Evaluate[chromedp.Void](
		`{ const d = document.createElement('div'); d.innerHTML = '<img src="data:," onerror="window.__pwned=9">'; document.body.append(d); }`))
	b.waitFor(t, `document.querySelector('img') !== null`)
	deadline := time.Now().Add(5 * time.Second)
	for len(b.problems()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if p := b.problems(); len(p) != 1 || !strings.Contains(p[0], "Content Security Policy") {
		t.Errorf("the CSP refusal of an inline handler: console problems %q", p)
	}
	if pwned := eval[bool](t, b, `window.__pwned !== undefined`); pwned {
		t.Error("the CSP let an inline handler run")
	}
}

// Without the token the page shows the prompt and no data; a wrong token
// is refused with a message; the right one shows the data and is kept in
// sessionStorage only, never in a URL.
func TestDashboardToken(t *testing.T) {
	env := newDashEnv(t)
	b := newBrowser(t, env)
	b.open(t)

	const dataShown = `!document.getElementById('data').hidden || document.querySelectorAll('#routes tbody tr, #backends tbody tr, article.set').length > 0`
	if eval[bool](t, b, dataShown) {
		t.Error("data shown without the token")
	}
	if !eval[bool](t, b, `!document.getElementById('login').hidden && document.getElementById('login-error').hidden`) {
		t.Error("no token prompt, or an error before any token was given")
	}

	b.login(t, "wrong-token-wrong-token")
	if msg := eval[string](t, b, `document.getElementById('login-error').hidden ? '' : document.getElementById('login-error').textContent`); !strings.Contains(msg, "refused") {
		t.Errorf("wrong token: message %q", msg)
	}
	if eval[bool](t, b, dataShown) {
		t.Error("data shown with a wrong token")
	}
	if kept := eval[int](t, b, `sessionStorage.length`); kept != 0 {
		t.Errorf("a refused token is kept (%d items)", kept)
	}

	b.login(t, testToken)
	if !eval[bool](t, b, dataShown) {
		t.Error("no data with the right token")
	}
	if where := eval[string](t, b, `Object.values(sessionStorage).join() + '|' + localStorage.length + '|' + document.cookie + '|' + location.href`); where != testToken+"|0||"+env.srv.URL+"/" {
		t.Errorf("token kept as %q, want in sessionStorage only", where)
	}

	// Forget drops it and hides the data again.
	b.do(t, "forgetting the token", chromedp.Click(chromedp.ID("forget")))
	b.waitFor(t, `document.body.dataset.state === 'token'`)
	if eval[bool](t, b, dataShown) || eval[int](t, b, `sessionStorage.length`) != 0 {
		t.Error("data or token left after Forget")
	}

	for _, s := range env.served() {
		if strings.Contains(s.url, testToken) {
			t.Errorf("the token went in a URL: %s %s", s.method, s.url)
		}
		if strings.HasPrefix(s.url, "/admin/") && !s.auth && s.status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token answered %d", s.method, s.url, s.status)
		}
	}
	b.noProblems(t)
}

// concreteURL turns a route template into a path it matches:
// /v1/{name=shelves/*/books/*} becomes /v1/shelves/1/books/1.
func concreteURL(pattern string) string {
	withVars := regexp.MustCompile(`\{[^}=]+=([^}]*)\}`).ReplaceAllString(pattern, "$1")
	return strings.ReplaceAll(regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(withVars, "1"), "*", "1")
}

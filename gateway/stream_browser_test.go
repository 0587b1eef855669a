package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A browser's EventSource reading the gateway's Server-Sent Events, in a
// real headless Chromium: the page comes from another origin, which the
// route's CORS policy allows, as a web app served apart from its API
// would be.

// ssePage opens an EventSource on its ?src= and keeps what arrives:
// messages (data and lastEventId), error events that carry data (the
// gateway's `event: error`), and how many times the connection failed
// (error events without data).
const ssePage = `<!doctype html>
<meta charset="utf-8">
<title>sse</title>
<script>
window.got = [];
window.errs = [];
window.failures = 0;
window.es = new EventSource(new URLSearchParams(location.search).get('src'));
es.onmessage = (e) => got.push({data: e.data, id: e.lastEventId});
es.addEventListener('error', (e) => {
  if (typeof e.data === 'string') {
    errs.push({data: e.data, id: e.lastEventId});
    es.close(); // the stream failed: no reconnecting
  } else {
    failures++;
  }
});
</script>
`

// streamChromium finds a Chromium or Chrome to drive. Without one the
// browser tests skip, loudly, except in CI, where they must run (as
// admin's dashboard tests do).
func streamChromium(t *testing.T) string {
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

// startStreamBrowser starts a headless Chromium with its own profile,
// bounded by 60 seconds, closed at cleanup, where it checks that no
// process of it is left.
func startStreamBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := streamChromium(t)
	profile := t.TempDir() // removed after the cleanup below: LIFO
	timeout, cancelTimeout := context.WithTimeout(context.Background(), 60*time.Second)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeout, opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser and a tab
		cancel()
		cancelAlloc()
		cancelTimeout()
		t.Fatalf("starting %s: %v", exe, err)
	}
	pid := chromedp.FromContext(ctx).Browser.Process().Pid
	t.Cleanup(func() {
		closing, cancelClosing := context.WithTimeout(ctx, 10*time.Second)
		if err := chromedp.Cancel(closing); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the browser: %v", err)
		}
		cancelClosing()
		cancel()
		cancelAlloc() // waits for the process
		cancelTimeout()
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := streamBrowserLeft(pid, profile)
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("browser processes left running: %v", left)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return ctx
}

// streamBrowserLeft lists the browser's processes still running: its pid
// and, on Linux, anything started with its profile directory.
func streamBrowserLeft(pid int, profile string) []string {
	var out []string
	if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
		out = append(out, fmt.Sprintf("pid %d (the browser)", pid))
	}
	if runtime.GOOS != "linux" {
		return out
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.Contains(string(b), profile) {
			out = append(out, filepath.Dir(c))
		}
	}
	return out
}

type sseSeen struct {
	Got      []sseEvent `json:"got"`
	Errs     []sseEvent `json:"errs"`
	Failures int        `json:"failures"`
	State    int        `json:"state"` // EventSource.readyState: 2 is CLOSED
}

type sseEvent struct {
	Data string `json:"data"`
	ID   string `json:"id"`
}

// TestEventSourceInChromium: a page on another origin reads the Ticker's
// SSE route with EventSource: three messages with ids 1, 2 and 3; a
// stream that fails after two gives its status to an 'error' listener as
// the event's data; a page from an origin the policy does not allow gets
// nothing.
func TestEventSourceInChromium(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(ssePage))
	})
	app := httptest.NewServer(page)   // an allowed origin
	other := httptest.NewServer(page) // one the policy does not list
	t.Cleanup(app.Close)
	t.Cleanup(other.Close)
	tg := startGateway(t, fmt.Sprintf(`
descriptors:
  - file: {root}/stream.pb
backends:
  ticker:
    grpc: {endpoints: ["%s"]}
    timeout: 5s
policies:
  browser:
    cors: {allow_origins: ["%s"]}
services:
  - name: stream.v1.Ticker
    backend: ticker
    policy: browser
`, startMock(t, "stream.pb", "ticker.yaml"), app.URL))
	ctx := startStreamBrowser(t)

	// open loads the page from origin with an EventSource on path, waits
	// until ready (a JavaScript condition on the page) and returns what
	// the page saw, its EventSource closed.
	open := func(t *testing.T, origin, path, ready string) sseSeen {
		t.Helper()
		src := tg.http.URL + path
		if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/?src="+url.QueryEscape(src))); err != nil {
			t.Fatalf("opening the page: %v", err)
		}
		const state = `({got, errs, failures, state: es.readyState})`
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](ready, chromedp.WithPollingTimeout(15*time.Second)))
		seen, serr := chromedp.Run(ctx, chromedp.Evaluate[sseSeen](state))
		if serr != nil {
			t.Fatalf("reading the page: %v", serr)
		}
		// No reconnecting once the test has what it waited for.
		if _, cerr := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`es.close()`)); cerr != nil {
			t.Errorf("closing the EventSource: %v", cerr)
		}
		if err != nil {
			t.Fatalf("waiting for %s: %v; the page saw %+v", ready, err, seen)
		}
		return seen
	}
	checkMessages := func(t *testing.T, got []sseEvent, want ...string) {
		t.Helper()
		if len(got) < len(want) {
			t.Fatalf("got %+v, want %d messages", got, len(want))
		}
		for i, w := range want {
			var m, wm map[string]any
			if err := json.Unmarshal([]byte(got[i].Data), &m); err != nil {
				t.Errorf("message %d: %q is not JSON: %v", i+1, got[i].Data, err)
				continue
			}
			_ = json.Unmarshal([]byte(w), &wm)
			if fmt.Sprint(m) != fmt.Sprint(wm) {
				t.Errorf("message %d = %s, want %s", i+1, got[i].Data, w)
			}
			if id := fmt.Sprint(i + 1); got[i].ID != id {
				t.Errorf("message %d has lastEventId %q, want %q", i+1, got[i].ID, id)
			}
		}
	}

	t.Run("three messages", func(t *testing.T) {
		seen := open(t, app.URL, "/v1/ticks", `got.length >= 3`)
		checkMessages(t, seen.Got[:3], `{"at":"1","note":"tick"}`, `{"at":"2","note":"tick"}`, `{"at":"3","note":"tick"}`)
		if len(seen.Errs) != 0 {
			t.Errorf("error events %+v on a stream that went well", seen.Errs)
		}
	})

	t.Run("an error mid-stream", func(t *testing.T) {
		seen := open(t, app.URL, "/v1/ticks?at=99", `errs.length >= 1`)
		if len(seen.Got) != 2 {
			t.Errorf("messages %+v, want the two before the error", seen.Got)
		}
		checkMessages(t, seen.Got, `{"at":"99","note":"first"}`, `{"at":"100","note":"last before the outage"}`)
		var st struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal([]byte(seen.Errs[0].Data), &st); err != nil || st.Code != 14 || st.Message != "ticker restarting" {
			t.Errorf("error event data %q (%v), want the status: code 14, \"ticker restarting\"", seen.Errs[0].Data, err)
		}
		// The error event has no id of its own: the last one holds.
		if seen.Errs[0].ID != "2" {
			t.Errorf("the error event's lastEventId is %q, want 2", seen.Errs[0].ID)
		}
	})

	t.Run("an origin the policy does not allow", func(t *testing.T) {
		// CORS refused: the EventSource fails and does not reconnect.
		seen := open(t, other.URL, "/v1/ticks", `es.readyState === 2`)
		if len(seen.Got) != 0 || len(seen.Errs) != 0 || seen.Failures == 0 {
			t.Errorf("a page from %s saw %+v, want a failed connection and no message", other.URL, seen)
		}
	})
}

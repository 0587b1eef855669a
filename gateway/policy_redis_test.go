package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/admin"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy/ratelimit/redistest"
	"github.com/switchboard-gw/switchboard/translate/builtin"
)

// rlPath is the route every rate limit test calls; its policy is "tenant".
const rlPath = "/v1/limited"

// rlConfig is a gateway with one route to a recording backend, limited by
// the policy "tenant" with rateLimit (the inside of a rate_limit mapping),
// as the route's policy or, with global, as the global one, which runs
// before a request is matched to a route; stores is the stores: section,
// or "".
func rlConfig(recAddr, stores, rateLimit string, global bool) string {
	globalPolicy, routePolicy := "", ", policy: tenant"
	if global {
		globalPolicy, routePolicy = "policy: tenant", ""
	}
	return fmt.Sprintf(`
descriptors:
  - file: {root}/library.pb
backends:
  rec: {grpc: {endpoints: ["%s"]}, timeout: 5s}
%s
%s
policies:
  tenant:
    rate_limit: {%s}
routes:
  - {post: %s, backend: rec, grpc: library.v1.LibraryService/Ping%s}
`, recAddr, stores, globalPolicy, rateLimit, rlPath, routePolicy)
}

// rlGateway is startGatewayWith with the gateway's log going to log, so
// that a test can wait for what the policy stage says.
func rlGateway(t *testing.T, yaml string, log *slog.Logger) *testGateway {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "{root}", root)
	cfg, err := config.Parse([]byte(yaml), "test.yaml", builtin.Protocols().Config())
	if err != nil {
		t.Fatal(err)
	}
	m := observability.NewMetrics()
	g, err := gateway.New(context.Background(), cfg, log, m)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{g: g, http: httptest.NewServer(g.Handler()),
		admin: httptest.NewServer(admin.Handler(g, m.Handler(), g.Ready, admin.WithReadyDetail(g.ReadyDetail)))}
	t.Cleanup(func() {
		tg.http.Close()
		tg.admin.Close()
		g.Close()
	})
	return tg
}

// rlCall posts to the limited route as tenant ("" sends no X-Tenant).
func rlCall(t testing.TB, tg *testGateway, tenant string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if tenant != "" {
		h["X-Tenant"] = tenant
	}
	return do(t, "POST", tg.http.URL+rlPath, []byte(`{}`), h)
}

// rlReadiness is what /readyz answers.
type rlReadiness struct {
	status int
	Status string   `json:"status"`
	Reason string   `json:"reason"`
	Detail []string `json:"detail"`
}

func readyz(t testing.TB, tg *testGateway) rlReadiness {
	t.Helper()
	r := do(t, "GET", tg.admin.URL+"/readyz", nil, nil)
	var rd rlReadiness
	if err := json.Unmarshal(r.body, &rd); err != nil {
		t.Fatalf("/readyz answered %d %q: %v", r.status, r.body, err)
	}
	rd.status = r.status
	return rd
}

// storeErrors is switchboard_policy_store_errors_total{store="redis",fail}
// as /metrics shows it (0 when the series does not exist yet).
func storeErrors(t testing.TB, tg *testGateway, fail string) float64 {
	t.Helper()
	r := do(t, "GET", tg.admin.URL+"/metrics", nil, nil)
	if r.status != 200 {
		t.Fatalf("/metrics: %d", r.status)
	}
	// The text format sorts labels by name.
	series := fmt.Sprintf(`switchboard_policy_store_errors_total{fail=%q,store="redis"} `, fail)
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// flood is the outcome of hammering one tenant's bucket.
type flood struct {
	ok, limited  int64
	noRetryAfter int64       // 429s without Retry-After
	others       map[int]int // any other status, by status
	sample429    http.Header // the headers of one 429
	elapsed      time.Duration
}

// hammer sends POSTs as tenant from workers goroutines spread round-robin
// over gws for about d. elapsed runs from just before the first request
// to just after the last answer, so the allowance computed from it can
// only be larger than the one the limiter worked with.
func hammer(t *testing.T, gws []*testGateway, tenant string, workers int, d time.Duration) flood {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		f    = flood{others: map[int]int{}}
		mu   sync.Mutex
		ok   atomic.Int64
		lim  atomic.Int64
		noRA atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for i := range workers {
		url := gws[i%len(gws)].http.URL + rlPath
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				req, err := http.NewRequest("POST", url, strings.NewReader(`{}`))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Tenant", tenant)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					lim.Add(1)
					if resp.Header.Get("Retry-After") == "" {
						noRA.Add(1)
					}
					mu.Lock()
					if f.sample429 == nil {
						f.sample429 = resp.Header
					}
					mu.Unlock()
				default:
					mu.Lock()
					f.others[resp.StatusCode]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	f.elapsed = time.Since(start)
	f.ok, f.limited, f.noRetryAfter = ok.Load(), lim.Load(), noRA.Load()
	return f
}

// TestRateLimitAccuracy floods one tenant's bucket for about 1.5s, from
// many goroutines, and counts the 200s: GCRA allows exactly burst at once
// and then rate per second, so no more than burst + rate × elapsed may
// pass, and with the bucket kept empty no fewer than 95% of it. With the
// Redis store the allowance is shared: three gateways on one Redis pass,
// together, what one would. The bound is on counts, not on timing: a
// slow machine sends fewer requests, but the bucket stays empty.
func TestRateLimitAccuracy(t *testing.T) {
	const (
		rate      = 50.0
		burst     = 20
		floodTime = 1500 * time.Millisecond
		workers   = 12
	)
	cases := []struct {
		name      string
		store     string
		instances int
	}{
		{"redis shared by three instances", "redis", 3},
		{"memory store of one instance", "memory", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, addr := startRecorder(t)
			stores := ""
			if c.store == "redis" {
				srv := redistest.Start(t)
				// fail: closed and a generous timeout: under the race
				// detector a slow Redis answer must not pass as a fail-open
				// 200 and inflate the count; closed would show it as a 503,
				// which the test reports.
				stores = fmt.Sprintf("stores:\n  redis: {url: %q, fail: closed, timeout: 2s}", srv.URL())
			}
			yaml := rlConfig(addr, stores, fmt.Sprintf(`rate: %g, per: 1s, burst: %d, key: "header:X-Tenant", store: %s`, rate, burst, c.store), false)
			var gws []*testGateway
			for range c.instances {
				gws = append(gws, startGatewayWith(t, yaml))
			}
			f := hammer(t, gws, "flood", workers, floodTime)
			allowance := burst + rate*f.elapsed.Seconds()
			t.Logf("%d × 200, %d × 429 in %v over %d instance(s); allowance %.1f", f.ok, f.limited, f.elapsed, c.instances, allowance)
			if float64(f.ok) > allowance {
				t.Errorf("%d requests passed; the limit allows at most %.1f in %v", f.ok, allowance, f.elapsed)
			}
			if float64(f.ok) < 0.95*allowance {
				t.Errorf("%d requests passed; the limit allows %.1f in %v, and fewer than 95%% of it passed", f.ok, allowance, f.elapsed)
			}
			if f.limited == 0 {
				t.Error("no request was refused: the flood did not empty the bucket")
			}
			if len(f.others) > 0 {
				t.Errorf("answers other than 200 and 429: %v", f.others)
			}
			if f.noRetryAfter > 0 {
				t.Errorf("%d of %d 429s had no Retry-After", f.noRetryAfter, f.limited)
			}
			if h := f.sample429; h != nil {
				if got, want := h.Get("RateLimit-Policy"), fmt.Sprintf(`"tenant";q=%d;w=1`, burst); got != want {
					t.Errorf("429 RateLimit-Policy = %q, want %q", got, want)
				}
				if got := h.Get("RateLimit"); !strings.HasPrefix(got, `"tenant";r=0;t=`) {
					t.Errorf("429 RateLimit = %q, want \"tenant\";r=0;t=...", got)
				}
			}
			// Another tenant's bucket is its own: full on every instance.
			for i, tg := range gws {
				if r := rlCall(t, tg, "other"); r.status != 200 {
					t.Errorf("instance %d: another tenant's first request after the flood: %d %s", i, r.status, r.body)
				}
			}
		})
	}
}

// TestRateLimitRedisFailOpen stops Redis under a fail: open store: the
// limit stops applying but requests keep passing, the outage is logged,
// counted and named by /readyz without making the gateway unready; once
// Redis is back the limit applies again and /readyz forgets the outage.
func TestRateLimitRedisFailOpen(t *testing.T) {
	srv := redistest.Start(t)
	_, addr := startRecorder(t)
	logs := new(logWatch)
	tg := rlGateway(t, rlConfig(addr, fmt.Sprintf("stores:\n  redis: {url: %q, fail: open, timeout: 500ms}", srv.URL()),
		`rate: 1, per: 1m, burst: 3, key: "header:X-Tenant", store: redis`, false), logs.logger())

	// With Redis up the tenant empties its bucket.
	for i, want := range []int{200, 200, 200, 429} {
		if r := rlCall(t, tg, "acme"); r.status != want {
			t.Fatalf("request %d with Redis up: %d, want %d: %s", i+1, r.status, want, r.body)
		}
	}
	if rd := readyz(t, tg); rd.status != 200 || len(rd.Detail) != 0 {
		t.Fatalf("/readyz with Redis up: %d %+v", rd.status, rd)
	}
	before := storeErrors(t, tg, "open")

	down := logs.next("rate limit store unreachable", "store=redis", "fail=open")
	srv.Stop()
	// The bucket is empty, so each 200 is the fail mode letting it through.
	const whileDown = 5
	for i := range whileDown {
		r := rlCall(t, tg, "acme")
		if r.status != 200 {
			t.Fatalf("request %d with Redis down: %d, want 200 (fail open): %s", i+1, r.status, r.body)
		}
		if h := r.header.Get("RateLimit"); h != "" {
			t.Errorf("request %d with Redis down carries RateLimit %q: no store decided it", i+1, h)
		}
	}
	await(t, down, "the log line saying the store is unreachable")
	rd := readyz(t, tg)
	if rd.status != 200 {
		t.Errorf("/readyz with Redis down and fail open: %d %+v, want 200", rd.status, rd)
	}
	if len(rd.Detail) != 1 || !strings.Contains(rd.Detail[0], "stores.redis unreachable (fail open)") {
		t.Errorf("/readyz detail = %q, want it to name stores.redis unreachable (fail open)", rd.Detail)
	}
	if n := storeErrors(t, tg, "open") - before; n != whileDown {
		t.Errorf("store errors counted %v, want %d (one per request while down)", n, whileDown)
	}

	up := logs.next("rate limit store reachable again", "store=redis")
	srv.Restart(t)
	// Redis keeps nothing across the restart, so the bucket starts full.
	// The first answer carrying RateLimit is the first the store decided;
	// any before it are the fail mode (a connection the outage broke).
	first := time.Now()
	for undecided := 0; ; undecided++ {
		r := rlCall(t, tg, "acme")
		if r.status != 200 {
			t.Fatalf("request after the restart: %d %s", r.status, r.body)
		}
		if r.header.Get("RateLimit") != "" {
			t.Logf("%d requests after the restart passed undecided before the store answered", undecided)
			break
		}
		if time.Since(first) > 5*time.Second {
			t.Fatal("no answer carried RateLimit 5s after Redis restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	await(t, up, "the log line saying the store is reachable again")
	for i, want := range []int{200, 200, 429} {
		r := rlCall(t, tg, "acme")
		if r.status != want {
			t.Fatalf("request %d of a full bucket after the restart: %d, want %d: %s", i+2, r.status, want, r.body)
		}
		if want == 429 && r.header.Get("Retry-After") == "" {
			t.Error("429 after the restart without Retry-After")
		}
	}
	if rd := readyz(t, tg); rd.status != 200 || len(rd.Detail) != 0 {
		t.Errorf("/readyz after Redis is back: %d %+v, want 200 and no detail", rd.status, rd)
	}
}

// TestRateLimitRedisFailClosed stops Redis under a fail: closed store:
// requests are refused with 503, Retry-After and the usual JSON error,
// /readyz fails, and both recover once Redis is back.
func TestRateLimitRedisFailClosed(t *testing.T) {
	srv := redistest.Start(t)
	_, addr := startRecorder(t)
	tg := startGatewayWith(t, rlConfig(addr, fmt.Sprintf("stores:\n  redis: {url: %q, fail: closed, timeout: 500ms}", srv.URL()),
		`rate: 100, per: 1s, burst: 100, key: "header:X-Tenant", store: redis`, false))
	if r := rlCall(t, tg, "acme"); r.status != 200 {
		t.Fatalf("with Redis up: %d %s", r.status, r.body)
	}
	srv.Stop()
	r := rlCall(t, tg, "acme")
	if r.status != 503 {
		t.Fatalf("with Redis down and fail closed: %d, want 503: %s", r.status, r.body)
	}
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("503 Retry-After = %q, want 1", ra)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("503 Content-Type = %q", ct)
	}
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Errorf("503 body is not JSON: %v: %q", err, r.body)
	}
	if body.Code != 14 || !strings.Contains(body.Message, "rate limit store") {
		t.Errorf("503 body = %s, want code 14 (UNAVAILABLE) and a message about the rate limit store", r.body)
	}
	if strings.Contains(string(r.body), srv.Addr()) {
		t.Errorf("503 body reveals the store's address: %s", r.body)
	}
	rd := readyz(t, tg)
	if rd.status != 503 || !strings.Contains(rd.Reason, "rate limit store") {
		t.Errorf("/readyz with Redis down and fail closed: %d %+v, want 503 naming the rate limit store", rd.status, rd)
	}
	if len(rd.Detail) != 1 || !strings.Contains(rd.Detail[0], "stores.redis unreachable (fail closed)") {
		t.Errorf("/readyz detail = %q", rd.Detail)
	}
	if n := storeErrors(t, tg, "closed"); n != 1 {
		t.Errorf("store errors {fail=closed} = %v, want 1", n)
	}

	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for refused := 0; ; refused++ {
		r := rlCall(t, tg, "acme")
		if r.status == 200 {
			t.Logf("%d requests after the restart were refused before one passed", refused)
			break
		}
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after Redis restarted: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rd := readyz(t, tg); rd.status != 200 || len(rd.Detail) != 0 {
		t.Errorf("/readyz after Redis is back and a request passed: %d %+v", rd.status, rd)
	}
}

// TestRateLimitRedisReadinessWithoutTraffic: /readyz must follow Redis
// itself, not the last request that happened to use it. A gateway taken
// out of rotation by a failing /readyz gets no traffic, so readiness that
// only a request could restore would never come back.
func TestRateLimitRedisReadinessWithoutTraffic(t *testing.T) {
	srv := redistest.Start(t)
	_, addr := startRecorder(t)
	tg := startGatewayWith(t, rlConfig(addr, fmt.Sprintf("stores:\n  redis: {url: %q, fail: closed, timeout: 500ms}", srv.URL()),
		`rate: 100, per: 1s, burst: 100, key: "header:X-Tenant", store: redis`, false))
	if r := rlCall(t, tg, "acme"); r.status != 200 {
		t.Fatalf("with Redis up: %d %s", r.status, r.body)
	}
	srv.Stop()
	if r := rlCall(t, tg, "acme"); r.status != 503 {
		t.Fatalf("with Redis down: %d %s", r.status, r.body)
	}
	if rd := readyz(t, tg); rd.status != 503 {
		t.Fatalf("/readyz with Redis down: %d %+v", rd.status, rd)
	}
	srv.Restart(t)
	// The store is probed at most once a second while it fails.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rd := readyz(t, tg)
		if rd.status == 200 {
			if len(rd.Detail) != 0 {
				t.Errorf("/readyz ready again but detail = %q", rd.Detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %+v 5s after Redis came back, with no request sent", rd.status, rd)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRateLimitClientHangupIsNoStoreError: a client that hangs up while
// its request is being limited says nothing about Redis. Counting it as a
// store error, and logging the store unreachable, lets any client raise
// the outage alarm (and flap the log between unreachable and reachable
// again) against a healthy Redis.
func TestRateLimitClientHangupIsNoStoreError(t *testing.T) {
	srv := redistest.Start(t)
	_, addr := startRecorder(t)
	logs := new(logWatch)
	tg := rlGateway(t, rlConfig(addr, fmt.Sprintf("stores:\n  redis: {url: %q, fail: closed, timeout: 500ms}", srv.URL()),
		`rate: 1000, per: 1s, burst: 1000, key: "header:X-Tenant", store: redis`, false), logs.logger())
	if r := rlCall(t, tg, "acme"); r.status != 200 {
		t.Fatalf("with Redis up: %d %s", r.status, r.body)
	}
	unreachable := logs.next("rate limit store unreachable")
	// Each client sends its request and shuts its side of the connection
	// at once; net/http then cancels the request's context, racing the
	// policy stage to the Take.
	for range 500 {
		conn, err := net.Dial("tcp", tg.http.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.WriteString(conn, "POST "+rlPath+" HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 0\r\nX-Tenant: acme\r\n\r\n")
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
	}
	if n := storeErrors(t, tg, "closed"); n != 0 {
		t.Errorf("Redis never went down, yet %v store errors were counted", n)
	}
	select {
	case <-unreachable:
		t.Error("Redis never went down, yet the store was logged unreachable")
	default:
	}
}

// rawPost sends a POST to the limited route with the X-Tenant header line
// written byte for byte, below net/http's client, which refuses control
// bytes itself, and returns the status the server answers.
func rawPost(t *testing.T, tg *testGateway, tenant string) int {
	t.Helper()
	conn, err := net.Dial("tcp", tg.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := "POST " + rlPath + " HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nContent-Length: 2\r\n" +
		"X-Tenant: " + tenant + "\r\nConnection: close\r\n\r\n{}"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRateLimitHostileKeys keys a limit by a header the client chooses:
// huge values, bytes a header should not hold, look-alikes of other
// buckets' keys and a flood of distinct values must neither break the
// gateway nor let one tenant escape or drain another's limit.
func TestRateLimitHostileKeys(t *testing.T) {
	_, addr := startRecorder(t)
	// The global policy: the flood below asks for a path without a route,
	// which the limit still counts, and so costs no backend call.
	const limit = `rate: 1, per: 1m, burst: 2, key: "header:X-Tenant", store: `
	tg := startGatewayWith(t, rlConfig(addr, "", limit+"memory", true))
	huge := strings.Repeat("t", 16<<10)
	// Each case's requests go in order; a bucket holds 2 and refills one a
	// minute, so the third request of a tenant is refused.
	cases := []struct {
		name   string
		tenant string
		want   []int
	}{
		{"16 KiB value", huge, []int{200, 200, 429}},
		// Long keys are stored as their SHA-256: two values that differ
		// only past any prefix a store might keep are still two tenants.
		{"16 KiB value differing in its last byte", huge[:len(huge)-1] + "u", []int{200, 200, 429}},
		{"16 KiB value again", huge, []int{429}},
		// HTTP allows tabs and obs-text in a value; they are a key like any.
		{"tab and obs-text bytes", "caf\xe9\tbar", []int{200, 200, 429}},
		{"the same without the tab", "caf\xe9bar", []int{200}},
		// A request without the header counts by its client address, in a
		// bucket a tenant naming that address does not share.
		{"no header", "", []int{200, 200, 429}},
		{"a tenant named like the client address", "127.0.0.1", []int{200}},
		{"a tenant spelling the key's separator", "client_ip\\x00127.0.0.1", []int{200}},
	}
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			gw := tg
			if store == "redis" {
				srv := redistest.Start(t)
				gw = startGatewayWith(t, rlConfig(addr, fmt.Sprintf("stores:\n  redis: {url: %q, fail: closed, timeout: 2s}", srv.URL()), limit+"redis", true))
			}
			for _, c := range cases {
				for i, want := range c.want {
					r := rlCall(t, gw, c.tenant)
					if r.status != want {
						t.Fatalf("%s: request %d: %d, want %d: %.200s", c.name, i+1, r.status, want, r.body)
					}
					if want == 429 && r.header.Get("Retry-After") == "" {
						t.Errorf("%s: request %d: 429 without Retry-After", c.name, i+1)
					}
				}
			}
		})
	}

	// Control bytes: net/http's client refuses to send them, and its
	// server answers 400 before the gateway sees the request.
	for _, v := range []string{"a\x01b", "a\x00b", "a\x7fb", "a\rb", "a\x1bb"} {
		t.Run(fmt.Sprintf("control byte %q", v), func(t *testing.T) {
			req, err := http.NewRequest("POST", tg.http.URL+rlPath, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Tenant", v)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Errorf("the client sent X-Tenant %q; got %d", v, resp.StatusCode)
			} else if !strings.Contains(err.Error(), "invalid header field value") {
				t.Errorf("client error = %v, want net/http's invalid header field value", err)
			}
			if s := rawPost(t, tg, v); s != 400 {
				t.Errorf("written raw: status %d, want 400", s)
			}
		})
	}

	// 10,000 distinct tenants, a flood of fresh buckets well under the
	// store's bound (policy.MaxKeys): every one passes the limit (and gets
	// the 404 of a path without a route), and a tenant that emptied its
	// bucket before is still limited afterwards. The flood is served
	// in-process, from several goroutines: it is about the store, and the
	// race detector makes 10,000 round trips over loopback slow.
	for i := range 2 {
		if r := rlCall(t, tg, "known"); r.status != 200 {
			t.Fatalf("known tenant's request %d: %d", i+1, r.status)
		}
	}
	const tenants, workers = 10_000, 4
	h := tg.g.Handler()
	statuses := make([]map[int]int, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		statuses[w] = map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < tenants; i += workers {
				req := httptest.NewRequest("POST", "/v1/unrouted", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Tenant", fmt.Sprintf("tenant-%05d", i))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				statuses[w][rec.Code]++
			}
		}()
	}
	wg.Wait()
	total := map[int]int{}
	for _, m := range statuses {
		for s, n := range m {
			total[s] += n
		}
	}
	t.Logf("%d distinct tenants in %v: %v", tenants, time.Since(start), total)
	if total[404] != tenants {
		t.Errorf("of %d distinct tenants' first requests, %d passed the limit to the 404 of no route (statuses %v)", tenants, total[404], total)
	}
	if r := rlCall(t, tg, "known"); r.status != 429 {
		t.Errorf("after the flood, the known tenant's third request: %d, want 429", r.status)
	}
	if r := rlCall(t, tg, "tenant-00000"); r.status != 200 {
		t.Errorf("a flooding tenant's second request: %d, want 200 (its bucket held 2)", r.status)
	}
	if r := rlCall(t, tg, "tenant-00000"); r.status != 429 {
		t.Errorf("a flooding tenant's third request: %d, want 429", r.status)
	}
}

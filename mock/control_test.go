package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// controlTable accepts faults for a.B/C and a.B/D only, and gRPC codes, as
// a protocol mock's rules would.
func controlTable() *FaultTable {
	return NewFaultTable(FaultRules{
		NameKey: "method",
		Check: func(f *Fault) error {
			var errs []error
			if c, err := CanonicalMethod(f.Method); err != nil || (c != "a.B/C" && c != "a.B/D") {
				errs = append(errs, At("method", fmt.Errorf("no method %s", f.Method)))
			} else {
				f.Method = c
			}
			if f.ErrorCode != "" {
				if _, err := ParseCode(f.ErrorCode); err != nil {
					errs = append(errs, At("error_code", err))
				}
			}
			return errors.Join(errs...)
		},
	})
}

// startControl serves t on a real loopback listener until cleanup.
func startControl(t *testing.T, ft *FaultTable) string {
	t.Helper()
	c, err := StartControl("127.0.0.1:0", ft)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c.URL()
}

// testClient keeps no idle connections, whose goroutines would outlive
// the tests.
var testClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

type answer struct {
	status int
	body   string
	state  controlState
	errors struct {
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
}

func do(t *testing.T, method, url, body string, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, body: string(b)}
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, resp.Header.Get("Content-Type"))
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &a.state); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	} else if err := json.Unmarshal(b, &a.errors); err != nil {
		t.Fatalf("%s %s: %v\n%s", method, url, err, b)
	}
	return a
}

func TestControlEndpoint(t *testing.T) {
	t.Parallel()
	ft := controlTable()
	ft.SetSeed(9)
	url := startControl(t, ft) + "/faults"

	if a := do(t, "GET", url, "", nil); a.status != 200 || a.state.Seed != 9 || a.state.Faults == nil || len(a.state.Faults) != 0 {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
	if !strings.Contains(do(t, "GET", url, "", nil).body, `"faults": []`) {
		t.Error("no faults should read as an empty list, not null")
	}
	// POST adds, then replaces the fault for the same method.
	a := do(t, "POST", url, `{"method":"/a.B/C","error_rate":1,"error_code":"UNAVAILABLE"}`, nil)
	if a.status != 200 || len(a.state.Faults) != 1 || a.state.Faults[0].Method != "a.B/C" || a.state.Faults[0].ErrorRate != 1 {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	a = do(t, "POST", url, `{"method":"a.B/D","latency":"50ms-100ms"}`, nil)
	a = do(t, "POST", url, `{"method":"a.B.C","drop_rate":0.5}`, nil)
	if a.status != 200 || len(a.state.Faults) != 2 || a.state.Faults[0].DropRate != 0.5 || a.state.Faults[0].ErrorRate != 0 {
		t.Fatalf("POST replacing: %d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `"latency": "50ms-100ms"`) {
		t.Errorf("latency not shown as written:\n%s", a.body)
	}
	if d := ft.Decide("a.B/D"); d.Latency < 50e6 || d.Latency > 100e6 {
		t.Errorf("the table did not change: %+v", d)
	}
	// PUT replaces them all, and may reseed.
	a = do(t, "PUT", url, `{"seed":5,"faults":[{"method":"a.B/D","hang_rate":1}]}`, nil)
	if a.status != 200 || a.state.Seed != 5 || len(a.state.Faults) != 1 || a.state.Faults[0].HangRate != 1 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	a = do(t, "PUT", url, `[{"method":"a.B/C","garbage_rate":1}]`, nil)
	if a.status != 200 || a.state.Seed != 5 || len(a.state.Faults) != 1 || a.state.Faults[0].GarbageRate != 1 {
		t.Fatalf("PUT a bare list: %d %s", a.status, a.body)
	}
	// DELETE one, then all.
	do(t, "POST", url, `{"method":"a.B/D","error_rate":1}`, nil)
	if a := do(t, "DELETE", url+"?method=a.B.C", "", nil); a.status != 200 || len(a.state.Faults) != 1 || a.state.Faults[0].Method != "a.B/D" {
		t.Fatalf("DELETE one: %d %s", a.status, a.body)
	}
	if a := do(t, "DELETE", url+"?method=a.B/C", "", nil); a.status != 404 || !strings.Contains(a.errors.Error, `no fault for method "a.B/C"`) {
		t.Errorf("DELETE a missing one: %d %s", a.status, a.body)
	}
	if a := do(t, "DELETE", url, "", nil); a.status != 200 || len(a.state.Faults) != 0 {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
}

func TestControlValidation(t *testing.T) {
	t.Parallel()
	ft := controlTable()
	url := startControl(t, ft) + "/faults"
	if err := ft.Set([]Fault{{Method: "a.B/C", ErrorRate: 1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, body string
		want         []string
	}{
		{"POST", `{"method":"a.B/C","error_rate":1.5}`, []string{"error_rate: error_rate 1.5: want a probability from 0 to 1"}},
		{"POST", `{"method":"a.B/C","error_rate":1,"error_code":"NOPE"}`, []string{`error_code: unknown status code "NOPE"`}},
		{"POST", `{"method":"a.B/E","error_rate":1}`, []string{"method: no method a.B/E"}},
		{"POST", `{"method":"a.B/C","eror_rate":1}`, []string{"eror_rate: unknown key in fault"}},
		{"POST", `{"error_rate":1}`, []string{"method: fault has no method"}},
		{"POST", `{"method":"a.B/C","latency":200}`, []string{"latency: latency 200 has no unit"}},
		{"POST", `{"method":"a.B/C","drop_rate":"half"}`, []string{"drop_rate: drop_rate must be a number from 0 to 1"}},
		{"POST", `{"method":"a.B/E","error_rate":1.5,"latncy":"1s"}`, []string{
			"latncy: unknown key in fault",
			"error_rate: error_rate 1.5: want a probability from 0 to 1",
			"method: no method a.B/E",
		}},
		{"POST", `not json`, []string{"the body is not JSON"}},
		{"POST", `[1]`, []string{"a fault is a JSON object"}},
		{"PUT", `{"faults":[{"method":"a.B/C","error_rate":2},{"method":"a.B/X","hang_rate":1},{"method":"a.B/D","latency":"soon"}]}`, []string{
			"faults[0].error_rate: error_rate 2: want a probability from 0 to 1",
			"faults[1].method: no method a.B/X",
			`faults[2].latency: bad latency "soon"`,
		}},
		{"PUT", `{"faults":[{"method":"a.B/C"},{"method":"a.B.C"}]}`, []string{"faults[1].method: method a.B/C already has a fault (faults[0])"}},
		{"PUT", `{"faults":[],"seed":-1,"extra":1}`, []string{"extra: unknown key (want faults, seed)", "seed: want a whole number"}},
		{"PUT", `"x"`, []string{`want {"faults": [...], "seed": N} or a list of faults`}},
	}
	for _, tt := range tests {
		a := do(t, tt.method, url, tt.body, nil)
		if a.status != 400 {
			t.Errorf("%s %s: %d %s", tt.method, tt.body, a.status, a.body)
			continue
		}
		got := strings.Join(a.errors.Problems, "\n")
		for _, w := range tt.want {
			if !strings.Contains(got, w) || !strings.Contains(a.errors.Error, w) {
				t.Errorf("%s %s: problems\n%s\nwant %q", tt.method, tt.body, got, w)
			}
		}
		if len(a.errors.Problems) != len(tt.want) {
			t.Errorf("%s %s: %d problems, want %d:\n%s", tt.method, tt.body, len(a.errors.Problems), len(tt.want), got)
		}
	}
	// Nothing changed.
	if fs := ft.Faults(); len(fs) != 1 || fs[0].ErrorRate != 1 {
		t.Errorf("a refused request changed the faults: %+v", fs)
	}
	big := `{"method":"a.B/C","error_code":"` + strings.Repeat("x", ControlBodyLimit) + `"}`
	if a := do(t, "POST", url, big, nil); a.status != 413 {
		t.Errorf("a body over the limit: %d %s", a.status, a.body)
	}
	if a := do(t, "PATCH", url, "{}", nil); a.status != 405 || !strings.Contains(a.errors.Error, "PATCH not allowed") {
		t.Errorf("PATCH: %d %s", a.status, a.body)
	}
	if a := do(t, "GET", strings.TrimSuffix(url, "/faults")+"/admin", "", nil); a.status != 404 {
		t.Errorf("another path: %d %s", a.status, a.body)
	}
}

// TestControlRefusesWebPages: a page cannot drive the endpoint, neither
// from another origin nor through a name rebound to loopback.
func TestControlRefusesWebPages(t *testing.T) {
	t.Parallel()
	ft := controlTable()
	base := startControl(t, ft)
	url := base + "/faults"
	host := strings.TrimPrefix(base, "http://")
	refused := []map[string]string{
		{"Host": "evil.example"},
		{"Host": "evil.example:80"},
		{"Origin": "http://evil.example"},
		{"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
	}
	for _, h := range refused {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			a := do(t, m, url, `{"method":"a.B/C","error_rate":1}`, h)
			if a.status != 403 {
				t.Errorf("%s with %v: %d %s", m, h, a.status, a.body)
			}
		}
	}
	if fs := ft.Faults(); len(fs) != 0 {
		t.Errorf("a refused request changed the faults: %+v", fs)
	}
	for _, h := range []map[string]string{
		{"Host": "localhost"},
		{"Host": "[::1]:1"},
		{"Origin": "http://" + host},
		{"Sec-Fetch-Site": "same-origin"},
		{"Sec-Fetch-Site": "none"},
	} {
		if a := do(t, "GET", url, "", h); a.status != 200 {
			t.Errorf("GET with %v: %d %s", h, a.status, a.body)
		}
	}
}

func TestControlHosts(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":          "localhost,127.0.0.1,::1",
		"0.0.0.0":   "localhost,127.0.0.1,::1",
		"[::]":      "localhost,127.0.0.1,::1",
		"127.0.0.1": "localhost,127.0.0.1,::1",
		"10.0.0.5":  "localhost,127.0.0.1,::1,10.0.0.5",
	} {
		if got := strings.Join(ControlHosts(in), ","); got != want {
			t.Errorf("ControlHosts(%q) = %s, want %s", in, got, want)
		}
	}
}

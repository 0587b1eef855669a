package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fixture"
)

// request is one scenario's request as bytes on the wire, and the body the
// target answered in the equivalence check: every answer under load must
// match it.
type request struct {
	sc  fixture.Scenario
	raw []byte
	ref []byte
}

func newRequest(sc fixture.Scenario, addr string, ref []byte) *request {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatewaybench\r\nAccept: application/json\r\n", sc.Method, sc.Target, addr)
	if sc.Body != "" {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(sc.Body))
	}
	b.WriteString("\r\n")
	b.WriteString(sc.Body)
	return &request{sc: sc, raw: []byte(b.String()), ref: ref}
}

// clientConn is one keep-alive HTTP/1.1 connection, driven by hand: the
// request is written in one piece and the response read with
// http.ReadResponse, so the load generator spends little CPU of the cores
// it shares with the gateways.
type clientConn struct {
	addr  string
	c     net.Conn
	br    *bufio.Reader
	body  bytes.Buffer
	dials int
}

func (c *clientConn) dial() error {
	conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
	if err != nil {
		return err
	}
	c.c = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16*1024)
	} else {
		c.br.Reset(conn)
	}
	c.dials++
	return nil
}

func (c *clientConn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// do sends raw and returns the status and body, which is valid until the
// next call. A connection the server closed is dialled again.
func (c *clientConn) do(raw []byte) (int, []byte, error) {
	if c.c == nil {
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	if _, err := c.c.Write(raw); err != nil {
		c.close()
		return 0, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, err
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if resp.Close {
		c.close()
	}
	return resp.StatusCode, c.body.Bytes(), nil
}

type pool []*clientConn

func newPool(addr string, n int) pool {
	p := make(pool, n)
	for i := range p {
		p[i] = &clientConn{addr: addr}
	}
	return p
}

func (p pool) close() {
	for _, c := range p {
		c.close()
	}
}

func (p pool) dials() int {
	n := 0
	for _, c := range p {
		n += c.dials
	}
	return n
}

type loadResult struct {
	n          int
	wall       time.Duration
	lat        []time.Duration // sorted; nil unless recorded
	errs       int
	firstErr   error
	slowChecks int // bodies that differed in bytes from the reference but were the same JSON
}

func (r loadResult) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// runLoad sends n requests over the pool's connections, one in flight on
// each, taking reqs in turn, and checks every answer: status 200 and the
// reference body.
func runLoad(ctx context.Context, p pool, reqs []*request, n int, record bool) loadResult {
	var lat []time.Duration
	if record {
		lat = make([]time.Duration, n)
	}
	var next, nerr, nslow atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range p {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				r := reqs[i%len(reqs)]
				t := time.Now()
				status, body, err := c.do(r.raw)
				if lat != nil {
					lat[i] = time.Since(t)
				}
				if err == nil {
					var slow bool
					slow, err = check(r, status, body)
					if slow {
						nslow.Add(1)
					}
				}
				if err != nil {
					nerr.Add(1)
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	res := loadResult{n: n, wall: time.Since(start), errs: int(nerr.Load()), firstErr: first, slowChecks: int(nslow.Load())}
	if ctx.Err() != nil && res.firstErr == nil {
		res.firstErr = ctx.Err()
	}
	if lat != nil {
		slices.Sort(lat)
		res.lat = lat
	}
	return res
}

// check is the per-response check: status 200 and the reference body,
// byte for byte or, failing that, as JSON (slow reports the second case).
func check(r *request, status int, body []byte) (slow bool, err error) {
	if status != http.StatusOK {
		return false, fmt.Errorf("%s %s: status %d: %.300s", r.sc.Method, r.sc.Target, status, body)
	}
	if bytes.Equal(body, r.ref) {
		return false, nil
	}
	if same, _ := jsonEqual(body, r.ref); same {
		return true, nil
	}
	return false, fmt.Errorf("%s %s: body differs from the reference: %.300s", r.sc.Method, r.sc.Target, body)
}

func jsonEqual(a, b []byte) (bool, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

// jsonDiff lists where two JSON documents differ, as paths, at most max.
func jsonDiff(a, b []byte, max int) []string {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return []string{"first is not JSON: " + err.Error()}
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return []string{"second is not JSON: " + err.Error()}
	}
	var out []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		if len(out) >= max {
			return
		}
		mx, okx := x.(map[string]any)
		my, oky := y.(map[string]any)
		if okx && oky {
			keys := map[string]bool{}
			for k := range mx {
				keys[k] = true
			}
			for k := range my {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				vx, inx := mx[k]
				vy, iny := my[k]
				switch {
				case !inx:
					out = append(out, fmt.Sprintf("%s.%s: only in second (%s)", path, k, short(vy)))
				case !iny:
					out = append(out, fmt.Sprintf("%s.%s: only in first (%s)", path, k, short(vx)))
				default:
					walk(path+"."+k, vx, vy)
				}
			}
			return
		}
		ax, okx := x.([]any)
		ay, oky := y.([]any)
		if okx && oky && len(ax) == len(ay) {
			for i := range ax {
				walk(path+"["+strconv.Itoa(i)+"]", ax[i], ay[i])
			}
			return
		}
		if !reflect.DeepEqual(x, y) {
			out = append(out, fmt.Sprintf("%s: %s vs %s", path, short(x), short(y)))
		}
	}
	walk("$", va, vb)
	return out
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// fetch makes one request on a connection of its own.
func fetch(addr string, sc fixture.Scenario) (status int, body []byte, err error) {
	c := &clientConn{addr: addr}
	defer c.close()
	status, body, err = c.do(newRequest(sc, addr, nil).raw)
	return status, bytes.Clone(body), err
}

// openIdle opens n connections, each making one request (checked), and
// leaves them open.
func openIdle(ctx context.Context, addr string, r *request, n, conc int) (pool, error) {
	p := newPool(addr, n)
	var next atomic.Int64
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				status, body, err := p[i].do(r.raw)
				if err == nil {
					_, err = check(r, status, body)
				}
				if err != nil {
					errc <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := errors.Join(<-errc, ctx.Err()); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// reuse makes one more request on each open connection without dialling,
// and counts those that still work.
func reuse(p pool, r *request, conc int) (ok int) {
	var next, nok atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(p) {
					return
				}
				c := p[i]
				if c.c == nil {
					continue
				}
				status, body, err := c.do(r.raw)
				if err == nil {
					if _, err = check(r, status, body); err == nil {
						nok.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	return int(nok.Load())
}

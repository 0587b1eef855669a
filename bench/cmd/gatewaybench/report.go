package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fixture"
)

// directResult is grpcclient's JSON line.
type directResult struct {
	Calls          int     `json:"calls"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"first_error"`
	Seconds        float64 `json:"seconds"`
	P50Micros      float64 `json:"p50_us"`
	P99Micros      float64 `json:"p99_us"`
	CPUMicros      float64 `json:"cpu_us"`
	Mallocs        uint64  `json:"mallocs"`
	AllocatedBytes uint64  `json:"allocated_bytes"`
	RSSBytes       int64   `json:"rss_bytes"`
}

const directTarget = "direct gRPC (client's own CPU)"

// direct runs the scenario's gRPC call from the grpcclient process, and
// reads the backend's CPU time around its measured calls.
func (b *bench) direct(ctx context.Context, sc fixture.Scenario) (row, error) {
	r := row{scenario: sc.Name, target: directTarget, n: b.opt.requests}
	b.seq++
	p, err := b.start(fmt.Sprintf("grpcclient-%d", b.seq), "grpcclient", []string{
		"-backend", b.backendAddr, "-scenario", sc.Name, "-concurrency", strconv.Itoa(b.opt.conns),
		"-warmup", strconv.Itoa(b.opt.warmup), "-calls", strconv.Itoa(b.opt.requests),
	}, b.gomaxprocsEnv())
	if err != nil {
		return r, err
	}
	defer p.stop()
	if l, err := p.line(time.Hour); err != nil {
		return r, err
	} else if l != "ready" {
		return r, fmt.Errorf("grpcclient: want \"ready\", got %q", l)
	}
	bc0, err := b.backend.cpu()
	if err != nil {
		return r, err
	}
	mb0, err := machineBusy()
	if err != nil {
		return r, err
	}
	self0 := selfCPU()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		return r, err
	}
	l, err := p.line(time.Hour)
	if err != nil {
		return r, err
	}
	self1 := selfCPU()
	mb1, err := machineBusy()
	if err != nil {
		return r, err
	}
	bc1, err := b.backend.cpu()
	if err != nil {
		return r, err
	}
	var res directResult
	if err := json.Unmarshal([]byte(l), &res); err != nil {
		return r, fmt.Errorf("grpcclient: %v: %q", err, l)
	}
	n := float64(res.Calls)
	r.rps = n / res.Seconds
	r.p50 = time.Duration(res.P50Micros * float64(time.Microsecond))
	r.p99 = time.Duration(res.P99Micros * float64(time.Microsecond))
	r.cpu = time.Duration(res.CPUMicros * float64(time.Microsecond) / n)
	r.allocs = float64(res.Mallocs) / n
	r.bytes = float64(res.AllocatedBytes) / n
	r.backendCPU = time.Duration(float64(bc1-bc0) / n)
	clientCPU := time.Duration(res.CPUMicros * float64(time.Microsecond))
	r.others = othersCores(mb1-mb0, time.Duration(res.Seconds*float64(time.Second)), clientCPU, bc1-bc0, self1-self0)
	r.rss = res.RSSBytes
	r.errs, r.firstErr = res.Errors, res.FirstError
	return r, nil
}

func printTable(w io.Writer, rows []row) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttarget\trequests\treq/s\tp50\tp99\tCPU/req\tallocs/req\tB/req\tRSS\tbackend CPU/req\tloadgen CPU/req\tother load\terrors")
	for _, r := range rows {
		lg := "-"
		if r.loadgenCPU > 0 {
			lg = us(r.loadgenCPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f cores\t%d\n",
			r.scenario, r.target, r.n, r.rps, us(r.p50), us(r.p99), us(r.cpu),
			num(r.allocs, 0), num(r.bytes, 0), mib(r.rss), us(r.backendCPU), lg, r.others, r.errs)
	}
	tw.Flush()
	for _, r := range rows {
		if r.firstErr != "" {
			fmt.Fprintf(w, "ERROR %s %s: %d requests failed their check; first: %s\n", r.scenario, r.target, r.errs, r.firstErr)
		}
		for _, n := range r.notes {
			fmt.Fprintf(w, "note  %s %s\n", r.scenario, n)
		}
	}
}

func printRatios(w io.Writer, rows []row) {
	find := func(sc, target string) *row {
		for i := range rows {
			if rows[i].scenario == sc && rows[i].target == target {
				return &rows[i]
			}
		}
		return nil
	}
	fmt.Fprintf(w, "\nratios (switchboard ÷ other; CPU per request is each process's own)\n")
	for _, sc := range fixture.Scenarios {
		s, g := find(sc.Name, "switchboard"), find(sc.Name, "grpc-gateway")
		if s == nil || g == nil {
			continue
		}
		fmt.Fprintf(w, "  %-4s CPU/request  switchboard ÷ grpc-gateway: %s  (%s ÷ %s)\n",
			sc.Name, ratio(float64(s.cpu), float64(g.cpu)), us(s.cpu), us(g.cpu))
	}
	for _, sc := range fixture.Scenarios {
		s, g := find(sc.Name, "switchboard"), find(sc.Name, "grpc-gateway")
		if s == nil || g == nil {
			continue
		}
		fmt.Fprintf(w, "  %-4s allocs/request switchboard: %s (grpc-gateway %s, ratio %s); bytes/request %s (grpc-gateway %s)\n",
			sc.Name, num(s.allocs, 0), num(g.allocs, 0), ratio(s.allocs, g.allocs), num(s.bytes, 0), num(g.bytes, 0))
	}
	for _, sc := range fixture.Scenarios {
		s, d := find(sc.Name, "switchboard"), find(sc.Name, directTarget)
		if s == nil || d == nil {
			continue
		}
		fmt.Fprintf(w, "  %-4s switchboard vs direct gRPC: gateway CPU/request %s vs the gRPC client's %s (%s); "+
			"p50 %s vs %s (%s); req/s %.0f vs %.0f (%s)\n",
			sc.Name, us(s.cpu), us(d.cpu), ratio(float64(s.cpu), float64(d.cpu)),
			us(s.p50), us(d.p50), ratio(float64(s.p50), float64(d.p50)), s.rps, d.rps, ratio(s.rps, d.rps))
	}
}

func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + "µs"
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "MiB"
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "x"
}

func execOutput(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return strings.TrimSpace(string(out)), err
}

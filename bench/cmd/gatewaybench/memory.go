package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/switchboard-gw/switchboard/bench/fixture"
)

// memoryPhase (i) holds idle keep-alive connections open to a fresh
// Switchboard (and, for scale, a fresh grpc-gateway) and reads RSS before
// and after; (ii) sends a long run of requests to a fresh Switchboard and
// samples RSS and goroutines every tenth of it, to see growth.
func (b *bench) memoryPhase(ctx context.Context, nofile uint64) error {
	w := b.out
	n := b.opt.idleConns
	if need := uint64(n + 256); nofile != 0 && nofile < need {
		n = int(nofile) - 256
		fmt.Fprintf(w, "\nWARNING: RLIMIT_NOFILE is %d: holding %d idle connections instead of %d\n", nofile, n, b.opt.idleConns)
	}
	fmt.Fprintf(w, "\nmemory (i): %d idle keep-alive HTTP/1.1 connections, each after one GET (checked), on fresh processes\n"+
		"  (\"before\" is after 2000 warm-up requests over 8 connections, closed again)\n", n)
	fmt.Fprintf(w, "  switchboard: limits.idle_timeout is 10m in the bench config (default 120s), so it does not close them while RSS is read;\n"+
		"  read_header_timeout (10s) only runs once a request starts; max_inflight_requests (10000) counts requests, not connections.\n"+
		"  grpc-gateway: net/http.Server defaults, no idle timeout. RSS is VmRSS from /proc/PID/status, 2s after the last connection opened.\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tconnections\tRSS before\tRSS after\tRSS per connection\theap in use\tstacks in use\tgoroutines\tsecond request OK on\topening took")
	for _, start := range []func(context.Context) (*gateway, error){b.startSwitchboard, b.startGRPCGateway} {
		g, err := start(ctx)
		if err != nil {
			return err
		}
		status, ref, err := fetch(g.addr, fixture.Get)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("%s: GET answered %d: %s", g.name, status, ref)
		}
		req := newRequest(fixture.Get, g.addr, ref)
		// A short warm-up, so that what is lazily built on the first
		// requests is in "before".
		warm := newPool(g.addr, 8)
		if res := runLoad(ctx, warm, []*request{req}, 2000, false); res.errs > 0 {
			return fmt.Errorf("%s warm-up: %v", g.name, res.firstErr)
		}
		warm.close()
		time.Sleep(time.Second)
		rss0, err := g.p.rss()
		if err != nil {
			return err
		}
		s0, err := scrape(ctx, g.metrics)
		if err != nil {
			return err
		}
		t := time.Now()
		idle, err := openIdle(ctx, g.addr, req, n, 64)
		if err != nil {
			return fmt.Errorf("%s: opening idle connections: %w", g.name, err)
		}
		took := time.Since(t)
		time.Sleep(2 * time.Second)
		rss1, err := g.p.rss()
		if err != nil {
			return err
		}
		s1, err := scrape(ctx, g.metrics)
		if err != nil {
			return err
		}
		ok := reuse(idle, req, 64)
		idle.close()
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.1fKiB\t%s -> %s\t%s -> %s\t%.0f -> %.0f\t%d of %d\t%s\n", g.name, n, mib(rss0), mib(rss1),
			float64(rss1-rss0)/1024/float64(n), mib(int64(s0.heapInuse)), mib(int64(s1.heapInuse)),
			mib(int64(s0.stackInuse)), mib(int64(s1.stackInuse)), s0.goroutines, s1.goroutines, ok, n, took.Round(time.Millisecond))
		g.p.stop()
	}
	tw.Flush()

	// (ii) the long run.
	total := b.opt.memRequests
	step := total / 10
	g, err := b.startSwitchboard(ctx)
	if err != nil {
		return err
	}
	defer g.p.stop()
	var reqs []*request
	for _, sc := range fixture.Scenarios {
		status, ref, err := fetch(g.addr, sc)
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("switchboard: %s answered %d: %s", sc.Name, status, ref)
		}
		reqs = append(reqs, newRequest(sc, g.addr, ref))
	}
	fmt.Fprintf(w, "\nmemory (ii): %d requests to a fresh switchboard (GET and POST in turn, %d keep-alive connections), sampled every %d\n",
		step*10, b.opt.conns, step)
	rss0, err := g.p.rss()
	if err != nil {
		return err
	}
	s0, err := scrape(ctx, g.metrics)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  before: RSS %s, goroutines %.0f\n", mib(rss0), s0.goroutines)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "requests\tRSS\tgoroutines\theap in use\treq/s\terrors")
	p := newPool(g.addr, b.opt.conns)
	defer p.close()
	type sample struct {
		rss        int64
		goroutines float64
	}
	var first, last sample
	errs := 0
	for i := 1; i <= 10; i++ {
		res := runLoad(ctx, p, reqs, step, false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs += res.errs
		rss, err := g.p.rss()
		if err != nil {
			return err
		}
		s, err := scrape(ctx, g.metrics)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%.0f\t%d\n", i*step, mib(rss), s.goroutines, mib(int64(s.heapInuse)),
			float64(step)/res.wall.Seconds(), res.errs)
		if res.firstErr != nil {
			tw.Flush()
			fmt.Fprintf(w, "ERROR first failure: %v\n", res.firstErr)
		}
		last = sample{rss, s.goroutines}
		if i == 1 {
			first = last
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "  first (%d) vs last (%d): RSS %s -> %s (%+.1f%%), goroutines %.0f -> %.0f; %d errors; %d new connections beyond the %d\n",
		step, step*10, mib(first.rss), mib(last.rss), 100*float64(last.rss-first.rss)/float64(first.rss),
		first.goroutines, last.goroutines, errs, p.dials()-len(p), len(p))
	return nil
}

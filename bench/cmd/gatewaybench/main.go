// Command gatewaybench compares Switchboard with grpc-gateway v2's
// generated handlers, and both with a direct gRPC client, against one gRPC
// backend on loopback. Each side runs as a process of its own (built
// beforehand into -bin; make bench-gateways does both), so each one's CPU
// time, allocations and memory are its own:
//
//	backend       the generated LibraryService server with fixed replies
//	switchboard   `switchboard serve` with a config the harness writes
//	grpcgateway   the generated RegisterLibraryServiceHandlerFromEndpoint
//	grpcclient    the direct gRPC floor
//
// This process is the HTTP load generator. For each scenario (see package
// fixture) it checks that both gateways answer the same JSON, then, per
// gateway, warms up and sends a fixed number of requests over keep-alive
// connections, checking every answer, and reads the gateway's CPU time
// (/proc/PID/stat) and allocations (go_memstats_mallocs_total on its
// /metrics) before and after. -memory adds the idle-connection and
// long-run memory checks.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/bench/fixture"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		}
		os.Exit(1)
	}
}

type options struct {
	bin, repo, dir   string
	conns            int
	requests, warmup int
	gomaxprocs       int
	smoke, memory    bool
	compare          bool
	idleConns        int
	memRequests      int
	switchboardLog   string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("gatewaybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "bin", "directory holding the switchboard, backend, grpcgateway and grpcclient binaries")
	fs.StringVar(&o.repo, "repo", "..", "the repository root (the schema is its testdata/proto/library/v1/library.proto)")
	fs.StringVar(&o.dir, "dir", "", "work directory for configs and logs (default a temporary one, removed at the end)")
	fs.IntVar(&o.conns, "conns", 32, "keep-alive HTTP/1.1 connections (and gRPC calls in flight for the direct client)")
	fs.IntVar(&o.requests, "requests", 200000, "measured requests per scenario per target")
	fs.IntVar(&o.warmup, "warmup", 20000, "warm-up requests per scenario per target, not measured")
	fs.IntVar(&o.gomaxprocs, "gomaxprocs", 2, "GOMAXPROCS of each gateway process and of the direct client")
	fs.BoolVar(&o.smoke, "smoke", false, "a quick run: 2000 requests, 8 connections, no memory phase")
	fs.BoolVar(&o.compare, "compare", true, "run the comparison (-compare=false with -memory runs only the memory phase)")
	fs.BoolVar(&o.memory, "memory", false, "also run the memory phase: idle connections, then a long run on Switchboard")
	fs.IntVar(&o.idleConns, "idle-conns", 10000, "idle keep-alive connections in the memory phase")
	fs.IntVar(&o.memRequests, "memory-requests", 1000000, "requests of the memory phase's long run, sampled every tenth")
	fs.StringVar(&o.switchboardLog, "switchboard-log", "warn", "Switchboard's log level: warn leaves out the access log line "+
		"it writes per request at info (grpc-gateway writes none); info includes it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.smoke {
		if !set["requests"] {
			o.requests = 2000
		}
		if !set["warmup"] {
			o.warmup = 200
		}
		if !set["conns"] {
			o.conns = 8
		}
		o.memory = false
	}
	if o.conns < 1 || o.requests < 1 || o.warmup < 0 || o.gomaxprocs < 1 || o.idleConns < 1 || o.memRequests < 10 {
		return o, errors.New("-conns, -requests, -gomaxprocs, -idle-conns must be positive, -memory-requests at least 10")
	}
	return o, nil
}

// bench is one run: its options, work directory and the backend every
// target shares.
type bench struct {
	opt         options
	out         io.Writer
	dir         string
	repo        string
	backend     *proc
	backendAddr string
	procs       []*proc
	seq         int
}

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	opt, err := parseFlags(args, os.Stderr)
	if err != nil {
		return err
	}
	b := &bench{opt: opt, out: out}
	if b.repo, err = filepath.Abs(opt.repo); err != nil {
		return err
	}
	if b.opt.bin, err = filepath.Abs(opt.bin); err != nil {
		return err
	}
	for _, name := range []string{"switchboard", "backend", "grpcgateway", "grpcclient"} {
		if _, err := os.Stat(filepath.Join(b.opt.bin, name)); err != nil {
			return fmt.Errorf("%v (build the binaries first: make bench-gateways does)", err)
		}
	}
	if opt.dir == "" {
		if b.dir, err = os.MkdirTemp("", "gatewaybench-"); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				os.RemoveAll(b.dir)
			} else {
				fmt.Fprintf(out, "logs kept in %s\n", b.dir)
			}
		}()
	} else if b.dir, err = filepath.Abs(opt.dir); err != nil {
		return err
	} else if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	defer b.stopAll()
	nofile := raiseNofile()

	b.header(nofile)
	b.backend, err = b.start("backend", "backend", nil, nil)
	if err != nil {
		return err
	}
	if b.backendAddr, err = b.backend.addr("grpc"); err != nil {
		return err
	}

	failed := false
	if opt.compare {
		f, err := b.compare(ctx)
		if err != nil {
			return err
		}
		failed = f
	}
	if opt.memory {
		if err := b.memoryPhase(ctx, nofile); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nload average at the end: %s\n", loadavg())
	if failed {
		return errors.New("some requests failed their check: the numbers above are not comparable")
	}
	return nil
}

func (b *bench) start(name, bin string, args, env []string) (*proc, error) {
	p, err := startProc(name, filepath.Join(b.opt.bin, bin), args, env, b.dir)
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	return p, nil
}

func (b *bench) stopAll() {
	for i := len(b.procs) - 1; i >= 0; i-- {
		b.procs[i].stop()
	}
}

func (b *bench) gomaxprocsEnv() []string {
	return []string{fmt.Sprintf("GOMAXPROCS=%d", b.opt.gomaxprocs)}
}

// gateway is a running gateway process: its HTTP address and its metrics.
type gateway struct {
	name    string
	p       *proc
	addr    string
	metrics string
}

// switchboardConfig is the config the harness runs Switchboard with. The
// JSON options are written out although they are Switchboard's defaults,
// so the comparison states them: grpc-gateway v2's runtime.NewServeMux
// marshals with EmitUnpopulated and lowerCamelCase names too.
const switchboardConfig = `# written by gatewaybench
listen: %s
admin: %s
log: {level: %s, format: json}
limits:
  # The memory phase holds thousands of idle keep-alive connections: the
  # default idle_timeout (120s) could close them before RSS is read.
  idle_timeout: 10m
json:
  emit_unpopulated: true
  use_proto_names: false
  use_enum_numbers: false
descriptors:
  - proto: [library/v1/library.proto]
    import_paths: [%s]
backends:
  library:
    grpc: {endpoints: ["%s"]}
    timeout: 10s
services:
  - name: library.v1.LibraryService
    backend: library
`

const switchboardOptions = "json {emit_unpopulated: true, use_proto_names: false, use_enum_numbers: false} (its defaults), " +
	"log level %s%s, limits.idle_timeout 10m, everything else default " +
	"(request ids, Prometheus metrics and the policy stage stay on: they cannot be turned off)"

const grpcGatewayOptions = "runtime.NewServeMux() with no options (marshaler JSONPb{EmitUnpopulated: true, DiscardUnknown: true}), " +
	"RegisterLibraryServiceHandlerFromEndpoint with insecure credentials, net/http.Server defaults (no timeouts), " +
	"promhttp /metrics on a second listener"

func (b *bench) startSwitchboard(ctx context.Context) (*gateway, error) {
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	b.seq++
	cfg := filepath.Join(b.dir, fmt.Sprintf("switchboard-%d.yaml", b.seq))
	body := fmt.Sprintf(switchboardConfig, listen, admin, b.opt.switchboardLog,
		filepath.Join(b.repo, "testdata", "proto"), b.backendAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return nil, err
	}
	p, err := b.start(fmt.Sprintf("switchboard-%d", b.seq), "switchboard", []string{"serve", "-c", cfg}, b.gomaxprocsEnv())
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, "http://"+admin+"/readyz", time.Minute); err != nil {
		return nil, err
	}
	return &gateway{name: "switchboard", p: p, addr: listen, metrics: "http://" + admin + "/metrics"}, nil
}

func (b *bench) startGRPCGateway(ctx context.Context) (*gateway, error) {
	b.seq++
	p, err := b.start(fmt.Sprintf("grpcgateway-%d", b.seq), "grpcgateway", []string{"-backend", b.backendAddr}, b.gomaxprocsEnv())
	if err != nil {
		return nil, err
	}
	addr, err := p.addr("http")
	if err != nil {
		return nil, err
	}
	metrics, err := p.addr("metrics")
	if err != nil {
		return nil, err
	}
	g := &gateway{name: "grpc-gateway", p: p, addr: addr, metrics: "http://" + metrics + "/metrics"}
	if err := waitReady(ctx, p, g.metrics, 30*time.Second); err != nil {
		return nil, err
	}
	return g, nil
}

func (b *bench) header(nofile uint64) {
	w := b.out
	fmt.Fprintf(w, "gatewaybench: Switchboard vs grpc-gateway v2 (generated handlers) vs direct gRPC, one backend on loopback\n")
	fmt.Fprintf(w, "machine:   %s, %d cores (NumCPU), %s/%s, %s; load average at start %s\n",
		cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), loadavg())
	if v := b.versionLine("switchboard", "version"); v != "" {
		fmt.Fprintf(w, "versions:  switchboard: %s; %s\n", v, b.versionLine("grpcgateway", "-version"))
	}
	fmt.Fprintf(w, "processes: backend (GOMAXPROCS default), switchboard and grpc-gateway (GOMAXPROCS=%d each), "+
		"grpcclient (GOMAXPROCS=%d), and this load generator: all on the same cores\n", b.opt.gomaxprocs, b.opt.gomaxprocs)
	if b.opt.memory {
		fmt.Fprintf(w, "limits:    RLIMIT_NOFILE %d for this process and the processes it starts\n", nofile)
	}
	if !b.opt.compare {
		return
	}
	fmt.Fprintf(w, "load:      %d keep-alive HTTP/1.1 connections, one request in flight on each; %d warm-up then %d measured requests "+
		"per scenario per target; every answer checked (status 200, body equal to the one checked for equivalence)\n",
		b.opt.conns, b.opt.warmup, b.opt.requests)
	fmt.Fprintf(w, "measured:  CPU/req = Δ(utime+stime) of the gateway's process (/proc/PID/stat, 10ms ticks) over the measured requests ÷ requests;\n"+
		"           allocs/req and B/req = Δ go_memstats_mallocs_total and go_memstats_alloc_bytes_total on its /metrics ÷ requests\n"+
		"           (one scrape's own allocations, measured beforehand, subtracted); backend CPU/req likewise for the backend process;\n"+
		"           RSS = VmRSS after the measured requests. The direct gRPC row reports the grpcclient process's own CPU (getrusage)\n"+
		"           and allocations (runtime.MemStats) per call. loadgen CPU/req is this process's; other load is the CPU the rest\n"+
		"           of the machine used meanwhile (/proc/stat busy time less the bench's processes), in cores: req/s and latency\n"+
		"           depend on it, CPU/req and allocs/req much less.\n")
}

func (b *bench) versionLine(bin string, arg string) string {
	out, err := execOutput(filepath.Join(b.opt.bin, bin), arg)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// compare runs every scenario on both gateways and the direct client, and
// prints the table and the ratios. failed reports requests that failed
// their check.
func (b *bench) compare(ctx context.Context) (failed bool, err error) {
	sb, err := b.startSwitchboard(ctx)
	if err != nil {
		return false, err
	}
	gg, err := b.startGRPCGateway(ctx)
	if err != nil {
		return false, err
	}
	logNote := " (no access log line per request)"
	if b.opt.switchboardLog == "info" || b.opt.switchboardLog == "debug" {
		logNote = " (an access log line per request, to a file)"
	}
	fmt.Fprintf(b.out, "options:   switchboard: "+switchboardOptions+"\n", b.opt.switchboardLog, logNote)
	fmt.Fprintf(b.out, "           grpc-gateway: %s\n", grpcGatewayOptions)

	// Equivalence first: a gateway that answers something else is not
	// measured.
	fmt.Fprintf(b.out, "\nequivalence (one request each, before measuring):\n")
	refs := map[string]map[string][]byte{sb.name: {}, gg.name: {}}
	for _, sc := range fixture.Scenarios {
		fmt.Fprintf(b.out, "  %-4s %s\n", sc.Name, sc.Description)
		for _, g := range []*gateway{sb, gg} {
			status, body, err := fetch(g.addr, sc)
			if err != nil {
				return false, fmt.Errorf("%s %s: %w", g.name, sc.Name, err)
			}
			if status != 200 {
				return false, fmt.Errorf("%s %s %s: status %d: %s", g.name, sc.Method, sc.Target, status, body)
			}
			refs[g.name][sc.Name] = body
		}
		want := backendJSON(sc)
		a, g := refs[sb.name][sc.Name], refs[gg.name][sc.Name]
		b.equivalence("switchboard vs grpc-gateway", a, g)
		b.equivalence("switchboard vs protojson(EmitUnpopulated, compacted) of the backend's reply", a, want)
		b.equivalence("grpc-gateway vs protojson(EmitUnpopulated, compacted) of the backend's reply", g, want)
	}

	var rows []row
	for _, sc := range fixture.Scenarios {
		for _, g := range []*gateway{sb, gg} {
			r, err := b.measure(ctx, g, sc, refs[g.name][sc.Name])
			if err != nil {
				return false, err
			}
			failed = failed || r.errs > 0
			rows = append(rows, r)
		}
		r, err := b.direct(ctx, sc)
		if err != nil {
			return false, err
		}
		failed = failed || r.errs > 0
		rows = append(rows, r)
	}
	printTable(b.out, rows)
	printRatios(b.out, rows)
	sb.p.stop()
	gg.p.stop()
	return failed, nil
}

func (b *bench) equivalence(what string, x, y []byte) {
	switch same, err := jsonEqual(x, y); {
	case err != nil:
		fmt.Fprintf(b.out, "       WARNING %s: not JSON: %v\n", what, err)
	case same && string(x) == string(y):
		fmt.Fprintf(b.out, "       %s: identical bytes (%d)\n", what, len(x))
	case same:
		fmt.Fprintf(b.out, "       %s: equivalent JSON, different bytes (%d vs %d: order or spacing)\n", what, len(x), len(y))
	default:
		fmt.Fprintf(b.out, "       WARNING %s: the JSON differs:\n", what)
		for _, d := range jsonDiff(x, y, 12) {
			fmt.Fprintf(b.out, "         %s\n", d)
		}
	}
}

// backendJSON is what a transcoder following grpc-gateway v2's defaults
// should answer: protojson of the backend's fixed reply, unpopulated
// fields emitted.
func backendJSON(sc fixture.Scenario) []byte {
	var m proto.Message = fixture.ListReply()
	if sc.Name == fixture.Post.Name {
		m = fixture.CreateReply()
	}
	out, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	// protojson varies its spacing from build to build on purpose; the
	// gateways answer compact JSON.
	var compact bytes.Buffer
	if err := json.Compact(&compact, out); err != nil {
		panic(err)
	}
	return compact.Bytes()
}

// row is one line of the table.
type row struct {
	scenario, target string
	n                int
	rps              float64
	p50, p99         time.Duration
	cpu              time.Duration // per request
	allocs, bytes    float64       // per request; NaN when unknown
	backendCPU       time.Duration // per request
	loadgenCPU       time.Duration // per request, this process; 0 for the direct client
	others           float64       // cores busy outside the bench's processes, on average
	rss              int64
	errs             int
	firstErr         string
	notes            []string
}

func (b *bench) measure(ctx context.Context, g *gateway, sc fixture.Scenario, ref []byte) (row, error) {
	r := row{scenario: sc.Name, target: g.name, n: b.opt.requests, allocs: math.NaN(), bytes: math.NaN()}
	reqs := []*request{newRequest(sc, g.addr, ref)}
	p := newPool(g.addr, b.opt.conns)
	defer p.close()
	if w := runLoad(ctx, p, reqs, b.opt.warmup, false); w.errs > 0 {
		r.errs, r.firstErr = w.errs, "warm-up: "+w.firstErr.Error()
		return r, nil
	}
	dialsBefore := p.dials()

	// What one scrape allocates in the gateway, to take out of the delta,
	// which holds the tail of the first scrape and the head of the second.
	s1, err := scrape(ctx, g.metrics)
	if err != nil {
		return r, err
	}
	s2, err := scrape(ctx, g.metrics)
	if err != nil {
		return r, err
	}
	scrapeMallocs, scrapeBytes := s2.mallocs-s1.mallocs, s2.allocBytes-s1.allocBytes

	m0, err := scrape(ctx, g.metrics)
	if err != nil {
		return r, err
	}
	c0, err := g.p.cpu()
	if err != nil {
		return r, err
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
	res := runLoad(ctx, p, reqs, b.opt.requests, true)
	self1 := selfCPU()
	mb1, err := machineBusy()
	if err != nil {
		return r, err
	}
	c1, err := g.p.cpu()
	if err != nil {
		return r, err
	}
	bc1, err := b.backend.cpu()
	if err != nil {
		return r, err
	}
	m1, err := scrape(ctx, g.metrics)
	if err != nil {
		return r, err
	}
	if r.rss, err = g.p.rss(); err != nil {
		return r, err
	}
	n := float64(res.n)
	r.rps = n / res.wall.Seconds()
	r.p50, r.p99 = res.percentile(0.50), res.percentile(0.99)
	r.cpu = time.Duration(float64(c1-c0) / n)
	r.backendCPU = time.Duration(float64(bc1-bc0) / n)
	r.loadgenCPU = time.Duration(float64(self1-self0) / n)
	r.others = othersCores(mb1-mb0, res.wall, c1-c0, bc1-bc0, self1-self0)
	r.allocs = (m1.mallocs - m0.mallocs - scrapeMallocs) / n
	r.bytes = (m1.allocBytes - m0.allocBytes - scrapeBytes) / n
	r.errs = res.errs
	if res.firstErr != nil {
		r.firstErr = res.firstErr.Error()
	}
	if d := p.dials() - dialsBefore; d > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%s closed keep-alive connections: %d new connections during the measured requests", g.name, d))
	}
	if res.slowChecks > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%s: %d answers differed in bytes from the reference but were the same JSON", g.name, res.slowChecks))
	}
	return r, nil
}

// othersCores is the CPU the rest of the machine used during a phase, in
// cores: what /proc/stat counts as busy, less the bench's own processes.
func othersCores(machine, wall time.Duration, ours ...time.Duration) float64 {
	for _, d := range ours {
		machine -= d
	}
	return max(0, float64(machine)/float64(wall))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for l := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// raiseNofile raises this process's RLIMIT_NOFILE soft limit to its hard
// limit. Setting it explicitly (Go raises it by itself, but restores the
// original for children) makes the processes the harness starts inherit it.
func raiseNofile() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}

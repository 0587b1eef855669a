// Command grpcclient is the comparison's floor: the scenarios' gRPC calls
// made straight to the backend with the generated client, no gateway in
// between, from a process of its own so that its CPU time is its own.
//
// It warms up, prints "ready" and waits for a line on stdin (the harness
// reads the backend's CPU time in between), then makes the measured calls
// and prints one JSON line: calls per second, latency percentiles, and its
// own CPU time (getrusage) and allocations (runtime.MemStats) per call over
// the measured calls only.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-gw/switchboard/bench/fixture"
	libraryv1 "github.com/switchboard-gw/switchboard/bench/gen/library/v1"
)

// Result is what the harness reads back.
type Result struct {
	Calls          int     `json:"calls"`
	Errors         int     `json:"errors"`
	FirstError     string  `json:"first_error,omitempty"`
	Seconds        float64 `json:"seconds"`
	P50Micros      float64 `json:"p50_us"`
	P99Micros      float64 `json:"p99_us"`
	CPUMicros      float64 `json:"cpu_us"`
	Mallocs        uint64  `json:"mallocs"`
	AllocatedBytes uint64  `json:"allocated_bytes"`
	RSSBytes       int64   `json:"rss_bytes"`
}

func main() {
	backend := flag.String("backend", "", "gRPC backend address")
	scenario := flag.String("scenario", "GET", "GET (ListBooks) or POST (CreateBook)")
	conns := flag.Int("concurrency", 32, "calls in flight, over one connection as a gateway makes them")
	warmup := flag.Int("warmup", 1000, "calls before measuring")
	calls := flag.Int("calls", 10000, "measured calls")
	flag.Parse()
	if err := run(*backend, *scenario, *conns, *warmup, *calls); err != nil {
		fmt.Fprintln(os.Stderr, "grpcclient:", err)
		os.Exit(1)
	}
}

func run(backend, scenario string, conc, warmup, calls int) error {
	cc, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := libraryv1.NewLibraryServiceClient(cc)
	ctx := context.Background()

	var call func() error
	switch scenario {
	case "GET":
		req, want := fixture.WantList(), fixture.ListReply()
		reply, err := client.ListBooks(ctx, req)
		if err != nil {
			return err
		}
		if !proto.Equal(reply, want) {
			return fmt.Errorf("ListBooks reply differs from the fixture: %v", reply)
		}
		// Each measured reply gets a cheap check: the full one above ran once.
		call = func() error {
			r, err := client.ListBooks(ctx, req)
			if err == nil && (len(r.GetBooks()) != 3 || r.GetNextPageToken() != want.GetNextPageToken()) {
				err = errors.New("ListBooks: unexpected reply")
			}
			return err
		}
	case "POST":
		req, want := fixture.WantCreate(), fixture.CreateReply()
		reply, err := client.CreateBook(ctx, req)
		if err != nil {
			return err
		}
		if !proto.Equal(reply, want) {
			return fmt.Errorf("CreateBook reply differs from the fixture: %v", reply)
		}
		call = func() error {
			r, err := client.CreateBook(ctx, req)
			if err == nil && r.GetName() != want.GetName() {
				err = errors.New("CreateBook: unexpected reply")
			}
			return err
		}
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}

	load(call, conc, warmup, nil)
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the harness: %w", err)
	}

	lat := make([]time.Duration, calls)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	errs, first := load(call, conc, calls, lat)
	wall := time.Since(start)
	cpu1 := cpuTime()
	runtime.ReadMemStats(&ms1)

	slices.Sort(lat)
	res := Result{
		Calls:          calls,
		Errors:         errs,
		Seconds:        wall.Seconds(),
		P50Micros:      micros(lat[len(lat)/2]),
		P99Micros:      micros(lat[len(lat)*99/100]),
		CPUMicros:      micros(cpu1 - cpu0),
		Mallocs:        ms1.Mallocs - ms0.Mallocs,
		AllocatedBytes: ms1.TotalAlloc - ms0.TotalAlloc,
		RSSBytes:       rss(),
	}
	if first != nil {
		res.FirstError = first.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// load makes n calls, conc at a time, recording each latency in lat when
// it is not nil.
func load(call func() error, conc, n int, lat []time.Duration) (errs int, first error) {
	var next, nerr atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				err := call()
				if lat != nil {
					lat[i] = time.Since(t)
				}
				if err != nil {
					nerr.Add(1)
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	return int(nerr.Load()), first
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is this process's VmRSS, or 0 when /proc does not say.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

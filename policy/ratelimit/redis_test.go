package ratelimit

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/policy/ratelimit/redistest"
)

// newTestRedis is a store on url, closed when the test ends.
func newTestRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	r, err := NewRedis(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// within says whether got lies in (want-slack, want].
func within(got, want, slack time.Duration) bool { return got <= want && got > want-slack }

func TestRedisTake(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{URL: srv.URL(), Timeout: time.Second})
	ctx := context.Background()
	// T = 20s: the test's own milliseconds barely move Redis' clock by it.
	l := Limit{Rate: 3, Per: time.Minute, Burst: 3}
	const interval, slack = 20 * time.Second, time.Second

	for i := range 3 {
		d, err := r.Take(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != int64(2-i) || d.RetryAfter != 0 || !within(d.Reset, time.Duration(i+1)*interval, slack) {
			t.Errorf("Take %d = %+v, want allowed, %d remaining, reset about %s", i, d, 2-i, time.Duration(i+1)*interval)
		}
	}
	d, err := r.Take(ctx, "k", l)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Remaining != 0 || !within(d.RetryAfter, interval, slack) || !within(d.Reset, 3*interval, slack) {
		t.Errorf("Take after the burst = %+v, want refused, retry after about %s, reset about %s", d, interval, 3*interval)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() = %v after successes", err)
	}

	// The bucket is Prefix + key, expiring when it would be full again.
	ttl, err := r.client.PTTL(ctx, DefaultRedisPrefix+"k").Result()
	if err != nil || !within(ttl, 3*interval, slack) {
		t.Errorf("PTTL of the bucket = %s, %v; want about %s", ttl, err, 3*interval)
	}
	if tat, err := r.client.Get(ctx, DefaultRedisPrefix+"k").Int64(); err != nil || tat < 1e15 {
		t.Errorf("bucket holds %d, %v; want a time in µs", tat, err)
	}
}

func TestRedisKeys(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newTestRedis(t, RedisOptions{URL: srv.URL(), Timeout: time.Second})
	b := newTestRedis(t, RedisOptions{URL: srv.URL(), Prefix: "other:", Timeout: time.Second})
	huge := strings.Repeat("x", 1<<20)

	for _, key := range []string{"", huge} {
		for _, r := range []*Redis{a, b} {
			if d, err := r.Take(ctx, key, slow); err != nil || !d.Allowed {
				t.Errorf("%s: first Take of a %d-byte key = %+v, %v; want allowed (prefixes keep stores apart)", r.prefix, len(key), d, err)
			}
			if d, err := r.Take(ctx, key, slow); err != nil || d.Allowed {
				t.Errorf("%s: second Take of a %d-byte key = %+v, %v; want refused", r.prefix, len(key), d, err)
			}
		}
	}
	keys, err := a.client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		DefaultRedisPrefix: true, "other:": true,
		DefaultRedisPrefix + boundKey(huge): true, "other:" + boundKey(huge): true,
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected Redis key %.80q", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("no Redis key %q", k)
	}
}

func TestRedisWrongAnswers(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{URL: srv.URL(), Timeout: time.Second})
	ctx := context.Background()

	// A key of another type makes the script fail.
	if err := r.client.LPush(ctx, DefaultRedisPrefix+"list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Take(ctx, "list", slow)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.HasPrefix(err.Error(), "redis rate limit store "+srv.Addr()+": ") {
		t.Errorf("Take of a list key: %v; want a WRONGTYPE error naming the store", err)
	}
	if r.Ready() == nil {
		t.Error("Ready() = nil after a failed Take")
	}
	if _, err := r.Take(ctx, "k", slow); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() = %v after a success", err)
	}

	// An invalid limit is the caller's mistake, not Redis'.
	if _, err := r.Take(ctx, "k", Limit{}); err == nil || !strings.Contains(err.Error(), "rate must") {
		t.Errorf("Take with a zero Limit: %v", err)
	}
	// So is a cancelled request.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Take(cancelled, "k", slow); !errors.Is(err, context.Canceled) {
		t.Errorf("Take with a cancelled context: %v", err)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() = %v after the caller's own errors", err)
	}
}

func TestCheckReply(t *testing.T) {
	for _, tt := range []struct {
		reply []int64
		ok    bool
	}{
		{[]int64{1, 4, 0, 100}, true},
		{[]int64{0, 0, 5, 100}, true},
		{[]int64{1, 4, 0}, false},
		{[]int64{2, 4, 0, 100}, false},
		{[]int64{1, 6, 0, 100}, false}, // over the burst of 5
		{[]int64{1, -1, 0, 100}, false},
		{[]int64{0, 0, 0, 100}, false}, // refused, yet may retry now
		{[]int64{1, 0, 5, 100}, false},
		{[]int64{1, 0, 0, -1}, false},
	} {
		if err := checkReply(tt.reply, 5); (err == nil) != tt.ok {
			t.Errorf("checkReply(%v) = %v", tt.reply, err)
		}
	}
}

// TestRedisAccuracyAcrossInstances is three gateway instances, each with
// its own client, sharing one limit. Redis' clock decides every request,
// and it is read inside elapsed as the local monotonic clock measures it
// (both advance at one rate on one machine; Redis' µs truncation is far
// smaller than the round trips around it).
func TestRedisAccuracyAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 1.5s")
	}
	srv := redistest.Start(t)
	var stores []Store
	for range 3 {
		// A generous timeout: a Take that times out may still have been
		// allowed by Redis, uncounted.
		stores = append(stores, newTestRedis(t, RedisOptions{URL: srv.URL(), Timeout: 5 * time.Second}))
	}
	l := Limit{Rate: 200, Per: time.Second, Burst: 50}
	allowed, elapsed := hammer(t, stores, 12, "hot", l, 1500*time.Millisecond)
	checkAccuracy(t, l, allowed, elapsed)
}

func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{URL: srv.URL()}) // the default 100ms timeout
	ctx := context.Background()
	l := Limit{Rate: 100, Per: time.Second, Burst: 100}
	if _, err := r.Take(ctx, "k", l); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	start := time.Now()
	_, err := r.Take(ctx, "k", l)
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Take with Redis down took %s", took)
	}
	if err == nil {
		t.Fatal("Take with Redis down succeeded")
	}
	if want := "redis rate limit store " + srv.Addr() + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start %q", err, want)
	}
	if ready := r.Ready(); ready == nil || ready.Error() != err.Error() {
		t.Errorf("Ready() = %v, want %v", ready, err)
	}

	srv.Restart(t)
	// go-redis may wait for its own once-a-second probe to see the server.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := r.Take(ctx, "k", l)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Take still fails 5s after Restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() = %v after Redis came back", err)
	}
}

// silentServer accepts connections and never answers, as a hung Redis or a
// black-holed network would.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestRedisTimeout(t *testing.T) {
	addr := silentServer(t)
	r := newTestRedis(t, RedisOptions{URL: "redis://" + addr})
	start := time.Now()
	_, err := r.Take(context.Background(), "k", slow)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Take from a silent server succeeded")
	}
	// The handshake and the script each get 100ms at most.
	if took > 500*time.Millisecond {
		t.Errorf("Take from a silent server took %s, want about the 100ms timeout", took)
	}
	if want := "redis rate limit store " + addr + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start %q", err, want)
	}
	if r.Ready() == nil {
		t.Error("Ready() = nil after a timeout")
	}
	t.Logf("%s: %v", took, err)
}

func TestNewRedis(t *testing.T) {
	// Nothing listens there: construction must not dial.
	r, err := NewRedis(RedisOptions{URL: "redis://127.0.0.1:1/3"})
	if err != nil {
		t.Fatal(err)
	}
	if r.prefix != DefaultRedisPrefix || r.client.Options().ReadTimeout != DefaultRedisTimeout || r.client.Options().DB != 3 {
		t.Errorf("defaults not applied: prefix %q, read timeout %s, db %d", r.prefix, r.client.Options().ReadTimeout, r.client.Options().DB)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() before any Take = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}

	for _, tt := range []struct {
		opts RedisOptions
		want string
	}{
		{RedisOptions{URL: "http://127.0.0.1:6379"}, "scheme"},
		{RedisOptions{URL: "redis://user:secret@[::1"}, "missing ']'"},
		{RedisOptions{URL: "redis://127.0.0.1/x"}, "database"},
		{RedisOptions{URL: "redis://127.0.0.1", Timeout: -time.Second}, "timeout must not be negative"},
	} {
		_, err := NewRedis(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "redis rate limit store") {
			t.Errorf("NewRedis(%+v) = %v, want an error saying %q", tt.opts, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("NewRedis error shows the password: %v", err)
		}
	}
}

func TestRedisParallelKeys(t *testing.T) {
	srv := redistest.Start(t)
	r := newTestRedis(t, RedisOptions{URL: srv.URL(), Timeout: 5 * time.Second})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := r.Take(context.Background(), strconv.Itoa(g*1000+i), slow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := r.client.DBSize(context.Background()).Result(); err != nil || n != 400 {
		t.Errorf("DBSIZE = %d, %v; want 400", n, err)
	}
}

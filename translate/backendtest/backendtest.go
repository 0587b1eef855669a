// Package backendtest is a conformance suite for translate.Backend
// implementations: every protocol's raw backend must report the same facts
// (code, Application, FromServer, Retryable, BackendHealthy) for the same
// situations, because the shared layer decides statuses, retries and
// breaker accounting from those facts alone.
//
// A protocol describes, in a Harness, how to start an upstream and which
// calls make it succeed, fail, stall or answer too much; Run checks the
// backend against it:
//
//	success          the reply body is the one expected, Reply.Endpoint the
//	                 upstream's address (or what the harness says)
//	app-error        *translate.Error, the expected code, Application and
//	                 FromServer, never Retryable
//	unknown-method   the code and flags the harness expects
//	deadline         a 200ms deadline on a stalled call: DEADLINE_EXCEEDED,
//	                 within 5s, not Retryable (the upstream has the call)
//	cancel           cancelling a stalled call: CANCELLED (or the harness's
//	                 code), within 5s, not Retryable
//	unavailable      nothing listening: UNAVAILABLE, Retryable, neither
//	                 Application nor FromServer; with and without metadata
//	oversized        a reply over the backend's limit: the harness's code,
//	                 not Application, not Retryable, never OK, no hang
//	concurrent       32 goroutines x 20 calls, every reply its own call's
//	after-close      Invoke after Close fails promptly with UNAVAILABLE,
//	                 neither Application nor FromServer
//	close-in-flight  Close releases a call waiting on a stalled upstream:
//	                 UNAVAILABLE, not Retryable (the upstream has the call)
//	goroutines       nothing the backends and upstreams started survives
//	                 their Close (goleak)
//
// Every error is also checked for the facts' invariants: it is a
// *translate.Error with a message and a code other than OK, and an
// Application outcome came from the server and is never Retryable.
//
// Run starts its subtests one after the other and must not run in parallel
// with tests that start goroutines: its leak check compares against the
// goroutines alive when it began.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/switchboard-gw/switchboard/translate"
)

// Harness is what a protocol gives the suite: a way to start an upstream
// with a backend wired to it, and the calls that make the upstream behave
// each way.
type Harness struct {
	// New starts a fresh upstream and a backend wired to it. The suite
	// closes the backend and then calls Upstream.Stop, in the subtest's
	// cleanup. New may call t.Fatal; it may also register cleanups of its
	// own with t.Cleanup (they run before the suite's leak check).
	New func(t testing.TB) *Upstream

	// Success returns the i-th call the upstream answers, and the reply
	// body expected for it. Distinct i give distinct bodies, so that the
	// concurrent check can tell replies apart.
	Success func(i int) (call *translate.Call, want []byte)

	// AppErrors are calls the upstream's application fails (a gRPC
	// status, a TApplicationException, a NATS micro error), each with the
	// code expected. At least one is required.
	AppErrors []AppError

	// UnknownMethod is a call to a method (subject) the upstream does not
	// serve, and UnknownMethodWant the error facts expected for it.
	UnknownMethod     *translate.Call
	UnknownMethodWant Facts

	// Stall is a call the upstream receives (and reports on
	// Upstream.Stalled) but never answers.
	Stall *translate.Call
	// CancelCode is the code expected when the context of a stalled call
	// is cancelled; OK (the zero value) means CANCELLED. A protocol that
	// cannot tell a cancellation from a deadline says DEADLINE_EXCEEDED.
	CancelCode codes.Code

	// Unavailable are backends whose upstream is down, each with a call
	// to make; each must fail with UNAVAILABLE, Retryable. At least one is
	// required.
	Unavailable []Unavailable

	// Oversized is a call whose reply exceeds the backend's
	// MaxMessageBytes, as New configures it, and OversizedCode the code
	// expected (INTERNAL or RESOURCE_EXHAUSTED). A protocol whose backend
	// can never receive an oversized reply leaves Oversized nil and says
	// why in OversizedSkip.
	Oversized     *translate.Call
	OversizedCode codes.Code
	OversizedSkip string

	// LeakOptions are extra goleak options for the leak check: ignore
	// only goroutines of long-lived library internals, and say why where
	// they are built.
	LeakOptions []goleak.Option
}

// Upstream is a running upstream and the backend wired to it.
type Upstream struct {
	Backend translate.Backend
	// Endpoint is the Reply.Endpoint expected on success: the upstream's
	// address, or "" for a backend that reports none.
	Endpoint string
	// Stalled receives a value for each Stall call the upstream has
	// received. Sends must not block the upstream (a buffered channel,
	// sent to with select/default).
	Stalled <-chan struct{}
	// Stop stops the upstream and waits for everything it started. It
	// must release stalled calls.
	Stop func()
}

// AppError is a call the upstream's application fails, and the code it
// must fail with.
type AppError struct {
	Name string
	Call *translate.Call
	Code codes.Code
}

// Facts are the parts of a *translate.Error a backend reports.
type Facts struct {
	Code           codes.Code
	Application    bool
	FromServer     bool
	Retryable      bool
	BackendHealthy bool
}

func (f Facts) String() string {
	return fmt.Sprintf("{Code:%s Application:%t FromServer:%t Retryable:%t BackendHealthy:%t}",
		f.Code, f.Application, f.FromServer, f.Retryable, f.BackendHealthy)
}

func factsOf(e *translate.Error) Facts {
	return Facts{Code: e.Code, Application: e.Application, FromServer: e.FromServer, Retryable: e.Retryable, BackendHealthy: e.BackendHealthy}
}

// Unavailable is a backend whose upstream is down.
type Unavailable struct {
	Name string
	// New returns the backend, a call to make on it, and a stop func
	// that releases whatever else New started (nil if nothing). The suite
	// closes the backend first.
	New func(t testing.TB) (b translate.Backend, call *translate.Call, stop func())
}

// Bounds: calls must return within these, or the backend hangs. They are
// generous on purpose: they catch hangs, not slowness.
const (
	// callTimeout is the context deadline of calls that should answer.
	callTimeout = 10 * time.Second
	// hangBound is how long after its deadline (or cancellation) a call
	// may take to return.
	hangBound = 5 * time.Second
	// shortDeadline is the deadline of the stalled call.
	shortDeadline = 200 * time.Millisecond
)

// Concurrency of the concurrent check.
const (
	goroutines        = 32
	callsPerGoroutine = 20
)

// Run checks a backend against the harness, one subtest per situation,
// and then that no goroutine survives.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Success == nil {
		t.Fatal("backendtest: Harness.New and Harness.Success are required")
	}
	before := goleak.IgnoreCurrent()

	t.Run("success", func(t *testing.T) { checkSuccess(t, h) })
	t.Run("app-error", func(t *testing.T) { checkAppErrors(t, h) })
	t.Run("unknown-method", func(t *testing.T) { checkUnknownMethod(t, h) })
	t.Run("deadline", func(t *testing.T) { checkDeadline(t, h) })
	t.Run("cancel", func(t *testing.T) { checkCancel(t, h) })
	t.Run("unavailable", func(t *testing.T) { checkUnavailable(t, h) })
	t.Run("oversized", func(t *testing.T) { checkOversized(t, h) })
	t.Run("concurrent", func(t *testing.T) { checkConcurrent(t, h) })
	t.Run("after-close", func(t *testing.T) { checkAfterClose(t, h) })
	t.Run("close-in-flight", func(t *testing.T) { checkCloseInFlight(t, h) })

	// Last: every subtest above has closed its backends and stopped its
	// upstreams in its cleanups, which have run by now.
	t.Run("goroutines", func(t *testing.T) {
		goleak.VerifyNone(t, append([]goleak.Option{before}, h.LeakOptions...)...)
	})
}

// start runs h.New and registers the suite's cleanup: close the backend
// (unless the subtest did), then stop the upstream. The returned func
// closes the backend now, once.
func start(t *testing.T, h Harness) (*Upstream, func() error) {
	t.Helper()
	up := h.New(t)
	if up == nil || up.Backend == nil {
		t.Fatal("backendtest: Harness.New returned no backend")
	}
	var once sync.Once
	var closeErr error
	closeBackend := func() error {
		once.Do(func() { closeErr = closeBounded(up.Backend) })
		return closeErr
	}
	t.Cleanup(func() {
		if err := closeBackend(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if up.Stop != nil {
			up.Stop()
		}
	})
	return up, closeBackend
}

// closeBounded closes b, failing rather than hanging if Close does not
// return (a NATS backend drains for up to 5s).
func closeBounded(b translate.Backend) error {
	done := make(chan error, 1)
	go func() { done <- b.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(callTimeout):
		return fmt.Errorf("close did not return within %v", callTimeout)
	}
}

// outcome is what one Invoke did.
type outcome struct {
	reply *translate.Reply
	err   error
	took  time.Duration
	panic string // the panic value and stack, if Invoke panicked
}

// invokeAsync runs Invoke in a goroutine, turning a panic into an outcome.
func invokeAsync(ctx context.Context, b translate.Backend, call *translate.Call) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		begin := time.Now()
		var o outcome
		defer func() {
			if r := recover(); r != nil {
				o.panic = fmt.Sprintf("%v\n%s", r, debug.Stack())
			}
			o.took = time.Since(begin)
			ch <- o
		}()
		o.reply, o.err = b.Invoke(ctx, call)
	}()
	return ch
}

// wait waits for an outcome for at most bound, failing the test on a
// hang or a panic.
func wait(t testing.TB, ch <-chan outcome, bound time.Duration, what string) outcome {
	t.Helper()
	select {
	case o := <-ch:
		if o.panic != "" {
			t.Fatalf("%s: Invoke panicked: %s", what, o.panic)
		}
		return o
	case <-time.After(bound):
		t.Fatalf("%s: Invoke did not return within %v", what, bound)
		return outcome{}
	}
}

// invoke calls b within ctx, failing if it does not return within bound.
func invoke(t testing.TB, ctx context.Context, b translate.Backend, call *translate.Call, bound time.Duration, what string) outcome {
	t.Helper()
	return wait(t, invokeAsync(ctx, b, call), bound, what)
}

// call makes one call with the generous callTimeout.
func call(t testing.TB, b translate.Backend, c *translate.Call, what string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return invoke(t, ctx, b, c, callTimeout+hangBound, what)
}

// asError checks err is a well-formed *translate.Error and returns it; it
// returns nil (having failed the test) when err is nil.
func asError(t testing.TB, err error, what string) *translate.Error {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return nil
	}
	var e *translate.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error is a %T, not a *translate.Error: %v", what, err, err)
		e = translate.FromError(err)
	}
	if e.Code == codes.OK {
		t.Errorf("%s: error with code OK: %v", what, err)
	}
	if e.Message == "" {
		t.Errorf("%s: error with no message: %v", what, err)
	}
	if e.Application && !e.FromServer {
		t.Errorf("%s: Application without FromServer (%v): an application's answer came from the server: %v", what, factsOf(e), err)
	}
	if e.Application && e.Retryable {
		t.Errorf("%s: Application and Retryable (%v): the application answered, so the request reached it: %v", what, factsOf(e), err)
	}
	return e
}

func checkSuccess(t *testing.T, h Harness) {
	up, _ := start(t, h)
	for i := range 3 { // more than one, so that a pooled connection is reused
		c, want := h.Success(i)
		o := call(t, up.Backend, c, "success")
		if o.err != nil {
			t.Fatalf("call %d: %v (%v)", i, o.err, describe(o.err))
		}
		if o.reply == nil {
			t.Fatalf("call %d: nil reply and nil error", i)
		}
		if !bytes.Equal(o.reply.Body, want) {
			t.Errorf("call %d: reply body %q, want %q", i, o.reply.Body, want)
		}
		if o.reply.Endpoint != up.Endpoint {
			t.Errorf("call %d: Reply.Endpoint %q, want %q", i, o.reply.Endpoint, up.Endpoint)
		}
	}
}

func checkAppErrors(t *testing.T, h Harness) {
	if len(h.AppErrors) == 0 {
		t.Fatal("backendtest: Harness.AppErrors is empty")
	}
	up, _ := start(t, h)
	for _, ae := range h.AppErrors {
		t.Run(ae.Name, func(t *testing.T) {
			o := call(t, up.Backend, ae.Call, "application error")
			e := asError(t, o.err, "application error")
			if e == nil {
				return
			}
			got := factsOf(e)
			want := Facts{Code: ae.Code, Application: true, FromServer: true}
			if got.Code != want.Code || !got.Application || !got.FromServer || got.Retryable || got.BackendHealthy {
				t.Errorf("facts %v, want %v: %v", got, want, o.err)
			}
		})
	}
	// The backend still serves after application errors.
	c, want := h.Success(0)
	if o := call(t, up.Backend, c, "success after errors"); !replied(o, want) {
		t.Errorf("success after application errors: %v", describeOutcome(o))
	}
}

func checkUnknownMethod(t *testing.T, h Harness) {
	if h.UnknownMethod == nil {
		t.Fatal("backendtest: Harness.UnknownMethod is nil")
	}
	up, _ := start(t, h)
	o := call(t, up.Backend, h.UnknownMethod, "unknown method")
	e := asError(t, o.err, "unknown method")
	if e == nil {
		return
	}
	if got := factsOf(e); got != h.UnknownMethodWant {
		t.Errorf("facts %v, want %v: %v", got, h.UnknownMethodWant, o.err)
	}
}

// awaitStalled waits for the upstream to report a stalled call.
func awaitStalled(t testing.TB, up *Upstream) bool {
	t.Helper()
	if up.Stalled == nil {
		t.Error("backendtest: Upstream.Stalled is nil")
		return false
	}
	select {
	case <-up.Stalled:
		return true
	case <-time.After(callTimeout):
		t.Errorf("the upstream never received the stalling call within %v", callTimeout)
		return false
	}
}

func checkDeadline(t *testing.T, h Harness) {
	if h.Stall == nil {
		t.Fatal("backendtest: Harness.Stall is nil")
	}
	up, _ := start(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), shortDeadline)
	defer cancel()
	o := invoke(t, ctx, up.Backend, h.Stall, shortDeadline+hangBound, "stalled call with a deadline")
	// The upstream must have had the call: otherwise this checked nothing
	// about waiting for an answer.
	awaitStalled(t, up)
	e := asError(t, o.err, "deadline")
	if e == nil {
		return
	}
	got := factsOf(e)
	if got.Code != codes.DeadlineExceeded || got.Application || got.FromServer || got.Retryable {
		t.Errorf("facts %v after %v, want DEADLINE_EXCEEDED, not Application, not FromServer (nothing came back), "+
			"not Retryable (the upstream has the call): %v", got, o.took.Round(time.Millisecond), o.err)
	}
	// The backend still serves after a call that timed out.
	c, want := h.Success(0)
	if o := call(t, up.Backend, c, "success after deadline"); !replied(o, want) {
		t.Errorf("success after a timed-out call: %v", describeOutcome(o))
	}
}

func checkCancel(t *testing.T, h Harness) {
	if h.Stall == nil {
		t.Fatal("backendtest: Harness.Stall is nil")
	}
	wantCode := h.CancelCode
	if wantCode == codes.OK {
		wantCode = codes.Canceled
	}
	up, _ := start(t, h)
	// No deadline: the cancellation alone must end the call (a backend
	// may add its own default deadline, which is far away).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := invokeAsync(ctx, up.Backend, h.Stall)
	if !awaitStalled(t, up) {
		cancel()
		wait(t, ch, hangBound, "stalled call, cancelled")
		return
	}
	cancel()
	o := wait(t, ch, hangBound, "stalled call, cancelled")
	e := asError(t, o.err, "cancel")
	if e == nil {
		return
	}
	got := factsOf(e)
	if got.Code != wantCode || got.Application || got.FromServer || got.Retryable {
		t.Errorf("facts %v, want %s, not Application, not FromServer, not Retryable (the upstream has the call): %v",
			got, wantCode, o.err)
	}
	c, want := h.Success(0)
	if o := call(t, up.Backend, c, "success after cancel"); !replied(o, want) {
		t.Errorf("success after a cancelled call: %v", describeOutcome(o))
	}
}

func checkUnavailable(t *testing.T, h Harness) {
	if len(h.Unavailable) == 0 {
		t.Fatal("backendtest: Harness.Unavailable is empty")
	}
	for _, u := range h.Unavailable {
		// With and without metadata: the gateway forwards request headers
		// as metadata, so most real calls carry some.
		for _, withMD := range []bool{false, true} {
			name := u.Name
			if withMD {
				name += "/with-metadata"
			}
			t.Run(name, func(t *testing.T) {
				b, c, stop := u.New(t)
				if b == nil || c == nil {
					t.Fatal("backendtest: Unavailable.New returned no backend or no call")
				}
				t.Cleanup(func() {
					if err := closeBounded(b); err != nil {
						t.Errorf("Close: %v", err)
					}
					if stop != nil {
						stop()
					}
				})
				if withMD {
					c = withMetadata(c)
				}
				o := call(t, b, c, "unavailable upstream")
				e := asError(t, o.err, "unavailable")
				if e == nil {
					return
				}
				got := factsOf(e)
				if got.Code != codes.Unavailable || !got.Retryable || got.Application || got.FromServer {
					t.Errorf("facts %v after %v, want UNAVAILABLE, Retryable (nothing reached the upstream), "+
						"not Application, not FromServer: %v", got, o.took.Round(time.Millisecond), o.err)
				}
			})
		}
	}
}

// withMetadata copies c, adding request metadata as the gateway does.
func withMetadata(c *translate.Call) *translate.Call {
	cc := *c
	md := metadata.MD{}
	maps.Copy(md, c.Metadata)
	md.Set("x-request-id", "backendtest-1")
	cc.Metadata = md
	return &cc
}

func checkOversized(t *testing.T, h Harness) {
	if h.Oversized == nil {
		if h.OversizedSkip == "" {
			t.Fatal("backendtest: Harness.Oversized is nil and OversizedSkip gives no reason")
		}
		t.Skip(h.OversizedSkip)
	}
	if h.OversizedCode != codes.Internal && h.OversizedCode != codes.ResourceExhausted {
		t.Fatalf("backendtest: OversizedCode %s, want INTERNAL or RESOURCE_EXHAUSTED", h.OversizedCode)
	}
	up, _ := start(t, h)
	o := call(t, up.Backend, h.Oversized, "oversized reply")
	e := asError(t, o.err, "oversized reply")
	if e == nil {
		if o.reply != nil {
			t.Errorf("an oversized reply of %d bytes was accepted", len(o.reply.Body))
		}
		return
	}
	got := factsOf(e)
	if got.Code != h.OversizedCode || got.Application || !got.FromServer || got.Retryable {
		t.Errorf("facts %v, want %s, FromServer (a reply came back), not Application (the limit is the gateway's), "+
			"not Retryable: %v", got, h.OversizedCode, o.err)
	}
	c, want := h.Success(0)
	if o := call(t, up.Backend, c, "success after oversized"); !replied(o, want) {
		t.Errorf("success after an oversized reply: %v", describeOutcome(o))
	}
}

func checkConcurrent(t *testing.T, h Harness) {
	up, _ := start(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 4*callTimeout)
	defer cancel()
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for g := range goroutines {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					fail("goroutine %d: Invoke panicked: %v\n%s", g, r, debug.Stack())
				}
			}()
			for j := range callsPerGoroutine {
				i := g*callsPerGoroutine + j
				c, want := h.Success(i)
				r, err := up.Backend.Invoke(ctx, c)
				switch {
				case err != nil:
					fail("call %d: %v", i, err)
				case r == nil:
					fail("call %d: nil reply and nil error", i)
				case !bytes.Equal(r.Body, want):
					fail("call %d: reply %q, want %q", i, r.Body, want)
				case r.Endpoint != up.Endpoint:
					fail("call %d: Reply.Endpoint %q, want %q", i, r.Endpoint, up.Endpoint)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(4*callTimeout + hangBound):
		t.Fatalf("%d concurrent callers did not finish within %v", goroutines, 4*callTimeout+hangBound)
	}
	for _, f := range failures {
		t.Error(f)
	}
}

func checkAfterClose(t *testing.T, h Harness) {
	up, closeBackend := start(t, h)
	c, want := h.Success(0)
	if o := call(t, up.Backend, c, "success before close"); !replied(o, want) {
		t.Fatalf("success before Close: %v", describeOutcome(o))
	}
	if err := closeBackend(); err != nil {
		t.Errorf("Close: %v", err)
	}
	o := call(t, up.Backend, c, "call after close")
	e := asError(t, o.err, "call after Close")
	if e == nil {
		return
	}
	// The client did not go away: CANCELLED (499) would be a false fact,
	// and nothing reached the upstream.
	if got := factsOf(e); got.Code != codes.Unavailable || got.Application || got.FromServer {
		t.Errorf("call after Close: facts %v, want UNAVAILABLE (the backend is closed), not Application, not FromServer: %v", got, o.err)
	}
}

// checkCloseInFlight closes a backend while a call waits on a stalled
// upstream: the call must end (Close releases it), and, as the upstream
// has it, must not be Retryable.
func checkCloseInFlight(t *testing.T, h Harness) {
	if h.Stall == nil {
		t.Fatal("backendtest: Harness.Stall is nil")
	}
	up, closeBackend := start(t, h)
	// No deadline: only Close can end the call (before the backend's own
	// default deadline, which is far away).
	ch := invokeAsync(context.Background(), up.Backend, h.Stall)
	if !awaitStalled(t, up) {
		return
	}
	begin := time.Now()
	if err := closeBackend(); err != nil {
		t.Errorf("Close: %v", err)
	}
	o := wait(t, ch, callTimeout, "stalled call, backend closed")
	t.Logf("Close took %v; the call returned %v after Close began",
		time.Since(begin).Round(time.Millisecond), o.took.Round(time.Millisecond))
	e := asError(t, o.err, "call in flight at Close")
	if e == nil {
		return
	}
	if got := factsOf(e); got.Code != codes.Unavailable || got.Retryable || got.Application {
		t.Errorf("call in flight at Close: facts %v, want UNAVAILABLE (the connection closed under the call; the client "+
			"did not cancel), not Retryable (the upstream has the call), not Application: %v", got, o.err)
	}
}

// replied says the call succeeded with the body wanted.
func replied(o outcome, want []byte) bool {
	return o.err == nil && o.reply != nil && bytes.Equal(o.reply.Body, want)
}

func describe(err error) string {
	if err == nil {
		return "no error"
	}
	var e *translate.Error
	if errors.As(err, &e) {
		return factsOf(e).String()
	}
	return fmt.Sprintf("%T", err)
}

func describeOutcome(o outcome) string {
	if o.err != nil {
		return fmt.Sprintf("%v (%s)", o.err, describe(o.err))
	}
	if o.reply == nil {
		return "nil reply"
	}
	return fmt.Sprintf("reply %q", o.reply.Body)
}

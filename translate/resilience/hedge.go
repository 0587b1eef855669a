package resilience

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Hedge races a slow attempt: when an attempt of an idempotent call that
// waits for a reply has not answered after the delay, another copy is
// sent (where the protocol balances, to the next endpoint), up to Max
// more, one per delay. The first reply wins and is decoded; the others
// are cancelled and their outcome discarded: neither the breaker nor the
// metrics count them as failures.
//
// A hedge is a retry sent early: it takes a share of the retry budget and,
// under MaxConcurrent, a free slot, and is not sent when either is spent
// or the breaker is open, so a slow backend cannot have its load doubled
// without bound. Non-idempotent calls, one-way calls and publishes are
// never hedged.
type Hedge struct {
	// Delay is how long an attempt runs before it is hedged.
	Delay time.Duration
	// P95, instead of Delay, waits the p95 latency of the backend's recent
	// successful attempts; until there are P95MinSamples of them, nothing
	// is hedged.
	P95 bool
	// Max is how many hedges one attempt may have: 1 or 2 (MaxHedges).
	Max int
}

// Hedging limits.
const (
	MaxHedges     = 2
	P95MinSamples = 20
	// latencyRing is how many recent latencies the p95 is taken over.
	latencyRing = 128
)

// On reports whether h hedges anything.
func (h Hedge) On() bool { return h.Max > 0 && (h.P95 || h.Delay > 0) }

// hedgeDelay is how long an attempt of call runs before its first hedge;
// ok is false when it is not to be hedged.
func (b *Backend) hedgeDelay(ctx context.Context, call *translate.Call, h Hedge) (time.Duration, bool) {
	if !h.On() || !call.Idempotent || call.Delivery != translate.DeliveryReply {
		return 0, false
	}
	d := h.Delay
	if h.P95 {
		p := b.latency.p95.Load()
		if p <= 0 {
			return 0, false // too few samples yet
		}
		d = time.Duration(p)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return 0, false // the call ends before a hedge could start
	}
	return d, true
}

// try makes one attempt, hedged when h and the call allow it.
func (b *Backend) try(ctx context.Context, call *translate.Call, decode Decoder,
	callerDeadline time.Time, h Hedge) (*translate.Reply, error) {
	if delay, ok := b.hedgeDelay(ctx, call, h); ok {
		return b.hedged(ctx, call, decode, callerDeadline, min(h.Max, MaxHedges), delay)
	}
	return b.attempt(ctx, call, decode, callerDeadline, nil, 0)
}

// race is one hedged attempt's copies; the first to settle with a reply
// or a decisive error wins.
type race struct {
	ctx    context.Context // the call's, beyond any one copy
	winner atomic.Int32    // the winning copy's id (from 1), 0 until one wins
	// picks are the copies' endpoint choices, so that a hedge goes to
	// another endpoint; guarded by the backend's endpoints lock.
	picks []*pick
}

// settle is called by copy id once its backend call returned err: it
// reports whether the copy goes on to decode and report its outcome (it
// won, or failed softly while no copy has won), or lost.
func (r *race) settle(id int32, err error, b *Backend) bool {
	if err == nil || !b.soft(r.ctx, err) {
		return r.winner.CompareAndSwap(0, id)
	}
	return r.winner.Load() == 0
}

// soft reports whether a copy's failure leaves the race to the other
// copies: it says the copy, or its endpoint, failed, not that the backend
// answered (UNAVAILABLE, a per-try timeout, a code the retry policy
// retries, an open breaker).
func (b *Backend) soft(ctx context.Context, err error) bool {
	if errors.Is(err, errBreakerOpen) {
		return true
	}
	if ctx.Err() != nil {
		return false // the call is over: the first to say so wins
	}
	e := translate.FromError(err)
	if e.Application {
		return false
	}
	switch e.Code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return slices.Contains(b.policy.Retry.On, e.Code)
}

// lost ends a copy that lost the race: a cancelled one's failure says
// nothing about the backend; one that answered after the winner was a
// success, whose reply nobody reads.
func (b *Backend) lost(t ticket, p *pick, span trace.Span, traced bool, reply *translate.Reply, err error, start time.Time) (*translate.Reply, error) {
	if traced {
		span.SetAttributes(attribute.Bool("switchboard.hedge.lost", true))
	}
	if err != nil {
		b.breaker.abandon(t)
		p.done(verdictNeutral, "")
		return nil, err
	}
	b.breaker.done(t, false)
	p.done(verdictSuccess, reply.Endpoint)
	elapsed := time.Since(start)
	b.latency.add(elapsed)
	b.calls.Call(codes.OK, elapsed)
	return nil, nil
}

// takeHedge reserves what a hedge needs: a retry from the budget and,
// under MaxConcurrent, a free slot (a full backend gains nothing from one
// more call). release gives them back.
func (b *Backend) takeHedge() (release func(), ok bool) {
	if b.breaker.open() {
		return nil, false
	}
	if !b.takeRetry() {
		return nil, false
	}
	if b.slots != nil {
		select {
		case b.slots <- struct{}{}:
		default:
			b.retrying.Add(-1)
			return nil, false
		}
	}
	b.hedges.Add(1)
	b.metrics.Hedge(b.name, "sent")
	return func() {
		b.retrying.Add(-1)
		if b.slots != nil {
			<-b.slots
		}
	}, true
}

// outcome is what one copy of a hedged attempt came to.
type outcome struct {
	id       int32
	reply    *translate.Reply
	err      error
	panicked bool
	panicVal any
}

// hedged runs one attempt as a race of copies: the first now, another
// after each delay while none has won, at most max more. It returns the
// winner's outcome, or when every copy failed softly, the last failure;
// copies still running are cancelled and left to end on their own.
func (b *Backend) hedged(ctx context.Context, call *translate.Call, decode Decoder,
	callerDeadline time.Time, maxHedges int, delay time.Duration) (*translate.Reply, error) {
	r := &race{ctx: ctx}
	// Buffered for every copy: the losers never block on it.
	results := make(chan outcome, 1+maxHedges)
	cancels := make([]context.CancelFunc, 0, 1+maxHedges)
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	launch := func(release func()) {
		id := int32(len(cancels) + 1)
		actx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		go func() {
			o := outcome{id: id}
			defer func() {
				if p := recover(); p != nil {
					// A panic ends the race, unless it already ended:
					// hedged's caller sees it as an unhedged one would.
					o.panicked, o.panicVal = true, p
					r.winner.CompareAndSwap(0, id)
				}
				if release != nil {
					release()
				}
				results <- o
			}()
			o.reply, o.err = b.attempt(actx, call, decode, callerDeadline, r, id)
		}()
	}
	launch(nil)
	inflight, sent := 1, 0
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var last error
	for {
		select {
		case <-timer.C:
			if r.winner.Load() != 0 || ctx.Err() != nil {
				continue
			}
			release, ok := b.takeHedge()
			if !ok {
				continue // no budget: the copies in flight decide
			}
			sent++
			inflight++
			launch(release)
			if sent < maxHedges {
				timer.Reset(delay)
			}
		case o := <-results:
			inflight--
			if r.winner.Load() == o.id {
				if o.panicked {
					panic(o.panicVal)
				}
				if o.id > 1 {
					b.hedgesWon.Add(1)
					b.metrics.Hedge(b.name, "won")
				}
				return o.reply, o.err
			}
			if o.panicked && b.policy.Log != nil {
				b.policy.Log.Error("hedged attempt panicked after the race ended", slog.String("backend", b.name), slog.Any("panic", o.panicVal))
			}
			last = o.err
			if inflight == 0 && r.winner.Load() == 0 {
				// Every copy failed softly: the retry policy decides.
				return nil, last
			}
		}
	}
}

// latencies is a ring of recent successful attempts' latencies and their
// p95, kept up to date as they come.
type latencies struct {
	mu     sync.Mutex
	ring   [latencyRing]time.Duration
	n      int
	sorted []time.Duration
	// p95 in nanoseconds, 0 until P95MinSamples latencies are in.
	p95 atomic.Int64
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.n%latencyRing] = d
	l.n++
	// Once full, the p95 moves slowly: every 8th sample is enough.
	if l.n < P95MinSamples || (l.n > latencyRing && l.n%8 != 0) {
		return
	}
	l.sorted = append(l.sorted[:0], l.ring[:min(l.n, latencyRing)]...)
	i := int(math.Ceil(0.95*float64(len(l.sorted)))) - 1
	// The i-th smallest, as a sort would place it, without sorting the
	// rest: this runs under the lock on every eighth attempt.
	l.p95.Store(int64(max(nth(l.sorted, i), time.Nanosecond)))
}

// nth reorders s so that s[k] is the value a sort would put there, and
// returns it (Hoare's selection, middle pivot).
func nth(s []time.Duration, k int) time.Duration {
	lo, hi := 0, len(s)-1
	for lo < hi {
		pivot := s[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for s[j] > pivot {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return s[k]
		}
	}
	return s[k]
}

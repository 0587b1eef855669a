package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for RedisOptions.
const (
	DefaultRedisPrefix  = "switchboard:rl:"
	DefaultRedisTimeout = 100 * time.Millisecond
)

// RedisOptions configure the shared store.
type RedisOptions struct {
	URL     string        // redis://[user:pass@]host:port/db (also rediss://); parsed with redis.ParseURL
	Prefix  string        // key prefix, default "switchboard:rl:"
	Timeout time.Duration // per command (dial/read/write), default 100ms: a rate limit must not add latency
}

// Redis is the shared store: every gateway instance pointed at the same
// Redis (and Prefix) shares each key's bucket. A bucket is one string key,
// Prefix + key (hashed when long, see MaxKeyLen), holding its theoretical
// arrival time in microseconds and expiring when that time comes, when it
// would be a full bucket anyway.
type Redis struct {
	client  *redis.Client
	prefix  string
	name    string                // "redis rate limit store host:port", to start errors with
	lastErr atomic.Pointer[error] // nil after a success
}

// takeScript is gcra (ratelimit.go) as one atomic step in Redis, on Redis'
// clock so that instances with skewed clocks agree. Times are whole
// microseconds, which Lua's doubles hold exactly for centuries yet.
// KEYS[1] is the bucket; ARGV[1] the emission interval (µs); ARGV[2] the
// burst. It answers {allowed (0/1), remaining, retry after (µs), reset (µs)}.
// It writes after reading TIME, which needs Redis 5 or later (effects
// replication, so replicas get the SET, not the clock reading).
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
-- %d, not tostring: Lua would write 17 digits as 1.7e+15.
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
local since = now - allow_at
local remaining = math.floor(since / interval)
-- A float quotient just under a whole number can round up to it.
if remaining * interval > since then
  remaining = remaining - 1
end
return {1, remaining, 0, new_tat - now}
`)

// NewRedis makes a Redis store. It does not dial: Redis need not be up
// until the first Take. Query parameters in the URL may tune the client
// (pool_size and the like), but Timeout and fail-fast retry settings
// replace any the URL gives.
func NewRedis(o RedisOptions) (*Redis, error) {
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		// A url.Error quotes the whole URL, password included.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("redis rate limit store: URL: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = DefaultRedisTimeout
	case o.Timeout < 0:
		return nil, fmt.Errorf("redis rate limit store %s: timeout must not be negative, not %s", opts.Addr, o.Timeout)
	}
	opts.DialTimeout = o.Timeout
	opts.ReadTimeout = o.Timeout
	opts.WriteTimeout = o.Timeout
	// Waiting for a free connection is latency too.
	opts.PoolTimeout = o.Timeout
	// A down Redis must fail fast, once: the caller's fail mode decides
	// what then, and a retry would only double the wait. (-1 is go-redis'
	// "no retries"; 0 means its default of 3.)
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	// Nothing here would act on maintenance notices, and the extra
	// handshake command only adds to every new connection.
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	quietOnce.Do(func() { redis.SetLogger(quietRedis{}) })
	return &Redis{
		client: redis.NewClient(opts),
		prefix: o.Prefix,
		name:   "redis rate limit store " + opts.Addr,
	}, nil
}

// Take takes one request from key's bucket under l. It fails when Redis
// cannot be reached in time or answers wrongly; the caller then applies
// its fail mode (open or closed).
func (r *Redis) Take(ctx context.Context, key string, l Limit) (Decision, error) {
	p, err := l.params()
	if err != nil {
		return Decision{}, fmt.Errorf("%s: %w", r.name, err)
	}
	// Round to Redis' microseconds; params keeps the interval at least one.
	intervalUS := (int64(p.interval) + 500) / 1000
	reply, err := takeScript.Run(ctx, r.client, []string{r.prefix + boundKey(key)}, intervalUS, p.burst).Int64Slice()
	if err == nil {
		err = checkReply(reply, p.burst)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", r.name, err)
		// A caller that gave up says nothing about Redis.
		if ctx.Err() == nil {
			r.lastErr.Store(&err)
		}
		return Decision{}, err
	}
	if r.lastErr.Load() != nil {
		r.lastErr.Store(nil)
	}
	return Decision{
		Allowed:    reply[0] == 1,
		Remaining:  reply[1],
		RetryAfter: time.Duration(reply[2]) * time.Microsecond,
		Reset:      time.Duration(reply[3]) * time.Microsecond,
	}, nil
}

// checkReply refuses what takeScript cannot have answered, such as the
// reply of a different script under its SHA.
func checkReply(reply []int64, burst int64) error {
	if len(reply) != 4 {
		return fmt.Errorf("rate limit script answered %d values, want 4", len(reply))
	}
	allowed, remaining, retry, reset := reply[0], reply[1], reply[2], reply[3]
	ok := reset >= 0 && remaining >= 0 && remaining <= burst
	switch allowed {
	case 1:
		ok = ok && retry == 0
	case 0:
		ok = ok && retry > 0
	default:
		ok = false
	}
	if !ok {
		return fmt.Errorf("rate limit script answered %v, which is not a decision", reply)
	}
	return nil
}

// Ready is nil if the last Take reached Redis (or none has run yet), else
// that Take's error; for /readyz detail. It costs one atomic load.
func (r *Redis) Ready() error {
	if err := r.lastErr.Load(); err != nil {
		return *err
	}
	return nil
}

// quietRedis keeps go-redis from printing a line per failed dial to
// stderr: the engine logs an outage once, through the gateway's logger,
// and counts every failure in a metric. go-redis' logger is process-wide;
// this package is the binary's only user of it.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

// Probe asks Redis whether it answers (PING) and updates Ready: an
// instance whose limits fail closed receives no traffic once unready, so
// no Take would ever clear the error.
func (r *Redis) Probe(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		err = fmt.Errorf("%s: %w", r.name, err)
		if ctx.Err() == nil {
			r.lastErr.Store(&err)
		}
		return err
	}
	r.lastErr.Store(nil)
	return nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", r.name, err)
	}
	return nil
}

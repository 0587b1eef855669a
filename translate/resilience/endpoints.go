package resilience

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/translate"
)

// Outlier ejects an endpoint that fails Failures calls in a row: the
// protocol's balancer passes over it for BaseEjection times the number of
// times it was ejected (Envoy's growing interval), at most MaxEjection.
// When that time is up it comes back on probation, taking at most Probes
// calls at once: one success ends the probation, one failure ejects it
// again for longer. It is the per-endpoint breaker beside the backend's.
//
// At most MaxEjectedPercent of the endpoints are out at once, and never
// all of them: ejecting the last endpoint would turn a partial outage
// into a full one, which is the backend breaker's call to make.
type Outlier struct {
	Failures          int
	BaseEjection      time.Duration
	MaxEjection       time.Duration
	MaxEjectedPercent int
	Probes            int
}

// Outlier defaults, as Envoy's where it has one.
const (
	DefaultBaseEjection      = 30 * time.Second
	DefaultMaxEjection       = 300 * time.Second
	DefaultMaxEjectedPercent = 50
	DefaultProbes            = 1
	// errorWindow is how far back an endpoint's error rate looks: two
	// windows, the current and the last complete one.
	errorWindow = 10 * time.Second
)

func (o Outlier) withDefaults() Outlier {
	if o.BaseEjection <= 0 {
		o.BaseEjection = DefaultBaseEjection
	}
	if o.MaxEjection <= 0 {
		o.MaxEjection = max(DefaultMaxEjection, o.BaseEjection)
	}
	if o.MaxEjectedPercent <= 0 {
		o.MaxEjectedPercent = DefaultMaxEjectedPercent
	}
	if o.Probes <= 0 {
		o.Probes = DefaultProbes
	}
	return o
}

// endpoints is what the shared layer knows of a backend's endpoints:
// calls in flight and recent errors always, ejections when Outlier is on.
type endpoints struct {
	backend string
	outlier Outlier // Failures 0: never ejects
	known   func() []string
	now     func() time.Time
	log     *slog.Logger
	// onEject is told of each ejection and return, for metrics.
	onEject func(addr string, ejected bool)

	mu    sync.Mutex
	state map[string]*endpoint
}

type endpoint struct {
	consecutive  int
	ejectedUntil time.Time // zero unless ejected
	ejections    int       // times ejected, decayed while it stays in
	returned     time.Time // when it last came back
	probation    bool
	probes       int // calls in flight while on probation
	inFlight     int
	// calls and failures over the current error window, and the last.
	window                time.Time
	calls, failures       int
	lastCalls, lastFailed int
}

func (s *endpoints) get(addr string) *endpoint {
	ep := s.state[addr]
	if ep == nil {
		if s.state == nil {
			s.state = map[string]*endpoint{}
		}
		// Addresses come from the protocol's config, not from requests:
		// the map stays as small as the endpoint list.
		ep = &endpoint{}
		s.state[addr] = ep
	}
	return ep
}

// ejectedLocked reports whether ep is out now, bringing it back on
// probation once its time is up.
func (s *endpoints) ejectedLocked(addr string, ep *endpoint, now time.Time) bool {
	if ep.ejectedUntil.IsZero() {
		return false
	}
	if now.Before(ep.ejectedUntil) {
		return true
	}
	ep.ejectedUntil, ep.probation, ep.returned, ep.consecutive = time.Time{}, true, now, 0
	if s.log != nil {
		s.log.Info("endpoint back on probation", slog.String("backend", s.backend), slog.String("endpoint", addr))
	}
	if s.onEject != nil {
		s.onEject(addr, false)
	}
	return false
}

// pick is one attempt's EndpointChooser: it refuses ejected endpoints,
// endpoints on probation whose probes are all out, and those the other
// copies of a hedged call went to.
type pick struct {
	// ctx is the attempt's context, carrying the pick as its chooser.
	ctx  translate.ChooserContext
	set  *endpoints
	race *race  // the hedged attempt this is a copy of, or nil
	addr string // the endpoint admitted, "" until one is and once done
	// used is the endpoint the attempt went to, kept after it is done so
	// that a later hedge avoids it too.
	used  string
	probe bool
}

var _ translate.EndpointChooser = (*pick)(nil)

func (p *pick) Admit(addr string) bool {
	s := p.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.race != nil && p.race.usedLocked(addr, p) {
		return false
	}
	ep := s.get(addr)
	if s.ejectedLocked(addr, ep, s.now()) {
		return false
	}
	if ep.probation && ep.probes >= s.outlier.Probes && addr != p.addr {
		return false
	}
	p.releaseLocked()
	p.addr, p.used = addr, addr
	if ep.probation {
		ep.probes++
		p.probe = true
	}
	ep.inFlight++
	return true
}

func (p *pick) Fallback(addr string) {
	s := p.set
	s.mu.Lock()
	defer s.mu.Unlock()
	p.releaseLocked()
	p.addr, p.used = addr, addr
	s.get(addr).inFlight++
}

// releaseLocked gives back what the attempt holds on its endpoint.
func (p *pick) releaseLocked() {
	if p.addr == "" {
		return
	}
	ep := p.set.get(p.addr)
	ep.inFlight--
	if p.probe {
		ep.probes--
		p.probe = false
	}
	p.addr = ""
}

// usedLocked reports whether another copy of the race went to addr. The
// copies' picks are only changed under the endpoints' lock, held here.
func (r *race) usedLocked(addr string, self *pick) bool {
	for _, p := range r.picks {
		if p != self && p.used == addr {
			return true
		}
	}
	return false
}

// verdict is an attempt's outcome as the endpoint's record counts it.
type verdict int

const (
	// verdictNeutral says nothing of the endpoint: a caller that went
	// away, a hedge that lost, a reply the gateway could not read.
	verdictNeutral verdict = iota
	verdictSuccess
	verdictFailure
)

// done records the attempt's outcome on the endpoint it went to. addr is
// the one the protocol reported, used when it chose without asking (a
// protocol that does not balance).
func (p *pick) done(o verdict, reported string) {
	s := p.set
	s.mu.Lock()
	defer s.mu.Unlock()
	addr, probe := p.addr, p.probe
	p.releaseLocked()
	if addr == "" {
		addr = reported
	}
	if addr == "" {
		return
	}
	ep := s.get(addr)
	now := s.now()
	s.countLocked(ep, o, now)
	switch {
	case o == verdictSuccess:
		ep.consecutive = 0
		if probe && ep.probation {
			ep.probation = false
			if s.log != nil {
				s.log.Info("endpoint back in rotation", slog.String("backend", s.backend), slog.String("endpoint", addr))
			}
		}
	case o == verdictFailure:
		ep.consecutive++
		// A probe decides only while its endpoint is on probation: one
		// that fails after another brought it back is an ordinary failure.
		if s.outlier.Failures > 0 && ep.ejectedUntil.IsZero() && (ep.consecutive >= s.outlier.Failures || probe && ep.probation) {
			s.ejectLocked(addr, ep, now)
		}
	}
}

// countLocked adds o to ep's error windows.
func (s *endpoints) countLocked(ep *endpoint, o verdict, now time.Time) {
	if o == verdictNeutral {
		return
	}
	switch since := now.Sub(ep.window); {
	case since >= 2*errorWindow:
		ep.lastCalls, ep.lastFailed, ep.calls, ep.failures, ep.window = 0, 0, 0, 0, now
	case since >= errorWindow:
		ep.lastCalls, ep.lastFailed, ep.calls, ep.failures, ep.window = ep.calls, ep.failures, 0, 0, now
	}
	ep.calls++
	if o == verdictFailure {
		ep.failures++
	}
}

// ejectLocked takes ep out, unless the share of endpoints out is at its
// cap.
func (s *endpoints) ejectLocked(addr string, ep *endpoint, now time.Time) {
	total := len(s.state)
	if s.known != nil {
		total = max(total, len(s.known()))
	}
	out := 0
	for a, other := range s.state {
		// One on probation is not back yet: it counts as out, or two
		// endpoints could take turns at being the last one in.
		if a != addr && (other.probation || !other.ejectedUntil.IsZero() && now.Before(other.ejectedUntil)) {
			out++
		}
	}
	allowed := min(total-1, max(1, total*s.outlier.MaxEjectedPercent/100))
	if out >= allowed {
		return
	}
	// The multiplier decays by one for each base interval the endpoint
	// stayed in since it last came back, so an endpoint that fails once a
	// day is not punished as one that flaps.
	if !ep.returned.IsZero() {
		ep.ejections = max(0, ep.ejections-int(now.Sub(ep.returned)/s.outlier.BaseEjection))
	}
	ep.ejections++
	d := min(s.outlier.MaxEjection, time.Duration(ep.ejections)*s.outlier.BaseEjection)
	ep.ejectedUntil, ep.probation, ep.consecutive = now.Add(d), false, 0
	// Come back on time even with no call to notice, so that the
	// ejected gauge and the log say when it happened.
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ejectedLocked(addr, ep, s.now())
	})
	if s.log != nil {
		why := "consecutive failures"
		if ep.probation {
			why = "a probe failed"
		}
		s.log.Warn("endpoint ejected", slog.String("backend", s.backend), slog.String("endpoint", addr),
			slog.String("reason", why), slog.Int("consecutive_failures", ep.consecutive),
			slog.String("for", d.String()), slog.Int("ejections", ep.ejections))
	}
	if s.onEject != nil {
		s.onEject(addr, true)
	}
}

// EndpointStatus is one endpoint as the admin API shows it: the
// protocol's own health beside what the shared layer counts.
type EndpointStatus struct {
	// EndpointHealth is the protocol's view: its Detail says what checks
	// the endpoint, if anything does.
	translate.EndpointHealth
	// State is "in", "ejected" or "probation".
	State        string    `json:"state"`
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	Ejections    int       `json:"ejections,omitempty"`
	InFlight     int       `json:"in_flight"`
	// ConsecutiveFailures counts toward ejection.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Calls and ErrorRate cover two 10-second windows: the current one
	// and the one before, when it is recent.
	Calls     int     `json:"recent_calls"`
	ErrorRate float64 `json:"recent_error_rate"`
}

// status lists the endpoints: the protocol's, in its order, then any the
// shared layer saw that it does not list.
func (s *endpoints) status(health []translate.EndpointHealth) []EndpointStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []EndpointStatus
	listed := map[string]bool{}
	add := func(h translate.EndpointHealth) {
		listed[h.Address] = true
		st := EndpointStatus{EndpointHealth: h, State: "in"}
		if ep := s.state[h.Address]; ep != nil {
			switch {
			case s.ejectedLocked(h.Address, ep, now):
				st.State, st.EjectedUntil = "ejected", ep.ejectedUntil
			case ep.probation:
				st.State = "probation"
			}
			st.Ejections, st.InFlight, st.ConsecutiveFailures = ep.ejections, ep.inFlight, ep.consecutive
			calls, failures := 0, 0
			switch since := now.Sub(ep.window); {
			case since < errorWindow:
				calls, failures = ep.calls+ep.lastCalls, ep.failures+ep.lastFailed
			case since < 2*errorWindow:
				calls, failures = ep.calls, ep.failures
			}
			st.Calls = calls
			if calls > 0 {
				st.ErrorRate = float64(failures) / float64(calls)
			}
		}
		out = append(out, st)
	}
	for _, h := range health {
		add(h)
	}
	var extra []string
	for addr := range s.state {
		if !listed[addr] {
			extra = append(extra, addr)
		}
	}
	slices.Sort(extra)
	for _, addr := range extra {
		add(translate.EndpointHealth{Address: addr, Healthy: true})
	}
	return out
}

// reset clears the ejected gauge of every endpoint, for a backend that is
// going away (a reload replaced it).
func (s *endpoints) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, ep := range s.state {
		if !ep.ejectedUntil.IsZero() && s.onEject != nil {
			s.onEject(addr, false)
		}
	}
}

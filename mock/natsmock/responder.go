package natsmock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboard-gw/switchboard/mock"
)

// Resolver finds message and extension types, for Any fields in typed
// payloads. *protoregistry.Types, *dynamicpb.Types and descriptors.Types
// satisfy it.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Types makes the stubs of one subject typed: requests arrive as protobuf
// binary of Request and responses are sent as protobuf binary of Reply.
type Types struct {
	Request, Reply protoreflect.MessageDescriptor
	// Resolver resolves Any fields; nil means the linked-in types.
	Resolver Resolver
}

// TypesForSubject maps a stub subject, exactly as the stubs write it
// ("orders.*.status"), to its types. Subjects not in it are JSON.
type TypesForSubject map[string]Types

// Responder answers NATS requests from stubs, as a NATS micro service
// named "natsmock" (so it also answers $SRV.PING, INFO and STATS).
type Responder struct {
	nc  *natsgo.Conn
	log *slog.Logger

	stubs    []mock.Stub
	prepared []prepared // parallel to stubs
	subjects []string   // distinct stub subjects, in file order
	faults   *mock.FaultTable

	mu      sync.Mutex
	svc     micro.Service
	started bool
	stopped bool
	done    chan struct{} // closed by Stop, ends delays
	wg      sync.WaitGroup
}

// prepared is a stub with everything that does not depend on the request
// done once, in New.
type prepared struct {
	subject   string
	tokens    []string
	typed     *typed
	body      []byte // encoded response, when not templated and not an error
	templated bool
	status    int    // HTTP-like error code; 0 for a response
	message   string // error message, when not templated
	details   []byte // error details as a JSON list, or nil
	// errTemplated: the error's message or details use templates, so they
	// are rendered per call.
	errTemplated bool
	header       micro.Headers
}

type typed struct {
	req, reply protoreflect.MessageType
	resolver   Resolver
}

// New prepares a responder on nc; Start subscribes. stubs come from
// LoadStubs or ParseStubs (Method is the subject); types may be nil; log
// may be nil.
//
// It fails when a subject is not a valid subject pattern, an error code is
// neither an HTTP-like 400-599 status nor a gRPC code, a stub has trailers
// or Nats-* headers, a typed response does not fit its Reply type, a stub
// can never answer because an earlier one for its subject takes all its
// requests, or a types entry names no stub subject: a mistake in a stub
// file should stop the mock at start-up, not puzzle someone in the middle
// of a demo. Stub mistakes are reported all at once, as mock.Problems;
// Check finds them without a connection.
func New(nc *natsgo.Conn, stubs *mock.Stubs, types TypesForSubject, log *slog.Logger) (*Responder, error) {
	r, err := build(nc, stubs, types, log)
	if err != nil {
		return nil, err
	}
	if nc == nil {
		return nil, errors.New("natsmock: no connection")
	}
	return r, nil
}

// Check reports every problem New would find in stubs and types, without
// a connection, so that a command can report a stub file's mistakes before
// it connects.
func Check(stubs *mock.Stubs, types TypesForSubject) error {
	_, err := build(nil, stubs, types, nil)
	return err
}

func build(nc *natsgo.Conn, stubs *mock.Stubs, types TypesForSubject, log *slog.Logger) (*Responder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Responder{nc: nc, log: log, done: make(chan struct{})}
	if stubs != nil {
		r.stubs = slices.Clone(stubs.Stubs)
	}
	r.prepared = make([]prepared, len(r.stubs))
	var ps mock.Problems
	usable := make([]bool, len(r.stubs))
	for i := range r.stubs {
		if err := r.prepare(i, types); err != nil {
			ps = append(ps, r.stubs[i].Problems(i, err)...)
			continue
		}
		usable[i] = true
	}
	// Only the same subject is compared: a wildcard covering another
	// stub's subject is legitimate when its match differs.
	ps = append(ps, (&mock.Stubs{Stubs: r.stubs}).Unreachable(func(i int) bool { return usable[i] })...)
	r.faults = mock.NewFaultTable(mock.FaultRules{
		NameKey: "subject",
		Check:   r.checkFault,
		Match: func(f *mock.Fault, subject string) bool {
			return subjectMatches(strings.Split(f.Subject, "."), subject)
		},
	})
	if stubs != nil {
		if err := r.faults.Set(stubs.Faults); err != nil {
			var more mock.Problems
			errors.As(err, &more)
			ps = append(ps, more...)
		}
		if stubs.Seed != nil {
			r.faults.SetSeed(*stubs.Seed)
		}
	}
	var errs []error
	for _, subj := range slices.Sorted(maps.Keys(types)) {
		if !slices.Contains(r.subjects, subj) && !slices.ContainsFunc(r.stubs, func(st mock.Stub) bool { return strings.TrimSpace(st.Method) == subj }) {
			errs = append(errs, fmt.Errorf("natsmock: types given for %q, which no stub uses (stubs use %s)", subj, strings.Join(r.subjects, ", ")))
		}
	}
	if err := mock.JoinProblems(append([]error{ps}, errs...)...); err != nil {
		return nil, err
	}
	return r, nil
}

// prepare resolves stub i; its errors are keyed to the stub (mock.At).
func (r *Responder) prepare(i int, types TypesForSubject) error {
	st := r.stubs[i]
	subject := strings.TrimSpace(st.Method)
	if err := checkPattern(subject); err != nil {
		return mock.At("subject", err)
	}
	// Everything but the subject and the code is the shared format: let
	// the shared checks have it under a placeholder method.
	probe := st
	probe.Method = placeholder
	status := 0
	var errs []error
	if e := st.Error; e != nil {
		if e.Exception != "" {
			errs = append(errs, mock.At("error.exception", errors.New("a NATS error has no exception: give a code, and details for the fields")))
		}
		if e.Code == "" {
			if e.Exception == "" {
				errs = append(errs, mock.At("error.code", errors.New("error has no code")))
			}
		} else if s, _, err := parseStatus(e.Code); err != nil {
			errs = append(errs, mock.At("error.code", err))
		} else {
			status = s
		}
		pe := *e
		if pe.Code != "" {
			pe.Code = "UNKNOWN"
		}
		probe.Error = &pe
	}
	if len(st.Trailers) > 0 {
		errs = append(errs, mock.At("trailers", errors.New("NATS replies have no trailers; use headers")))
	}
	errs = append(errs, probe.Check())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p := prepared{subject: subject, tokens: strings.Split(subject, "."), status: status}
	if !slices.Contains(r.subjects, subject) {
		r.subjects = append(r.subjects, subject)
	}
	if len(st.Headers) > 0 {
		p.header = micro.Headers{}
		for _, k := range slices.Sorted(maps.Keys(st.Headers)) {
			c := http.CanonicalHeaderKey(k)
			if strings.HasPrefix(c, "Nats-") {
				errs = append(errs, mock.At("headers."+k, fmt.Errorf("header %s: Nats-* headers are the protocol's", k)))
			}
			p.header[c] = []string{st.Headers[k]}
		}
	}
	if t, ok := types[subject]; ok {
		if t.Request == nil || t.Reply == nil {
			return errors.Join(append(errs, mock.At("subject", fmt.Errorf("types for %s need both a request and a reply type", subject)))...)
		}
		p.typed = &typed{req: dynamicpb.NewMessageType(t.Request), reply: dynamicpb.NewMessageType(t.Reply), resolver: t.Resolver}
	}
	switch {
	case st.Error != nil:
		p.errTemplated = st.Error.Templated()
		if !p.errTemplated {
			p.message, p.details, _ = errorReply(st.Error, status)
		}
		// A templated error's details are checked with the templates as
		// null, encoded per call.
		if _, _, err := errorReply(st.Error.Render(nil).DropNulls(), status); err != nil {
			errs = append(errs, err)
		}
	case st.Templated():
		p.templated = true
		// Check what does not depend on the request now: with no request
		// the templates render as null, which means "unset".
		if v := mock.DropNulls(st.RenderResponse(nil)); v != nil {
			if _, err := p.encode(v); err != nil {
				errs = append(errs, mock.At("response", err))
			}
		}
	default:
		b, err := p.encode(st.Response)
		if err != nil {
			errs = append(errs, mock.At("response", err))
		}
		p.body = b
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.prepared[i] = p
	return nil
}

// Faults is the responder's fault table: the stub file's faults to start
// with, changed at run time through a control endpoint
// (mock.ControlHandler). Faults are tried in order; the first whose
// subject pattern fits a request applies.
func (r *Responder) Faults() *mock.FaultTable { return r.faults }

// checkFault checks a fault's subject pattern, which must overlap a stub's
// (requests on no stub subject never reach the responder), and its code.
func (r *Responder) checkFault(f *mock.Fault) error {
	var errs []error
	subject := strings.TrimSpace(f.Subject)
	if err := checkPattern(subject); err != nil {
		errs = append(errs, mock.At("subject", err))
	} else if toks := strings.Split(subject, "."); !slices.ContainsFunc(r.subjects, func(s string) bool { return overlaps(toks, strings.Split(s, ".")) }) {
		have := strings.Join(r.subjects, ", ")
		if have == "" {
			have = "none"
		}
		errs = append(errs, mock.At("subject", fmt.Errorf("no stub subject overlaps %s, so no request on it reaches the mock (stub subjects: %s)", subject, have)))
	} else {
		f.Subject = subject
	}
	if f.ErrorCode != "" {
		if _, _, err := parseStatus(f.ErrorCode); err != nil {
			errs = append(errs, mock.At("error_code", err))
		}
	}
	return errors.Join(errs...)
}

// overlaps reports whether some subject fits both patterns.
func overlaps(a, b []string) bool {
	for i := 0; ; i++ {
		if i == len(a) || i == len(b) {
			return len(a) == len(b)
		}
		x, y := a[i], b[i]
		if x == ">" || y == ">" {
			return true // both have a token here, and '>' takes any rest
		}
		if x != "*" && y != "*" && x != y {
			return false
		}
	}
}

// errorReply is the micro error description and data of a stub error.
func errorReply(e *mock.StubError, status int) (msg string, details []byte, err error) {
	msg = e.Message
	if msg == "" {
		msg = http.StatusText(status) // micro requires a description
	}
	if len(e.Details) == 0 {
		return msg, nil, nil
	}
	ds := make([]map[string]any, len(e.Details))
	for j, d := range e.Details {
		d = maps.Clone(d)
		// A bare type name gets the prefix clients in other languages
		// insist on, as in the gRPC mock.
		if t, _ := d["@type"].(string); t != "" && !strings.Contains(t, "/") {
			d["@type"] = "type.googleapis.com/" + t
		}
		ds[j] = d
	}
	b, err := json.Marshal(ds)
	if err != nil {
		return "", nil, mock.At("error.details", fmt.Errorf("error details are not JSON: %w", err))
	}
	return msg, b, nil
}

// encode turns a response (JSON as Go values) into the reply payload: JSON,
// or protobuf binary of the reply type, which protojson checks strictly.
func (p *prepared) encode(v any) ([]byte, error) {
	if v == nil {
		v = map[string]any{}
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	if p.typed == nil {
		return js, nil
	}
	msg := p.typed.reply.New()
	if err := (protojson.UnmarshalOptions{Resolver: p.typed.resolver}).Unmarshal(js, msg.Interface()); err != nil {
		return nil, fmt.Errorf("response does not fit %s: %s", p.typed.reply.Descriptor().FullName(), mock.ProtoJSONError(err))
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg.Interface())
}

// Start adds one micro endpoint per distinct stub subject and waits until
// the server has the subscriptions, so requests sent after Start are
// answered.
func (r *Responder) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("natsmock: Start called twice or after Stop")
	}
	r.started = true
	svc, err := micro.AddService(r.nc, micro.Config{
		Name:        "natsmock",
		Version:     "1.0.0",
		Description: "Switchboard NATS mock backend",
	})
	if err != nil {
		return fmt.Errorf("natsmock: %w", err)
	}
	r.svc = svc
	for k, subj := range r.subjects {
		err := svc.AddEndpoint(fmt.Sprintf("stub%d", k),
			micro.HandlerFunc(func(req micro.Request) { r.handle(subj, req) }),
			micro.WithEndpointSubject(subj),
			// A queue group per subject: mocks started twice share the
			// load, while overlapping subjects (orders.*.get beside
			// orders.42.get) each still see every request, which handle
			// relies on. One group for all would hand a request to just
			// one of them.
			micro.WithEndpointQueueGroup(fmt.Sprintf("natsmock-%d", k)))
		if err != nil {
			return fmt.Errorf("natsmock: subject %s: %w", subj, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("natsmock: %w", err)
	}
	r.log.Info("natsmock started", slog.Any("subjects", r.subjects))
	return nil
}

// Stop ends the service, drops replies still waiting out a delay, and waits
// for their goroutines. It does not close the connection, which is the
// caller's.
func (r *Responder) Stop() error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	close(r.done)
	svc := r.svc
	r.mu.Unlock()
	var err error
	if svc != nil {
		err = svc.Stop()
	}
	r.wg.Wait()
	return err
}

// handle runs for every request on every endpoint whose subject matches.
// Overlapping subjects mean one request may reach several endpoints, so
// each works out the same winner (the first stub in file order whose
// subject and match fit) and only the winner's endpoint answers; with no
// winner, the endpoint of the first stub whose subject fits does.
func (r *Responder) handle(endpoint string, req micro.Request) {
	start := time.Now()
	subject := req.Subject()
	winner, first := -1, -1
	var request any
	var decodeErr error
	decoded := map[string]decodedRequest{}
	for i := range r.prepared {
		p := &r.prepared[i]
		if !subjectMatches(p.tokens, subject) {
			continue
		}
		if first < 0 {
			first = i
		}
		d, ok := decoded[p.subject]
		if !ok {
			d.value, d.err = p.decodeRequest(req.Data())
			decoded[p.subject] = d
		}
		if d.err != nil {
			if decodeErr == nil {
				decodeErr = d.err
			}
			continue
		}
		if r.stubs[i].Matches(matchMap(d.value, subject)) {
			winner, request = i, d.value
			break
		}
	}
	owner := first
	if winner >= 0 {
		owner = winner
	}
	if owner < 0 || r.prepared[owner].subject != endpoint {
		return
	}
	// Faults come first: they break the service, whatever the stubs say.
	fd := r.faults.Decide(subject)
	delay := fd.Latency
	if fd.Outcome == mock.FaultNone && winner >= 0 {
		delay += time.Duration(r.stubs[winner].Delay)
	}
	finish := func() {
		switch {
		case fd.Outcome != mock.FaultNone:
			r.faultAnswer(req, fd, start)
		case winner < 0:
			status, msg := http.StatusNotImplemented, "no stub matches subject "+subject
			if decodeErr != nil {
				status, msg = http.StatusBadRequest, decodeErr.Error()
			}
			_ = req.Error(strconv.Itoa(status), msg, nil)
			attrs := []slog.Attr{slog.String("subject", subject), slog.Int("code", status)}
			attrs = append(attrs, mock.StubAttrs(-1, nil)...)
			attrs = append(attrs, fd.Attrs()...)
			attrs = append(attrs, mock.DurationAttr("duration", time.Since(start)), slog.String("error", msg))
			r.log.LogAttrs(context.Background(), slog.LevelWarn, "natsmock call", attrs...)
		default:
			r.answer(req, winner, request, fd, start)
		}
	}
	if delay <= 0 {
		finish()
		return
	}
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.wg.Add(1)
	r.mu.Unlock()
	// Delays run beside the subscription, so one slow stub does not hold
	// up every other request to its subject.
	go func() {
		defer r.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			finish()
		case <-r.done:
		}
	}()
}

// faultAnswer answers a request as a fault decided: no reply at all for a
// hang or a drop (the requester waits out its timeout; a NATS responder
// has no connection of the requester's to cut), bytes that are neither
// JSON nor protobuf for garbage, or a micro error.
func (r *Responder) faultAnswer(req micro.Request, fd mock.FaultDecision, start time.Time) {
	status := 0
	var err error
	switch fd.Outcome {
	case mock.FaultGarbage:
		err = req.Respond(mock.Garbage)
	case mock.FaultError:
		status, _, _ = parseStatus(fd.Code) // checked when the fault was set
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		err = req.Error(strconv.Itoa(status), "mock fault: error_rate on "+fd.Fault, nil)
	}
	attrs := []slog.Attr{slog.String("subject", req.Subject()), slog.Int("code", status)}
	attrs = append(attrs, mock.StubAttrs(-1, nil)...)
	attrs = append(attrs, fd.Attrs()...)
	attrs = append(attrs, mock.DurationAttr("duration", time.Since(start)))
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", "cannot send the answer: "+err.Error()))
	}
	r.log.LogAttrs(context.Background(), level, "natsmock call", attrs...)
}

type decodedRequest struct {
	value any
	err   error
}

func (r *Responder) answer(req micro.Request, i int, request any, fd mock.FaultDecision, start time.Time) {
	p := &r.prepared[i]
	st := &r.stubs[i]
	var opts []micro.RespondOpt
	if p.header != nil {
		opts = append(opts, micro.WithHeaders(maps.Clone(p.header)))
	}
	status := 0
	msg := ""
	var err error
	switch {
	case p.status != 0:
		status = p.status
		msg = p.message
		details := p.details
		if p.errTemplated {
			var rerr error
			msg, details, rerr = errorReply(st.Error.Render(matchMap(request, req.Subject())), status)
			if rerr != nil {
				status, msg = http.StatusInternalServerError, fmt.Sprintf("stub #%d: templated %v", i, rerr)
				err = req.Error("500", msg, nil)
				break
			}
		}
		err = req.Error(strconv.Itoa(status), msg, details, opts...)
	case p.templated:
		body, encErr := p.encode(st.RenderResponse(matchMap(request, req.Subject())))
		if encErr != nil {
			// The template put a request value where its type does not
			// fit: a stub bug, so 500.
			status = http.StatusInternalServerError
			msg = fmt.Sprintf("stub #%d: templated %v", i, encErr)
			err = req.Error("500", msg, nil)
			break
		}
		err = req.Respond(body, opts...)
	default:
		err = req.Respond(p.body, opts...)
	}
	attrs := []slog.Attr{slog.String("subject", req.Subject()), slog.Int("code", status)}
	attrs = append(attrs, mock.StubAttrs(i, st)...)
	attrs = append(attrs, fd.Attrs()...)
	attrs = append(attrs, mock.DurationAttr("duration", time.Since(start)))
	level := slog.LevelInfo
	switch {
	case err != nil:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", "cannot send the answer: "+err.Error()))
	case msg != "":
		attrs = append(attrs, slog.String("error", msg))
	}
	r.log.LogAttrs(context.Background(), level, "natsmock call", attrs...)
}

// decodeRequest renders a request the way stubs see it: decoded JSON (with
// json.Number, as the shared matcher expects), the data as a string when it
// is not JSON, nil when empty; a typed request as proto3 JSON with proto
// field names and unpopulated fields, like the gRPC mock.
func (p *prepared) decodeRequest(data []byte) (any, error) {
	var js []byte
	if p.typed != nil {
		msg := p.typed.req.New()
		if err := (proto.UnmarshalOptions{Resolver: p.typed.resolver}).Unmarshal(data, msg.Interface()); err != nil {
			return nil, fmt.Errorf("cannot decode request as %s: %v", p.typed.req.Descriptor().FullName(), err)
		}
		b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Resolver: p.typed.resolver}.Marshal(msg.Interface())
		if err != nil {
			return nil, fmt.Errorf("cannot render request as JSON: %v", err)
		}
		js = b
	} else {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, nil
		}
		if !json.Valid(data) {
			return string(data), nil
		}
		js = data
	}
	return mock.DecodeRequest(js)
}

// matchMap is what match keys and templates see: the body's own fields at
// the top (as in the gRPC mock), plus subject (the full subject), tokens
// (its tokens, so tokens.1 is the id in orders.42.get) and body (the whole
// body, whatever its JSON type). These three shadow body fields of the same
// name, which body.<name> still reaches.
func matchMap(request any, subject string) map[string]any {
	m := map[string]any{}
	if obj, ok := request.(map[string]any); ok {
		maps.Copy(m, obj)
	}
	toks := strings.Split(subject, ".")
	list := make([]any, len(toks))
	for i, t := range toks {
		list[i] = t
	}
	m["subject"] = subject
	m["tokens"] = list
	m["body"] = request
	return m
}

// subjectMatches reports whether subject fits the pattern's tokens.
func subjectMatches(pattern []string, subject string) bool {
	for i, p := range pattern {
		if p == ">" {
			return subject != ""
		}
		tok, rest, more := strings.Cut(subject, ".")
		if tok == "" || (p != "*" && p != tok) {
			return false
		}
		if !more {
			return i == len(pattern)-1
		}
		subject = rest
	}
	return false
}

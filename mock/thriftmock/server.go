package thriftmock

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

// Options configure the wire format; zero values are binary and framed.
type Options struct {
	Protocol, Transport string
	// Multiplexed serves "Service:function" names, as a
	// TMultiplexedProcessor does, and replies with the bare name.
	Multiplexed bool
}

// Server is a Thrift mock backend. Create it with New.
type Server struct {
	svc      *idl.Service
	framer   thrift.Framer
	mux      bool
	log      *slog.Logger
	funcs    map[string]*function // by function name
	stubs    mock.Stubs           // methods as "<Service>/<function>"
	prepared []prepared           // parallel to stubs.Stubs
	faults   *mock.FaultTable     // methods as "<Service>/<function>"
	framed   bool                 // for garbage frames

	mu     sync.Mutex
	lis    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{} // closed by Stop: ends delays
	wg     sync.WaitGroup
}

type function struct {
	fn  *idl.Function
	m   *thrift.Method
	key string // "Service/function", as stubs are compared
}

// prepared is a stub with everything that does not depend on the request
// done once, in New.
type prepared struct {
	result    []byte // the encoded result struct
	templated bool   // the response must be rendered per call
	appEx     *thrift.ApplicationException
	exception *exception // the declared exception thrown, if any
	// errTemplated: the error's message or fields use templates, so the
	// exception is encoded per call.
	errTemplated bool
}

// New builds a mock of service ("Calculator" or "prefix.Calculator") in
// prog, answering from stubs. log may be nil.
//
// It fails when a stub names a function the service does not have, a match
// or template path names no argument or field, a response does not fit the
// return type, an error names neither a declared exception nor an
// application error, an exception's fields do not fit it or its message
// has no field to travel in, a stub can never answer because an earlier
// one takes all its calls, or a oneway function is given an answer:
// mistakes in a stub file stop the mock at start-up rather than puzzle a
// demo. Stub mistakes are reported all at once, as mock.Problems.
func New(prog *idl.Program, service string, stubs *mock.Stubs, opts Options, log *slog.Logger) (*Server, error) {
	if prog == nil {
		return nil, errors.New("thriftmock: no IDL")
	}
	svc := prog.Service(service)
	if svc == nil {
		return nil, fmt.Errorf("thriftmock: no service %s in %s (it has %s)", service, prog.Root.Path, serviceNames(prog))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	codec, err := thrift.NewCodec(opts.Protocol, 0)
	if err != nil {
		return nil, fmt.Errorf("thriftmock: %w", err)
	}
	framer, err := thrift.NewFramer(opts.Protocol, opts.Transport, 0)
	if err != nil {
		return nil, fmt.Errorf("thriftmock: %w", err)
	}
	s := &Server{
		svc:    svc,
		framer: framer,
		mux:    opts.Multiplexed,
		framed: opts.Transport != "buffered",
		log:    log,
		funcs:  map[string]*function{},
		lis:    map[net.Listener]struct{}{},
		conns:  map[net.Conn]struct{}{},
		done:   make(chan struct{}),
	}
	for _, fn := range svc.AllFunctions() {
		m, err := codec.Method(fn)
		if err != nil {
			return nil, fmt.Errorf("thriftmock: service %s: %w", svc.Name, err)
		}
		s.funcs[fn.Name] = &function{fn: fn, m: m, key: svc.Name + "/" + fn.Name}
	}
	if stubs != nil {
		s.stubs.Stubs = slices.Clone(stubs.Stubs)
	}
	var ps mock.Problems
	s.prepared = make([]prepared, len(s.stubs.Stubs))
	usable := make([]bool, len(s.stubs.Stubs))
	for i := range s.stubs.Stubs {
		st := &s.stubs.Stubs[i] // as written, for the problems
		err := checkGeneric(*st)
		if err == nil {
			err = s.prepare(i)
		}
		err = errors.Join(noStreaming(*st), err)
		if err != nil {
			ps = append(ps, st.Problems(i, err)...)
			continue
		}
		usable[i] = true
	}
	ps = append(ps, s.stubs.Unreachable(func(i int) bool { return usable[i] })...)
	s.faults = mock.NewFaultTable(mock.FaultRules{NameKey: "method", Check: s.checkFault})
	if stubs != nil {
		if err := s.faults.Set(stubs.Faults); err != nil {
			var more mock.Problems
			errors.As(err, &more)
			ps = append(ps, more...)
		}
		if stubs.Seed != nil {
			s.faults.SetSeed(*stubs.Seed)
		}
	}
	if err := mock.JoinProblems(ps); err != nil {
		return nil, err
	}
	return s, nil
}

func serviceNames(p *idl.Program) string {
	var names []string
	for _, f := range p.Files {
		for _, n := range slices.Sorted(maps.Keys(f.Services)) {
			if f == p.Root {
				names = append(names, n)
			} else {
				names = append(names, f.Prefix+"."+n)
			}
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkGeneric runs mock's own checks (templates, match paths, delays) on
// a copy whose error is made gRPC-shaped: a stub built in Go may name an
// exception or a TApplicationException type by its code, with the
// exception's fields as details[0] and no "@type", which mock.Stub.Check
// would not know.
func checkGeneric(st mock.Stub) error {
	if e := st.Error; e != nil {
		ce := *e
		if ce.Code != "" {
			ce.Code = "UNKNOWN"
		}
		ce.Details = make([]map[string]any, len(e.Details))
		for i, d := range e.Details {
			d = maps.Clone(d)
			if _, ok := d["@type"]; !ok {
				d["@type"] = "exception"
			}
			ce.Details[i] = d
		}
		st.Error = &ce
	}
	return st.Check()
}

// noStreaming refuses the stub keys of streaming methods, each at its key:
// a Thrift call gets one reply.
func noStreaming(st mock.Stub) error {
	var errs []error
	for _, k := range st.StreamKeysSet() {
		//lint:ignore ST1005 the problem starts with the protocol's name, as the NATS mock's does
		errs = append(errs, mock.At(k, fmt.Errorf("Thrift stubs have no streaming: a call gets one reply; drop %s", k)))
	}
	return errors.Join(errs...)
}

// prepare resolves stub i: its function, paths, and its answer encoded.
// Errors are keyed to the stub (mock.At).
func (s *Server) prepare(i int) error {
	st := s.stubs.Stubs[i]
	f, err := s.function(st.Method)
	if err != nil {
		return mock.At("method", err)
	}
	cst, pathErr := st.RewritePaths(func(p string) (string, error) { return p, checkArgPath(f.fn, p) })
	cst.Method = f.key
	s.stubs.Stubs[i] = cst
	// A path naming no argument does not stop the other checks: the user
	// should hear about everything wrong with the stub at once.
	return errors.Join(pathErr, s.prepareAnswer(i, f, st, cst))
}

// prepareAnswer checks and encodes stub i's answer: st as written, cst with
// its paths rewritten.
func (s *Server) prepareAnswer(i int, f *function, st, cst mock.Stub) error {
	var p prepared
	switch {
	case f.fn.Oneway && (st.Error != nil || st.Response != nil):
		key := "response"
		if st.Error != nil {
			key = "error"
		}
		return mock.At(key, fmt.Errorf("%s is oneway: nothing is sent back, so the stub can have no response or error", f.fn.Name))
	case f.fn.Oneway:
	case st.Error != nil:
		if err := prepareError(&p, f, cst.Error); err != nil {
			return err
		}
	case cst.Templated():
		p.templated = true
		// Check everything but the templates now: with no request they
		// render as null, which the codec reads as "not given".
		// A response that is one template ("{{request.num1}}") leaves
		// nothing to check.
		if v := mock.DropNulls(cst.RenderResponse(nil)); v != nil {
			if _, err := encodeResponse(f, v); err != nil {
				return mock.At("response", err)
			}
		}
	default:
		b, err := encodeResponse(f, cst.Response)
		if err != nil {
			return mock.At("response", err)
		}
		p.result = b
	}
	s.prepared[i] = p
	return nil
}

// function resolves a stub's method: "Service/function" or
// "Service.function", the service by name or prefix.Name, or the name of
// the service that declares an inherited function.
func (s *Server) function(method string) (*function, error) {
	c, err := mock.CanonicalMethod(method)
	if err != nil {
		return nil, fmt.Errorf("method %q: want Service.function or Service/function", method)
	}
	svcName, fnName, _ := strings.Cut(c, "/")
	ok := false
	for sv := s.svc; sv != nil; sv = sv.Extends {
		if svcName == sv.Name || sv.File != nil && svcName == sv.FullName() {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("method %q: the mock serves service %s, not %s", method, s.svc.Name, svcName)
	}
	f := s.funcs[fnName]
	if f == nil {
		return nil, fmt.Errorf("service %s has no function %s (it has %s)", s.svc.Name, fnName, strings.Join(slices.Sorted(maps.Keys(s.funcs)), ", "))
	}
	return f, nil
}

// Faults is the mock's fault table: the stub file's faults to start with,
// changed at run time through a control endpoint (mock.ControlHandler).
func (s *Server) Faults() *mock.FaultTable { return s.faults }

// checkFault checks a fault's method ("Service.function", as in stubs, or
// the bare function name) and code, normalising the method to the
// function's "Service/function".
func (s *Server) checkFault(f *mock.Fault) error {
	var errs []error
	name := strings.TrimSpace(f.Method)
	var fn *function
	var err error
	if !strings.ContainsAny(name, "./") {
		if fn = s.funcs[name]; fn == nil {
			err = fmt.Errorf("service %s has no function %s (it has %s)", s.svc.Name, name, strings.Join(slices.Sorted(maps.Keys(s.funcs)), ", "))
		}
	} else {
		fn, err = s.function(name)
	}
	if err != nil {
		errs = append(errs, mock.At("method", err))
	} else {
		f.Method = fn.key
	}
	if f.ErrorCode != "" {
		if _, _, err := faultErrorCode(f.ErrorCode); err != nil {
			errs = append(errs, mock.At("error_code", err))
		}
	}
	return errors.Join(errs...)
}

// faultErrorCode reads a fault's error code: UNAVAILABLE closes the
// connection, which is how a Thrift server that cannot serve says so (the
// gateway answers 503); other codes are a TApplicationException type, or a
// gRPC code that has one, as in a stub's error.
func faultErrorCode(code string) (typ int32, drop bool, err error) {
	if c, err := mock.ParseCode(code); err == nil && c == codes.Unavailable {
		return 0, true, nil
	}
	typ, err = applicationErrorType(code)
	if err != nil {
		return 0, false, fmt.Errorf("error code %q: want UNAVAILABLE (the connection is closed), a TApplicationException type (INTERNAL_ERROR, PROTOCOL_ERROR, ...) or a gRPC code that has one (UNKNOWN, INTERNAL, INVALID_ARGUMENT, UNIMPLEMENTED)", code)
	}
	return typ, false, nil
}

// checkArgPath checks a match or template path: an argument, then struct
// fields, list indexes and map keys.
func checkArgPath(fn *idl.Function, p string) error {
	segs := strings.Split(p, ".")
	var t *idl.Type
	for _, a := range fn.Args {
		if a.Name == segs[0] {
			t = a.Type
		}
	}
	if t == nil {
		return fmt.Errorf("%s has no argument %q", fn.Name, segs[0])
	}
	for i, seg := range segs[1:] {
		u := t.Underlying()
		switch {
		case u == nil:
			return fmt.Errorf("unresolved type at %q", strings.Join(segs[:i+1], "."))
		case u.Kind == idl.KindStruct:
			f := u.Struct.FieldByName(seg)
			if f == nil {
				return fmt.Errorf("%s has no field %q", u.Struct.Name, seg)
			}
			t = f.Type
		case u.Kind == idl.KindList || u.Kind == idl.KindSet:
			if _, err := strconv.Atoi(seg); err != nil {
				return fmt.Errorf("%q is a list: %q is not an index", strings.Join(segs[:i+1], "."), seg)
			}
			t = u.Elem
		case u.Kind == idl.KindMap:
			t = u.Value
		default:
			return fmt.Errorf("%q is %s, which has no %q", strings.Join(segs[:i+1], "."), u.Name, seg)
		}
	}
	return nil
}

// encodeResponse encodes a stub's response as the result struct.
func encodeResponse(f *function, resp any) ([]byte, error) {
	if f.fn.Returns == nil || f.fn.Returns.Underlying() == nil || f.fn.Returns.Underlying().Kind == idl.KindVoid {
		if m, ok := resp.(map[string]any); resp != nil && (!ok || len(m) > 0) {
			return nil, fmt.Errorf("%s returns void: the response must be empty", f.fn.Name)
		}
		return f.m.EncodeResult([]byte("{}"))
	}
	if resp == nil {
		return nil, fmt.Errorf("%s returns %s: the stub has no response (a response of null is no answer at all)", f.fn.Name, f.fn.Returns.Name)
	}
	js, err := json.Marshal(map[string]any{"success": resp})
	if err != nil {
		return nil, fmt.Errorf("response is not JSON: %w", err)
	}
	b, err := f.m.EncodeResult(js)
	if err != nil {
		return nil, fmt.Errorf("response does not fit %s: %s", f.fn.Returns.Name, codecMessage(err, "success"))
	}
	return b, nil
}

// codecMessage is the codec's message about the result struct, spoken as
// the stub is written: without its code, and with paths starting inside
// the result field (the return value, or the exception) the stub gives.
func codecMessage(err error, resultField string) string {
	msg := strings.TrimPrefix(err.Error(), "InvalidArgument: ")
	msg = strings.Replace(msg, `field "`+resultField+`": `, "", 1)
	return strings.Replace(msg, `field "`+resultField+`.`, `field "`, 1)
}

// exception is a declared exception a stub throws.
type exception struct {
	field    *idl.Field  // the throws clause's entry
	st       *idl.Struct // its type
	msgField string      // the field the message travels in, "" for none
	// fieldsKey is where the stub gives the fields: "error.fields", or
	// "error.details.0" in the older form that names the exception by
	// details[0]["@type"].
	fieldsKey string
}

// prepareError resolves a stub error: a declared exception, named by
// exception (or, for stubs written before it, by the code or by
// details[0]["@type"]); or a TApplicationException, named by its type or
// a gRPC code. Errors are keyed to the stub.
func prepareError(p *prepared, f *function, e *mock.StubError) error {
	ex, err := resolveException(f.fn, e)
	if err != nil {
		return err
	}
	if ex == nil {
		if e.Code == "" {
			return mock.At("error", fmt.Errorf("error names no exception: name one %s declares with exception (%s), or give a TApplicationException type or gRPC code as code", f.fn.Name, throwsList(f.fn)))
		}
		typ, err := applicationErrorType(e.Code)
		if err != nil {
			return mock.At("error.code", fmt.Errorf("error code %q: %v; %s declares %s", e.Code, err, f.fn.Name, throwsList(f.fn)))
		}
		if len(e.Details) > 0 {
			return mock.At("error.details", errors.New("a TApplicationException has no details; name a declared exception to send fields"))
		}
		p.appEx = &thrift.ApplicationException{Type: typ, Message: e.Message}
		p.errTemplated = e.Templated()
		return nil
	}
	p.exception = ex
	if e.Message != "" {
		if ex.msgField == "" {
			return mock.At("error.message", fmt.Errorf("%s has no string field named message, msg, what or why, so the message cannot reach the client (the gateway would show %q); drop message or set the exception's fields", ex.st.Name, ex.st.Name))
		}
		if v, set := ex.fields(e)[ex.msgField]; set && v != e.Message {
			return mock.At("error.message", fmt.Errorf("message and %s.%s both give the message; keep one", ex.fieldsKey, ex.msgField))
		}
	}
	if e.Templated() {
		// Check everything but the templates now, which render as null
		// (not given) without a request.
		p.errTemplated = true
		_, err := ex.encode(f, e.Render(nil).DropNulls())
		return err
	}
	b, err := ex.encode(f, e)
	p.result = b
	return err
}

// resolveException finds the declared exception an error names, nil if it
// names none.
func resolveException(fn *idl.Function, e *mock.StubError) (*exception, error) {
	var name, key string
	fieldsKey := "error.fields"
	switch {
	case e.Exception != "":
		name, key = e.Exception, "error.exception"
	case e.Code != "" && func() bool { f, _ := declaredException(fn, e.Code); return f != nil }():
		// Stubs built in Go may name the exception by the code.
		name, key, fieldsKey = e.Code, "error.code", "error.details.0"
	case len(e.Details) > 0:
		t, _ := e.Details[0]["@type"].(string)
		if t == "" {
			return nil, nil
		}
		name, key, fieldsKey = t, "error.details.0.@type", "error.details.0"
	default:
		return nil, nil
	}
	fld, st := declaredException(fn, strings.TrimPrefix(name, "thrift/"))
	if fld == nil {
		return nil, mock.At(key, fmt.Errorf("%q is not an exception %s declares (%s)", name, fn.Name, throwsList(fn)))
	}
	if fieldsKey == "error.details.0" && len(e.Details) > 1 {
		return nil, mock.At("error.details", errors.New("an exception takes its fields from error.details[0] alone"))
	}
	return &exception{field: fld, st: st, msgField: messageField(st), fieldsKey: fieldsKey}, nil
}

// fields are the exception's fields as the stub gives them, without the
// message.
func (ex *exception) fields(e *mock.StubError) map[string]any {
	var fields map[string]any
	if ex.fieldsKey == "error.fields" {
		fields = maps.Clone(e.Fields)
	} else if len(e.Details) > 0 {
		fields = maps.Clone(e.Details[0])
		delete(fields, "@type")
	}
	if fields == nil {
		fields = map[string]any{}
	}
	return fields
}

// encode encodes the result struct throwing the exception, its message in
// its message field.
func (ex *exception) encode(f *function, e *mock.StubError) ([]byte, error) {
	fields := ex.fields(e)
	if e.Message != "" && ex.msgField != "" {
		if _, given := fields[ex.msgField]; !given {
			fields[ex.msgField] = e.Message
		}
	}
	js, err := json.Marshal(map[string]any{ex.field.Name: fields})
	if err != nil {
		return nil, mock.At(ex.fieldsKey, fmt.Errorf("exception fields are not JSON: %w", err))
	}
	b, err := f.m.EncodeResult(js)
	if err != nil {
		return nil, mock.At(ex.fieldsKey, fmt.Errorf("exception fields do not fit %s: %s", ex.st.Name, codecMessage(err, ex.field.Name)))
	}
	return b, nil
}

// message is the text the client sees for the exception: its message
// field, or "" when it has none.
func (ex *exception) message(e *mock.StubError) string {
	if ex.msgField == "" {
		return ""
	}
	if v, ok := ex.fields(e)[ex.msgField].(string); ok {
		return v
	}
	return e.Message
}

// declaredException finds the exception fn throws whose type is name
// ("NotFound" or "prefix.NotFound").
func declaredException(fn *idl.Function, name string) (*idl.Field, *idl.Struct) {
	for _, t := range fn.Throws {
		u := t.Type.Underlying()
		if u == nil || u.Struct == nil {
			continue
		}
		st := u.Struct
		if name == st.Name || st.File != nil && name == st.FullName() {
			return t, st
		}
	}
	return nil, nil
}

func throwsList(fn *idl.Function) string {
	if len(fn.Throws) == 0 {
		return "no exceptions"
	}
	var names []string
	for _, t := range fn.Throws {
		names = append(names, t.Type.Name)
	}
	return strings.Join(names, ", ")
}

// messageField is the field the gateway takes an exception's message from.
func messageField(st *idl.Struct) string {
	for _, n := range []string{"message", "msg", "what", "why"} {
		if f := st.FieldByName(n); f != nil {
			if u := f.Type.Underlying(); u != nil && u.Kind == idl.KindString {
				return n
			}
		}
	}
	return ""
}

// applicationErrorType reads a TApplicationException type name, or one of
// the gRPC codes that has an equivalent. Other gRPC codes are refused: a
// Thrift service says NOT_FOUND with a declared exception.
func applicationErrorType(code string) (int32, error) {
	if t, ok := thrift.AppExceptionType(strings.ToUpper(code)); ok {
		return t, nil
	}
	c, err := mock.ParseCode(code)
	if err != nil {
		return 0, errors.New("not a declared exception, a TApplicationException type (UNKNOWN_METHOD, INTERNAL_ERROR, ...) or a gRPC code")
	}
	switch c {
	case codes.Unknown:
		return thrift.AppExUnknown, nil
	case codes.Unimplemented:
		return thrift.AppExUnknownMethod, nil
	case codes.Internal:
		return thrift.AppExInternalError, nil
	case codes.InvalidArgument:
		return thrift.AppExValidationFailed, nil
	}
	return 0, fmt.Errorf("gRPC code %s has no TApplicationException equivalent (UNKNOWN, INTERNAL, INVALID_ARGUMENT and UNIMPLEMENTED do)", mock.CodeName(c))
}

// Serve accepts connections on lis until Stop. It returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		lis.Close()
		return net.ErrClosed
	}
	s.lis[lis] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		c, err := lis.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.lis, lis)
			s.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Stop closes the listeners and every connection, ends delays, and waits
// for the goroutines serving them.
func (s *Server) Stop() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		for l := range s.lis {
			l.Close()
		}
		for c := range s.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConn answers one connection's calls in order, as a Thrift server
// does: a connection carries one call at a time.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		m, err := s.framer.ReadMessage(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("thriftmock: dropping a connection after an unreadable message", "error", err)
			}
			return
		}
		out, then := s.handle(m)
		switch then {
		case dropConn:
			return
		case hangConn:
			// Hold the connection without an answer until the client
			// gives up and closes it, or Stop does; whatever else it
			// sends is read and ignored.
			_, _ = io.Copy(io.Discard, br)
			return
		}
		if out == nil || m.Type == thrift.Oneway {
			// Nothing goes back for a ONEWAY message, whatever function it
			// names: the client is not reading, and a reply would be taken
			// for the answer to its next call.
			continue
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// after is what serveConn does once a message is handled.
type after int

const (
	replyConn after = iota // send the reply, if any, and read the next call
	dropConn               // close the connection without a reply
	hangConn               // keep the connection, never replying
)

// garbage is a garbage_rate answer: bytes that are no Thrift message,
// framed when the transport is, so that the client reads all of them and
// fails on what they say rather than waiting for more.
func (s *Server) garbage() []byte {
	if !s.framed {
		return mock.Garbage
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(mock.Garbage)))
	return append(out, mock.Garbage...)
}

// handle answers one message; nil means no reply (oneway). Faults may
// instead have the connection dropped or held.
func (s *Server) handle(m *thrift.Message) (out []byte, then after) {
	start := time.Now()
	name := m.Name
	attrs := []slog.Attr{slog.String("method", name)}
	level := slog.LevelInfo
	reply := func(body []byte) {
		out = s.framer.AppendMessage(nil, &thrift.Message{Name: name, Type: thrift.Reply, SeqID: m.SeqID, Body: body})
	}
	appEx := func(typ int32, msg string) {
		attrs = append(attrs, slog.String("outcome", "application exception "+thrift.AppExceptionName(typ)), slog.String("error", msg))
		if m.Type != thrift.Oneway {
			out = s.framer.AppendApplicationException(nil, name, m.SeqID, typ, msg)
		}
	}
	defer func() {
		attrs = append(attrs, mock.DurationAttr("duration", time.Since(start)))
		s.log.LogAttrs(context.Background(), level, "thriftmock call", attrs...)
	}()

	if s.mux {
		svc, bare, ok := strings.Cut(name, ":")
		if !ok || svc != s.svc.Name && (s.svc.File == nil || svc != s.svc.FullName()) {
			level = slog.LevelWarn
			appEx(thrift.AppExUnknownMethod, fmt.Sprintf("unknown service in %q: the mock is multiplexed and serves %s", m.Name, s.svc.Name))
			return out, replyConn
		}
		name = bare // TMultiplexedProcessor replies with the bare name
	}
	f := s.funcs[name]
	switch {
	case m.Type != thrift.Call && m.Type != thrift.Oneway:
		level = slog.LevelWarn
		appEx(thrift.AppExInvalidMessageType, fmt.Sprintf("unexpected %s message", m.Type))
		return out, replyConn
	case f == nil:
		level = slog.LevelWarn
		appEx(thrift.AppExUnknownMethod, "unknown function "+name)
		return out, replyConn
	}
	if fd := s.faults.Decide(f.key); fd.Fault != "" {
		attrs = append(attrs, fd.Attrs()...)
		if !fd.Wait(nil, s.done) {
			return nil, dropConn // stopping
		}
		switch fd.Outcome {
		case mock.FaultHang:
			attrs = append(attrs, slog.String("outcome", "no reply (hang)"))
			return nil, hangConn
		case mock.FaultDrop:
			attrs = append(attrs, slog.String("outcome", "connection dropped"))
			return nil, dropConn
		case mock.FaultGarbage:
			attrs = append(attrs, slog.String("outcome", "garbage"))
			return s.garbage(), replyConn
		case mock.FaultError:
			typ, drop, _ := faultErrorCode(fd.Code) // checked when the fault was set
			if drop {
				attrs = append(attrs, slog.String("outcome", "connection dropped"))
				return nil, dropConn
			}
			appEx(typ, "mock fault: error_rate on "+f.key)
			return out, replyConn
		}
	}
	args, err := f.m.DecodeArgs(m.Body)
	if err != nil {
		level = slog.LevelWarn
		appEx(thrift.AppExProtocolError, fmt.Sprintf("cannot decode the arguments of %s: %v", name, err))
		return out, replyConn
	}
	v, _ := mock.DecodeRequest(args)
	req, _ := v.(map[string]any)
	i := s.stubs.FindIndex(f.key, req)
	if i < 0 {
		attrs = append(attrs, mock.StubAttrs(i, nil)...)
		// No stub: the user most likely needs to edit the stub file, so it
		// stands out, and the gateway shows 501 as for grpcmock.
		level = slog.LevelWarn
		if f.fn.Oneway {
			attrs = append(attrs, slog.String("outcome", "oneway, no stub"))
			return nil, replyConn
		}
		appEx(thrift.AppExUnknownMethod, "no stub matches "+f.key)
		return out, replyConn
	}
	st := &s.stubs.Stubs[i]
	attrs = append(attrs, mock.StubAttrs(i, st)...)
	p := &s.prepared[i]
	if f.fn.Oneway {
		attrs = append(attrs, slog.String("outcome", "oneway"))
		return nil, replyConn
	}
	if st.Delay > 0 {
		t := time.NewTimer(time.Duration(st.Delay))
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return nil, replyConn
		}
	}
	e := st.Error
	if p.errTemplated {
		e = e.Render(req)
	}
	switch {
	case p.appEx != nil:
		appEx(p.appEx.Type, e.Message)
	case p.exception != nil:
		body := p.result
		if p.errTemplated {
			b, err := p.exception.encode(f, e)
			if err != nil {
				// A template put a request value where its field's type
				// does not take it: a stub bug, so INTERNAL_ERROR.
				level = slog.LevelWarn
				appEx(thrift.AppExInternalError, fmt.Sprintf("stub #%d %s: templated %v", i, st.Source(), err))
				return out, replyConn
			}
			body = b
		}
		attrs = append(attrs, slog.String("outcome", "exception "+p.exception.st.Name))
		if msg := p.exception.message(e); msg != "" {
			attrs = append(attrs, slog.String("error", msg))
		}
		reply(body)
	case p.templated:
		b, err := encodeResponse(f, st.RenderResponse(req))
		if err != nil {
			// The template put a request value where its type does not fit:
			// a stub bug, so INTERNAL_ERROR.
			level = slog.LevelWarn
			appEx(thrift.AppExInternalError, fmt.Sprintf("stub #%d %s: templated %v", i, st.Source(), err))
			return out, replyConn
		}
		attrs = append(attrs, slog.String("outcome", "reply"))
		reply(b)
	default:
		attrs = append(attrs, slog.String("outcome", "reply"))
		reply(p.result)
	}
	return out, replyConn
}

package grpcmock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"

	grpcbackend "github.com/switchboard-gw/switchboard/translate/grpc"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"

	// The google.rpc detail messages (ErrorInfo, BadRequest, ...) are what
	// stubs put in error details; linking them means they always resolve,
	// whatever descriptors the mock was started with.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/switchboard-gw/switchboard/mock"
)

// Resolver finds message and extension types, for Any values in responses
// and error details. *protoregistry.Types and *dynamicpb.Types satisfy it.
type Resolver interface {
	protoregistry.MessageTypeResolver
	protoregistry.ExtensionTypeResolver
}

// Server is a gRPC mock backend. Create it with New.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
	log    *slog.Logger
	types  *chainResolver

	methods  map[string]*method // by "/pkg.Svc/M", the form grpc-go reports
	info     map[string]grpc.ServiceInfo
	stubs    mock.Stubs // the caller's stubs, paths rewritten to proto names
	prepared []prepared // parallel to stubs.Stubs
	faults   *mock.FaultTable

	// stopping is closed by Stop and GracefulStop, so that hanging and
	// slowed calls (faults) do not hold a graceful stop forever.
	stopping chan struct{}
	stopOnce sync.Once
	// conns are the open connections by remote address, so that a drop
	// fault can cut the one a call came on: grpc-go does not hand its
	// handlers the connection.
	connsMu sync.Mutex
	conns   map[string]map[*trackedConn]struct{}
	// readers are the goroutines reading client-streaming and
	// bidirectional calls (see receive); Stop and GracefulStop wait for
	// them once the handlers have returned.
	readers sync.WaitGroup
}

type method struct {
	desc      protoreflect.MethodDescriptor
	streaming bool
}

// kind names the method's kind for problems: "a unary method", ...
func (m *method) kind() string {
	switch {
	case m.desc.IsStreamingClient() && m.desc.IsStreamingServer():
		return "a bidirectional streaming method"
	case m.desc.IsStreamingClient():
		return "a client-streaming method"
	case m.desc.IsStreamingServer():
		return "a server-streaming method"
	}
	return "a unary method"
}

// prepared is a stub with everything that does not depend on the request
// done once, in New.
type prepared struct {
	response  []byte         // encoded response, when not templated
	templated bool           // response must be rendered per call
	status    *status.Status // non-nil for error stubs without templates
	// errTemplated: the error's message or details use templates, so its
	// status is built per call.
	errTemplated bool
	header       metadata.MD
	trailer      metadata.MD
	delay        time.Duration
	source       string

	// For server-streaming and bidirectional methods (stream.go): the
	// messages sent, in order (a response alone is one), repeat times,
	// interval apart; echo sends the message received instead.
	stream   []streamMsg
	interval time.Duration
	repeat   int
	echo     bool
}

// streamMsg is one message of a stub's stream: encoded once, or rendered
// per call when it uses templates.
type streamMsg struct {
	body   []byte
	render func(request any) any // nil: body
}

// New builds a mock serving every service in files, answering from stubs.
// types resolves Any and detail types; nil means the types in files. The
// linked-in types (google.rpc error details, well-known types) are always
// consulted after it. log may be nil.
//
// It fails if a stub names a method not in files, a match or template path
// names no field, a response or streamed message does not fit the method's
// output type, a stub uses a streaming key its method's kind cannot take
// (stream on a unary method, echo on one that is not bidirectional), or
// an error detail's type is unknown: mistakes in a stub file should stop
// the mock at start-up, not surface as a puzzling response in the middle
// of a demo.
func New(files *protoregistry.Files, types Resolver, stubs *mock.Stubs, log *slog.Logger) (*Server, error) {
	if files == nil {
		return nil, errors.New("grpcmock: no descriptors")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if types == nil {
		types = dynamicpb.NewTypes(files)
	}
	s := &Server{
		log:      log,
		types:    &chainResolver{first: types, files: files},
		methods:  map[string]*method{},
		info:     map[string]grpc.ServiceInfo{},
		stopping: make(chan struct{}),
		conns:    map[string]map[*trackedConn]struct{}{},
	}
	s.grpc = grpc.NewServer(
		grpc.ForceServerCodecV2(grpcbackend.Codec{}),
		grpc.UnknownServiceHandler(s.handle),
		// Stop and GracefulStop wait for handlers, so a stopped mock
		// leaves no goroutine behind (delays included).
		grpc.WaitForHandlers(true),
	)
	s.health = health.NewServer()
	healthgrpc.RegisterHealthServer(s.grpc, s.health)
	ropts := reflection.ServerOptions{
		Services:           serviceLister{s},
		DescriptorResolver: descResolver{files},
		ExtensionResolver:  s.types,
	}
	reflectionv1.RegisterServerReflectionServer(s.grpc, reflection.NewServerV1(ropts))
	reflectionv1alpha.RegisterServerReflectionServer(s.grpc, reflection.NewServer(ropts))
	native := s.grpc.GetServiceInfo()

	if stubs != nil {
		s.stubs.Stubs = slices.Clone(stubs.Stubs)
	}
	var ps mock.Problems
	usable := make([]bool, len(s.stubs.Stubs))
	for i := range s.stubs.Stubs {
		st := &s.stubs.Stubs[i]
		if err := st.Check(); err != nil {
			ps = append(ps, st.Problems(i, err)...)
			continue
		}
		usable[i] = true
	}
	named := map[string]bool{}
	for _, st := range s.stubs.Stubs {
		named[serviceOf(st.Method)] = true
	}

	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			name := string(sd.FullName())
			if _, ok := native[name]; ok {
				continue
			}
			// google.* services (longrunning, ...) come along as imports;
			// mock them only when a stub asks for them.
			if strings.HasPrefix(name, "google.") && !named[name] {
				continue
			}
			si := grpc.ServiceInfo{Metadata: fd.Path()}
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				s.methods["/"+name+"/"+string(md.Name())] = &method{
					desc:      md,
					streaming: md.IsStreamingClient() || md.IsStreamingServer(),
				}
				si.Methods = append(si.Methods, grpc.MethodInfo{
					Name:           string(md.Name()),
					IsClientStream: md.IsStreamingClient(),
					IsServerStream: md.IsStreamingServer(),
				})
			}
			s.info[name] = si
			s.health.SetServingStatus(name, healthgrpc.HealthCheckResponse_SERVING)
		}
		return true
	})

	s.prepared = make([]prepared, len(s.stubs.Stubs))
	for i := range s.stubs.Stubs {
		if !usable[i] {
			continue
		}
		if err := s.prepare(i, files, native); err != nil {
			ps = append(ps, s.stubs.Stubs[i].Problems(i, err)...)
			usable[i] = false
		}
	}
	ps = append(ps, s.stubs.Unreachable(func(i int) bool { return usable[i] })...)
	s.faults = mock.NewFaultTable(mock.FaultRules{
		NameKey: "method",
		Check:   func(f *mock.Fault) error { return s.checkFault(f, files, native) },
	})
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

// lookupMethod finds a canonical method ("pkg.Svc/M") a stub or fault names
// (what: "stubbed"), explaining what is wrong when it is not one the mock
// answers.
func (s *Server) lookupMethod(c string, files *protoregistry.Files, native map[string]grpc.ServiceInfo, what string) (*method, error) {
	m := s.methods["/"+c]
	if m == nil {
		svc, name, _ := strings.Cut(c, "/")
		if _, ok := native[svc]; ok {
			return nil, fmt.Errorf("%s is served by the mock itself and cannot be %s", svc, what)
		}
		d, err := files.FindDescriptorByName(protoreflect.FullName(svc))
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if err != nil || !ok {
			return nil, fmt.Errorf("no service %s in the descriptors", svc)
		}
		var have []string
		for j := 0; j < sd.Methods().Len(); j++ {
			have = append(have, string(sd.Methods().Get(j).Name()))
		}
		return nil, fmt.Errorf("service %s has no method %s (it has %s)", svc, name, strings.Join(have, ", "))
	}
	return m, nil
}

// checkFault checks a fault's method and code, normalising the method to
// "pkg.Svc/M", the spelling call passes to Decide.
func (s *Server) checkFault(f *mock.Fault, files *protoregistry.Files, native map[string]grpc.ServiceInfo) error {
	var errs []error
	if c, err := mock.CanonicalMethod(f.Method); err != nil {
		errs = append(errs, mock.At("method", err))
	} else if _, err := s.lookupMethod(c, files, native, "given faults"); err != nil {
		errs = append(errs, mock.At("method", err))
	} else {
		f.Method = c
	}
	if f.ErrorCode != "" {
		c, err := mock.ParseCode(f.ErrorCode)
		if err == nil && c == codes.OK {
			err = errors.New("error code OK is not an error")
		}
		if err != nil {
			errs = append(errs, mock.At("error_code", err))
		}
	}
	return errors.Join(errs...)
}

// Faults is the mock's fault table: the stub file's faults to start with,
// changed at run time through a control endpoint (mock.ControlHandler).
func (s *Server) Faults() *mock.FaultTable { return s.faults }

func serviceOf(m string) string {
	svc, _, _ := strings.Cut(m, "/")
	return svc
}

// prepare resolves stub i against the schema and encodes what does not
// depend on the request. Its errors are keyed to the stub (mock.At).
func (s *Server) prepare(i int, files *protoregistry.Files, native map[string]grpc.ServiceInfo) error {
	st := s.stubs.Stubs[i]
	m, err := s.lookupMethod(st.Method, files, native, "stubbed")
	if err != nil {
		return mock.At("method", err)
	}
	in, out := m.desc.Input(), m.desc.Output()
	kindErr := checkStreamKeys(st.Method, m, st)
	rewrite := func(p string) (string, error) { return protoPath(in, p) }
	cst, pathErr := st.RewritePaths(rewrite)
	cst, streamPathErr := cst.RewriteStreamPaths(rewrite)
	s.stubs.Stubs[i] = cst
	// A path naming no field does not stop the other checks: the user
	// should hear about everything wrong with the stub at once.
	err = s.prepareAnswer(i, m, st, cst, out)
	return errors.Join(kindErr, pathErr, streamPathErr, err)
}

// prepareAnswer checks and encodes stub i's answer: st as written, cst with
// its paths rewritten.
func (s *Server) prepareAnswer(i int, m *method, st, cst mock.Stub, out protoreflect.MessageDescriptor) error {
	p := prepared{
		delay:    time.Duration(st.Delay),
		source:   st.Source(),
		interval: time.Duration(st.Interval),
		repeat:   st.Repeats(),
		echo:     st.Echo,
	}
	if len(st.Headers) > 0 {
		p.header = metadata.New(st.Headers)
	}
	if len(st.Trailers) > 0 {
		p.trailer = metadata.New(st.Trailers)
	}
	err := s.prepareReply(&p, st, cst, out)
	if m.desc.IsStreamingServer() {
		err = errors.Join(err, s.prepareStream(&p, cst, out))
	}
	if err != nil {
		return err
	}
	s.prepared[i] = p
	return nil
}

// prepareReply checks and encodes a stub's error or response into p.
func (s *Server) prepareReply(p *prepared, st, cst mock.Stub, out protoreflect.MessageDescriptor) error {
	switch {
	case st.Error != nil:
		e := cst.Error
		if e.Exception != "" {
			return mock.At("error.exception", errors.New("a gRPC error has no exception: give a code, and details for the fields"))
		}
		if e.Code == "" {
			return mock.At("error.code", errors.New("error has no code"))
		}
		if !e.Templated() {
			sp, err := s.status(e)
			if err != nil {
				return err
			}
			p.status = status.FromProto(sp)
			break
		}
		// Check everything but the templates now, which render as null
		// without a request; details are encoded per call.
		p.errTemplated = true
		if _, err := s.status(e.Render(nil).DropNulls()); err != nil {
			return err
		}
	case cst.Templated():
		p.templated = true
		// Check everything but the templates now: with no request they
		// render as null, which proto3 JSON reads as "unset".
		// A response that is one template ("{{request.book}}") leaves
		// nothing to check.
		if v := mock.DropNulls(cst.RenderResponse(nil)); v != nil {
			if _, err := s.encode(out, v); err != nil {
				return mock.At("response", err)
			}
		}
	default:
		b, err := s.encode(out, cst.Response)
		if err != nil {
			return mock.At("response", err)
		}
		p.response = b
	}
	return nil
}

// status builds the google.rpc.Status of a stub error, its details
// resolved; errors are keyed to the stub's error.
func (s *Server) status(e *mock.StubError) (*spb.Status, error) {
	code, err := e.GRPCCode()
	if err != nil {
		return nil, mock.At("error.code", err)
	}
	sp := &spb.Status{Code: int32(code), Message: e.Message}
	var errs []error
	for j, d := range e.Details {
		a, err := s.detail(d)
		if err != nil {
			errs = append(errs, mock.At("error.details."+strconv.Itoa(j), err))
			continue
		}
		sp.Details = append(sp.Details, a)
	}
	return sp, errors.Join(errs...)
}

// encode turns a stub response (proto3 JSON as Go values) into wire bytes
// of the output type. protojson rejects unknown fields and wrong types,
// which is the validation New promises.
func (s *Server) encode(md protoreflect.MessageDescriptor, v any) ([]byte, error) {
	return s.encodeAs("response", md, v)
}

// encodeAs is encode for a value its problems call what ("message", for
// one of a stream's).
func (s *Server) encodeAs(what string, md protoreflect.MessageDescriptor, v any) ([]byte, error) {
	if v == nil {
		v = map[string]any{}
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON: %w", what, err)
	}
	msg := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: s.types}).Unmarshal(js, msg); err != nil {
		return nil, fmt.Errorf("%s does not fit %s: %s", what, md.FullName(), mock.ProtoJSONError(err))
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg)
}

// detail turns a detail's JSON ({"@type": ..., fields}) into an Any. A bare
// type name gets the type.googleapis.com/ prefix that clients in other
// languages insist on.
func (s *Server) detail(d map[string]any) (*anypb.Any, error) {
	d = maps.Clone(d)
	if t, _ := d["@type"].(string); t != "" && !strings.Contains(t, "/") {
		d["@type"] = "type.googleapis.com/" + t
	}
	js, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("detail is not JSON: %w", err)
	}
	a := new(anypb.Any)
	if err := (protojson.UnmarshalOptions{Resolver: s.types}).Unmarshal(js, a); err != nil {
		return nil, fmt.Errorf("detail %v: %s", d["@type"], mock.ProtoJSONError(err))
	}
	return a, nil
}

// Serve accepts connections on lis until Stop or GracefulStop.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(trackingListener{lis, s}) }

// GracefulStop reports NOT_SERVING, then waits for unary calls in flight
// (including delayed ones) to finish; calls a fault holds (hang, latency)
// and streams (whether waiting for the client, a delay or an interval)
// end at once with UNAVAILABLE.
func (s *Server) GracefulStop() {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.health.Shutdown()
	s.grpc.GracefulStop()
	// The handlers have returned, so no reader starts any more, and their
	// streams are closed, which ends the readers' RecvMsg.
	s.readers.Wait()
}

// Stop closes all connections and cancels calls in flight, then waits for
// their handlers to return.
func (s *Server) Stop() {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.health.Shutdown()
	s.grpc.Stop()
	s.readers.Wait()
}

// trackingListener records the connections it accepts, for drop faults.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s, key: c.RemoteAddr().String()}
	l.s.connsMu.Lock()
	set := l.s.conns[tc.key]
	if set == nil {
		set = map[*trackedConn]struct{}{}
		l.s.conns[tc.key] = set
	}
	set[tc] = struct{}{}
	l.s.connsMu.Unlock()
	return tc, nil
}

type trackedConn struct {
	net.Conn
	s    *Server
	key  string
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.connsMu.Lock()
		delete(c.s.conns[c.key], c)
		if len(c.s.conns[c.key]) == 0 {
			delete(c.s.conns, c.key)
		}
		c.s.connsMu.Unlock()
	})
	return c.Conn.Close()
}

// drop closes the connection the call on ctx came on, and reports whether
// it found it: one connection from the call's peer address (a Unix socket
// peer has none that tells connections apart).
func (s *Server) drop(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return false
	}
	s.connsMu.Lock()
	var c *trackedConn
	if set := s.conns[p.Addr.String()]; len(set) == 1 {
		for only := range set {
			c = only
		}
	}
	s.connsMu.Unlock()
	if c == nil {
		return false
	}
	c.Close()
	return true
}

// Services lists the mocked services, sorted.
func (s *Server) Services() []string {
	out := make([]string, 0, len(s.info))
	for name := range s.info {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// handle answers every call that is not health or reflection.
func (s *Server) handle(_ any, stream grpc.ServerStream) error {
	start := time.Now()
	full, _ := grpc.MethodFromServerStream(stream)
	if m := s.methods[full]; m != nil && m.streaming {
		return s.handleStream(stream, full, m, start)
	}
	idx := -1
	var fd mock.FaultDecision
	err := s.call(stream, full, &idx, &fd)
	st := status.Convert(err)
	attrs := []slog.Attr{
		slog.String("method", full),
		slog.String("code", mock.CodeName(st.Code())),
	}
	var stub *mock.Stub
	if idx >= 0 {
		stub = &s.stubs.Stubs[idx]
	}
	attrs = append(attrs, mock.StubAttrs(idx, stub)...)
	attrs = append(attrs, fd.Attrs()...)
	attrs = append(attrs, mock.DurationAttr("duration", time.Since(start)))
	level := slog.LevelInfo
	if idx < 0 && fd.Outcome == mock.FaultNone {
		// No stub answered: the user most likely needs to edit the stub
		// file, so make it stand out.
		level = slog.LevelWarn
	}
	if st.Code() != codes.OK {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	s.log.LogAttrs(stream.Context(), level, "grpcmock call", attrs...)
	return err
}

func (s *Server) call(stream grpc.ServerStream, full string, idx *int, fd *mock.FaultDecision) error {
	m := s.methods[full]
	if m == nil {
		return status.Errorf(codes.Unimplemented, "unknown method %s", full)
	}
	var raw []byte
	if err := stream.RecvMsg(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return status.Errorf(codes.InvalidArgument, "no request message for %s", full)
		}
		return err
	}
	if done, err := s.fault(stream, full, fd); done {
		return err
	}
	reqJSON, err := s.decode(m, raw)
	if err != nil {
		return err
	}
	i := s.find(full, reqJSON)
	if i < 0 {
		return noStub(full)
	}
	*idx = i
	p := &s.prepared[i]

	ctx := stream.Context()
	if p.delay > 0 {
		t := time.NewTimer(p.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if p.header != nil {
		if err := stream.SetHeader(p.header); err != nil {
			return err
		}
	}
	if p.trailer != nil {
		stream.SetTrailer(p.trailer)
	}
	if err := s.stubError(i, reqJSON); err != nil {
		return err
	}
	body, err := s.response(i, m, reqJSON)
	if err != nil {
		return err
	}
	return stream.SendMsg(&body)
}

// decode reads a request message of m's input type and renders it as
// stubs see it (see requestJSON).
func (s *Server) decode(m *method, raw []byte) (any, error) {
	req := dynamicpb.NewMessage(m.desc.Input())
	if err := (proto.UnmarshalOptions{Resolver: s.types}).Unmarshal(raw, req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot decode request as %s: %v", m.desc.Input().FullName(), err)
	}
	reqJSON, err := s.requestJSON(req)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot render request as JSON: %v", err)
	}
	return reqJSON, nil
}

// find is the index of the stub for full that matches the rendered request
// (-1 for none). A well-known type as the request (StringValue, ...) is not
// a JSON object; such requests match only stubs without Match, but
// templates can still echo them whole.
func (s *Server) find(full string, reqJSON any) int {
	reqMap, _ := reqJSON.(map[string]any)
	return s.stubs.FindIndex(full, reqMap)
}

// noStub is the status of a call, or a message of a stream, no stub
// matches.
func noStub(full string) error {
	return status.Errorf(codes.Unimplemented, "no stub matches %s", full)
}

// stubError is stub i's error for the request, nil when it has none.
func (s *Server) stubError(i int, reqJSON any) error {
	p := &s.prepared[i]
	if p.status != nil {
		return p.status.Err()
	}
	if p.errTemplated {
		sp, err := s.status(s.stubs.Stubs[i].Error.Render(reqJSON))
		if err != nil {
			// A template put a request value where the detail's type does
			// not take it: a stub bug, so INTERNAL.
			return status.Errorf(codes.Internal, "stub #%d %s: templated %v", i, p.source, err)
		}
		return status.FromProto(sp).Err()
	}
	return nil
}

// response is stub i's response to the request, encoded.
func (s *Server) response(i int, m *method, reqJSON any) ([]byte, error) {
	p := &s.prepared[i]
	if !p.templated {
		return p.response, nil
	}
	b, err := s.encode(m.desc.Output(), s.stubs.Stubs[i].RenderResponse(reqJSON))
	if err != nil {
		// The template put a request value where its type does not fit
		// (a string into an int32, say): a stub bug, so INTERNAL.
		return nil, status.Errorf(codes.Internal, "stub #%d %s: templated %v", i, p.source, err)
	}
	return b, nil
}

// fault applies the faults to a call whose request has been read; done
// means the fault answered it (or chose not to).
func (s *Server) fault(stream grpc.ServerStream, full string, fd *mock.FaultDecision) (done bool, err error) {
	*fd = s.faults.Decide(strings.TrimPrefix(full, "/"))
	if fd.Fault == "" {
		return false, nil
	}
	ctx := stream.Context()
	if !fd.Wait(ctx.Done(), s.stopping) {
		return true, s.interrupted(ctx)
	}
	switch fd.Outcome {
	case mock.FaultHang:
		select {
		case <-ctx.Done():
		case <-s.stopping:
		}
		return true, s.interrupted(ctx)
	case mock.FaultDrop:
		if s.drop(ctx) {
			// The client sees the connection go, not this status.
			return true, status.Error(codes.Unavailable, "mock fault: connection dropped")
		}
		// No connection to cut: the nearest thing is UNAVAILABLE before
		// any header.
		return true, status.Error(codes.Unavailable, "mock fault: connection dropped (the call's connection could not be found, so it was answered UNAVAILABLE)")
	case mock.FaultGarbage:
		// The raw codec sends the bytes as they are: not a protobuf
		// message, so the client fails to decode the reply.
		return true, stream.SendMsg(&mock.Garbage)
	case mock.FaultError:
		c, err := mock.ParseCode(fd.Code)
		if err != nil {
			c = codes.Unavailable // checked when the fault was set
		}
		return true, status.Errorf(c, "mock fault: error_rate on %s", strings.TrimPrefix(full, "/"))
	}
	return false, nil
}

// interrupted is the status of a call a fault held when the client gave up
// or the mock began to stop.
func (s *Server) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "the mock is stopping")
}

// requestJSON renders a request the way stubs see it: proto3 JSON with
// proto field names (stub paths are rewritten to them in New) and
// unpopulated fields included, so that "force: false" matches a request
// that left force unset, as proto3 says that is the same thing.
func (s *Server) requestJSON(msg proto.Message) (any, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true, Resolver: s.types}.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return mock.DecodeRequest(js)
}

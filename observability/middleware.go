package observability

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Middleware assigns the request id, traces, measures and logs every
// request once. Unmatched requests are labelled route="" so that scanners
// cannot blow up the metrics' cardinality with arbitrary paths. m and tr
// may be nil.
func Middleware(log *slog.Logger, m *Metrics, tr *Tracing, next http.Handler) http.Handler {
	return MiddlewareWith(log, m, tr, nil, next)
}

// Failure is a request answered with 400 or above, for the admin API's
// list of recent errors.
type Failure struct {
	Time      time.Time
	Method    string
	Path      string // escaped, without the query, which may carry credentials
	Status    int
	Code      string
	Route     string
	Backend   string
	Err       string
	RequestID string
}

// MiddlewareWith is Middleware that also hands every failed request to
// onFailure (when not nil), after the access log line.
func MiddlewareWith(log *slog.Logger, m *Metrics, tr *Tracing, onFailure func(Failure), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// What the request needs of the middleware, in one allocation.
		st := &request{}
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = NewRequestID()
			st.ids[0] = id
			r.Header["X-Request-Id"] = st.ids[0:1:1]
		}
		info := &st.info
		info.ID = id
		st.ids[1] = id
		w.Header()["X-Request-Id"] = st.ids[1:2:2]
		rec := &st.rec
		rec.ResponseWriter, rec.status = w, http.StatusOK
		if m != nil {
			m.inFlight.Inc()
			defer m.inFlight.Dec()
		}

		ctx := r.Context()
		var span trace.Span
		if tr != nil {
			ctx, span = tr.start(r)
		}
		st.ctx = infoContext{Context: ctx, info: info}
		next.ServeHTTP(rec, r.WithContext(&st.ctx))

		d := time.Since(start)
		o := info.snapshot()
		if span != nil {
			end(span, r.Method, o, rec.status)
		}
		route, backend, code, err, retries := o.route, o.backend, o.code, o.err, o.retries
		if m != nil {
			m.requests.WithLabelValues(route, backend, methodLabel(r.Method), statusLabel(rec.status)).Inc()
			m.requestDuration.WithLabelValues(route, backend).Observe(d.Seconds())
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		} else if rec.status >= 400 {
			level = slog.LevelWarn
		}
		// On the stack for the usual line: most requests have a dozen.
		var buf [24]slog.Attr
		attrs := append(buf[:0],
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.EscapedPath()),
			slog.String("route", route),
			slog.String("backend", backend),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
		if o.client != "" {
			attrs = append(attrs, slog.String("client", o.client))
		}
		if o.principal != "" {
			attrs = append(attrs, slog.String("principal", o.principal))
		}
		if o.refusal != "" {
			attrs = append(attrs, slog.String("policy", o.policy), slog.String("policy_check", o.check),
				slog.String("policy_reason", o.refusal))
		}
		if o.endpoint != "" {
			attrs = append(attrs, slog.String("endpoint", o.endpoint))
		}
		if code != "" {
			attrs = append(attrs, slog.String("grpc_code", code))
			if o.source != "" {
				attrs = append(attrs, slog.String("error_source", o.source))
			}
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		if retries > 0 {
			attrs = append(attrs, slog.Int("retries", retries))
		}
		if o.stream != "" {
			attrs = append(attrs, slog.String("stream", o.stream), slog.Int("messages_in", o.msgsIn), slog.Int("messages_out", o.msgsOut))
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		accessLog(r.Context(), log, level, attrs)
		if onFailure != nil && rec.status >= 400 {
			f := Failure{Time: start, Method: r.Method, Path: r.URL.EscapedPath(), Status: rec.status, Code: code,
				Route: route, Backend: backend, RequestID: id}
			if err != nil {
				f.Err = err.Error()
			}
			onFailure(f)
		}
	})
}

// request is the middleware's state for one request.
type request struct {
	info Info
	rec  statusRecorder
	ctx  infoContext
	// ids back the X-Request-Id header values set on the request (when
	// the gateway made the id) and on the response.
	ids [2]string
}

// infoContext is WithInfo's context, kept inside request.
type infoContext struct {
	context.Context
	info *Info
}

func (c *infoContext) Value(key any) any {
	if key == (infoKey{}) {
		return c.info
	}
	return c.Context.Value(key)
}

// accessLog writes the request's line as log.LogAttrs would, without
// the call stack walk LogAttrs makes for a source location: the access
// log's would always be this function.
func accessLog(ctx context.Context, log *slog.Logger, level slog.Level, attrs []slog.Attr) {
	if !log.Enabled(ctx, level) {
		return
	}
	rec := slog.NewRecord(time.Now(), level, "request", 0)
	rec.AddAttrs(attrs...)
	_ = log.Handler().Handle(ctx, rec)
}

// statusLabels are the status label's values, made once: strconv.Itoa
// allocates for every status from 100 on.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a stream's flush on: a wrapper above this one (gzhttp's)
// looks for http.Flusher, not for Unwrap.
func (s *statusRecorder) Flush() { _ = http.NewResponseController(s.ResponseWriter).Flush() }

// methodLabel keeps the method label's values few: any client can send any
// method token, and every new label value is a new series held forever.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

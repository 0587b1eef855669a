package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/translate"
)

// Registry is what the admin API changes: the gateway's schemas.
type Registry interface {
	State() *gateway.State
	Backends() []gateway.BackendStatus
	Register(name, backend string, fds *descriptorpb.FileDescriptorSet) (*descriptors.Set, error)
	Remove(name string) error
	Rollback(name string) (*descriptors.Set, error)
	Refresh(ctx context.Context, name string) (*descriptors.Set, error)
}

// MaxUploadBytes bounds a descriptor set upload.
const MaxUploadBytes = 64 << 20

// UploadBudget bounds what all uploads being received hold at once.
const UploadBudget = 2 * MaxUploadBytes

// validName keeps set names safe to use in URLs, logs and metrics.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Option adjusts the admin API.
type Option func(*api)

// WithHosts sets the Host names /admin/* answers to (see Guard); by
// default the loopback names.
func WithHosts(hosts ...string) Option { return func(a *api) { a.hosts = hosts } }

// WithToken requires "Authorization: Bearer token" on /admin/*; /healthz,
// /readyz and /metrics stay open to probes and scrapers.
func WithToken(token string) Option {
	return func(a *api) {
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			a.tokenSum = &sum
		}
	}
}

// WithReadyDetail adds what detail says (a store that cannot be reached
// but whose fail mode lets requests through) to /readyz answers.
func WithReadyDetail(detail func() []string) Option { return func(a *api) { a.detail = detail } }

// Handler returns the admin API. ready reports readiness for /readyz.
func Handler(reg Registry, metrics http.Handler, ready func() error, opts ...Option) http.Handler {
	a := &api{reg: reg, hosts: DefaultHosts(""), uploads: policy.NewBudget(UploadBudget, "the admin API's upload budget")}
	for _, o := range opts {
		o(a)
	}
	r := mux.NewRouter()
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var detail []string
		if a.detail != nil {
			detail = a.detail()
		}
		if err := ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "not ready", Reason: err.Error(), Detail: detail})
			return
		}
		writeJSON(w, http.StatusOK, readiness{Status: "ready", Detail: detail})
	}).Methods(http.MethodGet, http.MethodHead)
	if metrics != nil {
		r.Handle("/metrics", metrics).Methods(http.MethodGet)
	}
	r.HandleFunc("/", home).Methods(http.MethodGet, http.MethodHead)
	a.dashboardRoutes(r)
	a.openAPIRoutes(r)
	r.HandleFunc("/admin/routes", a.routes).Methods(http.MethodGet)
	r.HandleFunc("/admin/explain", a.explain).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/admin/reload", a.reload).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}/proto", a.proto).Methods(http.MethodGet)
	r.HandleFunc("/admin/backends", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.reg.Backends())
	}).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors", a.list).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors", a.register).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}", a.get).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors/{name}", a.remove).Methods(http.MethodDelete)
	r.HandleFunc("/admin/descriptors/{name}/rollback", a.rollback).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}/refresh", a.refresh).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}/diff", a.diffVersions).Methods(http.MethodGet)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail(w, r, translate.Errorf(codes.NotFound, "no admin endpoint %s %s (GET / lists them)", r.Method, r.URL.Path))
	})
	router := r
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := allowedMethods(router, r)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		fail(w, r, translate.Refuse(translate.ReasonMethodNotAllowed, "method %s not allowed on %s (allowed: %s)",
			r.Method, r.URL.Path, strings.Join(allowed, ", ")))
	})
	return a.guard(r)
}

// readiness is the body of /readyz.
type readiness struct {
	Status string   `json:"status"`
	Reason string   `json:"reason,omitempty"`
	Detail []string `json:"detail,omitempty"`
}

type api struct {
	reg   Registry
	hosts []string
	// tokenSum is the SHA-256 of the bearer token /admin/* requires, nil
	// for none; comparing sums keeps the comparison constant-time
	// whatever the length of what a client sends.
	tokenSum *[32]byte
	// openAPIServers are the URLs the OpenAPI document names.
	openAPIServers []string
	detail         func() []string
	// uploads bounds the bytes all uploads hold at once, charged as they
	// arrive: a slow upload holds only what it has sent.
	uploads *policy.Budget
	// recent holds the failed requests GET /admin/errors lists (nil: not recorded).
	recent *RecentErrors
}

// DefaultHosts are the Host names the admin API answers to when none are
// configured: the loopback names, and listenHost when it names one
// address rather than every address.
func DefaultHosts(listenHost string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	switch listenHost {
	case "", "0.0.0.0", "::", "[::]":
	default:
		hosts = append(hosts, strings.Trim(listenHost, "[]"))
	}
	return hosts
}

// guard keeps web pages away from /admin/*: a browser lets any page send
// a "simple" cross-origin POST without asking, and a page on a name that
// resolves to this listener (DNS rebinding) passes any same-origin check.
// So /admin/* answers only to the configured Host names and refuses any
// request a browser marks as cross-origin. /healthz, /readyz and /metrics
// stay open to probes and scrapers, which use whatever address they see.
func (a *api) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer carries a request id, errors as a RequestInfo
		// detail too, as the gateway's do.
		id := observability.RequestID(r.Header.Get(translate.RequestIDHeader))
		w.Header().Set(translate.RequestIDHeader, id)
		r = r.WithContext(observability.WithInfo(r.Context(), &observability.Info{ID: id}))
		if !strings.HasPrefix(r.URL.Path, "/admin/") && r.URL.Path != "/admin" {
			next.ServeHTTP(w, r)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if !slices.ContainsFunc(a.hosts, func(h string) bool { return strings.EqualFold(h, host) }) {
			fail(w, r, translate.Errorf(codes.PermissionDenied,
				"the admin API does not answer to host %q (admin.hosts lists the names it answers to)", truncate(r.Host)))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
			fail(w, r, translate.Errorf(codes.PermissionDenied, "cross-origin requests to the admin API are refused (Origin %q)", truncate(o)))
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			fail(w, r, translate.Errorf(codes.PermissionDenied, "cross-origin requests to the admin API are refused"))
			return
		}
		if a.tokenSum != nil && !a.tokenOK(r) {
			e := translate.Errorf(codes.Unauthenticated, "the admin API needs its token: send Authorization: Bearer TOKEN (admin.token_env or admin.token_file)")
			e.Header = http.Header{"Www-Authenticate": {`Bearer realm="switchboard-admin"`}}
			fail(w, r, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) tokenOK(r *http.Request) bool {
	vs := r.Header.Values("Authorization")
	if len(vs) != 1 {
		return false
	}
	scheme, tok, ok := strings.Cut(vs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimLeft(tok, " ")))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// MinTokenBytes is the shortest admin token accepted: a guessable token
// is no protection.
const MinTokenBytes = 16

// Token reads the admin token the config names: an environment variable
// or a file (one trailing newline dropped). "" with no error means none
// is configured.
func Token(c config.Admin) (string, error) {
	var tok string
	switch {
	case c.TokenEnv != "" && c.TokenFile != "":
		return "", errors.New("admin: set token_env or token_file, not both")
	case c.TokenEnv != "":
		tok = os.Getenv(c.TokenEnv)
		if tok == "" {
			return "", fmt.Errorf("admin.token_env: the environment variable %s is unset or empty", c.TokenEnv)
		}
	case c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("admin.token_file: %w", err)
		}
		tok = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	default:
		return "", nil
	}
	if len(tok) < MinTokenBytes {
		return "", fmt.Errorf("admin token: at least %d bytes, have %d", MinTokenBytes, len(tok))
	}
	if !translate.PrintableASCII(tok) || strings.ContainsAny(tok, " \t") {
		return "", errors.New("admin token: printable ASCII without spaces (it travels in a header)")
	}
	return tok, nil
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// Route is one row of GET /admin/routes.
type Route struct {
	Method  string `json:"method"`
	Path    string `json:"path"`
	Backend string `json:"backend"`
	Target  string `json:"target"`
	Source  string `json:"source"`
}

// Routes lists a table for GET /admin/routes and `switchboard routes`.
func Routes(st *gateway.State) []Route {
	out := []Route{}
	for _, r := range st.Table.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Pattern, Backend: r.Target.Backend(), Target: r.Target.Describe(), Source: r.Source})
	}
	return out
}

func (a *api) routes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"routes": Routes(a.reg.State())})
}

// SetInfo describes one registered descriptor set.
type SetInfo struct {
	Name     string    `json:"name"`
	Version  int       `json:"version"`
	Digest   string    `json:"digest"`
	Backend  string    `json:"backend,omitempty"`
	Source   string    `json:"source"`
	Loaded   time.Time `json:"loaded"`
	Services []string  `json:"services"`
	// MethodsWithoutHTTPRules says which methods are only reachable at
	// POST /pkg.Service/Method, e.g. because a reflection server dropped options.
	MethodsWithoutHTTPRules []string `json:"methods_without_http_rules,omitempty"`
	History                 []int    `json:"history"` // versions available, oldest first
}

func info(snap *descriptors.Snapshot, s *descriptors.Set) SetInfo {
	si := SetInfo{Name: s.Name, Version: s.Version, Digest: s.Digest, Backend: s.Backend, Source: s.Source.String(),
		Loaded: s.Loaded.UTC(), Services: []string{}, History: []int{}}
	for _, sd := range s.Services() {
		si.Services = append(si.Services, string(sd.FullName()))
	}
	_, without := s.MethodsWithHTTPRules()
	for _, m := range without {
		si.MethodsWithoutHTTPRules = append(si.MethodsWithoutHTTPRules, string(m))
	}
	for _, h := range snap.History(s.Name) {
		si.History = append(si.History, h.Version)
	}
	return si
}

func (a *api) list(w http.ResponseWriter, _ *http.Request) {
	snap := a.reg.State().Schemas
	out := []SetInfo{}
	for _, s := range snap.Sets() {
		out = append(out, info(snap, s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"generation": snap.Generation(), "descriptors": out})
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	snap := a.reg.State().Schemas
	s, ok := snap.Set(name)
	if !ok {
		fail(w, r, translate.Errorf(codes.NotFound, "no descriptor set %q", name))
		return
	}
	writeJSON(w, http.StatusOK, info(snap, s))
}

func (a *api) register(w http.ResponseWriter, r *http.Request) {
	name, backend := r.URL.Query().Get("name"), r.URL.Query().Get("backend")
	if !validName.MatchString(name) {
		fail(w, r, translate.BadRequest("query parameter name must be 1-128 characters of letters, digits, '.', '_' or '-'",
			translate.Violation("name", "invalid or missing")))
		return
	}
	if backend == "" {
		fail(w, r, translate.BadRequest("query parameter backend is required", translate.Violation("backend", "missing")))
		return
	}
	allow, aerr := allowBreaking(r.URL.Query())
	if aerr != nil {
		fail(w, r, aerr)
		return
	}
	// A binary type: a browser cannot send one cross-origin without a
	// preflight, which the admin API never approves.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-protobuf" && ct != "application/octet-stream" {
		msg := fmt.Sprintf("an upload must be sent as application/x-protobuf or application/octet-stream, not %q", truncate(r.Header.Get("Content-Type")))
		// curl -d sends a form type: if this is .proto text, say what to do.
		if head, _ := io.ReadAll(io.LimitReader(r.Body, 4096)); looksLikeProtoSource(head) {
			msg += "; and it looks like .proto source: compile it first with `switchboard compile -o set.pb -I DIR FILE.proto`"
		}
		fail(w, r, translate.Refuse(translate.ReasonUnsupportedMediaType, "%s", msg))
		return
	}
	if r.ContentLength > MaxUploadBytes {
		w.Header().Set("Connection", "close")
		fail(w, r, translate.Refuse(translate.ReasonBodyTooLarge, "descriptor set of %d bytes exceeds %d bytes", r.ContentLength, MaxUploadBytes))
		return
	}
	tab := a.uploads.Open()
	defer tab.Close()
	body, err := io.ReadAll(policy.Meter(http.MaxBytesReader(w, r.Body, MaxUploadBytes), tab))
	if err != nil {
		var tooBig *http.MaxBytesError
		var refused *translate.Error
		if errors.As(err, &refused) {
			fail(w, r, refused)
			return
		}
		if errors.As(err, &tooBig) {
			fail(w, r, translate.Refuse(translate.ReasonBodyTooLarge, "descriptor set exceeds %d bytes", MaxUploadBytes))
			return
		}
		fail(w, r, translate.Errorf(codes.InvalidArgument, "reading body: %v", err))
		return
	}
	fds, err := descriptors.ParseSet(body)
	if err != nil {
		msg := fmt.Sprintf("body is not a binary FileDescriptorSet: %v", err)
		if looksLikeProtoSource(body) {
			msg += "; it looks like .proto source: compile it first with `switchboard compile -o set.pb -I DIR FILE.proto` " +
				"(or protoc --include_imports --descriptor_set_out=set.pb)"
		}
		fail(w, r, translate.Errorf(codes.InvalidArgument, "%s", msg))
		return
	}
	set, changes, err := a.registerSet(name, backend, fds, allow)
	if err != nil {
		fail(w, r, registerError(err, name))
		return
	}
	writeJSON(w, http.StatusCreated, newRegistered(info(a.reg.State().Schemas, set), changes))
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if err := a.reg.Remove(name); err != nil {
		fail(w, r, schemaError(err, name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) rollback(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	set, err := a.reg.Rollback(name)
	if err != nil {
		fail(w, r, schemaError(err, name))
		return
	}
	writeJSON(w, http.StatusOK, info(a.reg.State().Schemas, set))
}

func (a *api) refresh(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	set, err := a.reg.Refresh(r.Context(), name)
	if err != nil {
		fail(w, r, schemaError(err, name))
		return
	}
	writeJSON(w, http.StatusOK, info(a.reg.State().Schemas, set))
}

// schemaError maps a refused change: unknown names are 404, a set with no
// earlier version is 409, a collision with another set or the config is
// 409, content problems are 400 with the full message.
func schemaError(err error, name string) *translate.Error {
	switch {
	case errors.Is(err, descriptors.ErrUnknownSet):
		return translate.Errorf(codes.NotFound, "no descriptor set %q", name)
	case errors.Is(err, descriptors.ErrNoPrevious):
		return translate.Errorf(codes.Aborted, "descriptor set %q has no previous version", name)
	case errors.Is(err, gateway.ErrChanged):
		return translate.Errorf(codes.Aborted, "%v", err)
	case errors.Is(err, gateway.ErrConflict):
		return translate.Errorf(codes.AlreadyExists, "%v", err)
	}
	return translate.Errorf(codes.InvalidArgument, "%v", err)
}

// fail writes e with the request's id, as the gateway's errors carry it.
func fail(w http.ResponseWriter, r *http.Request, e *translate.Error) {
	translate.WriteError(w, e, nil, observability.FromContext(r.Context()).ID)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// JSON that holds client-chosen text (set names, paths) must never be
	// sniffed as HTML.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ConfiguredHosts are the Host names for an admin section: its hosts, or
// DefaultHosts of its listen address.
func ConfiguredHosts(c config.Admin) []string {
	if len(c.Hosts) > 0 {
		return c.Hosts
	}
	host, _, _ := net.SplitHostPort(c.Listen)
	return DefaultHosts(host)
}

// Endpoint is one row of the admin index.
type Endpoint struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Description string `json:"description"`
}

// Endpoints are what GET / lists.
var Endpoints = []Endpoint{
	{"GET", "/healthz", "the process is up"},
	{"GET", "/readyz", "ready for traffic: a route table, backends connected, not draining"},
	{"GET", "/metrics", "Prometheus metrics"},
	{"GET", "/", "this list; a browser (Accept: text/html) gets the dashboard"},
	{"GET", "/admin/routes", "the route table as JSON"},
	{"GET", "/admin/backends", "each backend: breaker, calls in flight, retry budget, hedges; each endpoint: health, ejection, recent error rate"},
	{"GET", "/admin/errors", "the last 100 failed requests, when the gateway records them"},
	{"GET", "/admin/descriptors", "registered descriptor sets with versions"},
	{"GET", "/admin/descriptors/{name}", "one set: version, digest, services, methods without HTTP rules"},
	{"POST", "/admin/descriptors?name=NAME&backend=B[&allow_breaking=true]", "register or replace NAME from a binary FileDescriptorSet (Content-Type: application/x-protobuf); changes that break clients of the version replaced are refused with 409 unless allow_breaking=true"},
	{"GET", "/admin/descriptors/{name}/diff[?from=N&to=M]", "the changes between two versions NAME's history holds (default: previous to current), breaking ones first"},
	{"POST", "/admin/descriptors/{name}/rollback", "back to the previous version of NAME"},
	{"POST", "/admin/descriptors/{name}/refresh", "ask the backend's server reflection again (reflection sets)"},
	{"DELETE", "/admin/descriptors/{name}", "remove NAME and its routes"},
	{"GET", "/admin/explain?method=M&url=/PATH", "what the gateway would do with a request (route, near misses, bindings, backend message, policies), without calling the backend; POST takes {method, url, headers, body}"},
	{"GET", "/admin/descriptors/{name}/proto", "the set's files as .proto source"},
	{"POST", "/admin/reload", "read the config file again and swap routes, policies and backends; a config with problems changes nothing (422)"},
}

func index(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"service": "switchboard admin API", "endpoints": Endpoints})
}

// looksLikeProtoSource: text with the words a .proto file starts with.
func looksLikeProtoSource(b []byte) bool {
	head := string(b[:min(len(b), 4096)])
	return utf8.ValidString(head) && (strings.Contains(head, "syntax =") || strings.Contains(head, "syntax=") ||
		strings.Contains(head, "package ") && strings.Contains(head, ";"))
}

// allowedMethods are the methods router would serve at r's path.
func allowedMethods(router *mux.Router, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if router.Match(probe, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return out
}

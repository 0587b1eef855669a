package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/gorilla/mux"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate"
)

// Registry is what the admin API changes: the gateway's schemas.
type Registry interface {
	State() *gateway.State
	Register(name, backend string, fds *descriptorpb.FileDescriptorSet) (*descriptors.Set, error)
	Remove(name string) error
	Rollback(name string) (*descriptors.Set, error)
	Refresh(ctx context.Context, name string) (*descriptors.Set, error)
}

// MaxUploadBytes bounds a descriptor set upload.
const MaxUploadBytes = 64 << 20

// validName keeps set names safe to use in URLs, logs and metrics.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Handler returns the admin API. ready reports readiness for /readyz.
func Handler(reg Registry, metrics http.Handler, ready func() error) http.Handler {
	a := &api{reg: reg}
	r := mux.NewRouter()
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}).Methods(http.MethodGet, http.MethodHead)
	if metrics != nil {
		r.Handle("/metrics", metrics).Methods(http.MethodGet)
	}
	r.HandleFunc("/admin/routes", a.routes).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors", a.list).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors", a.register).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}", a.get).Methods(http.MethodGet)
	r.HandleFunc("/admin/descriptors/{name}", a.remove).Methods(http.MethodDelete)
	r.HandleFunc("/admin/descriptors/{name}/rollback", a.rollback).Methods(http.MethodPost)
	r.HandleFunc("/admin/descriptors/{name}/refresh", a.refresh).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		translate.WriteError(w, translate.Errorf(codes.NotFound, "no admin endpoint %s %s", r.Method, r.URL.Path), nil, "")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		translate.WriteError(w, translate.Refuse(translate.ReasonMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path), nil, "")
	})
	return r
}

type api struct{ reg Registry }

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
		translate.WriteError(w, translate.Errorf(codes.NotFound, "no descriptor set %q", name), nil, "")
		return
	}
	writeJSON(w, http.StatusOK, info(snap, s))
}

func (a *api) register(w http.ResponseWriter, r *http.Request) {
	name, backend := r.URL.Query().Get("name"), r.URL.Query().Get("backend")
	if !validName.MatchString(name) {
		fail(w, translate.BadRequest("query parameter name must be 1-128 characters of letters, digits, '.', '_' or '-'",
			translate.Violation("name", "invalid or missing")))
		return
	}
	if backend == "" {
		fail(w, translate.BadRequest("query parameter backend is required", translate.Violation("backend", "missing")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUploadBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(w, translate.Refuse(translate.ReasonBodyTooLarge, "descriptor set exceeds %d bytes", MaxUploadBytes))
			return
		}
		fail(w, translate.Errorf(codes.InvalidArgument, "reading body: %v", err))
		return
	}
	fds, err := descriptors.ParseSet(body)
	if err != nil {
		fail(w, translate.Errorf(codes.InvalidArgument, "body is not a binary FileDescriptorSet: %v", err))
		return
	}
	set, err := a.reg.Register(name, backend, fds)
	if err != nil {
		fail(w, schemaError(err, name))
		return
	}
	writeJSON(w, http.StatusCreated, info(a.reg.State().Schemas, set))
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	if err := a.reg.Remove(name); err != nil {
		fail(w, schemaError(err, name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) rollback(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	set, err := a.reg.Rollback(name)
	if err != nil {
		fail(w, schemaError(err, name))
		return
	}
	writeJSON(w, http.StatusOK, info(a.reg.State().Schemas, set))
}

func (a *api) refresh(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	set, err := a.reg.Refresh(r.Context(), name)
	if err != nil {
		fail(w, schemaError(err, name))
		return
	}
	writeJSON(w, http.StatusOK, info(a.reg.State().Schemas, set))
}

// schemaError maps a refused change: unknown names are 404, a set with no
// earlier version is 409, content problems are 400 with the full message.
func schemaError(err error, name string) *translate.Error {
	switch {
	case errors.Is(err, descriptors.ErrUnknownSet):
		return translate.Errorf(codes.NotFound, "no descriptor set %q", name)
	case errors.Is(err, descriptors.ErrNoPrevious):
		return translate.Errorf(codes.Aborted, "descriptor set %q has no previous version", name)
	case errors.Is(err, gateway.ErrChanged):
		return translate.Errorf(codes.Aborted, "%v", err)
	}
	return translate.Errorf(codes.InvalidArgument, "%v", err)
}

func fail(w http.ResponseWriter, e *translate.Error) { translate.WriteError(w, e, nil, "") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

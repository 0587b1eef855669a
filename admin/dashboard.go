package admin

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/observability"
	"github.com/switchboard-gw/switchboard/translate"
)

// The dashboard is a static page and two static files, embedded so the
// binary needs nothing beside it: no CDN, no fonts, no build step. The page
// reads the admin API with the token the operator types in, so serving it
// needs no token.
//
//go:embed dashboard
var dashboardFiles embed.FS

// DashboardCSP is the Content-Security-Policy of the dashboard's files:
// only this origin's scripts, styles and API, no inline code (so data the
// page shows cannot run even if it reached the DOM as markup), and no
// framing by another site.
const DashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// asset is one embedded file ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// dashboardAssets maps a file name ("index.html", "app.js") to its bytes.
var dashboardAssets = loadAssets()

func loadAssets() map[string]asset {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
	}
	out := map[string]asset{}
	entries, err := fs.ReadDir(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // embedded: cannot fail at run time if it built
	}
	for _, e := range entries {
		b, err := dashboardFiles.ReadFile("dashboard/" + e.Name())
		if err != nil {
			panic(err)
		}
		ct, ok := types[path.Ext(e.Name())]
		if !ok {
			continue
		}
		sum := sha256.Sum256(b)
		// A content hash: a new binary with a changed file gets a new ETag,
		// so a browser never runs a stale app.js against a newer API.
		out[e.Name()] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out
}

// dashboardRoutes adds the dashboard's static files and GET /admin/errors
// to r; "/" itself is home.
func (a *api) dashboardRoutes(r *mux.Router) {
	r.HandleFunc("/dashboard/{file}", func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, mux.Vars(r)["file"])
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/errors", a.recentErrors).Methods(http.MethodGet)
}

// home serves the dashboard to a browser and the endpoint listing to
// everything else (curl sends Accept: */*), so `curl ADMIN/` keeps working.
func home(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	if wantsHTML(r.Header.Values("Accept")) {
		serveAsset(w, r, "index.html")
		return
	}
	index(w, r)
}

// wantsHTML reports whether an Accept header names text/html explicitly
// (a browser navigating does; */* alone does not).
func wantsHTML(accept []string) bool {
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q <= 0 {
				continue
			}
			return true
		}
	}
	return false
}

// serveAsset writes an embedded file with the dashboard's security headers
// and an ETag; no-cache makes a browser revalidate, which costs a 304.
func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := dashboardAssets[name]
	if !ok {
		fail(w, r, translate.Errorf(codes.NotFound, "no dashboard file %q", truncate(name)))
		return
	}
	h := w.Header()
	setDashboardHeaders(h)
	h.Set("Content-Type", f.ctype)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	if etagMatches(r.Header.Values("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}

func setDashboardHeaders(h http.Header) {
	h.Set("Content-Security-Policy", DashboardCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// etagMatches: If-None-Match lists etag (weak or strong) or is "*".
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == etag || tag == "*" {
				return true
			}
		}
	}
	return false
}

// RecentErrorsSize is how many failed requests RecentErrors keeps.
const RecentErrorsSize = 100

// recentFieldBytes bounds each text field of a RecentError, so the ring's
// memory stays bounded whatever the requests and errors hold.
const recentFieldBytes = 1024

// RecentError is one failed request as GET /admin/errors shows it.
type RecentError struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	// Path is the request's escaped path without the query, which can
	// carry credentials (an API key in ?key=).
	Path   string `json:"path"`
	Status int    `json:"status"`
	// Code is the gRPC code name of the outcome ("UNAVAILABLE"), if any.
	Code    string `json:"code,omitempty"`
	Route   string `json:"route,omitempty"`
	Backend string `json:"backend,omitempty"`
	// Message is why, as the access log says it (the cause, which the
	// client may not have been sent).
	Message   string `json:"message,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// RecentErrors keeps the last RecentErrorsSize failed requests for
// GET /admin/errors and the dashboard. It is safe for concurrent use, and
// its zero value is ready. Whatever sees the gateway's failed requests
// (an access-log hook) calls Add; WithRecentErrors serves it.
type RecentErrors struct {
	mu   sync.Mutex
	ring [RecentErrorsSize]RecentError
	next int // where the next Add writes
	n    int // entries held, up to RecentErrorsSize
}

// NewRecentErrors returns an empty ring.
func NewRecentErrors() *RecentErrors { return &RecentErrors{} }

// Add records a failed request, dropping the oldest when full. A zero
// Time is now; text fields are cut to 1 KiB.
func (r *RecentErrors) Add(e RecentError) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	for _, s := range []*string{&e.Method, &e.Path, &e.Code, &e.Route, &e.Backend, &e.Message, &e.RequestID} {
		*s = clip(*s)
	}
	r.mu.Lock()
	r.ring[r.next] = e
	r.next = (r.next + 1) % RecentErrorsSize
	r.n = min(r.n+1, RecentErrorsSize)
	r.mu.Unlock()
}

// List returns the entries held, newest first.
func (r *RecentErrors) List() []RecentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecentError, 0, r.n)
	for i := 1; i <= r.n; i++ {
		out = append(out, r.ring[(r.next-i+RecentErrorsSize)%RecentErrorsSize])
	}
	return out
}

// clip cuts s to recentFieldBytes without splitting a UTF-8 sequence.
func clip(s string) string {
	if len(s) <= recentFieldBytes {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	cut := recentFieldBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "\uFFFD") + "…"
}

// WithRecentErrors serves ring at GET /admin/errors. Without it the
// endpoint answers an empty list with "recording": false.
func WithRecentErrors(ring *RecentErrors) Option {
	return func(a *api) { a.recent = ring }
}

func (a *api) recentErrors(w http.ResponseWriter, _ *http.Request) {
	list := []RecentError{}
	if a.recent != nil {
		list = a.recent.List()
	}
	writeJSON(w, http.StatusOK, map[string]any{"recording": a.recent != nil, "capacity": RecentErrorsSize, "errors": list})
}

// RecordFailure adds a failed request the gateway reports
// (gateway.WithFailures) to the ring.
func (e *RecentErrors) RecordFailure(f observability.Failure) {
	e.Add(RecentError{Time: f.Time, Method: f.Method, Path: f.Path, Status: f.Status, Code: f.Code,
		Route: f.Route, Backend: f.Backend, Message: f.Err, RequestID: f.RequestID})
}

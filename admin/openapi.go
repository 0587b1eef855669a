package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/openapi"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate"
)

// The document lists what API users may call, as /healthz says whether
// they can: both stay outside /admin/, open to whoever reaches the
// listener, without the admin token.
func init() {
	Endpoints = append(Endpoints,
		Endpoint{"GET", "/openapi.json", "the OpenAPI 3.1 document of every route, as the schemas are now (no token needed)"},
		Endpoint{"GET", "/openapi.yaml", "the same document as YAML"},
	)
}

// openAPIRoutes serves the document of the registry's current state.
func (a *api) openAPIRoutes(r *mux.Router) {
	docs := &openAPIDocs{reg: a.reg, opts: openapi.Options{Servers: a.openAPIServers}}
	r.HandleFunc("/openapi.json", docs.serve(false)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/openapi.yaml", docs.serve(true)).Methods(http.MethodGet, http.MethodHead)
}

// WithOpenAPIServers sets the URLs the OpenAPI document tells clients to
// call (the gateway's public URL, which the admin listener cannot know).
func WithOpenAPIServers(urls ...string) Option { return func(a *api) { a.openAPIServers = urls } }

// OpenAPIHandlers serve GET /openapi.json and /openapi.yaml of reg's
// current state, for the gateway's public listener (openapi.public).
func OpenAPIHandlers(reg Registry, servers ...string) (jsonDoc, yamlDoc http.Handler) {
	docs := &openAPIDocs{reg: reg, opts: openapi.Options{Servers: servers}}
	return docs.serve(false), docs.serve(true)
}

// openAPIDocs builds the document once per state: a State never changes,
// and every schema change or reload swaps in a new one, so the pointer
// says when the document is stale.
type openAPIDocs struct {
	reg  Registry
	opts openapi.Options

	mu    sync.Mutex
	state *gateway.State
	json  []byte
	yaml  []byte
	etags [2]string // of the JSON and the YAML
	err   error
}

func (d *openAPIDocs) current() ([]byte, []byte, [2]string, error) {
	st := d.reg.State()
	d.mu.Lock()
	defer d.mu.Unlock()
	if st != d.state {
		var summary openapi.Summaries
		if s, ok := d.reg.(interface {
			PolicySummary(*routes.Route) policy.Summary
		}); ok {
			summary = s.PolicySummary
		}
		doc := openapi.Build(st, summary, d.opts)
		d.state = st
		d.json, d.err = doc.JSON()
		if d.err == nil {
			d.yaml, d.err = doc.YAML()
		}
		for i, b := range [][]byte{d.json, d.yaml} {
			sum := sha256.Sum256(b)
			d.etags[i] = `"` + hex.EncodeToString(sum[:16]) + `"`
		}
	}
	return d.json, d.yaml, d.etags, d.err
}

func (d *openAPIDocs) serve(asYAML bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		js, ym, etags, err := d.current()
		if err != nil {
			fail(w, r, &translate.Error{Code: codes.Internal, Message: "the OpenAPI document cannot be written", Cause: err})
			return
		}
		body, ct, etag := js, "application/json", etags[0]
		if asYAML {
			body, ct, etag = ym, "application/yaml", etags[1]
		}
		h := w.Header()
		// The same bytes for the same schemas: clients and caches may
		// revalidate instead of fetching it again.
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		if inm := r.Header.Get("If-None-Match"); inm != "" && noneMatch(inm, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", ct)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	}
}

// noneMatch reads If-None-Match: a list of entity tags, or *.
func noneMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

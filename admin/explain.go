package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate"
)

// explainer is a registry that explains requests (the gateway does).
type explainer interface {
	Explain(method, rawURL string, header http.Header, body []byte) (*gateway.Explanation, error)
}

// ExplainRequest is the body of POST /admin/explain.
type ExplainRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// maxExplainBytes bounds an explain request: a request to explain, not an
// upload.
const maxExplainBytes = 1 << 20

// explain answers GET /admin/explain?method=&url= and POST /admin/explain
// with a JSON ExplainRequest: what the gateway would do with the request,
// without calling the backend.
func (a *api) explain(w http.ResponseWriter, r *http.Request) {
	ex, ok := a.reg.(explainer)
	if !ok {
		fail(w, r, translate.Errorf(codes.Unimplemented, "this gateway does not explain requests"))
		return
	}
	var req ExplainRequest
	switch r.Method {
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			fail(w, r, translate.Refuse(translate.ReasonUnsupportedMediaType, "send the request to explain as application/json: {\"method\":..,\"url\":..,\"headers\":{..},\"body\":..}"))
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExplainBytes))
		if err != nil {
			fail(w, r, translate.Refuse(translate.ReasonBodyTooLarge, "an explain request is at most %d bytes", maxExplainBytes))
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, r, translate.BadRequest("the explain request does not parse: "+err.Error()))
			return
		}
	default:
		q := r.URL.Query()
		req.Method, req.URL = q.Get("method"), q.Get("url")
	}
	if req.URL == "" || !strings.HasPrefix(req.URL, "/") && !strings.HasPrefix(req.URL, "http://") && !strings.HasPrefix(req.URL, "https://") {
		fail(w, r, translate.BadRequest("url: give the request's path and query (/v1/...), or its whole URL"))
		return
	}
	h := http.Header{}
	for k, v := range req.Headers {
		if !translate.ValidHeaderName(k) {
			fail(w, r, translate.BadRequest("headers: "+truncate(k)+" is not a header name"))
			return
		}
		h.Set(k, v)
	}
	if req.Body != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	out, err := ex.Explain(req.Method, req.URL, h, []byte(req.Body))
	if err != nil {
		fail(w, r, translate.BadRequest(err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

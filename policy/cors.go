package policy

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/translate"
)

// corsPolicy answers browsers' cross-origin requests for the routes whose
// chain holds it (the most specific policy's wins).
type corsPolicy struct {
	policy      string
	origins     map[string]bool
	anyOrigin   bool
	headers     []string // canonical
	headersText string
	expose      string
	credentials bool
	maxAge      string
}

// safelisted are the request headers a preflight never needs to ask for
// (Fetch's CORS-safelisted request headers).
var safelisted = map[string]bool{"Accept": true, "Accept-Language": true, "Content-Language": true, "Content-Type": true, "Range": true}

func compileCORS(policy string, c *config.CORS) (*corsPolicy, []keyMsg) {
	var ms []keyMsg
	p := &corsPolicy{policy: policy, origins: map[string]bool{}, credentials: c.AllowCredentials}
	if len(c.AllowOrigins) == 0 {
		ms = append(ms, keyMsg{"allow_origins", "list the origins allowed (scheme://host[:port]), or \"*\""})
	}
	for i, o := range c.AllowOrigins {
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		if msg := originProblem(o); msg != "" {
			ms = append(ms, keyMsg{fmt.Sprintf("allow_origins[%d]", i), msg})
			continue
		}
		p.origins[strings.ToLower(o)] = true
	}
	if p.anyOrigin && p.credentials {
		// Browsers refuse "*" with credentials, and echoing any origin
		// with credentials would let every site act as the user.
		ms = append(ms, keyMsg{"allow_credentials", `cannot be combined with allow_origins "*"; list the origins`})
	}
	for i, h := range c.AllowHeaders {
		if !translate.ValidHeaderName(h) {
			ms = append(ms, keyMsg{fmt.Sprintf("allow_headers[%d]", i), fmt.Sprintf("%q is not a header name", h)})
			continue
		}
		p.headers = append(p.headers, canonical(h))
	}
	p.headersText = strings.Join(p.headers, ", ")
	for i, h := range c.ExposeHeaders {
		if !translate.ValidHeaderName(h) {
			ms = append(ms, keyMsg{fmt.Sprintf("expose_headers[%d]", i), fmt.Sprintf("%q is not a header name", h)})
		}
	}
	p.expose = strings.Join(c.ExposeHeaders, ", ")
	p.maxAge = strconv.Itoa(int(c.MaxAge.D(DefaultCORSMaxAge) / time.Second))
	return p, ms
}

// originProblem says why o is not an origin (RFC 6454 serialization).
func originProblem(o string) string {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return fmt.Sprintf("%q is not an origin: want scheme://host[:port] with no path", o)
	}
	return ""
}

func (c *corsPolicy) allows(origin string) bool {
	return c.anyOrigin || c.origins[strings.ToLower(origin)]
}

func (c *corsPolicy) allowOrigin(h http.Header, origin string) {
	if c.anyOrigin && !c.credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

func originRefused(origin string) *translate.Error {
	return translate.Errorf(codes.PermissionDenied, "origin %s is not allowed to call this route", strconv.Quote(truncateOrigin(origin)))
}

func truncateOrigin(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// actual marks the response to a cross-origin request from an allowed
// origin; a request from another origin is refused, with no CORS headers.
func (c *corsPolicy) actual(w http.ResponseWriter, r *http.Request) error {
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		return nil
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if len(origins) > 1 || !c.allows(origins[0]) {
		return originRefused(origins[0])
	}
	c.allowOrigin(h, origins[0])
	if c.expose != "" {
		h.Set("Access-Control-Expose-Headers", c.expose)
	}
	return nil
}

// preflight answers an OPTIONS preflight: the path's methods, the
// configured headers, credentials and how long a browser may cache it.
func (c *corsPolicy) preflight(w http.ResponseWriter, r *http.Request, methods []string) (reason string, err error) {
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	origins := r.Header.Values("Origin")
	if len(origins) != 1 || !c.allows(origins[0]) {
		return "origin_not_allowed", originRefused(strings.Join(origins, ", "))
	}
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(line, ",") {
			name = canonical(strings.TrimSpace(name))
			if name == "" || safelisted[name] || slices.Contains(c.headers, name) {
				continue
			}
			return "header_not_allowed", translate.Errorf(codes.PermissionDenied, "header %s is not allowed in cross-origin requests to this route", strconv.Quote(truncateOrigin(name)))
		}
	}
	c.allowOrigin(h, origins[0])
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if c.headersText != "" {
		h.Set("Access-Control-Allow-Headers", c.headersText)
	}
	h.Set("Access-Control-Max-Age", c.maxAge)
	return "", nil
}

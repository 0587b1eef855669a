package routes

import (
	"net/http"
	"time"
)

// Param is one path variable bound by a match: the field path it fills
// (dotted, e.g. "book.name") and its value, already percent-decoded as the
// HttpRule spec says (a multi-segment variable keeps %2F encoded).
type Param struct {
	FieldPath string
	Value     string
}

// Params are the path variables of one match, in template order.
type Params []Param

// Get returns the value bound to fieldPath.
func (ps Params) Get(fieldPath string) (string, bool) {
	for _, p := range ps {
		if p.FieldPath == fieldPath {
			return p.Value, true
		}
	}
	return "", false
}

// Target serves requests matched to a route. Protocol packages implement it;
// everything route-specific (descriptors, bindings, backend) is resolved into
// the Target when the table is built, so serving only reads it.
type Target interface {
	ServeRoute(w http.ResponseWriter, r *http.Request, params Params)
	// Backend names the backend the target calls, for logs and metrics.
	Backend() string
	// Describe says what the route calls, e.g. "grpc /library.v1.LibraryService/GetBook".
	Describe() string
}

// Route is one HTTP method and path template bound to a target.
type Route struct {
	// Method is the HTTP method, upper case (GET, POST, ... or a custom one).
	Method string
	// Pattern is the template as written.
	Pattern  string
	Template *Template
	// Source says who declared the route, for conflict errors and listings:
	// "library.v1.LibraryService.GetBook" or "gateway.yaml:42".
	Source string
	// Origin is what declared the route as a unit: a descriptor set
	// ("set library") or the config file. Routes of one origin may overlap
	// (precedence decides); a new origin's may not take requests from
	// another's (see Shadowing).
	Origin string
	Target Target
	// Policy says which policies the route's chain holds beside the
	// global one; the gateway resolves it when it builds the table.
	Policy PolicyRef
}

// PolicyRef names a route's policies: its service's (from the config's
// service entry) and its own (a config route's policy:, or else the
// switchboard.v1.policy option of its method).
type PolicyRef struct {
	Service string
	// Route is a config route's policy: it replaces the schema's, and
	// "none" drops the service's.
	Route string
	// Schema, Scopes and RateLimit come from the method's option. The
	// config wins where both speak: a schema cannot drop the service
	// policy the config gives.
	Schema    string
	Scopes    []string
	RateLimit *RateSpec
}

// RateSpec is a rate limit a schema declares: Burst at once, then Rate
// per Per, keyed by Key (client_ip, subject, api_key, header:NAME).
type RateSpec struct {
	Rate  float64
	Per   time.Duration
	Burst int64
	Key   string
}

// IsZero reports a route with no policy of its own or its service's.
func (p PolicyRef) IsZero() bool {
	return p.Service == "" && p.Route == "" && p.Schema == "" && len(p.Scopes) == 0 && p.RateLimit == nil
}

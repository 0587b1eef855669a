package policy

import (
	"net/http"
	"sync/atomic"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Shed answers 503 with Retry-After, at once, to requests beyond max in
// flight across the gateway, so that a flood costs a refusal rather than
// memory, goroutines and file descriptors; 0 is no limit. Shed requests
// never reach a backend.
func Shed(max int64, next http.Handler) http.Handler {
	if max <= 0 {
		return next
	}
	var inflight atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inflight.Add(1) > max {
			inflight.Add(-1)
			w.Header().Set("Retry-After", "1")
			translate.Fail(w, r, translate.Errorf(codes.Unavailable,
				"the gateway is serving its limit of %d requests at once (limits.max_inflight_requests); retry shortly", max), nil)
			return
		}
		defer inflight.Add(-1)
		next.ServeHTTP(w, r)
	})
}

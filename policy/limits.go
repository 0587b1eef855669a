package policy

import (
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// Limits rejects requests whose body is too large before any route work is
// done, and caps the body of the
// rest so a handler reading it gets *http.MaxBytesError at maxBody.
//
// A request with both Content-Length and Transfer-Encoding cannot be refused
// here: net/http deletes the Content-Length header before a handler runs.
func Limits(maxBody int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Content-Length")) > 1 {
			translate.Fail(w, r, translate.Errorf(codes.InvalidArgument, "request has several Content-Length headers"), nil)
			return
		}
		if maxBody > 0 {
			if r.ContentLength > maxBody {
				// Say no before reading: the client learns at once and the
				// connection is closed rather than drained.
				w.Header().Set("Connection", "close")
				translate.Fail(w, r, translate.Refuse(translate.ReasonBodyTooLarge,
					"request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, maxBody), nil)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

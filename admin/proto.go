package admin

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/gorilla/mux"
	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/translate"
)

// proto answers GET /admin/descriptors/{name}/proto: the set's files as
// .proto source, for people (the dashboard shows it).
func (a *api) proto(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	set, ok := a.reg.State().Schemas.Set(name)
	if !ok {
		fail(w, r, translate.Errorf(codes.NotFound, "no descriptor set %q", truncate(name)))
		return
	}
	var b bytes.Buffer
	if err := set.PrintProto(&b); err != nil {
		fail(w, r, &translate.Error{Code: codes.Internal, Message: "cannot print the set as .proto source", Cause: errors.Unwrap(err)})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b.Bytes())
}

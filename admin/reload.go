package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate"
)

// reloader is a registry that reloads its config (the gateway does).
type reloader interface {
	Reload(ctx context.Context) (*gateway.ReloadResult, error)
}

// reload answers POST /admin/reload: the config file is read again and
// swapped in, or refused with every problem and nothing changed.
func (a *api) reload(w http.ResponseWriter, r *http.Request) {
	rl, ok := a.reg.(reloader)
	if !ok {
		fail(w, r, translate.Errorf(codes.Unimplemented, "this gateway does not reload its config"))
		return
	}
	// Building backends and compiling schemas may take a while, but not
	// forever, whatever the client does.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
	defer cancel()
	res, err := rl.Reload(ctx)
	if err != nil {
		if errors.Is(err, gateway.ErrReloadRefused) {
			// 422: the request was fine; the config on disk is not.
			fail(w, r, translate.Declared(http.StatusUnprocessableEntity, err.Error()))
			return
		}
		fail(w, r, translate.Errorf(codes.Internal, "reload: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

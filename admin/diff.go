package admin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
	"github.com/switchboard-gw/switchboard/gateway"
	"github.com/switchboard-gw/switchboard/translate"
)

// checkingRegistry is a Registry that diffs an upload against the version
// it replaces (gateway.Gateway does).
type checkingRegistry interface {
	RegisterWith(name, backend string, fds *descriptorpb.FileDescriptorSet, opts gateway.RegisterOptions) (*descriptors.Set, []diff.Change, error)
}

// registerSet registers through RegisterWith where the registry has it; a
// registry without it registers as it always did and reports no changes.
func (a *api) registerSet(name, backend string, fds *descriptorpb.FileDescriptorSet, allowBreaking bool) (*descriptors.Set, []diff.Change, error) {
	if c, ok := a.reg.(checkingRegistry); ok {
		return c.RegisterWith(name, backend, fds, gateway.RegisterOptions{AllowBreaking: allowBreaking})
	}
	set, err := a.reg.Register(name, backend, fds)
	return set, nil, err
}

// registered is the answer to an upload: the set, and how it differs from
// the version it replaced, breaking changes (allowed) first.
type registered struct {
	SetInfo
	Changes []diff.Change `json:"changes"`
}

func newRegistered(si SetInfo, changes []diff.Change) registered {
	return registered{SetInfo: si, Changes: orEmpty(diff.BreakingFirst(changes))}
}

func orEmpty(cs []diff.Change) []diff.Change {
	if cs == nil {
		return []diff.Change{}
	}
	return cs
}

// allowBreaking reads ?allow_breaking=. Only "true" and "false", once:
// the flag overrides a safety check, so "yes", "1", "TRUE", an empty value
// or two values that disagree are refused rather than guessed at.
func allowBreaking(q url.Values) (bool, *translate.Error) {
	vs, ok := q["allow_breaking"]
	switch {
	case !ok:
		return false, nil
	case len(vs) != 1:
		return false, translate.BadRequest(fmt.Sprintf("query parameter allow_breaking is given %d times; give it once", len(vs)),
			translate.Violation("allow_breaking", "repeated"))
	case vs[0] == "true":
		return true, nil
	case vs[0] == "false":
		return false, nil
	}
	return false, translate.BadRequest(fmt.Sprintf("query parameter allow_breaking must be true or false, not %q", truncate(vs[0])),
		translate.Violation("allow_breaking", "must be true or false"))
}

// maxViolations bounds the details of a refusal; the message counts all.
const maxViolations = 1000

// registerError is schemaError, but a refusal for breaking changes also
// lists them as a google.rpc.PreconditionFailure, one violation each, for
// tools to act on.
func registerError(err error, name string) *translate.Error {
	var be *gateway.BreakingError
	if !errors.As(err, &be) {
		return schemaError(err, name)
	}
	// 409 like every conflict; ABORTED is the code an admin 409 carries
	// (translate.CodeForHTTPStatus).
	e := translate.Errorf(codes.Aborted, "%v", err)
	pf := &errdetails.PreconditionFailure{}
	for i, c := range be.Changes {
		if i == maxViolations {
			break
		}
		// Names and paths come from the upload: keep the detail packable.
		pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{Type: "BREAKING_CHANGE",
			Subject: strings.ToValidUTF8(c.Path, "\uFFFD"), Description: strings.ToValidUTF8(c.Message, "\uFFFD")})
	}
	return e.WithDetails(pf)
}

// diffAnswer is the body of GET /admin/descriptors/{name}/diff.
type diffAnswer struct {
	Name string `json:"name"`
	// From is null when to is the oldest version held: everything in it
	// is reported as added.
	From     *int          `json:"from"`
	To       int           `json:"to"`
	Breaking int           `json:"breaking"`
	Changes  []diff.Change `json:"changes"`
}

// diffVersions answers GET /admin/descriptors/{name}/diff?from=N&to=M:
// the changes between two versions the set's history holds, by default
// from the one before the current to the current. from may be newer than
// to: that shows what a rollback would change.
func (a *api) diffVersions(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	history := a.reg.State().Schemas.History(name)
	if len(history) == 0 {
		fail(w, r, translate.Errorf(codes.NotFound, "no descriptor set %q", name))
		return
	}
	q := r.URL.Query()
	from, hasFrom, e := versionParam(q, "from")
	if e != nil {
		fail(w, r, e)
		return
	}
	to, hasTo, e := versionParam(q, "to")
	if e != nil {
		fail(w, r, e)
		return
	}
	find := func(v int) (int, bool) {
		for i, s := range history {
			if s.Version == v {
				return i, true
			}
		}
		return 0, false
	}
	var missing []string
	toIdx := len(history) - 1
	if hasTo {
		i, ok := find(to)
		if !ok {
			missing = append(missing, fmt.Sprintf("to=%d", to))
		}
		toIdx = i
	}
	fromIdx := toIdx - 1
	if hasFrom {
		i, ok := find(from)
		if !ok {
			missing = append(missing, fmt.Sprintf("from=%d", from))
		}
		fromIdx = i
	}
	if len(missing) > 0 {
		held := make([]string, len(history))
		for i, s := range history {
			held[i] = strconv.Itoa(s.Version)
		}
		fail(w, r, translate.Errorf(codes.NotFound, "descriptor set %q holds versions %s (the last %d are kept); no version %s",
			name, strings.Join(held, ", "), descriptors.HistoryLimit, strings.Join(missing, ", ")))
		return
	}
	ans := diffAnswer{Name: name, To: history[toIdx].Version}
	var old *descriptors.Set
	if fromIdx >= 0 {
		old = history[fromIdx]
		v := old.Version
		ans.From = &v
	}
	changes := diff.Sets(old, history[toIdx])
	ans.Breaking = len(diff.Breaking(changes))
	ans.Changes = orEmpty(diff.BreakingFirst(changes))
	writeJSON(w, http.StatusOK, ans)
}

// versionParam reads a version number from the query: absent, or once, a
// positive decimal integer.
func versionParam(q url.Values, key string) (int, bool, *translate.Error) {
	vs, ok := q[key]
	if !ok {
		return 0, false, nil
	}
	if len(vs) != 1 {
		return 0, false, translate.BadRequest(fmt.Sprintf("query parameter %s is given %d times; give it once", key, len(vs)),
			translate.Violation(key, "repeated"))
	}
	n, err := strconv.Atoi(vs[0])
	// Digits only: Atoi would take "+1", and a version is never signed.
	if err != nil || n < 1 || strings.TrimLeft(vs[0], "0123456789") != "" {
		return 0, false, translate.BadRequest(fmt.Sprintf("query parameter %s must be a version number (1, 2, ...), not %q", key, truncate(vs[0])),
			translate.Violation(key, "not a positive integer"))
	}
	return n, true, nil
}

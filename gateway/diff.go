package gateway

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/descriptors/diff"
)

// RegisterOptions adjust RegisterWith.
type RegisterOptions struct {
	// AllowBreaking registers a set even when it breaks clients of the
	// version it replaces; the changes are still returned and logged.
	AllowBreaking bool
}

// maxChangesListed bounds the changes an error message or log line lists: the
// full list is in BreakingError.Changes.
const maxChangesListed = 20

// BreakingError refuses a registration whose set breaks clients of the
// version it would replace. It wraps ErrConflict.
type BreakingError struct {
	Set     string        // the set's name
	Version int           // the version it would have replaced
	Changes []diff.Change // the breaking changes, sorted by path
}

func (e *BreakingError) Error() string {
	return fmt.Sprintf("%v: the upload of set %q breaks clients of version %d with %d %s: %s "+
		"(register with allow_breaking=true to accept them)",
		ErrConflict, e.Set, e.Version, len(e.Changes), changeWord(len(e.Changes)), diff.Join(e.Changes, maxChangesListed))
}

func (e *BreakingError) Unwrap() error { return ErrConflict }

func changeWord(n int) string {
	if n == 1 {
		return "breaking change"
	}
	return "breaking changes"
}

// checkBreaking diffs the set being registered against the version it
// replaces (cur, nil for none) and refuses breaking changes unless opts
// allow them. A first version has no clients to break.
func checkBreaking(cur, next *descriptors.Set, opts RegisterOptions) ([]diff.Change, error) {
	changes := diff.Sets(cur, next)
	if b := diff.Breaking(changes); len(b) > 0 && !opts.AllowBreaking && cur != nil {
		return nil, &BreakingError{Set: next.Name, Version: cur.Version, Changes: b}
	}
	return changes, nil
}

package descriptors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// HistoryLimit is how many versions of one set a Snapshot keeps, current
// included. Older versions are dropped: a rollback goes back at most
// HistoryLimit-1 steps, and memory stays bounded however often a backend's
// schema is re-fetched.
const HistoryLimit = 10

var (
	// ErrUnknownSet is returned (wrapped, with the name) when a snapshot has
	// no set of that name.
	ErrUnknownSet = errors.New("unknown schema set")
	// ErrNoPrevious is returned (wrapped, with the name) by RolledBack when
	// the set has no earlier version left to go back to.
	ErrNoPrevious = errors.New("no previous version")
)

// Snapshot is an immutable view of all registered schema sets: the current
// version of each name plus a bounded history. Every change returns a new
// Snapshot and leaves the receiver as it was, so readers (requests in
// flight, route tables built from it) can hold one without locks while the
// admin API publishes the next, typically through an atomic.Pointer.
//
// The zero value is an empty snapshot at generation 0, like NewSnapshot's.
type Snapshot struct {
	gen uint64
	// history maps a name to its versions, oldest first, current last;
	// never empty for a present name. Slices are never appended to in
	// place once a snapshot holds them.
	history map[string][]*Set
	// lastVersion remembers the highest version handed out per name, even
	// after Without or RolledBack, so a version number never means two
	// different schemas in one line of snapshots.
	lastVersion map[string]int
}

// NewSnapshot returns an empty snapshot at generation 0.
func NewSnapshot() *Snapshot {
	return &Snapshot{history: map[string][]*Set{}, lastVersion: map[string]int{}}
}

// Generation increments on every change, so caches keyed on a snapshot (a
// compiled route table, say) can tell whether they are stale.
func (s *Snapshot) Generation() uint64 { return s.gen }

// Sets returns the current version of each set, sorted by name.
func (s *Snapshot) Sets() []*Set {
	names := slices.Sorted(maps.Keys(s.history))
	out := make([]*Set, 0, len(names))
	for _, n := range names {
		h := s.history[n]
		out = append(out, h[len(h)-1])
	}
	return out
}

// Set returns the current version of the named set.
func (s *Snapshot) Set(name string) (*Set, bool) {
	h, ok := s.history[name]
	if !ok {
		return nil, false
	}
	return h[len(h)-1], true
}

// History returns the kept versions of the named set, oldest first, current
// last, or nil if the name is unknown. The slice is a copy.
func (s *Snapshot) History(name string) []*Set {
	return slices.Clone(s.history[name])
}

// With returns a snapshot in which set is the current version of set.Name,
// replacing (and keeping as history) any earlier version. The snapshot
// stores a copy of set whose Version is one more than the last version
// handed out for that name; set itself is not modified. A nil set is a
// programming error and panics.
func (s *Snapshot) With(set *Set) *Snapshot {
	if set == nil {
		panic("descriptors: Snapshot.With(nil)")
	}
	next := s.clone()
	cp := *set
	cp.Version = s.lastVersion[set.Name] + 1
	next.lastVersion[set.Name] = cp.Version

	old := s.history[set.Name]
	start := max(0, len(old)+1-HistoryLimit)
	h := make([]*Set, 0, len(old)-start+1)
	h = append(h, old[start:]...)
	h = append(h, &cp)
	next.history[set.Name] = h
	return next
}

// Without returns a snapshot without the named set and its history. It fails
// with ErrUnknownSet if there is no such set.
func (s *Snapshot) Without(name string) (*Snapshot, error) {
	if _, ok := s.history[name]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSet, name)
	}
	next := s.clone()
	delete(next.history, name)
	return next, nil
}

// RolledBack returns a snapshot in which the previous version of the named
// set is current again and the current version is dropped. It fails with
// ErrUnknownSet or ErrNoPrevious. The restored set keeps its old Version;
// the next With still gets a fresh number.
func (s *Snapshot) RolledBack(name string) (*Snapshot, error) {
	h, ok := s.history[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownSet, name)
	}
	if len(h) < 2 {
		return nil, fmt.Errorf("roll back %q (version %d): %w", name, h[0].Version, ErrNoPrevious)
	}
	next := s.clone()
	// Clip so that a later With cannot append into s's backing array.
	next.history[name] = slices.Clip(h[:len(h)-1])
	return next, nil
}

// clone copies the maps (not the sets or history slices, which are never
// modified) and bumps the generation.
func (s *Snapshot) clone() *Snapshot {
	next := &Snapshot{
		gen:         s.gen + 1,
		history:     maps.Clone(s.history),
		lastVersion: maps.Clone(s.lastVersion),
	}
	if next.history == nil {
		next.history = map[string][]*Set{}
	}
	if next.lastVersion == nil {
		next.lastVersion = map[string]int{}
	}
	return next
}

// Carried returns s with the set name of from, its history and its
// version numbering, as from holds them: a config reload builds a new
// snapshot from the files and carries the uploaded sets over whole, so
// that their rollbacks and version numbers survive it.
func (s *Snapshot) Carried(from *Snapshot, name string) *Snapshot {
	h, ok := from.history[name]
	if !ok {
		return s
	}
	next := s.clone()
	next.history[name] = h // never appended to in place
	next.lastVersion[name] = from.lastVersion[name]
	return next
}

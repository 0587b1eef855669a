package descriptors

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
)

// testSet builds a distinct small set; content differs per tag so digests
// differ.
func testSet(t *testing.T, name, tag string) *Set {
	t.Helper()
	s, err := NewSet(name, "backend-"+name, Source{Kind: SourceUpload}, set(file(name+".proto", nil, msg("M"+tag))))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// view renders what a snapshot holds: generation, then each name with its
// history of version:message.
func view(s *Snapshot) string {
	out := fmt.Sprintf("gen=%d", s.Generation())
	for _, cur := range s.Sets() {
		out += " " + cur.Name + "["
		for i, h := range s.History(cur.Name) {
			if i > 0 {
				out += ","
			}
			out += fmt.Sprintf("%d:%s", h.Version, h.FDS.GetFile()[0].GetMessageType()[0].GetName())
		}
		out += "]"
	}
	return out
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	type step struct {
		op      string // with, without, rollback
		name    string
		tag     string
		wantErr error
		want    string // view after the step (of the unchanged snapshot on error)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "register and replace", steps: []step{
			{op: "with", name: "b", tag: "1", want: "gen=1 b[1:M1]"},
			{op: "with", name: "a", tag: "1", want: "gen=2 a[1:M1] b[1:M1]"},
			{op: "with", name: "b", tag: "2", want: "gen=3 a[1:M1] b[1:M1,2:M2]"},
			{op: "with", name: "b", tag: "2", want: "gen=4 a[1:M1] b[1:M1,2:M2,3:M2]"},
		}},
		{name: "without", steps: []step{
			{op: "with", name: "a", tag: "1", want: "gen=1 a[1:M1]"},
			{op: "with", name: "b", tag: "1", want: "gen=2 a[1:M1] b[1:M1]"},
			{op: "without", name: "a", want: "gen=3 b[1:M1]"},
			{op: "without", name: "a", wantErr: ErrUnknownSet, want: "gen=3 b[1:M1]"},
			// Versions are not reused after removal.
			{op: "with", name: "a", tag: "9", want: "gen=4 a[2:M9] b[1:M1]"},
		}},
		{name: "roll back", steps: []step{
			{op: "rollback", name: "a", wantErr: ErrUnknownSet, want: "gen=0"},
			{op: "with", name: "a", tag: "1", want: "gen=1 a[1:M1]"},
			{op: "rollback", name: "a", wantErr: ErrNoPrevious, want: "gen=1 a[1:M1]"},
			{op: "with", name: "a", tag: "2", want: "gen=2 a[1:M1,2:M2]"},
			{op: "with", name: "a", tag: "3", want: "gen=3 a[1:M1,2:M2,3:M3]"},
			{op: "rollback", name: "a", want: "gen=4 a[1:M1,2:M2]"},
			{op: "rollback", name: "a", want: "gen=5 a[1:M1]"},
			{op: "rollback", name: "a", wantErr: ErrNoPrevious, want: "gen=5 a[1:M1]"},
			// A rolled-back version number is never handed out again.
			{op: "with", name: "a", tag: "4", want: "gen=6 a[1:M1,4:M4]"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := NewSnapshot()
			for i, st := range tt.steps {
				var next *Snapshot
				var err error
				switch st.op {
				case "with":
					next = snap.With(testSet(t, st.name, st.tag))
				case "without":
					next, err = snap.Without(st.name)
				case "rollback":
					next, err = snap.RolledBack(st.name)
				}
				if st.wantErr != nil {
					if !errors.Is(err, st.wantErr) || next != nil {
						t.Fatalf("step %d %s %s: %v, %v; want %v", i, st.op, st.name, next, err, st.wantErr)
					}
					next = snap
				} else if err != nil {
					t.Fatalf("step %d %s %s: %v", i, st.op, st.name, err)
				}
				if got := view(next); got != st.want {
					t.Fatalf("step %d %s %s: %s, want %s", i, st.op, st.name, got, st.want)
				}
				snap = next
			}
		})
	}
}

func TestSnapshotErrorsNameTheSet(t *testing.T) {
	t.Parallel()
	snap := NewSnapshot().With(testSet(t, "lib", "1"))
	if _, err := snap.Without("nope"); err == nil || err.Error() != `unknown schema set "nope"` {
		t.Errorf("Without: %v", err)
	}
	if _, err := snap.RolledBack("nope"); err == nil || err.Error() != `unknown schema set "nope"` {
		t.Errorf("RolledBack unknown: %v", err)
	}
	if _, err := snap.RolledBack("lib"); err == nil || err.Error() != `roll back "lib" (version 1): no previous version` {
		t.Errorf("RolledBack: %v", err)
	}
}

// TestSnapshotImmutable keeps old snapshots and the caller's Set and checks
// that no later change shows through them.
func TestSnapshotImmutable(t *testing.T) {
	t.Parallel()
	given := testSet(t, "a", "1")
	s0 := NewSnapshot()
	s1 := s0.With(given)
	if given.Version != 0 {
		t.Errorf("With changed the caller's Set: Version=%d", given.Version)
	}
	held, _ := s1.Set("a")
	if held == given {
		t.Error("snapshot holds the caller's *Set, not a copy")
	}
	before1 := view(s1)
	hist1 := s1.History("a")

	s2 := s1.With(testSet(t, "a", "2"))
	s3, err := s2.RolledBack("a")
	if err != nil {
		t.Fatal(err)
	}
	// Appending after a rollback must not write into s2's history array.
	s4 := s3.With(testSet(t, "a", "3"))
	s5, err := s4.Without("a")
	if err != nil {
		t.Fatal(err)
	}
	s6 := s5.With(testSet(t, "b", "1"))

	checks := []struct {
		snap *Snapshot
		want string
	}{
		{s0, "gen=0"},
		{s1, before1},
		{s2, "gen=2 a[1:M1,2:M2]"},
		{s3, "gen=3 a[1:M1]"},
		{s4, "gen=4 a[1:M1,3:M3]"},
		{s5, "gen=5"},
		{s6, "gen=6 b[1:M1]"},
	}
	for i, c := range checks {
		if got := view(c.snap); got != c.want {
			t.Errorf("s%d = %s, want %s", i, got, c.want)
		}
	}
	if got, _ := s1.Set("a"); got != held || got.Version != 1 {
		t.Error("s1's set changed")
	}
	// History returns a copy.
	hist1[0] = nil
	if s1.History("a")[0] == nil {
		t.Error("History exposes the snapshot's slice")
	}
	if _, ok := s5.Set("a"); ok {
		t.Error("s5 still has a")
	}
	if len(s0.Sets()) != 0 || s0.History("a") != nil {
		t.Error("the empty snapshot changed")
	}
}

func TestSnapshotHistoryBound(t *testing.T) {
	t.Parallel()
	snap := NewSnapshot()
	const n = HistoryLimit + 5
	for i := 1; i <= n; i++ {
		snap = snap.With(testSet(t, "a", fmt.Sprint(i)))
	}
	h := snap.History("a")
	if len(h) != HistoryLimit {
		t.Fatalf("history has %d versions, want %d", len(h), HistoryLimit)
	}
	var versions []int
	for _, s := range h {
		versions = append(versions, s.Version)
	}
	want := make([]int, 0, HistoryLimit)
	for v := n - HistoryLimit + 1; v <= n; v++ {
		want = append(want, v)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("versions %v, want %v", versions, want)
	}
	if snap.Generation() != n {
		t.Errorf("generation %d, want %d", snap.Generation(), n)
	}
	// Rolling back walks the kept history and stops at its start.
	for i := 0; i < HistoryLimit-1; i++ {
		var err error
		if snap, err = snap.RolledBack("a"); err != nil {
			t.Fatalf("rollback %d: %v", i, err)
		}
	}
	if cur, _ := snap.Set("a"); cur.Version != n-HistoryLimit+1 {
		t.Errorf("after rollbacks current is v%d", cur.Version)
	}
	if _, err := snap.RolledBack("a"); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("rollback past the bound: %v", err)
	}
}

// TestSnapshotDigests checks that digests identify content: the same schema
// registered twice has one digest, different schemas have different ones,
// and a snapshot's copy keeps the digest of the set it was given.
func TestSnapshotDigests(t *testing.T) {
	t.Parallel()
	a1 := testSet(t, "a", "1")
	a1again := testSet(t, "a", "1")
	a2 := testSet(t, "a", "2")
	snap := NewSnapshot().With(a1).With(a1again).With(a2)
	h := snap.History("a")
	if h[0].Digest != a1.Digest || h[1].Digest != a1again.Digest || h[2].Digest != a2.Digest {
		t.Error("snapshot copies changed digests")
	}
	if a1.Digest != a1again.Digest {
		t.Errorf("same content, different digests: %s %s", a1.Digest, a1again.Digest)
	}
	if a1.Digest == a2.Digest {
		t.Error("different content, same digest")
	}
	// The digest is of content only: name, backend and source do not count.
	other, err := NewSet("other", "x", Source{Kind: SourceFile, Ref: "x.pb"}, proto.CloneOf(a1.FDS))
	if err != nil {
		t.Fatal(err)
	}
	if other.Digest != a1.Digest {
		t.Error("digest depends on the set's name")
	}
	// The zero Snapshot behaves like NewSnapshot.
	var zero Snapshot
	if got := view(zero.With(a1)); got != "gen=1 a[1:M1]" {
		t.Errorf("zero snapshot: %s", got)
	}
}

package descriptors

import (
	"os"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzParseSet feeds arbitrary bytes through everything an upload reaches:
// ParseSet, NewSet, and the set's read side. None of it may panic; the
// admin API hands this path bytes from the network. The seed corpus in
// testdata/fuzz/FuzzParseSet holds the golden library set (rewritten by
// -update); the seeds below add small shapes.
func FuzzParseSet(f *testing.F) {
	if b, err := os.ReadFile(goldenPath); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})                                      // one empty file
	f.Add([]byte{0x0a, 0x07, 0x0a, 0x05, 'a', '.', 'p', 'r', 'o'}) // truncated name
	f.Add(marshalDet(f, set(file("a.proto", []string{"b.proto"}, msg("A", msgField("b", ".t.B"))), file("b.proto", nil, msg("B")))))
	f.Add(marshalDet(f, set(file("a.proto", []string{"google/rpc/status.proto"}))))
	f.Fuzz(func(t *testing.T, b []byte) {
		fds, err := ParseSet(b)
		if err != nil {
			return
		}
		s, err := NewSet("fuzz", "backend", Source{Kind: SourceUpload}, fds)
		if err != nil {
			return
		}
		snap := NewSnapshot().With(s)
		if cur, ok := snap.Set("fuzz"); !ok || cur.Digest != s.Digest {
			t.Fatal("snapshot lost the set")
		}
		for _, svc := range s.Services() {
			methods := svc.Methods()
			for i := range methods.Len() {
				m := methods.Get(i)
				HTTPRule(m)
				_, _ = s.Types.FindMessageByName(m.Input().FullName())
			}
		}
		s.MethodsWithHTTPRules()
		s.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			msgs := fd.Messages()
			for i := range msgs.Len() {
				mt, err := s.Types.FindMessageByName(msgs.Get(i).FullName())
				if err != nil {
					t.Fatalf("message %s of the set does not resolve: %v", msgs.Get(i).FullName(), err)
				}
				mt.New()
			}
			return true
		})
	})
}

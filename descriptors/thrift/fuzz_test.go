package thrift

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// fuzzFS gives fuzzed roots something to include: a file with one of
// everything, and one that includes it back (a cycle when the root is
// included by name).
func fuzzFS() fstest.MapFS {
	return fstest.MapFS{
		"shared.thrift": {Data: []byte(`
			namespace * shared
			typedef i64 Id
			enum Level { LOW = 1, HIGH = 0x2, NEG = -3 }
			const Level DEFAULT_LEVEL = Level.LOW
			const list<string> NAMES = ["a", "b"]
			struct Thing { 1: required Id id, 2: optional Level level = HIGH, 3: list<Thing> children }
			exception Oops { 1: string why }
			service Base { Thing get(1: Id id) throws (1: Oops oops) }
		`)},
		"loop.thrift": {Data: []byte(`include "fuzz.thrift"`)},
	}
}

// FuzzParse feeds arbitrary bytes to Parse. It must never panic or hang,
// must report failures as a non-empty Errors with positions, and whatever it
// accepts must be a fully resolved model (checkModel).
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"struct S { 1: i32 a }",
		`include "shared.thrift" service S extends shared.Base { shared.Thing f(1: shared.Id id) }`,
		`include "loop.thrift"`,
		"const map<string, list<i32>> X = {\"a\": [1, 2; 3]}",
		"enum E { A = -1, B, C = 0x10 } const E X = E.B",
		"typedef A B\ntypedef B A",
		"/** doc */ struct S { i32 implicit (a = \"b\", flag) } (x)",
	} {
		f.Add([]byte(seed))
	}
	// Past the nesting limits, which must be errors, not stack overflows.
	f.Add([]byte("const list<i32> X = " + strings.Repeat("[", maxDepth+1)))
	f.Add([]byte("struct S { 1: " + strings.Repeat("map<i32, ", maxDepth+1) + "i32" + strings.Repeat(">", maxDepth+1) + " m }"))
	files := fuzzFS()
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("fuzz.thrift", src, Options{FS: files})
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range list {
				if e.Pos.File == "" || e.Pos.Line <= 0 || e.Pos.Column <= 0 || e.Msg == "" {
					t.Fatalf("error without a position or message: %q", e.Error())
				}
			}
			return
		}
		checkModel(t, p)
	})
}

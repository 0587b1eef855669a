package thrift

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

const corpusDir = "testdata/corpus"

// corpusIncludeDirs are the -I directories the projects' own builds pass
// for files under a corpus directory (keyed by its slash path prefix).
func corpusIncludeDirs() []struct {
	prefix string
	dirs   []string
} {
	return []struct {
		prefix string
		dirs   []string
	}{
		{"apache-thrift/lib/rs/test_recursive/src/", []string{
			"apache-thrift/lib/rs/test_recursive/src",
			"apache-thrift/lib/rs/test_recursive/src/transit",
			"apache-thrift/lib/rs/test_recursive/src/transit/light",
			"apache-thrift/lib/rs/test_recursive/src/transit/services",
		}},
		{"hive/", []string{"hive/include"}},
	}
}

func corpusOptions(rel string) Options {
	var opts Options
	for _, c := range corpusIncludeDirs() {
		if strings.HasPrefix(rel, c.prefix) {
			for _, d := range c.dirs {
				opts.IncludeDirs = append(opts.IncludeDirs, filepath.Join(corpusDir, filepath.FromSlash(d)))
			}
		}
	}
	return opts
}

func corpusFiles(t testing.TB) []string {
	var files []string
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".thrift") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCorpus parses every real-world IDL file under testdata/corpus (see
// SOURCES.md there) as a root: each must parse and resolve without error.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < 30 {
		t.Fatalf("corpus has %d files, want 30 or more", len(files))
	}
	for _, path := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(path, corpusDir+string(filepath.Separator)))
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			p, err := ParseFile(path, corpusOptions(rel))
			if err != nil {
				t.Fatalf("ParseFile:\n%v", err)
			}
			checkModel(t, p)
		})
	}
}

// TestCorpusFacts checks a few facts of well-known files, so that a parser
// that accepts everything but builds the wrong model fails too.
func TestCorpusFacts(t *testing.T) {
	t.Parallel()
	parse := func(t *testing.T, rel string) *Program {
		t.Helper()
		p, err := ParseFile(filepath.Join(corpusDir, filepath.FromSlash(rel)), corpusOptions(rel))
		if err != nil {
			t.Fatalf("ParseFile(%s): %v", rel, err)
		}
		return p
	}
	t.Run("tutorial", func(t *testing.T) {
		t.Parallel()
		p := parse(t, "apache-thrift/tutorial/tutorial.thrift")
		calc := p.Service("Calculator")
		if calc == nil || calc.Extends != p.Service("shared.SharedService") || calc.Extends == nil {
			t.Fatalf("Calculator does not extend shared.SharedService")
		}
		if calc.Function("getStruct") == nil || calc.Function("getStruct").Service.Name != "SharedService" {
			t.Errorf("inherited getStruct not found")
		}
		zip := calc.Function("zip")
		if zip == nil || !zip.Oneway || zip.Returns.Kind != KindVoid {
			t.Errorf("zip is not a oneway void function")
		}
		calcFn := calc.Function("calculate")
		if len(calcFn.Throws) != 1 || calcFn.Throws[0].Type.Struct.Name != "InvalidOperation" {
			t.Errorf("calculate throws %v", calcFn.Throws)
		}
		op := p.Root.Structs["Work"].FieldByName("op")
		if op.Type.Kind != KindEnum || op.Type.Enum.ByName("DIVIDE").Value != 4 {
			t.Errorf("Work.op is not the Operation enum with DIVIDE = 4")
		}
		num1 := p.Root.Structs["Work"].FieldByID(1)
		if num1.Default == nil || num1.Default.Int != 0 || num1.Type.Kind != KindI32 {
			t.Errorf("Work.num1 = %+v", num1)
		}
		myint := p.Root.Typedefs["MyInteger"]
		if myint.Type.Kind != KindI32 {
			t.Errorf("MyInteger stands for %v", myint.Type.Kind)
		}
		if m := p.Root.Consts["MAPCONSTANT"]; m == nil || len(m.Value.Map) != 2 {
			t.Errorf("MAPCONSTANT = %+v", m)
		}
	})
	t.Run("ThriftTest", func(t *testing.T) {
		t.Parallel()
		p := parse(t, "apache-thrift/test/ThriftTest.thrift")
		svc := p.Service("ThriftTest")
		if svc == nil || len(svc.Functions) < 20 {
			t.Fatalf("ThriftTest service missing or short")
		}
		if fn := svc.Function("testMultiException"); fn == nil || len(fn.Throws) != 2 {
			t.Errorf("testMultiException throws %v", fn)
		}
		numberz := p.Root.Enums["Numberz"]
		if numberz.ByName("EIGHT").Value != 8 || numberz.ByName("SIX").Value != 6 {
			t.Errorf("Numberz values wrong")
		}
		if s := p.Root.Typedefs["UserId"]; s.Type.Kind != KindI64 {
			t.Errorf("UserId = %v", s.Type.Kind)
		}
	})
	t.Run("hive", func(t *testing.T) {
		t.Parallel()
		p := parse(t, "hive/hive_metastore.thrift")
		hms := p.Service("ThriftHiveMetastore")
		if hms == nil || hms.Extends == nil || hms.Extends.FullName() != "fb303.FacebookService" {
			t.Fatalf("ThriftHiveMetastore does not extend fb303.FacebookService")
		}
		if hms.Function("getStatus") == nil {
			t.Errorf("inherited fb303 getStatus not found")
		}
		if len(p.Files) != 2 || p.Files[1].Prefix != "fb303" {
			t.Errorf("files = %d", len(p.Files))
		}
	})
	t.Run("jaeger agent", func(t *testing.T) {
		t.Parallel()
		p := parse(t, "jaeger-idl/agent.thrift")
		agent := p.Service("Agent")
		fn := agent.Function("emitBatch")
		if fn == nil || !fn.Oneway || fn.Args[0].Type.Struct.FullName() != "jaeger.Batch" {
			t.Fatalf("Agent.emitBatch wrong: %+v", fn)
		}
	})
	t.Run("parquet", func(t *testing.T) {
		t.Parallel()
		p := parse(t, "parquet/parquet.thrift")
		lt := p.Root.Structs["LogicalType"]
		if lt == nil || lt.Kind != StructKindUnion {
			t.Fatalf("LogicalType is not a union")
		}
		for _, f := range lt.Fields {
			if f.Required != Optional {
				t.Errorf("union member %s is %v, want optional", f.Name, f.Required)
			}
		}
	})
}

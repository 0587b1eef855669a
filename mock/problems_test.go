package mock_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboard-gw/switchboard/descriptors"
	idl "github.com/switchboard-gw/switchboard/descriptors/thrift"
	"github.com/switchboard-gw/switchboard/mock"
	"github.com/switchboard-gw/switchboard/mock/grpcmock"
	"github.com/switchboard-gw/switchboard/mock/natsmock"
	"github.com/switchboard-gw/switchboard/mock/thriftmock"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/problems")

// TestProblemsAtOnce loads stub files with many mistakes the way the
// `switchboard mock` commands do, the loader and then the protocol mock,
// and expects every problem in one error, in file order, one
// "file:line: key: problem" per line.
func TestProblemsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	compile := func(t *testing.T, file string) *descriptors.Set {
		t.Helper()
		fds, err := descriptors.Compile(ctx, []string{file}, []string{"../testdata/proto"})
		if err != nil {
			t.Fatal(err)
		}
		set, err := descriptors.NewSet(filepath.Base(file), "", descriptors.Source{Kind: descriptors.SourceProto, Ref: file}, fds)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	grpcLoader := func(proto string) func(t *testing.T, path string) error {
		return func(t *testing.T, path string) error {
			set := compile(t, proto)
			st, err := mock.LoadStubs(path)
			if st == nil {
				return err
			}
			_, nerr := grpcmock.New(set.Files, set.Types, st, nil)
			return mock.JoinProblems(err, nerr)
		}
	}
	thrift := func(t *testing.T, path string) error {
		prog, err := idl.ParseFile("../testdata/thrift/calculator.thrift", idl.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := mock.LoadStubs(path)
		if st == nil {
			return err
		}
		_, nerr := thriftmock.New(prog, "Calculator", st, thriftmock.Options{}, nil)
		return mock.JoinProblems(err, nerr)
	}
	tests := []struct {
		name string
		load func(t *testing.T, path string) error
	}{
		{"library", grpcLoader("library/v1/library.proto")},
		// Streaming methods' keys, and the mocks that have none.
		{"ticker", grpcLoader("stream/v1/stream.proto")},
		{"calculator", thrift},
		{"calculator-streaming", thrift},
		{"orders-streaming", func(t *testing.T, path string) error {
			st, err := natsmock.LoadStubs(path)
			if st == nil {
				return err
			}
			return mock.JoinProblems(err, natsmock.Check(st, nil))
		}},
		{"orders", func(t *testing.T, path string) error {
			set := compile(t, "shop/v1/shop.proto")
			find := func(name string) protoreflect.MessageDescriptor {
				d, err := set.Files.FindDescriptorByName(protoreflect.FullName(name))
				if err != nil {
					t.Fatal(err)
				}
				return d.(protoreflect.MessageDescriptor)
			}
			types := natsmock.TypesForSubject{"orders.typed.status": {
				Request: find("shop.v1.Order"), Reply: find("shop.v1.OrderStatus"), Resolver: set.Types}}
			st, err := natsmock.LoadStubs(path)
			if st == nil {
				return err
			}
			return mock.JoinProblems(err, natsmock.Check(st, types))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "problems", tt.name+".yaml")
			err := tt.load(t, path)
			if err == nil {
				t.Fatal("no problems found")
			}
			if _, ok := err.(mock.Problems); !ok {
				t.Errorf("error is %T, not mock.Problems", err)
			}
			got := err.Error() + "\n"
			golden := filepath.Join("testdata", "problems", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("problems:\n%s\nwant (%s):\n%s", got, golden, want)
			}
			// Every line is file:line: ..., in file order.
			prev := 0
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				rest, ok := strings.CutPrefix(line, path+":")
				if !ok {
					t.Errorf("line %q does not start with %s:", line, path)
					continue
				}
				n := 0
				for _, c := range rest {
					if c < '0' || c > '9' {
						break
					}
					n = n*10 + int(c-'0')
				}
				if n < prev {
					t.Errorf("line %q is out of file order", line)
				}
				prev = n
			}
		})
	}
}

// TestProblemsBounded: a file with more problems than MaxProblems lists
// that many and counts the rest.
func TestProblemsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("stubs:\n")
	for range mock.MaxProblems + 5 {
		b.WriteString("  - method: nodots\n")
	}
	_, err := mock.ParseStubs([]byte(b.String()), "many.yaml")
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != mock.MaxProblems+1 {
		t.Fatalf("%d lines, want %d", len(lines), mock.MaxProblems+1)
	}
	if lines[0] != `many.yaml:2: stubs[0].method: method "nodots": want package.Service/Method` {
		t.Errorf("first line %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != "and 5 more problems" {
		t.Errorf("last line %q", last)
	}
	if n := len(err.(mock.Problems)); n != mock.MaxProblems+5 {
		t.Errorf("Problems holds %d, want all %d", n, mock.MaxProblems+5)
	}
}

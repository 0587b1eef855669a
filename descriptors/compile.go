package descriptors

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// SourceError is one problem found in a .proto source file. File is the
// name relative to the import path it was found in (the name the file has in
// the descriptor set), as protoc reports it.
type SourceError struct {
	File      string
	Line, Col int // 1-based; 0 when the problem has no position
	Message   string
}

// Error formats the problem as `path/file.proto:LINE:COL: message`, or
// `path/file.proto: message` when there is no position.
func (e SourceError) Error() string {
	if e.Line <= 0 || e.Col <= 0 {
		return e.File + ": " + e.Message
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
}

// CompileError is every problem one Compile found, sorted by file, line and
// column. Its message is one problem per line, so an operator sees them all
// at once instead of fixing one per round trip.
type CompileError struct {
	Errors []SourceError
}

func (e *CompileError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, se := range e.Errors {
		lines[i] = se.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach the individual SourceErrors.
func (e *CompileError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, se := range e.Errors {
		out[i] = se
	}
	return out
}

// errReported marks a file whose problems have already been collected, so
// the compiler's own (positionless, or duplicate) failure for it and for
// everything importing it is not reported again.
var errReported = errors.New("problems already reported")

// Compile compiles .proto sources into a FileDescriptorSet that includes
// every import in dependency order (like protoc --include_imports
// --include_source_info -o), ready for NewSet and for being written out and
// uploaded again.
//
// files are names relative to one of importPaths ("library/v1/library.proto"
// with import path "testdata/proto"); a path that instead lies under an
// import path on disk ("testdata/proto/library/v1/library.proto") is mapped
// to its relative name the way protoc does. With no import paths the current
// directory is the import path.
//
// Imports resolve from importPaths first, then from the built-in
// google/protobuf, google/api and google/rpc files linked into the binary, so
// users need not ship googleapis sources. All problems are collected and
// returned together as a *CompileError.
func Compile(ctx context.Context, files []string, importPaths []string) (*descriptorpb.FileDescriptorSet, error) {
	if len(files) == 0 {
		return nil, errors.New("descriptors: compile: no files given")
	}
	if len(importPaths) == 0 {
		importPaths = []string{"."}
	}
	c := &compilation{
		importPaths: importPaths,
		parsed:      map[string]parser.Result{},
		failed:      map[string]bool{},
	}
	var names []string
	for _, f := range files {
		if n := c.virtualName(f); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}

	// Pass 1: parse every reachable user file and check that each import
	// resolves. protocompile returns a missing import only as the failure of
	// the importing file, without passing it to the reporter, and Compile
	// returns just reporter.ErrInvalidSource once anything at all was
	// reported, so a missing import in one file is lost whenever another
	// file has an error. Finding them here keeps every problem.
	c.parseAll(names)

	// Pass 2: link, interpret options, validate. The resolver hands back the
	// parse results of pass 1 and refuses files that already failed.
	comp := protocompile.Compiler{
		Resolver:       protocompile.ResolverFunc(c.resolve),
		Reporter:       reporter.NewReporter(c.reportError, nil),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := comp.Compile(ctx, names...)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("descriptors: compile: %w", ctxErr)
	}
	if err != nil && !errors.Is(err, reporter.ErrInvalidSource) && !errors.Is(err, errReported) {
		c.add(err)
	}
	if errs := c.sortedErrors(); len(errs) > 0 {
		return nil, &CompileError{Errors: errs}
	}
	if err != nil {
		// Cannot happen: every failure path above records a problem.
		return nil, fmt.Errorf("descriptors: compile: %w", err)
	}
	// protocompile leaves option extensions (google.api.http among them) as
	// dynamicpb messages inside the generated options structs, and
	// proto.GetExtension on those panics; canonical re-decodes them into
	// the generated types, the same shape ReadSetFile returns.
	fds, err := canonical(setOf(linked))
	if err != nil {
		return nil, fmt.Errorf("descriptors: compile: %w", err)
	}
	return fds, nil
}

// compilation is the state of one Compile call.
type compilation struct {
	importPaths []string

	mu     sync.Mutex
	parsed map[string]parser.Result // user files that parsed cleanly
	failed map[string]bool          // user files with problems, or missing
	errs   []SourceError
}

// virtualName maps a file argument to its name relative to an import path.
func (c *compilation) virtualName(file string) string {
	clean := filepath.Clean(file)
	for _, ip := range c.importPaths {
		if _, err := os.Stat(filepath.Join(ip, clean)); err == nil {
			return filepath.ToSlash(clean)
		}
	}
	absFile, err := filepath.Abs(clean)
	if err != nil {
		return filepath.ToSlash(clean)
	}
	for _, ip := range c.importPaths {
		absIP, err := filepath.Abs(ip)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(absIP, absFile)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		if _, err := os.Stat(absFile); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(clean)
}

// open finds name in the import paths. It returns an error wrapping
// fs.ErrNotExist when no import path has it.
func (c *compilation) open(name string) (io.ReadCloser, error) {
	for _, ip := range c.importPaths {
		f, err := os.Open(filepath.Join(ip, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return f, err
	}
	return nil, fs.ErrNotExist
}

// exists reports whether name resolves, from the import paths or the
// built-ins.
func (c *compilation) exists(name string) bool {
	for _, ip := range c.importPaths {
		if _, err := os.Stat(filepath.Join(ip, filepath.FromSlash(name))); err == nil {
			return true
		}
	}
	_, ok := builtinFile(name)
	return ok
}

func (c *compilation) parseAll(names []string) {
	seen := map[string]bool{}
	queue := slices.Clone(names)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		r, err := c.open(name)
		if errors.Is(err, fs.ErrNotExist) {
			if _, ok := builtinFile(name); ok {
				continue // linked in; nothing to parse
			}
			// Only a file named on the command line gets here: imports
			// are checked before they are queued.
			c.failed[name] = true
			c.addf(name, "file not found in import paths %s", strings.Join(c.importPaths, ", "))
			continue
		}
		if err != nil {
			c.failed[name] = true
			c.addf(name, "%v", err)
			continue
		}
		h := reporter.NewHandler(reporter.NewReporter(c.reportError, nil))
		file, err := parser.Parse(name, r, h)
		_ = r.Close()
		var res parser.Result
		if err == nil {
			res, err = parser.ResultFromAST(file, true, h)
		}
		if err != nil {
			c.failed[name] = true
			if !errors.Is(err, reporter.ErrInvalidSource) {
				c.add(err) // e.g. a read error; positional ones were reported
			}
			continue
		}
		c.parsed[name] = res
		for _, dep := range res.FileDescriptorProto().GetDependency() {
			if c.exists(dep) {
				queue = append(queue, dep)
				continue
			}
			c.failed[dep] = true
			c.add(reporter.Error(importSpan(res, dep), fmt.Errorf("import %q not found", dep)))
		}
	}
}

// importSpan locates the import statement for dep in res.
func importSpan(res parser.Result, dep string) ast.SourceSpan {
	root := res.AST()
	if root != nil {
		for _, decl := range root.Decls {
			if imp, ok := decl.(*ast.ImportNode); ok && imp.Name.AsString() == dep {
				return root.NodeInfo(imp.Name)
			}
		}
	}
	return ast.UnknownSpan(res.FileDescriptorProto().GetName())
}

// resolve is the protocompile resolver for pass 2.
func (c *compilation) resolve(name string) (protocompile.SearchResult, error) {
	c.mu.Lock()
	res, ok := c.parsed[name]
	failed := c.failed[name]
	c.mu.Unlock()
	switch {
	case ok:
		return protocompile.SearchResult{ParseResult: res}, nil
	case failed:
		return protocompile.SearchResult{}, errReported
	}
	if fd, ok := builtinFile(name); ok {
		return protocompile.SearchResult{Desc: fd}, nil
	}
	return protocompile.SearchResult{}, fmt.Errorf("%w: %s: file not found", errReported, name)
}

// reportError collects a problem and tells protocompile to go on looking
// for more.
func (c *compilation) reportError(err reporter.ErrorWithPos) error {
	c.add(err)
	return nil
}

func (c *compilation) add(err error) {
	var se SourceError
	var ewp reporter.ErrorWithPos
	if errors.As(err, &ewp) {
		pos := ewp.GetPosition()
		se = SourceError{File: pos.Filename, Line: pos.Line, Col: pos.Col, Message: ewp.Unwrap().Error()}
	} else {
		se = SourceError{File: "<compile>", Message: err.Error()}
	}
	c.mu.Lock()
	c.errs = append(c.errs, se)
	c.mu.Unlock()
}

func (c *compilation) addf(file, format string, args ...any) {
	c.mu.Lock()
	c.errs = append(c.errs, SourceError{File: file, Message: fmt.Sprintf(format, args...)})
	c.mu.Unlock()
}

// sortedErrors returns the problems sorted and without repeats (a file
// imported twice may be reported twice).
func (c *compilation) sortedErrors() []SourceError {
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := slices.Clone(c.errs)
	slices.SortFunc(errs, func(a, b SourceError) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(errs)
}

// setOf flattens compiled files and all their imports into a
// FileDescriptorSet in dependency order (every file after its imports),
// explicit files in the order given.
func setOf(files linker.Files) *descriptorpb.FileDescriptorSet {
	fds := new(descriptorpb.FileDescriptorSet)
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		fds.File = append(fds.File, fileProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	return fds
}

// fileProto returns the descriptor proto of fd: the compiler's own (with
// source info and interpreted options) when fd was compiled from source, or
// one converted from the linked-in descriptor for a built-in.
func fileProto(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	if res, ok := fd.(linker.Result); ok {
		return proto.CloneOf(res.FileDescriptorProto())
	}
	if u, ok := fd.(interface {
		Unwrap() protoreflect.FileDescriptor
	}); ok {
		return fileProto(u.Unwrap())
	}
	return protodesc.ToFileDescriptorProto(fd)
}

package thrift

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Options control how include statements are found.
type Options struct {
	// IncludeDirs are searched, in order, after the including file's own
	// directory, like the Apache compiler's -I flags.
	IncludeDirs []string
	// FS, when set, is where every file is read from, with slash-separated
	// paths as io/fs requires; nil means the operating system's files.
	FS fs.FS
}

// maxIncludeDepth bounds chains of includes, which are followed recursively.
const maxIncludeDepth = 100

// ParseFile parses the IDL file at path and every file it includes, resolves
// the whole set and returns it as a Program. Every problem found is returned
// at once as an Errors; warnings (deprecated syntax, implicit field ids) do
// not fail the call and are in Program.Warnings.
func ParseFile(path string, opts Options) (*Program, error) {
	l := newLoader(opts)
	src, err := l.read(path)
	if err != nil {
		return nil, Errors{{Pos: Pos{File: path}, Msg: "cannot read file: " + errorText(err)}}
	}
	return l.run(path, src)
}

// Parse is ParseFile for a root file held in memory: name is its path (used
// in positions, and its directory is where its includes are looked for
// first); the files it includes are read through opts.
func Parse(name string, src []byte, opts Options) (*Program, error) {
	return newLoader(opts).run(name, src)
}

// loader reads a root file and, depth first, the files it includes, each
// file once however often it is included.
type loader struct {
	opts    Options
	d       *diag
	byKey   map[string]*File
	files   []*File
	loading map[*File]bool // files on the current include chain
	chain   []*File
}

func newLoader(opts Options) *loader {
	return &loader{opts: opts, d: &diag{}, byKey: map[string]*File{}, loading: map[*File]bool{}}
}

func (l *loader) run(name string, src []byte) (*Program, error) {
	root := l.load(name, l.key(name), src)
	if l.d.fatal == 0 {
		resolve(l.files, l.d)
	}
	if len(l.d.errs) > 0 {
		return nil, sortErrors(l.d.errs)
	}
	return &Program{Root: root, Files: l.files, Warnings: l.d.warnings}, nil
}

// load parses one file and the files it includes.
func (l *loader) load(name, key string, src []byte) *File {
	f, includes := parseFile(name, src, l.d)
	l.byKey[key] = f
	l.files = append(l.files, f)
	l.loading[f] = true
	l.chain = append(l.chain, f)
	defer func() {
		delete(l.loading, f)
		l.chain = l.chain[:len(l.chain)-1]
	}()
	for _, inc := range includes {
		found, key, src, searched := l.find(l.dir(name), inc.path)
		if found == "" {
			l.d.fatalf(inc.pos, "cannot find include %q (searched %s)", inc.path, strings.Join(searched, ", "))
			continue
		}
		g := l.byKey[key]
		switch {
		case g != nil && l.loading[g]:
			var names []string
			for i := len(l.chain) - 1; i >= 0; i-- {
				names = append(names, l.chain[i].Path)
				if l.chain[i] == g {
					break
				}
			}
			for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
				names[i], names[j] = names[j], names[i]
			}
			l.d.fatalf(inc.pos, "include cycle: %s -> %s", strings.Join(names, " -> "), g.Path)
			continue
		case g == nil && len(l.chain) >= maxIncludeDepth:
			l.d.fatalf(inc.pos, "includes nested more than %d deep", maxIncludeDepth)
			continue
		case g == nil:
			g = l.load(found, key, src)
		}
		if !containsFile(f.Includes, g) {
			f.Includes = append(f.Includes, g)
		}
	}
	return f
}

func containsFile(fs []*File, f *File) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// find looks for an included file in dir, then in the include directories.
// It returns the path it was found at, its identity key and contents, or ""
// and the directories searched.
func (l *loader) find(dir, inc string) (found, key string, src []byte, searched []string) {
	var candidates []string
	if l.isAbs(inc) {
		candidates = []string{inc}
		searched = []string{"/"}
	} else {
		seen := map[string]bool{}
		for _, d := range append([]string{dir}, l.opts.IncludeDirs...) {
			if c := l.join(d, inc); !seen[c] {
				seen[c] = true
				candidates = append(candidates, c)
				searched = append(searched, d)
			}
		}
	}
	for _, c := range candidates {
		if l.byKey[l.key(c)] != nil {
			return c, l.key(c), nil, nil // already loaded (maybe the root, from memory)
		}
		if src, err := l.read(c); err == nil {
			return c, l.key(c), src, nil
		}
	}
	return "", "", nil, searched
}

// read reads a file from opts.FS or the operating system.
func (l *loader) read(name string) ([]byte, error) {
	if l.opts.FS == nil {
		return os.ReadFile(name)
	}
	p := strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/")
	if !fs.ValidPath(p) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fs.ReadFile(l.opts.FS, p)
}

// key identifies a file, so that one included twice (by different relative
// paths) is parsed once and include cycles are seen.
func (l *loader) key(name string) string {
	if l.opts.FS != nil {
		return strings.TrimPrefix(path.Clean(filepath.ToSlash(name)), "/")
	}
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return filepath.Clean(name)
}

func (l *loader) dir(name string) string {
	if l.opts.FS != nil {
		return path.Dir(filepath.ToSlash(name))
	}
	return filepath.Dir(name)
}

func (l *loader) join(dir, name string) string {
	if l.opts.FS != nil {
		return path.Join(filepath.ToSlash(dir), name)
	}
	return filepath.Join(dir, filepath.FromSlash(name))
}

func (l *loader) isAbs(name string) bool {
	if l.opts.FS != nil {
		return strings.HasPrefix(name, "/")
	}
	return filepath.IsAbs(name)
}

// errorText shortens an fs error to its cause: the path is already in the
// message's position.
func errorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}

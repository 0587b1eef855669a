package mock

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-gw/switchboard/config"
)

// Problem is one mistake in a stub file, or in stubs built in Go (which
// have no File), with a Key such as stubs[2].error.code: the config's
// problem type, so both print alike.
type Problem = config.Problem

// MaxProblems is how many problems Problems.Error lists before it sums up
// the rest in a last line, "and N more problems".
const MaxProblems = 100

// Problems are every mistake found in a stub file, in file order. Loaders
// and the protocol mocks' New functions return them as their error, so a
// user fixes a file in one go rather than one mistake per run.
type Problems []Problem

// Error is one problem per line, at most MaxProblems of them.
func (ps Problems) Error() string {
	n := min(len(ps), MaxProblems)
	lines := make([]string, 0, n+1)
	for _, p := range ps[:n] {
		lines = append(lines, p.String())
	}
	if rest := len(ps) - n; rest > 0 {
		lines = append(lines, fmt.Sprintf("and %d more problems", rest))
	}
	return strings.Join(lines, "\n")
}

// JoinProblems merges the errors of loading a stub file and of building a
// mock from it into one Problems in file order; an error that is not
// Problems becomes a problem of its own. It is nil when all errs are.
//
// A stub loader (LoadStubs, ParseStubs, natsmock.LoadStubs) that reports
// Problems still returns the stubs that had none, so that the protocol
// mock can check those too and the user sees every problem at once:
//
//	st, err := mock.LoadStubs(path)
//	if st == nil {
//		return err // unreadable, or not YAML
//	}
//	srv, nerr := grpcmock.New(files, types, st, log)
//	if err := mock.JoinProblems(err, nerr); err != nil { ... }
func JoinProblems(errs ...error) error {
	var ps Problems
	for _, err := range errs {
		if err == nil {
			continue
		}
		var more Problems
		if errors.As(err, &more) {
			ps = append(ps, more...)
		} else {
			ps = append(ps, Problem{Msg: err.Error()})
		}
	}
	ps = ps.normalise()
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// normalise sorts problems into file order (files in order of first
// mention, lines within a file) and drops exact repeats, which merge keys
// produce: a mistake in an anchor is found once for every stub that uses
// it.
func (ps Problems) normalise() Problems {
	fileRank := map[string]int{}
	for _, p := range ps {
		if _, ok := fileRank[p.File]; !ok {
			fileRank[p.File] = len(fileRank)
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if fi, fj := fileRank[ps[i].File], fileRank[ps[j].File]; fi != fj {
			return fi < fj
		}
		return ps[i].Line < ps[j].Line
	})
	seen := map[Problem]bool{}
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// keyError is an error about one key of a stub: a dotted path such as
// "response.title", "match.w.op" or "error.details.0", which Stub.Problems
// turns into a line and a key. line, when set, is the exact line (the
// decoder knows it; checks on stubs built in Go do not).
type keyError struct {
	key  string
	line int
	err  error
	soft bool // the key was left out and the stub is whole without it
}

func (e *keyError) Error() string { return e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// At says that err is about key of a stub, a dotted path from the stub's
// top ("method", "response.items.0", "error.fields.why"). Protocol mocks
// wrap their findings with it so that Stub.Problems can point at the line
// to edit. At composes: At("error", At("code", err)) is about error.code.
// errors.Join of several errors is kept, each at key.
func At(key string, err error) error {
	if err == nil {
		return nil
	}
	var ke *keyError
	if errors.As(err, &ke) && ke == err {
		return &keyError{key: joinKey(key, ke.key), line: ke.line, err: ke.err, soft: ke.soft}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, At(key, e))
		}
		return errors.Join(out...)
	}
	return &keyError{key: key, err: err}
}

func atLine(key string, line int, err error) error {
	return &keyError{key: key, line: line, err: err}
}

func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// Problems turns what a check found wrong with the stub (one error, or
// several joined with errors.Join, each perhaps wrapped with At) into
// problems that name the stub's file, the line of the key concerned, and
// the key as stubs[i].some.key. i is the stub's index in the list the
// check was given; a stub read from a file is named by its index in the
// file instead, which differs when stubs with problems were left out.
func (s *Stub) Problems(i int, err error) Problems {
	if s.file != "" && i >= 0 {
		i = s.index
	}
	return keyedProblems(s.file, s.line, s.Line, "stubs", i, err)
}

// keyedProblems is Stub.Problems for any entry of a stub file's lists
// (stubs, faults): file and line are the entry's, lineOf finds a key's
// line, and list[i] prefixes the keys (no prefix when i < 0).
func keyedProblems(file string, line int, lineOf func(key string) int, list string, i int, err error) Problems {
	var ps Problems
	var walk func(err error)
	walk = func(err error) {
		if err == nil {
			return
		}
		var ke *keyError
		if errors.As(err, &ke) && ke == err {
			if j, ok := ke.err.(interface{ Unwrap() []error }); ok {
				walk(At(ke.key, errors.Join(j.Unwrap()...)))
				return
			}
		} else if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		p := Problem{File: file, Line: line, Key: displayKeyIn(list, i, ""), Msg: err.Error()}
		if errors.As(err, &ke) {
			p.Key = displayKeyIn(list, i, ke.key)
			p.Line = ke.line
			if p.Line == 0 {
				p.Line = lineOf(ke.key)
			}
		}
		if file == "" {
			p.Line = 0 // a line without a file means nothing
		}
		ps = append(ps, p)
	}
	walk(err)
	return ps
}

// displayKeyIn spells a key of entry i of list the way configuration
// errors do: stubs[3].error.details[0].reason. Match keys are request
// paths, shown as written.
func displayKeyIn(list string, i int, key string) string {
	var b strings.Builder
	if i >= 0 {
		fmt.Fprintf(&b, "%s[%d]", list, i)
	}
	if key == "" {
		return b.String()
	}
	segs := strings.Split(key, ".")
	for j, seg := range segs {
		if j == 1 && segs[0] == "match" {
			b.WriteString("." + strings.Join(segs[1:], "."))
			break
		}
		if _, err := strconv.Atoi(seg); err == nil && j > 0 {
			b.WriteString("[" + seg + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// Line is the line of key in the stub's file: a dotted path such as
// "response", "match.w.op", "error.fields.why" or "response.items.0", or
// the line of the nearest enclosing key that has one; the stub's own line
// when none has. It is 0 for a stub built in Go.
func (s *Stub) Line(key string) int {
	for k := key; k != ""; {
		if l, ok := s.pos[k]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return s.line
}

package thrift

import (
	"fmt"
	"sort"
	"strings"
)

// String renders the position as "file:line:column", dropping the parts
// that are unknown, so messages read like a compiler's.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Column)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
}

// Error is one problem found in an IDL file, syntactic or semantic.
type Error struct {
	Pos Pos
	Msg string
}

// Error renders "file.thrift:12:5: message".
func (e *Error) Error() string {
	if p := e.Pos.String(); p != "" {
		return p + ": " + e.Msg
	}
	return e.Msg
}

// Errors is every problem found in one Parse or ParseFile call. The parser
// does not stop at the first one: a person fixing an IDL file wants the whole
// list, so the errors are collected and reported together, sorted by file,
// line and column. Get it back from a returned error with errors.As into a
// variable of type Errors.
type Errors []*Error

// Error renders one error a line, in order.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders errors by file, line and column, keeping the order in
// which they were found among equals, and drops exact duplicates (the same
// problem reached twice, e.g. through a diamond of includes).
func sortErrors(es Errors) Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && *e == *es[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// maxErrors and maxWarnings bound how many errors and warnings one call
// collects, so that a garbage input (or a fuzzer) cannot make the report
// itself the problem. Warnings get more room: an old file without field ids
// earns one for each field.
const (
	maxErrors   = 200
	maxWarnings = 1000
)

// diag collects the errors and warnings of one Parse or ParseFile call.
type diag struct {
	errs     Errors
	warnings []string
	// fatal counts the errors after which the model is not worth checking:
	// syntax errors (the parser skipped part of a file) and includes that
	// could not be read. Resolution runs only when there are none, so that
	// one typo does not also report every name it made undefined.
	fatal int
}

// fatalf records an error that stops the run before resolution.
func (d *diag) fatalf(pos Pos, format string, args ...any) {
	d.fatal++
	d.errorf(pos, format, args...)
}

func (d *diag) errorf(pos Pos, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		if len(d.errs) == maxErrors {
			d.errs = append(d.errs, &Error{Pos: pos, Msg: "too many errors"})
		}
		return
	}
	d.errs = append(d.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (d *diag) warnf(pos Pos, format string, args ...any) {
	if len(d.warnings) >= maxWarnings {
		if len(d.warnings) == maxWarnings {
			d.warnings = append(d.warnings, (&Error{Pos: pos, Msg: "too many warnings"}).Error())
		}
		return
	}
	d.warnings = append(d.warnings, (&Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}).Error())
}

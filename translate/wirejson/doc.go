// Package wirejson transcodes between JSON and the protobuf wire format
// directly, with no intermediate message: a plan compiled once per message
// type (Compiler) knows each field's tag, kind and JSON names, so a request
// body is written as wire bytes while it is read, and a reply's wire bytes
// are rendered as JSON while they are read, in protojson's exact form.
//
// It is the fast path of translate/binding, not a replacement for the
// reference path (dynamicpb and protojson), which stays the definition of
// what is right: an error from this package means only that the fast path
// does not take the input (bad input, or a rare case it leaves alone, such
// as an integer written 1e3 or an Any of a type the resolver does not know),
// and the caller then runs the reference path, which accepts or
// rejects the input with its full report. The differential fuzz targets hold
// the two paths to the same answers.
package wirejson

// Package thrift parses Thrift IDL at run time: a hand-written lexer and
// recursive-descent parser for the whole language, and a resolver that links
// includes, typedefs, constants and service inheritance into one Program and
// reports every semantic error with file:line:column, all at once. The
// dynamic codec in translate/thrift and the mock consume the resolved model.
//
// ParseFile reads a root file and its includes from disk or from an fs.FS;
// Parse takes the root from memory. Both return either a fully resolved
// Program or an Errors listing every problem, sorted by position. Nothing
// partial is returned: a model with an unresolved name or a typedef cycle
// would make every consumer defend against it.
//
// The grammar is the Apache Thrift IDL reference's, as the Apache compiler
// (0.25) accepts it, plus older syntax still found in real files: senum,
// slist, async, the xsd_* options, cpp_type and the per-language
// namespace statements (php_namespace and the like). Deprecated forms parse
// with a warning in Program.Warnings. Where the reference and the compiler
// differ, the compiler wins, because that is what generated the servers the
// gateway talks to:
//
//   - A field without an id (or with a non-positive one) gets -1, -2, …
//     counted per field list, with ImplicitID set.
//   - Union members are Optional; "optional" on arguments and "required" in
//     throws clauses are ignored.
//   - A bare annotation (flag) has the value "1".
//   - true and false are also accepted where integers are, and 0 and 1
//     where a bool is.
//   - In a slot of enum type, a name is matched against that enum by its
//     last part, so Other.VALUE or prefix.VALUE mean the enum's VALUE (with
//     a warning when the qualifier is not the enum's).
//   - "{}" is an empty set or list, "[]" an empty map or struct.
//   - Types and constants of another file are reached only through a
//     direct include, by the file's base name: "shared.Type".
//
// A backslash escape other than \n \r \t \" \' \\ is kept as written, with
// a warning, where the Apache compiler fails: regular expressions in
// annotations are common and other Thrift tools pass them through.
//
// Parsing guards itself against hostile input: nesting of types, values
// and includes is limited to 100 levels, and the number of errors reported
// to 200.
package thrift

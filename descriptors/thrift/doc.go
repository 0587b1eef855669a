// Package thrift parses Thrift IDL at run time: a hand-written lexer and
// recursive-descent parser for the whole language, and a resolver that links
// includes, typedefs, constants and service inheritance into one Program and
// reports every semantic error with file:line:column, all at once. The
// dynamic codec in translate/thrift and the mock consume the resolved model.
package thrift

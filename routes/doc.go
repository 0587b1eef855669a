// Package routes owns HTTP path templates (the google.api.http grammar:
// literals, *, **, {field.path=pattern} and a trailing :verb), matching a
// request against an immutable route table, and reporting conflicting routes
// when a table is built. It does not know protocols: a route's Target does the
// work, and the table only finds it.
package routes

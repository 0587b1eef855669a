// Package gateway wires the parts together: it turns a config.Config into
// backends, schema snapshots and a route table, serves requests from an
// immutable State swapped atomically when schemas change, and runs the HTTP
// and admin listeners with graceful shutdown. It owns no protocol and no
// policy logic of its own.
package gateway

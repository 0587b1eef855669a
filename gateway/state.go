package gateway

import (
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/routes"
)

// State is everything a request reads: the schemas and the route table built
// from them. It is never modified; a schema change builds a new State and
// swaps it in, and a request in flight finishes on the one it started with.
type State struct {
	Schemas *descriptors.Snapshot
	Table   *routes.Table
}

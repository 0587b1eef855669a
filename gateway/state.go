package gateway

import (
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/descriptors"
	"github.com/switchboard-gw/switchboard/policy"
	"github.com/switchboard-gw/switchboard/routes"
	"github.com/switchboard-gw/switchboard/translate/protocol"
)

// State is everything a request reads: the schemas and the route table built
// from them. It is never modified; a schema change builds a new State and
// swaps it in, and a request in flight finishes on the one it started with.
type State struct {
	Schemas *descriptors.Snapshot
	Table   *routes.Table
	// rt is the config the table was built from, with its backends and
	// policies: a reload swaps all of them with the table, at once.
	rt *runtime
}

// runtime is what a config makes beside the route table: its backends
// (shared with the next runtime when their settings did not change) and
// its compiled policies.
type runtime struct {
	cfg      *config.Config
	backends map[string]*protocol.Backend
	// broken are backends that could not be built; their routes are
	// skipped, the backend's problem already said why.
	broken   map[string]bool
	policies *policy.Engine
	// keep, once the runtime is retired, holds the backends the next one
	// took over: closing it must leave them open.
	keep map[string]*protocol.Backend
	// keepPolicies, once retired: the next runtime took the policies over.
	keepPolicies bool
	// restartNeeded names backends whose changed settings this runtime
	// could not apply (an embedded server's).
	restartNeeded []string
}

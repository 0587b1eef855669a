// Package builtin is the registry of the protocols Switchboard ships. A
// new protocol is one package implementing protocol.Protocol and one line
// here.
package builtin

import (
	"github.com/switchboard-gw/switchboard/translate/grpc"
	"github.com/switchboard-gw/switchboard/translate/nats"
	"github.com/switchboard-gw/switchboard/translate/protocol"
	"github.com/switchboard-gw/switchboard/translate/thrift"
)

// Protocols are gRPC, Thrift and NATS, in the order messages list them.
func Protocols() protocol.Registry {
	return protocol.Registry{
		grpc.Protocol{},
		thrift.Protocol{},
		nats.Protocol{},
	}
}

// Package translate owns what every backend protocol shares: the Backend
// contract that protocol packages implement, the one error model that maps
// gRPC codes, Thrift exceptions and NATS failures to HTTP, and the JSON error
// body every failure is written with.
//
// Protocol packages (translate/grpc, ...) report facts; retry, breaker and
// status decisions live here and in translate/resilience, never in them.
package translate

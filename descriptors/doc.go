// Package descriptors owns the schemas the gateway transcodes with, held as
// values rather than in process-wide registries: protobuf schema sets
// (FileDescriptorSets loaded from a file, compiled from .proto sources, or
// fetched from a backend's reflection service), the linked [Set] built from
// each, and immutable [Snapshot]s that group the current and previous
// versions of every set. Schemas are registered while the gateway runs and may
// be replaced or rolled back at any time, so nothing here ever touches
// protoregistry.GlobalFiles or GlobalTypes except to read the built-in
// google/protobuf, google/api and google/rpc files linked into the binary;
// a request in flight keeps the snapshot it started with while a new one is
// published. The Thrift IDL parser will live here too.
package descriptors

// Package openapi describes a gateway's routes as an OpenAPI 3.1 document,
// built from its current State, so that it follows every schema change:
// the admin listener serves it at /openapi.json and /openapi.yaml, and
// `switchboard openapi` writes it without serving.
//
// Protocols describe their own routes (translate.Documented, with the
// JSON Schema model of openapi/jsonschema); this package turns templates
// into OpenAPI paths, adds the error answers every route shares and those
// its policies add, names operations, and gathers security schemes from
// the policies. A protocol added to the gateway is documented by
// implementing Documented, with nothing to change here.
package openapi

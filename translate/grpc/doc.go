// Package grpc is the gRPC backend protocol: a pooled client connection per
// backend (several endpoints balanced round robin or least request, optional
// grpc.health.v1 health checks, plaintext or TLS, keepalive) that sends
// requests marshalled once by the transcoder as raw bytes, and the route
// target that turns an HTTP request into such a call and the reply back into
// JSON, with metadata and deadlines carried across.
package grpc

// Package observability owns what the gateway says about each request: the
// request id, the access log (log/slog JSON lines, ready for an ELK stack),
// and Prometheus RED metrics for routes and backends. It wraps the request
// path once, at the top; library packages record facts into the request's
// Info and never log a request's outcome themselves.
package observability

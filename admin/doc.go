// Package admin serves the admin API on its own listener: health and
// readiness, Prometheus metrics, the route table, and registration, removal,
// rollback and refresh of descriptor sets while the gateway runs.
package admin

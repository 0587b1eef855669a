//go:build !unix

package thrift

import "syscall"

// connAlive cannot peek without blocking here; a dead pooled connection
// shows up as a failed call instead.
func connAlive(syscall.RawConn) bool { return true }

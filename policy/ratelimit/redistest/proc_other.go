//go:build !linux

package redistest

import "syscall"

// dieWithParent is nil where there is no parent-death signal: there the
// test's cleanups alone stop redis-server.
func dieWithParent() *syscall.SysProcAttr { return nil }

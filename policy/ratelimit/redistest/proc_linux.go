package redistest

import "syscall"

// dieWithParent has the kernel kill redis-server if the test binary dies
// without running its cleanups (a timeout panic, a SIGKILL), so that no
// server outlives its test.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

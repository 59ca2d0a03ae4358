package warrentest

import "syscall"

// sysProcAttr makes the kernel kill the node if the test process dies
// without running its cleanups (a go test -timeout panic, say).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}

//go:build !linux

package warrentest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

// processAlive cannot tell elsewhere; keep every build directory.
func processAlive(pid int) bool { return true }

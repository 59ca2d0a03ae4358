//go:build !linux

package perf

import (
	"errors"
	"time"
)

var errNoProc = errors.New("--broker-pid needs Linux /proc")

func procCPU(pid int) (time.Duration, error) { return 0, errNoProc }
func procRSS(pid int) (int64, error)         { return 0, errNoProc }
func selfCPU() time.Duration                 { return 0 }

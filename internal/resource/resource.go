// Package resource watches free disk space and process memory, and raises
// RabbitMQ's resource alarms (disk_free_limit, vm_memory_high_watermark)
// so that publishers are blocked before the node runs out of either.
package resource

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits are the alarm thresholds. Zero disables a check.
type Limits struct {
	// DiskFreeLimit: the disk alarm is raised while free space on the data
	// directory's file system is below this many bytes (RabbitMQ's
	// disk_free_limit.absolute; its default is 50 MB).
	DiskFreeLimit int64
	// MemoryHighWatermark: the memory alarm is raised while the process's
	// resident memory exceeds this fraction of the machine's (or cgroup's)
	// memory (vm_memory_high_watermark.relative; default 0.4).
	MemoryHighWatermark float64
	// MemoryLimit, if set, is an absolute byte limit instead
	// (vm_memory_high_watermark.absolute).
	MemoryLimit int64
}

// Defaults are RabbitMQ's.
var Defaults = Limits{DiskFreeLimit: 50_000_000, MemoryHighWatermark: 0.4}

// Status is one reading.
type Status struct {
	DiskFree    int64
	MemoryUsed  int64
	MemoryLimit int64 // the effective byte limit for the memory alarm
	DiskAlarm   bool
	MemoryAlarm bool
}

// Resources names the resources in alarm, as RabbitMQ joins them:
// "memory", "disk" or "memory & disk"; empty when no alarm is raised.
func (s Status) Resources() string {
	var rs []string
	if s.MemoryAlarm {
		rs = append(rs, "memory")
	}
	if s.DiskAlarm {
		rs = append(rs, "disk")
	}
	return strings.Join(rs, " & ")
}

// Reason is the connection.blocked reason RabbitMQ gives, e.g. "low on
// disk"; empty when no alarm is raised.
func (s Status) Reason() string {
	if r := s.Resources(); r != "" {
		return "low on " + r
	}
	return ""
}

// Monitor polls the resources and reports alarm changes.
type Monitor struct {
	dir      string
	lim      Limits
	onChange func(Status)
	log      *slog.Logger

	mu   sync.Mutex
	last Status
}

// New makes a monitor for the file system holding dir. onChange is called
// (from the monitor's goroutine) whenever an alarm is raised or cleared.
func New(dir string, lim Limits, log *slog.Logger, onChange func(Status)) *Monitor {
	if log == nil {
		log = slog.Default()
	}
	return &Monitor{dir: dir, lim: lim, onChange: onChange, log: log}
}

// Run checks once a second until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	m.Check()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Check()
		}
	}
}

// Status returns the last reading.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Check takes a reading now and reports a change of alarms.
func (m *Monitor) Check() Status {
	var s Status
	if free, err := DiskFree(m.dir); err == nil {
		s.DiskFree = free
		s.DiskAlarm = m.lim.DiskFreeLimit > 0 && free < m.lim.DiskFreeLimit
	}
	s.MemoryUsed = RSS()
	s.MemoryLimit = m.lim.MemoryLimit
	if s.MemoryLimit == 0 && m.lim.MemoryHighWatermark > 0 {
		s.MemoryLimit = int64(m.lim.MemoryHighWatermark * float64(TotalMemory()))
	}
	s.MemoryAlarm = s.MemoryLimit > 0 && s.MemoryUsed > s.MemoryLimit
	m.mu.Lock()
	prev := m.last
	m.last = s
	m.mu.Unlock()
	if prev.DiskAlarm != s.DiskAlarm || prev.MemoryAlarm != s.MemoryAlarm {
		if s.Reason() != "" {
			m.log.Warn("resource alarm raised: publishers will be blocked", "reason", s.Reason(),
				"disk_free", s.DiskFree, "disk_free_limit", m.lim.DiskFreeLimit,
				"memory_used", s.MemoryUsed, "memory_limit", s.MemoryLimit)
		} else {
			m.log.Info("resource alarms cleared", "disk_free", s.DiskFree, "memory_used", s.MemoryUsed)
		}
		if m.onChange != nil {
			m.onChange(s)
		}
	}
	return s
}

// DiskFree is the space available to us on dir's file system.
func DiskFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// RSS is the process's resident memory in bytes (0 if unknown).
func RSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TotalMemory is the memory available to the process: the cgroup limit if
// one is set, else the machine's.
func TotalMemory() int64 {
	total := memInfoTotal()
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			return n
		}
	}
	return total
}

func memInfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

package resource

import (
	"testing"
)

func TestReadings(t *testing.T) {
	if free, err := DiskFree(t.TempDir()); err != nil || free <= 0 {
		t.Fatalf("DiskFree = %d, %v", free, err)
	}
	if RSS() <= 0 {
		t.Fatal("RSS unknown")
	}
	if TotalMemory() < RSS() {
		t.Fatalf("TotalMemory %d < RSS %d", TotalMemory(), RSS())
	}
}

func TestAlarmsRaiseAndClear(t *testing.T) {
	dir := t.TempDir()
	free, _ := DiskFree(dir)
	var got []string
	m := New(dir, Limits{DiskFreeLimit: free * 2}, nil, func(s Status) { got = append(got, s.Reason()) })
	if s := m.Check(); !s.DiskAlarm || s.Reason() != "low on disk" {
		t.Fatalf("disk alarm not raised: %+v", s)
	}
	m.lim = Limits{MemoryLimit: 1} // any process uses more than one byte
	if s := m.Check(); s.DiskAlarm || !s.MemoryAlarm || s.Reason() != "low on memory" {
		t.Fatalf("memory alarm: %+v", s)
	}
	m.lim = Limits{}
	m.Check()
	m.Check() // no change: no callback
	want := []string{"low on disk", "low on memory", ""}
	if len(got) != len(want) {
		t.Fatalf("callbacks %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("callbacks %q, want %q", got, want)
		}
	}
}

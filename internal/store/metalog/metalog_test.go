package metalog

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAppendReopenAndTornTail(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"one", "two", "three"} {
		if err := l.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	// A crash mid-write leaves a partial record: cut it, keep the rest.
	path := filepath.Join(dir, fileName)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(frame(nil, []byte("four"))[:6])
	f.Close()

	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := l.ReadAll()
	if len(recs) != 3 || string(recs[2]) != "three" {
		t.Fatalf("got %q", recs)
	}
	if err := l.Append([]byte("five")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, _ = Open(dir)
	recs, _ = l.ReadAll()
	if len(recs) != 4 || string(recs[3]) != "five" {
		t.Fatalf("after append past a cut tail: %q", recs)
	}

	// A flipped byte fails the checksum: the record and all after it go.
	data, _ := os.ReadFile(path)
	data[headerSize+1] ^= 0xff
	os.WriteFile(path, data, 0o644)
	l.Close()
	l, _ = Open(dir)
	recs, _ = l.ReadAll()
	if len(recs) != 0 {
		t.Fatalf("corrupt first record should drop everything: %q", recs)
	}
	l.Close()
}

func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	l, _ := Open(dir)
	l.Append([]byte("a"))
	l.Append([]byte("b"))
	if err := l.Rewrite([][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("y"))
	l.Close()
	l, _ = Open(dir)
	recs, _ := l.ReadAll()
	if len(recs) != 2 || string(recs[0]) != "x" || string(recs[1]) != "y" {
		t.Fatalf("got %q", recs)
	}
	l.Close()
}

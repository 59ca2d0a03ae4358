// Package metalog keeps durable metadata commands in one append-only file.
// Each record is length-prefixed and CRC-checked; a torn tail left by a
// crash is cut off on open. Rewrite replaces the file atomically with a
// compact snapshot.
package metalog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

const (
	fileName   = "metadata.log"
	headerSize = 8 // length(4) + crc32c(4)
	maxRecord  = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Log is the metadata log of one node.
type Log struct {
	mu   sync.Mutex
	dir  string
	f    *os.File
	recs [][]byte // what was read at open, handed out once by ReadAll
}

// Open opens (creating if needed) the log in dir and reads its records,
// truncating any damaged tail.
func Open(dir string) (*Log, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	recs, good := parse(data)
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate damaged metadata tail: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &Log{dir: dir, f: f, recs: recs}, nil
}

// parse returns the intact records and the length of the intact prefix.
func parse(data []byte) ([][]byte, int) {
	var recs [][]byte
	off := 0
	for len(data)-off >= headerSize {
		n := int(binary.BigEndian.Uint32(data[off:]))
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n > maxRecord || len(data)-off-headerSize < n {
			break
		}
		rec := data[off+headerSize : off+headerSize+n]
		if crc32.Checksum(rec, castagnoli) != sum {
			break
		}
		recs = append(recs, rec)
		off += headerSize + n
	}
	return recs, off
}

func frame(dst, rec []byte) []byte {
	var h [headerSize]byte
	binary.BigEndian.PutUint32(h[:], uint32(len(rec)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(rec, castagnoli))
	return append(append(dst, h[:]...), rec...)
}

// ReadAll returns the records found at open.
func (l *Log) ReadAll() ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := l.recs
	l.recs = nil
	return recs, nil
}

// Append writes one record and fsyncs before returning.
func (l *Log) Append(rec []byte) error {
	if len(rec) > maxRecord {
		return errors.New("metadata record too large")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(frame(nil, rec)); err != nil {
		return err
	}
	return l.f.Sync()
}

// Rewrite atomically replaces the log with recs.
func (l *Log) Rewrite(recs [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf []byte
	for _, r := range recs {
		buf = frame(buf, r)
	}
	tmp := filepath.Join(l.dir, fileName+".tmp")
	if err := writeSync(tmp, buf); err != nil {
		return err
	}
	path := filepath.Join(l.dir, fileName)
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f = f
	return nil
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

func writeSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

package logs

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// benchCopy copies size bytes of lines of length n through Copy into a file
// that rotates at the default size.
func benchCopy(b *testing.B, n int) {
	line := strings.Repeat("x", n-1) + "\n"
	data := []byte(strings.Repeat(line, (4<<20)/n))
	w, err := NewWriter(filepath.Join(b.TempDir(), "log"), DefaultMaxSize, DefaultMaxFiles)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Copy(w, "stdout", bytes.NewReader(data), time.Now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCopy80(b *testing.B)  { benchCopy(b, 80) }
func BenchmarkCopy1K(b *testing.B)  { benchCopy(b, 1024) }
func BenchmarkCopy64K(b *testing.B) { benchCopy(b, 64<<10) }
func BenchmarkEncode(b *testing.B) {
	line := []byte("2026-11-24 20:00:00 INFO request served path=/api/v1/items status=200 in 3ms\n")
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecord(buf[:0], "stdout", line, time.Now())
	}
}

// BenchmarkReadTail reads the last 100 records of a full default-size set
// of files (`docker logs --tail 100`).
func BenchmarkReadTail(b *testing.B) { benchRead(b, 100) }

// BenchmarkReadAll reads all of them (`docker logs`).
func BenchmarkReadAll(b *testing.B) { benchRead(b, -1) }

func benchRead(b *testing.B, tail int) {
	path := filepath.Join(b.TempDir(), "log")
	w, err := NewWriter(path, DefaultMaxSize, DefaultMaxFiles)
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 79) + "\n")
	for range 3 * DefaultMaxSize / 140 {
		w.WriteEntry("stdout", line, time.Now())
	}
	w.Close()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := Read(context.Background(), path, ReadOpts{Tail: tail, Stdout: true}, func(Entry) error { n++; return nil })
		if err != nil || n == 0 {
			b.Fatal(err, n)
		}
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages takes a read-only file mapping's pages out of the resident
// set and leaves its bytes as they were.
func TestReleasePages(t *testing.T) {
	want := bytes.Repeat([]byte("berth-init "), 200000) // 2.2 MB
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, want, 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	data := m[100 : len(m)-100] // not page-aligned, as an embedded slice need not be
	if !bytes.Equal(data, want[100:len(want)-100]) {
		t.Fatal("mapping differs from the file")
	}
	before := rssOf(t, m)
	releasePages(data)
	after := rssOf(t, m)
	if before < 2000 || after > 16 {
		t.Errorf("resident kB of the mapping: %d before, %d after (want about 2150, then at most the two edge pages)", before, after)
	}
	if !bytes.Equal(data, want[100:len(want)-100]) {
		t.Error("the bytes changed")
	}
}

// rssOf is the Rss (kB) of the mapping that starts at m in /proc/self/smaps.
func rssOf(t *testing.T, m []byte) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	start := fmt.Sprintf("%x-", unsafePointer(m))
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = strings.HasPrefix(l, start)
			continue
		}
		if v, ok := strings.CutPrefix(l, "Rss:"); ok && in {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no mapping at %s in smaps", start)
	return 0
}

func unsafePointer(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

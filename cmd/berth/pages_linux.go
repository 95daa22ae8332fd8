package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages drops the pages wholly inside data, a part of the binary's
// own image, from this process's memory. The embedded init program (5-6
// MB) is read once, to install it; its pages would otherwise stay in a
// daemon's resident set for good. Nothing writes them, so a later read
// faults the same bytes in from the binary again. Never for memory of the
// heap: there MADV_DONTNEED zeroes.
func releasePages(data []byte) {
	if len(data) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(data))) &^ (page - 1)
	if last > first {
		_ = unix.Madvise(data[first-start:last-start], unix.MADV_DONTNEED)
	}
}

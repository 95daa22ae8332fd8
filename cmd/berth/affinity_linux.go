package main

/*
#define _GNU_SOURCE
#include <sched.h>

int berth_pinned_from(void *out);
*/
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// `berth runtime` pins itself to the CPU it was started on (affinity.c, a
// constructor that runs before the Go runtime). A Go process with threads on
// two CPUs pays an inter-processor interrupt for every TLB flush of its
// address space, and this one makes many: the first writes to fresh heap
// and data pages, and the copy-on-write faults after the fork-style clone of
// the container's init. On this project's 2-CPU VM the pin took `runtime
// run` of /bin/true from 8.6 to 7.7 ms and its CPU time from 9.8 to 7.5 ms
// (bench/RESULTS.md). The processes it starts get the affinity it had
// (runtime.SetChildAffinity): a container is never confined by the pin.
//
// pinnedFrom is that earlier affinity, when the constructor pinned.
func pinnedFrom() (unix.CPUSet, bool) {
	var set unix.CPUSet
	// unix.CPUSet and glibc's cpu_set_t are both CPU_SETSIZE (1024) bits.
	if unsafe.Sizeof(set) != C.sizeof_cpu_set_t || C.berth_pinned_from(unsafe.Pointer(&set)) == 0 {
		return set, false
	}
	return set, true
}

package runtime

import (
	goruntime "runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// childCPUs, when set, is the CPU affinity of every process this one starts
// (a container's init, a process exec'd into a container, a hook), in
// place of this process's own: `berth runtime` runs pinned to one CPU, and
// its containers must not inherit that.
var childCPUs atomic.Pointer[unix.CPUSet]

// SetChildAffinity makes the processes started from now on run on set
// rather than on this process's CPUs (which a child inherits from the
// thread that starts it).
func SetChildAffinity(set unix.CPUSet) { childCPUs.Store(&set) }

// withChildAffinity runs start, which starts a process, on a thread whose
// affinity is the children's (SetChildAffinity), and puts the thread's own
// back after. If the thread cannot take that affinity (say a cpuset changed
// since), start runs anyway: the child is then only as confined as this
// process.
func withChildAffinity(start func() error) error {
	set := childCPUs.Load()
	if set == nil {
		return start()
	}
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var own unix.CPUSet
	if unix.SchedGetaffinity(0, &own) != nil || unix.SchedSetaffinity(0, set) != nil {
		return start()
	}
	defer func() { _ = unix.SchedSetaffinity(0, &own) }()
	return start()
}

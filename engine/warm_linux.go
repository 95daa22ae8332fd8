package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem
// for writing, and the first writer after a quiet spell waits for an RCU
// grace period (10-15 ms on the hosts measured) before it gets it; writers
// that follow within a grace period of the last one do not wait. The shim
// moves each container's init into its cgroup right in the middle of a
// start. warmCgroups starts that wait early, in the background, by moving
// the daemon into the cgroup it is already in (a no-op migration), so the
// grace period passes while the start does its other work. Only on a pure
// cgroup v2 host: on v1 the init joins its cgroup without that lock (see
// runtime/cgroup.TaskFiles).
type cgroupWarmer struct {
	once     sync.Once
	procs    string // the daemon's own cgroup.procs in one hierarchy, "" if none
	inflight atomic.Bool
}

func (w *cgroupWarmer) warm() {
	w.once.Do(func() {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
			w.procs = ownCgroupProcs()
		}
	})
	if w.procs == "" || !w.inflight.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer w.inflight.Store(false)
		f, err := os.OpenFile(w.procs, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()))
		f.Close()
	}()
}

// ownCgroupProcs finds this process's cgroup.procs in the pids hierarchy
// (cgroup v1) or the unified one.
func ownCgroupProcs() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir string
		switch parts[1] {
		case "pids":
			dir = filepath.Join("/sys/fs/cgroup/pids", parts[2])
		case "":
			dir = filepath.Join("/sys/fs/cgroup", parts[2])
			if _, err := os.Stat("/sys/fs/cgroup/unified"); err == nil {
				dir = filepath.Join("/sys/fs/cgroup/unified", parts[2])
			}
		default:
			continue
		}
		p := filepath.Join(dir, "cgroup.procs")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

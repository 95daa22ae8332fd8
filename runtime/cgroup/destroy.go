package cgroup

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

const (
	killTimeout  = 5 * time.Second
	killInterval = 10 * time.Millisecond
)

// allPids lists the processes below every path of the cgroup, ignoring paths
// that are already gone.
func (c *Cgroup) allPids() ([]int, error) {
	var all []int
	for _, p := range c.mgr.GetPaths() {
		pids, err := cgroups.GetAllPids(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
				continue
			}
			return nil, err
		}
		all = append(all, pids...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// removeEmpty removes the cgroup's directories when none holds a process or
// a child cgroup: the usual case, after the container's last process has
// exited, costs one rmdir per hierarchy instead of walking them for pids.
// It reports false, having removed what it could, when a directory is busy
// or cannot be removed; the caller then kills and removes the rest.
func (c *Cgroup) removeEmpty() bool {
	done := true
	for _, p := range c.mgr.GetPaths() {
		if err := unix.Rmdir(p); err != nil && err != unix.ENOENT {
			done = false
		}
	}
	return done
}

// killAll SIGKILLs everything in the cgroup until it is empty or killTimeout
// passes. The caller holds c.mu.
func (c *Cgroup) killAll() error {
	self := os.Getpid()
	deadline := time.Now().Add(killTimeout)
	for {
		pids, err := c.allPids()
		if err != nil {
			return fmt.Errorf("cgroup: list processes: %w", err)
		}
		if len(pids) == 0 {
			return nil
		}
		if slices.Contains(pids, self) {
			return fmt.Errorf("cgroup: refusing to kill the calling process (pid %d), which is inside the cgroup", self)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %d process(es) still present after SIGKILL: %v", len(pids), pids)
		}
		c.killOnce()
		time.Sleep(killInterval)
	}
}

// killOnce freezes the cgroup (best effort: the freezer may be missing),
// re-reads the process list so that nothing forked in the meantime escapes,
// SIGKILLs every process and thaws again, because on cgroup v1 a frozen task
// does not act on SIGKILL until thawed.
func (c *Cgroup) killOnce() {
	if c.unified {
		// cgroup.kill (Linux 5.14) kills the whole subtree atomically.
		for _, p := range c.mgr.GetPaths() {
			if cgroups.WriteFile(p, "cgroup.kill", "1") == nil {
				return
			}
		}
	}
	frozen := c.mgr.Freeze(cgroups.Frozen) == nil
	if pids, err := c.allPids(); err == nil {
		for _, pid := range pids {
			if pid == os.Getpid() {
				continue
			}
			_ = unix.Kill(pid, unix.SIGKILL) // ESRCH: already gone
		}
	}
	if frozen {
		_ = c.mgr.Freeze(cgroups.Thawed)
	}
}

package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TaskFiles opens, for each cgroup v1 hierarchy of the cgroup, its "tasks"
// file for writing. A process that writes "0" to each while it is still
// single-threaded joins the cgroup without the kernel's global threadgroup
// lock, which a move by pid (cgroup.procs) takes, and whose first taker
// after a quiet spell waits for an RCU grace period (10-15 ms measured
// here): berth's init does it in its C constructor (nsenter.c). Create the
// cgroup first (Apply(-1)). On a pure cgroup v2 host, where only moves of
// whole processes exist, it returns nil: move the process with Apply or
// AddPid. The unified hierarchy of a hybrid host is not included (see
// JoinUnified).
func (c *Cgroup) TaskFiles() ([]*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unified {
		return nil, nil
	}
	paths := c.mgr.GetPaths()
	ctrls := make([]string, 0, len(paths))
	for ctrl := range paths {
		if ctrl != "" {
			ctrls = append(ctrls, ctrl)
		}
	}
	sort.Strings(ctrls)
	var files []*os.File
	seen := map[string]bool{}
	for _, ctrl := range ctrls {
		dir := paths[ctrl]
		if seen[dir] { // co-mounted controllers (cpu,cpuacct) share a directory
			continue
		}
		seen[dir] = true
		f, err := os.OpenFile(filepath.Join(dir, "tasks"), os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("cgroup %s: %w", ctrl, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// NeedsUnifiedJoin reports whether, on a hybrid host, the process must
// also be moved into the unified hierarchy (JoinUnified): only when it is
// what carries the hugetlb limits.
func (c *Cgroup) NeedsUnifiedJoin(res *specs.LinuxResources) bool {
	if c.unified || res == nil || len(res.HugepageLimits) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hybridHugetlbDir() != ""
}

// JoinUnified moves pid into the cgroup's directory in the unified
// hierarchy of a hybrid host.
func (c *Cgroup) JoinUnified(pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := c.mgr.GetPaths()[""]
	if dir == "" {
		return nil
	}
	return cgroups.WriteCgroupProc(dir, pid)
}

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fscommon"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file holds what the fs (v1) manager does not do on its own:
//
//   - hybrid hosts whose hugetlb controller lives only in the cgroup2 mount
//     (/sys/fs/cgroup/unified). The fs manager joins that hierarchy (its ""
//     path) but only ever writes v1 hugetlb files, and fails with "cannot set
//     hugetlb limit" when hugetlb is not a v1 controller;
//   - friendlier errors when a limit needs a v1 controller that is not
//     mounted (the library's behaviour is kept: an unset limit on a missing
//     controller is ignored, a set one is an error);
//   - memory.kernelTCP and memory.checkBeforeUpdate on v1.

// checkPageSizes rejects huge page sizes the kernel does not have.
func checkPageSizes(limits []*cgroups.HugepageLimit) error {
	if len(limits) == 0 {
		return nil
	}
	sizes := cgroups.HugePageSizes()
	for i, l := range limits {
		if !slices.Contains(sizes, l.Pagesize) {
			avail := "none"
			if len(sizes) > 0 {
				avail = strings.Join(sizes, ", ")
			}
			return fieldErr(fmt.Sprintf("hugepageLimits[%d].pageSize", i),
				"huge page size %q is not supported by this host (available: %s)", l.Pagesize, avail)
		}
	}
	return nil
}

// hybridHugetlbUsable reports whether hugetlb limits can be applied in the
// unified-hierarchy directory dir of a hybrid host.
func hybridHugetlbUsable(dir string) error {
	const field = "hugepageLimits"
	if dir == "" || !cgroups.IsCgroup2HybridMode() {
		return fieldErr(field, "the hugetlb cgroup controller is not available on this host")
	}
	root := unifiedRoot(dir)
	if root == "" {
		return fieldErr(field, "unexpected unified cgroup path %q", dir)
	}
	ctrls, err := cgroups.ReadFile(root, "cgroup.controllers")
	if err != nil {
		return fieldErr(field, "the hugetlb cgroup controller is not available on this host: %v", err)
	}
	if !slices.Contains(strings.Fields(ctrls), "hugetlb") {
		return fieldErr(field, "the hugetlb cgroup controller is not available on this host (neither cgroup v1 nor the unified hierarchy has it)")
	}
	return nil
}

// unifiedRoot returns the mount point of the hybrid unified hierarchy that
// contains dir.
func unifiedRoot(dir string) string {
	const hybridMount = "/sys/fs/cgroup/unified"
	if dir == hybridMount || strings.HasPrefix(dir, hybridMount+"/") {
		return hybridMount
	}
	return ""
}

// setHybridHugetlb enables hugetlb in cgroup.subtree_control of every
// ancestor of dir (up to the unified mount) and writes the limits into dir,
// creating dir if needed. As in the fs2 manager (and as the runtime spec asks:
// "default to reservation limits if supported") the .rsvd.max limit is
// written too when the kernel has it.
func setHybridHugetlb(dir string, limits []*cgroups.HugepageLimit) error {
	root := unifiedRoot(dir)
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fieldErr("hugepageLimits", "unexpected unified cgroup path %q", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fieldErr("hugepageLimits", "%v", err)
	}
	cur := root
	for elem := range strings.SplitSeq(rel, "/") {
		if err := enableController(cur, "hugetlb"); err != nil {
			return fieldErr("hugepageLimits", "%v", err)
		}
		cur = filepath.Join(cur, elem)
	}
	skipRsvd := false
	for _, l := range limits {
		prefix := "hugetlb." + l.Pagesize
		val := strconv.FormatUint(l.Limit, 10)
		if err := cgroups.WriteFile(dir, prefix+".max", val); err != nil {
			return fieldErr("hugepageLimits", "%v", err)
		}
		if skipRsvd {
			continue
		}
		if err := cgroups.WriteFile(dir, prefix+".rsvd.max", val); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return fieldErr("hugepageLimits", "%v", err)
			}
			skipRsvd = true
		}
	}
	return nil
}

// enableController adds ctrl to dir's cgroup.subtree_control unless it is
// already there.
func enableController(dir, ctrl string) error {
	cur, err := cgroups.ReadFile(dir, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	if slices.Contains(strings.Fields(cur), ctrl) {
		return nil
	}
	if err := cgroups.WriteFile(dir, "cgroup.subtree_control", "+"+ctrl); err != nil {
		return fmt.Errorf("enable %s in %s: %w", ctrl, dir, err)
	}
	return nil
}

// hybridHugetlbStats fills st.HugetlbStats from the unified directory dir,
// when the hugetlb controller is enabled there. Like the fs2 manager it
// reports reservations (.rsvd.current) when the kernel has them.
func hybridHugetlbStats(dir string, st *cgroups.Stats) error {
	rsvd := ".rsvd"
	for _, size := range cgroups.HugePageSizes() {
		prefix := "hugetlb." + size
		usage, err := fscommon.GetCgroupParamUint(dir, prefix+rsvd+".current")
		if err != nil && rsvd != "" && errors.Is(err, os.ErrNotExist) {
			rsvd = ""
			usage, err = fscommon.GetCgroupParamUint(dir, prefix+".current")
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // controller not enabled for this cgroup
			}
			return err
		}
		failcnt, err := fscommon.GetValueByKey(dir, prefix+".events", "max")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		st.HugetlbStats[size] = cgroups.HugetlbStats{Usage: usage, Failcnt: failcnt}
	}
	return nil
}

// v1Requirement ties a v1 controller to the resources needing it.
type v1Requirement struct {
	controller string
	field      string
	needed     func(r *cgroups.Resources) bool
}

var v1Requirements = []v1Requirement{
	{"memory", "memory", func(r *cgroups.Resources) bool {
		return r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0 ||
			r.OomKillDisable || r.MemorySwappiness != nil
	}},
	{"cpu", "cpu", func(r *cgroups.Resources) bool {
		return r.CpuShares != 0 || r.CpuQuota != 0 || r.CpuBurst != nil || r.CpuPeriod != 0 ||
			r.CpuRtRuntime != 0 || r.CpuRtPeriod != 0 || r.CPUIdle != nil
	}},
	{"cpuset", "cpu.cpus/mems", func(r *cgroups.Resources) bool {
		return r.CpusetCpus != "" || r.CpusetMems != ""
	}},
	{"pids", "pids", func(r *cgroups.Resources) bool { return r.PidsLimit != nil }},
	{"blkio", "blockIO", func(r *cgroups.Resources) bool {
		return r.BlkioWeight != 0 || r.BlkioLeafWeight != 0 || len(r.BlkioWeightDevice) > 0 ||
			len(r.BlkioThrottleReadBpsDevice) > 0 || len(r.BlkioThrottleWriteBpsDevice) > 0 ||
			len(r.BlkioThrottleReadIOPSDevice) > 0 || len(r.BlkioThrottleWriteIOPSDevice) > 0
	}},
	{"hugetlb", "hugepageLimits", func(r *cgroups.Resources) bool { return len(r.HugetlbLimit) > 0 }},
	{"net_cls", "network.classID", func(r *cgroups.Resources) bool { return r.NetClsClassid != 0 }},
	{"net_prio", "network.priorities", func(r *cgroups.Resources) bool { return len(r.NetPrioIfpriomap) > 0 }},
	{"rdma", "rdma", func(r *cgroups.Resources) bool { return len(r.Rdma) > 0 }},
}

// checkV1Controllers fails when r sets a limit for a v1 controller that has
// no path (not mounted). The fs manager would fail too, with "cannot set
// net_cls limit: container could not join or create cgroup".
func checkV1Controllers(paths map[string]string, r *cgroups.Resources) error {
	for _, req := range v1Requirements {
		if paths[req.controller] == "" && req.needed(r) {
			return fieldErr(req.field, "the %s cgroup controller is not mounted on this host", req.controller)
		}
	}
	return nil
}

// checkV1MemoryUsage implements memory.checkBeforeUpdate on v1 (the library
// only does it for v2): refuse limits at or below the current usage.
func checkV1MemoryUsage(dir string, r *cgroups.Resources) error {
	if !r.MemoryCheckBeforeUpdate || dir == "" {
		return nil
	}
	check := func(field, file string, limit int64) error {
		if limit <= 0 {
			return nil
		}
		usage, err := fscommon.GetCgroupParamUint(dir, file)
		if err != nil {
			return nil // best effort, as in fs2.CheckMemoryUsage
		}
		if uint64(limit) <= usage {
			return fieldErr(field, "rejecting limit %d: not above current usage %d (checkBeforeUpdate)", limit, usage)
		}
		return nil
	}
	if err := check("memory.limit", "memory.usage_in_bytes", r.Memory); err != nil {
		return err
	}
	return check("memory.swap", "memory.memsw.usage_in_bytes", r.MemorySwap)
}

// setKernelTCP writes memory.kernelTCP on v1 when the kernel still has
// memory.kmem.tcp.limit_in_bytes (the OCI validation suite reads it back).
// cgroups.Resources has no field for it; on v2 it does not exist.
func setKernelTCP(dir string, res *specs.LinuxResources) error {
	if dir == "" || res == nil || res.Memory == nil || res.Memory.KernelTCP == nil {
		return nil
	}
	const file = "memory.kmem.tcp.limit_in_bytes"
	v := *res.Memory.KernelTCP // validated by ConvertResources
	if v == 0 {
		return nil
	}
	if err := cgroups.WriteFile(dir, file, strconv.FormatInt(v, 10)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // kernel without kmem accounting: ignored, like runc
		}
		return fieldErr("memory.kernelTCP", "%v", err)
	}
	return nil
}

package cgroup

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits enforced by the kernel that are worth rejecting early with a message
// naming the offending field instead of an EINVAL from a cgroup file.
const (
	minCPUShares    = 2      // kernel MIN_SHARES
	maxCPUShares    = 262144 // kernel MAX_SHARES
	minCFSPeriod    = 1000   // 1ms, kernel min_cfs_quota_period
	maxCFSPeriod    = 1000000
	minCFSQuota     = 1000
	minBlkioWeight  = 10
	maxBlkioWeight  = 1000
	maxSwappiness   = 100
	unsetSwappiness = math.MaxUint64 // -1 as written by some tools into the uint64 field
)

// validPageSize matches ^[1-9][0-9]*(KB|MB|GB|TB|PB)$ without a regexp,
// which would cost every berth start-up its compilation.
func validPageSize(s string) bool {
	if len(s) < 3 {
		return false
	}
	switch s[len(s)-2:] {
	case "KB", "MB", "GB", "TB", "PB":
	default:
		return false
	}
	num := s[:len(s)-2]
	if num[0] < '1' || num[0] > '9' {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("linux.resources.%s: %s", field, fmt.Sprintf(format, args...))
}

// ConvertResources converts OCI linux.resources into the resources type of
// github.com/opencontainers/cgroups, validating it on the way. It is pure: it
// does not look at the host, so host-dependent checks (is a controller
// mounted, does a huge page size exist) happen in Set.
//
// Conventions (the same as runc's):
//   - a nil r yields empty resources;
//   - zero values mean "not set" for shares, quota, period, weights;
//   - memory.kernel, memory.kernelTCP and memory.useHierarchy have no
//     counterpart and are dropped (Set applies kernelTCP itself on cgroup v1);
//   - device rules keep their order; the type defaults to "a" and
//     major/minor default to -1 (wildcard);
//   - swappiness 2^64-1 (i.e. -1 stored in a uint64) means "not set".
//
// Errors are one line and start with the offending field, for example
// "linux.resources.cpu.shares: 1 is out of range [2, 262144]".
func ConvertResources(r *specs.LinuxResources) (*cgroups.Resources, error) {
	out := &cgroups.Resources{}
	if r == nil {
		return out, nil
	}
	if err := convertDevices(r.Devices, out); err != nil {
		return nil, err
	}
	if err := convertMemory(r.Memory, out); err != nil {
		return nil, err
	}
	if err := convertCPU(r.CPU, out); err != nil {
		return nil, err
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		v := *r.Pids.Limit
		out.PidsLimit = &v
	}
	if err := convertBlockIO(r.BlockIO, out); err != nil {
		return nil, err
	}
	for i, l := range r.HugepageLimits {
		if !validPageSize(l.Pagesize) {
			return nil, fieldErr(fmt.Sprintf("hugepageLimits[%d].pageSize", i),
				"invalid page size %q (want e.g. \"2MB\" or \"1GB\")", l.Pagesize)
		}
		out.HugetlbLimit = append(out.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: l.Pagesize, Limit: l.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			out.NetClsClassid = *n.ClassID
		}
		for i, p := range n.Priorities {
			if p.Name == "" || strings.ContainsAny(p.Name, " \t\n/") {
				return nil, fieldErr(fmt.Sprintf("network.priorities[%d].name", i), "invalid interface name %q", p.Name)
			}
			out.NetPrioIfpriomap = append(out.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		out.Rdma = make(map[string]cgroups.LinuxRdma, len(r.Rdma))
		for dev, l := range r.Rdma {
			if dev == "" || strings.ContainsAny(dev, " \t\n") {
				return nil, fieldErr("rdma", "invalid device name %q", dev)
			}
			out.Rdma[dev] = cgroups.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		for k := range r.Unified {
			if k == "" || k == "." || k == ".." || strings.ContainsAny(k, "/\x00") {
				return nil, fieldErr(fmt.Sprintf("unified[%q]", k), "must be a cgroup file name")
			}
		}
		out.Unified = maps.Clone(r.Unified)
	}
	return out, nil
}

func convertDevices(in []specs.LinuxDeviceCgroup, out *cgroups.Resources) error {
	for i, d := range in {
		field := fmt.Sprintf("devices[%d]", i)
		var typ devconfig.Type
		switch d.Type {
		case "", "a":
			typ = devconfig.WildcardDevice
		case "b":
			typ = devconfig.BlockDevice
		case "c":
			typ = devconfig.CharDevice
		default:
			return fieldErr(field+".type", "invalid device type %q (want \"a\", \"b\" or \"c\")", d.Type)
		}
		major, minor := int64(devconfig.Wildcard), int64(devconfig.Wildcard)
		if d.Major != nil {
			major = *d.Major
		}
		if d.Minor != nil {
			minor = *d.Minor
		}
		if major < devconfig.Wildcard {
			return fieldErr(field+".major", "%d is invalid (want >= 0, or -1 for any)", major)
		}
		if minor < devconfig.Wildcard {
			return fieldErr(field+".minor", "%d is invalid (want >= 0, or -1 for any)", minor)
		}
		perms, err := normalizeAccess(d.Access)
		if err != nil {
			return fieldErr(field+".access", "%v", err)
		}
		out.Devices = append(out.Devices, &devconfig.Rule{
			Type:        typ,
			Major:       major,
			Minor:       minor,
			Permissions: perms,
			Allow:       d.Allow,
		})
	}
	return nil
}

// normalizeAccess validates an "rwm" access string and returns it in
// canonical order without duplicates.
func normalizeAccess(s string) (devconfig.Permissions, error) {
	if s == "" {
		// Same as runc: an empty access string is ambiguous, reject it.
		return "", fmt.Errorf("must not be empty (want a combination of r, w, m)")
	}
	var r, w, m bool
	for _, c := range s {
		switch c {
		case 'r':
			r = true
		case 'w':
			w = true
		case 'm':
			m = true
		default:
			return "", fmt.Errorf("invalid access %q (want a combination of r, w, m)", s)
		}
	}
	var b strings.Builder
	if r {
		b.WriteByte('r')
	}
	if w {
		b.WriteByte('w')
	}
	if m {
		b.WriteByte('m')
	}
	return devconfig.Permissions(b.String()), nil
}

// checkMemValue accepts -1 (unlimited), 0 (unset) and positive byte counts.
func checkMemValue(field string, v int64) error {
	if v < -1 {
		return fieldErr(field, "%d is invalid (want a byte count, or -1 for unlimited)", v)
	}
	return nil
}

func convertMemory(m *specs.LinuxMemory, out *cgroups.Resources) error {
	if m == nil {
		return nil
	}
	if m.Limit != nil {
		if err := checkMemValue("memory.limit", *m.Limit); err != nil {
			return err
		}
		out.Memory = *m.Limit
	}
	if m.Reservation != nil {
		if err := checkMemValue("memory.reservation", *m.Reservation); err != nil {
			return err
		}
		out.MemoryReservation = *m.Reservation
	}
	if m.Swap != nil {
		if err := checkMemValue("memory.swap", *m.Swap); err != nil {
			return err
		}
		out.MemorySwap = *m.Swap
	}
	if out.Memory > 0 && out.MemorySwap > 0 && out.MemorySwap < out.Memory {
		return fieldErr("memory.swap", "%d is below memory.limit %d (swap is the memory+swap total)", out.MemorySwap, out.Memory)
	}
	// m.Kernel is deprecated and ignored by the kernel since 5.16; m.KernelTCP
	// has no field in cgroups.Resources (Set handles it on v1) but is checked
	// here. UseHierarchy is always on in modern kernels.
	if m.KernelTCP != nil {
		if err := checkMemValue("memory.kernelTCP", *m.KernelTCP); err != nil {
			return err
		}
	}
	if m.Swappiness != nil && *m.Swappiness != unsetSwappiness {
		if *m.Swappiness > maxSwappiness {
			return fieldErr("memory.swappiness", "%d is out of range [0, %d]", *m.Swappiness, maxSwappiness)
		}
		v := *m.Swappiness
		out.MemorySwappiness = &v
	}
	if m.DisableOOMKiller != nil {
		out.OomKillDisable = *m.DisableOOMKiller
	}
	if m.CheckBeforeUpdate != nil {
		out.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
	return nil
}

func convertCPU(c *specs.LinuxCPU, out *cgroups.Resources) error {
	if c == nil {
		return nil
	}
	if c.Shares != nil && *c.Shares != 0 {
		s := *c.Shares
		if s < minCPUShares || s > maxCPUShares {
			return fieldErr("cpu.shares", "%d is out of range [%d, %d]", s, minCPUShares, maxCPUShares)
		}
		out.CpuShares = s
		out.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(s)
	}
	if c.Quota != nil {
		q := *c.Quota
		if q < -1 || (q > 0 && q < minCFSQuota) {
			return fieldErr("cpu.quota", "%d is invalid (want >= %d microseconds, or -1 for unlimited)", q, minCFSQuota)
		}
		out.CpuQuota = q
	}
	if c.Burst != nil {
		v := *c.Burst
		out.CpuBurst = &v
	}
	if c.Period != nil && *c.Period != 0 {
		p := *c.Period
		if p < minCFSPeriod || p > maxCFSPeriod {
			return fieldErr("cpu.period", "%d is out of range [%d, %d] microseconds", p, minCFSPeriod, maxCFSPeriod)
		}
		out.CpuPeriod = p
	}
	if c.RealtimeRuntime != nil {
		if *c.RealtimeRuntime < -1 {
			return fieldErr("cpu.realtimeRuntime", "%d is invalid (want >= 0, or -1 for unlimited)", *c.RealtimeRuntime)
		}
		out.CpuRtRuntime = *c.RealtimeRuntime
	}
	if c.RealtimePeriod != nil {
		out.CpuRtPeriod = *c.RealtimePeriod
	}
	if c.Cpus != "" {
		if err := checkList(c.Cpus); err != nil {
			return fieldErr("cpu.cpus", "%v", err)
		}
		out.CpusetCpus = c.Cpus
	}
	if c.Mems != "" {
		if err := checkList(c.Mems); err != nil {
			return fieldErr("cpu.mems", "%v", err)
		}
		out.CpusetMems = c.Mems
	}
	if c.Idle != nil {
		if *c.Idle != 0 && *c.Idle != 1 {
			return fieldErr("cpu.idle", "%d is invalid (want 0 or 1)", *c.Idle)
		}
		v := *c.Idle
		out.CPUIdle = &v
	}
	return nil
}

// checkList validates a kernel list format string such as "0-3,5,7-8".
func checkList(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid list %q (want e.g. \"0-3,5\")", s)
		}
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 32)
			if err != nil || b < a {
				return fmt.Errorf("invalid list %q (want e.g. \"0-3,5\")", s)
			}
		}
	}
	return nil
}

func checkWeight(field string, w uint16) error {
	if w != 0 && (w < minBlkioWeight || w > maxBlkioWeight) {
		return fieldErr(field, "%d is out of range [%d, %d]", w, minBlkioWeight, maxBlkioWeight)
	}
	return nil
}

func checkBlockDev(field string, d specs.LinuxBlockIODevice) error {
	if d.Major < 0 {
		return fieldErr(field+".major", "%d is invalid (want >= 0)", d.Major)
	}
	if d.Minor < 0 {
		return fieldErr(field+".minor", "%d is invalid (want >= 0)", d.Minor)
	}
	return nil
}

func convertBlockIO(b *specs.LinuxBlockIO, out *cgroups.Resources) error {
	if b == nil {
		return nil
	}
	if b.Weight != nil {
		if err := checkWeight("blockIO.weight", *b.Weight); err != nil {
			return err
		}
		out.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		if err := checkWeight("blockIO.leafWeight", *b.LeafWeight); err != nil {
			return err
		}
		out.BlkioLeafWeight = *b.LeafWeight
	}
	for i, wd := range b.WeightDevice {
		field := fmt.Sprintf("blockIO.weightDevice[%d]", i)
		if err := checkBlockDev(field, wd.LinuxBlockIODevice); err != nil {
			return err
		}
		var weight, leaf uint16
		if wd.Weight != nil {
			weight = *wd.Weight
		}
		if wd.LeafWeight != nil {
			leaf = *wd.LeafWeight
		}
		if err := checkWeight(field+".weight", weight); err != nil {
			return err
		}
		if err := checkWeight(field+".leafWeight", leaf); err != nil {
			return err
		}
		out.BlkioWeightDevice = append(out.BlkioWeightDevice, cgroups.NewWeightDevice(wd.Major, wd.Minor, weight, leaf))
	}
	throttles := []struct {
		name string
		in   []specs.LinuxThrottleDevice
		out  *[]*cgroups.ThrottleDevice
	}{
		{"throttleReadBpsDevice", b.ThrottleReadBpsDevice, &out.BlkioThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", b.ThrottleWriteBpsDevice, &out.BlkioThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", b.ThrottleReadIOPSDevice, &out.BlkioThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", b.ThrottleWriteIOPSDevice, &out.BlkioThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for i, td := range t.in {
			if err := checkBlockDev(fmt.Sprintf("blockIO.%s[%d]", t.name, i), td.LinuxBlockIODevice); err != nil {
				return err
			}
			*t.out = append(*t.out, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
		}
	}
	return nil
}

package specgen

import (
	"os"
	"path"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Docker's limits on resource settings.
const (
	minMemory      = 6 << 20 // bytes, for --memory and --memory-reservation
	minCPUShares   = 2
	maxCPUShares   = 262144
	defaultPeriod  = 100000 // µs, the CFS period --cpus is expressed in
	minCFSPeriod   = 1000
	maxCFSPeriod   = 1000000
	minCFSQuota    = 1000
	minBlkioWeight = 10
	maxBlkioWeight = 1000
)

// resources validates r as Docker does and converts it. The result is never
// nil: the device rules are added to it.
func resources(r *Resources) (*specs.LinuxResources, error) {
	out := &specs.LinuxResources{}
	mem, err := memory(r)
	if err != nil {
		return nil, err
	}
	out.Memory = mem
	if out.CPU, err = cpu(r); err != nil {
		return nil, err
	}
	if r.PidsLimit != nil && *r.PidsLimit > 0 {
		limit := *r.PidsLimit
		out.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if w := r.BlkioWeight; w != 0 {
		if w < minBlkioWeight || w > maxBlkioWeight {
			return nil, invalid("blkio weight %d: the range is from %d to %d", w, minBlkioWeight, maxBlkioWeight)
		}
		out.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return out, nil
}

func memory(r *Resources) (*specs.LinuxMemory, error) {
	switch {
	case r.Memory < 0:
		return nil, invalid("memory limit %d must not be negative", r.Memory)
	case r.Memory > 0 && r.Memory < minMemory:
		return nil, invalid("Minimum memory limit allowed is 6MB")
	case r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return nil, invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	case r.Memory == 0 && r.MemorySwap > 0:
		return nil, invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	case r.MemorySwap < -1:
		return nil, invalid("memory+swap limit %d: want -1 (unlimited) or a size", r.MemorySwap)
	case r.MemoryReservation < 0:
		return nil, invalid("memory reservation %d must not be negative", r.MemoryReservation)
	case r.MemoryReservation > 0 && r.MemoryReservation < minMemory:
		return nil, invalid("Minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return nil, invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	sw := r.MemorySwappiness
	if sw != nil && *sw != -1 && (*sw < 0 || *sw > 100) {
		return nil, invalid("Invalid value: %d, valid memory swappiness range is 0-100", *sw)
	}
	var m specs.LinuxMemory
	set := false
	if r.Memory > 0 {
		limit := r.Memory
		m.Limit = &limit
		swap := r.MemorySwap
		if swap == 0 {
			swap = 2 * limit // Docker's default: as much swap as memory
		}
		m.Swap = &swap
		set = true
	} else if r.MemorySwap == -1 {
		swap := int64(-1)
		m.Swap = &swap
		set = true
	}
	if r.MemoryReservation > 0 {
		res := r.MemoryReservation
		m.Reservation = &res
		set = true
	}
	if sw != nil && *sw != -1 {
		v := uint64(*sw)
		m.Swappiness = &v
		set = true
	}
	if r.OomKillDisable {
		t := true
		m.DisableOOMKiller = &t
		set = true
	}
	if !set {
		return nil, nil
	}
	return &m, nil
}

func cpu(r *Resources) (*specs.LinuxCPU, error) {
	switch {
	case r.NanoCPUs < 0:
		return nil, invalid("--cpus %d must not be negative", r.NanoCPUs)
	case r.NanoCPUs > 0 && r.NanoCPUs < 1e7:
		// Below 1% of a CPU the CFS quota would be under its 1ms minimum.
		return nil, invalid("--cpus %.3f: the minimum is 0.01", float64(r.NanoCPUs)/1e9)
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return nil, invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return nil, invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < minCFSPeriod || r.CPUPeriod > maxCFSPeriod):
		return nil, invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < minCFSQuota:
		return nil, invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	for _, s := range []struct{ flag, v string }{{"--cpuset-cpus", r.CpusetCpus}, {"--cpuset-mems", r.CpusetMems}} {
		if s.v != "" && !validCPUList(s.v) {
			return nil, invalid("Invalid value %s for %s", s.v, s.flag)
		}
	}
	var c specs.LinuxCPU
	set := false
	if r.CPUShares != 0 {
		// Docker clamps rather than refuses.
		sh := min(max(r.CPUShares, minCPUShares), maxCPUShares)
		v := uint64(sh)
		c.Shares = &v
		set = true
	}
	if r.NanoCPUs > 0 {
		period := uint64(defaultPeriod)
		quota := r.NanoCPUs * defaultPeriod / 1e9
		c.Period, c.Quota = &period, &quota
		set = true
	}
	if r.CPUPeriod > 0 {
		p := uint64(r.CPUPeriod)
		c.Period = &p
		set = true
	}
	if r.CPUQuota != 0 {
		q := r.CPUQuota
		c.Quota = &q
		set = true
	}
	if r.CpusetCpus != "" || r.CpusetMems != "" {
		c.Cpus, c.Mems = r.CpusetCpus, r.CpusetMems
		set = true
	}
	if !set {
		return nil, nil
	}
	return &c, nil
}

// validCPUList checks the cpuset list syntax: "0-3,5,7-8".
func validCPUList(s string) bool {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return false
		}
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 16)
			if err != nil || b < a {
				return false
			}
		}
	}
	return true
}

func i64(v int64) *int64 { return &v }

// defaultDeviceRules deny every device, then allow the ones every container
// has (the rules Docker's containers get from runc): mknod of any device,
// null, random, full, tty, zero, urandom, console, the ptys, ptmx and tun.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
	}
	for _, d := range [][2]int64{{1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 1}, {136, -1}, {5, 2}, {10, 200}} {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(d[0]), Access: "rwm"}
		if d[1] >= 0 {
			r.Minor = i64(d[1])
		}
		rules = append(rules, r)
	}
	return rules
}

// devices converts --device into device nodes and their cgroup rules,
// after the default rules. A privileged container may use every device.
func devices(in []Device, privileged bool) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var rules []specs.LinuxDeviceCgroup
	if privileged {
		rules = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "a", Access: "rwm"}}
	} else {
		rules = defaultDeviceRules()
	}
	var devs []specs.LinuxDevice
	seen := map[string]bool{}
	for _, d := range in {
		p := d.PathInContainer
		if p == "" {
			p = d.PathOnHost
		}
		if !path.IsAbs(p) {
			return nil, nil, invalid("device %q: path in the container %q must be absolute", d.PathOnHost, p)
		}
		p = path.Clean(p)
		if seen[p] {
			return nil, nil, invalid("device %q: %s is given twice", d.PathOnHost, p)
		}
		seen[p] = true
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return nil, nil, invalid("device %q: type %q is not c, b, u or p", d.PathOnHost, d.Type)
		}
		perms := d.CgroupPermissions
		if perms == "" {
			perms = "rwm"
		}
		if strings.Trim(perms, "rwm") != "" {
			return nil, nil, invalid("device %q: permissions %q are not a combination of r, w and m", d.PathOnHost, d.CgroupPermissions)
		}
		uid, gid := d.UID, d.GID
		dev := specs.LinuxDevice{Path: p, Type: d.Type, Major: d.Major, Minor: d.Minor, UID: &uid, GID: &gid}
		if d.FileMode != 0 {
			fm := os.FileMode(d.FileMode)
			dev.FileMode = &fm
		}
		devs = append(devs, dev)
		if !privileged && d.Type != "p" {
			rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: i64(d.Major), Minor: i64(d.Minor), Access: perms})
		}
	}
	return devs, rules, nil
}

// rlimitNames are the --ulimit names and their resources.
var rlimitNames = map[string]string{
	"as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
	"fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
	"msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
	"nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}

// rlimits converts --ulimit; a later setting of a resource replaces an
// earlier one. -1 is unlimited.
func rlimits(in []Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	index := map[string]int{}
	for _, u := range in {
		name, ok := rlimitNames[strings.ToLower(strings.TrimPrefix(strings.ToUpper(u.Name), "RLIMIT_"))]
		if !ok {
			return nil, invalid("ulimit %q: unknown resource", u.Name)
		}
		if u.Soft < -1 || u.Hard < -1 {
			return nil, invalid("ulimit %s: limits must be -1 (unlimited) or at least 0", u.Name)
		}
		soft, hard := uint64(u.Soft), uint64(u.Hard) // -1 becomes RLIM_INFINITY
		if soft > hard {
			return nil, invalid("ulimit %s: soft limit %d must be less than or equal to hard limit %d", u.Name, u.Soft, u.Hard)
		}
		rl := specs.POSIXRlimit{Type: name, Soft: soft, Hard: hard}
		if i, ok := index[name]; ok {
			out[i] = rl
			continue
		}
		index[name] = len(out)
		out = append(out, rl)
	}
	return out, nil
}

package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	goruntime "runtime"

	"github.com/opencontainers/cgroups"

	"github.com/berth-dev/berth/specgen"
)

// ExecIDs lists the execs of a container.
func (e *Engine) ExecIDs(ref string) []string {
	x, err := e.get(ref)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []string{}
	for id, ex := range e.execs {
		if ex.ContainerID == x.c.ID {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Size returns the bytes a container wrote (its writable layer) and the
// size of its whole root file system (image plus writes).
func (e *Engine) Size(ref string) (rw, rootfs int64, err error) {
	x, err := e.get(ref)
	if err != nil {
		return 0, 0, err
	}
	rw, err = e.layers.ActiveSize(x.c.ID)
	if err != nil {
		return 0, 0, err
	}
	rootfs = rw
	if img, err := e.images.Get(string(x.c.ImageID)); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs, nil
}

// Top runs ps on the host with psArgs (default -ef) and keeps the lines of
// the container's processes, as Docker does.
func (e *Engine) Top(ref, psArgs string) (titles []string, procs [][]string, err error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, nil, err
	}
	x.mu.Lock()
	running := x.c.State.Running()
	id := x.c.ID
	x.mu.Unlock()
	if !running {
		return nil, nil, errNotRunning(id)
	}
	pids, err := e.rt.Pids(id)
	if err != nil {
		return nil, nil, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.Command("ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return nil, nil, errInvalid("ps %s: %v", psArgs, err)
	}
	return filterPS(out, pids)
}

// filterPS keeps ps output lines whose PID column is one of pids.
func filterPS(out []byte, pids []int) ([]string, [][]string, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 {
		return nil, nil, errInvalid("ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	col := -1
	for i, t := range titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return nil, nil, errInvalid("Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	var procs [][]string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !want[pid] {
			continue
		}
		// The last column (the command) may hold spaces.
		if len(f) > len(titles) {
			f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		}
		procs = append(procs, f)
	}
	return titles, procs, nil
}

// Stats is one sample of a container's resource use.
type Stats struct {
	Read                                      time.Time
	CPUTotal, CPUKernel, CPUUser              uint64 // ns
	PerCPU                                    []uint64
	SystemCPU                                 uint64 // ns, the host's, from /proc/stat
	OnlineCPUs                                uint32
	ThrottlePeriods, Throttled, ThrottledTime uint64
	MemUsage, MemMaxUsage, MemLimit, MemFail  uint64
	MemStats                                  map[string]uint64
	PidsCurrent, PidsLimit                    uint64
	BlkioBytes, BlkioOps                      []BlkioEntry
}

// BlkioEntry is one block device counter.
type BlkioEntry struct {
	Major, Minor uint64
	Op           string
	Value        uint64
}

// Stats samples a running container's cgroup.
func (e *Engine) Stats(ref string) (*Stats, error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	running := x.c.State.Running()
	id := x.c.ID
	x.mu.Unlock()
	if !running {
		return nil, errNotRunning(id)
	}
	cs, err := e.rt.Stats(id)
	if err != nil {
		return nil, err
	}
	return convertStats(cs), nil
}

func convertStats(cs *cgroups.Stats) *Stats {
	st := &Stats{
		Read:       now(),
		CPUTotal:   cs.CpuStats.CpuUsage.TotalUsage,
		CPUKernel:  cs.CpuStats.CpuUsage.UsageInKernelmode,
		CPUUser:    cs.CpuStats.CpuUsage.UsageInUsermode,
		PerCPU:     cs.CpuStats.CpuUsage.PercpuUsage,
		OnlineCPUs: uint32(goruntime.NumCPU()),

		ThrottlePeriods: cs.CpuStats.ThrottlingData.Periods,
		Throttled:       cs.CpuStats.ThrottlingData.ThrottledPeriods,
		ThrottledTime:   cs.CpuStats.ThrottlingData.ThrottledTime,

		MemUsage:    cs.MemoryStats.Usage.Usage,
		MemMaxUsage: cs.MemoryStats.Usage.MaxUsage,
		MemLimit:    cs.MemoryStats.Usage.Limit,
		MemFail:     cs.MemoryStats.Usage.Failcnt,
		MemStats:    cs.MemoryStats.Stats,

		PidsCurrent: cs.PidsStats.Current,
		PidsLimit:   cs.PidsStats.Limit,
	}
	st.SystemCPU = systemCPU()
	// An unlimited cgroup reports a huge limit: Docker shows the host's
	// memory instead.
	if total := hostMemory(); total > 0 && (st.MemLimit == 0 || st.MemLimit > total) {
		st.MemLimit = total
	}
	for _, b := range cs.BlkioStats.IoServiceBytesRecursive {
		st.BlkioBytes = append(st.BlkioBytes, BlkioEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	for _, b := range cs.BlkioStats.IoServicedRecursive {
		st.BlkioOps = append(st.BlkioOps, BlkioEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	return st
}

// systemCPU is the host's total CPU time in ns (the "cpu" line of
// /proc/stat, in clock ticks of 1/100 s), as Docker reports it.
func systemCPU() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range f[1:8] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		return ticks * (1e9 / 100)
	}
	return 0
}

func hostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// UpdateRequest is docker update: resources and the restart policy.
type UpdateRequest struct {
	Resources     specgen.Resources
	RestartPolicy *RestartPolicy
}

// Update changes a container's limits (live, when it runs) and restart
// policy. Zero fields keep their values.
func (e *Engine) Update(ref string, u UpdateRequest) ([]string, error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.c
	merged := mergeResources(c.HostConfig.Resources, u.Resources)
	if u.RestartPolicy != nil {
		c.HostConfig.RestartPolicy = *u.RestartPolicy
	}
	c.HostConfig.Resources = merged
	if err := e.validate(&c); err != nil {
		return nil, err
	}
	if c.State.Running() {
		lr, err := specgen.LinuxResources(merged)
		if err != nil {
			return nil, err
		}
		if err := e.rt.Update(c.ID, lr); err != nil {
			return nil, fmt.Errorf("Cannot update container %s: %w", c.ID, err)
		}
	}
	x.c.HostConfig = c.HostConfig
	if err := e.save(x); err != nil {
		return nil, err
	}
	snap := x.c
	go e.event(&snap, "update", nil)
	return []string{}, nil
}

func mergeResources(cur, upd specgen.Resources) specgen.Resources {
	set := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	set(&cur.Memory, upd.Memory)
	set(&cur.MemorySwap, upd.MemorySwap)
	set(&cur.MemoryReservation, upd.MemoryReservation)
	set(&cur.NanoCPUs, upd.NanoCPUs)
	set(&cur.CPUShares, upd.CPUShares)
	set(&cur.CPUPeriod, upd.CPUPeriod)
	set(&cur.CPUQuota, upd.CPUQuota)
	if upd.CpusetCpus != "" {
		cur.CpusetCpus = upd.CpusetCpus
	}
	if upd.CpusetMems != "" {
		cur.CpusetMems = upd.CpusetMems
	}
	if upd.PidsLimit != nil {
		cur.PidsLimit = upd.PidsLimit
	}
	if upd.BlkioWeight != 0 {
		cur.BlkioWeight = upd.BlkioWeight
	}
	if upd.MemorySwappiness != nil {
		cur.MemorySwappiness = upd.MemorySwappiness
	}
	return cur
}

package runtime

import (
	"os"
	"syscall"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime/cgroup"
)

// cgroupHandle is what the runtime needs of a container's cgroup.
type cgroupHandle interface {
	Apply(pid int) error
	Set(res *specs.LinuxResources) error
	AddPid(pid int) error
	Paths() map[string]string
	Pids() ([]int, error)
	Freeze() error
	Thaw() error
	Frozen() (bool, error)
	Stats() (*cgroups.Stats, error)
	Destroy() error
	TaskFiles() ([]*os.File, error)
	NeedsUnifiedJoin(res *specs.LinuxResources) bool
	JoinUnified(pid int) error
}

func newCgroup(path, id string, res *specs.LinuxResources) (cgroupHandle, error) {
	return cgroup.New(path, id, res)
}

func loadCgroup(rec *record) (cgroupHandle, error) {
	return cgroup.Load(rec.CgroupPaths)
}

// ExitStatus turns a wait status into a shell-style exit status: the exit
// code, or 128+N for a process killed by signal N.
func ExitStatus(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func i64(v int64) *int64 { return &v }

// defaultDevices are created in every container's /dev and allowed by its
// device cgroup, as in runc and Docker.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// withDefaultDeviceRules returns the container's resources with allow rules
// appended for the default devices, /dev/pts, /dev/ptmx and every device in
// linux.devices, so that a config that denies all devices still gets a usable
// /dev. The spec itself is not changed.
func withDefaultDeviceRules(spec *specs.Spec) *specs.LinuxResources {
	var res specs.LinuxResources
	if spec.Linux.Resources != nil {
		res = *spec.Linux.Resources
	}
	rules := append([]specs.LinuxDeviceCgroup(nil), res.Devices...)
	allow := func(typ string, major, minor int64) {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: i64(major), Minor: i64(minor), Access: "rwm"})
	}
	for _, d := range defaultDevices {
		allow(d.Type, d.Major, d.Minor)
	}
	allow("c", 136, -1) // /dev/pts/*
	allow("c", 5, 2)    // /dev/ptmx
	for _, d := range spec.Linux.Devices {
		t := d.Type
		if t == "u" {
			t = "c"
		}
		if t == "p" {
			continue
		}
		allow(t, d.Major, d.Minor)
	}
	res.Devices = rules
	return &res
}

// mergeResources overlays the non-nil parts of upd on cur.
func mergeResources(cur, upd *specs.LinuxResources) *specs.LinuxResources {
	out := *cur
	if upd == nil {
		return &out
	}
	if upd.Memory != nil {
		m := specs.LinuxMemory{}
		if cur.Memory != nil {
			m = *cur.Memory
		}
		u := upd.Memory
		setI64(&m.Limit, u.Limit)
		setI64(&m.Reservation, u.Reservation)
		setI64(&m.Swap, u.Swap)
		if u.Swappiness != nil {
			m.Swappiness = u.Swappiness
		}
		if u.DisableOOMKiller != nil {
			m.DisableOOMKiller = u.DisableOOMKiller
		}
		if u.CheckBeforeUpdate != nil {
			m.CheckBeforeUpdate = u.CheckBeforeUpdate
		}
		out.Memory = &m
	}
	if upd.CPU != nil {
		c := specs.LinuxCPU{}
		if cur.CPU != nil {
			c = *cur.CPU
		}
		u := upd.CPU
		if u.Shares != nil {
			c.Shares = u.Shares
		}
		setI64(&c.Quota, u.Quota)
		if u.Period != nil {
			c.Period = u.Period
		}
		if u.Burst != nil {
			c.Burst = u.Burst
		}
		setI64(&c.RealtimeRuntime, u.RealtimeRuntime)
		if u.RealtimePeriod != nil {
			c.RealtimePeriod = u.RealtimePeriod
		}
		if u.Cpus != "" {
			c.Cpus = u.Cpus
		}
		if u.Mems != "" {
			c.Mems = u.Mems
		}
		setI64(&c.Idle, u.Idle)
		out.CPU = &c
	}
	if upd.Pids != nil {
		out.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		out.BlockIO = upd.BlockIO
	}
	if upd.HugepageLimits != nil {
		out.HugepageLimits = upd.HugepageLimits
	}
	if upd.Network != nil {
		out.Network = upd.Network
	}
	if upd.Unified != nil {
		out.Unified = upd.Unified
	}
	if upd.Devices != nil {
		out.Devices = upd.Devices
	}
	return &out
}

func setI64(dst **int64, v *int64) {
	if v != nil {
		*dst = v
	}
}

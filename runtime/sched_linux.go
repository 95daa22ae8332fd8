package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes beyond credentials: personality, I/O priority,
// scheduling policy, CPU affinity and NUMA memory policy.

// cpuSetSize is the number of CPUs a unix.CPUSet holds.
const cpuSetSize = int(unsafe.Sizeof(unix.CPUSet{})) * 8

var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux:   0x0000, // PER_LINUX
	specs.PerLinux32: 0x0008, // PER_LINUX32
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

var mempolicyModes = map[specs.MemoryPolicyModeType]int{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

var mempolicyFlags = map[specs.MemoryPolicyFlagType]int{
	specs.MpolFNumaBalancing: 1 << 13, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFStaticNodes: 1 << 15,
}

// parseCPUList reads "0-3,6" into a set of numbers below limit.
func parseCPUList(s string, limit int) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a list like 0-3,6", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a list like 0-3,6", s)
			}
		}
		if b >= limit {
			return nil, fmt.Errorf("%q: %d is out of range", s, b)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

func validateProcessAttrs(p *specs.Process, l *specs.Linux) error {
	if p.IOPriority != nil {
		if _, ok := ioprioClasses[p.IOPriority.Class]; !ok {
			return invalid("process.ioPriority.class %q is not valid", p.IOPriority.Class)
		}
		if p.IOPriority.Priority < 0 || p.IOPriority.Priority > 7 {
			return invalid("process.ioPriority.priority %d is not in 0-7", p.IOPriority.Priority)
		}
	}
	if sc := p.Scheduler; sc != nil {
		if _, ok := schedPolicies[sc.Policy]; !ok {
			return invalid("process.scheduler.policy %q is not valid", sc.Policy)
		}
		for _, f := range sc.Flags {
			if _, ok := schedFlags[f]; !ok {
				return invalid("process.scheduler.flags: %q is not valid", f)
			}
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, s := range []string{a.Initial, a.Final} {
			if s == "" {
				continue
			}
			if _, err := parseCPUList(s, cpuSetSize); err != nil {
				return invalid("process.execCPUAffinity: %v", err)
			}
		}
	}
	if l == nil {
		return nil
	}
	if l.Personality != nil {
		if _, ok := personalities[l.Personality.Domain]; !ok {
			return invalid("linux.personality.domain %q is not valid", l.Personality.Domain)
		}
		if len(l.Personality.Flags) > 0 {
			return invalid("linux.personality.flags: no flags are defined")
		}
	}
	if mp := l.MemoryPolicy; mp != nil {
		if _, ok := mempolicyModes[mp.Mode]; !ok {
			return invalid("linux.memoryPolicy.mode %q is not valid", mp.Mode)
		}
		for _, f := range mp.Flags {
			if _, ok := mempolicyFlags[f]; !ok {
				return invalid("linux.memoryPolicy.flags: %q is not valid", f)
			}
		}
		if mp.Nodes != "" {
			if _, err := parseCPUList(mp.Nodes, 1024); err != nil {
				return invalid("linux.memoryPolicy.nodes: %v", err)
			}
		}
	}
	if len(l.NetDevices) > 0 {
		return invalid("linux.netDevices is not supported yet")
	}
	if l.IntelRdt != nil {
		return invalid("linux.intelRdt is not supported: this runtime does not manage resctrl")
	}
	return nil
}

// applyProcessAttrs runs in the init process before privileges are dropped
// (a real-time policy needs CAP_SYS_NICE).
func applyProcessAttrs(p *specs.Process, l *specs.Linux) error {
	if l != nil && l.Personality != nil {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, personalities[l.Personality.Domain], 0, 0); e != 0 {
			return fmt.Errorf("personality %s: %w", l.Personality.Domain, e)
		}
	}
	if io := p.IOPriority; io != nil {
		const ioprioWhoProcess = 1
		prio := ioprioClasses[io.Class]<<13 | io.Priority
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(prio)); e != 0 {
			return fmt.Errorf("ioprio_set %s/%d: %w", io.Class, io.Priority, e)
		}
	}
	if sc := p.Scheduler; sc != nil {
		attr := &unix.SchedAttr{
			Size: unix.SizeofSchedAttr, Policy: schedPolicies[sc.Policy], Nice: sc.Nice,
			Priority: uint32(sc.Priority), Runtime: sc.Runtime, Deadline: sc.Deadline, Period: sc.Period,
		}
		for _, f := range sc.Flags {
			attr.Flags |= schedFlags[f]
		}
		if err := unix.SchedSetAttr(0, attr, 0); err != nil {
			return fmt.Errorf("sched_setattr %s: %w", sc.Policy, err)
		}
	}
	if l != nil && l.MemoryPolicy != nil {
		if err := setMempolicy(l.MemoryPolicy); err != nil {
			return err
		}
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		if err := setAffinity(0, a.Final); err != nil {
			return err
		}
	}
	return nil
}

func setAffinity(pid int, list string) error {
	cpus, err := parseCPUList(list, cpuSetSize)
	if err != nil {
		return err
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		return fmt.Errorf("CPU affinity %s: %w", list, err)
	}
	return nil
}

func setMempolicy(mp *specs.LinuxMemoryPolicy) error {
	mode := mempolicyModes[mp.Mode]
	for _, f := range mp.Flags {
		mode |= mempolicyFlags[f]
	}
	var mask [1024 / 64]uint64
	maxNode := 0
	if mp.Nodes != "" {
		nodes, _ := parseCPUList(mp.Nodes, 1024)
		for _, n := range nodes {
			mask[n/64] |= 1 << (n % 64)
		}
		maxNode = 1024
	}
	var maskPtr uintptr
	if maxNode > 0 {
		maskPtr = uintptr(unsafe.Pointer(&mask[0]))
	}
	if _, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), maskPtr, uintptr(maxNode)); e != 0 {
		return fmt.Errorf("set_mempolicy %s %s: %w", mp.Mode, mp.Nodes, e)
	}
	return nil
}

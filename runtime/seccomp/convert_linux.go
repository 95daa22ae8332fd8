//go:build cgo

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// This file holds the pure parts of the conversion: spec strings to
// libseccomp values and kernel flags. Nothing here touches a filter or the
// kernel.

// maxSyscallArgs is the number of syscall arguments seccomp can inspect.
const maxSyscallArgs = 6

// maxRetData is the largest value that fits in SECCOMP_RET_DATA, where
// SCMP_ACT_ERRNO and SCMP_ACT_TRACE carry their errno/message.
const maxRetData = 0xffff

// flagTSync is not among the runtime-spec constants but runc accepts it.
const flagTSync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

var actions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread, // SCMP_ACT_KILL is the historical name of KILL_THREAD
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
	specs.ActNotify:      libseccomp.ActNotify,
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

var arches = map[specs.Arch]libseccomp.ScmpArch{
	specs.ArchX86:         libseccomp.ArchX86,
	specs.ArchX86_64:      libseccomp.ArchAMD64,
	specs.ArchX32:         libseccomp.ArchX32,
	specs.ArchARM:         libseccomp.ArchARM,
	specs.ArchAARCH64:     libseccomp.ArchARM64,
	specs.ArchMIPS:        libseccomp.ArchMIPS,
	specs.ArchMIPS64:      libseccomp.ArchMIPS64,
	specs.ArchMIPS64N32:   libseccomp.ArchMIPS64N32,
	specs.ArchMIPSEL:      libseccomp.ArchMIPSEL,
	specs.ArchMIPSEL64:    libseccomp.ArchMIPSEL64,
	specs.ArchMIPSEL64N32: libseccomp.ArchMIPSEL64N32,
	specs.ArchPPC:         libseccomp.ArchPPC,
	specs.ArchPPC64:       libseccomp.ArchPPC64,
	specs.ArchPPC64LE:     libseccomp.ArchPPC64LE,
	specs.ArchS390:        libseccomp.ArchS390,
	specs.ArchS390X:       libseccomp.ArchS390X,
	specs.ArchPARISC:      libseccomp.ArchPARISC,
	specs.ArchPARISC64:    libseccomp.ArchPARISC64,
	specs.ArchRISCV64:     libseccomp.ArchRISCV64,
	specs.ArchLOONGARCH64: libseccomp.ArchLOONGARCH64,
	specs.ArchM68K:        libseccomp.ArchM68K,
	specs.ArchSH:          libseccomp.ArchSH,
	specs.ArchSHEB:        libseccomp.ArchSHEB,
}

var flags = map[specs.LinuxSeccompFlag]uintptr{
	flagTSync:                              unix.SECCOMP_FILTER_FLAG_TSYNC,
	specs.LinuxSeccompFlagLog:              unix.SECCOMP_FILTER_FLAG_LOG,
	specs.LinuxSeccompFlagSpecAllow:        unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
	specs.LinuxSeccompFlagWaitKillableRecv: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

// convertAction maps a spec action (plus its optional errnoRet) to the
// libseccomp action. errnoField names the errno field in errors.
func convertAction(act specs.LinuxSeccompAction, errnoRet *uint, errnoField string) (libseccomp.ScmpAction, error) {
	if act == "" {
		return libseccomp.ActInvalid, fmt.Errorf("action is empty")
	}
	a, ok := actions[act]
	if !ok {
		return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", act)
	}
	if a != libseccomp.ActErrno && a != libseccomp.ActTrace {
		if errnoRet != nil {
			return libseccomp.ActInvalid, fmt.Errorf("%s %d given with action %s, which takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)", errnoField, *errnoRet, act)
		}
		return a, nil
	}
	code := uint(unix.EPERM)
	if errnoRet != nil {
		code = *errnoRet
		if code > maxRetData {
			return libseccomp.ActInvalid, fmt.Errorf("%s %d out of range (max %d)", errnoField, code, maxRetData)
		}
	}
	return a.SetReturnCode(int16(code)), nil // 16 bits; wraps above 32767, which SetReturnCode masks back
}

// convertArch maps a spec architecture name to libseccomp's token.
func convertArch(arch specs.Arch) (libseccomp.ScmpArch, error) {
	a, ok := arches[arch]
	if !ok {
		return libseccomp.ArchInvalid, fmt.Errorf("unknown architecture %q", arch)
	}
	return a, nil
}

// convertArg maps one spec argument condition to a libseccomp condition.
func convertArg(arg specs.LinuxSeccompArg) (libseccomp.ScmpCondition, error) {
	if arg.Index >= maxSyscallArgs {
		return libseccomp.ScmpCondition{}, fmt.Errorf("index %d out of range (0-%d)", arg.Index, maxSyscallArgs-1)
	}
	if arg.Op == "" {
		return libseccomp.ScmpCondition{}, fmt.Errorf("op is empty")
	}
	op, ok := operators[arg.Op]
	if !ok {
		return libseccomp.ScmpCondition{}, fmt.Errorf("unknown operator %q", arg.Op)
	}
	if op == libseccomp.CompareMaskedEqual {
		// (arg & value) == valueTwo
		return libseccomp.MakeCondition(arg.Index, op, arg.Value, arg.ValueTwo)
	}
	if arg.ValueTwo != 0 {
		return libseccomp.ScmpCondition{}, fmt.Errorf("valueTwo %#x given with operator %s (only SCMP_CMP_MASKED_EQ uses it)", arg.ValueTwo, arg.Op)
	}
	return libseccomp.MakeCondition(arg.Index, op, arg.Value)
}

// conditionSets converts a rule's argument conditions into the condition
// lists to install, one libseccomp rule per list. Without conditions the
// result is a single empty list (an unconditional rule). libseccomp rejects
// two conditions on the same argument in one rule; like runc, if any
// argument is constrained more than once, every condition becomes its own
// rule (OR semantics). Otherwise all conditions stay in one rule (AND).
func conditionSets(args []specs.LinuxSeccompArg) ([][]libseccomp.ScmpCondition, error) {
	if len(args) == 0 {
		return [][]libseccomp.ScmpCondition{nil}, nil
	}
	conds := make([]libseccomp.ScmpCondition, 0, len(args))
	var perIndex [maxSyscallArgs]int
	split := false
	for i, arg := range args {
		c, err := convertArg(arg)
		if err != nil {
			return nil, fmt.Errorf("args[%d]: %w", i, err)
		}
		perIndex[arg.Index]++
		if perIndex[arg.Index] > 1 {
			split = true
		}
		conds = append(conds, c)
	}
	if !split {
		return [][]libseccomp.ScmpCondition{conds}, nil
	}
	sets := make([][]libseccomp.ScmpCondition, 0, len(conds))
	for _, c := range conds {
		sets = append(sets, []libseccomp.ScmpCondition{c})
	}
	return sets, nil
}

// filterFlags turns the spec's flags into seccomp(2) SECCOMP_FILTER_FLAG_*
// bits. notify says whether the filter will carry SCMP_ACT_NOTIFY rules, in
// which case a listener is requested. WAIT_KILLABLE_RECV only means something
// with a listener (the kernel rejects it otherwise), so without one it is
// dropped, as libseccomp does.
func filterFlags(specFlags []specs.LinuxSeccompFlag, notify bool) (uintptr, error) {
	var out uintptr
	for _, f := range specFlags {
		bit, ok := flags[f]
		if !ok {
			return 0, fmt.Errorf("unknown flag %q", f)
		}
		out |= bit
	}
	if !notify {
		return out &^ unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, nil
	}
	out |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	if out&unix.SECCOMP_FILTER_FLAG_TSYNC != 0 {
		// TSYNC and NEW_LISTENER are only allowed together when TSYNC
		// failures are reported as ESRCH rather than as a thread id.
		out |= unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	return out, nil
}

// flagNames is the reverse of flags, for error messages about kernel support.
var flagNames = map[uintptr]string{
	unix.SECCOMP_FILTER_FLAG_TSYNC:              string(flagTSync),
	unix.SECCOMP_FILTER_FLAG_LOG:                string(specs.LinuxSeccompFlagLog),
	unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW:         string(specs.LinuxSeccompFlagSpecAllow),
	unix.SECCOMP_FILTER_FLAG_NEW_LISTENER:       "SECCOMP_FILTER_FLAG_NEW_LISTENER (needed by SCMP_ACT_NOTIFY)",
	unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH:        "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (needed by SECCOMP_FILTER_FLAG_TSYNC with SCMP_ACT_NOTIFY)",
	unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: string(specs.LinuxSeccompFlagWaitKillableRecv),
}

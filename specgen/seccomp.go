package specgen

import (
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// profile is a seccomp profile in Docker's format: the runtime-spec's, plus
// an architecture map and syscall rules that apply only with (or without)
// some capabilities, on some architectures or from some kernel version on.
type profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []archMap                `json:"archMap,omitempty"`
	Syscalls         []syscallRule            `json:"syscalls"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
}

// archMap is an architecture and the ones its processes may also use
// (x86_64 runs x86 and x32 code).
type archMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

type syscallRule struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *filter                  `json:"includes,omitempty"`
	Excludes *filter                  `json:"excludes,omitempty"`
}

// filter selects the containers a rule applies to (includes: all conditions
// hold) or does not apply to (excludes: any condition holds). Arches are Go's
// names (amd64, arm64, s390x); MinKernel is "major.minor".
type filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// seccompEnv is what a profile is judged against.
type seccompEnv struct {
	caps   []string // the container's capabilities (bounding set)
	goarch string   // Go's name of the host architecture
	kernel string   // the host kernel's release; "" unknown
}

var seccompActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true, specs.ActTrap: true,
	specs.ActErrno: true, specs.ActTrace: true, specs.ActAllow: true, specs.ActLog: true, specs.ActNotify: true,
}

var seccompOps = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true, specs.OpEqualTo: true,
	specs.OpGreaterEqual: true, specs.OpGreaterThan: true, specs.OpMaskedEqual: true,
}

// nativeArch maps Go's architecture names to seccomp's.
var nativeArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "386": specs.ArchX86, "arm64": specs.ArchAARCH64, "arm": specs.ArchARM,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
	"mips64le": specs.ArchMIPSEL64, "mips64": specs.ArchMIPS64, "loong64": specs.ArchLOONGARCH64,
}

// seccompFor picks the container's filter: none for "unconfined" or a
// privileged container without an explicit profile, Docker's default for "",
// else the profile given as JSON.
func seccompFor(o *Options, caps []string) (*specs.LinuxSeccomp, error) {
	if o.KernelVersion != "" {
		if _, _, err := majorMinor(o.KernelVersion); err != nil {
			return nil, invalid("kernel version %q: want major.minor[.patch...]", o.KernelVersion)
		}
	}
	env := seccompEnv{caps: caps, goarch: goruntime.GOARCH, kernel: o.KernelVersion}
	switch o.Seccomp {
	case "unconfined":
		return nil, nil
	case "", "builtin":
		if o.Privileged {
			return nil, nil
		}
		return convertProfile(defaultProfile(), env)
	}
	var p profile
	if err := json.Unmarshal([]byte(o.Seccomp), &p); err != nil {
		return nil, invalid("seccomp profile: decoding JSON: %v", err)
	}
	return convertProfile(&p, env)
}

// convertProfile turns a Docker profile into the runtime-spec filter for one
// container, keeping the rules whose conditions hold.
func convertProfile(p *profile, env seccompEnv) (*specs.LinuxSeccomp, error) {
	if p.DefaultAction == "" {
		return nil, invalid("seccomp profile: defaultAction is required")
	}
	if !seccompActions[p.DefaultAction] {
		return nil, invalid("seccomp profile: unknown defaultAction %q", p.DefaultAction)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, invalid("seccomp profile: both architectures and archMap are given; use one")
	}
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    append([]specs.Arch(nil), p.Architectures...),
		Flags:            append([]specs.LinuxSeccompFlag(nil), p.Flags...),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	native := nativeArch[env.goarch]
	for _, a := range p.ArchMap {
		if a.Arch == native {
			out.Architectures = append(out.Architectures, a.Arch)
			out.Architectures = append(out.Architectures, a.SubArches...)
		}
	}
	for i, r := range p.Syscalls {
		names := r.Names
		switch {
		case r.Name != "" && len(r.Names) > 0:
			return nil, invalid("seccomp profile: syscalls[%d]: both name and names are given; use one", i)
		case r.Name != "":
			names = []string{r.Name}
		case len(names) == 0:
			return nil, invalid("seccomp profile: syscalls[%d]: no names", i)
		}
		if !seccompActions[r.Action] {
			return nil, invalid("seccomp profile: syscalls[%d] (%s): unknown action %q", i, names[0], r.Action)
		}
		for _, a := range r.Args {
			if !seccompOps[a.Op] {
				return nil, invalid("seccomp profile: syscalls[%d] (%s): unknown operator %q", i, names[0], a.Op)
			}
			if a.Index > 5 {
				return nil, invalid("seccomp profile: syscalls[%d] (%s): argument index %d is above 5", i, names[0], a.Index)
			}
		}
		ok, err := applies(r, env)
		if err != nil {
			return nil, invalid("seccomp profile: syscalls[%d] (%s): %v", i, names[0], err)
		}
		if !ok {
			continue
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:    append([]string(nil), names...),
			Action:   r.Action,
			ErrnoRet: r.ErrnoRet,
			Args:     append([]specs.LinuxSeccompArg(nil), r.Args...),
		})
	}
	return out, nil
}

// applies reports whether a rule's includes all hold and none of its
// excludes does. An unknown kernel version fails a minKernel include and
// does not trigger a minKernel exclude.
func applies(r syscallRule, env seccompEnv) (bool, error) {
	if in := r.Includes; in != nil {
		if len(in.Arches) > 0 && !contains(in.Arches, env.goarch) {
			return false, nil
		}
		for _, c := range in.Caps {
			if !contains(env.caps, c) {
				return false, nil
			}
		}
		if in.MinKernel != "" {
			ge, err := kernelAtLeast(env.kernel, in.MinKernel)
			if err != nil || !ge {
				return false, err
			}
		}
	}
	if ex := r.Excludes; ex != nil {
		if contains(ex.Arches, env.goarch) {
			return false, nil
		}
		for _, c := range ex.Caps {
			if contains(env.caps, c) {
				return false, nil
			}
		}
		if ex.MinKernel != "" {
			ge, err := kernelAtLeast(env.kernel, ex.MinKernel)
			if err != nil || ge {
				return false, err
			}
		}
	}
	return true, nil
}

// kernelAtLeast compares a kernel release ("6.1.0-13-amd64") with a
// "major.minor" minimum; an unknown ("") release is never at least.
func kernelAtLeast(release, min string) (bool, error) {
	wantMaj, wantMin, err := majorMinor(min)
	if err != nil {
		return false, fmt.Errorf("minKernel %q: want major.minor", min)
	}
	if release == "" {
		return false, nil
	}
	maj, mnr, err := majorMinor(release)
	if err != nil {
		return false, fmt.Errorf("kernel version %q: want major.minor[.patch]", release)
	}
	return maj > wantMaj || (maj == wantMaj && mnr >= wantMin), nil
}

func majorMinor(v string) (int, int, error) {
	maj, rest, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, fmt.Errorf("no minor version")
	}
	mnr := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mnr = rest[:i]
	}
	a, err := strconv.Atoi(maj)
	if err != nil {
		return 0, 0, err
	}
	b, err := strconv.Atoi(mnr)
	if err != nil {
		return 0, 0, err
	}
	return a, b, nil
}

package specgen

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rulesFor returns the rules that name a system call.
func rulesFor(sc *specs.LinuxSeccomp, name string) []specs.LinuxSyscall {
	var out []specs.LinuxSyscall
	for _, r := range sc.Syscalls {
		if contains(r.Names, name) {
			out = append(out, r)
		}
	}
	return out
}

// allowedAlways reports whether a rule allows name whatever its arguments.
func allowedAlways(sc *specs.LinuxSeccomp, name string) bool {
	for _, r := range rulesFor(sc, name) {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			return true
		}
	}
	return false
}

func defaultFor(t *testing.T, goarch, kernel string, caps []string) *specs.LinuxSeccomp {
	t.Helper()
	sc, err := convertProfile(defaultProfile(), seccompEnv{caps: caps, goarch: goarch, kernel: kernel})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestDefaultSeccompProfile(t *testing.T) {
	sc := defaultFor(t, "amd64", "6.1", defaultCaps)
	if sc.DefaultAction != specs.ActErrno || sc.DefaultErrnoRet == nil || *sc.DefaultErrnoRet != 1 {
		t.Errorf("default action %s errno %v", sc.DefaultAction, sc.DefaultErrnoRet)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}; !reflect.DeepEqual(sc.Architectures, want) {
		t.Errorf("architectures %v", sc.Architectures)
	}
	for _, name := range []string{"read", "write", "openat", "execve", "futex", "clock_gettime", "epoll_wait",
		"rt_sigreturn", "exit_group", "arch_prctl", "modify_ldt", "chroot", "ptrace", "setuid", "statx", "mknod"} {
		if !allowedAlways(sc, name) {
			t.Errorf("%s is not allowed", name)
		}
	}
	for _, name := range []string{"mount", "umount2", "unshare", "setns", "reboot", "init_module", "kexec_load",
		"keyctl", "add_key", "request_key", "io_uring_setup", "userfaultfd", "bpf", "perf_event_open",
		"open_by_handle_at", "process_vm_readv", "clock_settime", "acct", "syslog", "iopl", "swapon",
		"arm_fadvise64_64", "s390_runtime_instr", "sethostname", "vhangup", "mbind", "personality", "socket", "clone"} {
		if allowedAlways(sc, name) {
			t.Errorf("%s is allowed whatever its arguments", name)
		}
	}
	socket := rulesFor(sc, "socket")
	if len(socket) != 1 || !reflect.DeepEqual(socket[0].Args, []specs.LinuxSeccompArg{{Index: 0, Value: 40, Op: specs.OpNotEqual}}) {
		t.Errorf("socket rules %+v", socket)
	}
	var personas []uint64
	for _, r := range rulesFor(sc, "personality") {
		if r.Action != specs.ActAllow || len(r.Args) != 1 || r.Args[0].Op != specs.OpEqualTo || r.Args[0].Index != 0 {
			t.Errorf("personality rule %+v", r)
			continue
		}
		personas = append(personas, r.Args[0].Value)
	}
	if !reflect.DeepEqual(personas, []uint64{0, 8, 0x20000, 0x20008, 0xffffffff}) {
		t.Errorf("personality values %#x", personas)
	}
	clone := rulesFor(sc, "clone")
	if len(clone) != 1 || !reflect.DeepEqual(clone[0].Args, []specs.LinuxSeccompArg{{Index: 0, Value: 2114060288, Op: specs.OpMaskedEqual}}) {
		t.Errorf("clone rules %+v", clone)
	}
	clone3 := rulesFor(sc, "clone3")
	if len(clone3) != 1 || clone3[0].Action != specs.ActErrno || clone3[0].ErrnoRet == nil || *clone3[0].ErrnoRet != 38 {
		t.Errorf("clone3 rules %+v", clone3)
	}
}

func TestDefaultSeccompFollowsCapabilities(t *testing.T) {
	for _, tc := range []struct {
		cap          string
		allowed      []string
		stillBlocked []string
	}{
		{"CAP_SYS_ADMIN", []string{"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname", "bpf", "fsopen"}, []string{"reboot", "ptrace"}},
		{"CAP_SYS_PTRACE", []string{"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"}, []string{"mount"}},
		{"CAP_SYS_MODULE", []string{"init_module", "finit_module", "delete_module"}, []string{"kexec_load"}},
		{"CAP_SYS_BOOT", []string{"reboot"}, nil},
		{"CAP_SYS_TIME", []string{"settimeofday", "clock_settime"}, nil},
		{"CAP_SYS_NICE", []string{"mbind", "set_mempolicy", "get_mempolicy"}, nil},
		{"CAP_SYS_PACCT", []string{"acct"}, nil},
		{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}, nil},
		{"CAP_SYSLOG", []string{"syslog"}, nil},
		{"CAP_BPF", []string{"bpf"}, []string{"perf_event_open"}},
		{"CAP_PERFMON", []string{"perf_event_open"}, []string{"bpf"}},
		{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}, nil},
		{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}, nil},
	} {
		t.Run(tc.cap, func(t *testing.T) {
			o := base()
			o.KernelVersion = "4.4.0" // before ptrace became safe
			o.CapAdd = []string{tc.cap}
			s, err := Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			sc := s.Linux.Seccomp
			for _, n := range tc.allowed {
				if !allowedAlways(sc, n) {
					t.Errorf("%s not allowed with %s", n, tc.cap)
				}
			}
			for _, n := range tc.stillBlocked {
				if allowedAlways(sc, n) {
					t.Errorf("%s allowed with %s alone", n, tc.cap)
				}
			}
			if tc.cap == "CAP_SYS_ADMIN" {
				for _, r := range append(rulesFor(sc, "clone"), rulesFor(sc, "clone3")...) {
					if len(r.Args) > 0 || r.Action != specs.ActAllow {
						t.Errorf("restricted clone rule kept with CAP_SYS_ADMIN: %+v", r)
					}
				}
			}
		})
	}

	// The profile is judged after --cap-drop: chroot goes with CAP_SYS_CHROOT.
	s := generate(t, func(o *Options) { o.CapDrop = []string{"SYS_CHROOT"} })
	if allowedAlways(s.Linux.Seccomp, "chroot") {
		t.Error("chroot allowed without CAP_SYS_CHROOT")
	}
}

func TestSeccompMinKernel(t *testing.T) {
	for kernel, want := range map[string]bool{"": false, "4.4": false, "4.7.10": false, "4.8": true, "4.19.0-25-amd64": true, "6.12.1": true} {
		if got := allowedAlways(defaultFor(t, "amd64", kernel, defaultCaps), "ptrace"); got != want {
			t.Errorf("kernel %q: ptrace allowed %v, want %v", kernel, got, want)
		}
	}
}

func TestSeccompArchitectures(t *testing.T) {
	sc := defaultFor(t, "arm64", "6.1", defaultCaps)
	if want := []specs.Arch{specs.ArchAARCH64, specs.ArchARM}; !reflect.DeepEqual(sc.Architectures, want) {
		t.Errorf("arm64 architectures %v", sc.Architectures)
	}
	if !allowedAlways(sc, "arm_fadvise64_64") || !allowedAlways(sc, "set_tls") || allowedAlways(sc, "arch_prctl") || allowedAlways(sc, "modify_ldt") {
		t.Error("arm64 arch-specific rules")
	}
	sc = defaultFor(t, "s390x", "6.1", defaultCaps)
	if want := []specs.Arch{specs.ArchS390X}; !reflect.DeepEqual(sc.Architectures, want) {
		t.Errorf("s390x architectures %v", sc.Architectures)
	}
	clone := rulesFor(sc, "clone")
	if len(clone) != 1 || clone[0].Args[0].Index != 1 {
		t.Errorf("s390x clone rules %+v", clone)
	}
	if !allowedAlways(sc, "s390_pci_mmio_read") {
		t.Error("s390x rules")
	}
}

func TestSeccompModes(t *testing.T) {
	if s := generate(t, func(o *Options) { o.Seccomp = "unconfined" }); s.Linux.Seccomp != nil {
		t.Error("unconfined has a filter")
	}
	if s := generate(t, func(o *Options) { o.Seccomp = "builtin" }); s.Linux.Seccomp == nil || !allowedAlways(s.Linux.Seccomp, "read") {
		t.Error("builtin is not the default profile")
	}
	// An explicit profile applies even to a privileged container.
	s := generate(t, func(o *Options) {
		o.Privileged = true
		o.Seccomp = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"reboot","action":"SCMP_ACT_ERRNO"}]}`
	})
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActAllow || len(s.Linux.Seccomp.Syscalls) != 1 {
		t.Errorf("privileged with a profile: %+v", s.Linux.Seccomp)
	}
}

const customProfile = `{
	"defaultAction": "SCMP_ACT_ERRNO",
	"defaultErrnoRet": 1,
	"archMap": [
		{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
		{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
	],
	"flags": ["SECCOMP_FILTER_FLAG_LOG"],
	"syscalls": [
		{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
		{"name": "getpid", "action": "SCMP_ACT_ALLOW"},
		{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
		 "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
		{"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT", "CAP_SYS_ADMIN"]}},
		{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
		{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
		{"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
		{"names": ["uname"], "action": "SCMP_ACT_LOG", "excludes": {"minKernel": "5.0"}}
	]
}`

func TestCustomSeccompProfile(t *testing.T) {
	s := generate(t, func(o *Options) { o.Seccomp = customProfile; o.KernelVersion = "4.19.0" })
	sc := s.Linux.Seccomp
	var names []string
	for _, r := range sc.Syscalls {
		names = append(names, r.Names...)
	}
	// amd64 or arm64: one of arch_prctl and set_tls.
	want := []string{"read", "write", "exit_group", "getpid", "kill", "unshare"}
	switch {
	case contains(names, "arch_prctl"):
		want = append(want, "arch_prctl")
	case contains(names, "set_tls"):
		want = append(want, "set_tls")
	}
	want = append(want, "uname")
	if !reflect.DeepEqual(names, want) {
		t.Errorf("rules for %q, want %q", names, want)
	}
	kill := rulesFor(sc, "kill")[0]
	if *kill.ErrnoRet != 13 || !reflect.DeepEqual(kill.Args, []specs.LinuxSeccompArg{{Index: 1, Value: 9, Op: specs.OpEqualTo}}) {
		t.Errorf("kill rule %+v", kill)
	}
	if !reflect.DeepEqual(sc.Flags, []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"}) {
		t.Errorf("flags %v", sc.Flags)
	}

	// With CAP_SYS_ADMIN: mount and chroot (both its caps) in, unshare out.
	sc, err := convertProfile(mustParse(t, customProfile), seccompEnv{caps: append(clone(defaultCaps), "CAP_SYS_ADMIN"), goarch: "amd64", kernel: "6.1"})
	if err != nil {
		t.Fatal(err)
	}
	if !allowedAlways(sc, "mount") || !allowedAlways(sc, "chroot") || rulesFor(sc, "unshare") != nil || rulesFor(sc, "uname") != nil {
		t.Errorf("with CAP_SYS_ADMIN on 6.1: %+v", sc.Syscalls)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86}; !reflect.DeepEqual(sc.Architectures, want) {
		t.Errorf("architectures %v", sc.Architectures)
	}
	// An architecture the map does not name gets no architectures (the
	// native one only).
	sc, _ = convertProfile(mustParse(t, customProfile), seccompEnv{goarch: "riscv64"})
	if sc.Architectures != nil {
		t.Errorf("riscv64 architectures %v", sc.Architectures)
	}
}

func mustParse(t *testing.T, text string) *profile {
	t.Helper()
	var p profile
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestSeccompProfileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, profile, want string
	}{
		{"malformed", `{"defaultAction": "SCMP_ACT_ERRNO",`, "seccomp profile: decoding JSON"},
		{"not an object", `"SCMP_ACT_ALLOW"`, "seccomp profile: decoding JSON"},
		{"wrong type", `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {}}`, "seccomp profile: decoding JSON"},
		{"no default action", `{"syscalls": []}`, "defaultAction is required"},
		{"unknown default action", `{"defaultAction": "SCMP_ACT_MAYBE"}`, `unknown defaultAction "SCMP_ACT_MAYBE"`},
		{"both arch forms", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`, "both architectures and archMap"},
		{"name and names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}`, "syscalls[0]: both name and names"},
		{"no names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}`, "syscalls[0]: no names"},
		{"unknown action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "ALLOW"}]}`, `syscalls[0] (read): unknown action "ALLOW"`},
		{"unknown op", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}`, `unknown operator "EQ"`},
		{"arg index", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "argument index 6"},
		{"bad minKernel", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "four"}}]}`, `minKernel "four"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			o.Seccomp = tc.profile
			_, err := Generate(o)
			wantInvalid(t, err, tc.want)
		})
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release, min string
		want         bool
	}{
		{"4.8.0", "4.8", true}, {"4.10", "4.8", true}, {"4.7", "4.8", false}, {"5.0.0-rc1", "4.8", true},
		{"3.19.0", "4.8", false}, {"6.1.0-13-amd64", "6.1", true}, {"6.1+", "6.2", false}, {"", "4.8", false},
	} {
		got, err := kernelAtLeast(tc.release, tc.min)
		if err != nil || got != tc.want {
			t.Errorf("kernelAtLeast(%q, %q) = %v, %v; want %v", tc.release, tc.min, got, err, tc.want)
		}
	}
}

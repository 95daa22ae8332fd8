//go:build linux && cgo

package seccomp

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

func allowAll() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(c *specs.LinuxSeccomp)
		wantErr string // "" means valid
	}{
		{name: "allow all", mod: func(c *specs.LinuxSeccomp) {}},
		{name: "errno rule", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)}}
		}},
		{name: "all actions in rules", mod: func(c *specs.LinuxSeccomp) {
			c.DefaultAction = specs.ActErrno
			c.ListenerPath = "/run/agent.sock"
			for i, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
				specs.ActTrap, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify} {
				c.Syscalls = append(c.Syscalls, specs.LinuxSyscall{Names: []string{[]string{"getpid", "getppid", "getuid",
					"getgid", "geteuid", "getegid", "gettid", "getpgrp"}[i]}, Action: a})
			}
		}},
		{name: "all default actions but notify", mod: func(c *specs.LinuxSeccomp) {
			for _, a := range []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread,
				specs.ActTrap, specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog} {
				cc := &specs.LinuxSeccomp{DefaultAction: a}
				if err := Validate(cc); err != nil {
					t.Errorf("default action %s: %v", a, err)
				}
			}
		}},
		{name: "defaultErrnoRet with errno", mod: func(c *specs.LinuxSeccomp) {
			c.DefaultAction, c.DefaultErrnoRet = specs.ActErrno, uintp(38)
		}},
		{name: "unknown syscall names are skipped", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"no_such_syscall_xyz"}, Action: specs.ActErrno}}
		}},
		{name: "rule equal to default is skipped", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}}
		}},
		{name: "errno rule with different errno than default is kept", mod: func(c *specs.LinuxSeccomp) {
			c.DefaultAction = specs.ActErrno
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
				{Names: []string{"getppid"}, Action: specs.ActErrno}}
		}},
		{name: "two conditions on one index", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 2, Op: specs.OpEqualTo}, {Index: 0, Value: 10, Op: specs.OpEqualTo}}}}
		}},
		{name: "architectures", mod: func(c *specs.LinuxSeccomp) {
			c.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
		}},
		{name: "flags", mod: func(c *specs.LinuxSeccomp) {
			c.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog,
				specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv}
		}},

		{name: "missing default action", mod: func(c *specs.LinuxSeccomp) { c.DefaultAction = "" },
			wantErr: "defaultAction is required"},
		{name: "bad default action", mod: func(c *specs.LinuxSeccomp) { c.DefaultAction = "SCMP_ACT_NOPE" },
			wantErr: `defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{name: "notify default action", mod: func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActNotify; c.ListenerPath = "/x" },
			wantErr: "defaultAction: SCMP_ACT_NOTIFY cannot be the default action"},
		{name: "defaultErrnoRet with allow", mod: func(c *specs.LinuxSeccomp) { c.DefaultErrnoRet = uintp(1) },
			wantErr: "defaultAction: defaultErrnoRet 1 given with action SCMP_ACT_ALLOW"},
		{name: "bad rule action", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno},
				{Names: []string{"mkdir", "mkdirat"}, Action: "SCMP_ACT_DENY"}}
		}, wantErr: `syscalls[1] ("mkdir", "mkdirat"): unknown action "SCMP_ACT_DENY"`},
		{name: "errnoRet with kill", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActKillProcess, ErrnoRet: uintp(1)}}
		}, wantErr: `syscalls[0] ("getpid"): errnoRet 1 given with action SCMP_ACT_KILL_PROCESS`},
		{name: "errnoRet too big", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(70000)}}
		}, wantErr: `errnoRet 70000 out of range`},
		{name: "bad operator", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2, Op: "SCMP_CMP_ABOUT"}}}}
		}, wantErr: `syscalls[0] ("socket"): args[0]: unknown operator "SCMP_CMP_ABOUT"`},
		{name: "bad arg index", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2, Op: specs.OpEqualTo}, {Index: 7, Value: 2, Op: specs.OpEqualTo}}}}
		}, wantErr: `args[1]: index 7 out of range (0-5)`},
		{name: "valueTwo without masked eq", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"socket"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 2, ValueTwo: 3, Op: specs.OpGreaterThan}}}}
		}, wantErr: `args[0]: valueTwo 0x3 given with operator SCMP_CMP_GT`},
		{name: "no names", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Action: specs.ActErrno}}
		}, wantErr: `syscalls[0]: names is empty`},
		{name: "empty name", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid", ""}, Action: specs.ActErrno}}
		}, wantErr: `names[1] is empty`},
		{name: "bad arch", mod: func(c *specs.LinuxSeccomp) {
			c.Architectures = []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_Z80"}
		}, wantErr: `architectures[1]: unknown architecture "SCMP_ARCH_Z80"`},
		{name: "bad flag", mod: func(c *specs.LinuxSeccomp) {
			c.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FAST"}
		}, wantErr: `flags: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{name: "notify without listenerPath", mod: func(c *specs.LinuxSeccomp) {
			c.Syscalls = []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActNotify}}
		}, wantErr: `listenerPath is required when SCMP_ACT_NOTIFY is used`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := allowAll()
			tc.mod(c)
			err := Validate(c)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate error = %v, want containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			// Load fails the same way, before touching the kernel.
			if fd, lerr := Load(c); lerr == nil || lerr.Error() != err.Error() || fd != -1 {
				t.Errorf("Load = %d, %v; want -1, %v", fd, lerr, err)
			}
		})
	}
}

func TestValidateUnsupportedArch(t *testing.T) {
	// libseccomp 2.5.x has no LoongArch; whatever the version, Validate must
	// either accept the arch or name it.
	err := Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchLOONGARCH64}})
	if err != nil && !strings.Contains(err.Error(), "architectures[0] SCMP_ARCH_LOONGARCH64") {
		t.Fatalf("error does not name the architecture: %v", err)
	}
	t.Logf("LOONGARCH64: %v", err)
}

func TestValidateMixedEndianArch(t *testing.T) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		t.Fatal(err)
	}
	if native != libseccomp.ArchAMD64 && native != libseccomp.ArchARM64 {
		t.Skipf("little-endian native arch assumed, have %v", native)
	}
	err = Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchS390X}})
	if err == nil || !strings.Contains(err.Error(), "architectures[0] SCMP_ARCH_S390X: cannot be mixed with the native architecture") {
		t.Fatalf("err = %v", err)
	}
}

func TestNil(t *testing.T) {
	if err := Validate(nil); err != nil {
		t.Fatalf("Validate(nil) = %v", err)
	}
	if fd, err := Load(nil); fd != -1 || err != nil {
		t.Fatalf("Load(nil) = %d, %v", fd, err)
	}
}

func TestValidateRuntimeToolsDefaultProfile(t *testing.T) {
	c := loadProfile(t, "testdata/runtime-tools-default.json")
	if err := Validate(c); err != nil {
		t.Fatal(err)
	}
}

func loadProfile(t *testing.T, path string) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c specs.LinuxSeccomp
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

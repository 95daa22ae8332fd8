//go:build linux && cgo

package seccomp

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func uintp(v uint) *uint { return &v }

func TestConvertAction(t *testing.T) {
	tests := []struct {
		act     specs.LinuxSeccompAction
		errno   *uint
		want    libseccomp.ScmpAction
		wantErr string
	}{
		{act: specs.ActAllow, want: libseccomp.ActAllow},
		{act: specs.ActKill, want: libseccomp.ActKillThread},
		{act: specs.ActKillThread, want: libseccomp.ActKillThread},
		{act: specs.ActKillProcess, want: libseccomp.ActKillProcess},
		{act: specs.ActTrap, want: libseccomp.ActTrap},
		{act: specs.ActLog, want: libseccomp.ActLog},
		{act: specs.ActNotify, want: libseccomp.ActNotify},
		{act: specs.ActErrno, want: libseccomp.ActErrno.SetReturnCode(int16(unix.EPERM))},
		{act: specs.ActErrno, errno: uintp(38), want: libseccomp.ActErrno.SetReturnCode(38)},
		{act: specs.ActErrno, errno: uintp(0), want: libseccomp.ActErrno},
		{act: specs.ActErrno, errno: uintp(0xffff), want: libseccomp.ActErrno | 0xffff<<16},
		{act: specs.ActTrace, want: libseccomp.ActTrace.SetReturnCode(int16(unix.EPERM))},
		{act: specs.ActTrace, errno: uintp(7), want: libseccomp.ActTrace.SetReturnCode(7)},
		{act: specs.ActErrno, errno: uintp(0x10000), wantErr: "errnoRet 65536 out of range"},
		{act: specs.ActAllow, errno: uintp(1), wantErr: "errnoRet 1 given with action SCMP_ACT_ALLOW"},
		{act: specs.ActKillProcess, errno: uintp(1), wantErr: "errnoRet 1 given with action SCMP_ACT_KILL_PROCESS"},
		{act: "SCMP_ACT_BOGUS", wantErr: `unknown action "SCMP_ACT_BOGUS"`},
		{act: "scmp_act_allow", wantErr: `unknown action "scmp_act_allow"`},
		{act: "", wantErr: "action is empty"},
	}
	for _, tc := range tests {
		got, err := convertAction(tc.act, tc.errno, "errnoRet")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("convertAction(%q, %v) error = %v, want containing %q", tc.act, tc.errno, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("convertAction(%q, %v) = %#x, %v; want %#x", tc.act, tc.errno, uint(got), err, uint(tc.want))
		}
	}
	// The errno lands in SECCOMP_RET_DATA.
	a, _ := convertAction(specs.ActErrno, uintp(38), "errnoRet")
	if a.GetReturnCode() != 38 {
		t.Errorf("return code = %d, want 38", a.GetReturnCode())
	}
}

func TestConvertArch(t *testing.T) {
	tests := []struct {
		arch    specs.Arch
		want    libseccomp.ScmpArch
		wantErr bool
	}{
		{arch: specs.ArchX86_64, want: libseccomp.ArchAMD64},
		{arch: specs.ArchX86, want: libseccomp.ArchX86},
		{arch: specs.ArchX32, want: libseccomp.ArchX32},
		{arch: specs.ArchAARCH64, want: libseccomp.ArchARM64},
		{arch: specs.ArchARM, want: libseccomp.ArchARM},
		{arch: specs.ArchPPC64LE, want: libseccomp.ArchPPC64LE},
		{arch: specs.ArchS390X, want: libseccomp.ArchS390X},
		{arch: specs.ArchRISCV64, want: libseccomp.ArchRISCV64},
		{arch: specs.ArchMIPSEL64N32, want: libseccomp.ArchMIPSEL64N32},
		{arch: "SCMP_ARCH_AMD64", wantErr: true},
		{arch: "x86_64", wantErr: true},
		{arch: "", wantErr: true},
	}
	for _, tc := range tests {
		got, err := convertArch(tc.arch)
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("convertArch(%q) = %v, %v; want %v, err=%v", tc.arch, got, err, tc.want, tc.wantErr)
		}
	}
	// Every runtime-spec architecture is known.
	for _, a := range []specs.Arch{specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
		specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
		specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB} {
		if _, err := convertArch(a); err != nil {
			t.Errorf("convertArch(%q): %v", a, err)
		}
	}
}

func TestConvertArg(t *testing.T) {
	tests := []struct {
		arg     specs.LinuxSeccompArg
		want    libseccomp.ScmpCondition
		wantErr string
	}{
		{arg: specs.LinuxSeccompArg{Index: 0, Value: 2, Op: specs.OpEqualTo},
			want: libseccomp.ScmpCondition{Argument: 0, Op: libseccomp.CompareEqual, Operand1: 2}},
		{arg: specs.LinuxSeccompArg{Index: 5, Value: 9, Op: specs.OpNotEqual},
			want: libseccomp.ScmpCondition{Argument: 5, Op: libseccomp.CompareNotEqual, Operand1: 9}},
		{arg: specs.LinuxSeccompArg{Index: 1, Value: 3, Op: specs.OpLessThan},
			want: libseccomp.ScmpCondition{Argument: 1, Op: libseccomp.CompareLess, Operand1: 3}},
		{arg: specs.LinuxSeccompArg{Index: 1, Value: 3, Op: specs.OpLessEqual},
			want: libseccomp.ScmpCondition{Argument: 1, Op: libseccomp.CompareLessOrEqual, Operand1: 3}},
		{arg: specs.LinuxSeccompArg{Index: 1, Value: 3, Op: specs.OpGreaterEqual},
			want: libseccomp.ScmpCondition{Argument: 1, Op: libseccomp.CompareGreaterEqual, Operand1: 3}},
		{arg: specs.LinuxSeccompArg{Index: 1, Value: 3, Op: specs.OpGreaterThan},
			want: libseccomp.ScmpCondition{Argument: 1, Op: libseccomp.CompareGreater, Operand1: 3}},
		// MASKED_EQ: value is the mask, valueTwo the datum.
		{arg: specs.LinuxSeccompArg{Index: 0, Value: 0xff00, ValueTwo: 0x1200, Op: specs.OpMaskedEqual},
			want: libseccomp.ScmpCondition{Argument: 0, Op: libseccomp.CompareMaskedEqual, Operand1: 0xff00, Operand2: 0x1200}},
		{arg: specs.LinuxSeccompArg{Index: 6, Value: 1, Op: specs.OpEqualTo}, wantErr: "index 6 out of range (0-5)"},
		{arg: specs.LinuxSeccompArg{Index: 0, Value: 1, Op: "SCMP_CMP_FOO"}, wantErr: `unknown operator "SCMP_CMP_FOO"`},
		{arg: specs.LinuxSeccompArg{Index: 0, Value: 1}, wantErr: "op is empty"},
		{arg: specs.LinuxSeccompArg{Index: 0, Value: 1, ValueTwo: 2, Op: specs.OpEqualTo}, wantErr: "valueTwo 0x2 given with operator SCMP_CMP_EQ"},
	}
	for _, tc := range tests {
		got, err := convertArg(tc.arg)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("convertArg(%+v) error = %v, want containing %q", tc.arg, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("convertArg(%+v) = %+v, %v; want %+v", tc.arg, got, err, tc.want)
		}
	}
}

func TestConditionSets(t *testing.T) {
	eq := func(idx uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: idx, Value: v, Op: specs.OpEqualTo}
	}
	ceq := func(idx uint, v uint64) libseccomp.ScmpCondition {
		return libseccomp.ScmpCondition{Argument: idx, Op: libseccomp.CompareEqual, Operand1: v}
	}
	tests := []struct {
		name string
		args []specs.LinuxSeccompArg
		want [][]libseccomp.ScmpCondition
	}{
		{"none", nil, [][]libseccomp.ScmpCondition{nil}},
		{"empty", []specs.LinuxSeccompArg{}, [][]libseccomp.ScmpCondition{nil}},
		{"one", []specs.LinuxSeccompArg{eq(0, 1)}, [][]libseccomp.ScmpCondition{{ceq(0, 1)}}},
		{"distinct indexes stay in one rule (AND)",
			[]specs.LinuxSeccompArg{eq(0, 1), eq(1, 2), eq(3, 4)},
			[][]libseccomp.ScmpCondition{{ceq(0, 1), ceq(1, 2), ceq(3, 4)}}},
		{"same index splits every condition (OR), like runc",
			[]specs.LinuxSeccompArg{eq(0, 1), eq(0, 2), eq(1, 3)},
			[][]libseccomp.ScmpCondition{{ceq(0, 1)}, {ceq(0, 2)}, {ceq(1, 3)}}},
	}
	for _, tc := range tests {
		got, err := conditionSets(tc.args)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: conditionSets = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := conditionSets([]specs.LinuxSeccompArg{eq(0, 1), {Index: 0, Op: "bad"}}); err == nil ||
		!strings.Contains(err.Error(), `args[1]: unknown operator "bad"`) {
		t.Errorf("bad op: err = %v", err)
	}
}

func TestFilterFlags(t *testing.T) {
	tests := []struct {
		name    string
		flags   []specs.LinuxSeccompFlag
		notify  bool
		want    uintptr
		wantErr string
	}{
		{name: "none", want: 0},
		{name: "log", flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, want: unix.SECCOMP_FILTER_FLAG_LOG},
		{name: "all but tsync",
			flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagLog},
			want:  unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{name: "tsync", flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, want: unix.SECCOMP_FILTER_FLAG_TSYNC},
		{name: "notify adds listener", notify: true, want: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{name: "tsync+notify adds ESRCH", flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, notify: true,
			want: unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH},
		{name: "wait killable with notify", flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, notify: true,
			want: unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER},
		{name: "wait killable without notify is dropped", flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, want: 0},
		{name: "unknown", flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_BOGUS"}, wantErr: `unknown flag "SECCOMP_FILTER_FLAG_BOGUS"`},
		{name: "new listener is not a spec flag", flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}, wantErr: "unknown flag"},
	}
	for _, tc := range tests {
		got, err := filterFlags(tc.flags, tc.notify)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error = %v, want containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: filterFlags = %#x, %v; want %#x", tc.name, got, err, tc.want)
		}
	}
}

func TestNamesForError(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"mkdir"}, ` ("mkdir")`},
		{[]string{"a", "b", "c", "d", "e"}, ` ("a", "b", "c", ... 2 more)`},
	} {
		if got := namesForError(tc.names); got != tc.want {
			t.Errorf("namesForError(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}

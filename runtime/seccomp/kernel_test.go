//go:build linux && cgo

package seccomp

// These tests load real filters. Each case re-executes the test binary as a
// child (see TestMain) which locks its main goroutine to its thread, loads
// the filter from the request, runs the requested syscall probes on that
// thread and prints a JSON report on stdout.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

const childEnv = "BERTH_SECCOMP_TEST_CHILD"

// notifyVal is what the child's notification responder makes every
// notified syscall return.
const notifyVal = 4242

type childRequest struct {
	Spec   *specs.LinuxSeccomp
	Dir    string   // scratch directory for mkdirat probes
	Probes []string // see runProbe
	// Notify starts a responder (on a thread locked before Load) that
	// answers every notification with notifyVal.
	Notify bool
	// OtherThread reports the /proc status of a thread locked before Load
	// (and that of the filtered thread).
	OtherThread bool
	// DropSysAdmin drops CAP_SYS_ADMIN from the filtered thread's
	// effective set before Load; SetNNP sets no_new_privs first.
	DropSysAdmin, SetNNP bool
}

type probeResult struct {
	Ret   int64
	Errno int
}

type childResponse struct {
	LoadErr     string
	NotifyFd    int
	Results     map[string]probeResult
	Self        map[string]string // Seccomp/NoNewPrivs of the filtered thread
	OtherThread map[string]string
}

func TestMain(m *testing.M) {
	if req := os.Getenv(childEnv); req != "" {
		runChild(req)
		return
	}
	os.Exit(m.Run())
}

func runChild(reqJSON string) {
	runtime.LockOSThread() // never unlocked: the filter stays on this thread
	var req childRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad request:", err)
		os.Exit(3)
	}
	resp := childResponse{Results: make(map[string]probeResult, len(req.Probes))}

	var notifyFds chan int
	if req.Notify {
		notifyFds = make(chan int, 1)
		ready := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(ready)
			fd := <-notifyFds
			for fd >= 0 {
				n, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
				if err != nil {
					return
				}
				_ = libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: n.ID, Val: notifyVal})
			}
		}()
		<-ready
	}
	var other chan map[string]string
	var otherGo chan struct{}
	if req.OtherThread {
		other, otherGo = make(chan map[string]string), make(chan struct{})
		ready := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(ready)
			<-otherGo
			other <- threadStatus()
		}()
		<-ready
	}

	if req.DropSysAdmin {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			fmt.Fprintln(os.Stderr, "child: capget:", err)
			os.Exit(3)
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			fmt.Fprintln(os.Stderr, "child: capset:", err)
			os.Exit(3)
		}
	}
	if req.SetNNP {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "child: PR_SET_NO_NEW_PRIVS:", err)
			os.Exit(3)
		}
	}

	fd, err := Load(req.Spec)
	if err != nil {
		resp.LoadErr = err.Error()
	}
	resp.NotifyFd = fd
	if notifyFds != nil {
		notifyFds <- fd
	}
	if err == nil {
		for _, p := range req.Probes {
			resp.Results[p] = runProbe(p, req.Dir)
		}
		if req.OtherThread {
			resp.Self = threadStatus()
			close(otherGo)
			resp.OtherThread = <-other
		}
	}
	out, _ := json.Marshal(resp)
	os.Stdout.Write(append(out, '\n'))
	os.Exit(0)
}

// runProbe runs one syscall on the calling thread. Probes are
// "name[:arg...]" with numeric args (0x prefix allowed); "mkdirat:NAME"
// makes DIR/NAME.
func runProbe(p, dir string) probeResult {
	parts := strings.Split(p, ":")
	var a [6]uintptr
	for i, s := range parts[1:] {
		if n, err := strconv.ParseUint(s, 0, 64); err == nil {
			a[i] = uintptr(n)
		}
	}
	var r1 uintptr
	var errno syscall.Errno
	switch parts[0] {
	case "mkdirat":
		path, _ := unix.BytePtrFromString(filepath.Join(dir, parts[1]))
		atFdcwd := unix.AT_FDCWD
		r1, _, errno = unix.Syscall6(unix.SYS_MKDIRAT, uintptr(atFdcwd), uintptr(unsafe.Pointer(path)), 0o700, 0, 0, 0)
		runtime.KeepAlive(path)
	case "getpid":
		r1, _, errno = unix.Syscall(unix.SYS_GETPID, 0, 0, 0)
	case "getppid":
		r1, _, errno = unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	case "personality":
		r1, _, errno = unix.Syscall(unix.SYS_PERSONALITY, a[0], 0, 0)
	case "unshare":
		r1, _, errno = unix.Syscall(unix.SYS_UNSHARE, a[0], 0, 0)
	case "socket":
		r1, _, errno = unix.Syscall(unix.SYS_SOCKET, a[0], a[1], a[2])
		if errno == 0 {
			unix.Close(int(r1))
		}
	default:
		panic("unknown probe " + p)
	}
	return probeResult{Ret: int64(r1), Errno: int(errno)}
}

func threadStatus() map[string]string {
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		return map[string]string{"error": err.Error()}
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "Seccomp" || k == "NoNewPrivs" || k == "Seccomp_filters") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

type childResult struct {
	resp   childResponse
	state  *os.ProcessState
	stderr string
}

func startChild(t *testing.T, req childRequest) childResult {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_SYS_ADMIN to load a filter without no_new_privs)")
	}
	if req.Dir == "" {
		req.Dir = t.TempDir()
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b), "GODEBUG=asyncpreemptoff=1")
	if os.Getenv("GORACE") == "" {
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0") // -race children otherwise linger 1s
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("child timed out; stderr:\n%s", stderr.String())
	}
	res := childResult{state: cmd.ProcessState, stderr: stderr.String()}
	if cmd.ProcessState.Success() {
		if err := json.Unmarshal(stdout.Bytes(), &res.resp); err != nil {
			t.Fatalf("child output %q: %v; stderr:\n%s", stdout.String(), err, stderr.String())
		}
	}
	return res
}

// runChildOK runs the child and requires that it loaded the filter.
func runChildOK(t *testing.T, req childRequest) childResponse {
	t.Helper()
	res := startChild(t, req)
	if !res.state.Success() {
		t.Fatalf("child failed: %v; stderr:\n%s", res.state, res.stderr)
	}
	if res.resp.LoadErr != "" {
		t.Fatalf("Load: %s", res.resp.LoadErr)
	}
	return res.resp
}

func expectErrno(t *testing.T, resp childResponse, probe string, want syscall.Errno) {
	t.Helper()
	got, ok := resp.Results[probe]
	if !ok {
		t.Errorf("%s: no result", probe)
		return
	}
	if syscall.Errno(got.Errno) != want {
		t.Errorf("%s: errno = %d (%v), want %d (%v)", probe, got.Errno, syscall.Errno(got.Errno), int(want), want)
	}
}

// goRuntimeSyscalls keeps the Go runtime (and glibc, for cgo threads)
// working in the child under allow-list profiles. Names unknown on this
// arch are skipped by Load.
var goRuntimeSyscalls = []string{
	"arch_prctl", "brk", "clock_gettime", "clock_nanosleep", "clone", "clone3", "close", "epoll_create1",
	"epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait", "exit", "exit_group", "fcntl", "fstat",
	"futex", "getpid", "getrandom", "gettid", "madvise", "mmap", "mprotect", "munmap", "nanosleep",
	"newfstatat", "openat", "pipe2", "prctl", "read", "rseq", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "sched_getaffinity", "sched_yield", "set_robust_list", "sigaltstack", "tgkill",
	"write",
}

const (
	afUnix  = unix.AF_UNIX
	afInet  = unix.AF_INET
	afInet6 = unix.AF_INET6
)

func sock(domain, typ int) string { return fmt.Sprintf("socket:%d:%d", domain, typ) }

func TestLoadErrnoRule(t *testing.T) {
	dir := t.TempDir()
	resp := runChildOK(t, childRequest{
		Dir: dir,
		Spec: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
			},
		},
		Probes: []string{"mkdirat:x", "getpid", "getppid"},
	})
	expectErrno(t, resp, "mkdirat:x", unix.ENOSYS)
	expectErrno(t, resp, "getpid", 0)
	expectErrno(t, resp, "getppid", 0)
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("mkdirat created the directory anyway: %v", err)
	}
	if resp.NotifyFd != -1 {
		t.Errorf("notifyFd = %d, want -1", resp.NotifyFd)
	}
}

func TestLoadErrnoZeroFakesSuccess(t *testing.T) {
	dir := t.TempDir()
	resp := runChildOK(t, childRequest{
		Dir: dir,
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(0)},
		}},
		Probes: []string{"mkdirat:x"},
	})
	expectErrno(t, resp, "mkdirat:x", 0)
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("syscall ran although errnoRet 0 should skip it: %v", err)
	}
}

func TestLoadDefaultErrnoAllowList(t *testing.T) {
	for _, tc := range []struct {
		name     string
		errnoRet *uint
		want     syscall.Errno
	}{
		{"default EPERM", nil, unix.EPERM},
		{"defaultErrnoRet EACCES", uintp(uint(unix.EACCES)), unix.EACCES},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := runChildOK(t, childRequest{
				Spec: &specs.LinuxSeccomp{
					DefaultAction:   specs.ActErrno,
					DefaultErrnoRet: tc.errnoRet,
					Syscalls: []specs.LinuxSyscall{
						{Names: goRuntimeSyscalls, Action: specs.ActAllow},
						// personality(0xffffffff) only queries the persona.
						{Names: []string{"personality"}, Action: specs.ActAllow,
							Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpEqualTo}}},
					},
				},
				Probes: []string{"getpid", "getppid", "mkdirat:x", "personality:0xffffffff", "personality:0x0008"},
			})
			expectErrno(t, resp, "getpid", 0)
			expectErrno(t, resp, "getppid", tc.want)
			expectErrno(t, resp, "mkdirat:x", tc.want)
			expectErrno(t, resp, "personality:0xffffffff", 0)
			expectErrno(t, resp, "personality:0x0008", tc.want)
		})
	}
}

func TestLoadArgCondition(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EAFNOSUPPORT)),
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: afInet, Op: specs.OpEqualTo}}},
		}},
		Probes: []string{sock(afInet, unix.SOCK_STREAM), sock(afUnix, unix.SOCK_STREAM)},
	})
	expectErrno(t, resp, sock(afInet, unix.SOCK_STREAM), unix.EAFNOSUPPORT)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM), 0)
}

func TestLoadMaskedEqual(t *testing.T) {
	// Deny sockets created with SOCK_CLOEXEC: (type & SOCK_CLOEXEC) == SOCK_CLOEXEC.
	// Deny AF_UNIX datagram sockets without NONBLOCK: (type & (NONBLOCK|0xf)) == SOCK_DGRAM.
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EPROTONOSUPPORT)),
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.SOCK_CLOEXEC, ValueTwo: unix.SOCK_CLOEXEC, Op: specs.OpMaskedEqual}}},
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.ESOCKTNOSUPPORT)),
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.SOCK_NONBLOCK | 0xf, ValueTwo: unix.SOCK_DGRAM, Op: specs.OpMaskedEqual}}},
		}},
		Probes: []string{
			sock(afUnix, unix.SOCK_STREAM|unix.SOCK_CLOEXEC),
			sock(afUnix, unix.SOCK_STREAM),
			sock(afUnix, unix.SOCK_DGRAM),
			sock(afUnix, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK),
		},
	})
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM|unix.SOCK_CLOEXEC), unix.EPROTONOSUPPORT)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM), 0)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_DGRAM), unix.ESOCKTNOSUPPORT)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK), 0)
}

func TestLoadSameIndexConditionsAreORed(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EAFNOSUPPORT)),
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: afInet, Op: specs.OpEqualTo},
					{Index: 0, Value: afInet6, Op: specs.OpEqualTo},
				}},
		}},
		Probes: []string{sock(afInet, unix.SOCK_STREAM), sock(afInet6, unix.SOCK_STREAM), sock(afUnix, unix.SOCK_STREAM)},
	})
	expectErrno(t, resp, sock(afInet, unix.SOCK_STREAM), unix.EAFNOSUPPORT)
	expectErrno(t, resp, sock(afInet6, unix.SOCK_STREAM), unix.EAFNOSUPPORT)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM), 0)
}

func TestLoadDistinctIndexConditionsAreANDed(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES)),
				Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: afUnix, Op: specs.OpEqualTo},
					{Index: 1, Value: unix.SOCK_DGRAM, Op: specs.OpEqualTo},
				}},
		}},
		Probes: []string{sock(afUnix, unix.SOCK_DGRAM), sock(afUnix, unix.SOCK_STREAM), sock(afInet, unix.SOCK_DGRAM)},
	})
	expectErrno(t, resp, sock(afUnix, unix.SOCK_DGRAM), unix.EACCES)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM), 0)
	expectErrno(t, resp, sock(afInet, unix.SOCK_DGRAM), 0)
}

func TestLoadComparisonOperators(t *testing.T) {
	// socket() with a bogus domain fails with EAFNOSUPPORT when allowed, so
	// probing domains 49, 50 and 51 is harmless; a match returns EACCES.
	const v = 50
	domains := []int{v - 1, v, v + 1}
	for _, tc := range []struct {
		op     specs.LinuxSeccompOperator
		denied map[int]bool
	}{
		{specs.OpLessThan, map[int]bool{v - 1: true}},
		{specs.OpLessEqual, map[int]bool{v - 1: true, v: true}},
		{specs.OpEqualTo, map[int]bool{v: true}},
		{specs.OpNotEqual, map[int]bool{v - 1: true, v + 1: true}},
		{specs.OpGreaterEqual, map[int]bool{v: true, v + 1: true}},
		{specs.OpGreaterThan, map[int]bool{v + 1: true}},
	} {
		t.Run(string(tc.op), func(t *testing.T) {
			var probes []string
			for _, d := range domains {
				probes = append(probes, sock(d, unix.SOCK_STREAM))
			}
			resp := runChildOK(t, childRequest{
				Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
					{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EACCES)),
						Args: []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: tc.op}}},
				}},
				Probes: probes,
			})
			for _, d := range domains {
				want := unix.EAFNOSUPPORT
				if tc.denied[d] {
					want = unix.EACCES
				}
				expectErrno(t, resp, sock(d, unix.SOCK_STREAM), want)
			}
		})
	}
}

func TestLoadUnknownSyscallSkipped(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"no_such_syscall_xyz", "mkdirat", "another_future_syscall"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
			{Names: []string{"yet_another_future_syscall"}, Action: specs.ActKillProcess},
		}},
		Probes: []string{"mkdirat:x", "getpid"},
	})
	expectErrno(t, resp, "mkdirat:x", unix.ENOSYS)
	expectErrno(t, resp, "getpid", 0)
}

func TestLoadRuleEqualToDefaultSkipped(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: goRuntimeSyscalls, Action: specs.ActAllow},
			{Names: []string{"getppid"}, Action: specs.ActErrno}, // same as default: skipped
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
		}},
		Probes: []string{"getppid", "mkdirat:x"},
	})
	expectErrno(t, resp, "getppid", unix.EPERM)
	expectErrno(t, resp, "mkdirat:x", unix.ENOSYS)
}

func TestLoadTraceWithoutTracerIsENOSYS(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActTrace},
		}},
		Probes: []string{"getppid", "getpid"},
	})
	expectErrno(t, resp, "getppid", unix.ENOSYS)
	expectErrno(t, resp, "getpid", 0)
}

func TestLoadLogAllows(t *testing.T) {
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getppid"}, Action: specs.ActLog},
			}},
		Probes: []string{"getppid"},
	})
	expectErrno(t, resp, "getppid", 0)
	if resp.Results["getppid"].Ret != int64(os.Getpid()) {
		t.Errorf("getppid = %d, want %d", resp.Results["getppid"].Ret, os.Getpid())
	}
}

func TestLoadKillProcess(t *testing.T) {
	res := startChild(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActKillProcess},
		}},
		Probes: []string{"getppid"},
	})
	ws := res.state.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("child: %v, want killed by SIGSYS; stderr:\n%s", res.state, res.stderr)
	}
}

func TestLoadTrap(t *testing.T) {
	res := startChild(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getppid"}, Action: specs.ActTrap},
		}},
		Probes: []string{"getppid"},
	})
	// The Go runtime turns the SIGSYS into a crash report.
	if res.state.Success() || !strings.Contains(res.stderr, "SIGSYS") {
		t.Fatalf("child: %v, want a SIGSYS crash; stderr:\n%s", res.state, res.stderr)
	}
}

func TestLoadNotify(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []specs.LinuxSeccompFlag
	}{
		{"plain", nil},
		{"wait killable recv", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
		{"tsync", []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := runChildOK(t, childRequest{
				Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/unused.sock", Flags: tc.flags,
					Syscalls: []specs.LinuxSyscall{
						{Names: []string{"getppid"}, Action: specs.ActNotify},
					}},
				Notify: true,
				Probes: []string{"getppid", "getpid"},
			})
			if resp.NotifyFd < 0 {
				t.Fatalf("notifyFd = %d, want a listener fd", resp.NotifyFd)
			}
			expectErrno(t, resp, "getppid", 0)
			if got := resp.Results["getppid"].Ret; got != notifyVal {
				t.Errorf("getppid = %d, want the responder's %d", got, notifyVal)
			}
			if got := resp.Results["getpid"].Ret; got == notifyVal || got <= 0 {
				t.Errorf("getpid = %d, should not have been notified", got)
			}
		})
	}
}

func TestLoadOnlyCallingThreadAndNoNNP(t *testing.T) {
	spec := func(flags ...specs.LinuxSeccompFlag) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: flags, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
		}}
	}
	resp := runChildOK(t, childRequest{Spec: spec(), OtherThread: true})
	if resp.Self["Seccomp"] != "2" || resp.Self["Seccomp_filters"] != "1" {
		t.Errorf("calling thread: Seccomp=%q Seccomp_filters=%q, want 2 and 1", resp.Self["Seccomp"], resp.Self["Seccomp_filters"])
	}
	if resp.Self["NoNewPrivs"] != "0" {
		t.Errorf("calling thread: NoNewPrivs = %q, want 0 (Load must not set it)", resp.Self["NoNewPrivs"])
	}
	if resp.OtherThread["Seccomp"] != "0" {
		t.Errorf("without TSYNC, another thread has Seccomp=%q, want 0", resp.OtherThread["Seccomp"])
	}
	if resp.OtherThread["NoNewPrivs"] != "0" {
		t.Errorf("NoNewPrivs = %q, want 0 (Load must not set it)", resp.OtherThread["NoNewPrivs"])
	}

	resp = runChildOK(t, childRequest{Spec: spec("SECCOMP_FILTER_FLAG_TSYNC"), OtherThread: true})
	if resp.OtherThread["Seccomp"] != "2" {
		t.Errorf("with TSYNC, another thread has Seccomp=%q, want 2 (filter)", resp.OtherThread["Seccomp"])
	}
	if resp.OtherThread["NoNewPrivs"] != "0" {
		t.Errorf("NoNewPrivs = %q, want 0 (Load must not set it)", resp.OtherThread["NoNewPrivs"])
	}
}

func TestLoadArchitectures(t *testing.T) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		t.Fatal(err)
	}
	var archs []specs.Arch
	switch native {
	case libseccomp.ArchAMD64:
		archs = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case libseccomp.ArchARM64:
		archs = []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	default:
		t.Skipf("no multi-arch case for %v", native)
	}
	resp := runChildOK(t, childRequest{
		Spec: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: archs, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat", "socketcall"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
		}},
		Probes: []string{"mkdirat:x"},
	})
	expectErrno(t, resp, "mkdirat:x", unix.ENOSYS)
}

func TestLoadRuntimeToolsDefaultProfile(t *testing.T) {
	c := loadProfile(t, "testdata/runtime-tools-default.json")
	resp := runChildOK(t, childRequest{
		Spec: c,
		Probes: []string{"getpid", "mkdirat:x", "personality:0xffffffff", "personality:0x0008", "personality:0x0020",
			"unshare:0", sock(afUnix, unix.SOCK_STREAM)},
	})
	expectErrno(t, resp, "getpid", 0)
	expectErrno(t, resp, "mkdirat:x", 0)
	expectErrno(t, resp, "personality:0xffffffff", 0)
	expectErrno(t, resp, "personality:0x0008", 0)
	expectErrno(t, resp, "personality:0x0020", unix.EPERM)
	expectErrno(t, resp, "unshare:0", unix.EPERM)
	expectErrno(t, resp, sock(afUnix, unix.SOCK_STREAM), 0)
}

func TestLoadNeedsNNPOrSysAdmin(t *testing.T) {
	spec := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(38)},
	}}
	res := startChild(t, childRequest{Spec: spec, DropSysAdmin: true, Probes: []string{"mkdirat:x"}})
	if !res.state.Success() {
		t.Fatalf("child failed: %v; stderr:\n%s", res.state, res.stderr)
	}
	if !strings.Contains(res.resp.LoadErr, "no_new_privs or CAP_SYS_ADMIN") {
		t.Fatalf("Load without CAP_SYS_ADMIN or NNP: err = %q, want EACCES explanation", res.resp.LoadErr)
	}

	// With no_new_privs set by the caller, CAP_SYS_ADMIN is not needed.
	resp := runChildOK(t, childRequest{Spec: spec, DropSysAdmin: true, SetNNP: true, Probes: []string{"mkdirat:x"}})
	expectErrno(t, resp, "mkdirat:x", unix.ENOSYS)
}

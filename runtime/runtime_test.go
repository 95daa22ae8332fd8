package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// The runtime re-executes its own binary as "init": in tests that is this
// test binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init()
	}
	code := m.Run()
	// The tests' containers live in /berth-test/<id>: the parent goes too
	// (rmdir only: a run of these tests beside this one may still use it).
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range ents {
			_ = os.Remove(filepath.Join("/sys/fs/cgroup", e.Name(), "berth-test"))
		}
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("these tests create namespaces, mounts and cgroups: run them as root")
	}
}

// busyboxBundle makes a bundle whose rootfs holds Debian's static busybox.
func busyboxBundle(t *testing.T, id string, args ...string) (string, *specs.Spec) {
	t.Helper()
	requireRoot(t)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("need /bin/busybox from busybox-static (make deps): %v", err)
	}
	bundle := t.TempDir()
	bin := filepath.Join(bundle, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "echo", "cat", "sleep", "true", "mkdir", "id", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	spec := DefaultSpec()
	spec.Process.Terminal = false
	spec.Process.Args = args
	spec.Linux.CgroupsPath = "/berth-test/" + id
	return bundle, spec
}

func writeSpec(t *testing.T, bundle string, spec *specs.Spec) {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func testID(t *testing.T) string {
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + strconv.Itoa(os.Getpid())
}

// assertGone checks that nothing of a container is left: state, cgroup, process.
func assertGone(t *testing.T, r *Runtime, id string, pid int) {
	t.Helper()
	if _, err := os.Stat(r.dir(id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s left behind", r.dir(id))
	}
	for _, ctl := range []string{"memory", "pids", "devices", "freezer", "cpu"} {
		p := filepath.Join("/sys/fs/cgroup", ctl, "berth-test", id)
		if _, err := os.Stat(p); err == nil {
			t.Errorf("cgroup %s left behind", p)
		}
	}
	if pid > 0 && unix.Kill(pid, 0) == nil {
		if _, state, err := processStartTime(pid); err == nil && state != 'Z' {
			t.Errorf("process %d left running", pid)
		}
	}
}

func TestLifecycleThroughAPI(t *testing.T) {
	id := testID(t)
	bundle, spec := busyboxBundle(t, id, "sleep", "30")
	writeSpec(t, bundle, spec)
	r := New(t.TempDir())
	t.Cleanup(func() { _ = r.Delete(id, true) })

	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()
	p, err := r.Create(CreateOpts{ID: id, Bundle: bundle, Stdio: [3]*os.File{devnull, devnull, devnull}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.State(id); st.Status != StatusCreated || st.Pid != p.Pid {
		t.Fatalf("after create: %+v", st)
	}
	if _, err := r.Create(CreateOpts{ID: id, Bundle: bundle}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create with the same id: %v", err)
	}
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.State(id); st.Status != StatusRunning {
		t.Fatalf("after start: %s", st.Status)
	}
	if err := r.Start(id); !errdefs.IsConflict(err) {
		t.Fatalf("start of a running container: %v", err)
	}

	// exec joins its namespaces and cgroup.
	var out bytes.Buffer
	rp, wp, _ := os.Pipe()
	proc, err := r.Exec(id, ExecOpts{Process: &specs.Process{Args: []string{"cat", "/proc/self/cgroup"}, Cwd: "/", Env: spec.Process.Env}, Stdio: [3]*os.File{devnull, wp, wp}})
	wp.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = out.ReadFrom(rp)
	if code, err := proc.Wait(); err != nil || code != 0 {
		t.Fatalf("exec exit %d %v: %s", code, err, out.String())
	}
	// In the container's cgroup namespace its own cgroup is "/"; a process
	// outside that cgroup would see a path starting with "/..".
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasSuffix(line, ":/") {
			t.Errorf("exec'd process is not in the container's cgroup: %q", line)
		}
	}
	pids, err := r.Pids(id)
	if err != nil || len(pids) == 0 {
		t.Fatalf("pids: %v %v", pids, err)
	}

	if err := r.Pause(id); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.State(id); st.Status != StatusPaused {
		t.Fatalf("after pause: %s", st.Status)
	}
	if err := r.Resume(id); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(id, false); !errdefs.IsConflict(err) {
		t.Fatalf("delete of a running container without force: %v", err)
	}
	if err := r.Kill(id, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	code, err := p.Wait()
	if err != nil || code != 128+9 {
		t.Fatalf("wait: %d %v", code, err)
	}
	if st, _ := r.State(id); st.Status != StatusStopped || st.Pid != 0 {
		t.Fatalf("after kill: %+v", st)
	}
	if err := r.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, id, p.Pid)
	if _, err := r.State(id); !errdefs.IsNotFound(err) {
		t.Fatalf("state after delete: %v", err)
	}
}

func TestStartOfMissingProgramFailsAndLeavesNothing(t *testing.T) {
	id := testID(t)
	bundle, spec := busyboxBundle(t, id, "no-such-program")
	writeSpec(t, bundle, spec)
	r := New(t.TempDir())
	p, err := r.Create(CreateOpts{ID: id, Bundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(id)
	if err == nil || !strings.Contains(err.Error(), `exec "no-such-program": executable file not found in $PATH`) {
		t.Fatalf("start: %v", err)
	}
	if code, _ := p.Wait(); code != 1 {
		t.Errorf("init exit status %d, want 1", code)
	}
	if st, _ := r.State(id); st.Status != StatusStopped {
		t.Errorf("after a failed start: %s", st.Status)
	}
	if err := r.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, id, p.Pid)
}

func TestFailingPrestartHookLeavesNothing(t *testing.T) {
	id := testID(t)
	bundle, spec := busyboxBundle(t, id, "true")
	spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo nope >&2; exit 7"}}}}
	writeSpec(t, bundle, spec)
	r := New(t.TempDir())
	_, err := r.Create(CreateOpts{ID: id, Bundle: bundle})
	if err == nil || !strings.Contains(err.Error(), "createRuntime hook #0") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("create: %v", err)
	}
	assertGone(t, r, id, 0)
}

// seccompNotifFd is struct seccomp_notif / seccomp_notif_resp (linux/seccomp.h).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  struct {
		Nr                 int32
		Arch               uint32
		InstructionPointer uint64
		Args               [6]uint64
	}
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

const (
	ioctlNotifRecv = 0xc0502100 // SECCOMP_IOCTL_NOTIF_RECV
	ioctlNotifSend = 0xc0182101 // SECCOMP_IOCTL_NOTIF_SEND
)

// A SCMP_ACT_NOTIFY rule: the listener gets the state and the fd from the
// host side, and its answer is what the container's syscall returns.
func TestSeccompNotifyListener(t *testing.T) {
	id := testID(t)
	bundle, spec := busyboxBundle(t, id, "sh", "-c", "mkdir /tmp/x; echo status=$?")
	spec.Root.Readonly = false
	sock := filepath.Join(t.TempDir(), "listener.sock")
	spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		ListenerPath:  sock, ListenerMetadata: "hello",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	writeSpec(t, bundle, spec)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		state specs.ContainerProcessState
		err   error
	}
	gotc := make(chan got, 1)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			gotc <- got{err: err}
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			gotc <- got{err: err}
			return
		}
		var g got
		g.err = json.Unmarshal(buf[:n], &g.state)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		gotc <- g
		// Answer one notification: mkdir "fails" with EROFS (30).
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), ioctlNotifRecv, uintptr(unsafe.Pointer(&req))); e != 0 {
			return
		}
		resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.EROFS)}
		_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(fds[0]), ioctlNotifSend, uintptr(unsafe.Pointer(&resp)))
		unix.Close(fds[0])
	}()

	r := New(t.TempDir())
	t.Cleanup(func() { _ = r.Delete(id, true) })
	rp, wp, _ := os.Pipe()
	p, err := r.Create(CreateOpts{ID: id, Bundle: bundle, Stdio: [3]*os.File{nil, wp, wp}})
	wp.Close()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-gotc:
		if g.err != nil {
			t.Fatal(g.err)
		}
		if g.state.Metadata != "hello" || g.state.State.ID != id || g.state.Pid != p.Pid || len(g.state.Fds) != 1 {
			t.Fatalf("listener got %+v", g.state)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listener got nothing")
	}
	if err := r.Start(id); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, _ = out.ReadFrom(rp)
	if code, err := p.Wait(); err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
	if !strings.Contains(out.String(), "Read-only file system") || !strings.Contains(out.String(), "status=1") {
		t.Errorf("mkdir should have failed with the listener's EROFS:\n%s", out.String())
	}
	if err := r.Delete(id, false); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, id, p.Pid)
}

package runtimecli_test

// The harness of the end-to-end tests: it builds (or takes) the real berth
// binary, makes busybox bundles, runs "berth runtime" verbs and checks that
// nothing a container had is left behind.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/berthtest"
)

const (
	// cgroupParent holds the cgroup of every container these tests create,
	// so that they can run beside a live berth.
	cgroupParent = "/berth-e2e"
	cgroupRoot   = "/sys/fs/cgroup"
	// cmdTimeout bounds every berth command; none should take a second.
	cmdTimeout  = 30 * time.Second
	hostBusybox = "/bin/busybox"
)

var (
	berthBin  string   // the binary under test
	baseSpec  []byte   // config.json as "berth runtime spec" writes it
	applets   []string // busybox applet names (without "busybox")
	setupErr  error    // why the e2e tests cannot run
	ourCgroup []string // the cgroup hierarchies of this host (directories under /sys/fs/cgroup)
)

func TestMain(m *testing.M) {
	setupErr = setup()
	if setupErr != nil {
		fmt.Fprintln(os.Stderr, "runtimecli e2e:", setupErr)
	}
	code := m.Run()
	berthtest.Cleanup()
	// The parent cgroups go only if no container (ours or a parallel run's)
	// is left in them: rmdir fails on a non-empty cgroup.
	for _, h := range ourCgroup {
		_ = os.Remove(filepath.Join(cgroupRoot, h, cgroupParent))
	}
	os.Exit(code)
}

func setup() error {
	if os.Geteuid() != 0 {
		return errors.New("the end-to-end tests of berth runtime need root (run go test as root; CI does)")
	}
	if _, err := os.Stat(hostBusybox); err != nil {
		return fmt.Errorf("%s: %w: install busybox-static (make deps)", hostBusybox, err)
	}
	out, err := exec.Command(hostBusybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("%s --list: %w: install busybox-static (make deps)", hostBusybox, err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			applets = append(applets, a)
		}
	}
	if entries, err := os.ReadDir(cgroupRoot); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				ourCgroup = append(ourCgroup, e.Name())
			}
		}
	}
	if berthBin, err = berthtest.Binary(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "berth-e2e-spec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if out, err := exec.Command(berthBin, "runtime", "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("berth runtime spec: %v: %s", err, out)
	}
	baseSpec, err = os.ReadFile(filepath.Join(dir, "config.json"))
	return err
}

// result is the outcome of one berth command.
type result struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("berth %s: exit %d\nstdout: %q\nstderr: %q", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// harness is one test's view of berth: its own state root and scratch space.
type harness struct {
	t    *testing.T
	bin  string // the berth binary (berthBin unless a test copies it)
	root string // --root
	tmp  string
	n    *int     // commands run, for output file names
	env  []string // added to berth's environment
}

// in returns the harness for a subtest (t) that uses the same state root.
// Subtests sharing a harness must not run in parallel.
func (h *harness) in(t *testing.T) *harness {
	h2 := *h
	h2.t = t
	return &h2
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("e2e set-up failed: %v", setupErr)
	}
	tmp := t.TempDir()
	// berth creates the root itself, with its own permissions.
	return &harness{t: t, bin: berthBin, root: filepath.Join(tmp, "state"), tmp: tmp, n: new(int)}
}

// berth runs "berth runtime --root <root> args..." and waits for it.
func (h *harness) berth(args ...string) result {
	h.t.Helper()
	return h.berthIn(nil, append([]string{"runtime", "--root", h.root}, args...)...)
}

// berthRaw runs the binary with exactly these arguments.
func (h *harness) berthRaw(args ...string) result {
	h.t.Helper()
	return h.berthIn(nil, args...)
}

// mustBerth is berth that fails the test unless the command exits 0.
func (h *harness) mustBerth(args ...string) result {
	h.t.Helper()
	r := h.berth(args...)
	if r.code != 0 {
		h.t.Fatalf("unexpected failure: %v", r)
	}
	return r
}

// berthIn runs berth with stdin from the given reader (nil: /dev/null).
// Output goes to files, not pipes: a container's init inherits berth's
// stdio and may outlive it, which would keep a pipe open.
func (h *harness) berthIn(stdin io.Reader, args ...string) result {
	h.t.Helper()
	bg := h.startBerth(stdin, args...)
	return bg.wait()
}

// bgBerth is a berth command running in the background.
type bgBerth struct {
	h              *harness
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	args           []string
	stdout, stderr *os.File
	done           chan struct{}
	res            result
}

func (h *harness) startBerth(stdin io.Reader, args ...string) *bgBerth {
	h.t.Helper()
	*h.n++
	base := filepath.Join(h.tmp, fmt.Sprintf("cmd%03d", *h.n))
	stdout, err := os.Create(base + ".out")
	if err != nil {
		h.t.Fatal(err)
	}
	stderr, err := os.Create(base + ".err")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, h.env...)
	b := &bgBerth{h: h, cmd: cmd, cancel: cancel, args: args, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		h.t.Fatalf("start berth: %v", err)
	}
	go func() {
		err := cmd.Wait()
		b.res = result{args: args, code: cmd.ProcessState.ExitCode()}
		if ctx.Err() != nil {
			b.res.code = -1
			b.res.stderr = fmt.Sprintf("[berth timed out after %v and was killed] ", cmdTimeout)
		} else if ee := (*exec.ExitError)(nil); err != nil && !errors.As(err, &ee) {
			b.res.code = -1
			b.res.stderr = fmt.Sprintf("[wait: %v] ", err)
		}
		cancel()
		out, _ := os.ReadFile(stdout.Name())
		errOut, _ := os.ReadFile(stderr.Name())
		stdout.Close()
		stderr.Close()
		b.res.stdout = string(out)
		b.res.stderr += string(errOut)
		close(b.done)
	}()
	return b
}

func (b *bgBerth) wait() result {
	<-b.done
	return b.res
}

// exited reports whether the command has finished.
func (b *bgBerth) exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// container is one container under test: its id, bundle, and what it must
// not leave behind.
type container struct {
	h      *harness
	id     string
	bundle string
	pids   *[]procID // processes that must be gone once it is deleted
}

// in returns the container as seen from a subtest (see harness.in).
func (c *container) in(t *testing.T) *container {
	c2 := *c
	c2.h = c.h.in(t)
	return &c2
}

// procID identifies a process by PID and start time (PIDs are reused).
type procID struct {
	pid   int
	start uint64
}

// newID returns a container id unique to this test run.
func newID(t *testing.T) string {
	name := strings.ToLower(t.Name())
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.TrimPrefix(name, "test"))
	if len(name) > 24 {
		name = name[:24]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "e2e-" + name + "-" + hex.EncodeToString(b[:])
}

// newContainer makes a busybox bundle for a new id (see makeBundle) and
// registers the clean-up: "delete --force", then the leak checks.
func (h *harness) newContainer(mutate func(*specs.Spec)) *container {
	h.t.Helper()
	id := newID(h.t)
	c := &container{h: h, id: id, bundle: makeBundle(h.t, id, mutate), pids: new([]procID)}
	h.t.Cleanup(c.cleanup)
	return c
}

func (c *container) cleanup() {
	t := c.h.t
	r := c.h.berth("delete", "--force", c.id)
	if r.code != 0 && !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("clean-up: %v", r)
	}
	c.assertGone()
}

// assertGone checks that the container left nothing: no state directory,
// no cgroup in any hierarchy, no process.
func (c *container) assertGone() {
	t := c.h.t
	t.Helper()
	if _, err := os.Lstat(filepath.Join(c.h.root, c.id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container %s: state directory %s left behind (%v)", c.id, filepath.Join(c.h.root, c.id), err)
	}
	for _, d := range cgroupDirs(c.id) {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("container %s: cgroup %s left behind", c.id, d)
		}
	}
	for _, p := range *c.pids {
		if !berthtest.WaitFor(5*time.Second, func() bool { return !p.alive() }) {
			t.Errorf("container %s: process %d still running", c.id, p.pid)
		}
	}
}

// cgroupDirs lists the container's cgroup in every hierarchy of the host.
func cgroupDirs(id string) []string {
	var out []string
	for _, h := range ourCgroup {
		out = append(out, filepath.Join(cgroupRoot, h, cgroupParent, id))
	}
	return out
}

// cgroupFile is a file of the container's cgroup in a v1 hierarchy.
func cgroupFile(id, controller, file string) string {
	return filepath.Join(cgroupRoot, controller, cgroupParent, id, file)
}

// track records a process that must be gone once the container is deleted.
func (c *container) track(pid int) procID {
	c.h.t.Helper()
	p := procID{pid: pid}
	st, _, err := procStat(pid)
	if err != nil {
		c.h.t.Fatalf("process %d: %v", pid, err)
	}
	p.start = st
	*c.pids = append(*c.pids, p)
	return p
}

// procStat reads the start time (field 22) and state (field 3) of a process.
func procStat(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, f[0][0], err
}

// alive: the same process still exists and is not a zombie (the host's init
// may not reap orphans at once).
func (p procID) alive() bool {
	start, state, err := procStat(p.pid)
	return err == nil && start == p.start && state != 'Z' && state != 'X'
}

// makeBundle writes a busybox bundle into a new temporary directory:
// rootfs/bin/busybox and its applets, and config.json from "berth runtime
// spec" with terminal off, "true" as the process, cgroupsPath
// /berth-e2e/<id>, then mutate (may be nil) applied.
func makeBundle(t *testing.T, id string, mutate func(*specs.Spec)) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(hostBusybox, filepath.Join(bin, "busybox")); err != nil {
		t.Fatalf("copy %s: %v: install busybox-static (make deps)", hostBusybox, err)
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			t.Fatal(err)
		}
	}
	var s specs.Spec
	if err := json.Unmarshal(baseSpec, &s); err != nil {
		t.Fatalf("spec from berth runtime spec: %v", err)
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"true"}
	s.Linux.CgroupsPath = cgroupParent + "/" + id
	if mutate != nil {
		mutate(&s)
	}
	writeSpec(t, dir, &s)
	return dir
}

func writeSpec(t *testing.T, bundle string, s *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// withArgs returns a mutate function setting the process arguments.
func withArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// state is "berth runtime state" output.
type state struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

func (c *container) state() state {
	c.h.t.Helper()
	r := c.h.mustBerth("state", c.id)
	var st state
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		c.h.t.Fatalf("state output is not JSON: %v: %q", err, r.stdout)
	}
	return st
}

// waitStatus polls "state" until the status is want (bounded).
func (c *container) waitStatus(want string) state {
	c.h.t.Helper()
	var st state
	if !berthtest.WaitFor(5*time.Second, func() bool { st = c.state(); return st.Status == want }) {
		c.h.t.Fatalf("container %s: status %q, want %q", c.id, st.Status, want)
	}
	return st
}

// create runs "create" and tracks the init process.
func (c *container) create(extra ...string) state {
	c.h.t.Helper()
	args := append(append([]string{"create", "--bundle", c.bundle}, extra...), c.id)
	c.h.mustBerth(args...)
	st := c.state()
	if st.Status != "created" || st.Pid <= 0 {
		c.h.t.Fatalf("after create: state %+v", st)
	}
	c.track(st.Pid)
	return st
}

// createStart creates and starts the container and waits for "running".
func (c *container) createStart() state {
	c.h.t.Helper()
	c.create()
	c.h.mustBerth("start", c.id)
	return c.waitStatus("running")
}

// runBackground starts "run" of the container, waits (bounded) until it is
// running and tracks its init.
func (c *container) runBackground() (*bgBerth, state) {
	c.h.t.Helper()
	bg := c.h.startBerth(nil, "runtime", "--root", c.h.root, "run", "--bundle", c.bundle, c.id)
	var st state
	if !berthtest.WaitFor(5*time.Second, func() bool {
		r := c.h.berth("state", c.id)
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil && st.Status == "running"
	}) {
		c.h.t.Fatalf("container never ran; run: %v", bg.wait())
	}
	c.track(st.Pid)
	return bg, st
}

// run runs the container in the foreground ("run") and checks that it
// cleaned up after itself.
func (c *container) run(extra ...string) result {
	c.h.t.Helper()
	args := append(append([]string{"run", "--bundle", c.bundle}, extra...), c.id)
	r := c.h.berth(args...)
	c.assertGone()
	return r
}

// assertOneLineError checks a failed command: non-zero exit and a single
// line on stderr that contains each of want.
func assertOneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code == 0 || r.code == -1 {
		t.Errorf("want a failure, got %v", r)
		return
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	t.Logf("berth %s: exit %d: %s", strings.Join(r.args, " "), r.code, msg)
	if msg == "" || strings.Contains(msg, "\n") {
		t.Errorf("want exactly one line on stderr: %v", r)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("stderr should name %q: %v", w, r)
		}
	}
}

// assertOutput checks a command that must succeed with exactly this stdout.
func assertOutput(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 0 || r.stdout != want {
		t.Errorf("want exit 0 and stdout %q, got %v", want, r)
	}
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

// nsLink is the namespace a process is in, as readlink shows it.
func nsLink(t *testing.T, pid int, name string) string {
	t.Helper()
	s, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// holder is a host process kept in namespaces of its own (started with
// unshare), killed by PID at clean-up.
func startHolder(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("unshare", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare %v: %v", args, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// withoutNS drops a namespace from the spec.
func withoutNS(s *specs.Spec, typ specs.LinuxNamespaceType) {
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != typ {
			out = append(out, ns)
		}
	}
	s.Linux.Namespaces = out
}

// setNS adds or replaces a namespace in the spec.
func setNS(s *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	withoutNS(s, typ)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}

package daemon_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/berthtest"
)

// ctrEnv is one container test's world: its own daemon with a busybox image
// that has every applet, and a check at the end that everything the test's
// containers used (shims, processes, mounts, cgroups, state directories) is
// gone.
type ctrEnv struct {
	t     *testing.T
	d     *berthtest.Daemon
	berth string
	// cgroupsBefore are the container cgroups that existed before the test;
	// only those of this test's containers count as leaks (other tests may
	// run concurrently, in other processes).
	cgroupsBefore map[string]bool
	// events are "docker events" processes recording the ids of every
	// container the test made (one per daemon run).
	events []*exec.Cmd
	seen   []*bytes.Buffer
	// daemons started by restartDaemon, stopped after the leak check.
	extra []*exec.Cmd
}

func newCtrEnv(t *testing.T) *ctrEnv {
	t.Helper()
	return newCtrEnvArgs(t)
}

// newCtrEnvArgs is newCtrEnv with extra daemon flags.
func newCtrEnvArgs(t *testing.T, daemonArgs ...string) *ctrEnv {
	t.Helper()
	d := berthtest.StartDaemon(t, daemonArgs...)
	b, err := berthtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	e := &ctrEnv{t: t, d: d, berth: b, cgroupsBefore: map[string]bool{}}
	for _, p := range containerCgroups() {
		e.cgroupsBefore[p] = true
	}
	// Registered after StartDaemon's cleanup, so it runs first, while the
	// daemon still serves.
	t.Cleanup(e.cleanup)
	e.watchEvents()
	if out, err := berthtest.Run(t, b, "-H", d.Host, "import", "-c", `CMD ["sh"]`, fullBusyboxTar(t), "busybox"); err != nil {
		t.Fatalf("import busybox: %v: %s", err, out)
	}
	return e
}

// watchEvents records the ids of containers the daemon reports.
func (e *ctrEnv) watchEvents() {
	var buf bytes.Buffer
	cmd := exec.Command("docker", "-H", e.d.Host, "events", "--filter", "type=container", "--format", "{{.Actor.ID}}")
	cmd.Stdout = &buf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.events = append(e.events, cmd)
	e.seen = append(e.seen, &buf)
}

// containerIDs are the ids of every container the test made (that the
// daemon reported, and that it lists now).
func (e *ctrEnv) containerIDs() map[string]bool {
	ids := map[string]bool{}
	if daemonUp(e.d) {
		for _, id := range strings.Fields(e.dk("ps", "-aq", "--no-trunc").Stdout) {
			ids[id] = true
		}
		time.Sleep(200 * time.Millisecond) // let the events stream catch up
	}
	e.stopEvents()
	for _, buf := range e.seen {
		for _, id := range strings.Fields(buf.String()) {
			if hexID.MatchString(id) {
				ids[id] = true
			}
		}
	}
	return ids
}

// stopEvents ends the events streams (keeping what they recorded): a
// daemon's graceful stop waits for open streams.
func (e *ctrEnv) stopEvents() {
	for _, cmd := range e.events {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	e.events = nil
}

// fullBusyboxTar is busyboxTar with a link for every applet (sleep, id, ps,
// touch, df, ...) and /etc/passwd and /etc/group.
func fullBusyboxTar(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("need /bin/busybox from busybox-static (make deps): %v", err)
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "busybox-full.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, d := range []string{"bin/", "etc/", "tmp/", "root/", "home/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		_ = tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode})
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, body := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	_, _ = tw.Write(bb)
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" {
			continue
		}
		_ = tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// result is what a command did: its streams apart and its exit code (-1 if
// it could not run or was killed at its deadline).
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) Out() string { return r.Stdout + r.Stderr }

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
}

// exe runs name with args, stdin, and a deadline.
func exe(timeout time.Duration, stdin io.Reader, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &so, &se, stdin
	err := cmd.Run()
	r := result{Stdout: so.String(), Stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.Code = ee.ExitCode()
	default:
		r.Code = -1
		r.Stderr += "\n[" + err.Error() + "]"
	}
	if ctx.Err() != nil {
		r.Code = -1
		r.Stderr += fmt.Sprintf("\n[timed out after %v]", timeout)
	}
	return r
}

// dk runs the docker CLI against the test's daemon (30 s limit).
func (e *ctrEnv) dk(args ...string) result {
	return exe(30*time.Second, nil, "docker", append([]string{"-H", e.d.Host}, args...)...)
}

// bt runs the berth CLI against the test's daemon (30 s limit).
func (e *ctrEnv) bt(args ...string) result {
	return exe(30*time.Second, nil, e.berth, append([]string{"-H", e.d.Host}, args...)...)
}

// must runs the docker CLI and fails the test unless it exits 0; it returns
// stdout.
func (e *ctrEnv) must(args ...string) string {
	e.t.Helper()
	r := e.dk(args...)
	if r.Code != 0 {
		e.t.Fatalf("docker %s: %v", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// mustT is must with the output trimmed.
func (e *ctrEnv) mustT(args ...string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must(args...))
}

// inspect returns docker inspect -f format for a container, trimmed.
func (e *ctrEnv) inspect(name, format string) string {
	e.t.Helper()
	return e.mustT("inspect", "-f", format, name)
}

// waitInspect waits until inspect -f format prints want.
func (e *ctrEnv) waitInspect(name, format, want string, timeout time.Duration) {
	e.t.Helper()
	var got string
	if !berthtest.WaitFor(timeout, func() bool {
		got = strings.TrimSpace(e.dk("inspect", "-f", format, name).Stdout)
		return got == want
	}) {
		e.t.Fatalf("inspect %s %s: %q after %v, want %q", name, format, got, timeout, want)
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// cleanup removes every container (while the daemon serves) and checks for
// leaks, then stops the daemons the test restarted.
func (e *ctrEnv) cleanup() {
	t := e.t
	defer func() {
		for _, c := range e.extra {
			stopCmd(t, c)
		}
	}()
	if !daemonUp(e.d) {
		t.Logf("no daemon serves at the end; skipping removal of containers")
	} else {
		ids := strings.Fields(e.dk("ps", "-aq", "--no-trunc").Stdout)
		for _, id := range ids {
			if r := e.dk("rm", "-f", id); r.Code != 0 {
				t.Errorf("cleanup: docker rm -f %s: %v", id, r)
			}
		}
	}
	e.checkNoLeaks(e.containerIDs())
}

// checkNoLeaks fails the test if a shim, a mount, a container cgroup or a
// container state directory of this test's daemon is left.
func (e *ctrEnv) checkNoLeaks(ids map[string]bool) {
	t := e.t
	t.Helper()
	var shims []int
	berthtest.WaitFor(5*time.Second, func() bool {
		shims = e.shimPIDs()
		return len(shims) == 0
	})
	for _, pid := range shims {
		t.Errorf("leak: shim process %d: %s", pid, cmdline(pid))
	}
	for _, m := range mountsUnder(e.d.Dir) {
		t.Errorf("leak: mount %s", m)
	}
	var cgs []string
	berthtest.WaitFor(5*time.Second, func() bool {
		cgs = nil
		for _, cg := range containerCgroups() {
			if ids[filepath.Base(cg)] && !e.cgroupsBefore[cg] {
				cgs = append(cgs, cg)
			}
		}
		return len(cgs) == 0
	})
	for _, cg := range cgs {
		t.Errorf("leak: cgroup %s", cg)
	}
	for _, dir := range []string{filepath.Join(e.d.ExecRoot, "containers"), filepath.Join(e.d.DataRoot, "containers")} {
		entries, _ := os.ReadDir(dir)
		for _, en := range entries {
			t.Errorf("leak: state directory %s/%s", dir, en.Name())
		}
	}
}

// shimPIDs are this daemon's shims that serve a container: "berth shim
// [--spare] <exec-root>/containers[/<id>]" processes that have a child (the
// container's first process) or hold a file of a container open. An idle
// spare shim, waiting for the next container, does not count.
func (e *ctrEnv) shimPIDs() []int {
	var pids []int
	prefix := filepath.Join(e.d.ExecRoot, "containers")
	parents := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	var shims []int
	for _, en := range ents {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + en.Name() + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(b), ')'); i > 0 {
				if f := strings.Fields(string(b)[i+1:]); len(f) > 1 {
					ppid, _ := strconv.Atoi(f[1])
					parents[ppid] = true
				}
			}
		}
		args := strings.Split(cmdline(pid), "\x00")
		if len(args) < 3 || args[1] != "shim" {
			continue
		}
		p := args[len(args)-1]
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			shims = append(shims, pid)
		}
	}
	for _, pid := range shims {
		if parents[pid] || holdsContainerFile(pid, e.d) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func holdsContainerFile(pid int, d *berthtest.Daemon) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue
		}
		for _, dir := range []string{filepath.Join(d.DataRoot, "containers"), filepath.Join(d.ExecRoot, "containers")} {
			if strings.HasPrefix(target, dir+"/") {
				return true
			}
		}
	}
	return false
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimRight(string(b), "\x00")
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// containerCgroups lists /sys/fs/cgroup/*/berth/<64 hex> (and the unified
// hierarchy's) directories.
func containerCgroups() []string {
	var out []string
	for _, pat := range []string{"/sys/fs/cgroup/*/berth/*", "/sys/fs/cgroup/berth/*"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() && hexID.MatchString(filepath.Base(m)) {
				out = append(out, m)
			}
		}
	}
	return out
}

func daemonUp(d *berthtest.Daemon) bool {
	c := d.HTTPClient()
	c.Timeout = 2 * time.Second
	resp, err := c.Get("http://berth/_ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// startDaemonAgain starts "berth daemon" on the first daemon's socket, data
// root and exec root (after that one was killed), as a restarted daemon.
func (e *ctrEnv) startDaemonAgain() *exec.Cmd {
	t := e.t
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(e.d.Dir, "daemon-again.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := e.d.DaemonCommand() // in the first one's network namespace
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.extra = append(e.extra, cmd)
	if !berthtest.WaitFor(10*time.Second, func() bool { return daemonUp(e.d) }) {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("the daemon did not come up again:\n%s", b)
	}
	e.watchEvents()
	return cmd
}

// stopCmd ends a daemon we started: SIGTERM, SIGKILL after 10 s.
func stopCmd(t *testing.T, c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.Process.Kill()
		<-done
		t.Errorf("restarted daemon did not stop on SIGTERM within 10 s")
	}
}

// killCmd ends a daemon we started with SIGKILL.
func killCmd(c *exec.Cmd) {
	if c.Process != nil && c.ProcessState == nil {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
}

// pty runs a shell command line under a pseudo-terminal (util-linux
// script), typing chunks with a pause before each, the way a person types.
// script exits with the command's code, but only once its own stdin ends,
// so stdin ends when the command has exited (or after hold).
func pty(t *testing.T, chunks []string, pause, hold time.Duration, line string) result {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "exited")
	in := &slowReader{chunks: chunks, pause: pause, hold: hold, until: marker}
	full := line + "; rc=$?; echo $rc > " + marker + "; exit $rc"
	return exe(hold+time.Duration(len(chunks))*pause+20*time.Second, in, "script", "-qec", full, "/dev/null")
}

// slowReader hands out its chunks one at a time, each after a pause, then
// blocks until the file until exists (at most hold) before EOF.
type slowReader struct {
	chunks []string
	pause  time.Duration
	hold   time.Duration
	until  string
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		if r.hold > 0 {
			berthtest.WaitFor(r.hold, func() bool { return exists(r.until) })
			r.hold = 0
		}
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// capField is a capability set of this process (the daemon runs with the
// same), as /proc/self/status prints it.
func capField(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return ""
}

package shim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/berthtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	berthtest.Cleanup()
	os.Exit(code)
}

// A supervising shim re-executes itself once its container has started
// (and again after an exec), as "berth shim --resume FD STATEDIR", the same
// process; logs, attach, exec, stop and a daemon that was SIGKILLed and
// comes back all go on working across it.
func TestShimHandsOver(t *testing.T) {
	e := newEnv(t)
	ticker := e.must("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
		`i=0; while true; do echo tick$i; echo err$i >&2; i=$((i+1)); sleep 0.02; done`)
	id := strings.TrimSpace(ticker)
	shim := e.resumedShim(id)
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", shim)); strings.TrimSpace(string(comm)) == "exe" {
		t.Errorf("the resumed shim is named %q: want its program's name, as before", comm)
	}
	pid, _ := strconv.Atoi(e.inspect("ticker", "{{.State.Pid}}"))
	if got := ppid(pid); got != shim {
		t.Errorf("the container's init %d has parent %d, want the shim %d", pid, got, shim)
	}

	// The log has every line, in order, across the handover.
	time.Sleep(500 * time.Millisecond)
	checkTicks(t, e.must("logs", "ticker"), "tick")
	if r := e.dk("logs", "ticker"); !strings.Contains(r.Stderr, "err3\n") {
		t.Errorf("docker logs stderr: %q", r.Stderr)
	}

	// An exec: the shim re-executes again afterwards (a new image: the
	// kernel gives it a new stack).
	stack := stackOf(shim)
	if got := e.must("exec", "ticker", "echo", "exec-ok"); got != "exec-ok\n" {
		t.Errorf("exec: %q", got)
	}
	randomized, _ := os.ReadFile("/proc/sys/kernel/randomize_va_space")
	if strings.TrimSpace(string(randomized)) != "0" && !berthtest.WaitFor(5*time.Second, func() bool { s := stackOf(shim); return s != "" && s != stack }) {
		t.Errorf("the shim (%d) did not re-execute after an exec", shim)
	}
	if e.resumedShim(id) != shim {
		t.Fatalf("the shim's pid changed")
	}

	// An attach to the resumed shim sees live output.
	r := exe(3*time.Second, nil, "timeout", "1", "docker", "-H", e.d.Host, "attach", "--no-stdin", "ticker")
	if !strings.Contains(r.Stdout, "tick") || !strings.Contains(r.Stderr, "err") {
		t.Errorf("attach to the resumed shim: %v", r)
	}

	// A tty container hands over too.
	tty := strings.TrimSpace(e.must("run", "-d", "-t", "--name", "tty", "busybox", "sh", "-c", `i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done`))
	e.resumedShim(tty)
	time.Sleep(300 * time.Millisecond)
	if got := e.must("logs", "tty"); !strings.Contains(got, "line3\r\n") {
		t.Errorf("logs of a tty container: %q", got)
	}

	// The daemon dies and comes back: it finds the resumed shims.
	e.restartDaemon()
	if got := e.must("exec", "ticker", "echo", "again"); got != "again\n" {
		t.Errorf("exec after the daemon's restart: %q", got)
	}
	n := strings.Count(e.must("logs", "ticker"), "\n")
	if !berthtest.WaitFor(5*time.Second, func() bool { return strings.Count(e.must("logs", "ticker"), "\n") > n+10 }) {
		t.Errorf("the log stopped growing after the daemon's restart")
	}
	checkTicks(t, e.must("logs", "ticker"), "tick")
	waited := make(chan result, 1)
	go func() { waited <- e.dk("wait", "ticker") }()
	time.Sleep(300 * time.Millisecond)
	e.must("stop", "-t", "1", "ticker", "tty")
	select {
	case r := <-waited:
		if strings.TrimSpace(r.Stdout) != "137" {
			t.Errorf("wait: %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("wait did not return after stop")
	}
	if got := e.inspect("ticker", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("ticker after stop: %q", got)
	}
	if !berthtest.WaitFor(5*time.Second, func() bool { return !berthtest.Alive(shim) }) {
		t.Errorf("the shim %d outlived its container", shim)
	}
}

// An attach made before the start (docker run, in the foreground) goes on
// through the handover, and so does one with stdin once its stdin ended.
func TestShimHandsOverAttached(t *testing.T) {
	e := newEnv(t)
	r := exe(30*time.Second, nil, "docker", "-H", e.d.Host, "run", "--rm", "--name", "fg", "busybox", "sh", "-c",
		`i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); sleep 0.025; done`)
	if r.Code != 0 {
		t.Fatalf("docker run: %v", r)
	}
	checkTicks(t, r.Stdout, "line")
	if !strings.Contains(r.Stdout, "line39\n") {
		t.Errorf("docker run's output ends early: %q", r.Stdout)
	}
	r = exe(30*time.Second, strings.NewReader("hello\n"), "docker", "-H", e.d.Host, "run", "-i", "--rm", "busybox", "sh", "-c", `read x; sleep 3; echo got:$x`)
	if r.Code != 0 || r.Stdout != "got:hello\n" {
		t.Errorf("docker run -i: %v", r)
	}
}

// A resumed shim with nothing to do sleeps: the same process runs only the
// C sleeper (sleep.c), and wakes for output, requests (exec, attach), a
// daemon that comes back, and the container's end.
func TestShimSleeps(t *testing.T) {
	e := newEnv(t)
	id := strings.TrimSpace(e.must("run", "-d", "-i", "--name", "quiet", "busybox", "sh", "-c",
		`sleep 2; echo first; read x; echo got:$x; sleep 99999`))
	pid, _ := strconv.Atoi(e.inspect("quiet", "{{.State.Pid}}"))
	shim := e.sleepingShim(id)
	if got := ppid(pid); got != shim {
		t.Fatalf("the container's init %d has parent %d, want the sleeping shim %d", pid, got, shim)
	}
	// Asleep, the shim holds a few pages of its own: no Go heap.
	if anon := rollup(t, shim, "Pss_Anon"); anon > 200 {
		t.Errorf("a sleeping shim holds %d kB of anonymous memory, want < 200", anon)
	}
	// Output wakes it: the line is logged; then it sleeps again.
	if !berthtest.WaitFor(5*time.Second, func() bool { return e.must("logs", "quiet") == "first\n" }) {
		t.Fatalf("logs: %q", e.must("logs", "quiet"))
	}
	if e.sleepingShim(id) != shim {
		t.Fatal("the shim's pid changed")
	}
	// A request wakes it.
	if got := e.must("exec", "quiet", "echo", "exec-ok"); got != "exec-ok\n" {
		t.Errorf("exec into a sleeping shim's container: %q", got)
	}
	e.sleepingShim(id)
	// An attach with stdin: live output, then, once it is gone, sleep.
	r := exe(3*time.Second, strings.NewReader("hello\n"), "docker", "-H", e.d.Host, "attach", "quiet")
	if !strings.Contains(r.Stdout, "got:hello") {
		t.Errorf("attach: %v", r)
	}
	e.sleepingShim(id)
	// The daemon dies and comes back: it reaches the sleeping shim.
	e.restartDaemon()
	if got := e.must("exec", "quiet", "echo", "again"); got != "again\n" {
		t.Errorf("exec after the daemon's restart: %q", got)
	}
	e.sleepingShim(id)
	// The end wakes it too: the exit status reaches the daemon.
	e.must("kill", "quiet")
	if !berthtest.WaitFor(10*time.Second, func() bool { return e.inspect("quiet", "{{.State.Status}} {{.State.ExitCode}}") == "exited 137" }) {
		t.Errorf("after kill: %q", e.inspect("quiet", "{{.State.Status}} {{.State.ExitCode}}"))
	}
	if !berthtest.WaitFor(5*time.Second, func() bool { return !berthtest.Alive(shim) }) {
		t.Errorf("the shim %d outlived its container", shim)
	}

	// A container that closed its output: the sleeper does not poll the
	// ended streams (they would wake it at once, over and over).
	closed := strings.TrimSpace(e.must("run", "-d", "busybox", "sh", "-c", `exec >&- 2>&-; sleep 99999`))
	shim = e.sleepingShim(closed)
	before := switches(t, shim)
	time.Sleep(2 * time.Second)
	if after := switches(t, shim); after-before > 2 || shimWith(filepath.Join(e.d.ExecRoot, "containers", closed), "--sleep") != shim {
		t.Errorf("the sleeping shim of a container without output woke: %d context switches in 2 s", after-before)
	}
}

// switches is a process's voluntary context switches (its threads' sum is
// not needed: the sleeper has one).
func switches(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no voluntary_ctxt_switches for %d", pid)
	return 0
}

// sleepingShim waits for the shim of container id to sleep ("berth shim
// --sleep ... STATEDIR") and returns its pid.
func (e *env) sleepingShim(id string) int {
	e.t.Helper()
	dir := filepath.Join(e.d.ExecRoot, "containers", id)
	pid := 0
	berthtest.WaitFor(10*time.Second, func() bool {
		pid = shimWith(dir, "--sleep")
		return pid != 0
	})
	if pid == 0 {
		e.t.Fatalf("the shim of %s does not sleep", id)
	}
	return pid
}

// shimWith finds the shim of state directory dir that runs with mode
// (--resume, --sleep) as its first argument after "shim".
func shimWith(dir, mode string) int {
	ents, _ := os.ReadDir("/proc")
	for _, en := range ents {
		p, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + en.Name() + "/cmdline")
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) >= 4 && args[1] == "shim" && args[2] == mode && args[len(args)-1] == dir {
			return p
		}
	}
	return 0
}

// rollup reads one figure (kB) of /proc/PID/smaps_rollup.
func rollup(t *testing.T, pid int, key string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in smaps_rollup of %d", key, pid)
	return 0
}

type env struct {
	t     *testing.T
	d     *berthtest.Daemon
	again *exec.Cmd // the daemon started again after a SIGKILL
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is needed for this test (it is on this project's machines)")
	}
	e := &env{t: t, d: berthtest.StartDaemon(t, "--bridge", "none")}
	b, err := berthtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := berthtest.Run(t, b, "-H", e.d.Host, "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox"); err != nil {
		t.Fatalf("import busybox: %v: %s", err, out)
	}
	t.Cleanup(func() {
		ids := strings.Fields(e.dk("ps", "-aq").Stdout)
		if len(ids) > 0 {
			if r := e.dk(append([]string{"rm", "-f"}, ids...)...); r.Code != 0 {
				t.Errorf("rm -f: %v", r)
			}
		}
		if e.again != nil {
			_ = e.again.Process.Signal(syscall.SIGTERM)
			_ = e.again.Wait()
		}
	})
	return e
}

// restartDaemon kills the daemon (SIGKILL) and starts it again on the same
// directories, as after a crash.
func (e *env) restartDaemon() {
	e.t.Helper()
	e.d.Kill()
	e.again = e.d.DaemonCommand()
	if err := e.again.Start(); err != nil {
		e.t.Fatal(err)
	}
	if !berthtest.WaitFor(10*time.Second, func() bool { return e.dk("version").Code == 0 }) {
		e.t.Fatalf("the daemon did not come back")
	}
}

// resumedShim waits for the shim of container id to run as "berth shim
// --resume FD STATEDIR" and returns its pid.
func (e *env) resumedShim(id string) int {
	e.t.Helper()
	dir := filepath.Join(e.d.ExecRoot, "containers", id)
	var pid int
	berthtest.WaitFor(5*time.Second, func() bool {
		pid = shimWith(dir, "--resume")
		return pid != 0
	})
	if pid == 0 {
		e.t.Fatalf("no shim of %s runs as \"berth shim --resume FD %s\"", id, dir)
	}
	return pid
}

// checkTicks checks that the lines of out are prefix0, prefix1, ... in
// order, none missing.
func checkTicks(t *testing.T, out, prefix string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Errorf("too few lines: %q", out)
		return
	}
	for i, l := range lines {
		if l != prefix+strconv.Itoa(i) {
			t.Errorf("line %d is %q, want %s%d", i, l, prefix, i)
			return
		}
	}
}

func stackOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, "[stack]") {
			return strings.Fields(l)[0]
		}
	}
	return ""
}

func ppid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

type result struct {
	Stdout, Stderr string
	Code           int
}

func exe(timeout time.Duration, stdin *strings.Reader, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if stdin != nil {
		cmd.Stdin = stdin
	}
	err := cmd.Run()
	r := result{Stdout: so.String(), Stderr: se.String()}
	if err != nil {
		r.Code = -1
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() >= 0 {
			r.Code = ee.ExitCode()
		}
	}
	return r
}

func (e *env) dk(args ...string) result {
	return exe(30*time.Second, nil, "docker", append([]string{"-H", e.d.Host}, args...)...)
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.dk(args...)
	if r.Code != 0 {
		e.t.Fatalf("docker %s: %v", strings.Join(args, " "), r)
	}
	return r.Stdout
}

func (e *env) inspect(name, format string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must("inspect", "-f", format, name))
}

// busyboxTar is the offline image of these tests: busybox and the applets
// they use.
func busyboxTar(t *testing.T) string {
	return berthtest.BusyboxTar(t, "sh", "echo", "sleep", "cat", "true")
}

package daemon_test

import (
	"github.com/berth-dev/berth/berthtest"

	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A daemon that dies (SIGKILL) leaves its containers running under their
// shims; the next daemon on the same directories takes them back.
func TestDaemonKillContainersSurvive(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "ticker", "busybox", "sh", "-c", `i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done`)
	e.must("run", "-d", "--name", "sleeper", "busybox", "sleep", "1000")
	e.must("create", "--name", "idle", "busybox", "true")
	e.must("run", "--name", "finished", "busybox", "true")
	pids := map[string]int{}
	for _, n := range []string{"ticker", "sleeper"} {
		pid, err := strconv.Atoi(e.inspect(n, "{{.State.Pid}}"))
		if err != nil || pid <= 0 {
			t.Fatalf("inspect %s pid: %v", n, err)
		}
		pids[n] = pid
	}
	var shims []int
	if !berthtest.WaitFor(5*time.Second, func() bool { shims = e.shimPIDs(); return len(shims) == 2 }) {
		t.Fatalf("want a shim per running container (2), found %v", shims)
	}

	e.d.Kill()
	time.Sleep(300 * time.Millisecond)
	for n, pid := range pids {
		if !berthtest.Alive(pid) {
			t.Errorf("%s (pid %d) died with the daemon", n, pid)
		}
	}
	for _, pid := range shims {
		if !berthtest.Alive(pid) {
			t.Errorf("shim %d died with the daemon", pid)
		}
	}

	e.startDaemonAgain()
	if got := e.mustT("ps", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(got, "ticker Up") || !strings.Contains(got, "sleeper Up") {
		t.Errorf("ps after the daemon came back: %q", got)
	}
	if got := e.mustT("ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", "name=idle"); got != "idle Created" {
		t.Errorf("ps of a created container after the restart: %q", got)
	}
	if got := e.mustT("ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", "name=finished"); !strings.HasPrefix(got, "finished Exited (0)") {
		t.Errorf("ps of an exited container after the restart: %q", got)
	}
	for n, pid := range pids {
		if got := e.inspect(n, "{{.State.Pid}}"); got != strconv.Itoa(pid) {
			t.Errorf("inspect %s pid after the restart: %s, want %d", n, got, pid)
		}
	}

	// logs -f keeps flowing: it shows ticks written after it started.
	before := strings.Count(e.must("logs", "ticker"), "\n")
	if !followSees(t, e, "ticker", "tick"+strconv.Itoa(before+5), 10*time.Second) {
		t.Errorf("logs -f after the restart did not see new lines (had %d)", before)
	}
	if got := e.must("exec", "sleeper", "echo", "exec-ok"); got != "exec-ok\n" {
		t.Errorf("exec after the restart: %q", got)
	}

	// wait and stop work on the adopted containers.
	waitc := make(chan result, 1)
	go func() { waitc <- e.dk("wait", "sleeper") }()
	time.Sleep(300 * time.Millisecond)
	e.must("stop", "-t", "1", "ticker", "sleeper")
	select {
	case r := <-waitc:
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "137" {
			t.Errorf("wait on an adopted container: %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("wait did not return after stop")
	}
	if got := e.inspect("ticker", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("ticker after stop: %q", got)
	}
	for n, pid := range pids {
		if !berthtest.WaitFor(5*time.Second, func() bool { return !berthtest.Alive(pid) }) {
			t.Errorf("%s (pid %d) still alive after stop", n, pid)
		}
	}
}

// followSees runs logs -f until a line equal to want appears or timeout.
func followSees(t *testing.T, e *ctrEnv, name, want string, timeout time.Duration) bool {
	t.Helper()
	cmd := exec.Command("docker", "-H", e.d.Host, "logs", "-f", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == want {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		return ok
	case <-time.After(timeout):
		return false
	}
}

// A host restart: the daemon, the shims and the containers all die, mounts
// and the exec root (a tmpfs) are gone. The next daemon brings back the
// containers whose policy says so and shows the others exited.
func TestHostRestartRestartPolicies(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "1000")
	e.must("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.must("run", "-d", "--name", "plain", "busybox", "sleep", "1000")
	e.must("run", "-d", "--name", "unless-stopped-by-me", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.must("stop", "-t", "0", "unless-stopped-by-me")
	// A --rm container's record is written without waiting for the disk:
	// the crash may leave it empty, as ext4 can a file renamed into place
	// before its data was flushed.
	e.must("run", "-d", "--rm", "--name", "removes-itself", "busybox", "sleep", "1000")
	lostID := e.inspect("removes-itself", "{{.Id}}")
	lostDir := filepath.Join(e.d.DataRoot, "containers", lostID)
	if err := os.Truncate(filepath.Join(lostDir, "container.json"), 0); err != nil {
		t.Fatal(err)
	}

	var pids []int
	for _, n := range []string{"always", "unless", "plain", "removes-itself"} {
		pid, _ := strconv.Atoi(e.inspect(n, "{{.State.Pid}}"))
		pids = append(pids, pid)
	}
	ids := map[string]bool{}
	for _, id := range strings.Fields(e.mustT("ps", "-aq", "--no-trunc")) {
		ids[id] = true
	}
	shims := e.shimPIDs()
	e.d.Kill()
	for _, pid := range append(shims, pids...) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range append(shims, pids...) {
		if !berthtest.WaitFor(5*time.Second, func() bool { return !berthtest.Alive(pid) }) {
			t.Fatalf("pid %d survived SIGKILL", pid)
		}
	}
	for _, m := range mountsUnder(e.d.Dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Fatalf("unmount %s: %v", m, err)
		}
	}
	ents, _ := os.ReadDir(e.d.ExecRoot)
	for _, en := range ents {
		if err := os.RemoveAll(filepath.Join(e.d.ExecRoot, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for _, cg := range containerCgroups() {
		if ids[filepath.Base(cg)] {
			if !berthtest.WaitFor(5*time.Second, func() bool { return os.Remove(cg) == nil || !exists(cg) }) {
				t.Fatalf("remove cgroup %s (as a reboot would)", cg)
			}
		}
	}

	e.startDaemonAgain()
	for _, n := range []string{"always", "unless"} {
		e.waitInspect(n, "{{.State.Running}}", "true", 15*time.Second)
	}
	for _, n := range []string{"plain", "unless-stopped-by-me"} {
		if got := e.inspect(n, "{{.State.Status}}"); got != "exited" {
			t.Errorf("%s after the host restart: %q, want exited", n, got)
		}
	}
	got := e.mustT("ps", "--format", "{{.Names}}")
	if strings.Join(strings.Fields(got), " ") != "unless always" {
		t.Errorf("ps after the host restart: %q", got)
	}
	if got := e.mustT("ps", "-a", "--format", "{{.Names}}"); strings.Contains(got, "removes-itself") {
		t.Errorf("the --rm container whose record was lost is still listed: %q", got)
	}
	if exists(lostDir) {
		t.Errorf("%s left after the host restart", lostDir)
	}
	if got := e.must("exec", "always", "echo", "back"); got != "back\n" {
		t.Errorf("exec in a restarted container: %q", got)
	}
	e.must("start", "plain")
	if got := e.inspect("plain", "{{.State.Running}}"); got != "true" {
		t.Errorf("start of an exited container after the host restart: %q", got)
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// "always" restarts a container the user stopped when the daemon restarts
// (docker's documented rule); "unless-stopped" does not.
func TestDaemonRestartBringsBackStoppedAlways(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "1000")
	e.must("stop", "-t", "0", "always")
	e.must("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.must("stop", "-t", "0", "unless")
	e.must("run", "-d", "--name", "running", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	e.stopEvents()
	start := time.Now()
	e.d.Stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the daemon took %v to stop on SIGTERM", d)
	}
	e.startDaemonAgain()
	e.waitInspect("running", "{{.State.Running}}", "true", 15*time.Second)
	if got := e.inspect("unless", "{{.State.Status}}"); got != "exited" {
		t.Errorf("unless-stopped, stopped by the user, after a daemon restart: %q", got)
	}
	e.waitInspect("always", "{{.State.Running}}", "true", 15*time.Second)
}

// A client following events (or logs) must not hold up the daemon's
// shutdown: dockerd ends such streams when it stops.
func TestDaemonStopsPromptlyWithAnEventsClient(t *testing.T) {
	e := newCtrEnv(t)
	start := time.Now()
	e.d.Stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the daemon took %v to stop on SIGTERM with docker events connected", d)
	}
}

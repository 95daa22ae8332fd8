package daemon_test

import (
	"github.com/berth-dev/berth/berthtest"

	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The container lifecycle end to end, as a user at a terminal drives it with
// the docker CLI (28.2) and berth's own CLI.

func TestRunExitCodes(t *testing.T) {
	e := newCtrEnv(t)
	for _, cli := range []struct {
		name string
		run  func(...string) result
	}{{"docker", e.dk}, {"berth", e.bt}} {
		if r := cli.run("run", "--rm", "busybox", "echo", "hi"); r.Code != 0 || r.Stdout != "hi\n" {
			t.Errorf("%s run --rm busybox echo hi: %v", cli.name, r)
		}
		if r := cli.run("run", "busybox", "sh", "-c", "exit 3"); r.Code != 3 {
			t.Errorf("%s run busybox sh -c 'exit 3': %v, want exit 3", cli.name, r)
		}
		r := cli.run("run", "busybox", "nosuchcmd")
		if r.Code != 127 || !strings.Contains(r.Stderr, `"nosuchcmd": executable file not found in $PATH`) {
			t.Errorf("%s run busybox nosuchcmd: %v, want exit 127 naming the command", cli.name, r)
		}
		r = cli.run("run", "-d", "busybox", "true")
		if r.Code != 0 || !hexID.MatchString(strings.TrimSpace(r.Stdout)) {
			t.Errorf("%s run -d: %v, want the full id on stdout", cli.name, r)
		}
	}
	// The failed start is recorded as docker does: Created, exit code 127.
	id := strings.Fields(e.mustT("ps", "-aq", "--no-trunc", "--filter", "status=created"))
	if len(id) != 2 {
		t.Fatalf("ps --filter status=created: %v, want the two nosuchcmd containers", id)
	}
	if got := e.inspect(id[0], "{{.State.Status}} {{.State.ExitCode}}"); got != "created 127" {
		t.Errorf("inspect of a container whose command is missing: %q", got)
	}
	if got := e.mustT("ps", "-a", "--filter", "status=exited", "--format", "{{.Status}}"); strings.Count(got, "Exited (3)") != 2 {
		t.Errorf("ps of the exit-3 containers: %q", got)
	}
}

func TestRunRmKeepsExitCode(t *testing.T) {
	e := newCtrEnv(t)
	for _, cli := range []struct {
		name string
		run  func(...string) result
	}{{"docker", e.dk}, {"berth", e.bt}} {
		if r := cli.run("run", "--rm", "busybox", "sh", "-c", "exit 3"); r.Code != 3 {
			t.Errorf("%s run --rm busybox sh -c 'exit 3': %v, want exit 3", cli.name, r)
		}
		if r := cli.run("run", "--rm", "--read-only", "busybox", "touch", "/x"); r.Code != 1 || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("%s run --rm --read-only busybox touch /x: %v, want exit 1", cli.name, r)
		}
	}
	if got := e.mustT("ps", "-aq"); got != "" {
		t.Errorf("run --rm left containers: %q", got)
	}
}

func TestStopKillWait(t *testing.T) {
	e := newCtrEnv(t)
	// A shell that ignores TERM is killed after the timeout: 137.
	e.must("run", "-d", "--name", "ignorer", "busybox", "sh", "-c", `trap "" TERM; while true; do sleep 1; done`)
	start := time.Now()
	if out := e.mustT("stop", "-t", "1", "ignorer"); out != "ignorer" {
		t.Errorf("stop prints the name: %q", out)
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("stop -t 1 of a shell ignoring TERM took %v", d)
	}
	if got := e.inspect("ignorer", "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"); got != "exited 137 false" {
		t.Errorf("after stop: %q, want exited 137", got)
	}
	// A shell that traps TERM exits at once, with its own code.
	e.must("run", "-d", "--name", "trapper", "busybox", "sh", "-c", `trap "exit 0" TERM; while true; do sleep 0.1; done`)
	e.waitInspect("trapper", "{{.State.Running}}", "true", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // let the shell install its trap
	start = time.Now()
	e.must("stop", "trapper")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop of a shell trapping TERM took %v", d)
	}
	if got := e.mustT("wait", "trapper"); got != "0" {
		t.Errorf("wait after a clean stop: %q", got)
	}
	// kill -s TERM reaches the trap: exit 7; wait prints it.
	e.must("run", "-d", "--name", "killme", "busybox", "sh", "-c", `trap "exit 7" TERM; sleep 100 & wait`)
	time.Sleep(300 * time.Millisecond)
	e.must("kill", "-s", "TERM", "killme")
	if got := e.mustT("wait", "killme"); got != "7" {
		t.Errorf("wait after kill -s TERM: %q, want 7", got)
	}
	if got := e.inspect("killme", "{{.State.ExitCode}}"); got != "7" {
		t.Errorf("inspect -f {{.State.ExitCode}}: %q", got)
	}
	// Plain kill is SIGKILL.
	e.must("run", "-d", "--name", "killed", "busybox", "sleep", "100")
	e.must("kill", "killed")
	if got := e.mustT("wait", "killed"); got != "137" {
		t.Errorf("wait after kill: %q", got)
	}
	// Killing a stopped container is refused.
	if r := e.dk("kill", "killed"); r.Code == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("kill of a stopped container: %v", r)
	}
	// berth's CLI: stop and wait.
	e.must("run", "-d", "--name", "bstop", "busybox", "sleep", "100")
	if r := e.bt("stop", "-t", "0", "bstop"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "bstop" {
		t.Errorf("berth stop: %v", r)
	}
	if r := e.bt("wait", "bstop"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "137" {
		t.Errorf("berth wait: %v", r)
	}
}

func TestCreateStartRestartPauseRenameRm(t *testing.T) {
	e := newCtrEnv(t)
	id := e.mustT("create", "--name", "life", "busybox", "sleep", "1000")
	if !hexID.MatchString(id) {
		t.Fatalf("create printed %q", id)
	}
	if got := e.mustT("ps", "-a", "--filter", "name=life", "--format", "{{.Status}}"); got != "Created" {
		t.Errorf("ps after create: %q", got)
	}
	if got := e.mustT("ps", "-q"); got != "" {
		t.Errorf("ps (running only) shows a created container: %q", got)
	}
	e.must("start", "life")
	if got := e.inspect("life", "{{.State.Status}} {{.State.Running}}"); got != "running true" {
		t.Errorf("after start: %q", got)
	}
	if got := e.mustT("ps", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(got, "life Up ") {
		t.Errorf("ps after start: %q", got)
	}
	pid1 := e.inspect("life", "{{.State.Pid}}")
	top := e.must("top", "life")
	if !strings.Contains(top, "sleep 1000") || !strings.Contains(top, pid1) {
		t.Errorf("top (pid %s): %q", pid1, top)
	}

	e.must("restart", "-t", "0", "life")
	if got := e.inspect("life", "{{.State.Status}}"); got != "running" {
		t.Errorf("after restart: %q", got)
	}
	if pid2 := e.inspect("life", "{{.State.Pid}}"); pid2 == pid1 {
		t.Errorf("restart kept pid %s", pid1)
	}

	e.must("pause", "life")
	if got := e.inspect("life", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "paused true true" {
		t.Errorf("after pause: %q", got)
	}
	if got := e.mustT("ps", "--format", "{{.Status}}"); !strings.HasSuffix(got, "(Paused)") {
		t.Errorf("ps of a paused container: %q", got)
	}
	if got := e.mustT("ps", "-q", "--filter", "status=paused"); got != id[:12] {
		t.Errorf("ps --filter status=paused: %q", got)
	}
	if r := e.dk("pause", "life"); r.Code == 0 || !strings.Contains(r.Stderr, "already paused") {
		t.Errorf("pause of a paused container: %v", r)
	}
	e.must("unpause", "life")
	if got := e.inspect("life", "{{.State.Status}} {{.State.Paused}}"); got != "running false" {
		t.Errorf("after unpause: %q", got)
	}
	if r := e.dk("unpause", "life"); r.Code == 0 || !strings.Contains(r.Stderr, "not paused") {
		t.Errorf("unpause of a running container: %v", r)
	}

	e.must("rename", "life", "life2")
	if got := e.inspect(id, "{{.Name}}"); got != "/life2" {
		t.Errorf("after rename: %q", got)
	}
	if r := e.dk("inspect", "life"); r.Code == 0 {
		t.Errorf("the old name still resolves: %v", r)
	}

	// rm of a running container: 409 with a clear message; -f works.
	r := e.dk("rm", "life2")
	if r.Code != 1 || !strings.Contains(r.Stderr, "container is running: stop the container before removing or force remove") {
		t.Errorf("rm of a running container: %v", r)
	}
	resp, err := e.d.HTTPClient().Do(mustRequest(t, http.MethodDelete, "http://berth/v1.50/containers/life2", ""))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "life2") {
		t.Errorf("DELETE of a running container: %d %s, want 409 naming it", resp.StatusCode, body)
	}
	if r := e.bt("rm", "life2"); r.Code == 0 || !strings.Contains(r.Out(), "container is running") {
		t.Errorf("berth rm of a running container: %v", r)
	}
	if got := e.mustT("rm", "-f", "life2"); got != "life2" {
		t.Errorf("rm -f prints the name: %q", got)
	}
	if got := e.mustT("ps", "-aq"); got != "" {
		t.Errorf("after rm -f: %q", got)
	}
	if r := e.dk("rm", "life2"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container: life2") {
		t.Errorf("rm of a removed container: %v", r)
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func TestPsFiltersAndFormats(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "--name", "done1", "--label", "a=b", "busybox", "true")
	if r := e.dk("run", "--name", "done2", "busybox", "sh", "-c", "exit 2"); r.Code != 2 {
		t.Fatalf("run exit 2: %v", r)
	}
	up := e.mustT("run", "-d", "--name", "up1", "--label", "a=b", "busybox", "sleep", "1000")
	last := e.mustT("create", "--name", "new1", "busybox", "true")

	if got := e.mustT("ps", "--format", "{{.Names}}"); got != "up1" {
		t.Errorf("ps: %q", got)
	}
	if got := strings.Fields(e.mustT("ps", "-a", "--format", "{{.Names}}")); strings.Join(got, " ") != "new1 up1 done2 done1" {
		t.Errorf("ps -a (newest first): %q", got)
	}
	if got := e.mustT("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"); got != "done2\ndone1" {
		t.Errorf("ps --filter status=exited: %q", got)
	}
	if got := e.mustT("ps", "-a", "--filter", "label=a=b", "--format", "{{.Names}}"); got != "up1\ndone1" {
		t.Errorf("ps --filter label=a=b: %q", got)
	}
	if got := e.mustT("ps", "-a", "--filter", "exited=2", "--format", "{{.Names}}"); got != "done2" {
		t.Errorf("ps --filter exited=2: %q", got)
	}
	if got := e.mustT("ps", "-l", "-q", "--no-trunc"); got != last {
		t.Errorf("ps -l -q --no-trunc: %q, want %s", got, last)
	}
	if got := e.mustT("ps", "-n", "2", "--format", "{{.Names}}"); got != "new1\nup1" {
		t.Errorf("ps -n 2: %q", got)
	}
	if got := e.mustT("ps", "-q"); got != up[:12] {
		t.Errorf("ps -q: %q", got)
	}
	if got := e.mustT("ps", "--no-trunc", "--format", "{{.ID}} {{.Command}}"); got != up+` "sleep 1000"` {
		t.Errorf("ps --no-trunc: %q", got)
	}
	if got := e.mustT("ps", "-s", "--format", "{{.Size}}"); !strings.Contains(got, "virtual") {
		t.Errorf("ps -s: %q", got)
	}
	if got := e.must("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"); !strings.HasPrefix(got, "NAMES") || !strings.Contains(got, "Exited (2)") {
		t.Errorf("ps --format table: %q", got)
	}
	var j struct{ Names, State, Labels string }
	if err := json.Unmarshal([]byte(e.mustT("ps", "--format", "{{json .}}")), &j); err != nil || j.Names != "up1" || j.State != "running" || j.Labels != "a=b" {
		t.Errorf("ps --format json: %+v %v", j, err)
	}
	// berth's own ps agrees.
	if r := e.bt("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "done2\ndone1" {
		t.Errorf("berth ps --filter status=exited: %v", r)
	}
	// container prune removes the stopped ones (and the created one) only.
	out := e.must("container", "prune", "-f")
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("container prune: %q", out)
	}
	if got := e.mustT("ps", "-a", "--format", "{{.Names}}"); got != "up1" {
		t.Errorf("after container prune: %q", got)
	}
}

func TestLogs(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "talker", "busybox", "sh", "-c", `for i in 1 2 3 4 5; do echo line$i; sleep 0.3; done; echo err >&2`)
	// -f follows until the container exits.
	start := time.Now()
	r := exe(20*time.Second, nil, "docker", "-H", e.d.Host, "logs", "-f", "talker")
	if r.Code != 0 || r.Stdout != "line1\nline2\nline3\nline4\nline5\n" || r.Stderr != "err\n" {
		t.Errorf("logs -f: %v", r)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("logs -f took %v to end after the container exited", d)
	}
	if got := e.must("logs", "--tail", "2", "talker"); got != "line5\n" {
		// stdout and stderr are interleaved in the last two entries: line5 and err
		if r := e.dk("logs", "--tail", "2", "talker"); r.Stdout != "line5\n" || r.Stderr != "err\n" {
			t.Errorf("logs --tail 2: %v", r)
		}
	}
	stamped := strings.Split(strings.TrimSpace(e.must("logs", "-t", "talker")), "\n")
	if len(stamped) != 5 {
		t.Fatalf("logs -t (stdout): %q", stamped)
	}
	var stamps []time.Time
	for _, l := range stamped {
		ts, rest, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !strings.HasPrefix(rest, "line") {
			t.Fatalf("logs -t line %q: %v", l, err)
		}
		stamps = append(stamps, tm)
	}
	t3 := stamps[2].Format(time.RFC3339Nano)
	if got := e.must("logs", "--since", t3, "talker"); got != "line3\nline4\nline5\n" {
		t.Errorf("logs --since %s: %q", t3, got)
	}
	if got := e.must("logs", "--until", t3, "talker"); got != "line1\nline2\nline3\n" {
		t.Errorf("logs --until %s: %q", t3, got)
	}
	if got := e.must("logs", "--since", "2000-01-01T00:00:00Z", "--until", "2001-01-01T00:00:00Z", "talker"); got != "" {
		t.Errorf("logs in a window before the container: %q", got)
	}
	if r := e.bt("logs", "--tail", "1", "talker"); r.Code != 0 || r.Stderr != "err\n" {
		t.Errorf("berth logs --tail 1: %v", r)
	}
	if r := e.dk("logs", "nosuch"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container: nosuch") {
		t.Errorf("logs of a missing container: %v", r)
	}
}

func TestExec(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "1000")
	r := exe(20*time.Second, strings.NewReader("piped in\n"), "docker", "-H", e.d.Host, "exec", "-i", "box", "cat")
	if r.Code != 0 || r.Stdout != "piped in\n" {
		t.Errorf("exec -i with piped stdin: %v", r)
	}
	if r := e.dk("exec", "box", "sh", "-c", "exit 9"); r.Code != 9 {
		t.Errorf("exec exit code: %v, want 9", r)
	}
	if r := e.bt("exec", "box", "sh", "-c", "exit 9"); r.Code != 9 {
		t.Errorf("berth exec exit code: %v, want 9", r)
	}
	if got := e.must("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", "box", "sh", "-c", "echo $FOO; pwd; id -u; id -g"); got != "bar\n/tmp\n1000\n1000\n" {
		t.Errorf("exec -e -w -u: %q", got)
	}
	if got := e.must("exec", "-u", "nobody", "box", "id", "-un"); got != "nobody\n" {
		t.Errorf("exec -u nobody: %q", got)
	}
	e.must("exec", "-d", "box", "sh", "-c", "sleep 0.2; echo detached > /tmp/d")
	if !berthtest.WaitFor(5*time.Second, func() bool { return e.dk("exec", "box", "cat", "/tmp/d").Stdout == "detached\n" }) {
		t.Errorf("exec -d did not run its command")
	}
	// exec -t under a terminal.
	if r := pty(t, nil, 0, 10*time.Second, "docker -H "+e.d.Host+" exec -t box sh -c 'tty; echo ok'"); r.Code != 0 || !strings.Contains(r.Stdout, "/dev/pts/0") || !strings.Contains(r.Stdout, "ok") {
		t.Errorf("exec -t under a pty: %v", r)
	}
	// exec into a stopped container fails clearly.
	e.must("stop", "-t", "0", "box")
	if r := e.dk("exec", "box", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("exec into a stopped container: %v", r)
	}
	if r := e.bt("exec", "box", "true"); r.Code == 0 || !strings.Contains(r.Out(), "is not running") {
		t.Errorf("berth exec into a stopped container: %v", r)
	}
}

// docker exec of a command that does not exist prints the runtime's error
// and exits 127 (the daemon records 127 as the exec's exit code).
func TestExecMissingCommand(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "1000")
	if r := e.dk("exec", "box", "nosuchcmd"); r.Code != 127 || !strings.Contains(r.Out(), `"nosuchcmd": executable file not found`) {
		t.Errorf("exec of a missing command: %v, want 127", r)
	}
	if r := e.bt("exec", "box", "nosuchcmd"); r.Code != 127 || !strings.Contains(r.Out(), `"nosuchcmd": executable file not found`) {
		t.Errorf("berth exec of a missing command: %v, want 127", r)
	}
	if got := e.mustT("ps", "-q"); got == "" {
		t.Errorf("a failed exec stopped the container")
	}
}

func TestExecPrivileged(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "box", "busybox", "sleep", "1000")
	want := capField(t, "CapBnd")
	r := e.dk("exec", "--privileged", "box", "grep", "CapEff", "/proc/self/status")
	if r.Code != 0 || !strings.Contains(r.Stdout, want) {
		t.Errorf("exec --privileged: %v, want CapEff %s (the daemon's bounding set)", r, want)
	}
}

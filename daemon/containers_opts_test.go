package daemon_test

import (
	"github.com/berth-dev/berth/berthtest"

	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docker run's options, each checked from inside the container the way a
// user would check it.

func TestRunOptions(t *testing.T) {
	e := newCtrEnv(t)
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nFROM_FILE=yes\nSPACED=a b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"-e and --env-file", []string{"-e", "A=1", "--env-file", envFile, "busybox", "sh", "-c", `echo "$A $FROM_FILE $SPACED"`}, "1 yes a b\n"},
		{"-w", []string{"-w", "/tmp", "busybox", "pwd"}, "/tmp\n"},
		{"-u uid:gid", []string{"-u", "1000:1000", "busybox", "sh", "-c", "id -u; id -g"}, "1000\n1000\n"},
		{"-u name", []string{"-u", "nobody", "busybox", "id", "-un"}, "nobody\n"},
		{"--entrypoint", []string{"--entrypoint", "echo", "busybox", "via", "entrypoint"}, "via entrypoint\n"},
		{"--hostname", []string{"--hostname", "boxhost", "busybox", "hostname"}, "boxhost\n"},
		{"--tmpfs", []string{"--read-only", "--tmpfs", "/t", "busybox", "sh", "-c", "touch /t/x && echo ok"}, "ok\n"},
		{"--ulimit", []string{"--ulimit", "nofile=1024:2048", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"}, "1024\n2048\n"},
		{"--security-opt no-new-privileges", []string{"--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t1\n"},
		{"no no-new-privileges by default", []string{"busybox", "grep", "NoNewPrivs", "/proc/self/status"}, "NoNewPrivs:\t0\n"},
		{"--cap-drop ALL", []string{"--cap-drop", "ALL", "busybox", "grep", "CapEff", "/proc/self/status"}, "CapEff:\t0000000000000000\n"},
		{"--cap-drop ALL --cap-add NET_ADMIN", []string{"--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "busybox", "grep", "CapEff", "/proc/self/status"}, "CapEff:\t0000000000001000\n"},
		{"default capabilities", []string{"busybox", "grep", "CapEff", "/proc/self/status"}, "CapEff:\t00000000a80425fb\n"},
		{"--cap-drop CHOWN", []string{"--cap-drop", "CHOWN", "busybox", "grep", "CapEff", "/proc/self/status"}, "CapEff:\t00000000a80425fa\n"},
		{"--oom-score-adj", []string{"--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj"}, "500\n"},
		{"--sysctl (namespaced)", []string{"--sysctl", "net.ipv4.ip_forward=1", "busybox", "cat", "/proc/sys/net/ipv4/ip_forward"}, "1\n"},
		{"--shm-size", []string{"--shm-size", "16m", "busybox", "sh", "-c", "df -k /dev/shm | awk 'NR==2{print $2}'"}, "16384\n"},
		{"default /dev/shm is 64M", []string{"busybox", "sh", "-c", "df -k /dev/shm | awk 'NR==2{print $2}'"}, "65536\n"},
		{"--memory", []string{"--memory", "64m", "busybox", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}, "67108864\n"},
		{"--pids-limit", []string{"--pids-limit", "10", "busybox", "cat", "/sys/fs/cgroup/pids/pids.max"}, "10\n"},
		{"--network none", []string{"--network", "none", "busybox", "sh", "-c", "ls /sys/class/net"}, "lo\n"},
	} {
		args := append([]string{"run", "--rm"}, tc.args...)
		if r := e.dk(args...); r.Code != 0 || r.Stdout != tc.want {
			t.Errorf("%s: docker %s: %v, want %q", tc.name, strings.Join(args, " "), r, tc.want)
		}
	}
	// The same through berth's CLI, for a few.
	if r := e.bt("run", "--rm", "-u", "1000:1000", "-w", "/tmp", "-e", "X=y", "--hostname", "bh", "busybox", "sh", "-c", "id -u; pwd; echo $X; hostname"); r.Code != 0 || r.Stdout != "1000\n/tmp\ny\nbh\n" {
		t.Errorf("berth run -u -w -e --hostname: %v", r)
	}
	// --read-only: the root is read-only, /tmp too unless a tmpfs is asked for.
	if r := e.dk("run", "--read-only", "--name", "ro", "busybox", "touch", "/x"); r.Code != 1 || !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("--read-only touch /x: %v", r)
	}
	if got := e.inspect("ro", "{{.HostConfig.ReadonlyRootfs}} {{.State.ExitCode}}"); got != "true 1" {
		t.Errorf("inspect of --read-only: %q", got)
	}
	// --label, --memory, --pids-limit, --ulimit and the rest in inspect.
	e.must("create", "--name", "opts", "--label", "team=core", "--label", "tier=x", "--memory", "64m", "--pids-limit", "10",
		"--ulimit", "nofile=1024:2048", "--oom-score-adj", "500", "--shm-size", "16m", "--stop-signal", "SIGUSR1", "--stop-timeout", "3",
		"--hostname", "hh", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD", "--tmpfs", "/t:size=1m", "busybox", "true")
	for format, want := range map[string]string{
		"{{.Config.Labels.team}} {{.Config.Labels.tier}}":                   "core x",
		"{{.HostConfig.Memory}}":                                            "67108864",
		"{{.HostConfig.PidsLimit}}":                                         "10",
		"{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}": "nofile=1024:2048",
		"{{.HostConfig.OomScoreAdj}} {{.HostConfig.ShmSize}}":               "500 16777216",
		"{{.Config.StopSignal}} {{.Config.StopTimeout}}":                    "SIGUSR1 3",
		"{{.Config.Hostname}}":                                              "hh",
		"{{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}}":                    "[CAP_NET_ADMIN] [CAP_MKNOD]",
		"{{.HostConfig.Tmpfs}}":                                             "map[/t:size=1m]",
		"{{.HostConfig.NetworkMode}}":                                       "bridge",
	} {
		if got := e.inspect("opts", format); got != want {
			t.Errorf("inspect %s: %q, want %q", format, got, want)
		}
	}
	if got := e.mustT("ps", "-a", "--filter", "label=team=core", "--format", "{{.Names}} {{.Label \"tier\"}}"); got != "opts x" {
		t.Errorf("ps --filter label: %q", got)
	}
}

func TestRunPrivileged(t *testing.T) {
	e := newCtrEnv(t)
	want := capField(t, "CapBnd")
	r := e.dk("run", "--rm", "--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status; ls /dev | grep -c . ")
	if r.Code != 0 || !strings.Contains(r.Stdout, "CapEff:\t"+want) {
		t.Errorf("run --privileged: %v, want CapEff %s", r, want)
	}
}

func TestRunInit(t *testing.T) {
	e := newCtrEnv(t)
	r := e.dk("run", "--rm", "--init", "busybox", "ps", "-o", "pid,args")
	if r.Code != 0 || !strings.Contains(r.Stdout, "1 /sbin/docker-init -- ps") {
		t.Errorf("--init: pid 1 should be docker-init: %v", r)
	}
	// Orphans are reaped: a shell leaves a child that exits; no zombie stays.
	e.must("run", "-d", "--init", "--name", "reaper", "busybox", "sh", "-c", "(sleep 0.2 &) ; sleep 1000")
	time.Sleep(time.Second)
	ps := e.must("exec", "reaper", "ps", "-o", "stat,args")
	if strings.Contains(ps, "\nZ") {
		t.Errorf("a zombie under --init: %q", ps)
	}
	// docker-init forwards TERM to the command: stop is quick and clean.
	start := time.Now()
	e.must("stop", "-t", "10", "reaper")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop under --init took %v (TERM not forwarded?)", d)
	}
	if got := e.inspect("reaper", "{{.State.ExitCode}} {{.HostConfig.Init}}"); got != "143 true" {
		t.Errorf("exit after TERM under --init: %q, want 143 true", got)
	}
}

func TestStopSignalAndTimeout(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "usr1", "--stop-signal", "USR1", "busybox", "sh", "-c", `trap "exit 11" USR1; while true; do sleep 0.1; done`)
	time.Sleep(300 * time.Millisecond)
	e.must("stop", "usr1")
	if got := e.inspect("usr1", "{{.State.ExitCode}}"); got != "11" {
		t.Errorf("--stop-signal USR1: exit %q, want 11", got)
	}
	// --stop-timeout 1: stop without -t kills after a second, not ten.
	e.must("run", "-d", "--name", "st1", "--stop-timeout", "1", "busybox", "sh", "-c", `trap "" TERM; while true; do sleep 0.1; done`)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	e.must("stop", "st1")
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("stop with --stop-timeout 1 took %v", d)
	}
	if got := e.inspect("st1", "{{.State.ExitCode}}"); got != "137" {
		t.Errorf("after the stop timeout: %q", got)
	}
}

func TestRestartOnFailure(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
	e.waitInspect("flaky", "{{.RestartCount}} {{.State.Status}}", "2 exited", 20*time.Second)
	time.Sleep(2 * time.Second)
	if got := e.inspect("flaky", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "2 exited 1 on-failure:2" {
		t.Errorf("after the retries: %q", got)
	}
	// A clean exit is not a failure.
	e.must("run", "-d", "--name", "clean", "--restart", "on-failure", "busybox", "true")
	e.waitInspect("clean", "{{.State.Status}}", "exited", 10*time.Second)
	time.Sleep(time.Second)
	if got := e.inspect("clean", "{{.RestartCount}}"); got != "0" {
		t.Errorf("on-failure restarted a clean exit: %q", got)
	}
}

// --restart always brings a container back after it exits; docker stop
// ends that (the user stopped it).
func TestStopEndsRestartAlways(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "again", "--restart", "always", "busybox", "sh", "-c", "sleep 0.3")
	if !berthtest.WaitFor(20*time.Second, func() bool {
		n, _ := strconv.Atoi(strings.TrimSpace(e.dk("inspect", "-f", "{{.RestartCount}}", "again").Stdout))
		return n >= 2
	}) {
		t.Errorf("--restart always did not restart: %s", e.inspect("again", "{{.RestartCount}} {{.State.Status}}"))
	}
	e.must("stop", "-t", "1", "again")
	time.Sleep(time.Second)
	if got := e.inspect("again", "{{.State.Status}}"); got != "exited" {
		t.Errorf("--restart always came back after docker stop: %q", got)
	}
}

func TestHealthCheck(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "healthy", "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms", "--health-retries", "2",
		"busybox", "sh", "-c", "touch /tmp/ok; sleep 1000")
	e.waitInspect("healthy", "{{.State.Health.Status}}", "healthy", 15*time.Second)
	if got := e.mustT("ps", "--filter", "name=healthy", "--format", "{{.Status}}"); !strings.HasSuffix(got, "(healthy)") {
		t.Errorf("ps of a healthy container: %q", got)
	}
	if got := e.mustT("ps", "--filter", "health=healthy", "--format", "{{.Names}}"); got != "healthy" {
		t.Errorf("ps --filter health=healthy: %q", got)
	}
	e.must("exec", "healthy", "rm", "/tmp/ok")
	e.waitInspect("healthy", "{{.State.Health.Status}}", "unhealthy", 15*time.Second)
	if n, _ := strconv.Atoi(e.inspect("healthy", "{{.State.Health.FailingStreak}}")); n < 2 {
		t.Errorf("FailingStreak %d after unhealthy with --health-retries 2", n)
	}
	if got := e.inspect("healthy", "{{range .State.Health.Log}}{{.ExitCode}}{{end}}"); !strings.Contains(got, "0") || !strings.HasSuffix(got, "1") {
		t.Errorf("health log exit codes: %q", got)
	}
	if got := e.mustT("ps", "--filter", "name=healthy", "--format", "{{.Status}}"); !strings.HasSuffix(got, "(unhealthy)") {
		t.Errorf("ps of an unhealthy container: %q", got)
	}
}

func TestLogRotation(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
		`i=0; while [ $i -lt 500 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`)
	logPath := e.inspect("chatty", "{{.LogPath}}")
	if got := e.inspect("chatty", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}"); got != "json-file 1k 2" {
		t.Errorf("inspect LogConfig: %q", got)
	}
	files, _ := filepath.Glob(logPath + "*")
	if len(files) == 0 || len(files) > 2 {
		t.Errorf("log files %v, want at most 2", files)
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > 2048 {
			t.Errorf("log file %s is larger than max-size: %v", f, fi.Size())
		}
	}
	out := e.must("logs", "chatty")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || len(lines) > 40 || lines[len(lines)-1] != "line-499-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
		t.Errorf("logs after rotation: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// docker creates a working directory that the image lacks.
func TestRunWorkdirIsCreated(t *testing.T) {
	e := newCtrEnv(t)
	if r := e.dk("run", "--rm", "-w", "/made/here", "busybox", "pwd"); r.Code != 0 || r.Stdout != "/made/here\n" {
		t.Errorf("docker run -w /made/here: %v", r)
	}
	if r := e.dk("run", "--rm", "-u", "1000", "-w", "/made/here", "busybox", "pwd"); r.Code != 0 || r.Stdout != "/made/here\n" {
		t.Errorf("docker run -u 1000 -w /made/here: %v", r)
	}
}

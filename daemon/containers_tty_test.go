package daemon_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Terminals: docker run -it, attach and its detach keys, under a real pty
// (util-linux script).

func needScript(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux")
	}
}

func TestRunInteractiveTTY(t *testing.T) {
	needScript(t)
	e := newCtrEnv(t)
	for _, cli := range []string{"docker", e.berth} {
		r := pty(t, nil, 0, 10*time.Second, cli+" -H "+e.d.Host+" run -it --name tty1 busybox sh -c 'tty; echo ok'")
		if r.Code != 0 || !strings.Contains(r.Stdout, "/dev/pts/0\r\n") || !strings.Contains(r.Stdout, "ok\r\n") {
			t.Errorf("%s run -it busybox sh -c 'tty; echo ok': %v", cli, r)
		}
		e.must("rm", "tty1")
		// Typing into an interactive shell; its exit code comes back.
		r = pty(t, []string{"echo typed-$((6*7))\r", "exit 5\r"}, time.Second, 10*time.Second, cli+" -H "+e.d.Host+" run -it --name typed busybox sh")
		if r.Code != 5 || !strings.Contains(r.Stdout, "typed-42") {
			t.Errorf("%s run -it busybox sh with typed input: %v, want typed-42 and exit 5", cli, r)
		}
		if got := e.inspect("typed", "{{.Config.Tty}} {{.Config.OpenStdin}} {{.State.ExitCode}}"); got != "true true 5" {
			t.Errorf("inspect of a run -it container: %q", got)
		}
		e.must("rm", "typed")
	}
	// -t without a terminal on our side still gives the container one.
	if r := e.dk("run", "--name", "t1", "-t", "busybox", "tty"); r.Code != 0 || !strings.Contains(r.Stdout, "/dev/pts/0") {
		t.Errorf("run -t without a local terminal: %v", r)
	}
	if r := e.dk("run", "--name", "t2", "busybox", "tty"); r.Code != 1 || !strings.Contains(r.Stdout, "not a tty") {
		t.Errorf("run without -t: tty should say not a tty and exit 1: %v", r)
	}
}

// detachWithin runs an attaching command line under a pty, types input and
// then the detach keys, and reports how long the command took to exit.
func detachWithin(t *testing.T, line string, chunks ...string) (result, time.Duration) {
	t.Helper()
	start := time.Now()
	r := pty(t, chunks, 1500*time.Millisecond, 10*time.Second, line)
	return r, time.Since(start)
}

func TestAttachDetachKeys(t *testing.T) {
	needScript(t)
	e := newCtrEnv(t)
	e.must("run", "-dit", "--name", "shell", "busybox", "sh")
	for _, cli := range []string{"docker", e.berth} {
		r, d := detachWithin(t, cli+" -H "+e.d.Host+" attach shell", "echo at-$((2*3))\r", "\x10\x11")
		if !strings.Contains(r.Stdout, "at-6") || d > 6*time.Second {
			t.Errorf("%s attach, type, then ctrl-p ctrl-q: %v after %v", cli, r, d)
		}
		if got := e.inspect("shell", "{{.State.Running}}"); got != "true" {
			t.Fatalf("the container stopped when %s detached: %q", cli, got)
		}
	}
	// Custom keys: --detach-keys ctrl-x,x.
	r, d := detachWithin(t, "docker -H "+e.d.Host+" attach --detach-keys ctrl-x,x shell", "echo custom\r", "\x18x")
	if !strings.Contains(r.Stdout, "custom") || d > 6*time.Second {
		t.Errorf("attach --detach-keys ctrl-x,x: %v after %v", r, d)
	}
	// run -it then detach: the container keeps running.
	for _, cli := range []string{"docker", e.berth} {
		r, d = detachWithin(t, cli+" -H "+e.d.Host+" run -it --name detached busybox sh", "\x10\x11")
		if r.Code != 0 || d > 6*time.Second {
			t.Errorf("%s run -it, ctrl-p ctrl-q: %v after %v", cli, r, d)
		}
		if got := e.inspect("detached", "{{.State.Running}}"); got != "true" {
			t.Errorf("%s run -it then detach: running %q", cli, got)
		}
		e.must("rm", "-f", "detached")
	}
	// Exiting the shell through attach ends the container.
	r = pty(t, []string{"exit 3\r"}, time.Second, 10*time.Second, "docker -H "+e.d.Host+" attach shell")
	if r.Code != 3 {
		t.Errorf("attach, exit 3: %v, want exit 3", r)
	}
	e.waitInspect("shell", "{{.State.Status}} {{.State.ExitCode}}", "exited 3", 10*time.Second)
}

func TestAttachToRunningOutput(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "printer", "busybox", "sh", "-c", `sleep 1; for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.3; done; exit 4`)
	r := exe(30*time.Second, nil, "docker", "-H", e.d.Host, "attach", "--no-stdin", "printer")
	if r.Code != 4 || r.Stdout != "out1\nout2\nout3\n" || r.Stderr != "err1\nerr2\nerr3\n" {
		t.Errorf("attach to a running container: %v, want its lines and exit 4", r)
	}
	e.must("run", "-d", "--name", "printer2", "busybox", "sh", "-c", `sleep 1; for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.3; done; exit 4`)
	r = e.bt("attach", "--no-stdin", "printer2")
	if r.Code != 4 || r.Stdout != "out1\nout2\nout3\n" {
		t.Errorf("berth attach: %v", r)
	}
	if r := e.dk("attach", "nosuch"); r.Code == 0 || !strings.Contains(r.Stderr, "No such container") {
		t.Errorf("attach to a missing container: %v", r)
	}
	if r := e.dk("attach", "printer"); r.Code == 0 || !strings.Contains(r.Stderr, "You cannot attach to a stopped container") {
		t.Errorf("attach to a stopped container: %v", r)
	}
}

// start -a attaches before it starts: the daemon must let a client attach
// to a stopped container.
func TestStartAttach(t *testing.T) {
	e := newCtrEnv(t)
	e.must("create", "--name", "printer", "busybox", "sh", "-c", `echo out1; echo err1 >&2; exit 4`)
	for _, cli := range []struct {
		name string
		run  func(...string) result
	}{{"docker", e.dk}, {"berth", e.bt}} {
		r := cli.run("start", "-a", "printer")
		if r.Code != 4 || r.Stdout != "out1\n" || r.Stderr != "err1\n" {
			t.Errorf("%s start -a: %v", cli.name, r)
		}
	}
	r := exe(30*time.Second, strings.NewReader("from stdin\n"), "docker", "-H", e.d.Host, "run", "-i", "--name", "cat", "busybox", "cat")
	if r.Code != 0 || r.Stdout != "from stdin\n" {
		t.Fatalf("run -i cat: %v", r)
	}
	r = exe(30*time.Second, strings.NewReader("again\n"), "docker", "-H", e.d.Host, "start", "-ai", "cat")
	if r.Code != 0 || r.Stdout != "again\n" {
		t.Errorf("start -ai with piped stdin: %v", r)
	}
}

// Each start of a container gets a new shim; the daemon must talk to that
// one (attach, stop, rm), not the previous run's.
func TestStartAgainTalksToTheNewShim(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "again", "busybox", "sh", "-c", "sleep 1; echo out; exit 4")
	for i := 0; i < 4; i++ {
		if i > 0 {
			e.must("start", "again")
		}
		if r := e.dk("attach", "--no-stdin", "again"); r.Code != 4 || r.Stdout != "out\n" {
			t.Errorf("run %d: attach: %v", i+1, r)
		}
	}
	e.must("start", "again")
	if got := e.inspect("again", "{{.State.Status}} {{.State.Error}}"); got != "running" {
		t.Errorf("after start: %q", got)
	}
	e.must("rm", "-f", "again")
}

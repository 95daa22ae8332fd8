// Package berthtest supports berth's end-to-end tests: it finds or builds the
// berth binary once per test process and starts daemons in private
// directories. Only _test.go files import it.
package berthtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	once     sync.Once
	bin      string
	buildDir string
	binErr   error
)

// Binary returns $BERTH_BIN, or builds cmd/berth the way the Makefile does
// (static, cgo on) into a temporary directory that Cleanup removes.
func Binary() (string, error) {
	once.Do(func() {
		if p := os.Getenv("BERTH_BIN"); p != "" {
			bin, binErr = filepath.Abs(p)
			return
		}
		bin, binErr = build()
	})
	return bin, binErr
}

// Cleanup removes a binary Binary built; call it from TestMain.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

func build() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	gomod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		return "", fmt.Errorf("find the module root (go env GOMOD): %v", err)
	}
	modRoot := filepath.Dir(strings.TrimSpace(string(gomod)))
	if buildDir, err = os.MkdirTemp("", "berth-e2e-bin-"); err != nil {
		return "", err
	}
	// Reachable by any user: a container's root in a user namespace is not
	// the host's root.
	if err := os.Chmod(buildDir, 0o755); err != nil {
		return "", err
	}
	// The Makefile's own recipe (the init program, then berth with it
	// embedded; musl unless LIBC says otherwise), into this directory.
	out := filepath.Join(buildDir, "berth")
	cmd := exec.Command("make", "-s", "berth", "BIN="+out)
	cmd.Dir = modRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build berth (make berth): %v\n%s", err, b)
	}
	return out, nil
}

// Daemon is a berth daemon started by a test, with its own socket, data root
// and exec root.
type Daemon struct {
	Dir      string
	Socket   string
	Host     string // unix://<Socket>
	DataRoot string
	ExecRoot string
	// NetNS is the daemon's own network namespace (a bind-mounted file):
	// its bridges, nftables rules and published ports live there, apart
	// from the host's and other tests'. InNetNS runs commands in it.
	NetNS string
	args  []string
	cmd   *exec.Cmd
	log   *os.File
}

// StartDaemon starts "berth daemon" in t.TempDir() and stops it (by PID) at
// the end of the test.
func StartDaemon(t testing.TB, extraArgs ...string) *Daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the daemon's end-to-end tests need root (CI runs them as root)")
	}
	if _, err := Binary(); err != nil {
		t.Fatal(err)
	}
	var err error
	dir := t.TempDir()
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "berth.sock"), DataRoot: filepath.Join(dir, "data"), ExecRoot: filepath.Join(dir, "exec")}
	d.Host = "unix://" + d.Socket
	if d.log, err = os.Create(filepath.Join(dir, "daemon.log")); err != nil {
		t.Fatal(err)
	}
	d.NetNS = newNetNS(t)
	d.args = append([]string{"daemon", "-H", d.Host, "--data-root", d.DataRoot, "--exec-root", d.ExecRoot}, extraArgs...)
	d.cmd = d.DaemonCommand()
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(t) })
	if err := d.waitReady(10 * time.Second); err != nil {
		t.Fatalf("daemon did not come up: %v\n%s", err, d.Log())
	}
	return d
}

// DaemonCommand is the command that starts this daemon (again, after a
// Kill): "berth daemon" with its flags, in its network namespace. nsenter
// execs it, so the PID is the daemon's.
func (d *Daemon) DaemonCommand() *exec.Cmd {
	b, _ := Binary()
	return exec.Command("nsenter", append([]string{"--net=" + d.NetNS, "--", b}, d.args...)...)
}

// InNetNS is a command run in the daemon's network namespace (curl of a
// published port on 127.0.0.1, a look at its links and rules).
func (d *Daemon) InNetNS(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + d.NetNS, "--", name}, args...)...)
}

// newNetNS makes a network namespace with lo up, kept by a bind mount in a
// directory of its own (not under the daemon's, whose mounts the tests
// count), unmounted at the end of the test after the daemon has stopped.
func newNetNS(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unshare", "--net="+p, "true").CombinedOutput(); err != nil {
		t.Fatalf("make a network namespace: %v: %s", err, out)
	}
	// Registered before the daemon's stop, so it runs after it.
	t.Cleanup(func() {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount the test's network namespace %s: %v", p, err)
		}
	})
	if out, err := exec.Command("nsenter", "--net="+p, "--", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in the test's network namespace: %v: %s", err, out)
	}
	return p
}

func (d *Daemon) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := d.HTTPClient()
	for {
		resp, err := c.Get("http://berth/_ping")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if d.cmd.ProcessState != nil {
			return errors.New("daemon exited")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// HTTPClient talks HTTP to the daemon's socket.
func (d *Daemon) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Socket)
		},
	}, Timeout: 30 * time.Second}
}

// Log returns what the daemon printed so far.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(d.log.Name())
	return string(b)
}

// Stop sends SIGTERM to the daemon's PID and waits for it (SIGKILL after 10 s).
func (d *Daemon) Stop(t testing.TB) {
	if d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
		t.Errorf("daemon did not stop on SIGTERM within 10 s")
	}
	d.log.Close()
}

// Kill ends the daemon with SIGKILL, as a crash would.
func (d *Daemon) Kill() {
	if d.cmd.Process != nil && d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	}
}

// Run runs a command with a 60 s limit and returns its combined output.
func Run(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// WaitFor polls cond every 50 ms until it is true or timeout passes, and
// says whether it became true.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

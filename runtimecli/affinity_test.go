package runtimecli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// `berth runtime` runs on one CPU (cmd/berth/affinity.c), and nothing it
// starts may inherit that: the container's init, a process exec'd into it
// and a hook all get the CPUs that berth itself was given.
func TestAffinity(t *testing.T) {
	t.Parallel()
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	if own.Count() < 2 {
		t.Skip("one CPU: nothing to pin")
	}
	want := cpusAllowed(t, "self")
	h := newHarness(t)
	logDir := t.TempDir()
	c := h.newContainer(func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status > /aff/init; exec sleep 30"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/aff", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{
			Path: "/bin/sh",
			Args: []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status > " + filepath.Join(logDir, "hook")},
		}}}
	})
	bg, st := c.runBackground()

	// berth itself: one CPU, one of its own.
	pinned := cpusAllowed(t, strconv.Itoa(bg.cmd.Process.Pid))
	if n, err := strconv.Atoi(pinned); err != nil || !own.IsSet(n) {
		t.Errorf("berth runtime run runs on CPUs %q, want one of %q", pinned, want)
	}
	if got := cpusAllowed(t, strconv.Itoa(st.Pid)); got != want {
		t.Errorf("the container's init runs on CPUs %q, want berth's own %q", got, want)
	}
	for _, f := range []string{"init", "hook"} {
		b, err := os.ReadFile(filepath.Join(logDir, f))
		if got := allowedList(string(b)); err != nil || got != want {
			t.Errorf("%s: CPUs %q (%v), want %q", f, got, err, want)
		}
	}
	r := h.mustBerth("exec", c.id, "grep", "Cpus_allowed_list", "/proc/self/status")
	if got := allowedList(r.stdout); got != want {
		t.Errorf("exec: CPUs %q, want %q", got, want)
	}
	h.mustBerth("kill", c.id, "KILL")
	if r := bg.wait(); r.code != 137 {
		t.Errorf("want exit 137: %v", r)
	}
	c.assertGone()
}

// cpusAllowed is Cpus_allowed_list of /proc/PID/status.
func cpusAllowed(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	return allowedList(string(b))
}

var allowedRE = regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(\S+)$`)

func allowedList(status string) string {
	if m := allowedRE.FindStringSubmatch(status); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

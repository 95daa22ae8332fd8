package runtimecli_test

// End-to-end tests of "berth runtime": they run the real binary (BERTH_BIN,
// or one built by TestMain) as root against the real kernel, with busybox
// bundles, and hold it to runc's behaviour and the OCI runtime-spec.

import (
	"github.com/berth-dev/berth/berthtest"

	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Scenario 10.
func TestVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.berthRaw("--version")
	if r.code != 0 || !regexp.MustCompile(`^berth version \S+\n$`).MatchString(r.stdout) {
		t.Errorf("want %q, got %v", "berth version <version>\n", r)
	}
}

// Scenario 1: the exit status and the output of the container's process
// are run's.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	t.Run("exit3", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sh", "-c", "exit 3"))
		if r := c.run(); r.code != 3 {
			t.Errorf("want exit 3: %v", r)
		}
	})
	t.Run("killed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// Without a PID namespace: as PID 1 of its own namespace the shell
		// would be immune to its own SIGKILL (with runc too).
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "kill -9 $$"}
			withoutNS(s, specs.PIDNamespace)
		})
		if r := c.run(); r.code != 137 {
			t.Errorf("want exit 137 (128+SIGKILL): %v", r)
		}
	})
	t.Run("killedFromOutside", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sleep", "30"))
		bg, _ := c.runBackground()
		h.mustBerth("kill", c.id, "KILL")
		if r := bg.wait(); r.code != 137 {
			t.Errorf("want exit 137 (128+SIGKILL): %v", r)
		}
		c.assertGone()
	})
	t.Run("detach", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sleep", "30"))
		assertOutput(t, h.berth("run", "--detach", "--bundle", c.bundle, c.id), "")
		st := c.waitStatus("running")
		c.track(st.Pid)
	})
	t.Run("stdout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sh", "-c", "echo hello from the container; echo to stderr >&2"))
		r := c.run()
		if r.code != 0 || r.stdout != "hello from the container\n" || r.stderr != "to stderr\n" {
			t.Errorf("want exit 0, the container's stdout and stderr: %v", r)
		}
	})
}

// Scenario 2: create, state, start, exec, ps, list, pause, resume, kill,
// delete.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "30"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	pidFile := filepath.Join(h.tmp, "init.pid")

	h.mustBerth("create", "--bundle", c.bundle, "--pid-file", pidFile, c.id)
	st := c.state()
	c.track(st.Pid)
	if st.Status != "created" || st.ID != c.id || st.Bundle != c.bundle || st.OCIVersion != specs.Version {
		t.Errorf("after create: state %+v; want status created, id %s, bundle %s, ociVersion %s", st, c.id, c.bundle, specs.Version)
	}
	if got := readTrim(t, pidFile); got != strconv.Itoa(st.Pid) {
		t.Errorf("pid file holds %q, state says pid %d", got, st.Pid)
	}
	initPid := st.Pid

	h.mustBerth("start", c.id)
	st = c.waitStatus("running")
	if st.Pid != initPid {
		t.Errorf("pid changed from %d to %d at start", initPid, st.Pid)
	}
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", initPid)); string(cmd) != "sleep\x0030\x00" {
		t.Errorf("init process runs %q, want sleep 30", cmd)
	}

	t.Run("exec", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		assertOutput(t, h.berth("exec", c.id, "echo", "hi"), "hi\n")
	})
	t.Run("execEnv", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		assertOutput(t, h.berth("exec", "--env", "FOO=bar", c.id, "sh", "-c", "echo $FOO"), "bar\n")
	})
	t.Run("execCwd", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		assertOutput(t, h.berth("exec", "--cwd", "/tmp", c.id, "pwd"), "/tmp\n")
	})
	t.Run("execUser", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		assertOutput(t, h.berth("exec", "--user", "1000:1000", c.id, "id"), "uid=1000 gid=1000\n")
	})
	t.Run("execExitStatus", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		if r := h.berth("exec", c.id, "sh", "-c", "exit 42"); r.code != 42 {
			t.Errorf("want exit 42: %v", r)
		}
	})
	t.Run("execDetach", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		pf := filepath.Join(h.tmp, "exec.pid")
		r := h.berth("exec", "-d", "--pid-file", pf, c.id, "sleep", "25")
		assertOutput(t, r, "")
		pid, err := strconv.Atoi(readTrim(t, pf))
		if err != nil {
			t.Fatalf("exec --pid-file: %v", err)
		}
		c.track(pid)
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmd) != "sleep\x0025\x00" {
			t.Errorf("detached process %d runs %q, want sleep 25", pid, cmd)
		}
		if got := nsLink(t, pid, "pid"); got != nsLink(t, initPid, "pid") {
			t.Errorf("detached process is in pid namespace %s, the container in %s", got, nsLink(t, initPid, "pid"))
		}
		pids := psPids(t, h, c.id)
		if !contains(pids, pid) {
			t.Errorf("ps --format json = %v: the detached exec %d is missing", pids, pid)
		}
	})
	t.Run("execProcessFile", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		p := specs.Process{
			Args: []string{"sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"},
			Env:  []string{"PATH=/bin", "GREETING=hello"},
			Cwd:  "/bin",
			User: specs.User{UID: 1000, GID: 1000},
		}
		b, _ := json.Marshal(p)
		pf := filepath.Join(h.tmp, "process.json")
		if err := os.WriteFile(pf, b, 0o644); err != nil {
			t.Fatal(err)
		}
		assertOutput(t, h.berth("exec", "--process", pf, c.id), "hello from /bin as 1000\n")
	})
	t.Run("execMissingProgram", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		r := h.berth("exec", c.id, "no-such-program")
		assertOneLineError(t, r, "executable file not found", "no-such-program")
	})
	t.Run("ps", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		if pids := psPids(t, h, c.id); !contains(pids, initPid) {
			t.Errorf("ps --format json = %v: init pid %d is missing", pids, initPid)
		}
		r := h.berth("ps", c.id)
		if r.code != 0 || !strings.Contains(r.stdout, "PID") || !regexp.MustCompile(`(?m)^\S+\s+`+strconv.Itoa(initPid)+`\s`).MatchString(r.stdout) {
			t.Errorf("ps (table) should list the init pid %d: %v", initPid, r)
		}
	})
	t.Run("list", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		r := h.mustBerth("list")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("list: want a header and one row: %v", r)
		}
		f := strings.Fields(lines[1])
		if len(f) < 4 || f[0] != c.id || f[1] != strconv.Itoa(initPid) || f[2] != "running" || f[3] != c.bundle {
			t.Errorf("list row %q: want %s %d running %s", lines[1], c.id, initPid, c.bundle)
		}
		r = h.mustBerth("list", "--format", "json")
		var list []state
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatalf("list --format json: %v: %q", err, r.stdout)
		}
		if len(list) != 1 || list[0].ID != c.id || list[0].Pid != initPid || list[0].Status != "running" || list[0].Bundle != c.bundle {
			t.Errorf("list --format json = %+v", list)
		}
		assertOutput(t, h.berth("list", "-q"), c.id+"\n")
	})
	t.Run("pauseResume", func(t *testing.T) {
		h, c := h.in(t), c.in(t)
		freezer := cgroupFile(c.id, "freezer", "freezer.state")
		h.mustBerth("pause", c.id)
		if st := c.state(); st.Status != "paused" {
			t.Errorf("after pause: status %q", st.Status)
		}
		if got := readTrim(t, freezer); got != "FROZEN" {
			t.Errorf("after pause: %s = %q", freezer, got)
		}
		// runc refuses to exec into a paused container.
		assertOneLineError(t, h.berth("exec", c.id, "true"), "paused")
		h.mustBerth("resume", c.id)
		if st := c.state(); st.Status != "running" {
			t.Errorf("after resume: status %q", st.Status)
		}
		if got := readTrim(t, freezer); got != "THAWED" {
			t.Errorf("after resume: %s = %q", freezer, got)
		}
		assertOutput(t, h.berth("exec", c.id, "echo", "thawed"), "thawed\n")
	})
	if t.Failed() {
		return
	}

	h.mustBerth("kill", c.id, "KILL")
	st = c.waitStatus("stopped")
	if st.Pid != 0 {
		t.Logf("stopped container reports pid %d", st.Pid)
	}
	// exec into and kill of a stopped container fail.
	assertOneLineError(t, h.berth("exec", c.id, "true"), "stopped")
	assertOneLineError(t, h.berth("kill", c.id, "KILL"), "not running")

	h.mustBerth("delete", c.id)
	assertOneLineError(t, h.berth("state", c.id), c.id, "does not exist")
	c.assertGone()
	assertOutput(t, h.berth("list", "-q"), "")
}

func psPids(t *testing.T, h *harness, id string) []int {
	t.Helper()
	r := h.berth("ps", "--format", "json", id)
	var pids []int
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &pids) != nil {
		t.Fatalf("ps --format json: %v", r)
	}
	return pids
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Scenario 3: delete refuses a running container unless forced.
func TestDeleteRunning(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(withArgs("sleep", "30"))
	st := c.createStart()
	// An exec'd process must go with the container too.
	pf := filepath.Join(h.tmp, "exec.pid")
	h.mustBerth("exec", "-d", "--pid-file", pf, c.id, "sleep", "30")
	pid, _ := strconv.Atoi(readTrim(t, pf))
	c.track(pid)

	assertOneLineError(t, h.berth("delete", c.id), c.id, "running")
	if st2 := c.state(); st2.Status != "running" || st2.Pid != st.Pid {
		t.Errorf("after a refused delete: %+v", st2)
	}
	for _, p := range *c.pids {
		if !p.alive() {
			t.Errorf("process %d died at a refused delete", p.pid)
		}
	}
	assertOutput(t, h.berth("delete", "--force", c.id), "")
	c.assertGone()
}

// delete --force of a paused container thaws and kills it.
func TestDeletePaused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(withArgs("sleep", "30"))
	c.createStart()
	h.mustBerth("pause", c.id)
	c.waitStatus("paused")
	assertOneLineError(t, h.berth("delete", c.id), c.id, "paused")
	assertOutput(t, h.berth("delete", "--force", c.id), "")
	c.assertGone()
}

// Scenario 4: every hook stage runs at its time, in order, with the state
// on stdin.
func TestHooks(t *testing.T) {
	t.Parallel()
	t.Run("order", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		logDir := t.TempDir()
		hostLog := filepath.Join(logDir, "log")
		hook := func(stage, log string) specs.Hook {
			return specs.Hook{
				Path: "/bin/sh",
				Args: []string{"sh", "-c", `s=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'); echo "` + stage + ` $s" >> ` + log},
				Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			}
		}
		ccNS := filepath.Join(logDir, "createContainer.mntns")
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
			cc := hook("createContainer", hostLog)
			// It runs in the container's mount namespace (before pivot_root).
			cc.Args[2] += "; readlink /proc/self/ns/mnt > " + ccNS
			s.Hooks = &specs.Hooks{
				Prestart:        []specs.Hook{hook("prestart", hostLog)}, //nolint:staticcheck // still in the spec
				CreateRuntime:   []specs.Hook{hook("createRuntime", hostLog)},
				CreateContainer: []specs.Hook{cc},
				// After pivot_root: the container's /bin/sh and the bind mount.
				StartContainer: []specs.Hook{hook("startContainer", "/hooklog/log")},
				Poststart:      []specs.Hook{hook("poststart", hostLog)},
				Poststop:       []specs.Hook{hook("poststop", hostLog)},
			}
		})
		// Each entry is "<stage> <status>" as a regular expression. Before
		// start, runc passes "creating"; runtime-tools' hooks_stdin wants
		// "created" for prestart; either is accepted there.
		logIs := func(when string, want ...string) {
			t.Helper()
			b, _ := os.ReadFile(hostLog)
			got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			ok := len(got) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = regexp.MustCompile("^" + want[i] + "$").MatchString(got[i])
			}
			if !ok {
				t.Errorf("hook log %s:\n got %q\nwant %q", when, got, want)
			}
		}
		beforeStart := []string{"prestart (creating|created)", "createRuntime (creating|created)", "createContainer (creating|created)"}
		st := c.create()
		logIs("after create", beforeStart...)
		if b, err := os.ReadFile(ccNS); err != nil || strings.TrimSpace(string(b)) != nsLink(t, st.Pid, "mnt") {
			t.Errorf("createContainer hook ran in mount namespace %q (%v), the container's is %s", b, err, nsLink(t, st.Pid, "mnt"))
		}
		h.mustBerth("start", c.id)
		c.waitStatus("running")
		afterStart := append(beforeStart, "startContainer created", "poststart running")
		logIs("after start", afterStart...)
		assertOutput(t, h.berth("delete", "--force", c.id), "")
		logIs("after delete", append(afterStart, "poststop stopped")...)
		c.assertGone()
	})
	t.Run("failingPrestart", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		pidFile := filepath.Join(t.TempDir(), "pid")
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			s.Hooks = &specs.Hooks{
				Prestart: []specs.Hook{{ //nolint:staticcheck
					Path: "/bin/sh",
					Args: []string{"sh", "-c", `sed -n 's/.*"pid":\([0-9]*\).*/\1/p' > ` + pidFile + `; exit 7`},
					Env:  []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
				}},
			}
		})
		r := h.berth("create", "--bundle", c.bundle, c.id)
		assertOneLineError(t, r, "prestart")
		pid, err := strconv.Atoi(readTrim(t, pidFile))
		if err != nil || pid <= 0 {
			t.Fatalf("the hook got no pid in its state: %v", err)
		}
		if !berthtest.WaitFor(5*time.Second, func() bool { _, st, err := procStat(pid); return err != nil || st == 'Z' }) {
			t.Errorf("init process %d of the failed create is still running", pid)
		}
		c.assertGone()
		assertOneLineError(t, h.berth("state", c.id), "does not exist")
	})
}

// Scenario 5: bad input fails with a one-line error naming the problem and
// leaves nothing behind.
func TestBadInput(t *testing.T) {
	t.Parallel()
	createFails := func(t *testing.T, mutate func(*specs.Spec), edit func(bundle string), want ...string) {
		t.Helper()
		h := newHarness(t)
		c := h.newContainer(mutate)
		if edit != nil {
			edit(c.bundle)
		}
		r := h.berth("create", "--bundle", c.bundle, c.id)
		assertOneLineError(t, r, want...)
		c.assertGone()
	}
	t.Run("malformedConfig", func(t *testing.T) {
		t.Parallel()
		createFails(t, nil, func(b string) {
			_ = os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": `), 0o644)
		}, "config.json", "malformed")
	})
	t.Run("missingRootfs", func(t *testing.T) {
		t.Parallel()
		createFails(t, func(s *specs.Spec) { s.Root.Path = "no-such-rootfs" }, nil, "no-such-rootfs")
	})
	t.Run("unknownCapability", func(t *testing.T) {
		t.Parallel()
		createFails(t, func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
		}, nil, "CAP_BOGUS")
	})
	t.Run("missingNamespacePath", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "no-such-ns")
		createFails(t, func(s *specs.Spec) { setNS(s, specs.NetworkNamespace, missing) }, nil, missing)
	})
	t.Run("namespacePathOfWrongType", func(t *testing.T) {
		t.Parallel()
		createFails(t, func(s *specs.Spec) { setNS(s, specs.NetworkNamespace, "/proc/self/ns/uts") }, nil, "net", "namespace")
	})
	t.Run("idExists", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sleep", "30"))
		st := c.create()
		r := h.berth("create", "--bundle", c.bundle, c.id)
		assertOneLineError(t, r, c.id, "already exists")
		if st2 := c.state(); st2.Status != "created" || st2.Pid != st.Pid {
			t.Errorf("the existing container changed: %+v", st2)
		}
		for _, ctl := range []string{"memory", "pids", "freezer", "devices"} {
			if _, err := os.Stat(cgroupFile(c.id, ctl, "cgroup.procs")); err != nil {
				t.Errorf("the failed create removed the existing container's cgroup: %v", err)
			}
		}
		h.mustBerth("start", c.id)
		c.waitStatus("running")
	})
	for name, id := range map[string]string{"dotdot": "../x", "slash": "a/b"} {
		t.Run("invalidID/"+name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			bundle := makeBundle(t, "invalid-"+name, nil)
			r := h.berth("create", "--bundle", bundle, id)
			assertOneLineError(t, r, id, "invalid")
			for _, p := range []string{filepath.Join(h.root, id), filepath.Join(h.root, "x"), filepath.Join(h.root, "a")} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was created", p)
				}
			}
			for _, d := range cgroupDirs("invalid-" + name) {
				if _, err := os.Stat(d); err == nil {
					t.Errorf("cgroup %s was created", d)
				}
			}
		})
	}
	t.Run("startRunning", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newContainer(withArgs("sleep", "30"))
		st := c.createStart()
		assertOneLineError(t, h.berth("start", c.id), c.id, "running")
		if st2 := c.state(); st2.Status != "running" || st2.Pid != st.Pid {
			t.Errorf("after a second start: %+v", st2)
		}
	})
	t.Run("startMissing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		assertOneLineError(t, h.berth("start", "e2e-no-such-container"), "e2e-no-such-container", "does not exist")
	})
	t.Run("unknownFlag", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r := h.berth("create", "--bogus-flag", "e2e-x")
		assertOneLineError(t, r, "unknown flag", "--bogus-flag")
		if _, err := os.Stat(h.root); err == nil {
			t.Errorf("a failed command created the state root")
		}
	})
	t.Run("rlimitAboveHard", func(t *testing.T) {
		t.Parallel()
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max >= 1048576 {
			t.Skipf("the host's RLIMIT_NOFILE hard limit (%d) does not make this fail", lim.Max)
		}
		rl := func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1048576, Hard: 1048576}}
		}
		// runc sets rlimits when the container is created, so create fails.
		t.Run("create", func(t *testing.T) {
			createFails(t, rl, nil, "RLIMIT_NOFILE")
		})
		t.Run("run", func(t *testing.T) {
			h := newHarness(t)
			c := h.newContainer(rl)
			assertOneLineError(t, c.run(), "RLIMIT_NOFILE")
		})
	})
}

// Scenario 6: what the config asks of the container's environment, seen
// from inside it.
func TestIsolation(t *testing.T) {
	t.Parallel()
	// runIn runs sh -c script in a container configured by mutate and checks
	// the exit status and stdout.
	runIn := func(t *testing.T, mutate func(*specs.Spec), script string) result {
		t.Helper()
		h := newHarness(t)
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", script}
			if mutate != nil {
				mutate(s)
			}
		})
		return c.run()
	}
	tmpfsAt := func(dst string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}}
	}
	t.Run("hostname", func(t *testing.T) {
		t.Parallel()
		assertOutput(t, runIn(t, func(s *specs.Spec) { s.Hostname = "e2e-host" }, "hostname"), "e2e-host\n")
	})
	t.Run("readonlyRoot", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) { s.Root.Readonly = true }, "touch /x")
		if r.code != 1 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("touch /x on a read-only root: want exit 1 and EROFS: %v", r)
		}
	})
	t.Run("maskedPaths", func(t *testing.T) {
		t.Parallel()
		var file string
		for _, p := range []string{"/proc/kcore", "/proc/timer_list", "/proc/keys"} {
			if _, err := os.Stat(p); err == nil {
				file = p
				break
			}
		}
		if file == "" {
			t.Skip("no masked /proc file exists on this host")
		}
		mask := []string{file, "/sys/firmware"}
		r := runIn(t, func(s *specs.Spec) { s.Linux.MaskedPaths = mask },
			"cat "+file+" | wc -c; ls -A /sys/firmware | wc -l")
		assertOutput(t, r, "0\n0\n")
	})
	t.Run("readonlyPaths", func(t *testing.T) {
		t.Parallel()
		before := readTrim(t, "/proc/sys/net/ipv4/ip_forward")
		r := runIn(t, func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/proc/sys"} },
			"echo 1 > /proc/sys/net/ipv4/ip_forward")
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("writing under a read-only /proc/sys: want EROFS: %v", r)
		}
		if after := readTrim(t, "/proc/sys/net/ipv4/ip_forward"); after != before {
			t.Errorf("the host's ip_forward changed from %s to %s", before, after)
		}
	})
	t.Run("rlimit", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1000, Hard: 1000}}
		}, "ulimit -n; ulimit -Hn")
		assertOutput(t, r, "1000\n1000\n")
	})
	t.Run("user", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		}, "id")
		assertOutput(t, r, "uid=1000 gid=1000 groups=10,20\n")
	})
	t.Run("capabilities", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) {
			only := []string{"CAP_CHOWN"}
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: only, Effective: only, Permitted: only}
		}, "grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status")
		assertOutput(t, r, "CapPrm:\t0000000000000001\nCapEff:\t0000000000000001\nCapBnd:\t0000000000000001\nCapAmb:\t0000000000000000\n")
	})
	t.Run("noNewPrivileges", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = true }, "grep NoNewPrivs /proc/self/status")
		assertOutput(t, r, "NoNewPrivs:\t1\n")
		r = runIn(t, func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, "grep NoNewPrivs /proc/self/status")
		assertOutput(t, r, "NoNewPrivs:\t0\n")
	})
	t.Run("oomScoreAdj", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) { v := 500; s.Process.OOMScoreAdj = &v }, "cat /proc/self/oom_score_adj")
		assertOutput(t, r, "500\n")
	})
	t.Run("sysctl", func(t *testing.T) {
		t.Parallel()
		before := readTrim(t, "/proc/sys/net/ipv4/ip_forward")
		r := runIn(t, func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "cat /proc/sys/net/ipv4/ip_forward")
		assertOutput(t, r, "1\n")
		if after := readTrim(t, "/proc/sys/net/ipv4/ip_forward"); after != before {
			t.Errorf("the host's ip_forward changed from %s to %s", before, after)
		}
	})
	t.Run("seccomp", func(t *testing.T) {
		t.Parallel()
		eperm := uint(unix.EPERM)
		r := runIn(t, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, tmpfsAt("/tmp"))
			s.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{
					Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm,
				}},
			}
		}, "touch /tmp/file && echo touch ok; mkdir /tmp/x; echo mkdir $?")
		if r.code != 0 || r.stdout != "touch ok\nmkdir 1\n" || !strings.Contains(r.stderr, "Operation not permitted") {
			t.Errorf("mkdir under a seccomp rule returning EPERM: %v", r)
		}
	})
	t.Run("cgroupLimits", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		limit, pids := int64(64<<20), int64(20)
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &pids}
		})
		c.createStart()
		for file, want := range map[string]string{
			cgroupFile(c.id, "memory", "memory.limit_in_bytes"): "67108864",
			cgroupFile(c.id, "pids", "pids.max"):                "20",
		} {
			if got := readTrim(t, file); got != want {
				t.Errorf("%s = %q, want %q", file, got, want)
			}
		}
		// The same files seen through the container's cgroup mount.
		assertOutput(t, h.berth("exec", c.id, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"),
			"67108864\n20\n")
	})
	t.Run("tmpfsOptions", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700"}})
		}, "grep ' /scratch ' /proc/mounts; stat -c %a /scratch")
		lines := strings.Split(r.stdout, "\n")
		if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "tmpfs /scratch tmpfs rw,") ||
			!strings.Contains(lines[0], "size=1024k") || !strings.Contains(lines[0], "mode=700") || lines[1] != "700" {
			t.Errorf("want a tmpfs on /scratch with size=1024k,mode=700: %v", r)
		}
	})
	t.Run("bindMountReadonly", func(t *testing.T) {
		t.Parallel()
		host := t.TempDir()
		if err := os.WriteFile(filepath.Join(host, "hello.txt"), []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runIn(t, func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind", "ro"}})
		}, "cat /data/hello.txt; touch /data/new")
		if r.code != 1 || r.stdout != "from the host\n" || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("read-only bind mount: want the host file and EROFS on write: %v", r)
		}
		if _, err := os.Stat(filepath.Join(host, "new")); err == nil {
			t.Errorf("the container wrote into a read-only bind mount")
		}
	})
	t.Run("devices", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, nil, `set -e
for d in null zero full random urandom tty; do stat -c '%n %F %t:%T' /dev/$d; done
echo discarded > /dev/null
head -c 5 /dev/zero | wc -c
head -c 5 /dev/urandom | wc -c
if echo x 2>/dev/null > /dev/full; then echo full accepted a write; fi
for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done`)
		assertOutput(t, r, `/dev/null character special file 1:3
/dev/zero character special file 1:5
/dev/full character special file 1:7
/dev/random character special file 1:8
/dev/urandom character special file 1:9
/dev/tty character special file 5:0
5
5
/proc/self/fd
/proc/self/fd/0
/proc/self/fd/1
/proc/self/fd/2
pts/ptmx
`)
	})
	t.Run("userNamespace", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		c := h.newUserNSContainer("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g")
		m := "         0     100000      65536\n"
		assertOutput(t, c.run(), m+m+"0\n0\n")
	})
	t.Run("cgroupNamespace", func(t *testing.T) {
		t.Parallel()
		r := runIn(t, func(s *specs.Spec) { setNS(s, specs.CgroupNamespace, "") }, "cat /proc/self/cgroup")
		if r.code != 0 || r.stdout == "" {
			t.Fatalf("cat /proc/self/cgroup: %v", r)
		}
		for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
			if !strings.HasSuffix(line, ":/") {
				t.Errorf("in a cgroup namespace every cgroup is /: %q", line)
			}
		}
	})
}

// newUserNSContainer makes a container in a new user namespace mapping
// 0-65535 to host 100000-165535 that runs sh -c script. Its image belongs to
// the container's root, and the container's root can reach it (as runc's
// tests arrange it).
func (h *harness) newUserNSContainer(script string) *container {
	t := h.t
	t.Helper()
	c := h.newContainer(func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", script}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	chownTree(t, filepath.Join(c.bundle, "rootfs"), 100000, 100000)
	for d := c.bundle; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// runc re-executes itself through /proc/self/exe, so a container in a user
// namespace starts even when the runtime's binary sits in a directory that
// the container's root (an unprivileged host uid) cannot search.
func TestUserNamespacePrivateBinary(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	h.bin = filepath.Join(private, "berth")
	if err := copyFile(berthBin, h.bin); err != nil {
		t.Fatal(err)
	}
	c := h.newUserNSContainer("id -u")
	assertOutput(t, c.run(), "0\n")
}

func chownTree(t *testing.T, root string, uid, gid int) {
	t.Helper()
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Scenario 7: joining namespaces by path.
func TestJoinNamespaces(t *testing.T) {
	t.Parallel()
	// waitUnshared waits until a holder is in namespaces other than ours.
	waitUnshared := func(t *testing.T, pid int, names ...string) {
		t.Helper()
		if !berthtest.WaitFor(5*time.Second, func() bool {
			for _, n := range names {
				a, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n))
				b, err2 := os.Readlink("/proc/self/ns/" + n)
				if err1 != nil || err2 != nil || a == b {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("unshare (pid %d) never got its own %v namespaces", pid, names)
		}
	}
	t.Run("netUtsIpc", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		holder := startHolder(t, "--net", "--uts", "--ipc", "--fork", "--kill-child", "sleep", "60")
		hp := holder.Process.Pid
		waitUnshared(t, hp, "net", "uts", "ipc")
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			s.Hostname = ""
			for _, n := range []struct {
				typ  specs.LinuxNamespaceType
				name string
			}{{specs.NetworkNamespace, "net"}, {specs.UTSNamespace, "uts"}, {specs.IPCNamespace, "ipc"}} {
				setNS(s, n.typ, fmt.Sprintf("/proc/%d/ns/%s", hp, n.name))
			}
		})
		st := c.createStart()
		for _, n := range []string{"net", "uts", "ipc"} {
			if got, want := nsLink(t, st.Pid, n), nsLink(t, hp, n); got != want {
				t.Errorf("container %s namespace %s, want the holder's %s", n, got, want)
			}
		}
		for _, n := range []string{"mnt", "pid"} {
			if got := nsLink(t, st.Pid, n); got == nsLink(t, os.Getpid(), n) || got == nsLink(t, hp, n) {
				t.Errorf("container %s namespace %s should be new", n, got)
			}
		}
		// exec joins the same namespaces.
		assertOutput(t, h.berth("exec", c.id, "readlink", "/proc/self/ns/net"), nsLink(t, hp, "net")+"\n")
	})
	t.Run("mount", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		holder := startHolder(t, "--mount", "--propagation", "private", "--fork", "--kill-child", "sleep", "60")
		hp := holder.Process.Pid
		waitUnshared(t, hp, "mnt")
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			setNS(s, specs.MountNamespace, fmt.Sprintf("/proc/%d/ns/mnt", hp))
		})
		st := c.createStart()
		if got, want := nsLink(t, st.Pid, "mnt"), nsLink(t, hp, "mnt"); got != want {
			t.Errorf("container mnt namespace %s, want the holder's %s", got, want)
		}
		assertOutput(t, h.berth("exec", c.id, "sh", "-c", "ls /bin/busybox; cat /proc/self/oom_score_adj"), "/bin/busybox\n0\n")
	})
	t.Run("pid", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		holder := startHolder(t, "--pid", "--fork", "--kill-child", "--mount-proc", "sleep", "60")
		hp := holder.Process.Pid
		var want string
		if !berthtest.WaitFor(5*time.Second, func() bool {
			l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid_for_children", hp))
			want = l
			return err == nil && l != nsLink(t, os.Getpid(), "pid")
		}) {
			t.Fatalf("unshare --pid never unshared")
		}
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sleep", "30"}
			setNS(s, specs.PIDNamespace, fmt.Sprintf("/proc/%d/ns/pid_for_children", hp))
		})
		st := c.createStart()
		if got := nsLink(t, st.Pid, "pid"); got != want {
			t.Errorf("container pid namespace %s, want the holder's %s", got, want)
		}
		// The holder's sleep is PID 1 there; the container's init is not.
		r := h.berth("exec", c.id, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo")
		assertOutput(t, r, "sleep 60 \n")
	})
}

// Scenario 8: the pty master reaches --console-socket.
func TestConsole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh", "-c", "tty; sleep 30"}
	})
	sock := filepath.Join(h.tmp, "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type recv struct {
		f   *os.File
		err error
	}
	got := make(chan recv, 1)
	go func() {
		_ = ln.SetDeadline(time.Now().Add(cmdTimeout))
		conn, err := ln.AcceptUnix()
		if err != nil {
			got <- recv{err: err}
			return
		}
		defer conn.Close()
		f, err := recvFd(conn)
		got <- recv{f, err}
	}()
	c.create("--console-socket", sock)
	var master *os.File
	select {
	case m := <-got:
		if m.err != nil {
			t.Fatalf("console socket: %v", m.err)
		}
		master = m.f
	case <-time.After(5 * time.Second):
		t.Fatal("create returned but no pty master arrived on the console socket")
	}
	defer master.Close()
	h.mustBerth("start", c.id)
	out := readUntil(t, master, "\n", 5*time.Second)
	if out != "/dev/pts/0\r\n" {
		t.Errorf("the container's tty printed %q, want %q", out, "/dev/pts/0\r\n")
	}
	c.waitStatus("running")
}

// recvFd receives one file descriptor sent with SCM_RIGHTS, as a pollable
// (non-blocking) file so that reads can time out.
func recvFd(conn *net.UnixConn) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("want one fd, got %v (%v)", fds, err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// readUntil reads from f until the data ends with suffix, EOF or timeout.
func readUntil(t *testing.T, f *os.File, suffix string, timeout time.Duration) string {
	t.Helper()
	_ = f.SetReadDeadline(time.Now().Add(timeout))
	var out []byte
	buf := make([]byte, 1024)
	for !strings.HasSuffix(string(out), suffix) {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read timed out after %q", out)
			}
			break
		}
	}
	return string(out)
}

// Scenario 9: spec, features, update, --log.
func TestSpec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := t.TempDir()
	assertOutput(t, h.berth("spec", "--bundle", dir), "")
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil || s.Version != specs.Version || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil {
		t.Errorf("spec wrote %s (%v)", b, err)
	}
	r := h.berth("spec", "--bundle", dir)
	assertOneLineError(t, r, "config.json", "exists")
	if b2, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(b2) != string(b) {
		t.Errorf("a refused spec changed config.json")
	}
}

func TestFeatures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustBerth("features")
	var f struct {
		OCIVersionMin string   `json:"ociVersionMin"`
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatalf("features is not JSON: %v: %q", err, r.stdout)
	}
	if f.OCIVersionMax != specs.Version || f.OCIVersionMin == "" || len(f.Hooks) != 6 {
		t.Errorf("features: %+v", f)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(withArgs("sleep", "30"))
	c.createStart()
	assertOutput(t, h.berth("update", "--memory", "128m", "--pids-limit", "50", c.id), "")
	for file, want := range map[string]string{
		cgroupFile(c.id, "memory", "memory.limit_in_bytes"): "134217728",
		cgroupFile(c.id, "pids", "pids.max"):                "50",
	} {
		if got := readTrim(t, file); got != want {
			t.Errorf("after update: %s = %q, want %q", file, got, want)
		}
	}
	// An update touches only what it names.
	assertOutput(t, h.berth("update", "--pids-limit", "60", c.id), "")
	if got := readTrim(t, cgroupFile(c.id, "memory", "memory.limit_in_bytes")); got != "134217728" {
		t.Errorf("a pids-only update changed memory.limit_in_bytes to %s", got)
	}
	assertOneLineError(t, h.berth("update", "--memory", "lots", c.id), "--memory")
}

func TestLogJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	log := filepath.Join(h.tmp, "berth.log")
	r := h.berthRaw("runtime", "--root", h.root, "--log", log, "--log-format", "json", "state", "e2e-no-such-container")
	assertOneLineError(t, r, "does not exist")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var entry map[string]string
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &entry) != nil {
		t.Fatalf("--log-format json: want one JSON line, got %q", b)
	}
	if entry["level"] != "error" || !strings.Contains(entry["msg"], "does not exist") || entry["time"] == "" {
		t.Errorf("log entry %v: want level error and the message", entry)
	}
	if _, err := time.Parse(time.RFC3339Nano, entry["time"]); err != nil {
		t.Errorf("log time %q: %v", entry["time"], err)
	}
}

// The device cgroup must not deny the container's own /dev while its init
// creates it. The default config's rules (deny all, then allow a list) are
// written as "deny all" followed by each allow rule; with many rules sorted
// before the default devices' (char major 0) that window is long, so any
// overlap with mknod in the init shows. runc applies the rules only once
// the init reports ready. (Under load the default config alone hits it.)
func TestDeviceCgroupRace(t *testing.T) {
	t.Parallel()
	for i := 0; i < 3; i++ {
		h := newHarness(t)
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"sh", "-c", "echo ok > /dev/null && echo ok"}
			for minor := int64(0); minor < 2000; minor++ {
				major := int64(0)
				s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
					Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm",
				})
			}
		})
		assertOutput(t, c.run(), "ok\n")
	}
}

// start must report success when the process was started, however soon it
// exits: runc's start does not look at the process after exec. The
// startContainer hook holds the init process after it released start; start
// is stopped meanwhile so that, when it resumes, the process has run and
// exited and start's periodic liveness check is due at the same time as the
// read of the exec FIFO completes.
func TestStartShortLivedProcess(t *testing.T) {
	t.Parallel()
	for i := 0; i < 6 && !t.Failed(); i++ {
		h := newHarness(t)
		marks := t.TempDir()
		c := h.newContainer(func(s *specs.Spec) {
			s.Process.Args = []string{"true"}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/marks", Type: "bind", Source: marks, Options: []string{"rbind", "rw"}})
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{
				Path: "/bin/sh", Args: []string{"sh", "-c", "touch /marks/hook; sleep 0.2; touch /marks/hook-done"},
				Env: []string{"PATH=/bin"},
			}}}
		})
		st := c.create()
		bg := h.startBerth(nil, "runtime", "--root", h.root, "start", c.id)
		if !berthtest.WaitFor(5*time.Second, func() bool { _, err := os.Stat(filepath.Join(marks, "hook")); return err == nil || bg.exited() }) {
			t.Fatal("the startContainer hook never ran")
		}
		if bg.exited() {
			t.Fatalf("start returned before the hook ended: %v", bg.wait())
		}
		_ = bg.cmd.Process.Signal(unix.SIGSTOP)
		proc := procID{pid: st.Pid}
		proc.start, _, _ = procStat(st.Pid)
		exited := berthtest.WaitFor(5*time.Second, func() bool { return !proc.alive() })
		if exited {
			time.Sleep(50 * time.Millisecond) // let start's 20ms liveness tick fall due
		}
		_ = bg.cmd.Process.Signal(unix.SIGCONT)
		if !exited {
			t.Fatal("the container's process never exited")
		}
		if _, err := os.Stat(filepath.Join(marks, "hook-done")); err != nil {
			t.Fatalf("the startContainer hook did not finish: %v", err)
		}
		if r := bg.wait(); r.code != 0 {
			t.Errorf("attempt %d: start of a process that ran and exited: %v", i, r)
		}
	}
}

// exec --user overrides only the UID (and the GID if given) of the
// container's process.user, as in runc: the rest (additionalGids) stays.
func TestExecUserKeepsConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.newContainer(func(s *specs.Spec) {
		s.Process.Args = []string{"sleep", "30"}
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
	})
	c.createStart()
	assertOutput(t, h.berth("exec", c.id, "id"), "uid=1000 gid=1000 groups=10,20\n")
	assertOutput(t, h.berth("exec", "--user", "2000:3000", c.id, "id"), "uid=2000 gid=3000 groups=10,20\n")
	assertOutput(t, h.berth("exec", "--user", "2000", c.id, "id"), "uid=2000 gid=1000 groups=10,20\n")
	assertOutput(t, h.berth("exec", "--user", "2000:3000", "--additional-gids", "30", c.id, "id"), "uid=2000 gid=3000 groups=10,20,30\n")
}

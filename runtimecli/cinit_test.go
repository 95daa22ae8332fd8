package runtimecli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The container's init runs as a plan in a child cloned from berth
// (runtime/cinit.c); specs the plan cannot carry, or BERTH_GO_INIT=1, use
// the Go init program. Both must build the same container.
func TestCInitMatchesGoInit(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "f"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(hostFile, []byte("one file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	umask := uint32(0o027)
	mode := os.FileMode(0o640)
	uid, gid := uint32(0), uint32(0)
	mutate := func(s *specs.Spec) {
		s.Hostname = "plan-host"
		s.Domainname = "plan.example"
		s.Process.Cwd = "/data"
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask}
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 900}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Effective:   []string{"CAP_KILL"},
			Permitted:   []string{"CAP_KILL", "CAP_NET_RAW"},
			Inheritable: []string{"CAP_KILL"},
			Ambient:     []string{"CAP_KILL"},
		}
		s.Process.NoNewPrivileges = true
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/extra/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid}}
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/proc/cpuinfo", "/does/not/exist")
		s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/data")
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: hostDir, Options: []string{"rbind", "nosuid"}},
			specs.Mount{Destination: "/etc/one/file", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nodev", "size=1m", "mode=1770"}},
			specs.Mount{Destination: "/rro", Type: "tmpfs", Source: "tmpfs", Options: []string{"rro", "private"}},
		)
		s.Root.Readonly = true
		s.Process.Args = []string{"sh", "-c", `
id; umask; pwd; hostname; domainname 2>/dev/null || cat /proc/sys/kernel/domainname
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
ulimit -Sn; ulimit -Hn; ulimit -c
cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax
ls -ln /dev /dev/extra | sed 's/ [A-Z][a-z][a-z] .*:.. / /'
ls -l /dev/ptmx /dev/fd /dev/stdin /dev/stdout /dev/stderr | sed 's/.* -> //'
cat /data/f /etc/one/file; wc -c < /proc/cpuinfo
stat -c '%a' /scratch
awk '{ print $5, $6, $(NF-2), $NF }' /proc/self/mountinfo | sed 's/size=[0-9]*k/SIZE/'
touch /data/x 2>&1 | sed 's/.*: //'; touch /x 2>&1 | sed 's/.*: //'
ls /sys/fs/cgroup | head -3
`}
	}
	run := func(env ...string) result {
		h := newHarness(t)
		h.env = env
		c := h.newContainer(mutate)
		return c.run()
	}
	plan, goInit := run(), run("BERTH_GO_INIT=1")
	if plan.code != 0 || goInit.code != 0 {
		t.Fatalf("plan: %v\nGo init: %v", plan, goInit)
	}
	if plan.stdout != goInit.stdout {
		t.Errorf("the two inits built different containers:\n--- plan:\n%s\n--- Go init:\n%s", plan.stdout, goInit.stdout)
	}
	// And what both must show.
	for _, want := range []string{
		"uid=1000 gid=1000 groups=10,20", "0027\n/data\nplan-host\nplan.example\n",
		"CapEff:\t0000000000000020", "CapBnd:\t0000000000002021", "CapAmb:\t0000000000000020", "NoNewPrivs:\t1",
		"512\n900\n0\n", "1\n123456789\n", "from the host\none file\n0\n", "1770\n",
		"Read-only file system\nRead-only file system\n",
	} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan: output lacks %q:\n%s", want, plan.stdout)
		}
	}
	if !regexp.MustCompile(`crw-r-----\s+1 0\s+0\s+10,\s+229 fuse`).MatchString(plan.stdout) {
		t.Errorf("plan: /dev/extra/fuse not made as asked:\n%s", plan.stdout)
	}
}

// Errors from the plan name what failed, on one line, and leave nothing.
func TestCInitErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"missing program", withArgs("/no/such/program"), `exec "/no/such/program": stat /no/such/program: no such file or directory`},
		{"not in PATH", withArgs("no-such-program"), `exec "no-such-program": executable file not found in $PATH`},
		{"directory", withArgs("/bin/.."), `exec "/bin/..": is a directory`},
		{"bind onto a file's child", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/bin/busybox/x", Type: "tmpfs", Source: "tmpfs"})
		}, "create mount point"},
		{"early mount fails", func(s *specs.Spec) {
			// Before the cgroup mount: made while berth still makes the cgroup.
			s.Mounts = append([]specs.Mount{{Destination: "/bin/busybox/x", Type: "tmpfs", Source: "tmpfs"}}, s.Mounts...)
		}, "create mount point"},
		{"rlimit above the hard limit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NICE", Soft: 5, Hard: 3}}
		}, "RLIMIT_NICE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.in(t).newContainer(tc.mutate)
			r := c.run()
			assertOneLineError(t, r, tc.want)
		})
	}
}

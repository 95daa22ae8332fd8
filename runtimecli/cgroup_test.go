package runtimecli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// An init whose namespaces are all new unshares them after its clone while
// berth makes its cgroup, and joins the cgroup when berth releases it
// (runtime.Create, cinit.c's wait_ok_fds). It must still be in the
// container's cgroup, in every hierarchy, before the container runs; and a
// cgroup that cannot be made leaves nothing behind.
func TestCgroupMadeDuringClone(t *testing.T) {
	t.Parallel()
	t.Run("joined", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// Its own view, from inside: a cgroup namespace rooted at the
		// container's cgroup, so the init joined before unsharing it.
		c := h.newContainer(withArgs("sh", "-c", "cat /proc/self/cgroup > /dev/shm/cg; exec sleep 30"))
		st := c.createStart()
		pid := strconv.Itoa(st.Pid)
		checked := 0
		for _, d := range cgroupDirs(c.id) {
			if strings.HasPrefix(d, filepath.Join(cgroupRoot, "unified")+"/") {
				continue // hybrid: joined only for hugetlb limits
			}
			b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if os.IsNotExist(err) {
				continue // a hierarchy berth does not use (a named one)
			}
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if !containsLine(string(b), pid) {
				t.Errorf("init %s is not in %s: %q", pid, d, b)
			}
		}
		if checked == 0 {
			t.Fatalf("no cgroup of %s found in %v", c.id, cgroupDirs(c.id))
		}
		b, err := os.ReadFile(filepath.Join("/proc", pid, "root", "dev", "shm", "cg"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasSuffix(line, ":/") {
				t.Errorf("inside its cgroup namespace the init is not at its root: %q", line)
			}
		}
		assertOutput(t, h.berth("delete", "--force", c.id), "")
		c.assertGone()
	})
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// A CPU that does not exist: the kernel refuses the cpuset when
		// berth writes it, after the init was cloned.
		c := h.newContainer(func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4000"}}
		})
		r := h.berth("create", "--bundle", c.bundle, c.id)
		assertOneLineError(t, r, "cgroup")
		c.assertGone()
		assertOneLineError(t, h.berth("state", c.id), "does not exist")
	})
}

func containsLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

package cgroup

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// These tests drive real cgroups and therefore need root and a writable
// /sys/fs/cgroup. Every test works in its own /berth-test-<random> cgroup and
// destroys it on cleanup.

func requireCgroups(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no /sys/fs/cgroup")
	}
}

func testName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "berth-test-" + hex.EncodeToString(b)
}

// newTestCgroup creates (Apply(-1)) a cgroup at path and destroys it, and its
// test parent if any, on cleanup.
func newTestCgroup(t *testing.T, path string, res *specs.LinuxResources) *Cgroup {
	t.Helper()
	c, err := New(path, "unused", res)
	if err != nil {
		t.Fatalf("New(%q): %v", path, err)
	}
	paths := c.Paths()
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
		// Remove intermediate test directories (e.g. berth-test-x/child).
		for _, p := range paths {
			for dir := filepath.Dir(p); strings.Contains(dir, "berth-test-"); dir = filepath.Dir(dir) {
				_ = os.Remove(dir)
			}
		}
	})
	if err := c.Apply(-1); err != nil {
		t.Fatalf("Apply(-1): %v", err)
	}
	return c
}

// proc is a child process started by a test.
type proc struct {
	pid  int
	done chan struct{} // closed once the process has been reaped
}

// startSleep starts "sleep 30", reaps it in the background and kills it (by
// pid) on cleanup.
func startSleep(t *testing.T) *proc {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		<-p.done
	})
	return p
}

func (p *proc) exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

func readCgFile(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return strings.TrimSpace(string(b))
}

func expectFile(t *testing.T, dir, file, want string) {
	t.Helper()
	if got := readCgFile(t, dir, file); got != want {
		t.Errorf("%s/%s = %q, want %q", dir, file, got, want)
	}
}

func controllerDir(t *testing.T, c *Cgroup, ctl string) string {
	t.Helper()
	if c.unified {
		return c.Paths()[""]
	}
	p := c.Paths()[ctl]
	if p == "" {
		t.Skipf("cgroup v1 controller %q is not mounted on this host", ctl)
	}
	return p
}

// haveController reports whether a controller can be used on this host: a
// mounted v1 hierarchy, or listed in the v2 root's cgroup.controllers.
func haveController(ctl string) bool {
	if cgroups.IsCgroup2UnifiedMode() {
		b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		return err == nil && slices.Contains(strings.Fields(string(b)), ctl)
	}
	_, err := cgroups.FindCgroupMountpoint("", ctl)
	return err == nil
}

func requireControllers(t *testing.T, ctls ...string) {
	t.Helper()
	for _, ctl := range ctls {
		if !haveController(ctl) {
			t.Skipf("cgroup controller %q is not available on this host", ctl)
		}
	}
}

func procInCgroup(t *testing.T, dir string, pid int) bool {
	t.Helper()
	for _, f := range strings.Fields(readCgFile(t, dir, "cgroup.procs")) {
		if f == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

func TestApplyPlacesProcessEverywhere(t *testing.T) {
	requireCgroups(t)
	name := testName(t)
	c := newTestCgroup(t, "/"+name, nil)
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	paths := c.Paths()
	if len(paths) == 0 {
		t.Fatal("no paths")
	}
	for ctl, p := range paths {
		if !strings.HasSuffix(p, "/"+name) {
			t.Errorf("path for %q = %q, want it to end in /%s", ctl, p, name)
		}
		if !procInCgroup(t, p, cmd.pid) {
			t.Errorf("pid %d not in %s", cmd.pid, p)
		}
	}
	if !c.unified {
		for _, ctl := range []string{"memory", "cpu", "pids", "devices", "freezer"} {
			if paths[ctl] != "/sys/fs/cgroup/"+ctl+"/"+name {
				t.Errorf("paths[%q] = %q", ctl, paths[ctl])
			}
		}
		if cgroups.IsCgroup2HybridMode() && paths[""] != "/sys/fs/cgroup/unified/"+name {
			t.Errorf("hybrid host: paths[\"\"] = %q, want the unified mount", paths[""])
		}
	}
}

func TestSetLimits(t *testing.T) {
	requireCgroups(t)
	requireControllers(t, "memory", "cpu", "cpuset", "pids")
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit:            ptr[int64](64 << 20),
			Reservation:      ptr[int64](32 << 20),
			Swap:             ptr[int64](128 << 20),
			Swappiness:       ptr[uint64](50),
			DisableOOMKiller: ptr(true),
			KernelTCP:        ptr[int64](16 << 20),
		},
		CPU: &specs.LinuxCPU{
			Shares: ptr[uint64](512),
			Quota:  ptr[int64](50000),
			Period: ptr[uint64](100000),
			Cpus:   "0",
			Mems:   "0",
		},
		Pids: &specs.LinuxPids{Limit: ptr[int64](42)},
	}
	c := newTestCgroup(t, "/"+testName(t), res)
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := c.Set(res); err != nil {
		t.Fatalf("Set: %v", err)
	}

	if c.unified {
		dir := c.Paths()[""]
		expectFile(t, dir, "memory.max", strconv.Itoa(64<<20))
		expectFile(t, dir, "memory.low", strconv.Itoa(32<<20))
		expectFile(t, dir, "memory.swap.max", strconv.Itoa(64<<20))
		expectFile(t, dir, "cpu.weight", strconv.FormatUint(cgroups.ConvertCPUSharesToCgroupV2Value(512), 10))
		expectFile(t, dir, "cpu.max", "50000 100000")
		expectFile(t, dir, "cpuset.cpus", "0")
		expectFile(t, dir, "pids.max", "42")
		return
	}

	mem := controllerDir(t, c, "memory")
	expectFile(t, mem, "memory.limit_in_bytes", strconv.Itoa(64<<20))
	expectFile(t, mem, "memory.soft_limit_in_bytes", strconv.Itoa(32<<20))
	if _, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil {
		expectFile(t, mem, "memory.memsw.limit_in_bytes", strconv.Itoa(128<<20))
	}
	expectFile(t, mem, "memory.swappiness", "50")
	if oom := readCgFile(t, mem, "memory.oom_control"); !strings.Contains(oom, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control = %q, want oom_kill_disable 1", oom)
	}
	if _, err := os.Stat(filepath.Join(mem, "memory.kmem.tcp.limit_in_bytes")); err == nil {
		expectFile(t, mem, "memory.kmem.tcp.limit_in_bytes", strconv.Itoa(16<<20))
	}
	cpu := controllerDir(t, c, "cpu")
	expectFile(t, cpu, "cpu.shares", "512")
	expectFile(t, cpu, "cpu.cfs_quota_us", "50000")
	expectFile(t, cpu, "cpu.cfs_period_us", "100000")
	cpuset := controllerDir(t, c, "cpuset")
	expectFile(t, cpuset, "cpuset.cpus", "0")
	expectFile(t, cpuset, "cpuset.mems", "0")
	expectFile(t, controllerDir(t, c, "pids"), "pids.max", "42")

	// update: only what is named changes.
	upd := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](-1)}, CPU: &specs.LinuxCPU{Quota: ptr[int64](-1)}}
	if err := c.Set(upd); err != nil {
		t.Fatalf("Set(update): %v", err)
	}
	expectFile(t, controllerDir(t, c, "pids"), "pids.max", "max")
	expectFile(t, cpu, "cpu.cfs_quota_us", "-1")
	expectFile(t, cpu, "cpu.shares", "512")
	expectFile(t, mem, "memory.limit_in_bytes", strconv.Itoa(64<<20))
}

func TestSetDevices(t *testing.T) {
	requireCgroups(t)
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"},
		{Allow: true, Type: "c", Major: ptr[int64](10), Minor: ptr[int64](229), Access: "rwm"},
		{Allow: true, Type: "b", Major: ptr[int64](8), Minor: ptr[int64](20), Access: "rw"},
		{Allow: true, Type: "c", Major: ptr[int64](136), Access: "rwm"},
	}}
	c := newTestCgroup(t, "/"+testName(t), res)
	if err := c.Set(res); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if c.unified {
		t.Log("cgroup v2: device rules are an eBPF program; nothing to read back")
		return
	}
	dir := controllerDir(t, c, "devices")
	want := []string{"c 1:3 rwm", "c 10:229 rwm", "b 8:20 rw", "c 136:* rwm"}
	list := func() []string { return strings.Split(readCgFile(t, dir, "devices.list"), "\n") }
	got := list()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("devices.list %q lacks %q", got, w)
		}
	}
	if slices.Contains(got, "a *:* rwm") {
		t.Errorf("devices.list still allows everything: %q", got)
	}

	// An update without device rules must leave them alone.
	if err := c.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}}); err != nil {
		t.Fatalf("Set(update): %v", err)
	}
	if after := list(); !slices.Equal(after, got) {
		t.Errorf("devices.list changed by an update without devices: %q -> %q", got, after)
	}
}

func TestFreezeThawAndPids(t *testing.T) {
	requireCgroups(t)
	c := newTestCgroup(t, "/"+testName(t), nil)
	a, b := startSleep(t), startSleep(t)
	if err := c.Apply(a.pid); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPid(b.pid); err != nil {
		t.Fatalf("AddPid: %v", err)
	}
	pids, err := c.Pids()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(pids)
	want := []int{a.pid, b.pid}
	slices.Sort(want)
	if !slices.Equal(pids, want) {
		t.Errorf("Pids() = %v, want %v", pids, want)
	}

	if frozen, err := c.Frozen(); err != nil || frozen {
		t.Fatalf("Frozen() before freeze = %v, %v", frozen, err)
	}
	if err := c.Freeze(); err != nil {
		t.Fatalf("Freeze: %v", err)
	}
	if frozen, err := c.Frozen(); err != nil || !frozen {
		t.Errorf("Frozen() after freeze = %v, %v", frozen, err)
	}
	if !c.unified {
		expectFile(t, controllerDir(t, c, "freezer"), "freezer.state", "FROZEN")
	}
	if err := c.Thaw(); err != nil {
		t.Fatalf("Thaw: %v", err)
	}
	if frozen, err := c.Frozen(); err != nil || frozen {
		t.Errorf("Frozen() after thaw = %v, %v", frozen, err)
	}
}

func TestDestroyKillsAndRemoves(t *testing.T) {
	requireCgroups(t)
	c := newTestCgroup(t, "/"+testName(t), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](20)}})
	// A process that forks children of its own, all inherited by the cgroup.
	sh := exec.Command("sh", "-c", "sleep 30 & sleep 30 & wait")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(sh.Process.Pid, syscall.SIGKILL) })
	if err := c.Apply(sh.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// Move the shell before it forks? It may already have: move stragglers too.
	deadline := time.Now().Add(2 * time.Second)
	for {
		pids, _ := c.Pids()
		if len(pids) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected 3 processes in the cgroup, have %v", pids)
		}
		for _, child := range childrenOf(t, sh.Process.Pid) {
			_ = c.AddPid(child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	paths := c.Paths()

	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("shell ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shell still running after Destroy")
	}
	for ctl, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%q path %s still exists after Destroy (%v)", ctl, p, err)
		}
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// ownCgroup returns the calling process's cgroup for a v1 controller (or the
// unified one for "").
func ownCgroup(t *testing.T, ctl string) string {
	t.Helper()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if ctl == "" && parts[0] == "0" || ctl != "" && slices.Contains(strings.Split(parts[1], ","), ctl) {
			return parts[2]
		}
	}
	t.Fatalf("no %q line in /proc/self/cgroup", ctl)
	return ""
}

func TestRelativePath(t *testing.T) {
	requireCgroups(t)
	rel := testName(t) + "/child"
	c := newTestCgroup(t, rel, nil)
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatal(err)
	}
	paths := c.Paths()
	if c.unified {
		// On v2 the base is the parent of our cgroup (see New).
		own := ownCgroup(t, "")
		want := filepath.Join("/sys/fs/cgroup", filepath.Dir(own), rel)
		if paths[""] != want {
			t.Errorf("relative path resolved to %q, want %q", paths[""], want)
		}
		if !procInCgroup(t, want, cmd.pid) {
			t.Errorf("pid %d not in %s", cmd.pid, want)
		}
		return
	}
	for _, ctl := range []string{"memory", "cpu", "pids", "devices", "freezer"} {
		if paths[ctl] == "" {
			continue
		}
		want := filepath.Join("/sys/fs/cgroup", ctl, ownCgroup(t, ctl), rel)
		if paths[ctl] != want {
			t.Errorf("relative path for %s resolved to %q, want %q", ctl, paths[ctl], want)
		}
		// What the OCI validation suite checks: /proc/<pid>/cgroup ends in the relative path.
		if got := pidCgroup(t, cmd.pid, ctl); !strings.HasSuffix(got, "/"+rel) {
			t.Errorf("/proc/%d/cgroup %s = %q, want suffix %q", cmd.pid, ctl, got, rel)
		}
	}
	t.Logf("memory cgroup of the test process: %q -> %s", ownCgroup(t, "memory"), paths["memory"])
	if haveController("pids") {
		if err := c.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](7)}}); err != nil {
			t.Fatal(err)
		}
		expectFile(t, paths["pids"], "pids.max", "7")
	}
}

func pidCgroup(t *testing.T, pid int, ctl string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), ctl) {
			return parts[2]
		}
	}
	return ""
}

func TestLoadFromPaths(t *testing.T) {
	requireCgroups(t)
	c := newTestCgroup(t, "/"+testName(t), nil)
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatal(err)
	}
	paths := c.Paths()

	l, err := Load(paths)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := l.Paths(); len(got) != len(paths) {
		t.Errorf("Load(...).Paths() = %v, want %v", got, paths)
	}
	if haveController("pids") {
		if err := l.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](13)}}); err != nil {
			t.Fatalf("Set on loaded: %v", err)
		}
		expectFile(t, controllerDir(t, l, "pids"), "pids.max", "13")
	}
	pids, err := l.Pids()
	if err != nil || !slices.Equal(pids, []int{cmd.pid}) {
		t.Errorf("loaded Pids() = %v, %v", pids, err)
	}
	if err := l.Freeze(); err != nil {
		t.Fatalf("Freeze on loaded: %v", err)
	}
	if frozen, err := c.Frozen(); err != nil || !frozen {
		t.Errorf("original sees Frozen() = %v, %v", frozen, err)
	}
	if err := l.Thaw(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Stats(); err != nil {
		t.Errorf("Stats on loaded: %v", err)
	}
	if err := l.Destroy(); err != nil {
		t.Fatalf("Destroy on loaded: %v", err)
	}
	if !cmd.exited(5 * time.Second) {
		t.Error("process survived Destroy of the loaded cgroup")
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists", p)
		}
	}
}

func TestLoadRejectsBadPaths(t *testing.T) {
	requireCgroups(t)
	bad := []map[string]string{
		nil,
		{"memory": "relative/path"},
		{"memory": "/sys/fs/cgroup/memory/../../../etc"},
		{"memory": "/etc"},
	}
	if cgroups.IsCgroup2UnifiedMode() {
		bad = append(bad, map[string]string{"": "/sys/fs/cgroup"})
	} else {
		bad = append(bad, map[string]string{"memory": "/sys/fs/cgroup/memory"})
	}
	for _, p := range bad {
		if _, err := Load(p); err == nil {
			t.Errorf("Load(%v) succeeded", p)
		}
	}
}

func TestStats(t *testing.T) {
	requireCgroups(t)
	requireControllers(t, "memory", "pids")
	c := newTestCgroup(t, "/"+testName(t), &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}})
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](5)}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.PidsStats.Current != 1 || st.PidsStats.Limit != 5 {
		t.Errorf("pids stats = %+v, want current 1 limit 5", st.PidsStats)
	}
	// Memory usage may legitimately be 0 on v1 (charges do not move with a
	// process), but the controller's stat file must have been read.
	if len(st.MemoryStats.Stats) == 0 {
		t.Errorf("no memory stats: %+v", st.MemoryStats)
	}
}

func TestHugetlb(t *testing.T) {
	requireCgroups(t)
	sizes := cgroups.HugePageSizes()
	if len(sizes) == 0 {
		t.Skip("kernel has no huge page sizes (/sys/kernel/mm/hugepages is empty)")
	}
	var res specs.LinuxResources
	for i, s := range sizes {
		res.HugepageLimits = append(res.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: s, Limit: uint64(i+1) << 30})
	}
	c := newTestCgroup(t, "/"+testName(t)+"/ctr", &res)
	cmd := startSleep(t)
	if err := c.Apply(cmd.pid); err != nil {
		t.Fatal(err)
	}
	paths := c.Paths()
	var dir, suffix string
	switch {
	case c.unified:
		dir, suffix = paths[""], ".max"
	case paths["hugetlb"] != "":
		dir, suffix = paths["hugetlb"], ".limit_in_bytes"
	case paths[""] != "":
		dir, suffix = paths[""], ".max" // hybrid: unified hierarchy only
		ctrls, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
		if err != nil || !slices.Contains(strings.Fields(string(ctrls)), "hugetlb") {
			if err := c.Set(&res); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.hugepageLimits") {
				t.Errorf("Set without any hugetlb controller: %v, want a hugepageLimits error", err)
			}
			t.Skip("hugetlb controller is neither a v1 controller nor in the unified hierarchy")
		}
	default:
		if err := c.Set(&res); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.hugepageLimits") {
			t.Errorf("Set without any hugetlb controller: %v, want a hugepageLimits error", err)
		}
		t.Skip("no hugetlb controller on this host")
	}
	if err := c.Set(&res); err != nil {
		t.Fatalf("Set: %v", err)
	}
	for i, s := range sizes {
		want := strconv.FormatUint(uint64(i+1)<<30, 10)
		expectFile(t, dir, "hugetlb."+s+suffix, want)
		// The spec asks for reservation limits where supported.
		rsvd := "hugetlb." + s + ".rsvd" + suffix
		if _, err := os.Stat(filepath.Join(dir, rsvd)); err == nil {
			expectFile(t, dir, rsvd, want)
		}
	}
	if !procInCgroup(t, dir, cmd.pid) {
		t.Errorf("process is not in the hugetlb cgroup %s", dir)
	}
	st, err := c.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	for _, s := range sizes {
		if _, ok := st.HugetlbStats[s]; !ok {
			t.Errorf("no hugetlb stats for %s: %+v", s, st.HugetlbStats)
		}
	}

	bad := &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}}
	if err := c.Set(bad); err == nil || !strings.HasPrefix(err.Error(), "linux.resources.hugepageLimits[0].pageSize: ") {
		t.Errorf("Set with an unknown page size: %v", err)
	}
}

func TestMissingV1Controllers(t *testing.T) {
	requireCgroups(t)
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("cgroup v1 only")
	}
	c := newTestCgroup(t, "/"+testName(t), nil)
	paths := c.Paths()
	tested := false
	if paths["net_cls"] == "" {
		tested = true
		err := c.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}})
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.network.classID: ") {
			t.Errorf("classID without net_cls: %v", err)
		}
	}
	if paths["net_prio"] == "" {
		tested = true
		err := c.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}})
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.network.priorities: ") {
			t.Errorf("priorities without net_prio: %v", err)
		}
	}
	// No network limits: nothing to complain about.
	if err := c.Set(&specs.LinuxResources{Network: &specs.LinuxNetwork{}}); err != nil {
		t.Errorf("empty network: %v", err)
	}
	if !tested {
		t.Skip("net_cls and net_prio are both mounted on this host")
	}
}

func TestNewErrors(t *testing.T) {
	requireCgroups(t)
	for _, p := range []string{"system.slice:berth:abc", "/", "."} {
		if _, err := New(p, "x", nil); err == nil {
			t.Errorf("New(%q) succeeded", p)
		}
	}
	if !cgroups.IsCgroup2UnifiedMode() {
		_, err := New("/"+testName(t), "x", &specs.LinuxResources{Unified: map[string]string{"pids.max": "1"}})
		if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.unified: ") {
			t.Errorf("unified on v1: %v", err)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	requireCgroups(t)
	id := testName(t)
	c, err := New("", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ctl, p := range c.Paths() {
		if !strings.HasSuffix(p, DefaultParent+"/"+id) {
			t.Errorf("%q: %s does not end in %s/%s", ctl, p, DefaultParent, id)
		}
	}
}

// A cgroup with no process but a child cgroup (made inside the container,
// e.g. by a cgroup namespace's own manager): the quick rmdir fails and the
// full removal takes the children too.
func TestDestroyRemovesChildCgroups(t *testing.T) {
	requireCgroups(t)
	c := newTestCgroup(t, "/"+testName(t), &specs.LinuxResources{})
	if err := c.Apply(-1); err != nil {
		t.Fatal(err)
	}
	paths := c.Paths()
	for _, p := range paths {
		if err := os.Mkdir(filepath.Join(p, "sub"), 0o755); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	for ctl, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%q path %s still exists after Destroy (%v)", ctl, p, err)
		}
	}
}

package cgroup

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/cgroups"
	// The devices package registers the device-rule backends
	// (cgroups.DevicesSetV1 / DevicesSetV2) in its init function. Without this
	// import every Set carrying device rules fails with
	// cgroups.ErrDevicesUnsupported, so it must stay even though nothing here
	// refers to it by name.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// manager is the subset of the fs and fs2 managers used here.
type manager interface {
	Apply(pid int) error
	AddPid(subcgroup string, pid int) error
	GetAllPids() ([]int, error)
	GetStats() (*cgroups.Stats, error)
	Freeze(state cgroups.FreezerState) error
	GetFreezerState() (cgroups.FreezerState, error)
	Set(r *cgroups.Resources) error
	Destroy() error
	GetPaths() map[string]string
}

// Cgroup is one container cgroup, either on cgroup v1 (including hybrid
// hosts) or on the cgroup v2 unified hierarchy. Its methods are safe for
// concurrent use.
type Cgroup struct {
	mu      sync.Mutex
	unified bool // pure cgroup v2 host
	mgr     manager
	// The plain v1 case (fastv1.go): paths computed here, no cpuset or
	// realtime settings. fresh: Apply made every directory, so the first
	// Set writes the device rules without reading them back.
	plain, fresh bool
}

// DefaultParent is the parent of cgroups created for an empty cgroupsPath.
const DefaultParent = "/berth"

// New prepares (but does not create) the cgroup for cgroupsPath.
//
// cgroupsPath is spec.Linux.CgroupsPath. An absolute path is taken from the
// root of each hierarchy; a relative path is taken relative to the calling
// process's own cgroup (on pure cgroup v2 relative to its parent, because the
// caller's own cgroup holds processes and so cannot delegate controllers to
// children, which is what runc does too); an empty path means
// DefaultParent/<id>. The systemd "slice:prefix:name" form is rejected.
//
// res are the resources used while creating the cgroup (cpuset and realtime
// settings must be in place before a process is moved in); apply them with Set
// after Apply.
func New(cgroupsPath, id string, res *specs.LinuxResources) (*Cgroup, error) {
	p, err := resolvePath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	r, err := ConvertResources(res)
	if err != nil {
		return nil, err
	}
	cfg := &cgroups.Cgroup{Path: p, Resources: r}
	if cgroups.IsCgroup2UnifiedMode() {
		m, err := fs2.NewManager(cfg, "")
		if err != nil {
			return nil, fmt.Errorf("cgroup %s: %w", p, err)
		}
		return &Cgroup{unified: true, mgr: m}, nil
	}
	if r.Unified != nil {
		return nil, fieldErr("unified", "needs a cgroup v2 host (this host uses cgroup v1)")
	}
	paths, plain := fastV1Paths(p, cgroups.IsCgroup2HybridMode())
	m, err := fs.NewManager(cfg, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", p, err)
	}
	plain = plain && r.CpusetCpus == "" && r.CpusetMems == "" && r.CpuRtPeriod == 0 && r.CpuRtRuntime == 0
	return &Cgroup{mgr: m, plain: plain}, nil
}

// resolvePath turns spec.Linux.CgroupsPath into a cleaned path suitable for
// cgroups.Cgroup.Path, refusing paths that would make the container own a
// cgroup it must never kill or remove.
func resolvePath(p, id string) (string, error) {
	if p == "" {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return "", fmt.Errorf("cgroup: invalid container id %q for the default cgroups path", id)
		}
		return DefaultParent + "/" + id, nil
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("linux.cgroupsPath %q: contains a NUL byte", p)
	}
	if !filepath.IsAbs(p) && strings.Count(p, ":") == 2 && !strings.Contains(p, "/") {
		return "", fmt.Errorf("linux.cgroupsPath %q: systemd cgroups (\"slice:prefix:name\") are not supported; use a cgroupfs path", p)
	}
	if filepath.IsAbs(p) {
		p = filepath.Clean(p)
		if p == "/" {
			return "", fmt.Errorf("linux.cgroupsPath %q: refers to the root cgroup", p)
		}
		return p, nil
	}
	// Same cleaning as the cgroups library: "../" cannot escape upwards.
	rel, err := filepath.Rel("/", filepath.Clean("/"+p))
	if err != nil || rel == "." {
		return "", fmt.Errorf("linux.cgroupsPath %q: refers to the caller's own cgroup", p)
	}
	return rel, nil
}

// Load rebuilds a Cgroup from the map returned by Paths, typically in a
// process other than the one that called New.
func Load(paths map[string]string) (*Cgroup, error) {
	if len(paths) == 0 {
		return nil, errors.New("cgroup: no paths to load")
	}
	for k, p := range paths {
		if err := checkLoadedPath(p); err != nil {
			return nil, fmt.Errorf("cgroup: path for %q: %w", k, err)
		}
	}
	cfg := &cgroups.Cgroup{Resources: &cgroups.Resources{}}
	if cgroups.IsCgroup2UnifiedMode() {
		dir, ok := paths[""]
		if !ok || len(paths) != 1 {
			return nil, fmt.Errorf("cgroup: host uses cgroup v2 but saved paths are not (%v)", paths)
		}
		m, err := fs2.NewManager(cfg, dir)
		if err != nil {
			return nil, err
		}
		return &Cgroup{unified: true, mgr: m}, nil
	}
	m, err := fs.NewManager(cfg, maps.Clone(paths))
	if err != nil {
		return nil, err
	}
	return &Cgroup{mgr: m}, nil
}

// checkLoadedPath makes sure a saved path (it comes from a state file) points
// inside a cgroup filesystem and is not the root of a hierarchy: Destroy
// kills every process below it.
func checkLoadedPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("%q is not a clean absolute path", p)
	}
	var st, parent unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // already removed; Destroy stays idempotent
		}
		return fmt.Errorf("%s: %w", p, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(p, &sfs); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if sfs.Type != unix.CGROUP_SUPER_MAGIC && sfs.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not on a cgroup filesystem", p)
	}
	if err := unix.Stat(filepath.Dir(p), &parent); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if st.Dev != parent.Dev {
		return fmt.Errorf("%s is the root of a cgroup hierarchy", p)
	}
	return nil
}

// Apply creates the cgroup (in every hierarchy) and moves pid into it. With
// pid -1 it only creates the cgroup. On error, directories created so far
// remain: call Destroy to clean up.
func (c *Cgroup) Apply(pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plain && pid == -1 && fastApply(c.mgr.GetPaths()) {
		c.plain, c.fresh = false, true
		return nil
	}
	c.plain = false
	return c.mgr.Apply(pid)
}

// AddPid moves an existing process (e.g. one started by exec) into the cgroup.
func (c *Cgroup) AddPid(pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mgr.AddPid("", pid)
}

// Paths returns the cgroup directory per controller ("" is the unified
// hierarchy: the only entry on cgroup v2, the hybrid mount on hybrid hosts).
// The map is a copy; persist it and hand it to Load later.
func (c *Cgroup) Paths() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.mgr.GetPaths())
}

// Pids returns the processes in the cgroup and all its descendants.
func (c *Cgroup) Pids() ([]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mgr.GetAllPids()
}

// Freeze freezes every process in the cgroup.
func (c *Cgroup) Freeze() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mgr.Freeze(cgroups.Frozen)
}

// Thaw resumes a frozen cgroup.
func (c *Cgroup) Thaw() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mgr.Freeze(cgroups.Thawed)
}

// Frozen reports whether the cgroup itself is frozen (not merely an ancestor).
func (c *Cgroup) Frozen() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.mgr.GetFreezerState()
	return st == cgroups.Frozen, err
}

// Stats returns the cgroup's statistics. On hybrid hosts hugetlb usage comes
// from the unified hierarchy when hugetlb is not a v1 controller.
func (c *Cgroup) Stats() (*cgroups.Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.mgr.GetStats()
	if err != nil {
		return st, err
	}
	if dir := c.hybridHugetlbDir(); dir != "" {
		if err := hybridHugetlbStats(dir, st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Set applies (or, for update, changes) resource limits. Fields left at their
// zero value are not touched, so a partial LinuxResources updates only what it
// names. Device rules are replaced only when res carries at least one: an
// update without devices leaves the existing device policy alone (runc does
// the same), so the caller must supply the full rule list, default devices
// included, at create time.
func (c *Cgroup) Set(res *specs.LinuxResources) error {
	r, err := ConvertResources(res)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	if len(r.Devices) == 0 {
		r.SkipDevices = true
	}
	if err := checkPageSizes(r.HugetlbLimit); err != nil {
		return err
	}
	if c.unified {
		return c.mgr.Set(r)
	}

	if r.Unified != nil {
		return fieldErr("unified", "needs a cgroup v2 host (this host uses cgroup v1)")
	}
	paths := c.mgr.GetPaths()
	// Hugetlb only in the unified hierarchy of a hybrid host: we handle it.
	var hugetlb []*cgroups.HugepageLimit
	if len(r.HugetlbLimit) > 0 && paths["hugetlb"] == "" {
		if err := hybridHugetlbUsable(paths[""]); err != nil {
			return err
		}
		hugetlb, r.HugetlbLimit = r.HugetlbLimit, nil
	}
	if err := checkV1Controllers(paths, r); err != nil {
		return err
	}
	if err := checkV1MemoryUsage(paths["memory"], r); err != nil {
		return err
	}
	if c.fresh && !r.SkipDevices {
		c.fresh = false
		done, err := fastDevices(paths["devices"], r.Devices)
		if err != nil {
			return err
		}
		r.SkipDevices = done
	}
	if err := c.mgr.Set(r); err != nil {
		return err
	}
	if err := setKernelTCP(paths["memory"], res); err != nil {
		return err
	}
	if len(hugetlb) > 0 {
		return setHybridHugetlb(paths[""], hugetlb)
	}
	return nil
}

// Destroy kills every process left in the cgroup (freezing it first so
// nothing can fork away, then SIGKILL, then thaw so the signals are
// delivered), waits for them to go and removes the cgroup directories,
// retrying briefly while the kernel still reports EBUSY. Destroying a cgroup
// that no longer exists is not an error.
func (c *Cgroup) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removeEmpty() {
		return nil
	}
	if err := c.killAll(); err != nil {
		return err
	}
	if err := c.mgr.Destroy(); err != nil {
		return fmt.Errorf("cgroup: remove: %w", err)
	}
	return nil
}

// hybridHugetlbDir returns the unified-hierarchy directory that carries the
// hugetlb controller on a hybrid host, or "".
func (c *Cgroup) hybridHugetlbDir() string {
	if c.unified {
		return ""
	}
	paths := c.mgr.GetPaths()
	if paths["hugetlb"] != "" || paths[""] == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(paths[""], "cgroup.controllers")); err != nil {
		return ""
	}
	return paths[""]
}

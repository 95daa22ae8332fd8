package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/userns"
	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"golang.org/x/sys/unix"
)

// A new container's cgroup on a cgroup v1 host is the runtime's most common
// cgroup work, and the library's general code pays for generality there: it
// finds each of fifteen hierarchies with a symlink-resolving join, two
// lstats and a statfs (and reads mountinfo again for each one that is not
// mounted), creates each directory after two stats, walks the cpuset
// parents reading eight files, and sets the device rules by reading
// devices.list before and after. Measured, that was most of the 0.6 ms
// between the spec and the clone of a container's init.
//
// So on v1 the paths come from one read of mountinfo (and /proc/self/cgroup
// for a relative path), computed as the library computes them (a test holds
// the two equal), and a cgroup made fresh by this process is created with
// one mkdir per hierarchy and given its device rules by writing them. Any
// case outside the plain one (a layout the library would read differently,
// an existing directory, a missing parent, cpuset or realtime settings, rule
// lists that are not "deny all, then allow") goes to the library as before.

// v1Subsystems is the fs manager's list of hierarchies, in its order.
var v1Subsystems = []string{
	"cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
	"net_cls", "net_prio", "perf_event", "freezer", "rdma", "name=systemd", "misc",
}

const (
	defaultCgroupRoot = "/sys/fs/cgroup"
	hybridMountpoint  = "/sys/fs/cgroup/unified"
)

// v1Mount is one cgroup v1 mount from mountinfo.
type v1Mount struct {
	dir  string   // mount point
	root string   // the hierarchy's directory mounted there
	opts []string // super options: the controllers and any name=
}

// readV1Mounts returns the cgroup v1 mounts of this thread's mount
// namespace, in mountinfo order.
func readV1Mounts() ([]v1Mount, error) {
	b, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []v1Mount
	for line := range bytes.Lines(b) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		f := strings.Fields(string(line))
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 || f[sep+1] != "cgroup" {
			continue
		}
		out = append(out, v1Mount{
			dir:  unescapeMountinfo(f[4]),
			root: unescapeMountinfo(f[3]),
			opts: strings.Split(f[sep+3], ","),
		})
	}
	return out, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fastV1Paths returns what fs.NewManager would compute as the directories
// of the cgroup at inner (cleaned, as resolvePath returns it), or ok false
// when the host's layout is one where the answer could differ: then ask the
// library.
func fastV1Paths(inner string, hybrid bool) (map[string]string, bool) {
	mounts, err := readV1Mounts()
	if err != nil || len(mounts) == 0 {
		return nil, false
	}
	// The library's root is /sys/fs/cgroup, or the parent of the first
	// mount: the same when every mount is directly below /sys/fs/cgroup.
	for _, m := range mounts {
		if filepath.Dir(m.dir) != defaultCgroupRoot {
			return nil, false
		}
	}
	var own map[string]string
	if !filepath.IsAbs(inner) {
		if own, err = cgroups.ParseCgroupFile("/proc/self/cgroup"); err != nil {
			return nil, false
		}
	}
	paths := make(map[string]string, len(v1Subsystems)+1)
	for _, s := range v1Subsystems {
		var m *v1Mount
		for i := range mounts {
			if slices.Contains(mounts[i].opts, s) {
				if m != nil {
					return nil, false // mounted twice: which one the library takes depends on more than mountinfo
				}
				m = &mounts[i]
			}
		}
		if m == nil {
			if s == "devices" {
				return nil, false // the library reports this (a hard requirement)
			}
			continue
		}
		if filepath.IsAbs(inner) {
			// Only a mount named after its controllers: the library looks
			// at /sys/fs/cgroup/<name> first, resolving symlinks.
			if base := filepath.Base(m.dir); base != strings.TrimPrefix(s, "name=") && !slices.Contains(strings.Split(base, ","), s) {
				return nil, false
			}
			paths[s] = filepath.Join(defaultCgroupRoot, filepath.Base(m.dir), inner)
			continue
		}
		cg, ok := own[s]
		if !ok {
			cg, ok = own["name="+s]
		}
		if !ok {
			if s == "devices" {
				return nil, false
			}
			continue
		}
		rel, err := filepath.Rel(m.root, cg)
		if err != nil {
			return nil, false
		}
		paths[s] = filepath.Join(m.dir, rel, inner)
	}
	if hybrid {
		// The library joins the unified mount for an absolute path, and
		// for a relative one when this process has a v2 cgroup; either
		// way below the mount point itself.
		if _, ok := own[""]; ok || filepath.IsAbs(inner) {
			paths[""] = filepath.Join(hybridMountpoint, inner)
		}
	}
	return paths, true
}

// fastApply creates the cgroup's directories with one mkdir each and gives
// its cpuset the parent's cpus and mems, reporting whether it did: false
// (with nothing left behind) when the plain case does not hold, for the
// library's Apply to do it. r must not carry cpuset or realtime settings.
func fastApply(paths map[string]string) bool {
	var made []string
	undo := func() bool {
		for _, d := range slices.Backward(made) {
			_ = unix.Rmdir(d)
		}
		return false
	}
	seen := make(map[string]bool, len(paths))
	for _, d := range paths {
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := unix.Mkdir(d, 0o755); err != nil {
			return undo() // an existing cgroup, a missing parent: the library's way
		}
		made = append(made, d)
	}
	if d := paths["cpuset"]; d != "" {
		parent := filepath.Dir(d)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := cgroups.ReadFile(parent, f)
			if err != nil || strings.TrimSpace(v) == "" {
				return undo() // the parent needs its own set-up first
			}
			if err := cgroups.WriteFile(d, f, v); err != nil {
				return undo()
			}
		}
	}
	return true
}

// fastDevices writes rules to a cgroup made by fastApply (empty, so no
// process sees the moment between the deny and the allows), reporting
// whether it did: only for lists that are "deny everything" followed by
// allow rules, the shape of every container's list; others go to the
// library's emulator.
func fastDevices(dir string, rules []*devconfig.Rule) (bool, error) {
	if userns.RunningInUserNS() {
		return true, nil // as the library: devices cannot be changed there
	}
	if len(rules) == 0 || rules[0].Allow || rules[0].Type != devconfig.WildcardDevice ||
		rules[0].Major != devconfig.Wildcard || rules[0].Minor != devconfig.Wildcard {
		return false, nil
	}
	for _, r := range rules[1:] {
		if !r.Allow {
			return false, nil
		}
	}
	if err := cgroups.WriteFile(dir, "devices.deny", "a"); err != nil {
		return true, err
	}
	for _, r := range rules[1:] {
		if err := cgroups.WriteFile(dir, "devices.allow", r.CgroupString()); err != nil {
			return true, err
		}
	}
	return true, nil
}

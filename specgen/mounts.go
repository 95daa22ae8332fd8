package specgen

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultShmSize is the size of /dev/shm when Options.ShmSize is 0.
const DefaultShmSize = 64 << 20

// maskedPaths and readonlyPaths are Docker's defaults for an unprivileged
// container.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// defaultMounts are the filesystems every container gets, in Docker's order.
// /sys and /sys/fs/cgroup are writable for a privileged container; /dev/shm
// follows the IPC mode.
func defaultMounts(o *Options) []specs.Mount {
	ro := []string{"ro"}
	if o.Privileged {
		ro = nil
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: append([]string{"nosuid", "noexec", "nodev"}, ro...)},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: append(clone(ro), "nosuid", "noexec", "nodev")},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	switch o.IPC {
	case "none":
	case "host":
		ms = append(ms, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}})
	default:
		size := o.ShmSize
		if size == 0 {
			size = DefaultShmSize
		}
		ms = append(ms, specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(size, 10)}})
	}
	return ms
}

// mounts returns the container's mounts and the root's propagation. The
// defaults come first, less those a user mount replaces (a user mount on
// /dev replaces everything below /dev too); then the hosts files, the user's
// mounts and --tmpfs, ordered (stably) by depth so a parent is mounted before
// what is below it; then the init binary.
func mounts(o *Options) ([]specs.Mount, string, error) {
	if o.ShmSize < 0 {
		return nil, "", invalid("shm size %d must not be negative", o.ShmSize)
	}
	var user []specs.Mount
	seen := map[string]bool{}
	add := func(m specs.Mount) error {
		if seen[m.Destination] {
			return invalid("duplicate mount point %s", m.Destination)
		}
		seen[m.Destination] = true
		user = append(user, m)
		return nil
	}
	rootProp := ""
	for _, m := range o.Mounts {
		sm, err := userMount(m)
		if err != nil {
			return nil, "", err
		}
		if err := add(sm); err != nil {
			return nil, "", err
		}
		switch m.Propagation {
		case "shared", "rshared":
			rootProp = "shared"
		case "slave", "rslave":
			if rootProp == "" {
				rootProp = "rslave"
			}
		}
	}
	targets := make([]string, 0, len(o.Tmpfs))
	for t := range o.Tmpfs {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		dst, err := target(t, "--tmpfs")
		if err != nil {
			return nil, "", err
		}
		opts, err := tmpfsOptions(splitOptions(o.Tmpfs[t]))
		if err != nil {
			return nil, "", invalid("--tmpfs %s: %v", t, err)
		}
		if err := add(specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}); err != nil {
			return nil, "", err
		}
	}

	var out []specs.Mount
	for _, m := range defaultMounts(o) {
		if seen[m.Destination] || (seen["/dev"] && strings.HasPrefix(m.Destination, "/dev/")) {
			continue
		}
		out = append(out, m)
	}
	var rest []specs.Mount
	for _, f := range []struct{ dst, src string }{
		{"/etc/resolv.conf", o.ResolvConfPath},
		{"/etc/hostname", o.HostnamePath},
		{"/etc/hosts", o.HostsPath},
	} {
		if f.src == "" || seen[f.dst] {
			continue
		}
		if !path.IsAbs(f.src) {
			return nil, "", invalid("%s source %q must be an absolute path", f.dst, f.src)
		}
		opts := []string{"rbind"}
		if o.ReadOnly {
			opts = append(opts, "ro")
		}
		rest = append(rest, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: append(opts, "rprivate")})
	}
	rest = append(rest, user...)
	sort.SliceStable(rest, func(i, j int) bool { return depth(rest[i].Destination) < depth(rest[j].Destination) })
	out = append(out, rest...)
	if o.Init != "" {
		if !path.IsAbs(o.Init) {
			return nil, "", invalid("init %q must be an absolute path", o.Init)
		}
		out = append(out, specs.Mount{Destination: initPath, Type: "bind", Source: o.Init, Options: []string{"bind", "ro"}})
	}
	return out, rootProp, nil
}

func depth(p string) int { return strings.Count(p, "/") }

// target cleans a mount target and refuses what Docker (or the runtime)
// refuses: a relative path, the root, and /proc and /sys themselves.
func target(t, what string) (string, error) {
	if !path.IsAbs(t) {
		return "", invalid("%s target %q must be an absolute path", what, t)
	}
	c := path.Clean(t)
	switch c {
	case "/":
		return "", invalid("%s target %q: cannot mount over the root", what, t)
	case "/proc", "/sys":
		return "", invalid("%s target %q: cannot mount over %s", what, t, c)
	}
	return c, nil
}

var propagations = map[string]bool{"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true}

// userMount converts a --mount / --volume.
func userMount(m Mount) (specs.Mount, error) {
	what := "mount"
	if m.Type != "" {
		what = m.Type + " mount"
	}
	dst, err := target(m.Target, what)
	if err != nil {
		return specs.Mount{}, err
	}
	switch m.Type {
	case "bind":
		if !path.IsAbs(m.Source) {
			return specs.Mount{}, invalid("bind mount %s: source %q must be an absolute path", dst, m.Source)
		}
		prop := m.Propagation
		if prop == "" {
			prop = "rprivate"
		}
		if !propagations[prop] {
			return specs.Mount{}, invalid("bind mount %s: invalid propagation mode %q", dst, m.Propagation)
		}
		opts := []string{"rbind"}
		if m.NonRecursive {
			opts[0] = "bind"
		}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		opts = append(opts, prop)
		opts = append(opts, m.Options...)
		return specs.Mount{Destination: dst, Type: "bind", Source: path.Clean(m.Source), Options: opts}, nil
	case "tmpfs":
		if m.Propagation != "" {
			return specs.Mount{}, invalid("tmpfs mount %s: propagation applies to bind mounts only", dst)
		}
		if m.TmpfsSize < 0 {
			return specs.Mount{}, invalid("tmpfs mount %s: size %d must not be negative", dst, m.TmpfsSize)
		}
		if m.TmpfsMode > 0o7777 {
			return specs.Mount{}, invalid("tmpfs mount %s: mode %o is not a permission mode", dst, m.TmpfsMode)
		}
		var data []string
		if m.ReadOnly {
			data = append(data, "ro")
		}
		if m.TmpfsMode != 0 {
			data = append(data, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
		}
		if m.TmpfsSize != 0 {
			data = append(data, "size="+sizeString(m.TmpfsSize))
		}
		opts, err := tmpfsOptions(append(data, m.Options...))
		if err != nil {
			return specs.Mount{}, invalid("tmpfs mount %s: %v", dst, err)
		}
		return specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts}, nil
	}
	return specs.Mount{}, invalid("mount %s: type %q is not \"bind\" or \"tmpfs\"", dst, m.Type)
}

// sizeString writes bytes with the largest of the suffixes k, m, g that
// divides them exactly, as Docker does for --mount type=tmpfs.
func sizeString(n int64) string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"g", 30}, {"m", 20}, {"k", 10}} {
		if n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func splitOptions(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// tmpfsFlags maps each mount flag a tmpfs may carry to the group it
// belongs to: a later flag of a group overrides an earlier one ("exec" after
// the default "noexec").
var tmpfsFlags = map[string]string{
	"ro": "ro", "rw": "ro",
	"suid": "suid", "nosuid": "suid",
	"dev": "dev", "nodev": "dev",
	"exec": "exec", "noexec": "exec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync",
	"mand":    "mand", "nomand": "mand",
	"atime": "atime", "noatime": "atime",
	"diratime": "diratime", "nodiratime": "diratime",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
}

// tmpfsData are the tmpfs filesystem options Docker accepts, each with a
// check of its value.
var tmpfsData = map[string]func(string) bool{
	"size":      validSize,
	"nr_blocks": validSize,
	"nr_inodes": validSize,
	"mode":      validMode,
	"uid":       validUint,
	"gid":       validUint,
	"mpol":      func(v string) bool { return v != "" },
}

// tmpfsOptions puts Docker's defaults for a tmpfs (noexec, nosuid, nodev,
// rprivate) before opts and merges them: for each flag group and each
// filesystem option the last one given wins, in the place it was given.
func tmpfsOptions(opts []string) ([]string, error) {
	all := append([]string{"noexec", "nosuid", "nodev", "rprivate"}, opts...)
	seen := map[string]bool{}
	var rev []string
	for i := len(all) - 1; i >= 0; i-- {
		o := all[i]
		if o == "defaults" {
			continue
		}
		key, ok := tmpfsFlags[o]
		if !ok {
			k, v, found := strings.Cut(o, "=")
			check := tmpfsData[k]
			if !found || check == nil {
				return nil, fmt.Errorf("invalid tmpfs option %q", o)
			}
			if !check(v) {
				return nil, fmt.Errorf("invalid value in tmpfs option %q", o)
			}
			key = "=" + k
		}
		if !seen[key] {
			seen[key] = true
			rev = append(rev, o)
		}
	}
	out := make([]string, len(rev))
	for i, o := range rev {
		out[len(rev)-1-i] = o
	}
	return out, nil
}

// validSize accepts what the kernel's tmpfs does: a number with an optional
// k, m, g, t, p or e suffix (either case), or a percentage of memory.
func validSize(v string) bool {
	if v == "" {
		return false
	}
	if strings.ContainsRune("kKmMgGtTpPeE%", rune(v[len(v)-1])) {
		v = v[:len(v)-1]
	}
	return validUint(v)
}

func validUint(v string) bool {
	_, err := strconv.ParseUint(v, 10, 64)
	return err == nil
}

func validMode(v string) bool {
	m, err := strconv.ParseUint(v, 8, 32)
	return err == nil && m <= 0o7777
}

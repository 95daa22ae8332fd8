package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// inRoot resolves a container path inside rootfs, following symlinks as if
// rootfs were /, so a symlink in the image cannot send a mount to the host.
func inRoot(rootfs, p string) (string, error) {
	return securejoin.SecureJoin(rootfs, p)
}

func mount(src, dst, typ string, flags int, data string) error {
	if err := unix.Mount(src, dst, typ, uintptr(flags), data); err != nil {
		what := typ
		if flags&unix.MS_BIND != 0 {
			what = "bind " + src
		} else if flags&unix.MS_REMOUNT != 0 {
			what = "remount"
		} else if typ == "" {
			what = "propagation"
		}
		return fmt.Errorf("mount %s on %s: %w", what, dst, err)
	}
	return nil
}

// prepareRootfs makes rootfs a mount point whose parent is not shared, so
// pivot_root accepts it, and sets the propagation of the new mount namespace.
func prepareRootfs(cfg *initConfig) error {
	flag := unix.MS_SLAVE | unix.MS_REC
	if p, ok := propagationFlags[cfg.Spec.Linux.RootfsPropagation]; ok && p&unix.MS_SHARED == 0 {
		flag = p
	}
	if err := mount("", "/", "", flag, ""); err != nil {
		return err
	}
	if err := makeParentPrivate(cfg.Rootfs); err != nil {
		return err
	}
	return mount(cfg.Rootfs, cfg.Rootfs, "bind", unix.MS_BIND|unix.MS_REC, "")
}

// makeParentPrivate makes the mount that holds path private if it is shared.
func makeParentPrivate(path string) error {
	for p := path; ; p = filepath.Dir(p) {
		err := unix.Mount("", p, "", unix.MS_PRIVATE, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || p == "/" {
			return fmt.Errorf("make mount of %s private: %w", p, err)
		}
	}
}

// setupMounts mounts spec.mounts in order, then /dev.
func setupMounts(cfg *initConfig) error {
	devBound := false
	for _, m := range cfg.Spec.Mounts {
		if err := mountEntry(cfg, m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" {
			o, _ := parseMountOptions(m.Options)
			devBound = o.isBind()
		}
	}
	if !devBound {
		if err := createDevices(cfg); err != nil {
			return err
		}
	}
	return devSymlinks(cfg.Rootfs)
}

func mountEntry(cfg *initConfig, m specs.Mount) error {
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	if m.Type == "bind" && !o.isBind() {
		o.flags |= unix.MS_BIND
	}
	dest, err := inRoot(cfg.Rootfs, m.Destination)
	if err != nil {
		return fmt.Errorf("mount destination %s: %w", m.Destination, err)
	}
	if !o.isBind() && (m.Type == "cgroup" || m.Type == "cgroup2") {
		return mountCgroup(cfg, dest, o)
	}
	src := m.Source
	if o.isBind() {
		var dir bool
		if src, dir, err = bindSource(cfg.Bundle, m); err != nil {
			return err
		}
		if err := mkMountpoint(dest, dir); err != nil {
			return err
		}
		if err := bindMount(src, dest, o); err != nil {
			return err
		}
	} else {
		if err := mkMountpoint(dest, true); err != nil {
			return err
		}
		if src == "" {
			src = m.Type
		}
		data := strings.Join(o.data, ",")
		err := mount(src, dest, m.Type, o.flags, data)
		if err != nil && errors.Is(err, unix.EPERM) {
			// In a user namespace the kernel refuses some filesystems that
			// belong to the host; fall back to the host's instance, as runc does.
			switch m.Type {
			case "sysfs":
				err = bindMount("/sys", dest, &mountOpts{flags: unix.MS_BIND | unix.MS_REC | o.flags})
			case "mqueue":
				err = bindMount("/dev/mqueue", dest, &mountOpts{flags: unix.MS_BIND | o.flags})
			}
		}
		if err != nil {
			return err
		}
	}
	for _, p := range o.prop {
		if err := mount("", dest, "", p, ""); err != nil {
			return err
		}
	}
	if o.recSet|o.recClr != 0 {
		attr := &unix.MountAttr{Attr_set: o.recSet, Attr_clr: o.recClr}
		if err := unix.MountSetattr(-1, dest, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("set recursive attributes on %s: %w", m.Destination, err)
		}
	}
	return nil
}

// bindSource is a bind mount's source on the host (relative to the bundle
// when not absolute) and whether it is a directory.
func bindSource(bundle string, m specs.Mount) (string, bool, error) {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return "", false, fmt.Errorf("bind mount source %s: %w", m.Source, err)
	}
	return src, fi.IsDir(), nil
}

// bindMount binds src on dst and applies the other flags with a remount,
// keeping the flags the kernel locked on src (nosuid, nodev, ... in a user
// namespace).
func bindMount(src, dst string, o *mountOpts) error {
	if err := mount(src, dst, "", unix.MS_BIND|(o.flags&unix.MS_REC), ""); err != nil {
		return err
	}
	rest := o.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if rest == 0 {
		return nil
	}
	return remount(dst, rest|unix.MS_BIND)
}

// remount changes a mount's flags; on EPERM it retries with the flags the
// mount already has, which may be locked.
func remount(dst string, flags int) error {
	err := unix.Mount("", dst, "", uintptr(flags|unix.MS_REMOUNT), "")
	if errors.Is(err, unix.EPERM) {
		var st unix.Statfs_t
		if unix.Statfs(dst, &st) == nil {
			locked := int(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY |
				unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
			err = unix.Mount("", dst, "", uintptr(flags|locked|unix.MS_REMOUNT), "")
		}
	}
	if err != nil {
		return fmt.Errorf("remount %s: %w", dst, err)
	}
	return nil
}

func mkMountpoint(dest string, dir bool) error {
	if dir {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("create mount point: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil && !errors.Is(err, unix.EISDIR) {
		return fmt.Errorf("create mount point: %w", err)
	}
	if f != nil {
		f.Close()
	}
	return nil
}

// mountCgroup mounts the container's cgroups at dest: cgroup2 on a unified
// host; on a v1 (or hybrid) host a tmpfs with one directory per hierarchy.
// With a cgroup namespace the hierarchies are mounted fresh; without one the
// container's own cgroup directories are bound from the host.
func mountCgroup(cfg *initConfig, dest string, o *mountOpts) error {
	if err := mkMountpoint(dest, true); err != nil {
		return err
	}
	bindOpts := &mountOpts{flags: unix.MS_BIND | unix.MS_REC | (o.flags &^ unix.MS_BIND)}
	if unified, ok := cfg.CgroupPaths[""]; ok && len(cfg.CgroupPaths) == 1 {
		if cfg.NewCgroupNS {
			return mount("cgroup2", dest, "cgroup2", o.flags, "")
		}
		return bindMount(unified, dest, bindOpts)
	}
	if err := mount("tmpfs", dest, "tmpfs", o.flags&^unix.MS_RDONLY, "mode=755"); err != nil {
		return err
	}
	names, dirs := cgroupHierarchies(cfg.CgroupPaths)
	for _, dir := range names {
		key := dirs[dir]
		sub := filepath.Join(dest, dir)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		var err error
		switch {
		case !cfg.NewCgroupNS:
			err = bindMount(cfg.CgroupPaths[key], sub, bindOpts)
		case key == "":
			err = mount("cgroup2", sub, "cgroup2", o.flags, "")
		case strings.HasPrefix(key, "name="):
			err = mount("cgroup", sub, "cgroup", o.flags, "none,"+key)
		default:
			err = mount("cgroup", sub, "cgroup", o.flags, dir)
		}
		if err != nil {
			return err
		}
		if strings.Contains(dir, ",") {
			for _, part := range strings.Split(dir, ",") {
				_ = os.Symlink(dir, filepath.Join(dest, part))
			}
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		return remount(dest, o.flags|unix.MS_RDONLY)
	}
	return nil
}

// cgroupHierarchies returns the hierarchy directories under /sys/fs/cgroup
// that the container's cgroup paths are in, sorted, and the controller key
// of each.
func cgroupHierarchies(paths map[string]string) ([]string, map[string]string) {
	dirs := map[string]string{}
	for key, p := range paths {
		rel, ok := strings.CutPrefix(p, "/sys/fs/cgroup/")
		if !ok {
			continue
		}
		dir, _, _ := strings.Cut(rel, "/")
		dirs[dir] = key
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	return names, dirs
}

// createDevices makes the default devices and linux.devices in the
// container's /dev: device nodes, or bind mounts of the host's in a user
// namespace, where mknod is not allowed.
func createDevices(cfg *initConfig) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range containerDevices(cfg.Spec) {
		dest, err := inRoot(cfg.Rootfs, d.Path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if cfg.InUserNS {
			if err := mkMountpoint(dest, false); err != nil {
				return err
			}
			if err := mount(d.Path, dest, "bind", unix.MS_BIND, ""); err != nil {
				return err
			}
			continue
		}
		if err := mknodDevice(dest, d); err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
	}
	return nil
}

// containerDevices is the default devices and linux.devices, each path once
// in the order it first appears, a later entry replacing an earlier one.
func containerDevices(spec *specs.Spec) []specs.LinuxDevice {
	var out []specs.LinuxDevice
	at := map[string]int{}
	for _, d := range append(append([]specs.LinuxDevice(nil), defaultDevices...), spec.Linux.Devices...) {
		if i, ok := at[d.Path]; ok {
			out[i] = d
			continue
		}
		at[d.Path] = len(out)
		out = append(out, d)
	}
	return out
}

// deviceMode is mknod's mode for d: its type and permissions (0666 unless set).
func deviceMode(d specs.LinuxDevice) uint32 {
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(d.FileMode.Perm())
	}
	switch d.Type {
	case "c", "u":
		mode |= unix.S_IFCHR
	case "b":
		mode |= unix.S_IFBLK
	case "p":
		mode |= unix.S_IFIFO
	}
	return mode
}

func mknodDevice(dest string, d specs.LinuxDevice) error {
	mode := deviceMode(d)
	_ = os.Remove(dest)
	if err := unix.Mknod(dest, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return os.Lchown(dest, uid, gid)
}

// devLinks are the symlinks every /dev gets: {target, link}.
func devLinks() [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	return links
}

func devSymlinks(rootfs string) error {
	for _, l := range devLinks() {
		dst, err := inRoot(rootfs, l[1])
		if err != nil {
			return err
		}
		if err := os.Symlink(l[0], dst); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	// /dev/ptmx must be the ptmx of the container's own devpts instance.
	pts, _ := inRoot(rootfs, "/dev/pts/ptmx")
	if _, err := os.Stat(pts); err == nil {
		ptmx, _ := inRoot(rootfs, "/dev/ptmx")
		_ = os.Remove(ptmx)
		if err := os.Symlink("pts/ptmx", ptmx); err != nil {
			return fmt.Errorf("symlink /dev/ptmx: %w", err)
		}
	}
	return nil
}

// pivotRoot makes rootfs the root of the mount namespace and detaches the old root.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	// The old root must not propagate its unmount to the host.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// moveRoot is --no-pivot: the rootfs is moved over / and chrooted into, for
// when the root is on a ramfs where pivot_root does not work.
func moveRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// finishRootfs applies what must happen after the pivot: masked and
// read-only paths, a read-only root, and the root's propagation.
func finishRootfs(spec *specs.Spec) error {
	for _, p := range spec.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	for _, p := range spec.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	if spec.Root.Readonly {
		if err := remount("/", unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return err
		}
	}
	if p, ok := propagationFlags[spec.Linux.RootfsPropagation]; ok {
		if err := mount("", "/", "", p, ""); err != nil {
			return err
		}
	}
	return nil
}

func maskPath(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		return mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	}
	return mount("/dev/null", p, "bind", unix.MS_BIND, "")
}

func readonlyPath(p string) error {
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := mount(p, p, "bind", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return remount(p, unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY)
}

// chrootRoot is for a container without a mount namespace: chroot only.
func chrootRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	return unix.Chdir("/")
}

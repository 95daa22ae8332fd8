package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/specgen"
	"github.com/berth-dev/berth/volume"
)

// Volumes returns the daemon's volume store (nil without one).
func (e *Engine) Volumes() *volume.Store { return e.vols }

// VolumeUsers returns the ids of the containers (in any state) that mount
// a volume.
func (e *Engine) VolumeUsers(name string) []string {
	e.mu.Lock()
	xs := make([]*ctr, 0, len(e.byID))
	for _, x := range e.byID {
		xs = append(xs, x)
	}
	e.mu.Unlock()
	var out []string
	for _, x := range xs {
		x.mu.Lock()
		for _, m := range x.c.HostConfig.Mounts {
			if m.Type == "volume" && m.Source == name {
				out = append(out, x.c.ID)
				break
			}
		}
		x.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// setupVolumes gives a new container its volumes: the named ones it
// mounts (made if missing, as Docker does), a new anonymous one for each
// volume mount without a name and for each image VOLUME nothing else is
// mounted on. It returns the anonymous volumes it made (for a failed
// create to remove).
func (e *Engine) setupVolumes(c *Container) (made []string, err error) {
	hc := &c.HostConfig
	targets := map[string]bool{} // what something is mounted on already
	for _, m := range hc.Mounts {
		targets[path.Clean(m.Target)] = true
	}
	for t := range hc.Tmpfs {
		targets[path.Clean(t)] = true
	}
	if err := e.mountsFrom(c, targets); err != nil {
		return nil, notFoundAtCreate(err)
	}
	for _, v := range c.Config.Volumes {
		if !path.IsAbs(v) {
			return nil, errInvalid("invalid volume %q: the path in the container must be absolute", v)
		}
		if !targets[path.Clean(v)] {
			hc.Mounts = append(hc.Mounts, specgen.Mount{Type: "volume", Target: v})
			targets[path.Clean(v)] = true
		}
	}
	defer func() {
		if err != nil {
			e.removeVolumes(made)
			made = nil
		}
	}()
	for i := range hc.Mounts {
		m := &hc.Mounts[i]
		if m.Type != "volume" {
			continue
		}
		if e.vols == nil {
			return made, errInvalid("volume mount %s: this daemon has no volumes", m.Target)
		}
		if m.Source == "" {
			v, err := e.vols.Create(volume.CreateRequest{Anonymous: true})
			if err != nil {
				return made, err
			}
			m.Source = v.Name
			made = append(made, v.Name)
			continue
		}
		if _, err := e.vols.Get(m.Source); errors.Is(err, errdefs.ErrNotFound) {
			if _, err := e.vols.Create(volume.CreateRequest{Name: m.Source}); err != nil {
				return made, err
			}
		} else if err != nil {
			return made, err
		}
	}
	return made, nil
}

// mountsFrom adds the volume and bind mounts of the containers named by
// --volumes-from (ID[:ro|rw]) to c's mounts, read-only or read-write as the
// mode says and as the other container has them without one. A target c
// mounts something on itself (in targets, which gains the added ones)
// keeps c's own mount.
func (e *Engine) mountsFrom(c *Container, targets map[string]bool) error {
	hc := &c.HostConfig
	for _, spec := range hc.VolumesFrom {
		ref, mode, _ := strings.Cut(spec, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return errInvalid("invalid mode for volumes-from: %s", mode)
		}
		x, err := e.get(ref)
		if err != nil {
			return err
		}
		from := x.snapshot()
		for _, m := range from.HostConfig.Mounts {
			if (m.Type != "volume" && m.Type != "bind") || targets[path.Clean(m.Target)] {
				continue
			}
			if mode != "" {
				m.ReadOnly = mode == "ro"
				m.Mode = mode
			}
			m.NoCopy = true // a volume another container has is not filled again
			hc.Mounts = append(hc.Mounts, m)
			targets[path.Clean(m.Target)] = true
		}
	}
	return nil
}

// RemoveVolume removes a volume unless a container (in any state) mounts
// it; a container being created cannot take the volume meanwhile.
func (e *Engine) RemoveVolume(name string) error {
	if e.vols == nil {
		return fmt.Errorf("volume %s: %w", name, errdefs.ErrNotFound)
	}
	e.volMu.Lock()
	defer e.volMu.Unlock()
	if users := e.VolumeUsers(name); len(users) > 0 {
		return fmt.Errorf("remove %s: volume is in use - [%s]: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	return e.vols.Remove(name)
}

// removeVolumes removes volumes, warning of failures.
func (e *Engine) removeVolumes(names []string) {
	for _, n := range names {
		if err := e.vols.Remove(n); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			e.warn(fmt.Sprintf("volume %s: %v", n, err))
		}
	}
}

// removeAnonymousVolumes is rm -v: the container's anonymous volumes that
// no other container mounts go with it.
func (e *Engine) removeAnonymousVolumes(c *Container) {
	if e.vols == nil {
		return
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type != "volume" {
			continue
		}
		if v, err := e.vols.Get(m.Source); err != nil || !v.Anonymous {
			continue
		}
		err := e.RemoveVolume(m.Source)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrConflict) {
			e.warn(fmt.Sprintf("volume %s: %v", m.Source, err))
		}
	}
}

// mountVolumes resolves a starting container's volume mounts into binds of
// the volumes' directories (mounting those that need it) and fills a new,
// empty volume with what the image has at its target, unless NoCopy.
// rootfs is the container's mounted root. On error nothing stays mounted.
func (e *Engine) mountVolumes(c *Container, rootfs string) (_ []specgen.Mount, retErr error) {
	out := make([]specgen.Mount, 0, len(c.HostConfig.Mounts))
	var mounted []string
	defer func() {
		if retErr != nil {
			for _, name := range mounted {
				_ = e.vols.Unmount(name, c.ID)
			}
		}
	}()
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "bind" {
			if err := bindSource(m); err != nil {
				return nil, err
			}
		}
		if m.Type != "volume" {
			out = append(out, m)
			continue
		}
		if e.vols == nil {
			return nil, errInvalid("volume mount %s: this daemon has no volumes", m.Target)
		}
		dir, err := e.vols.Mount(m.Source, c.ID)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", m.Source, err)
		}
		mounted = append(mounted, m.Source)
		if !m.NoCopy {
			if err := copyUp(rootfs, m.Target, dir); err != nil {
				return nil, fmt.Errorf("volume %s: fill from the image's %s: %w", m.Source, m.Target, err)
			}
		}
		b := m
		b.Type, b.Source, b.NoCopy = "bind", dir, false
		out = append(out, b)
	}
	return out, nil
}

// bindSource checks a bind's source at start: a missing one is made as a
// directory if the mount asks (-v), a dangling symlink refused.
func bindSource(m specgen.Mount) error {
	_, err := os.Stat(m.Source)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, lerr := os.Lstat(m.Source); lerr == nil {
		return errInvalid("invalid mount config for type \"bind\": bind source path is a dangling symlink: %s", m.Source)
	}
	if !m.MakeSource {
		return errInvalid("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
	}
	if err := os.MkdirAll(m.Source, 0o755); err != nil {
		return fmt.Errorf("make the bind source %s: %w", m.Source, err)
	}
	return nil
}

// unmountVolumes releases a stopped container's volumes.
func (e *Engine) unmountVolumes(c *Container) {
	if e.vols == nil {
		return
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" {
			if err := e.vols.Unmount(m.Source, c.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				e.warn(fmt.Sprintf("container %s: volume %s: %v", c.ID, m.Source, err))
			}
		}
	}
}

// copyUp copies the image's content at target (resolved inside rootfs: a
// symlink there cannot lead out of it) into an empty volume directory,
// keeping ownership, modes and times, as Docker fills a new volume. A
// volume with content, or a target the image lacks, is left alone.
func copyUp(rootfs, target, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > 0 {
		return err
	}
	src, err := securejoin.SecureJoin(rootfs, target)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || !fi.IsDir() {
		return err
	}
	if err := copyTree(src, dir); err != nil {
		return err
	}
	// The volume's root takes the image directory's owner and mode.
	return copyMeta(src, dir, fi)
}

// copyTree copies the entries below src into dst (a directory on another
// file system, so hard links are copied as separate files).
func copyTree(src, dst string) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		s, d := filepath.Join(src, ent.Name()), filepath.Join(dst, ent.Name())
		fi, err := os.Lstat(s)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			if err := copyTree(s, d); err != nil {
				return err
			}
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(s)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, d); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(s, d); err != nil {
				return err
			}
		default:
			st := fi.Sys().(*syscall.Stat_t)
			if err := unix.Mknod(d, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if err := copyMeta(s, d, fi); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta gives dst src's owner, mode and times (a symlink: its owner and
// times).
func copyMeta(src, dst string, fi os.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink == 0 {
		// After the chown, which clears setuid and setgid.
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// checkMounts are a container's mounts for create's check, volumes as
// binds of a stand-in directory.
func checkMounts(mounts []specgen.Mount) []specgen.Mount {
	out := make([]specgen.Mount, len(mounts))
	for i, m := range mounts {
		if m.Type == "volume" {
			m.Type, m.Source, m.NoCopy = "bind", "/volume", false
		}
		out[i] = m
	}
	return out
}

// holdVolumes counts a running container's volumes as mounted again (a
// daemon restart: the volumes' file systems are still mounted, the store
// just learns who uses them).
func (e *Engine) holdVolumes(c *Container) {
	if e.vols == nil {
		return
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" {
			if _, err := e.vols.Mount(m.Source, c.ID); err != nil {
				e.warn(fmt.Sprintf("container %s: volume %s: %v", c.ID, m.Source, err))
			}
		}
	}
}

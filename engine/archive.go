package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// PathStat describes a path in a container: Docker's
// X-Docker-Container-Path-Stat. Mode is Go's os.FileMode, as Docker sends
// it; LinkTarget is, for a symlink, where it leads in the container.
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// ExtractOptions are PUT /containers/{id}/archive's.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the other way round.
	NoOverwriteDirNonDir bool
	// CopyUIDGID makes what is copied belong to the container's user
	// (docker cp -a); otherwise it keeps the tar's owners.
	CopyUIDGID bool
}

// StatPath describes path p in a container (HEAD
// /containers/{id}/archive).
func (e *Engine) StatPath(ctx context.Context, ref, p string) (*PathStat, error) {
	var st *PathStat
	err := e.withRootFS(ref, func(c *Container, root int) error {
		l, err := locate(c, root, p)
		if err != nil {
			return err
		}
		defer l.close()
		st, err = l.stat()
		return err
	})
	return st, err
}

// ArchivePath writes path p of a container as a tar (GET
// /containers/{id}/archive): the file, symlink or directory named as the
// last element of p, a directory with everything below it. A path ending
// in "/" or "/." follows a final symlink; "/." names the entries "./...".
// begin is called with the path's description before the first byte is
// written and returns where to write.
func (e *Engine) ArchivePath(ctx context.Context, ref, p string, begin func(*PathStat) io.Writer) error {
	var c *Container
	err := e.withRootFS(ref, func(ct *Container, root int) error {
		c = ct
		l, err := locate(ct, root, p)
		if err != nil {
			return err
		}
		defer l.close()
		st, err := l.stat()
		if err != nil {
			return err
		}
		return archive.WriteEntry(ctx, begin(st), l.parent, l.base, st.Name, archive.WriteOptions{SkipPseudoFS: true})
	})
	if err == nil {
		e.event(c, "archive-path", map[string]string{"path": p})
	}
	return err
}

// ExtractToDir unpacks the tar r (plain or compressed) into directory p of
// a container (PUT /containers/{id}/archive). p, symlinks and all, and
// every entry are resolved inside the directory: nothing is written
// outside it, and an entry that would leave it is refused. A read-only
// root file system or volume refuses with ErrForbidden.
func (e *Engine) ExtractToDir(ctx context.Context, ref, p string, r io.Reader, o ExtractOptions) error {
	var c *Container
	err := e.withRootFS(ref, func(ct *Container, root int) error {
		c = ct
		l, err := locate(ct, root, strings.TrimRight(p, "/")+"/")
		if err != nil {
			return err
		}
		defer l.close()
		var st unix.Stat_t
		if err := unix.Fstatat(l.parent, l.base, &st, 0); err != nil {
			return l.notFound(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return errInvalid("extraction point %s is not a directory", p)
		}
		if err := l.writable(); err != nil {
			return err
		}
		fd, err := unix.Openat(l.parent, l.base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ao := archive.ApplyOptions{Whiteouts: archive.WhiteoutsNone, NoOverwriteDirNonDir: o.NoOverwriteDirNonDir}
		if o.CopyUIDGID {
			u, err := resolveUser(fdPath(root), ct.Config.User, nil)
			if err != nil {
				return errInvalid("copy with the container's user %q: %v", ct.Config.User, err)
			}
			ao.Owner = &archive.Owner{UID: int(u.UID), GID: int(u.GID)}
		}
		_, err = archive.Apply(ctx, fdPath(fd), r, ao)
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("%w: %w", err, errdefs.ErrForbidden)
		}
		return err
	})
	if err == nil {
		e.event(c, "extract-to-dir", map[string]string{"path": p})
	}
	return err
}

// withRootFS calls fn with a descriptor of a container's root directory as
// its processes see it. A running (or paused) container's is its own mount
// namespace's, /proc/PID/root, with its volumes, binds and tmpfs mounts. A
// container that is not running has its root file system and its volume
// and bind mounts mounted for fn in a mount namespace of their own (its
// tmpfs mounts are empty when it is not running and are left out); the
// container is held busy meanwhile, so that it cannot start, and the
// namespace goes away with fn's thread, taking the mounts with it.
func (e *Engine) withRootFS(ref string, fn func(c *Container, root int) error) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		x.mu.Lock()
		pid, running := x.c.State.Pid, x.c.State.Running()
		if !running {
			break // with x.mu held
		}
		x.mu.Unlock()
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		x.mu.Lock()
		same := x.c.State.Running() && x.c.State.Pid == pid
		x.mu.Unlock()
		if err == nil && same {
			defer unix.Close(fd)
			return fn(x.snapshot(), fd)
		}
		if err == nil {
			unix.Close(fd)
		}
		if try == 3 {
			return errConflict("container %s: its process changed while its files were opened; try again", x.c.ID[:12])
		}
	}
	return e.withStoppedFS(x, true, fn)
}

// withStoppedFS holds a container that is not running busy (so that it
// cannot start) and runs fn with its root file system, and its volume and
// bind mounts if withMounts, mounted in a mount namespace of its own; the
// caller holds x.mu, which is released.
func (e *Engine) withStoppedFS(x *ctr, withMounts bool, fn func(c *Container, root int) error) error {
	if x.busy {
		x.mu.Unlock()
		return errConflict("container %s is busy (another operation is in progress)", x.c.ID[:12])
	}
	switch x.c.State.Status {
	case StatusRemoving, StatusDead:
		x.mu.Unlock()
		return errConflict("container %s is marked for removal", x.c.ID[:12])
	}
	x.busy = true
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.busy = false
		x.mu.Unlock()
	}()
	return e.inOwnNamespace(x.snapshot(), withMounts, fn)
}

// inOwnNamespace mounts a stopped container's file system in a new mount
// namespace on a locked thread and runs fn there.
func (e *Engine) inOwnNamespace(c *Container, withMounts bool, fn func(c *Container, root int) error) error {
	m, err := e.layers.ActiveMount(c.ID)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(e.execRoot, "fs-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	type bind struct {
		src, target string
		ro          bool
	}
	var binds []bind
	for _, mt := range c.HostConfig.Mounts {
		if !withMounts {
			break
		}
		switch mt.Type {
		case "volume":
			if e.vols == nil {
				continue
			}
			src, err := e.vols.Mount(mt.Source, c.ID)
			if err != nil {
				return fmt.Errorf("volume %s: %w", mt.Source, err)
			}
			defer func() {
				if err := e.vols.Unmount(mt.Source, c.ID); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					e.warn(fmt.Sprintf("container %s: volume %s: %v", c.ID, mt.Source, err))
				}
			}()
			binds = append(binds, bind{src, mt.Target, mt.ReadOnly})
		case "bind":
			binds = append(binds, bind{mt.Source, mt.Target, mt.ReadOnly})
		}
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, and with it the namespace and every
		// mount in it, ends with this goroutine.
		runtime.LockOSThread()
		done <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("make the mount namespace private: %w", err)
			}
			if err := m.MountInThread(dir); err != nil {
				return err
			}
			for _, b := range binds {
				if err := bindInto(dir, b.src, b.target, b.ro); err != nil {
					return err
				}
			}
			if c.HostConfig.ReadonlyRootfs {
				if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
					return fmt.Errorf("remount the root file system read-only: %w", err)
				}
			}
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return fn(c, fd)
		}()
	}()
	return <-done
}

// bindInto bind-mounts src over target (resolved inside root, made if
// missing: a directory, or an empty file for a file source), read-only if
// ro.
func bindInto(root, src, target string, ro bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	dst, err := securejoin.SecureJoin(root, target)
	if err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	if fi.IsDir() {
		err = os.MkdirAll(dst, 0o755)
	} else if err = os.MkdirAll(path.Dir(dst), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(dst, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s on %s: %w", src, target, err)
	}
	if ro {
		if err := unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mount %s read-only: %w", target, err)
		}
	}
	return nil
}

// located is a path in a container's root: the descriptor of its parent
// directory (resolved inside the root) and its last element.
type located struct {
	c      *Container
	root   int
	abs    string // the path asked for, absolute, with its trailing "/" or "/."
	parent int
	base   string
}

// locate resolves p inside the root directory root. The directory part is
// resolved with every symlink followed inside the root; the last element
// is too if p ends with "/" or "/." (or is the root), and is otherwise
// left as it is.
func locate(c *Container, root int, p string) (*located, error) {
	if p == "" {
		return nil, errInvalid("no path given")
	}
	follow := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."
	abs := path.Clean("/" + p)
	l := &located{c: c, root: root, abs: abs, parent: -1}
	if follow && abs != "/" {
		l.abs += "/"
		if strings.HasSuffix(p, ".") {
			l.abs += "."
		}
	}
	dir, base := path.Dir(abs), path.Base(abs)
	if follow || abs == "/" {
		resolved, err := inRoot(root, abs)
		if err != nil {
			return nil, err
		}
		dir, base = path.Dir(resolved), path.Base(resolved)
		if resolved == "/" {
			base = "."
		}
	}
	fd, err := openInRootFD(root, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, l.notFound(err)
	}
	l.parent, l.base = fd, base
	return l, nil
}

func (l *located) close() {
	if l.parent >= 0 {
		unix.Close(l.parent)
	}
}

// notFound turns a lookup's ENOENT or ENOTDIR into Docker's 404.
func (l *located) notFound(err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		shown := strings.TrimSuffix(l.abs, "/.")
		if shown != "/" {
			shown = strings.TrimSuffix(shown, "/")
		}
		return fmt.Errorf("Could not find the file %s in container %s: %w", shown, l.c.Name, errdefs.ErrNotFound)
	}
	return err
}

// stat describes the located path, Docker's way.
func (l *located) stat() (*PathStat, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(l.parent, l.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, l.notFound(err)
	}
	if strings.HasSuffix(l.abs, "/") || strings.HasSuffix(l.abs, "/.") {
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && l.abs != "/" {
			return nil, l.notFound(unix.ENOTDIR)
		}
	}
	name := path.Base(l.abs)
	if strings.HasSuffix(l.abs, "/.") {
		name = "."
	}
	ps := &PathStat{Name: name, Size: st.Size, Mode: fileMode(st.Mode), Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := inRoot(l.root, l.abs)
		if err != nil {
			return nil, err
		}
		ps.LinkTarget = t
	}
	return ps, nil
}

// writable refuses a located directory on a read-only mount with Docker's
// messages.
func (l *located) writable() error {
	var s unix.Statfs_t
	fd, err := unix.Openat(l.parent, l.base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return l.notFound(err)
	}
	defer unix.Close(fd)
	if err := unix.Fstatfs(fd, &s); err != nil {
		return err
	}
	if s.Flags&unix.ST_RDONLY == 0 {
		return nil
	}
	// Which mount: the longest mount target that holds the path.
	dest, err := inRoot(l.root, l.abs)
	if err != nil {
		return err
	}
	best := ""
	for _, m := range l.c.HostConfig.Mounts {
		t := path.Clean(m.Target)
		if (dest == t || strings.HasPrefix(dest, t+"/")) && len(t) > len(best) {
			best = t
		}
	}
	if best == "" {
		return fmt.Errorf("container rootfs is marked read-only: %w", errdefs.ErrForbidden)
	}
	return fmt.Errorf("mounted volume %s is marked read-only: %w", best, errdefs.ErrForbidden)
}

// inRoot returns where absolute path p leads inside the root directory
// root, every symlink followed as if the root were "/".
func inRoot(root int, p string) (string, error) {
	rp := fdPath(root)
	r, err := securejoin.SecureJoin(rp, p)
	if err != nil {
		return "", err
	}
	out := path.Clean("/" + strings.TrimPrefix(r, rp))
	return out, nil
}

// openInRootFD opens p (absolute, in the container) below the directory
// root with flags, every symlink resolved as if root were "/".
func openInRootFD(root int, p string, flags int) (int, error) {
	rel := strings.TrimLeft(p, "/")
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(root, rel, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// fdPath names an open descriptor as a path.
func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// fileMode converts a stat mode into Go's os.FileMode, as Docker reports
// it.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		fm |= os.ModeDir
	case unix.S_IFLNK:
		fm |= os.ModeSymlink
	case unix.S_IFIFO:
		fm |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		fm |= os.ModeSocket
	case unix.S_IFBLK:
		fm |= os.ModeDevice
	case unix.S_IFCHR:
		fm |= os.ModeDevice | os.ModeCharDevice
	}
	if m&unix.S_ISUID != 0 {
		fm |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		fm |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// The kernel's system calls, all of them in this file.

// Mount is how to mount an active snapshot: the arguments of mount(8), with
// one addition. Overlay options name the lower, upper and work directories
// relative to Dir (short names, so that an image of a hundred layers stays
// within the one page of options mount(2) accepts); [Mount.MountAt] makes
// the mount from there.
type Mount struct {
	// Type is "overlay", or "bind" for a snapshot without layers.
	Type string
	// Source is "overlay", or the directory to bind (absolute).
	Source string
	// Options are mount(8) options.
	Options []string
	// Dir is the directory that relative paths in Options are relative to.
	Dir string
	// volatile: see Volatile.
	volatile bool
	// work is the overlay's work directory (absolute), when the store
	// made the mount.
	work string
}

// Volatile asks for an overlay mount whose upper directory is never synced
// (the "volatile" option, Linux 5.10+): its unmount does not wait for the
// disk (0.8 ms to 17 µs, measured on ext4) and fsync inside it returns at
// once. For a writable layer thrown away with its container (run --rm), as
// podman does for those. The kernel marks such a work directory and then
// refuses to mount it again, meant for the layer a crash left half-written;
// MountAt clears the mark, so a container whose start failed after the
// mount can be started again (one whose host crashed goes anyway: it was
// to be removed). A kernel without the option mounts without it.
func (m *Mount) Volatile() {
	if m.Type == "overlay" {
		m.volatile = true
	}
}

// maxOptions is the most mount(2) takes as data: one page, NUL included.
var maxOptions = os.Getpagesize() - 1

// MountAt mounts m on the directory target.
//
// Relative paths in an overlay's options are resolved from m.Dir: MountAt
// makes the mount on a thread of its own that has left the process's shared
// working directory (unshare(CLONE_FS)) and changed to m.Dir; that thread
// is then discarded, so the rest of the process is untouched.
func (m *Mount) MountAt(target string) error {
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	if m.Type != "overlay" {
		return m.MountInThread(target)
	}
	data, err := m.overlayData(target)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: a thread whose file system context was
		// unshared must not run other goroutines, so it exits with
		// this one.
		runtime.LockOSThread()
		done <- func() error {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare(CLONE_FS): %w", err)
			}
			return m.overlay(target, data)
		}()
	}()
	return <-done
}

// MountInThread mounts m at target (absolute) from the calling goroutine's
// own thread, for a caller that locked its thread and unshared its mount
// namespace (which unshares the file system context too): the mount is
// made in that namespace. It changes the thread's working directory.
func (m *Mount) MountInThread(target string) error {
	switch m.Type {
	case "bind":
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind mount %s on %s: %w", m.Source, target, err)
		}
		return nil
	case "overlay":
		data, err := m.overlayData(target)
		if err != nil {
			return err
		}
		return m.overlay(target, data)
	}
	return fmt.Errorf("mount type %q: %w", m.Type, errdefs.ErrNotImplemented)
}

func (m *Mount) overlayData(target string) (string, error) {
	data := strings.Join(m.Options, ",")
	if len(data) > maxOptions {
		return "", fmt.Errorf("overlay on %s: %d bytes of options, more than mount(2) takes (%d): %w", target, len(data), maxOptions, errdefs.ErrInvalidArgument)
	}
	return data, nil
}

// overlay mounts the overlay from m.Dir, whose lower directories the
// options name relatively; the thread's file system context must be its
// own.
func (m *Mount) overlay(target, data string) error {
	if m.work != "" {
		if err := os.RemoveAll(filepath.Join(m.work, "work", "incompat")); err != nil {
			return fmt.Errorf("overlay on %s: %w", target, err)
		}
	}
	err := unix.Chdir(m.Dir)
	if err == nil && m.volatile && len(data)+len(",volatile") <= maxOptions {
		err = unix.Mount(m.Source, target, m.Type, 0, data+",volatile")
		if err != unix.EINVAL {
			if err != nil {
				return fmt.Errorf("overlay on %s (from %s, %s,volatile): %w", target, m.Dir, data, err)
			}
			return nil
		}
		// EINVAL: a kernel before 5.10; the mount without the option.
	}
	if err == nil {
		err = unix.Mount(m.Source, target, m.Type, 0, data)
	}
	if err != nil {
		return fmt.Errorf("overlay on %s (from %s, %s): %w", target, m.Dir, data, err)
	}
	return nil
}

// syncFS flushes the file system that holds dir to disk.
func syncFS(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// syncDir makes a directory's entries (a rename into it) durable.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// lockDir takes an exclusive flock on directory dir and returns the function
// that drops it. The kernel drops it too when the process dies, however it
// dies: a locked directory under tmp/ is work in progress, an unlocked one is
// a dead process's leftover.
func lockDir(dir string, wait bool) (unlock func(), err error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}

// isExist reports whether a rename failed because its target exists (a
// non-empty directory gives ENOTEMPTY or EEXIST).
func isExist(err error) bool {
	if le, ok := err.(*os.LinkError); ok {
		err = le.Err
	}
	return err == unix.EEXIST || err == unix.ENOTEMPTY
}

package archive

import (
	"archive/tar"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// whiteout handles ".wh.name" and ".wh..wh..opq" in directory dir.
func (a *applier) whiteout(hdr *tar.Header, dir, base string) error {
	a.markSeen(dir)
	if base == whiteoutOpaque {
		return a.opaque(dir)
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("whiteout of %q: %w", victim, errdefs.ErrInvalidArgument)
	}
	if _, ok := a.seen[join(dir, victim)]; ok {
		return nil // this layer's own entry wins
	}
	if a.o.Whiteouts == WhiteoutsApply {
		pfd, err := a.parent(dir, false)
		if isErrno(err, unix.ENOENT, unix.ENOTDIR) {
			return nil // nothing to remove
		}
		if err != nil {
			return fmt.Errorf("parent directory: %w", err)
		}
		a.invalidate()
		if err := removeAllAt(pfd, victim); err != nil {
			return fmt.Errorf("whiteout: %w", err)
		}
		return nil
	}
	pfd, err := a.parent(dir, true)
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	if err := a.replace(pfd, victim, false, func() error { return unix.Mknodat(pfd, victim, unix.S_IFCHR, 0) }); err != nil {
		return fmt.Errorf("whiteout device: %w", err)
	}
	if err := a.chown(hdr, func(uid, gid int) error { return unix.Fchownat(pfd, victim, uid, gid, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	return a.setTimes(pfd, victim, hdr)
}

// opaque handles ".wh..wh..opq" in directory dir.
func (a *applier) opaque(dir string) error {
	pfd, b := a.root, "."
	if dir != "" {
		pdir, base := split(dir)
		var err error
		pfd, err = a.parent(pdir, a.o.Whiteouts == WhiteoutsOverlay)
		if a.o.Whiteouts == WhiteoutsApply && isErrno(err, unix.ENOENT, unix.ENOTDIR) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parent directory: %w", err)
		}
		b = base
		if a.o.Whiteouts == WhiteoutsOverlay {
			switch err := unix.Mkdirat(pfd, b, 0o755); err {
			case nil:
				if err := chmodAt(pfd, b, 0o755); err != nil {
					return fmt.Errorf("chmod: %w", err)
				}
			case unix.EEXIST:
			default:
				return fmt.Errorf("mkdir: %w", err)
			}
		}
	}
	fd, err := openChildDir(pfd, b)
	if a.o.Whiteouts == WhiteoutsApply && isErrno(err, unix.ENOENT, unix.ENOTDIR, unix.ELOOP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opaque directory %q: %w", dir, err)
	}
	defer unix.Close(fd)
	if a.o.Whiteouts == WhiteoutsOverlay {
		if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("setxattr %s: %w", overlayOpaqueXattr, err)
		}
		return nil
	}
	a.invalidate()
	if err := a.purge(fd, dir); err != nil {
		return fmt.Errorf("opaque directory %q: %w", dir, err)
	}
	return nil
}

// purge removes what directory fd (the path rel) holds that this layer did
// not create, at any depth.
func (a *applier) purge(fd int, rel string) error {
	names, err := readDirNames(fd)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := join(rel, n)
		if _, ok := a.seen[p]; !ok {
			if err := removeAllAt(fd, n); err != nil {
				return err
			}
			continue
		}
		cfd, err := openChildDir(fd, n)
		if isErrno(err, unix.ENOTDIR, unix.ELOOP) {
			continue
		}
		if err != nil {
			return err
		}
		err = a.purge(cfd, p)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

package archive

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// This file is the package's seam to the kernel: the *at helpers that keep
// every operation inside a root directory descriptor.

// openInRoot opens p (relative, cleaned) below the directory root, resolving
// every symlink on the way as if root were "/". Magic links (/proc/self/fd/N
// and friends) are refused.
func openInRoot(root int, p string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 64 {
		fd, err := unix.Openat2(root, p, &how)
		// EAGAIN: a concurrent rename made the kernel give up on "..".
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// openDirInRoot opens directory p below root as an O_PATH descriptor, good
// for the *at calls; "" is the root itself.
func openDirInRoot(root int, p string) (int, error) {
	if p == "" {
		p = "."
	}
	return openInRoot(root, p, unix.O_PATH|unix.O_DIRECTORY)
}

// checkOpenat2 fails clearly on kernels without openat2.
func checkOpenat2(root int) error {
	fd, err := openDirInRoot(root, "")
	if err == unix.ENOSYS {
		return fmt.Errorf("archive: openat2 is not available (Linux 5.6 or later is needed): %w", errdefs.ErrNotImplemented)
	}
	if err != nil {
		return fmt.Errorf("archive: opening root: %w", err)
	}
	return unix.Close(fd)
}

// openChildDir opens name in dirfd as a directory without following a
// symlink.
func openChildDir(dirfd int, name string) (int, error) {
	return retry(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
}

func retry(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readDirNames lists a freshly opened directory descriptor, without "." and
// "..", in the order the filesystem gives.
func readDirNames(fd int) ([]string, error) {
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// removeAllAt removes name in dirfd and, if it is a directory, everything
// below it. It never follows a symlink; a missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	fd, err := openChildDir(dirfd, name)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := readDirNames(fd)
	for _, n := range names {
		if err != nil {
			break
		}
		err = removeAllAt(fd, n)
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

// chmodAt sets the mode of name in dirfd, which must not be a symlink.
func chmodAt(dirfd int, name string, mode uint32) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if e == 0 {
		return nil
	}
	if e != unix.ENOSYS {
		return e
	}
	// Before Linux 6.6 fchmodat cannot refuse to follow a symlink: pin the
	// node with O_PATH and change it through its descriptor.
	fd, err := retry(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.ELOOP
	}
	return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
}

// fdPath names name in dirfd through /proc, for the xattr calls that have no
// *at form before Linux 6.13. The walk goes through the magic link to the
// directory itself, then takes name as a single component, which the l*
// calls do not follow.
func fdPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

// lsetxattrAt sets an xattr on name in dirfd without following a symlink.
func lsetxattrAt(dirfd int, name, attr string, val []byte) error {
	return unix.Lsetxattr(fdPath(dirfd, name), attr, val, 0)
}

// xattrs reads every extended attribute through list and get (the f* or l*
// calls). A filesystem without xattrs has none.
func xattrs(list func([]byte) (int, error), get func(string, []byte) (int, error)) (map[string][]byte, error) {
	var buf []byte
	for {
		n, err := list(nil)
		if err == unix.ENOTSUP || (err == nil && n == 0) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listxattr: %w", err)
		}
		buf = make([]byte, n)
		n, err = list(buf)
		if err == unix.ERANGE {
			continue // grew in between
		}
		if err != nil {
			return nil, fmt.Errorf("listxattr: %w", err)
		}
		buf = buf[:n]
		break
	}
	out := make(map[string][]byte)
	for _, name := range strings.Split(strings.TrimSuffix(string(buf), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		val, err := getXattr(name, get)
		if err == unix.ENODATA {
			continue // removed in between
		}
		if err != nil {
			return nil, fmt.Errorf("getxattr %s: %w", name, err)
		}
		out[name] = val
	}
	return out, nil
}

func getXattr(name string, get func(string, []byte) (int, error)) ([]byte, error) {
	for {
		n, err := get(name, nil)
		if err != nil {
			return nil, err
		}
		val := make([]byte, n)
		if n == 0 {
			return val, nil
		}
		n, err = get(name, val)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return val[:n], nil
	}
}

// inUserNS reports whether this process runs in a user namespace other than
// the initial one, where creating device nodes is not allowed.
func inUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// isErrno reports whether err is one of errnos.
func isErrno(err error, errnos ...unix.Errno) bool {
	var e unix.Errno
	if !errors.As(err, &e) {
		return false
	}
	for _, x := range errnos {
		if e == x {
			return true
		}
	}
	return false
}

package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultInitDir is where InstallInit puts the init program: on tmpfs, and
// reachable (0711) by a container's root in a user namespace.
const DefaultInitDir = "/run/berth/init"

// InstallInit writes the init program data to dir/name unless it is there
// already, and returns its path. Name it after the content (the build puts a
// hash in it), so that versions never collide. The file is read-only and,
// where the filesystem supports it, immutable: a container that reaches it
// through /proc/<pid>/exe cannot change what other containers run.
func InstallInit(dir, name string, data []byte) (string, error) {
	p := filepath.Join(dir, name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(data)) {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", fmt.Errorf("install init program: %w", err)
	}
	// A container's root in a user namespace is "other" here: it must be able
	// to walk to the program.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return "", fmt.Errorf("install init program: %w", err)
			}
		}
	}
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return "", fmt.Errorf("install init program: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install init program: %w", err)
	}
	if err := tmp.Chmod(0o555); err != nil {
		tmp.Close()
		return "", fmt.Errorf("install init program: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("install init program: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		// Another berth installed it at the same moment: an immutable file
		// cannot be replaced, and its content is the same.
		if fi, serr := os.Stat(p); serr == nil && fi.Size() == int64(len(data)) {
			return p, nil
		}
		return "", fmt.Errorf("install init program: %w", err)
	}
	setImmutable(p)
	return p, nil
}

// fsImmutableFL is FS_IMMUTABLE_FL of linux/fs.h.
const fsImmutableFL = 0x00000010

// setImmutable sets FS_IMMUTABLE_FL (tmpfs has it since Linux 6.0); a
// filesystem without it leaves the file merely read-only.
func setImmutable(p string) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return
	}
	_ = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags|fsImmutableFL))
}

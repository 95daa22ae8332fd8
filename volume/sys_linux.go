package volume

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// The kernel's mount calls, all of them in this file.

const msBind = unix.MS_BIND

// flagOptions are the mount(8) options that are flags of mount(2), as
// moby/sys/mount has them.
var flagOptions = map[string]mountFlag{
	"defaults":      {false, 0},
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"suid":          {true, unix.MS_NOSUID},
	"nosuid":        {false, unix.MS_NOSUID},
	"dev":           {true, unix.MS_NODEV},
	"nodev":         {false, unix.MS_NODEV},
	"exec":          {true, unix.MS_NOEXEC},
	"noexec":        {false, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"bind":          {false, unix.MS_BIND},
	"rbind":         {false, unix.MS_BIND | unix.MS_REC},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
}

// propagationOptions are mount(8)'s propagation options: a call of their own.
var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// mountOptions mounts the file system that a volume's options describe on
// target.
func mountOptions(opts map[string]string, target string) error {
	source, fstype, flags, propagation, data := mountArgs(opts)
	fail := func(err error) error {
		return fmt.Errorf("error while mounting volume '%s': failed to mount local volume: mount %s:%s, flags: %#x, data: %s: %w",
			target, source, target, flags, data, err)
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fail(err)
	}
	// A bind takes its other flags (ro, nosuid...) only in a remount.
	if flags&unix.MS_BIND != 0 && flags&^(unix.MS_BIND|unix.MS_REC) != 0 {
		if err := unix.Mount("", target, "", flags&^unix.MS_REC|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fail(err)
		}
	}
	if propagation != 0 {
		if err := unix.Mount("", target, "", propagation, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fail(err)
		}
	}
	return nil
}

// unmountIfMounted unmounts whatever is mounted on path (all of it, if
// mounts are stacked there).
func unmountIfMounted(path string) error {
	for {
		mounted, err := isMountpoint(path)
		if err != nil || !mounted {
			return err
		}
		if err := unix.Unmount(path, 0); err != nil && err != unix.EINVAL {
			if err == unix.EBUSY {
				return fmt.Errorf("unmount %s: %w: %w", path, err, errdefs.ErrConflict)
			}
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
}

// isMountpoint reports whether something is mounted on path (absolute,
// without symlinks) in this mount namespace.
func isMountpoint(path string) (bool, error) {
	found := false
	err := eachMount(func(mp string) bool {
		found = mp == path
		return !found
	})
	return found, err
}

// mountsBelow returns the mount points at path or below it.
func mountsBelow(path string) ([]string, error) {
	var out []string
	err := eachMount(func(mp string) bool {
		if mp == path || strings.HasPrefix(mp, path+"/") {
			out = append(out, mp)
		}
		return true
	})
	return out, err
}

// eachMount calls f with the mount point of every line of
// /proc/self/mountinfo while f returns true.
func eachMount(f func(mountpoint string) bool) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		if !f(unescapeMountinfo(fields[4])) {
			return nil
		}
	}
	return sc.Err()
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo field.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

package runtime

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is a runtime-spec mount's options, sorted into what each system
// call needs.
type mountOpts struct {
	flags  int      // mount(2) flags to set
	clear  int      // flags the options turn off ("rw", "suid", ...)
	prop   []int    // propagation changes, applied after the mount
	data   []string // filesystem-specific options
	recSet uint64   // MOUNT_ATTR_* set recursively with mount_setattr
	recClr uint64
}

var mountFlags = map[string]struct {
	clear bool
	flag  int
}{
	"async": {true, unix.MS_SYNCHRONOUS}, "sync": {false, unix.MS_SYNCHRONOUS},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"defaults": {false, 0},
	"dev":      {true, unix.MS_NODEV}, "nodev": {false, unix.MS_NODEV},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"dirsync": {false, unix.MS_DIRSYNC},
	"exec":    {true, unix.MS_NOEXEC}, "noexec": {false, unix.MS_NOEXEC},
	"iversion": {false, unix.MS_I_VERSION}, "noiversion": {true, unix.MS_I_VERSION},
	"lazytime": {false, unix.MS_LAZYTIME}, "nolazytime": {true, unix.MS_LAZYTIME},
	"loud": {true, unix.MS_SILENT}, "silent": {false, unix.MS_SILENT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"suid": {true, unix.MS_NOSUID}, "nosuid": {false, unix.MS_NOSUID},
	"remount": {false, unix.MS_REMOUNT},
	"bind":    {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"symfollow": {true, unix.MS_NOSYMFOLLOW}, "nosymfollow": {false, unix.MS_NOSYMFOLLOW},
}

var propagationFlags = map[string]int{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

var recursiveAttrs = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro": {false, unix.MOUNT_ATTR_RDONLY}, "rrw": {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {false, unix.MOUNT_ATTR_NOSUID}, "rsuid": {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev": {false, unix.MOUNT_ATTR_NODEV}, "rdev": {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {false, unix.MOUNT_ATTR_NOEXEC}, "rexec": {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {false, unix.MOUNT_ATTR_NODIRATIME}, "rdiratime": {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnoatime": {false, unix.MOUNT_ATTR_NOATIME}, "ratime": {true, unix.MOUNT_ATTR_NOATIME},
	"rstrictatime": {false, unix.MOUNT_ATTR_STRICTATIME}, "rnostrictatime": {true, unix.MOUNT_ATTR_STRICTATIME},
	"rrelatime": {false, unix.MOUNT_ATTR_RELATIME}, "rnorelatime": {true, unix.MOUNT_ATTR_RELATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW}, "rsymfollow": {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// parseMountOptions sorts mount options; anything it does not know is
// filesystem data ("size=64m", "mode=755", "newinstance").
func parseMountOptions(options []string) (*mountOpts, error) {
	o := &mountOpts{}
	for _, opt := range options {
		if f, ok := mountFlags[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
				o.clear |= f.flag
			} else {
				o.flags |= f.flag
				o.clear &^= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[opt]; ok {
			o.prop = append(o.prop, p)
			continue
		}
		if a, ok := recursiveAttrs[opt]; ok {
			if a.clear {
				o.recClr |= a.attr
			} else {
				o.recSet |= a.attr
			}
			continue
		}
		switch opt {
		case "idmap", "ridmap", "tmpcopyup":
			return nil, fmt.Errorf("mount option %q is not supported", opt)
		}
		if opt == "" || strings.ContainsRune(opt, '\x00') {
			return nil, fmt.Errorf("mount option %q is not valid", opt)
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

func (o *mountOpts) isBind() bool { return o.flags&unix.MS_BIND != 0 }

package volume

import (
	"fmt"
	"os"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// Mount returns the host path of the volume's content, to bind into a
// container, and counts ref (a container id) as a user of the volume until
// [Store.Unmount]. A volume made with options gets its file system mounted
// on that path at its first reference, unless it is mounted there already
// (by a daemon before a restart). The same ref may be counted more than
// once (a volume at two paths of one container); each Mount needs its
// Unmount.
func (s *Store) Mount(name, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("mount %s: empty reference: %w", name, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return "", notFound("mount", name)
	}
	refs := s.refs[name]
	if len(refs) == 0 {
		// The content's directory may have been removed by hand.
		if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
			return "", fmt.Errorf("mount %s: %w", name, err)
		}
		if v.ownFS() {
			mounted, err := isMountpoint(v.Mountpoint)
			if err != nil {
				return "", fmt.Errorf("mount %s: %w", name, err)
			}
			if !mounted {
				if err := mountOptions(v.Options, v.Mountpoint); err != nil {
					return "", fmt.Errorf("mount %s: %w", name, err)
				}
			}
		}
		refs = map[string]int{}
		s.refs[name] = refs
	}
	refs[ref]++
	return v.Mountpoint, nil
}

// Unmount ends one Mount of ref. At the volume's last reference its file
// system (if it has one) is unmounted. A ref that is not counted is no
// error: nothing happens.
func (s *Store) Unmount(name, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return notFound("unmount", name)
	}
	refs := s.refs[name]
	if refs[ref] == 0 {
		return nil
	}
	if refs[ref]--; refs[ref] == 0 {
		delete(refs, ref)
	}
	if len(refs) > 0 {
		return nil
	}
	delete(s.refs, name)
	if v.ownFS() {
		// If this fails the file system stays mounted without references:
		// the next Mount takes it as it is, and Remove tries again.
		if err := unmountIfMounted(v.Mountpoint); err != nil {
			return fmt.Errorf("unmount %s: %w", name, err)
		}
	}
	return nil
}

// isBind reports whether mount options o ("o=") ask for a bind mount.
func isBind(o string) bool {
	for opt := range strings.SplitSeq(o, ",") {
		if opt == "bind" || opt == "rbind" {
			return true
		}
	}
	return false
}

// mountFlag is one mount(8) option that is a flag of mount(2): set clears
// the flag instead if clear.
type mountFlag struct {
	clear bool
	flag  uintptr
}

// mountArgs turns the local driver's options into mount(2)'s arguments,
// as mount(8) (and Docker's local driver) does: flag options become flags,
// propagation options a second call, the rest the file system's data.
func mountArgs(opts map[string]string) (source, fstype string, flags, propagation uintptr, data string) {
	source, fstype = opts["device"], opts["type"]
	if fstype == "tmpfs" && source == "" {
		source = "tmpfs"
	}
	var rest []string
	for opt := range strings.SplitSeq(opts["o"], ",") {
		if opt == "" {
			continue
		}
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			propagation = p
			continue
		}
		rest = append(rest, opt)
	}
	if flags&msBind != 0 {
		fstype = "" // "none" or whatever: a bind has no type
	}
	return source, fstype, flags, propagation, strings.Join(rest, ",")
}

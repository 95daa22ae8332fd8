package archive

import (
	"fmt"
	"path"
	"strings"

	"github.com/berth-dev/berth/errdefs"
)

// OCI (and Docker, and AUFS before them) whiteout names.
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."     // AUFS bookkeeping; skipped
	whiteoutOpaque     = ".wh..wh..opq" // "hide everything below in this directory"
)

// Overlayfs' own attributes, which never travel in a layer.
const (
	overlayXattrPrefix     = "trusted.overlay."
	overlayUserXattrPrefix = "user.overlay." // with the userxattr mount option
	overlayOpaqueXattr     = "trusted.overlay.opaque"
	overlayUserOpaqueXattr = "user.overlay.opaque"
)

const paxXattr = "SCHILY.xattr."

// cleanName turns a tar entry name into a slash-separated path relative to
// the root, "" meaning the root itself. Leading slashes are dropped and "."
// and ".." resolved lexically; a name that would still leave the root is
// refused.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("name contains a NUL byte: %w", errdefs.ErrInvalidArgument)
	}
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("path escapes the root: %w", errdefs.ErrInvalidArgument)
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// split returns a cleaned name's parent directory ("" for the root) and last
// component.
func split(name string) (dir, base string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// join is path.Join for cleaned names.
func join(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}

// isAUFSMeta reports whether a cleaned name is AUFS bookkeeping
// (.wh..wh.plnk and the like, or anything under such a directory), which
// Docker has always skipped. The opaque marker is not.
func isAUFSMeta(name string) bool {
	for _, c := range strings.Split(name, "/") {
		if strings.HasPrefix(c, whiteoutMetaPrefix) && c != whiteoutOpaque {
			return true
		}
	}
	return strings.Contains(name, whiteoutOpaque+"/")
}

// entryError is the error for one tar entry; name is the entry's raw name.
func entryError(name string, err error) error {
	return fmt.Errorf("archive: entry %q: %w", name, err)
}

// classError gives err a class from errdefs without changing its message.
type classError struct {
	err, class error
}

func (e *classError) Error() string   { return e.err.Error() }
func (e *classError) Unwrap() []error { return []error{e.err, e.class} }

// corrupt marks err as a broken or truncated stream (ErrInvalidArgument).
func corrupt(err error) error {
	return &classError{err: err, class: errdefs.ErrInvalidArgument}
}

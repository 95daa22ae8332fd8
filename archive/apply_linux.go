package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// WhiteoutMode says what Apply does with a layer's whiteout entries.
type WhiteoutMode int

const (
	// WhiteoutsOverlay unpacks the layer into an empty directory that will
	// be an overlayfs lower directory: a whiteout ".wh.name" becomes a 0:0
	// character device "name", and an opaque marker ".wh..wh..opq" becomes
	// the xattr trusted.overlay.opaque=y on its directory.
	WhiteoutsOverlay WhiteoutMode = iota + 1
	// WhiteoutsApply applies the layer on top of a directory that holds the
	// layers below it: ".wh.name" removes "name", and ".wh..wh..opq" removes
	// whatever its directory holds that this layer did not put there.
	WhiteoutsApply
	// WhiteoutsNone treats ".wh." names as ordinary entries: the tar is
	// not a layer but files being copied in (docker cp).
	WhiteoutsNone
)

// ApplyOptions says how Apply unpacks a layer.
type ApplyOptions struct {
	// Whiteouts must be set: there is no safe default.
	Whiteouts WhiteoutMode
	// NoLchown leaves files owned by the caller instead of the uid and gid
	// in the tar (rootless unpacking).
	NoLchown bool
	// Owner, if set, owns everything Apply makes instead of the uid and gid
	// in the tar (docker cp --archive: the container's user).
	Owner *Owner
	// NoOverwriteDirNonDir refuses to replace an existing directory with a
	// non-directory or an existing non-directory with a directory.
	NoOverwriteDirNonDir bool
	// OnSkip, if set, is told of everything Apply leaves out rather than
	// failing: a device node in a user namespace, an xattr the filesystem
	// refuses (ENOTSUP, EPERM).
	OnSkip func(entry string, err error)
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// Apply unpacks the layer tar r, plain or compressed with gzip or zstd, into
// the directory root and returns the number of uncompressed bytes read (the
// whole tar stream, read to its end so that a compressed stream's checksum
// is checked).
//
// Regular files, directories, symlinks, hard links, device nodes and fifos
// are created with their mode (setuid, setgid and sticky bits included),
// owner, modification and access times and the xattrs of PAX
// SCHILY.xattr.* records; directories get their times after their contents.
// A directory an entry needs but the tar lacks is made with mode 0755. An
// existing entry of the same name is replaced, except that a directory
// entry keeps an existing directory (and sets its attributes).
//
// See the package documentation for what Apply refuses. Overlayfs'
// own xattrs (trusted.overlay.*, and user.overlay.* with WhiteoutsOverlay)
// in a layer are dropped, so a layer cannot forge overlay state. In a user
// namespace, where the kernel refuses to make device nodes, character and
// block devices are skipped and reported to OnSkip (as Docker does);
// elsewhere a device that cannot be made is an error. Data is not synced to
// disk.
func Apply(ctx context.Context, root string, r io.Reader, o ApplyOptions) (int64, error) {
	if o.Whiteouts < WhiteoutsOverlay || o.Whiteouts > WhiteoutsNone {
		return 0, fmt.Errorf("archive: whiteout mode %d: %w", o.Whiteouts, errdefs.ErrInvalidArgument)
	}
	rootfd, err := retry(func() (int, error) {
		return unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if err == unix.ENOENT {
			err = errdefs.ErrNotFound
		}
		return 0, fmt.Errorf("archive: root %q: %w", root, err)
	}
	defer unix.Close(rootfd)
	if err := checkOpenat2(rootfd); err != nil {
		return 0, err
	}

	rc, comp, err := Decompress(r)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	a := &applier{
		ctx:      ctx,
		root:     rootfd,
		o:        o,
		seen:     make(map[string]struct{}),
		dirTimes: make(map[string][]unix.Timespec),
		buf:      make([]byte, 1<<20),
		cacheFD:  -1,
		comp:     comp,
		in:       cr,
	}
	defer a.close()
	readErr := func(err error) error {
		return corrupt(fmt.Errorf("archive: reading layer (%v) at byte %d: %w", comp, cr.n, err))
	}

	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// With GODEBUG=tarinsecurepath=0 the reader flags names it deems
		// insecure; Apply has its own policy (cleanName).
		if err != nil && !(err == tar.ErrInsecurePath && hdr != nil) {
			return cr.n, readErr(err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, err
		}
	}
	// The end-of-archive blocks and any padding after them.
	if _, err := io.CopyBuffer(io.Discard, cr, a.buf); err != nil {
		return cr.n, readErr(err)
	}
	return cr.n, a.setDirTimes()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readError is a failure to read an entry's data from the layer (as opposed
// to writing it to disk).
type readError struct{ err error }

func (e readError) Error() string { return "reading layer: " + e.err.Error() }

type applier struct {
	ctx  context.Context
	root int
	o    ApplyOptions
	buf  []byte
	comp Compression
	in   *countingReader

	// seen holds every path this layer has created, with all its
	// ancestors: an opaque directory keeps those, and a whiteout never
	// removes one.
	seen map[string]struct{}
	// dirTimes are set last, when nothing more is created inside.
	dirTimes map[string][]unix.Timespec

	// One cached parent directory descriptor: consecutive entries mostly
	// share a parent. It is forgotten whenever anything is removed, since
	// a removal can change what a path resolves to.
	cacheDir string
	cacheFD  int
	cacheOK  bool
}

func (a *applier) close() {
	if a.cacheFD >= 0 {
		unix.Close(a.cacheFD)
	}
}

// parent returns a descriptor of directory dir (cleaned, "" for the root),
// resolved inside the root, making it and any missing ancestors if create
// is set. The descriptor belongs to the applier: do not close it.
func (a *applier) parent(dir string, create bool) (int, error) {
	if dir == "" {
		return a.root, nil
	}
	if a.cacheOK && a.cacheDir == dir {
		return a.cacheFD, nil
	}
	fd, err := openDirInRoot(a.root, dir)
	if err == unix.ENOENT && create {
		fd, err = a.mkdirAll(dir)
	}
	if err != nil {
		return -1, err
	}
	if a.cacheFD >= 0 {
		unix.Close(a.cacheFD)
	}
	a.cacheDir, a.cacheFD, a.cacheOK = dir, fd, true
	return fd, nil
}

func (a *applier) invalidate() { a.cacheOK = false }

// mkdirAll makes directory dir and its missing ancestors with mode 0755,
// each inside the root, and returns a descriptor the caller closes. A
// dangling symlink on the way is an error, as with tar.
func (a *applier) mkdirAll(dir string) (int, error) {
	pdir, base := split(dir)
	pfd := a.root
	if pdir != "" {
		fd, err := openDirInRoot(a.root, pdir)
		if err == unix.ENOENT {
			fd, err = a.mkdirAll(pdir)
		}
		if err != nil {
			return -1, err
		}
		defer unix.Close(fd)
		pfd = fd
	}
	switch err := unix.Mkdirat(pfd, base, 0o755); err {
	case nil:
		if err := chmodAt(pfd, base, 0o755); err != nil {
			return -1, err
		}
	case unix.EEXIST:
	default:
		return -1, err
	}
	fd, err := openDirInRoot(a.root, dir)
	if err == unix.ENOENT {
		return -1, &classError{err: fmt.Errorf("%s is a dangling symlink: %w", dir, err), class: errdefs.ErrInvalidArgument}
	}
	return fd, err
}

// replace runs mk, which makes a directory if isDir is set and something
// else if not; if the name is taken, it removes what is there (never
// following a symlink) and runs mk again.
func (a *applier) replace(pfd int, base string, isDir bool, mk func() error) error {
	err := mk()
	if err != unix.EEXIST {
		return err
	}
	if a.o.NoOverwriteDirNonDir {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		switch was := st.Mode&unix.S_IFMT == unix.S_IFDIR; {
		case was && !isDir:
			return fmt.Errorf("cannot overwrite directory %q with non-directory: %w", base, errdefs.ErrInvalidArgument)
		case !was && isDir:
			return fmt.Errorf("cannot overwrite non-directory %q with directory: %w", base, errdefs.ErrInvalidArgument)
		}
	}
	if err := removeAllAt(pfd, base); err != nil {
		return fmt.Errorf("removing the existing entry: %w", err)
	}
	a.invalidate()
	return mk()
}

func (a *applier) markSeen(name string) {
	for p := name; p != ""; p, _ = split(p) {
		if _, ok := a.seen[p]; ok {
			return
		}
		a.seen[p] = struct{}{}
	}
}

func (a *applier) skip(entry string, err error) {
	if a.o.OnSkip != nil {
		a.o.OnSkip(entry, err)
	}
}

// entry unpacks one tar entry.
func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return entryError(hdr.Name, err)
	}
	layer := a.o.Whiteouts != WhiteoutsNone
	if hdr.Typeflag == tar.TypeXGlobalHeader || (layer && isAUFSMeta(name)) {
		return nil
	}
	dir, base := split(name)
	if layer && strings.HasPrefix(base, whiteoutPrefix) {
		err = a.whiteout(hdr, dir, base)
	} else {
		if name == "" && hdr.Typeflag != tar.TypeDir {
			return entryError(hdr.Name, fmt.Errorf("only a directory can be the root: %w", errdefs.ErrInvalidArgument))
		}
		a.markSeen(name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = a.dir(hdr, name, dir, base)
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			err = a.file(hdr, dir, base, r)
		case tar.TypeSymlink:
			err = a.symlink(hdr, dir, base)
		case tar.TypeLink:
			err = a.hardlink(hdr, name, dir, base)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			err = a.node(hdr, dir, base)
		default:
			err = fmt.Errorf("unsupported entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalidArgument)
		}
	}
	if err == nil {
		return nil
	}
	if re, ok := err.(readError); ok {
		return corrupt(entryError(hdr.Name, fmt.Errorf("reading layer (%v) at byte %d: %w", a.comp, a.in.n, re.err)))
	}
	return entryError(hdr.Name, err)
}

func (a *applier) dir(hdr *tar.Header, name, dir, base string) error {
	pfd, b := a.root, "."
	if name != "" {
		var err error
		if pfd, err = a.parent(dir, true); err != nil {
			return fmt.Errorf("parent directory: %w", err)
		}
		b = base
		err = unix.Mkdirat(pfd, b, 0o700)
		if err == unix.EEXIST {
			var st unix.Stat_t
			if err = unix.Fstatat(pfd, b, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				err = a.replace(pfd, b, true, func() error { return unix.Mkdirat(pfd, b, 0o700) })
			}
		}
		if err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	fd, err := openChildDir(pfd, b)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := a.fdAttrs(hdr, fd); err != nil {
		return err
	}
	a.dirTimes[name] = tarTimes(hdr)
	return nil
}

func (a *applier) file(hdr *tar.Header, dir, base string, r io.Reader) error {
	pfd, err := a.parent(dir, true)
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	fd := -1
	err = a.replace(pfd, base, false, func() (err error) {
		fd, err = retry(func() (int, error) {
			return unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	if err := a.copyData(fd, r); err != nil {
		return err
	}
	// Writing drops security.capability and chown drops setuid, setgid and
	// security.capability: data, then owner, then mode, then xattrs.
	if err := a.fdAttrs(hdr, fd); err != nil {
		return err
	}
	err = unix.Close(fd)
	fd = -1
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return a.setTimes(pfd, base, hdr)
}

func (a *applier) copyData(fd int, r io.Reader) error {
	for {
		n, err := r.Read(a.buf)
		for b := a.buf[:n]; len(b) > 0; {
			m, werr := unix.Write(fd, b)
			if werr == unix.EINTR {
				continue
			}
			if werr != nil {
				return fmt.Errorf("write: %w", werr)
			}
			b = b[m:]
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError{err}
		}
		if err := a.ctx.Err(); err != nil {
			return err
		}
	}
}

func (a *applier) symlink(hdr *tar.Header, dir, base string) error {
	pfd, err := a.parent(dir, true)
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	if err := a.replace(pfd, base, false, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) }); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	return a.atAttrs(hdr, pfd, base, false)
}

func (a *applier) hardlink(hdr *tar.Header, name, dir, base string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("link target %q: %w", hdr.Linkname, err)
	}
	if target == "" {
		return fmt.Errorf("link target %q is a directory: %w", hdr.Linkname, errdefs.ErrInvalidArgument)
	}
	if target == name {
		return nil // a link to itself
	}
	tdir, tbase := split(target)
	tfd, err := openDirInRoot(a.root, tdir)
	if err != nil {
		return fmt.Errorf("link target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstatat(tfd, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("link target %q: %w", hdr.Linkname, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("link target %q is a directory: %w", hdr.Linkname, errdefs.ErrInvalidArgument)
	}
	pfd, err := a.parent(dir, true)
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	// Flags 0: a symlink target is linked itself, not followed.
	if err := a.replace(pfd, base, false, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) }); err != nil {
		return fmt.Errorf("link to %q: %w", hdr.Linkname, err)
	}
	return nil
}

func (a *applier) node(hdr *tar.Header, dir, base string) error {
	pfd, err := a.parent(dir, true)
	if err != nil {
		return fmt.Errorf("parent directory: %w", err)
	}
	typ := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	err = a.replace(pfd, base, false, func() error { return unix.Mknodat(pfd, base, typ|0o600, dev) })
	if err == unix.EPERM && typ != unix.S_IFIFO && inUserNS() {
		a.skip(hdr.Name, fmt.Errorf("device node not created in a user namespace: %w", err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return a.atAttrs(hdr, pfd, base, true)
}

// fdAttrs sets owner, mode and xattrs through a descriptor of a file or
// directory, in that order.
func (a *applier) fdAttrs(hdr *tar.Header, fd int) error {
	if err := a.chown(hdr, func(uid, gid int) error { return unix.Fchown(fd, uid, gid) }); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return a.xattrs(hdr, func(attr string, val []byte) error { return unix.Fsetxattr(fd, attr, val, 0) })
}

// atAttrs sets owner, mode (if chmod), xattrs and times of a symlink or
// node base in directory pfd, never following it.
func (a *applier) atAttrs(hdr *tar.Header, pfd int, base string, chmod bool) error {
	if err := a.chown(hdr, func(uid, gid int) error {
		return unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil {
		return err
	}
	if chmod {
		if err := chmodAt(pfd, base, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := a.xattrs(hdr, func(attr string, val []byte) error { return lsetxattrAt(pfd, base, attr, val) }); err != nil {
		return err
	}
	return a.setTimes(pfd, base, hdr)
}

func (a *applier) chown(hdr *tar.Header, chown func(uid, gid int) error) error {
	if a.o.NoLchown {
		return nil
	}
	uid, gid := hdr.Uid, hdr.Gid
	if a.o.Owner != nil {
		uid, gid = a.o.Owner.UID, a.o.Owner.GID
	}
	if err := chown(uid, gid); err != nil {
		return fmt.Errorf("chown %d:%d: %w", uid, gid, err)
	}
	return nil
}

// xattrs sets the entry's SCHILY.xattr.* records with set, in name order,
// skipping overlayfs' own.
func (a *applier) xattrs(hdr *tar.Header, set func(attr string, val []byte) error) error {
	var names []string
	for k := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, paxXattr); ok && !a.dropXattr(attr) {
			names = append(names, attr)
		}
	}
	slices.Sort(names)
	for _, attr := range names {
		err := set(attr, []byte(hdr.PAXRecords[paxXattr+attr]))
		if err == unix.ENOTSUP || err == unix.EPERM {
			a.skip(hdr.Name, fmt.Errorf("xattr %s: %w", attr, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("xattr %s: %w", attr, err)
		}
	}
	return nil
}

func (a *applier) dropXattr(attr string) bool {
	return strings.HasPrefix(attr, overlayXattrPrefix) ||
		(a.o.Whiteouts == WhiteoutsOverlay && strings.HasPrefix(attr, overlayUserXattrPrefix))
}

func (a *applier) setTimes(pfd int, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(pfd, base, tarTimes(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// setDirTimes gives the layer's directories their times, now that nothing
// more is created in them.
func (a *applier) setDirTimes() error {
	names := make([]string, 0, len(a.dirTimes))
	for n := range a.dirTimes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		dir, base := split(name)
		pfd, b := a.root, "."
		if name != "" {
			var err error
			pfd, err = a.parent(dir, false)
			if isErrno(err, unix.ENOENT, unix.ENOTDIR) {
				continue // removed by a later entry
			}
			if err != nil {
				return entryError(name, fmt.Errorf("parent directory: %w", err))
			}
			b = base
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, b, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // replaced by a later entry
		}
		if err := unix.UtimesNanoAt(pfd, b, a.dirTimes[name], unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return entryError(name, fmt.Errorf("utimes: %w", err))
		}
	}
	return nil
}

// tarTimes is the entry's access and modification times; an entry without
// an access time gets its modification time.
func tarTimes(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: at.Unix(), Nsec: int64(at.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

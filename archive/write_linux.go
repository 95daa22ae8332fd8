package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// WriteOptions says how WriteTar writes a directory.
type WriteOptions struct {
	// Compression of the output stream.
	Compression Compression
	// OverlayWhiteouts converts an overlayfs upper directory's whiteouts
	// to OCI ones, for committing the upper directory as a layer: a 0:0
	// character device "name" becomes an empty file ".wh.name", and a
	// directory with trusted.overlay.opaque=y (or user.overlay.opaque=y)
	// gets a ".wh..wh..opq" entry.
	OverlayWhiteouts bool
	// Include, if set, is asked about every path below the root
	// ("a/b", slash-separated, no leading "./"); false leaves the path out,
	// and for a directory everything below it too.
	Include func(path string) bool
	// SkipPseudoFS writes a directory on which proc, sysfs, cgroup or
	// another kernel pseudo file system is mounted, but not what is below
	// it (a running container's /proc and /sys).
	SkipPseudoFS bool
}

// WriteTar writes the tree below root (not root itself) to w as a tar,
// deterministically: the same tree gives the same bytes. Entries come in
// lexical order, each directory before its contents; files that share an
// inode are written once and then as hard links; owners are numeric (no
// user or group names); modification times are whole seconds, and access
// and change times are left out; xattrs are PAX SCHILY.xattr.* records,
// except security.selinux (a host's label) and overlayfs' trusted.overlay.*.
// Sockets are skipped.
//
// WriteTar opens every file through its parent's descriptor without
// following symlinks, so a tree that changes while it is read (a running
// container's upper directory) cannot make it read outside root.
func WriteTar(ctx context.Context, w io.Writer, root string, o WriteOptions) error {
	rootfd, err := retry(func() (int, error) {
		return unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if err == unix.ENOENT {
			err = errdefs.ErrNotFound
		}
		return fmt.Errorf("archive: root %q: %w", root, err)
	}
	defer unix.Close(rootfd)
	var st unix.Stat_t
	if err := unix.Fstat(rootfd, &st); err != nil {
		return fmt.Errorf("archive: root %q: %w", root, err)
	}
	return writeTarWith(ctx, w, o, func(t *tarWriter) error { return t.dir(rootfd, "", &st) })
}

// WriteEntry writes the entry base of directory parent (not following it
// if it is a symlink) to w as a tar whose first entry is named name, and,
// if it is a directory, everything below it as name/...; name "." gives
// "./" and "./x", and "/" gives "//" and "//x" (as Docker's daemon names
// a container's root, which docker cp expects). This is docker cp's archive of one path, under the name
// the client asked for. WriteEntry makes the same entries as WriteTar and
// reads as safely.
func WriteEntry(ctx context.Context, w io.Writer, parent int, base, name string, o WriteOptions) error {
	if name != "/" { // "/" stays, as Docker names a container's root
		name = strings.TrimRight(name, "/")
	}
	if name == "" {
		return fmt.Errorf("archive: empty entry name: %w", errdefs.ErrInvalidArgument)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			err = errdefs.ErrNotFound
		}
		return fmt.Errorf("archive: %q: %w", base, err)
	}
	return writeTarWith(ctx, w, o, func(t *tarWriter) error { return t.child(parent, base, name) })
}

// writeTarWith runs write with a tar writer on w (compressed as o says) and
// ends the tar and the compression.
func writeTarWith(ctx context.Context, w io.Writer, o WriteOptions, write func(*tarWriter) error) error {
	cw, err := compressor(w, o.Compression)
	if err != nil {
		return err
	}
	t := &tarWriter{
		ctx:   ctx,
		o:     o,
		tw:    tar.NewWriter(cw),
		links: make(map[inode]string),
		buf:   make([]byte, 1<<20),
	}
	err = write(t)
	if err == nil {
		err = t.tw.Close()
	}
	if cerr := cw.Close(); err == nil {
		err = cerr
	}
	return err
}

// pseudoFS reports whether fd is on a kernel pseudo file system whose
// contents are not files to copy.
func pseudoFS(fd int) bool {
	var s unix.Statfs_t
	if unix.Fstatfs(fd, &s) != nil {
		return false
	}
	switch uint32(s.Type) {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEVPTS_SUPER_MAGIC, unix.SECURITYFS_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC,
		unix.BPF_FS_MAGIC, unix.PSTOREFS_MAGIC, unix.EFIVARFS_MAGIC, unix.BINFMTFS_MAGIC,
		unix.SELINUX_MAGIC, unix.NSFS_MAGIC, 0x19800202 /* mqueue */, 0x62656570 /* configfs */, 0x65735543 /* fusectl */ :
		return true
	}
	return false
}

type inode struct{ dev, ino uint64 }

type tarWriter struct {
	ctx   context.Context
	o     WriteOptions
	tw    *tar.Writer
	links map[inode]string // first path written for each multiply linked inode
	buf   []byte
}

func (t *tarWriter) fail(path string, err error) error {
	return fmt.Errorf("archive: %q: %w", path, err)
}

// header is the part of a tar header every entry shares.
func header(name string, st *unix.Stat_t) *tar.Header {
	return &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
}

// dir writes directory fd (path rel, "" for the root) and what is below it.
func (t *tarWriter) dir(fd int, rel string, st *unix.Stat_t) error {
	x, err := xattrs(
		func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(n string, b []byte) (int, error) { return unix.Fgetxattr(fd, n, b) })
	if err != nil {
		return t.fail(rel, err)
	}
	opaque := t.o.OverlayWhiteouts &&
		(string(x[overlayOpaqueXattr]) == "y" || string(x[overlayUserOpaqueXattr]) == "y")
	if rel != "" {
		hdr := header(rel+"/", st)
		hdr.Typeflag = tar.TypeDir
		t.addXattrs(hdr, x)
		if err := t.tw.WriteHeader(hdr); err != nil {
			return t.fail(rel, err)
		}
	}
	if opaque {
		hdr := header(join(rel, whiteoutOpaque), st)
		hdr.Typeflag = tar.TypeReg
		hdr.Mode &= 0o777
		if err := t.tw.WriteHeader(hdr); err != nil {
			return t.fail(rel, err)
		}
	}

	if t.o.SkipPseudoFS && pseudoFS(fd) {
		return nil
	}
	names, err := readDirNames(fd)
	if err != nil {
		return t.fail(rel, err)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		p := join(rel, n)
		if t.o.Include != nil && !t.o.Include(p) {
			continue
		}
		if err := t.child(fd, n, p); err != nil {
			return err
		}
	}
	return nil
}

// child writes entry n of directory fd, whose path is p.
func (t *tarWriter) child(fd int, n, p string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // removed while we walked
		}
		return t.fail(p, err)
	}
	typ := st.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFDIR:
		cfd, err := openChildDir(fd, n)
		if err != nil {
			return t.fail(p, err)
		}
		defer unix.Close(cfd)
		if err := unix.Fstat(cfd, &st); err != nil {
			return t.fail(p, err)
		}
		return t.dir(cfd, p, &st)
	case unix.S_IFREG:
		return t.file(fd, n, p)
	case unix.S_IFSOCK:
		return nil
	}

	if typ == unix.S_IFCHR && st.Rdev == 0 && t.o.OverlayWhiteouts {
		// Overlayfs may share one whiteout inode between many names, so
		// whiteouts never take part in hard link detection.
		dir, base := split(p)
		hdr := header(join(dir, whiteoutPrefix+base), &st)
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0o600
		return t.write(p, hdr)
	}
	hdr := header(p, &st)
	if t.link(hdr, &st) {
		return t.write(p, hdr)
	}
	switch typ {
	case unix.S_IFLNK:
		target, err := readlinkAt(fd, n)
		if err != nil {
			return t.fail(p, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return t.fail(p, fmt.Errorf("unknown file type %#o: %w", typ, errdefs.ErrNotImplemented))
	}
	fp := fdPath(fd, n)
	x, err := xattrs(
		func(b []byte) (int, error) { return unix.Llistxattr(fp, b) },
		func(name string, b []byte) (int, error) { return unix.Lgetxattr(fp, name, b) })
	if err != nil {
		return t.fail(p, err)
	}
	t.addXattrs(hdr, x)
	return t.write(p, hdr)
}

// link turns hdr into a hard link if st's inode was written before, and
// otherwise remembers it.
func (t *tarWriter) link(hdr *tar.Header, st *unix.Stat_t) bool {
	if st.Nlink <= 1 {
		return false
	}
	key := inode{uint64(st.Dev), st.Ino}
	if first, ok := t.links[key]; ok {
		hdr.Typeflag = tar.TypeLink
		hdr.Linkname = first
		return true
	}
	t.links[key] = hdr.Name
	return false
}

func (t *tarWriter) write(p string, hdr *tar.Header) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return t.fail(p, err)
	}
	return nil
}

func (t *tarWriter) file(dirfd int, n, p string) error {
	// O_NONBLOCK: if the file became a fifo since fstatat, do not hang.
	fd, err := retry(func() (int, error) {
		return unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return t.fail(p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return t.fail(p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return t.fail(p, fmt.Errorf("changed type while being read: %w", errdefs.ErrConflict))
	}
	hdr := header(p, &st)
	if t.link(hdr, &st) {
		return t.write(p, hdr)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = st.Size
	x, err := xattrs(
		func(b []byte) (int, error) { return unix.Flistxattr(fd, b) },
		func(name string, b []byte) (int, error) { return unix.Fgetxattr(fd, name, b) })
	if err != nil {
		return t.fail(p, err)
	}
	t.addXattrs(hdr, x)
	if err := t.write(p, hdr); err != nil {
		return err
	}
	m, err := io.CopyBuffer(t.tw, io.LimitReader(fdReader(fd), st.Size), t.buf)
	if err != nil {
		return t.fail(p, err)
	}
	if m != st.Size {
		return t.fail(p, fmt.Errorf("shrank from %d to %d bytes while being read: %w", st.Size, m, errdefs.ErrConflict))
	}
	return nil
}

// addXattrs records x in hdr, leaving out what must not travel in a layer.
func (t *tarWriter) addXattrs(hdr *tar.Header, x map[string][]byte) {
	for name, val := range x {
		if strings.HasPrefix(name, overlayXattrPrefix) || name == "security.selinux" ||
			(t.o.OverlayWhiteouts && strings.HasPrefix(name, overlayUserXattrPrefix)) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords[paxXattr+name] = string(val)
	}
}

type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		b := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, b)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(b[:n]), nil
		}
	}
}

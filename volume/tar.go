package volume

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// References that Export and Import hold while they work, so that the
// volume's file system is mounted and Remove waits for them.
const (
	refExport = "(export)"
	refImport = "(import)"
)

// Export writes the volume's content to w as a tar: the root directory
// first ("./", with its owner, mode, times and xattrs), then everything
// below it as [archive.WriteTar] writes it (numeric owners, modes, whole
// second modification times, PAX xattrs, symlinks, hard links, device
// nodes, fifos and empty directories; sockets are left out). The same
// content gives the same bytes. A volume with a file system of its own is
// mounted while it is read.
func (s *Store) Export(name string, w io.Writer) error {
	root, err := s.Mount(name, refExport)
	if err != nil {
		return err
	}
	defer s.Unmount(name, refExport)
	if err := writeTree(w, root); err != nil {
		return fmt.Errorf("export %s: %w", name, err)
	}
	return nil
}

// writeTree writes root and the tree below it as one tar.
func writeTree(w io.Writer, root string) error {
	hdr, err := rootHeader(root)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// Not closed: archive.WriteTar goes on with the entries and writes the
	// end of the archive.
	if err := tw.Flush(); err != nil {
		return err
	}
	return archive.WriteTar(context.Background(), w, root, archive.WriteOptions{})
}

// rootHeader is the tar entry of the volume's root directory, made as
// archive.WriteTar makes a directory's.
func rootHeader(root string) (*tar.Header, error) {
	var st unix.Stat_t
	if err := unix.Lstat(root, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: root, Err: err}
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeDir,
		Name:     "./",
		Mode:     int64(st.Mode & 0o7777),
		Uid:      int(st.Uid),
		Gid:      int(st.Gid),
		ModTime:  time.Unix(st.Mtim.Sec, 0),
		Format:   tar.FormatPAX,
	}
	attrs, err := listXattrs(root)
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		if a == "security.selinux" || strings.HasPrefix(a, "trusted.overlay.") {
			continue
		}
		val, err := getXattr(root, a)
		if err != nil {
			return nil, err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+a] = string(val)
	}
	return hdr, nil
}

func listXattrs(p string) ([]string, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Llistxattr(p, buf)
		switch {
		case err == unix.ERANGE:
			sz, err := unix.Llistxattr(p, nil)
			if err != nil {
				return nil, &fs.PathError{Op: "llistxattr", Path: p, Err: err}
			}
			buf = make([]byte, sz+1024)
			continue
		case err == unix.ENOTSUP:
			return nil, nil
		case err != nil:
			return nil, &fs.PathError{Op: "llistxattr", Path: p, Err: err}
		}
		var names []string
		for _, a := range strings.Split(string(buf[:n]), "\x00") {
			if a != "" {
				names = append(names, a)
			}
		}
		return names, nil
	}
}

func getXattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, attr, buf)
		if err == unix.ERANGE {
			sz, err := unix.Lgetxattr(p, attr, nil)
			if err != nil {
				return nil, &fs.PathError{Op: "lgetxattr " + attr, Path: p, Err: err}
			}
			buf = make([]byte, sz+256)
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lgetxattr " + attr, Path: p, Err: err}
		}
		return buf[:n], nil
	}
}

// Import unpacks the tar r (plain, gzip or zstd) into the volume, which
// must exist and be empty (ErrConflict otherwise). A tar entry for the
// root ("./") gives the volume's directory its owner, mode and times.
// Hostile tars are refused (ErrInvalidArgument, naming the entry; see the
// package documentation); a failed import leaves the volume empty again.
// A volume with a file system of its own is mounted meanwhile: content
// imported into a tmpfs that no container uses is gone when Import returns.
func (s *Store) Import(name string, r io.Reader) error {
	s.mu.Lock()
	_, ok := s.vols[name]
	switch {
	case !ok:
		s.mu.Unlock()
		return notFound("import", name)
	case s.importing[name]:
		s.mu.Unlock()
		return fmt.Errorf("import %s: another import into the volume is under way: %w", name, errdefs.ErrConflict)
	}
	s.importing[name] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.importing, name)
		s.mu.Unlock()
	}()

	root, err := s.Mount(name, refImport)
	if err != nil {
		return err
	}
	defer s.Unmount(name, refImport)
	empty, err := isEmptyDir(root)
	if err != nil {
		return fmt.Errorf("import %s: %w", name, err)
	}
	if !empty {
		return fmt.Errorf("import %s: the volume is not empty: import into a new volume: %w", name, errdefs.ErrConflict)
	}
	var before unix.Stat_t
	if err := unix.Lstat(root, &before); err != nil {
		return fmt.Errorf("import %s: %w", name, err)
	}
	if err := importTar(root, r); err != nil {
		if cerr := emptyDir(root, &before); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		return fmt.Errorf("import %s: %w", name, err)
	}
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return len(names) == 0, err
}

// emptyDir removes everything in dir (never following a symlink) and gives
// dir back the owner and mode it had.
func emptyDir(dir string, st *unix.Stat_t) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, n)))
	}
	errs = append(errs, os.Lchown(dir, int(st.Uid), int(st.Gid)))
	// After the chown, which clears setuid and setgid.
	if err := unix.Chmod(dir, st.Mode&0o7777); err != nil {
		errs = append(errs, &fs.PathError{Op: "chmod", Path: dir, Err: err})
	}
	return errors.Join(errs...)
}

// importTar checks the tar r entry by entry (checkEntries) on its way to
// archive.Apply, which unpacks it into root.
func importTar(root string, r io.Reader) error {
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	checked := make(chan error, 1)
	go func() {
		err := checkEntries(rc, pw)
		pw.CloseWithError(err) // nil: io.EOF
		checked <- err
	}()
	_, err = archive.Apply(context.Background(), root, pr, archive.ApplyOptions{Whiteouts: archive.WhiteoutsApply})
	pr.CloseWithError(errUnpackStopped)
	// The checker's refusal is what made Apply fail, if it did, and says
	// so more clearly.
	if cerr := <-checked; cerr != nil && cerr != errUnpackStopped && (err == nil || errors.Is(err, cerr)) {
		return cerr
	}
	return err
}

var errUnpackStopped = errors.New("unpacking stopped")

// errWriter remembers the first error of w.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// checkEntries copies the tar r to w entry by entry, refusing an entry that
// tries to leave the root. archive.Apply would keep such an entry inside
// the root anyway (a leading "/" dropped, symlinks resolved as if the root
// were "/"); a volume's import refuses it instead, as no tar that Export
// writes has one.
func checkEntries(r io.Reader, w io.Writer) error {
	tr := tar.NewReader(r)
	ew := &errWriter{w: w}
	tw := tar.NewWriter(ew)
	symlinks := map[string]bool{} // cleaned names of the tar's symlinks
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return fmt.Errorf("reading the tar: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := checkEntry(hdr, symlinks)
		if err != nil {
			return fmt.Errorf("entry %q: %w: %w", hdr.Name, err, errdefs.ErrInvalidArgument)
		}
		delete(symlinks, name)
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			symlinks[name] = true
		case tar.TypeGNUSparse:
			hdr.Typeflag = tar.TypeReg // tar.Reader has filled the holes
		}
		hdr.Format = tar.FormatPAX // can say whatever the input said
		if err := tw.WriteHeader(hdr); err != nil {
			if ew.err != nil {
				return ew.err
			}
			return fmt.Errorf("entry %q: %w: %w", hdr.Name, err, errdefs.ErrInvalidArgument)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			if ew.err != nil {
				return ew.err
			}
			return fmt.Errorf("entry %q: reading the tar: %w: %w", hdr.Name, err, errdefs.ErrInvalidArgument)
		}
	}
	return tw.Close()
}

// checkEntry checks one entry and returns its name, cleaned ("" for the
// root).
func checkEntry(hdr *tar.Header, symlinks map[string]bool) (string, error) {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return "", err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return "", fmt.Errorf("entry type %q is not supported", hdr.Typeflag)
	}
	if name == "" {
		if hdr.Typeflag != tar.TypeDir {
			return "", errors.New("only a directory can be the root")
		}
		return "", nil
	}
	if strings.HasPrefix(path.Base(name), ".wh.") {
		return "", errors.New(`names starting with ".wh." are layer whiteouts, not volume content`)
	}
	if p := underSymlink(name, symlinks); p != "" {
		return "", fmt.Errorf("path goes through symlink %q", p)
	}
	switch hdr.Typeflag {
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return "", fmt.Errorf("link target %q: %w", hdr.Linkname, err)
		}
		if target == "" {
			return "", fmt.Errorf("link target %q is the root", hdr.Linkname)
		}
		if p := underSymlink(target, symlinks); p != "" {
			return "", fmt.Errorf("link target %q goes through symlink %q", hdr.Linkname, p)
		}
	case tar.TypeSymlink:
		// An absolute target is resolved in the container's root at run
		// time; a relative one must not climb out of the volume (Docker's
		// rule for the tars it unpacks).
		if t := hdr.Linkname; !path.IsAbs(t) {
			if p := path.Join(path.Dir(name), t); p == ".." || strings.HasPrefix(p, "../") {
				return "", fmt.Errorf("symlink target %q leaves the volume", t)
			}
		}
	}
	return name, nil
}

// cleanName is a tar entry's name relative to the root, "" for the root
// itself; absolute names and names that leave the root are refused.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.IndexByte(name, 0) >= 0:
		return "", errors.New("name contains a NUL byte")
	case strings.HasPrefix(name, "/"):
		return "", errors.New("absolute path")
	}
	p := path.Clean(name)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errors.New("path leaves the volume")
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// underSymlink returns the first parent directory of name that is a
// symlink of the tar, or "".
func underSymlink(name string, symlinks map[string]bool) string {
	if len(symlinks) == 0 {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && symlinks[name[:i]] {
			return name[:i]
		}
	}
	return ""
}

// Usage returns the bytes of the volume's content as Docker counts them for
// "system df": the sizes of everything but directories, each hard linked
// file once. A volume with a file system of its own counts only while it is
// mounted.
func (s *Store) Usage(name string) (int64, error) {
	s.mu.Lock()
	v, ok := s.vols[name]
	s.mu.Unlock()
	if !ok {
		return 0, notFound("usage", name)
	}
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var size int64
	err := filepath.WalkDir(v.Mountpoint, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := inode{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		size += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("usage %s: %w", name, err)
	}
	return size, nil
}

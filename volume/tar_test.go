package volume

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func exportBytes(t *testing.T, s *Store, name string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Export(name, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarNames lists a tar's entry names, space-separated.
func tarNames(t *testing.T, b []byte) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return strings.Join(names, " ")
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// buildTree fills root with one of everything a volume can hold.
func buildTree(t *testing.T, root string) {
	p := func(n string) string { return filepath.Join(root, n) }
	big := make([]byte, 3<<20+17)
	rand.Read(big)
	must(t, os.WriteFile(p("f"), []byte("hello"), 0o644))
	must(t, os.Chmod(p("f"), 0o640))
	must(t, os.Lchown(p("f"), 1001, 1002))
	must(t, unix.Lsetxattr(p("f"), "user.x", []byte("value of x"), 0))
	must(t, os.WriteFile(p("big"), big, 0o600))
	must(t, os.WriteFile(p("suid"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Chmod(p("suid"), 0o4755|os.ModeSetuid))
	must(t, os.MkdirAll(p("d/empty"), 0o755))
	must(t, os.Chmod(p("d"), 0o700))
	must(t, os.Lchown(p("d"), 5, 6))
	must(t, os.Mkdir(p("sticky"), 0o777))
	must(t, os.Chmod(p("sticky"), 0o777|os.ModeSticky))
	must(t, os.Symlink("../f", p("d/link")))
	must(t, os.Symlink("/etc/passwd", p("abs")))
	must(t, os.Lchown(p("abs"), 7, 8))
	must(t, os.Link(p("f"), p("d/hard")))
	must(t, unix.Mkfifo(p("fifo"), 0o600))
	must(t, unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Chmod(p("null"), 0o666))
	must(t, unix.Lsetxattr(root, "user.root", []byte("r"), 0))
	must(t, os.Chmod(root, 0o750))
	must(t, os.Lchown(root, 999, 999))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range []string{"f", "big", "d/empty", "d", "fifo", ""} {
		must(t, os.Chtimes(p(n), old, old))
	}
	must(t, unix.Lutimes(p("abs"), []unix.Timeval{{Sec: old.Unix()}, {Sec: old.Unix()}}))
}

func TestExportImportRoundTrip(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	a := mustCreate(t, s, CreateRequest{Name: "va"})
	buildTree(t, a.Mountpoint)
	exported := exportBytes(t, s, "va")
	if names := tarNames(t, exported); names != "./ abs big d/ d/empty/ d/hard d/link f fifo null sticky/ suid" {
		t.Errorf("entries: %s", names)
	}

	b := mustCreate(t, s, CreateRequest{Name: "vb"})
	if err := s.Import("vb", bytes.NewReader(exported)); err != nil {
		t.Fatal(err)
	}
	again := exportBytes(t, s, "vb")
	if !bytes.Equal(exported, again) {
		t.Errorf("export of the import differs: %d bytes, then %d\nfirst:  %s\nsecond: %s", len(exported), len(again), tarNames(t, exported), tarNames(t, again))
	}

	// And on disk, to be sure the tar says what is there.
	p := func(n string) string { return filepath.Join(b.Mountpoint, n) }
	stat := func(n string) *unix.Stat_t {
		var st unix.Stat_t
		must(t, unix.Lstat(p(n), &st))
		return &st
	}
	if st := stat(""); st.Uid != 999 || st.Gid != 999 || st.Mode&0o7777 != 0o750 {
		t.Errorf("root: %d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	if st := stat("f"); st.Uid != 1001 || st.Gid != 1002 || st.Mode&0o7777 != 0o640 || st.Mtim.Sec != time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).Unix() {
		t.Errorf("f: %d:%d %o %d", st.Uid, st.Gid, st.Mode, st.Mtim.Sec)
	}
	if st := stat("suid"); st.Mode&0o7777 != 0o4755 {
		t.Errorf("suid: %o", st.Mode)
	}
	if st := stat("sticky"); st.Mode&0o7777 != 0o1777 {
		t.Errorf("sticky: %o", st.Mode)
	}
	if st := stat("d"); st.Uid != 5 || st.Gid != 6 || st.Mode&0o7777 != 0o700 {
		t.Errorf("d: %d:%d %o", st.Uid, st.Gid, st.Mode)
	}
	if f, h := stat("f"), stat("d/hard"); f.Ino != h.Ino {
		t.Error("hard link not kept")
	}
	if st := stat("abs"); st.Uid != 7 || st.Gid != 8 {
		t.Errorf("symlink owner %d:%d", st.Uid, st.Gid)
	}
	if l, _ := os.Readlink(p("d/link")); l != "../f" {
		t.Errorf("symlink target %q", l)
	}
	if st := stat("fifo"); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: %o", st.Mode)
	}
	if st := stat("null"); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("device: %o %d", st.Mode, st.Rdev)
	}
	val := make([]byte, 64)
	if n, err := unix.Lgetxattr(p("f"), "user.x", val); err != nil || string(val[:n]) != "value of x" {
		t.Errorf("xattr user.x: %q, %v", val[:max(n, 0)], err)
	}
	if n, err := unix.Lgetxattr(b.Mountpoint, "user.root", val); err != nil || string(val[:n]) != "r" {
		t.Errorf("root xattr: %v", err)
	}
	if fi, err := os.Stat(p("d/empty")); err != nil || !fi.IsDir() {
		t.Errorf("empty dir: %v", err)
	}
	if bigA, _ := os.ReadFile(filepath.Join(a.Mountpoint, "big")); !bytes.Equal(bigA, mustRead(t, p("big"))) {
		t.Error("big file differs")
	}

	// Into a volume that is not empty: refused, nothing changed.
	err := s.Import("va", bytes.NewReader(exported))
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "import va: the volume is not empty") {
		t.Errorf("import into a full volume: %v", err)
	}
	if err := s.Import("nosuch", bytes.NewReader(exported)); !errdefs.IsNotFound(err) {
		t.Errorf("import into a missing volume: %v", err)
	}
	if err := s.Export("nosuch", io.Discard); !errdefs.IsNotFound(err) {
		t.Errorf("export of a missing volume: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

func TestImportCompressed(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, CreateRequest{Name: "vol"})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(mkTar(t, reg("dir/file", "zipped")))
	zw.Close()
	if err := s.Import("vol", &buf); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Get("vol")
	if b, _ := os.ReadFile(filepath.Join(v.Mountpoint, "dir/file")); string(b) != "zipped" {
		t.Errorf("content %q", b)
	}
}

// Importing into a tmpfs volume in use lands in the tmpfs.
func TestImportTmpfs(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	mustCreate(t, s, CreateRequest{Name: "vt", Options: map[string]string{"type": "tmpfs"}})
	p, err := s.Mount("vt", "c1")
	must(t, err)
	must(t, s.Import("vt", bytes.NewReader(mkTar(t, reg("x", "in tmpfs")))))
	if mountCount(t, p) != 1 {
		t.Fatal("import changed the mount")
	}
	if b, _ := os.ReadFile(filepath.Join(p, "x")); string(b) != "in tmpfs" {
		t.Errorf("content %q", b)
	}
	must(t, s.Unmount("vt", "c1"))
}

type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body}
}
func dirEntry(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}
func symlinkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target}}
}
func linkEntry(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func mkTar(t *testing.T, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		hdr := e.hdr
		must(t, tw.WriteHeader(&hdr))
		_, err := io.WriteString(tw, e.body)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

// TestImportHostile: every tar that tries to leave the volume is refused
// with an error naming the entry; nothing is written outside, and the
// volume is empty again.
func TestImportHostile(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "canary"), []byte("safe"), 0o644))
	s, err := Open(filepath.Join(base, "volumes"))
	must(t, err)
	t.Cleanup(func() { unmountAllBelow(t, base) })
	mustCreate(t, s, CreateRequest{Name: "vol"})
	root := filepath.Join(s.Dir(), "vol", "_data")

	cases := []struct {
		name    string
		entries []entry
		entry   string // named in the error
		why     string
	}{
		{"dotdot", []entry{reg("../evil", "x")}, "../evil", "path leaves the volume"},
		{"dotdot in the middle", []entry{reg("ok", "x"), reg("a/../../evil", "x")}, "a/../../evil", "path leaves the volume"},
		{"deep dotdot", []entry{reg("a/b/../../../outside/canary", "pwned")}, "a/b/../../../outside/canary", "path leaves the volume"},
		{"absolute", []entry{reg("/etc/evil", "x")}, "/etc/evil", "absolute path"},
		{"absolute dotdot", []entry{reg("/../evil", "x")}, "/../evil", "absolute path"},
		{"absolute root", []entry{dirEntry("/")}, "/", "absolute path"},
		{"symlink climbing out", []entry{symlinkEntry("s", "../../outside")}, "s", `symlink target "../../outside" leaves the volume`},
		{"symlink climbing out from below", []entry{dirEntry("a/"), symlinkEntry("a/s", "../../x")}, "a/s", "leaves the volume"},
		{"through a symlink to /", []entry{symlinkEntry("s", "/"), reg("s/etc/evil", "x")}, "s/etc/evil", `path goes through symlink "s"`},
		{"through a symlink to the outside", []entry{symlinkEntry("a", outside), reg("a/canary", "pwned")}, "a/canary", `goes through symlink "a"`},
		{"through a symlink, dir entry", []entry{symlinkEntry("a", outside), dirEntry("a/sub/")}, "a/sub/", "goes through symlink"},
		{"through a nested symlink", []entry{dirEntry("d/"), symlinkEntry("d/s", "/"), reg("d/s/x/y", "x")}, "d/s/x/y", `goes through symlink "d/s"`},
		{"hard link dotdot", []entry{linkEntry("l", "../../etc/passwd")}, "l", "link target \"../../etc/passwd\": path leaves the volume"},
		{"hard link absolute", []entry{linkEntry("l", "/etc/passwd")}, "l", "absolute path"},
		{"hard link to the canary", []entry{linkEntry("l", outside+"/canary")}, "l", "absolute path"},
		{"hard link through a symlink", []entry{symlinkEntry("d", outside), linkEntry("l", "d/canary")}, "l", `link target "d/canary" goes through symlink "d"`},
		{"hard link to the root", []entry{linkEntry("l", ".")}, "l", "is the root"},
		{"whiteout", []entry{reg("ok", "x"), reg("dir/.wh.victim", "")}, "dir/.wh.victim", "whiteouts"},
		{"opaque whiteout", []entry{reg(".wh..wh..opq", "")}, ".wh..wh..opq", "whiteouts"},
		{"root as a file", []entry{reg(".", "x")}, ".", "only a directory can be the root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Import("vol", bytes.NewReader(mkTar(t, c.entries...)))
			if err == nil {
				t.Fatal("imported")
			}
			prefix := `import vol: entry "` + c.entry + `": `
			if msg := err.Error(); !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, c.why) {
				t.Errorf("error %q, want %q...%q (invalid argument)", msg, prefix, c.why)
			}
			if empty, _ := isEmptyDir(root); !empty {
				t.Error("volume not empty after a failed import")
			}
			checkOutside(t, base, outside)
		})
	}

	// A truncated tar: an error, the volume empty again.
	good := mkTar(t, reg("a", strings.Repeat("x", 4000)), reg("b", "y"))
	err = s.Import("vol", bytes.NewReader(good[:1200]))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("truncated tar: %v", err)
	}
	if empty, _ := isEmptyDir(root); !empty {
		t.Error("volume not empty after a truncated import")
	}
	// A failure of the unpacking itself (not a refusal) is archive's, and
	// cleaned up too.
	err = s.Import("vol", bytes.NewReader(mkTar(t, reg("first", "x"), linkEntry("l", "nosuch"))))
	if err == nil || !strings.Contains(err.Error(), `archive: entry "l": link target "nosuch"`) {
		t.Errorf("link to nothing: %v", err)
	}
	if empty, _ := isEmptyDir(root); !empty {
		t.Error("volume not empty after a failed unpack")
	}
	// Not a tar at all.
	if err := s.Import("vol", strings.NewReader(strings.Repeat("not a tar ", 100))); err == nil {
		t.Error("imported garbage")
	}
	// Harmless names that look odd are taken.
	must(t, s.Import("vol", bytes.NewReader(mkTar(t, dirEntry("./"), reg("./a/b/../c", "x"), symlinkEntry("up", "a/../c"), symlinkEntry("a/abs", "/etc/passwd"), linkEntry("h", "./a/c")))))
	if b, _ := os.ReadFile(filepath.Join(root, "h")); string(b) != "x" {
		t.Errorf("hard link content %q", b)
	}
	checkOutside(t, base, outside)
}

func checkOutside(t *testing.T, base, outside string) {
	t.Helper()
	if b, _ := os.ReadFile(filepath.Join(outside, "canary")); string(b) != "safe" {
		t.Errorf("canary: %q", b)
	}
	for _, dir := range []string{base, outside} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			switch e.Name() {
			case "outside", "volumes", "canary":
			default:
				t.Errorf("written outside: %s", filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, p := range []string{"/evil", "/etc/evil"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists", p)
		}
	}
}

func TestUsage(t *testing.T) {
	s := newStore(t)
	v := mustCreate(t, s, CreateRequest{Name: "vol"})
	if n, err := s.Usage("vol"); n != 0 || err != nil {
		t.Errorf("empty volume: %d, %v", n, err)
	}
	p := func(n string) string { return filepath.Join(v.Mountpoint, n) }
	must(t, os.WriteFile(p("a"), make([]byte, 100), 0o644))
	must(t, os.MkdirAll(p("d/e"), 0o755))
	must(t, os.WriteFile(p("d/e/b"), make([]byte, 200), 0o644))
	must(t, os.Link(p("d/e/b"), p("b-again")))
	must(t, os.Symlink("abc", p("s")))
	if n, err := s.Usage("vol"); n != 303 || err != nil {
		t.Errorf("usage %d, %v; want 303", n, err)
	}
	if _, err := s.Usage("nosuch"); !errdefs.IsNotFound(err) {
		t.Errorf("usage of a missing volume: %v", err)
	}
}

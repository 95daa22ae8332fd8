package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// vfsCapNetBindService is security.capability for cap_net_bind_service+ep
// (VFS_CAP_REVISION_2 with the effective flag).
var vfsCapNetBindService = []byte{
	0x01, 0x00, 0x00, 0x02, // magic_etc: revision 2 | effective
	0x00, 0x04, 0x00, 0x00, // permitted[0]: 1 << CAP_NET_BIND_SERVICE
	0x00, 0x00, 0x00, 0x00, // inheritable[0]
	0x00, 0x00, 0x00, 0x00, // permitted[1]
	0x00, 0x00, 0x00, 0x00, // inheritable[1]
}

var (
	longDir    = strings.Repeat("long-directory-name-", 6)
	longName   = longDir + "/" + strings.Repeat("f", 150)
	longTarget = strings.Repeat("../x/", 40) + "target"
)

// buildTree makes a tree with every kind of file, odd modes and owners,
// xattrs, hard links and long names, with whole-second times.
func buildTree(t testing.TB, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	at := func(p string) string { return filepath.Join(root, p) }
	mkdir := func(p string, mode uint32, uid, gid int) {
		must(os.MkdirAll(at(p), 0o755))
		must(os.Lchown(at(p), uid, gid))
		must(unix.Chmod(at(p), mode))
	}
	file := func(p string, size int, mode uint32, uid, gid int) {
		b := make([]byte, size)
		rand.Read(b)
		must(os.WriteFile(at(p), b, 0o600))
		must(os.Lchown(at(p), uid, gid))
		must(unix.Chmod(at(p), mode))
	}
	xattr := func(p, name string, val []byte) { must(unix.Lsetxattr(at(p), name, val, 0)) }

	mkdir("d", 0o750, 1000, 1001)
	mkdir("d/sticky", 0o1777, 0, 0)
	mkdir("d/setgid", 0o2755, 0, 50)
	mkdir("empty", 0o700, 0, 0)
	mkdir("other", 0o755, 0, 0)
	mkdir("bin", 0o755, 0, 0)
	mkdir("dev", 0o755, 0, 0)
	mkdir(longDir, 0o755, 0, 0)

	file("d/file", 10000, 0o640, 123, 456)
	xattr("d/file", "user.foo", []byte("bar"))
	xattr("d/file", "user.bin", []byte{0, 1, 2, 0xff})
	must(os.Link(at("d/file"), at("d/link1")))
	must(os.Link(at("d/file"), at("other/link2")))
	file("d/setuid", 3000, 0o4755, 0, 0)
	xattr("d/setuid", "security.capability", vfsCapNetBindService)
	file("d/setgid/sgid", 100, 0o2711, 0, 50)
	file("d/empty", 0, 0o644, 0, 0)
	file("d/none", 5, 0o000, 65534, 65534)
	file("d/bigid", 5, 0o644, 3000000, 3000001)
	file("big", 3<<20, 0o644, 0, 0)
	file(longName, 200, 0o644, 0, 0)
	xattr("d", "user.dir", []byte("1"))
	xattr("empty", "trusted.berth", []byte("t"))

	must(unix.Mkfifo(at("d/fifo"), 0o600))
	must(unix.Mknod(at("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Mknod(at("dev/loop0"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 0))))
	must(unix.Chmod(at("dev/null"), 0o666))
	must(os.Lchown(at("dev/loop0"), 0, 6))

	must(os.Symlink("../big", at("d/rel")))
	must(os.Symlink("/bin/busybox", at("bin/sh")))
	must(os.Link(at("bin/sh"), at("bin/sh2"))) // a hard link to a symlink
	must(os.Symlink("d", at("dirlink")))
	must(os.Symlink(longTarget, at("longlink")))
	must(os.Lchown(at("dirlink"), 7, 8))
	xattr("dirlink", "trusted.link", []byte("l"))

	// Times: non-directories first, then directories, whose times the
	// former would otherwise disturb.
	var dirs []string
	i := 0
	must(filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		if fi.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		i++
		ts := []unix.Timespec{unix.NsecToTimespec(testTime.Add(time.Duration(i) * time.Hour).UnixNano()), unix.NsecToTimespec(testTime.Add(time.Duration(i) * time.Second).UnixNano())}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	}))
	for _, p := range dirs {
		i++
		ts := []unix.Timespec{unix.NsecToTimespec(testTime.UnixNano()), unix.NsecToTimespec(testTime.Add(time.Duration(i) * time.Minute).UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

func writeTar(t testing.TB, root string, o WriteOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteTar(context.Background(), &b, root, o); err != nil {
		t.Fatalf("WriteTar: %v", err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src)
	want := snapshot(t, src)

	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			o := WriteOptions{Compression: c}
			layer := writeTar(t, src, o)
			if again := writeTar(t, src, o); !bytes.Equal(layer, again) {
				t.Fatalf("WriteTar twice gave different bytes (%d and %d)", len(layer), len(again))
			}
			if _, got, err := Decompress(bytes.NewReader(layer)); err != nil || got != c {
				t.Fatalf("Decompress sniffed %v, %v; want %v", got, err, c)
			}
			for _, mode := range []WhiteoutMode{WhiteoutsOverlay, WhiteoutsApply} {
				dst := t.TempDir()
				n, err := Apply(context.Background(), dst, bytes.NewReader(layer), ApplyOptions{Whiteouts: mode})
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				rc, _, _ := Decompress(bytes.NewReader(layer))
				plain, _ := io.ReadAll(rc)
				if n != int64(len(plain)) {
					t.Errorf("Apply read %d bytes, the tar has %d", n, len(plain))
				}
				compareTrees(t, want, snapshot(t, dst))
				// The unpacked tree exports to the very same bytes.
				if again := writeTar(t, dst, o); !bytes.Equal(layer, again) {
					t.Errorf("WriteTar of the unpacked tree differs from the original layer")
				}
			}
		})
	}
}

func TestWriteTarHeaders(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src)
	tr := tar.NewReader(bytes.NewReader(writeTar(t, src, WriteOptions{})))
	var names []string
	types := map[string]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		types[hdr.Name] = hdr.Typeflag
		if hdr.Uname != "" || hdr.Gname != "" || !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() {
			t.Errorf("%s: uname %q gname %q atime %v ctime %v; want none", hdr.Name, hdr.Uname, hdr.Gname, hdr.AccessTime, hdr.ChangeTime)
		}
		if _, ok := hdr.PAXRecords["SCHILY.xattr.security.selinux"]; ok {
			t.Errorf("%s: security.selinux exported", hdr.Name)
		}
	}
	// Each directory before its contents, names in lexical order.
	wantOrder := []string{"big", "bin/", "bin/sh", "bin/sh2", "d/", "d/bigid", "d/empty", "d/fifo", "d/file", "d/link1", "d/none", "d/rel", "d/setgid/", "d/setgid/sgid", "d/setuid", "d/sticky/", "dev/", "dev/loop0", "dev/null", "dirlink", "empty/", longDir + "/", longName, "longlink", "other/", "other/link2"}
	if strings.Join(names, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("order:\n got  %q\n want %q", names, wantOrder)
	}
	for name, typ := range map[string]byte{"d/file": tar.TypeReg, "d/link1": tar.TypeLink, "other/link2": tar.TypeLink, "bin/sh": tar.TypeSymlink, "bin/sh2": tar.TypeLink, "dev/null": tar.TypeChar, "dev/loop0": tar.TypeBlock, "d/fifo": tar.TypeFifo} {
		if types[name] != typ {
			t.Errorf("%s: type %q, want %q", name, types[name], typ)
		}
	}
}

func TestWriteTarInclude(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src)
	var asked []string
	layer := writeTar(t, src, WriteOptions{Include: func(p string) bool {
		asked = append(asked, p)
		return p != "d"
	}})
	for _, p := range asked {
		if strings.HasPrefix(p, "d/") {
			t.Errorf("Include asked about %q below an excluded directory", p)
		}
	}
	dst := t.TempDir()
	mustApply(t, dst, layer, WhiteoutsApply)
	if _, err := os.Lstat(filepath.Join(dst, "d")); !os.IsNotExist(err) {
		t.Errorf("excluded d: %v", err)
	}
	// The inode's first name was left out, so its other name is a file.
	got := snapshot(t, dst)["other/link2"]
	if got.Type != "file" || got.Size != 10000 || got.Links != "" {
		t.Errorf("other/link2 = %+v, want a plain 10000-byte file", got)
	}
}

func TestWriteTarMissingRoot(t *testing.T) {
	err := WriteTar(context.Background(), io.Discard, filepath.Join(t.TempDir(), "nope"), WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("WriteTar of a missing root: %v", err)
	}
}

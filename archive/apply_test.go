package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func TestApplyOptionsAndRoot(t *testing.T) {
	layer := mkTar(t, reg("f", "x"))
	_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(layer), ApplyOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Apply without a whiteout mode: %v", err)
	}
	_, err = Apply(context.Background(), filepath.Join(t.TempDir(), "nope"), bytes.NewReader(layer), ApplyOptions{Whiteouts: WhiteoutsApply})
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Apply to a missing root: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Apply(ctx, t.TempDir(), bytes.NewReader(layer), ApplyOptions{Whiteouts: WhiteoutsApply})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v", err)
	}
}

func TestApplySize(t *testing.T) {
	layer := mkTar(t, reg("f", "hello"))
	layer = append(layer, make([]byte, 10240-len(layer)%10240)...) // record padding, as GNU tar writes
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		n, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(compress(t, c, layer)), ApplyOptions{Whiteouts: WhiteoutsApply})
		if err != nil || n != int64(len(layer)) {
			t.Errorf("%v: Apply = %d, %v; want %d", c, n, err, len(layer))
		}
	}
}

func TestApplyTimes(t *testing.T) {
	mtime := time.Unix(1600000000, 123456789)
	atime := time.Unix(1500000000, 987654321)
	d := dirEntry("d/")
	d.hdr.ModTime = time.Unix(1400000000, 0)
	f := reg("d/f", "x")
	f.hdr.ModTime, f.hdr.AccessTime, f.hdr.Format = mtime, atime, tar.FormatPAX
	g := reg("d/g", "y") // no access time: it gets the modification time
	s := symlinkEntry("d/s", "/nowhere")
	s.hdr.ModTime = time.Unix(1300000000, 0)
	root := t.TempDir()
	mustApply(t, root, mkTar(t, d, f, g, s), WhiteoutsApply)

	for p, want := range map[string][2]time.Time{
		"d":   {d.hdr.ModTime, d.hdr.ModTime}, // after its contents were made
		"d/f": {atime, mtime},
		"d/g": {testTime, testTime},
		"d/s": {s.hdr.ModTime, s.hdr.ModTime}, // the symlink itself
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
			t.Fatal(err)
		}
		got := [2]time.Time{time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix())}
		if !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
			t.Errorf("%s: atime %v mtime %v, want %v %v", p, got[0], got[1], want[0], want[1])
		}
	}
}

func TestApplyImplicitDirsIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	root := t.TempDir()
	f := reg("a/b/f", "x")
	f.hdr.Mode = 0o4755
	mustApply(t, root, mkTar(t, f), WhiteoutsOverlay)
	for p, want := range map[string]os.FileMode{"a": os.ModeDir | 0o755, "a/b": os.ModeDir | 0o755, "a/b/f": os.ModeSetuid | 0o755} {
		if fi, err := os.Lstat(filepath.Join(root, p)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
}

func TestApplyOnExistingTree(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, mkTar(t, dirEntry("d/"), reg("d/lower", "lower"), reg("d/f", "old"), reg("x", "x"), dirEntry("e/"), reg("e/in", "in")), WhiteoutsApply)
	d := dirEntry("d/")
	d.hdr.Mode, d.hdr.Uid = 0o700, 33
	mustApply(t, root, mkTar(t,
		d,                             // keeps the directory and its contents, takes the new attributes
		reg("d/f", "new"),             // replaces a file
		linkEntry("x", "d/lower"),     // a hard link replaces a file, to a lower layer's file
		reg("e", "file over a dir"),   // a file replaces a directory and its contents
		symlinkEntry("d/lower2", "f"), // a new symlink
	), WhiteoutsApply)
	compareViews(t, map[string]string{
		"d": "dir", "d/lower": "file lower", "d/f": "file new", "d/lower2": "L---------",
		"x": "file lower", "e": "file file over a dir",
	}, view(t, root))
	fi, _ := os.Stat(filepath.Join(root, "d"))
	if fi.Mode() != os.ModeDir|0o700 || fi.Sys().(*syscall.Stat_t).Uid != 33 {
		t.Errorf("d: %v uid %d, want 0700 uid 33", fi.Mode(), fi.Sys().(*syscall.Stat_t).Uid)
	}
	a, _ := os.Stat(filepath.Join(root, "x"))
	b, _ := os.Stat(filepath.Join(root, "d/lower"))
	if !os.SameFile(a, b) {
		t.Error("x is not a hard link to d/lower")
	}
}

func TestApplyXattrPolicy(t *testing.T) {
	f := reg("f", "x")
	f.hdr.PAXRecords = map[string]string{
		"SCHILY.xattr.user.keep":              "1",
		"SCHILY.xattr.trusted.overlay.opaque": "y",
		"SCHILY.xattr.trusted.overlay.origin": "forged",
		"SCHILY.xattr.user.overlay.opaque":    "y",
	}
	s := symlinkEntry("s", "f")
	s.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.nope": "1"} // user.* is not allowed on symlinks
	layer := mkTar(t, f, s)
	for mode, want := range map[WhiteoutMode]string{
		WhiteoutsOverlay: `user.keep="1"`,
		WhiteoutsApply:   `user.keep="1",user.overlay.opaque="y"`,
	} {
		root := t.TempDir()
		var skipped []string
		_, err := Apply(context.Background(), root, bytes.NewReader(layer), ApplyOptions{Whiteouts: mode, OnSkip: func(entry string, err error) {
			skipped = append(skipped, entry+": "+err.Error())
		}})
		if err != nil {
			t.Fatal(err)
		}
		if got := listXattrs(t, filepath.Join(root, "f")); got != want {
			t.Errorf("mode %d: xattrs %s, want %s", mode, got, want)
		}
		if len(skipped) != 1 || !strings.Contains(skipped[0], "s: xattr user.nope: operation not permitted") {
			t.Errorf("skipped %q", skipped)
		}
	}
}

func TestApplyNoLchown(t *testing.T) {
	f := reg("f", "x")
	f.hdr.Uid, f.hdr.Gid = 1234, 5678
	root := t.TempDir()
	if _, err := Apply(context.Background(), root, bytes.NewReader(mkTar(t, f)), ApplyOptions{Whiteouts: WhiteoutsApply, NoLchown: true}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(root, "f"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(os.Getuid()) {
		t.Errorf("uid %d, want %d", st.Uid, os.Getuid())
	}
}

func TestApplySkipsAUFSMeta(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, mkTar(t,
		dirEntry(".wh..wh.plnk/"), reg(".wh..wh.plnk/1234.5678", "x"), reg(".wh..wh.aufs", ""), dirEntry(".wh..wh.orph/"), reg("f", "f"),
	), WhiteoutsApply)
	compareViews(t, map[string]string{"f": "file f"}, view(t, root))
}

// TestApplyDevicesInUserNS runs Apply in a user namespace, where device
// nodes cannot be made: they are skipped and reported, the rest is unpacked.
func TestApplyDevicesInUserNS(t *testing.T) {
	if dir := os.Getenv("BERTH_ARCHIVE_USERNS_ROOT"); dir != "" {
		// The child, in the user namespace.
		var skipped []string
		_, err := Apply(context.Background(), dir, bytes.NewReader(devLayer(t)), ApplyOptions{Whiteouts: WhiteoutsOverlay, OnSkip: func(entry string, err error) {
			skipped = append(skipped, entry)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(skipped, " ") != "dev/null dev/sda" {
			t.Fatalf("skipped %q", skipped)
		}
		return
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyDevicesInUserNS$", "-test.v")
	cmd.Env = append(os.Environ(), "BERTH_ARCHIVE_USERNS_ROOT="+root)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	compareViews(t, map[string]string{"dev": "dir", "dev/fifo": "p---------", "dev/gone": "Dc---------", "f": "file f"}, view(t, root))
}

func devLayer(t testing.TB) []byte {
	null := reg("dev/null", "")
	null.hdr.Typeflag, null.hdr.Devmajor, null.hdr.Devminor, null.hdr.Mode = tar.TypeChar, 1, 3, 0o666
	sda := reg("dev/sda", "")
	sda.hdr.Typeflag, sda.hdr.Devmajor, sda.hdr.Mode = tar.TypeBlock, 8, 0o660
	fifo := reg("dev/fifo", "")
	fifo.hdr.Typeflag, fifo.hdr.Mode = tar.TypeFifo, 0o600
	return mkTar(t, null, sda, fifo, reg("dev/.wh.gone", ""), reg("f", "f"))
}

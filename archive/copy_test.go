package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// entryNames lists a tar's entry names with their type flags.
func entryNames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(h.Typeflag)+" "+h.Name)
	}
}

func writeEntry(t *testing.T, dir, base, name string, o WriteOptions) ([]byte, error) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var b bytes.Buffer
	err = WriteEntry(context.Background(), &b, fd, base, name, o)
	return b.Bytes(), err
}

func TestWriteEntry(t *testing.T) {
	root := t.TempDir()
	mustApply(t, root, mkTar(t,
		dirEntry("d/"), reg("d/a", "A"), dirEntry("d/sub/"), reg("d/sub/b", "B"),
		symlinkEntry("d/link", "/etc"), reg("f", "F"), linkEntry("d/hard", "d/a"),
	), WhiteoutsApply)
	for _, tc := range []struct {
		base, name string
		want       []string
	}{
		{"f", "f", []string{"0 f"}},
		{"f", "renamed", []string{"0 renamed"}},
		{"d", "d", []string{"5 d/", "0 d/a", "1 d/hard", "2 d/link", "5 d/sub/", "0 d/sub/b"}},
		{"d", "other/", []string{"5 other/", "0 other/a", "1 other/hard", "2 other/link", "5 other/sub/", "0 other/sub/b"}},
		{"d", ".", []string{"5 ./", "0 ./a", "1 ./hard", "2 ./link", "5 ./sub/", "0 ./sub/b"}},
		{".", "/", []string{"5 //", "5 //d/", "0 //d/a", "1 //d/hard", "2 //d/link", "5 //d/sub/", "0 //d/sub/b", "0 //f"}},
		{".", "root", []string{"5 root/", "5 root/d/", "0 root/d/a", "1 root/d/hard", "2 root/d/link", "5 root/d/sub/", "0 root/d/sub/b", "0 root/f"}},
	} {
		dir := root
		if tc.name == "." {
			dir = filepath.Join(root, "d")
			tc.base = "."
		}
		b, err := writeEntry(t, dir, tc.base, tc.name, WriteOptions{})
		if err != nil {
			t.Fatalf("%s as %s: %v", tc.base, tc.name, err)
		}
		if got := entryNames(t, b); !slices.Equal(got, tc.want) {
			t.Errorf("%s as %s: entries %q, want %q", tc.base, tc.name, got, tc.want)
		}
	}
	// A final symlink is written as itself, not followed.
	b, err := writeEntry(t, filepath.Join(root, "d"), "link", "link", WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := entryNames(t, b); !slices.Equal(got, []string{"2 link"}) {
		t.Errorf("symlink: %q", got)
	}
	if _, err := writeEntry(t, root, "missing", "missing", WriteOptions{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("missing entry: %v, want not found", err)
	}
	if _, err := writeEntry(t, root, "f", "", WriteOptions{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("empty name: %v", err)
	}
}

// A round trip through WriteEntry and Apply keeps what WriteTar keeps.
func TestWriteEntryRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	mustApply(t, src, mkTar(t, dirEntry("d/"), reg("d/a", "A"), symlinkEntry("d/l", "a"), linkEntry("d/h", "d/a")), WhiteoutsApply)
	if err := os.Chown(filepath.Join(src, "d", "a"), 7, 8); err != nil {
		t.Fatal(err)
	}
	b, err := writeEntry(t, src, "d", "d", WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, dst, b, WhiteoutsNone)
	compareTrees(t, snapshot(t, src), snapshot(t, dst))
}

func TestWriteEntrySkipsPseudoFS(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"proc", "data"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "data", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		runtime.LockOSThread() // never unlocked: the namespace dies with the thread
		var got []string
		defer func() { done <- got }()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			t.Error(err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Error(err)
			return
		}
		if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", 0, ""); err != nil {
			t.Error(err)
			return
		}
		b, err := writeEntry(t, root, ".", "r", WriteOptions{SkipPseudoFS: true})
		if err != nil {
			t.Error(err)
			return
		}
		got = entryNames(t, b)
	}()
	want := []string{"5 r/", "5 r/data/", "0 r/data/x", "5 r/proc/"}
	if got := <-done; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}

func TestApplyCopyOptions(t *testing.T) {
	root := t.TempDir()
	// WhiteoutsNone: ".wh." names are files, AUFS names too.
	mustApply(t, root, mkTar(t, reg(".wh.x", "w"), reg(".wh..wh..opq", "o"), reg("a", "a")), WhiteoutsNone)
	for _, n := range []string{".wh.x", ".wh..wh..opq", "a"} {
		if _, err := os.Lstat(filepath.Join(root, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	// Owner overrides the tar's owners.
	e := reg("owned", "o")
	e.hdr.Uid, e.hdr.Gid = 5, 6
	if _, err := Apply(context.Background(), root, bytes.NewReader(mkTar(t, e, dirEntry("od/"))), ApplyOptions{Whiteouts: WhiteoutsNone, Owner: &Owner{UID: 1000, GID: 1001}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"owned", "od"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, n), &st); err != nil || st.Uid != 1000 || st.Gid != 1001 {
			t.Errorf("%s owned by %d:%d (%v), want 1000:1001", n, st.Uid, st.Gid, err)
		}
	}
	// NoOverwriteDirNonDir refuses both ways and leaves both in place.
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := ApplyOptions{Whiteouts: WhiteoutsNone, NoOverwriteDirNonDir: true}
	for _, tc := range []struct {
		e    entry
		want string
	}{
		{reg("dir", "x"), "cannot overwrite directory"},
		{dirEntry("a/"), "cannot overwrite non-directory"},
		{symlinkEntry("dir", "/"), "cannot overwrite directory"},
	} {
		_, err := Apply(context.Background(), root, bytes.NewReader(mkTar(t, tc.e)), o)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.e.hdr.Name, err, tc.want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(root, "dir")); err != nil || !fi.IsDir() {
		t.Errorf("dir: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "a")); err != nil || string(b) != "a" {
		t.Errorf("a: %q %v", b, err)
	}
	// Without it a file replaces a directory, as in a layer.
	if _, err := Apply(context.Background(), root, bytes.NewReader(mkTar(t, reg("dir", "x"))), ApplyOptions{Whiteouts: WhiteoutsNone}); err != nil {
		t.Fatal(err)
	}
}

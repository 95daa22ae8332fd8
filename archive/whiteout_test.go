package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The lower layer: files to delete, a directory to make opaque.
func lowerLayer(t testing.TB) []byte {
	return mkTar(t,
		dirEntry("a/"), reg("a/keep", "keep"), reg("a/gone", "gone"),
		dirEntry("a/gonedir/"), reg("a/gonedir/x", "x"),
		dirEntry("o/"), reg("o/old1", "old1"), dirEntry("o/sub/"), reg("o/sub/old2", "old2"),
		reg("top", "top"),
	)
}

// The upper layer deletes a/gone and a/gonedir, makes o opaque, and has a
// whiteout of a file it also adds itself (which must not hide it).
func upperLayer(t testing.TB, opaqueLast bool) []byte {
	o := []entry{dirEntry("o/"), reg("o/.wh..wh..opq", ""), reg("o/new", "new"), dirEntry("o/sub/"), reg("o/sub/new2", "new2")}
	if opaqueLast {
		o = []entry{dirEntry("o/"), reg("o/new", "new"), dirEntry("o/sub/"), reg("o/sub/new2", "new2"), reg("o/.wh..wh..opq", "")}
	}
	return mkTar(t, append([]entry{
		reg("a/.wh.gone", ""), reg("a/.wh.gonedir", ""),
		reg("a/.wh.same", ""), reg("a/same", "same"), reg("a/same2", "same2"), reg("a/.wh.same2", ""),
		reg("a/.wh.never-existed", ""), reg("nodir/.wh.x", ""),
	}, o...)...)
}

// merged is the view of the two layers stacked, with extra paths.
func merged(extra ...string) map[string]string {
	m := map[string]string{
		"a": "dir", "a/keep": "file keep", "a/same": "file same", "a/same2": "file same2",
		"o": "dir", "o/new": "file new", "o/sub": "dir", "o/sub/new2": "file new2",
		"top": "file top",
	}
	for i := 0; i < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// view reduces a tree to what a reader of it sees: types and contents.
func view(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			// Overlayfs lists a whiteout in a directory that nothing
			// below it has, but it cannot be looked up.
			return nil
		}
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.IsDir():
			out[rel] = "dir"
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file " + string(b)
		default:
			out[rel] = fi.Mode().Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func compareViews(t testing.TB, want, got map[string]string) {
	t.Helper()
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q, want %q", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %q", p, g)
		}
	}
}

func TestWhiteoutsApply(t *testing.T) {
	for _, opaqueLast := range []bool{false, true} {
		root := t.TempDir()
		mustApply(t, root, lowerLayer(t), WhiteoutsApply)
		mustApply(t, root, upperLayer(t, opaqueLast), WhiteoutsApply)
		compareViews(t, merged(), view(t, root))
	}
}

func TestWhiteoutsOverlay(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mustApply(t, lower, lowerLayer(t), WhiteoutsOverlay)
	mustApply(t, upper, upperLayer(t, false), WhiteoutsOverlay)

	for _, p := range []string{"a/gone", "a/gonedir", "a/never-existed", "nodir/x"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(upper, p), &st); err != nil {
			t.Errorf("%s: %v", p, err)
		} else if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %#o rdev %d, want a 0:0 character device", p, st.Mode, st.Rdev)
		}
	}
	for p, want := range map[string]string{"a/same": "file same", "a/same2": "file same2"} {
		if got := view(t, upper)[p]; got != want {
			t.Errorf("%s: %q, want %q (the layer's own file wins over its whiteout)", p, got, want)
		}
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(upper, "o"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("o: trusted.overlay.opaque = %q, %v; want y", buf[:n], err)
	}
	filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".wh.") {
			t.Errorf("%s: whiteout file left in an overlay layer", p)
		}
		return err
	})

	// The two layers as overlayfs lower directories show the merged view.
	mnt := t.TempDir()
	mountOverlay(t, mnt, "lowerdir="+upper+":"+lower)
	compareViews(t, merged("nodir", "dir"), view(t, mnt))

	// Committing the overlay layer gives an OCI layer with the same meaning.
	layer := writeTar(t, upper, WriteOptions{OverlayWhiteouts: true})
	names := tarNames(t, layer)
	for _, want := range []string{"a/.wh.gone", "a/.wh.gonedir", "o/.wh..wh..opq"} {
		if !names[want] {
			t.Errorf("committed layer lacks %s (has %v)", want, names)
		}
	}
	applied := t.TempDir()
	mustApply(t, applied, lowerLayer(t), WhiteoutsApply)
	mustApply(t, applied, layer, WhiteoutsApply)
	compareViews(t, merged("nodir", "dir"), view(t, applied))
}

// TestCommitOverlayUpper changes a real overlay mount, then commits its
// upper directory: the kernel's own whiteouts (which may share one inode)
// and opaque directories become an OCI layer with the same meaning.
func TestCommitOverlayUpper(t *testing.T) {
	lower, upper, work, mnt := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	mustApply(t, lower, lowerLayer(t), WhiteoutsOverlay)
	mountOverlay(t, mnt, "lowerdir="+lower+",upperdir="+upper+",workdir="+work)
	for _, p := range []string{"a/gone", "a/gonedir/x", "a/gonedir", "top"} {
		if err := os.Remove(filepath.Join(mnt, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(mnt, "o")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(mnt, "o/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(mnt, "o/new"), []byte("new"), 0o644)
	os.WriteFile(filepath.Join(mnt, "a/added"), []byte("added"), 0o644)
	want := view(t, mnt)
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}

	layer := writeTar(t, upper, WriteOptions{OverlayWhiteouts: true})
	applied := t.TempDir()
	mustApply(t, applied, lowerLayer(t), WhiteoutsApply)
	mustApply(t, applied, layer, WhiteoutsApply)
	compareViews(t, want, view(t, applied))

	// And as an overlay layer again.
	upper2, mnt2 := t.TempDir(), t.TempDir()
	mustApply(t, upper2, layer, WhiteoutsOverlay)
	mountOverlay(t, mnt2, "lowerdir="+upper2+":"+lower)
	compareViews(t, want, view(t, mnt2))
}

func mountOverlay(t *testing.T, mnt, opts string) {
	t.Helper()
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
}

func tarNames(t testing.TB, layer []byte) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tarReader(t, layer)
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		names[hdr.Name] = true
	}
	return names
}

package trash

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func tree(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		d := filepath.Join(dir, "sub"+strconv.Itoa(i%3))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"+strconv.Itoa(i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink out of the tree, which must not be followed.
	if err := os.Symlink("/etc", filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestDiscardMovesAtOnceAndDeletesLater(t *testing.T) {
	root := t.TempDir()
	var mu sync.Mutex
	var warned []error
	bin := filepath.Join(root, "trash")
	b, err := New(bin, func(err error) { mu.Lock(); warned = append(warned, err); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	victims := []string{filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "file")}
	tree(t, victims[0], 20)
	tree(t, victims[1], 5)
	if err := os.WriteFile(victims[2], []byte("y"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range victims {
		if err := b.Discard(v); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(v); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after Discard: %v", v, err)
		}
		// The name is free again at once.
		if err := os.Mkdir(v, 0o700); err != nil {
			t.Errorf("reuse %s: %v", v, err)
		}
	}
	b.Wait()
	if got := entries(t, bin); len(got) != 0 {
		t.Errorf("bin holds %v after Wait", got)
	}
	for _, v := range victims {
		if _, err := os.Stat(v); err != nil {
			t.Errorf("the new %s went with the old one: %v", v, err)
		}
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("a symlink in a discarded tree was followed: %v", err)
	}
	if len(warned) != 0 {
		t.Errorf("warnings: %v", warned)
	}
	// Missing paths are not an error; Wait with nothing queued returns.
	if err := b.Discard(filepath.Join(root, "never")); err != nil {
		t.Errorf("Discard of a missing path: %v", err)
	}
	b.Wait()
}

// What a crash leaves in the bin goes when the next Bin is made.
func TestNewDeletesLeftovers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "trash")
	tree(t, filepath.Join(dir, "left1"), 10)
	if err := os.WriteFile(filepath.Join(dir, "left2"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Wait()
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("leftovers %v survived New", got)
	}
}

func TestConcurrentDiscards(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "trash")
	b, err := New(bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		p := filepath.Join(root, "v"+strconv.Itoa(i))
		tree(t, p, 4)
		wg.Go(func() {
			if err := b.Discard(p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b.Wait()
	if got := entries(t, bin); len(got) != 0 {
		t.Errorf("bin holds %v", got)
	}
	if got := entries(t, root); len(got) != 1 {
		t.Errorf("root holds %v, want only the bin", got)
	}
}

// A bin on another filesystem than the victim deletes in place.
func TestDiscardAcrossFilesystems(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a tmpfs")
	}
	root := t.TempDir()
	mnt := filepath.Join(root, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := mountTmpfs(mnt); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unmount(mnt) })
	b, err := New(filepath.Join(root, "trash"), nil)
	if err != nil {
		t.Fatal(err)
	}
	v := filepath.Join(mnt, "v")
	tree(t, v, 3)
	if err := b.Discard(v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(v); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still there: %v", v, err)
	}
}

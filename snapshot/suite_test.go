package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// testSuite is what every way of keeping snapshots must pass: today the
// overlay store; later a copying one for hosts without overlayfs. newStore
// returns an empty store in a fresh directory.
func testSuite(t *testing.T, newStore func(t *testing.T) *Store) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, *Store)
	}{
		{"MergedView", testMergedView},
		{"NoParent", testNoParent},
		{"UnpackOnce", testUnpackOnce},
		{"ConcurrentUnpackOnce", testConcurrentUnpackOnce},
		{"SharedLayers", testSharedLayers},
		{"ParallelLayers", testParallelLayers},
		{"Compressed", testCompressed},
		{"MissingParent", testMissingParent},
		{"HostileLayer", testHostileLayer},
		{"WrongChainID", testWrongChainID},
		{"Remove", testRemove},
		{"WalkUsage", testWalkUsage},
		{"Reopen", testReopen},
		{"BadNames", testBadNames},
		{"DeepImage", testDeepImage},
		{"Umask", testUmask},
		{"Volatile", testVolatile},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, newStore(t)) })
	}
}

// threeLayers is a base, a layer that deletes a file and adds one, and one
// that makes a directory opaque.
func threeLayers(t *testing.T) image {
	return newImage(
		layerTar(t,
			dir("bin"), entry{name: "bin/sh", link: "busybox"}, file("bin/busybox", "#!busybox"),
			dir("etc"), file("etc/hostname", "base"),
			dir("data"), file("data/keep", "keep"), file("data/drop", "drop"),
			dir("opq"), file("opq/old", "old"), dir("opq/sub"), file("opq/sub/deep", "deep"),
		),
		layerTar(t,
			dir("data"), file("data/.wh.drop", ""), file("data/new", "new"),
			dir("etc"), file("etc/hostname", "L1"),
		),
		layerTar(t,
			dir("opq"), file("opq/.wh..wh..opq", ""), file("opq/fresh", "fresh"),
		),
	)
}

func testMergedView(t *testing.T, s *Store) {
	img := threeLayers(t)
	img.unpack(t, s)
	m, err := s.Prepare("c1", img.top())
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, m)

	wantContent(t, root+"/etc/hostname", "L1")
	wantContent(t, root+"/data/keep", "keep")
	wantContent(t, root+"/data/new", "new")
	wantAbsent(t, root+"/data/drop")
	if got := names(t, root+"/opq"); !slices.Equal(got, []string{"fresh"}) {
		t.Errorf("opaque directory holds %q, want only fresh", got)
	}
	wantAbsent(t, root+"/opq/sub/deep")
	if l, err := os.Readlink(root + "/bin/sh"); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q (%v), want busybox", l, err)
	}

	// Writes go to the container's layer, never to the image's.
	if err := os.WriteFile(root+"/etc/hostname", []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/newfile", []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(root + "/data/keep"); err != nil {
		t.Fatal(err)
	}
	// A directory removed and made again hides what the image had in it.
	if err := os.RemoveAll(root + "/bin"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(root+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/bin/mine", nil, 0o755); err != nil {
		t.Fatal(err)
	}
	lowers, err := s.Lowers(img.top())
	if err != nil {
		t.Fatal(err)
	}
	if len(lowers) != 3 {
		t.Fatalf("Lowers = %q, want 3", lowers)
	}
	wantContent(t, lowers[1]+"/etc/hostname", "L1")
	wantContent(t, lowers[2]+"/etc/hostname", "base")
	wantContent(t, lowers[2]+"/data/keep", "keep")
	if err := unmount(root); err != nil {
		t.Fatal(err)
	}

	var diff bytes.Buffer
	if err := s.Diff(t.Context(), "c1", &diff, archive.Gzip); err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, diff.Bytes())
	for _, n := range []string{"etc/hostname", "newfile", "data/.wh.keep", "bin/.wh..wh..opq", "bin/mine"} {
		if got[n] == nil {
			t.Errorf("diff lacks %s; has %v", n, keys(got))
		}
	}
	if got["data/new"] != nil || got["opq/fresh"] != nil || got["bin/busybox"] != nil {
		t.Errorf("diff has unchanged files: %v", keys(got))
	}

	// The diff, unpacked as a layer on the image, gives the container's view.
	var plain bytes.Buffer
	if err := s.Diff(t.Context(), "c1", &plain, archive.Uncompressed); err != nil {
		t.Fatal(err)
	}
	committed := ChainIDs(append(slices.Clone(img.diffIDs), digest.Canonical.FromBytes(plain.Bytes())))[3]
	if _, err := s.Unpack(t.Context(), committed, img.top(), &plain); err != nil {
		t.Fatal(err)
	}
	m3, err := s.Prepare("c2", committed)
	if err != nil {
		t.Fatal(err)
	}
	root = mountAt(t, m3)
	wantContent(t, root+"/etc/hostname", "mine")
	wantContent(t, root+"/newfile", "n")
	wantAbsent(t, root+"/data/keep")
	if got := names(t, root+"/bin"); !slices.Equal(got, []string{"mine"}) {
		t.Errorf("bin holds %q in the committed layer, want only mine", got)
	}
	if err := unmount(root); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveActive("c2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(committed); err != nil {
		t.Fatal(err)
	}

	// Mounted again, the container's changes are still there.
	m2, err := s.ActiveMount("c1")
	if err != nil {
		t.Fatal(err)
	}
	root = mountAt(t, m2)
	wantContent(t, root+"/etc/hostname", "mine")
	wantAbsent(t, root+"/data/keep")
	if got := names(t, root+"/bin"); !slices.Equal(got, []string{"mine"}) {
		t.Errorf("bin holds %q after remounting, want only mine", got)
	}
	if err := unmount(root); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Prepare("c1", img.top()); !errdefs.IsAlreadyExists(err) {
		t.Errorf("Prepare of a taken key: %v, want ErrAlreadyExists", err)
	}
	if err := s.RemoveActive("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActiveMount("c1"); !errdefs.IsNotFound(err) {
		t.Errorf("ActiveMount after RemoveActive: %v, want ErrNotFound", err)
	}
	if err := s.RemoveActive("c1"); err != nil {
		t.Errorf("RemoveActive again: %v", err)
	}
	if err := s.Diff(t.Context(), "c1", &diff, archive.Uncompressed); !errdefs.IsNotFound(err) {
		t.Errorf("Diff after RemoveActive: %v, want ErrNotFound", err)
	}
	// The image's layers are untouched, and can be removed now.
	wantContent(t, lowers[2]+"/data/keep", "keep")
	for i := len(img.chain) - 1; i >= 0; i-- {
		if err := s.Remove(img.chain[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func keys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

func testNoParent(t *testing.T, s *Store) {
	m, err := s.Prepare("scratch", "")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, m)
	if got := names(t, root); len(got) != 0 {
		t.Errorf("empty snapshot holds %q", got)
	}
	if err := os.WriteFile(root+"/hello", []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unmount(root); err != nil {
		t.Fatal(err)
	}
	var diff bytes.Buffer
	if err := s.Diff(t.Context(), "scratch", &diff, archive.Uncompressed); err != nil {
		t.Fatal(err)
	}
	if got := keys(tarNames(t, diff.Bytes())); !slices.Equal(got, []string{"hello"}) {
		t.Errorf("diff = %q, want [hello]", got)
	}
	if err := s.RemoveActive("scratch"); err != nil {
		t.Fatal(err)
	}
}

func testUnpackOnce(t *testing.T, s *Store) {
	img := threeLayers(t)
	img.unpack(t, s)
	for i := range img.blobs {
		want, err := s.Size(img.chain[i])
		if err != nil {
			t.Fatal(err)
		}
		cr := &countingReader{r: bytes.NewReader(img.blobs[i])}
		size, err := s.Unpack(t.Context(), img.chain[i], img.parent(i), cr)
		if err != nil || size != want {
			t.Errorf("Unpack again = %d, %v; want %d", size, err, want)
		}
		if n := cr.n.Load(); n != 0 {
			t.Errorf("Unpack of a layer that is there read %d bytes", n)
		}
		if want != int64(len(img.blobs[i])) {
			t.Errorf("Size = %d, want the tar's length %d", want, len(img.blobs[i]))
		}
	}
}

func testConcurrentUnpackOnce(t *testing.T, s *Store) {
	blob := layerTar(t, file("big", strings.Repeat("x", 4<<20)))
	img := newImage(blob)
	gate := make(chan struct{})
	readers := make([]*countingReader, 10)
	sizes := make([]int64, len(readers))
	errs := make([]error, len(readers))
	var wg sync.WaitGroup
	for i := range readers {
		readers[i] = &countingReader{r: bytes.NewReader(blob), gate: gate}
		wg.Go(func() { sizes[i], errs[i] = s.Unpack(t.Context(), img.chain[0], "", readers[i]) })
	}
	close(gate) // the first reader now runs; the others should be waiting
	wg.Wait()
	read := 0
	for i := range readers {
		if errs[i] != nil || sizes[i] != int64(len(blob)) {
			t.Errorf("Unpack %d = %d, %v; want %d", i, sizes[i], errs[i], len(blob))
		}
		if n := readers[i].n.Load(); n > 0 {
			read++
			if n != int64(len(blob)) {
				t.Errorf("reader %d: read %d of %d bytes", i, n, len(blob))
			}
		}
	}
	if read != 1 {
		t.Errorf("%d of 10 concurrent Unpacks read the layer, want 1", read)
	}
	if l := leftovers(t, s); len(l) != 0 {
		t.Errorf("leftovers: %q", l)
	}
}

func testSharedLayers(t *testing.T, s *Store) {
	a := threeLayers(t)
	b := newImage(a.blobs[0], a.blobs[1], layerTar(t, file("other", "image b")))
	a.unpack(t, s)
	if read := b.unpack(t, s); read[0] != 0 || read[1] != 0 || read[2] == 0 {
		t.Errorf("second image read %v bytes of its layers, want 0, 0 and all of its own", read)
	}
	la, err := s.Lowers(a.top())
	if err != nil {
		t.Fatal(err)
	}
	lb, err := s.Lowers(b.top())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(la[1:], lb[1:]) || la[0] == lb[0] {
		t.Errorf("Lowers: a %q, b %q: want the lower two shared", la, lb)
	}
	n := 0
	s.Walk(func(_, _ digest.Digest, _ int64) error { n++; return nil })
	if n != 4 {
		t.Errorf("Walk found %d layers, want 4", n)
	}
	m, err := s.Prepare("b", b.top())
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, m)
	wantContent(t, root+"/other", "image b")
	wantContent(t, root+"/etc/hostname", "L1")
	wantContent(t, root+"/opq/old", "old")
}

func testParallelLayers(t *testing.T, s *Store) {
	var layers [][]byte
	for i := range 4 {
		layers = append(layers, layerTar(t,
			file(fmt.Sprintf("layer%d", i), strings.Repeat(fmt.Sprint(i), 1<<20)),
			file("top", fmt.Sprint(i))))
	}
	img := newImage(layers...)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := 3; i >= 0; i-- {
		wg.Go(func() {
			_, errs[i] = s.Unpack(t.Context(), img.chain[i], img.parent(i), bytes.NewReader(img.blobs[i]))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	lowers, err := s.Lowers(img.top())
	if err != nil {
		t.Fatal(err)
	}
	if len(lowers) != 4 {
		t.Fatalf("Lowers = %q, want 4", lowers)
	}
	for i, l := range lowers {
		wantContent(t, l+"/top", fmt.Sprint(3-i)) // top-most first
	}
	m, err := s.Prepare("p", img.top())
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, m)
	wantContent(t, root+"/top", "3")
	for i := range 4 {
		if _, err := os.Stat(fmt.Sprintf("%s/layer%d", root, i)); err != nil {
			t.Error(err)
		}
	}
}

func testCompressed(t *testing.T, s *Store) {
	plain := layerTar(t, file("z", "zipped"))
	img := newImage(plain) // the diff ID is of the plain tar
	size, err := s.Unpack(t.Context(), img.chain[0], "", bytes.NewReader(gzipped(t, plain)))
	if err != nil || size != int64(len(plain)) {
		t.Fatalf("Unpack of a gzipped layer = %d, %v; want %d", size, err, len(plain))
	}
	lowers, err := s.Lowers(img.chain[0])
	if err != nil {
		t.Fatal(err)
	}
	wantContent(t, lowers[0]+"/z", "zipped")
}

func testMissingParent(t *testing.T, s *Store) {
	img := threeLayers(t)
	if _, err := s.Unpack(t.Context(), img.chain[1], img.chain[0], bytes.NewReader(img.blobs[1])); err != nil {
		t.Fatalf("Unpack before its parent: %v", err)
	}
	if !s.Has(img.chain[1]) || s.Has(img.chain[0]) {
		t.Fatal("Has: want the child and not the parent")
	}
	_, err := s.Lowers(img.chain[1])
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), string(img.chain[0])) {
		t.Errorf("Lowers without the parent: %v, want ErrNotFound naming the parent", err)
	}
	if _, err := s.Prepare("x", img.chain[1]); !errdefs.IsNotFound(err) {
		t.Errorf("Prepare without the parent: %v, want ErrNotFound", err)
	}
	if _, err := s.ActiveMount("x"); !errdefs.IsNotFound(err) {
		t.Errorf("a failed Prepare left an active snapshot: %v", err)
	}
	img.unpack(t, s)
	if l, err := s.Lowers(img.chain[1]); err != nil || len(l) != 2 {
		t.Errorf("Lowers = %q, %v; want 2", l, err)
	}
}

func testHostileLayer(t *testing.T, s *Store) {
	for name, blob := range map[string][]byte{
		"dotdot":    layerTar(t, file("ok", "ok"), file("../evil", "evil")),
		"hardlink":  layerTar(t, file("ok", "ok"), entry{name: "h", typ: '1', link: "../../../../etc/passwd"}),
		"whiteout":  layerTar(t, file("ok", "ok"), file("../.wh.salt", "")),
		"truncated": layerTar(t, file("ok", strings.Repeat("x", 2000)))[:1000],
	} {
		t.Run(name, func(t *testing.T) {
			id := digest.Canonical.FromBytes(blob)
			if _, err := s.Unpack(t.Context(), id, "", bytes.NewReader(blob)); err == nil {
				t.Fatal("Unpack succeeded")
			} else {
				t.Log(err)
			}
			if s.Has(id) {
				t.Error("Has after a failed Unpack")
			}
			if l := leftovers(t, s); len(l) != 0 {
				t.Errorf("leftovers: %q", l)
			}
			if got := names(t, filepath.Join(s.Root(), layersDir)); len(got) != 0 {
				t.Errorf("layers/ holds %q", got)
			}
			filepath.WalkDir(s.Root(), func(p string, d os.DirEntry, err error) error {
				if d != nil && d.Name() == "evil" {
					t.Errorf("%s written", p)
				}
				return nil
			})
			if _, err := os.Stat(filepath.Join(s.Root(), saltFile)); err != nil {
				t.Error(err)
			}
		})
	}
}

func testWrongChainID(t *testing.T, s *Store) {
	img := threeLayers(t)
	other := digest.Canonical.FromString("not this layer")
	for _, tc := range []struct {
		name          string
		chain, parent digest.Digest
		blob          []byte
	}{
		{"bottom", other, "", img.blobs[0]},
		{"wrong parent", img.chain[1], other, img.blobs[1]},
		{"no parent", img.chain[1], "", img.blobs[1]},
		{"other content", img.chain[1], img.chain[0], img.blobs[2]},
	} {
		_, err := s.Unpack(t.Context(), tc.chain, tc.parent, bytes.NewReader(tc.blob))
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: Unpack = %v, want ErrInvalidArgument", tc.name, err)
		}
		if s.Has(tc.chain) {
			t.Errorf("%s: the layer is there", tc.name)
		}
	}
	if l := leftovers(t, s); len(l) != 0 {
		t.Errorf("leftovers: %q", l)
	}
}

func testRemove(t *testing.T, s *Store) {
	img := threeLayers(t)
	img.unpack(t, s)
	if err := s.Remove(img.chain[0]); !errdefs.IsConflict(err) {
		t.Errorf("Remove of a parent: %v, want ErrConflict", err)
	}
	if _, err := s.Prepare("c", img.top()); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(img.top()); !errdefs.IsConflict(err) {
		t.Errorf("Remove of an active snapshot's layer: %v, want ErrConflict", err)
	}
	if !s.Has(img.top()) || !s.Has(img.chain[0]) {
		t.Fatal("a refused Remove removed")
	}
	if err := s.RemoveActive("c"); err != nil {
		t.Fatal(err)
	}
	for i := len(img.chain) - 1; i >= 0; i-- {
		if err := s.Remove(img.chain[i]); err != nil {
			t.Fatal(err)
		}
		if s.Has(img.chain[i]) {
			t.Errorf("Has(layer %d) after Remove", i)
		}
		if err := s.Remove(img.chain[i]); err != nil {
			t.Errorf("Remove again: %v", err)
		}
	}
	if _, err := s.Size(img.chain[0]); !errdefs.IsNotFound(err) {
		t.Errorf("Size after Remove: %v, want ErrNotFound", err)
	}
	if got := names(t, filepath.Join(s.Root(), linksDir)); len(got) != 0 {
		t.Errorf("short links left: %q", got)
	}
	if l := leftovers(t, s); len(l) != 0 {
		t.Errorf("leftovers: %q", l)
	}
	// Unpacked again after removal.
	if read := img.unpack(t, s); read[0] == 0 {
		t.Error("Unpack after Remove read nothing")
	}
}

func testWalkUsage(t *testing.T, s *Store) {
	if u, err := s.Usage(); err != nil || u != 0 {
		t.Errorf("Usage of an empty store = %d, %v", u, err)
	}
	img := threeLayers(t)
	img.unpack(t, s)
	type layer struct {
		parent digest.Digest
		size   int64
	}
	want := map[digest.Digest]layer{}
	var total int64
	for i, b := range img.blobs {
		want[img.chain[i]] = layer{img.parent(i), int64(len(b))}
		total += int64(len(b))
	}
	got := map[digest.Digest]layer{}
	var order []digest.Digest
	err := s.Walk(func(id, parent digest.Digest, size int64) error {
		got[id] = layer{parent, size}
		order = append(order, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Walk = %v, want %v", got, want)
	}
	if !slices.IsSorted(order) {
		t.Errorf("Walk order %v, want sorted", order)
	}
	if u, err := s.Usage(); err != nil || u != total {
		t.Errorf("Usage = %d, %v; want %d", u, err, total)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(func(_, _ digest.Digest, _ int64) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Walk with an error: %v after %d calls", err, calls)
	}
}

func testReopen(t *testing.T, s *Store) {
	img := threeLayers(t)
	img.unpack(t, s)
	if _, err := s.Prepare("c", img.top()); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Lowers(img.top())
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	after, err := s2.Lowers(img.top())
	if err != nil || !slices.Equal(before, after) {
		t.Errorf("Lowers after reopening = %q, %v; want %q", after, err, before)
	}
	m, err := s2.ActiveMount("c")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, m)
	wantContent(t, root+"/opq/fresh", "fresh")
}

func testBadNames(t *testing.T, s *Store) {
	for _, id := range []digest.Digest{"", "sha256:../../x", "sha512:" + digest.Digest(strings.Repeat("a", 128)), "sha256:" + digest.Digest(strings.Repeat("A", 64))} {
		if _, err := s.Unpack(t.Context(), id, "", bytes.NewReader(nil)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Unpack(%q): %v, want ErrInvalidArgument", id, err)
		}
		if s.Has(id) {
			t.Errorf("Has(%q)", id)
		}
		if err := s.Remove(id); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Remove(%q): %v, want ErrInvalidArgument", id, err)
		}
	}
	for _, key := range []string{"", ".", "..", "../x", "a/b", ".hidden", "-x", "a,b", "a:b", strings.Repeat("k", 129)} {
		if _, err := s.Prepare(key, ""); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Prepare(%q): %v, want ErrInvalidArgument", key, err)
		}
		if err := s.RemoveActive(key); !errdefs.IsInvalidArgument(err) {
			t.Errorf("RemoveActive(%q): %v, want ErrInvalidArgument", key, err)
		}
	}
	if _, err := s.Prepare(strings.Repeat("k", 128), ""); err != nil {
		t.Errorf("Prepare with a 128-character key: %v", err)
	}
}

// testDeepImage mounts an image of 120 layers.
func testDeepImage(t *testing.T, s *Store) {
	const n = 120
	var layers [][]byte
	for i := range n {
		layers = append(layers, layerTar(t, file(fmt.Sprintf("f%03d", i), "x"), file("top", fmt.Sprint(i))))
	}
	img := newImage(layers...)
	img.unpack(t, s)
	key := strings.Repeat("k", 128) // the longest key
	m, err := s.Prepare(key, img.top())
	if err != nil {
		t.Fatal(err)
	}
	if m.Type == "overlay" {
		opts := strings.Join(m.Options, ",")
		lowers, _ := s.Lowers(img.top())
		long := strings.Join(lowers, ":") + ",upperdir=" + filepath.Join(s.Root(), activeDir, key, upperDir) + ",workdir=" + filepath.Join(s.Root(), activeDir, key, workDir)
		t.Logf("%d layers: %d bytes of mount options (%d with absolute paths)", n, len(opts), len(long))
		if len(opts) >= 4096 {
			t.Errorf("%d bytes of mount options", len(opts))
		}
	}
	root := mountAt(t, m)
	wantContent(t, root+"/top", fmt.Sprint(n-1))
	if got := len(names(t, root)); got != n+1 {
		t.Errorf("%d entries in the root, want %d", got, n+1)
	}
}

// testUmask: a container's root directory is 0755 whatever the daemon's
// umask, so that its non-root users can reach their files.
func testUmask(t *testing.T, s *Store) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	img := newImage(layerTar(t, file("f", "x"))) // no "./" entry
	img.unpack(t, s)
	for _, parent := range []digest.Digest{img.top(), ""} {
		key := "u" + fmt.Sprint(parent == "")
		m, err := s.Prepare(key, parent)
		if err != nil {
			t.Fatal(err)
		}
		root := mountAt(t, m)
		st, err := os.Stat(root)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("parent %q: root directory mode %v, want 0755", parent, st.Mode().Perm())
		}
	}
}

// A volatile mount holds the same view, and the layer can be mounted again
// after it (the kernel's mark is cleared), volatile or not.
func testVolatile(t *testing.T, s *Store) {
	img := threeLayers(t)
	img.unpack(t, s)
	m, err := s.Prepare("v", img.top())
	if err != nil {
		t.Fatal(err)
	}
	m.Volatile()
	root := mountAt(t, m)
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	// Every kernel berth is tested on (Debian 12's 6.1 and later) has it
	// (shown as "volatile", or "fsync=volatile" since 6.5).
	if l := mountLine(string(b), root); !strings.Contains(l, "volatile") {
		t.Errorf("mount without the volatile option: %q", l)
	}
	wantContent(t, root+"/etc/hostname", "L1")
	if err := os.WriteFile(root+"/etc/hostname", []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unmount(root); err != nil {
		t.Fatal(err)
	}
	for _, volatile := range []bool{false, true} {
		m, err := s.ActiveMount("v")
		if err != nil {
			t.Fatal(err)
		}
		if volatile {
			m.Volatile()
		}
		root := mountAt(t, m)
		wantContent(t, root+"/etc/hostname", "mine")
		if err := unmount(root); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveActive("v"); err != nil {
		t.Fatal(err)
	}
}

func mountLine(mountinfo, target string) string {
	for _, l := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == target {
			return l
		}
	}
	return ""
}

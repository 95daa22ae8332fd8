package snapshot

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// entry is one tar entry of a test layer. The type is guessed from the
// fields unless set: a name ending in "/" is a directory, a link a symlink.
type entry struct {
	name  string
	body  string
	link  string
	typ   byte
	mode  int64
	xattr map[string]string
}

func dir(name string) entry        { return entry{name: name + "/", typ: tar.TypeDir} }
func file(name, body string) entry { return entry{name: name, body: body} }

// layerTar builds an uncompressed layer tar.
func layerTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
			if e.link != "" {
				hdr.Typeflag = tar.TypeSymlink
			}
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
			if hdr.Typeflag == tar.TypeDir {
				hdr.Mode = 0o755
			}
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		for k, v := range e.xattr {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// image is a stack of test layers: blobs (as they would come from a
// registry, possibly compressed), their diff IDs and chain IDs.
type image struct {
	blobs   [][]byte
	diffIDs []digest.Digest
	chain   []digest.Digest
}

// newImage makes an image of uncompressed layer tars.
func newImage(layers ...[]byte) image {
	var img image
	for _, l := range layers {
		img.blobs = append(img.blobs, l)
		img.diffIDs = append(img.diffIDs, digest.Canonical.FromBytes(l))
	}
	img.chain = ChainIDs(img.diffIDs)
	return img
}

func (img image) parent(i int) digest.Digest {
	if i == 0 {
		return ""
	}
	return img.chain[i-1]
}

func (img image) top() digest.Digest { return img.chain[len(img.chain)-1] }

// unpack unpacks the image's layers in order and returns how many bytes
// each Unpack read from its blob.
func (img image) unpack(t testing.TB, s *Store) []int64 {
	t.Helper()
	read := make([]int64, len(img.blobs))
	for i, b := range img.blobs {
		cr := &countingReader{r: bytes.NewReader(b)}
		if _, err := s.Unpack(t.Context(), img.chain[i], img.parent(i), cr); err != nil {
			t.Fatalf("Unpack layer %d: %v", i, err)
		}
		read[i] = cr.n.Load()
	}
	return read
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r    io.Reader
	n    atomic.Int64
	gate <-chan struct{} // if set, the first Read waits for it to close
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.gate != nil {
		<-c.gate
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// mountAt mounts m on a new directory, unmounted when the test ends (if the
// test has not done it).
func mountAt(t *testing.T, m *Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := m.MountAt(target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount(target) })
	return target
}

func unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == unix.EINVAL { // not mounted (any more)
		return nil
	}
	return err
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantContent(t *testing.T, p, want string) {
	t.Helper()
	if got := readFile(t, p); got != want {
		t.Errorf("%s = %q, want %q", p, got, want)
	}
}

func wantAbsent(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: want it absent, got %v", p, err)
	}
}

// names lists a directory, "" for an empty one.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// leftovers lists what the store has in tmp/, trash/ and layers/ besides whole
// layers (names of complete layers are left out).
func leftovers(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	s.WaitRemovals()
	for _, n := range names(t, filepath.Join(s.Root(), tmpDir)) {
		out = append(out, "tmp/"+n)
	}
	for _, n := range names(t, filepath.Join(s.Root(), trashDir)) {
		out = append(out, "trash/"+n)
	}
	for _, n := range names(t, filepath.Join(s.Root(), layersDir)) {
		if !s.complete(n) {
			out = append(out, "layers/"+n)
		}
	}
	return out
}

// tarNames lists the entry names of a (possibly compressed) tar.
func tarNames(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	r := io.Reader(bytes.NewReader(b))
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	out := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[hdr.Name] = hdr
	}
}

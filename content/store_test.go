package content

import (
	"bytes"
	"context"
	"crypto/sha512"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/opencontainers/go-digest"
)

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// randomBytes returns n pseudo-random bytes, the same for the same seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha512Of(b []byte) digest.Digest {
	h := sha512.Sum512(b)
	return digest.NewDigestFromBytes(digest.SHA512, h[:])
}

// onlyReader hides everything but Read (bytes.Reader's WriteTo, in
// particular), so io.Copy goes through Writer.ReadFrom.
type onlyReader struct{ io.Reader }

// listDir returns the names in dir, sorted.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// blobs returns every blob the store has, sorted.
func blobs(t testing.TB, s *Store) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	if err := s.Walk(func(d digest.Digest, _ int64) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

// assertClean checks that the store holds exactly want and that no
// ingest file is left.
func assertClean(t testing.TB, s *Store, root string, want ...digest.Digest) {
	t.Helper()
	if got := listDir(t, filepath.Join(root, "ingest")); len(got) != 0 {
		t.Errorf("ingest files left: %v", got)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	got := blobs(t, s)
	if len(got) != len(want) {
		t.Fatalf("blobs = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("blobs = %v, want %v", got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	big := randomBytes(1, 3<<20+17) // more than one ReadFrom buffer, not a multiple
	tests := []struct {
		name     string
		data     []byte
		expected digest.Digest // "" to let the store compute it
		size     int64
		via      string // "Write" (one call), "ReadFrom" (io.Copy), "Put"
	}{
		{"empty", nil, digest.FromBytes(nil), 0, "Put"},
		{"small known", []byte(`{"schemaVersion":2}`), digest.FromString(`{"schemaVersion":2}`), 19, "Write"},
		{"small unknown", []byte("hello"), "", -1, "Write"},
		{"big known", big, digest.FromBytes(big), int64(len(big)), "ReadFrom"},
		{"big unknown digest", big, "", int64(len(big)), "ReadFrom"},
		{"big unknown size", big, digest.FromBytes(big), -1, "Put"},
		{"sha512", big, sha512Of(big), int64(len(big)), "ReadFrom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			want := tt.expected
			if want == "" {
				want = digest.FromBytes(tt.data)
			}
			var got digest.Digest
			switch tt.via {
			case "Put":
				d, n, err := s.Put(ctx, onlyReader{bytes.NewReader(tt.data)}, tt.expected, tt.size)
				if err != nil {
					t.Fatal(err)
				}
				if n != int64(len(tt.data)) {
					t.Errorf("Put size = %d, want %d", n, len(tt.data))
				}
				got = d
			default:
				w, err := s.Writer(ctx, tt.expected, tt.size)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				if tt.via == "Write" {
					_, err = w.Write(tt.data)
				} else {
					_, err = io.Copy(w, onlyReader{bytes.NewReader(tt.data)})
				}
				if err != nil {
					t.Fatal(err)
				}
				info, existed, err := w.Commit()
				if err != nil {
					t.Fatal(err)
				}
				if existed {
					t.Error("existed = true for a new blob")
				}
				if info.Size != int64(len(tt.data)) {
					t.Errorf("Commit size = %d, want %d", info.Size, len(tt.data))
				}
				got = info.Digest
			}
			if got != want {
				t.Fatalf("digest = %s, want %s", got, want)
			}
			assertClean(t, s, root, want)

			// On disk where the layout says, read-only.
			fi, err := os.Stat(filepath.Join(root, "blobs", string(want.Algorithm()), want.Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o444 {
				t.Errorf("mode = %v, want 0444", fi.Mode().Perm())
			}

			if !s.Has(want) {
				t.Error("Has = false")
			}
			info, err := s.Info(want)
			if err != nil || info.Size != int64(len(tt.data)) || info.Digest != want || info.ModTime.IsZero() {
				t.Errorf("Info = %+v, %v", info, err)
			}
			ra, err := s.ReaderAt(want)
			if err != nil {
				t.Fatal(err)
			}
			if ra.Size() != int64(len(tt.data)) {
				t.Errorf("ReaderAt.Size = %d, want %d", ra.Size(), len(tt.data))
			}
			b, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
			ra.Close()
			if err != nil || !bytes.Equal(b, tt.data) {
				t.Errorf("ReaderAt read %d bytes (%v), want the %d written", len(b), err, len(tt.data))
			}
			rc, err := s.Open(want)
			if err != nil {
				t.Fatal(err)
			}
			b, err = io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(b, tt.data) {
				t.Errorf("Open read %d bytes (%v), want the %d written", len(b), err, len(tt.data))
			}
			b, err = s.ReadAll(want, int64(len(tt.data)))
			if err != nil || !bytes.Equal(b, tt.data) {
				t.Errorf("ReadAll read %d bytes (%v), want the %d written", len(b), err, len(tt.data))
			}
			if err := s.Verify(want); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestOpenRemovesOrphanIngests(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := s.PutBytes(context.Background(), []byte("committed"), "")
	if err != nil {
		t.Fatal(err)
	}
	// A write in progress when the process "died" (never closed), and
	// leftovers of other shapes.
	w, err := s.Writer(context.Background(), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(3, 1<<20))
	w.f.Close() // the process is gone; its file stays
	if err := os.WriteFile(filepath.Join(root, "ingest", "stale"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "ingest", "dir", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if n := len(listDir(t, filepath.Join(root, "ingest"))); n != 3 {
		t.Fatalf("%d ingest entries before reopening, want 3", n)
	}

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, s2, root, kept)
}

func TestOpenCreatesLayout(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "content")
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"blobs/sha256", "ingest"} {
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", dir, err)
		}
	}
	if _, err := Open(""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf(`Open("") = %v, want ErrInvalidArgument`, err)
	}
}

func TestMalformedDigests(t *testing.T) {
	hex64 := strings.Repeat("a", 64)
	bad := []string{
		"",
		"sha256",
		"sha256:",
		"sha256:../../x",
		"sha256:../../../../etc/passwd",
		"sha256:" + hex64[:62] + "/.",
		"sha256:" + strings.Repeat("A", 64), // uppercase
		"SHA256:" + hex64,
		"sha256:" + hex64[:63],     // short
		"sha256:" + hex64 + "a",    // long
		"sha256:" + hex64 + "\x00", // NUL
		"sha256:" + hex64[:63] + "g",
		"sha256:" + hex64 + "/",
		"sha512:" + hex64, // wrong length for sha512
		"sha384:" + strings.Repeat("a", 96),
		"md5:" + strings.Repeat("a", 32),
		"../sha256:" + hex64,
		"sha256::" + hex64[:63],
		":" + hex64,
		hex64,
	}
	s, root := newStore(t)
	// A file a traversal would find, to be sure nothing reaches it.
	if err := os.WriteFile(filepath.Join(root, "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(digest.Digest) error{
		"Writer": func(d digest.Digest) error { _, err := s.Writer(context.Background(), d, -1); return err },
		"Put": func(d digest.Digest) error {
			_, _, err := s.Put(context.Background(), strings.NewReader("x"), d, -1)
			return err
		},
		"Info":     func(d digest.Digest) error { _, err := s.Info(d); return err },
		"ReaderAt": func(d digest.Digest) error { _, err := s.ReaderAt(d); return err },
		"Open":     func(d digest.Digest) error { _, err := s.Open(d); return err },
		"ReadAll":  func(d digest.Digest) error { _, err := s.ReadAll(d, 1<<20); return err },
		"Verify":   func(d digest.Digest) error { return s.Verify(d) },
		"Delete":   func(d digest.Digest) error { return s.Delete(d) },
	}
	for _, b := range bad {
		d := digest.Digest(b)
		if d == "" {
			continue // "" means "unknown" to Writer and Put; checked below
		}
		for name, op := range ops {
			if err := op(d); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%s(%q) = %v, want ErrInvalidArgument", name, d, err)
			}
		}
		if s.Has(d) {
			t.Errorf("Has(%q) = true", d)
		}
	}
	for name, op := range ops {
		if name == "Writer" || name == "Put" {
			continue
		}
		if err := op(""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf(`%s("") = %v, want ErrInvalidArgument`, name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "x")); err != nil {
		t.Errorf("the file outside blobs/ is gone: %v", err)
	}
	assertClean(t, s, root)
}

func TestNotFound(t *testing.T) {
	s, _ := newStore(t)
	d := digest.FromString("never stored")
	for name, err := range map[string]error{
		"Info":     func() error { _, err := s.Info(d); return err }(),
		"ReaderAt": func() error { _, err := s.ReaderAt(d); return err }(),
		"Open":     func() error { _, err := s.Open(d); return err }(),
		"ReadAll":  func() error { _, err := s.ReadAll(d, 10); return err }(),
		"Verify":   s.Verify(d),
		"Delete":   s.Delete(d),
	} {
		if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), string(d)) {
			t.Errorf("%s = %v, want ErrNotFound naming the digest", name, err)
		}
	}
	if s.Has(d) {
		t.Error("Has = true")
	}
}

func TestWalkUsageDelete(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	sizes := map[digest.Digest]int64{}
	var total int64
	for i, n := range []int{0, 1, 100, 4096, 1 << 20} {
		d, size, err := s.Put(ctx, bytes.NewReader(randomBytes(uint64(10+i), n)), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		sizes[d] = size
		total += size
	}
	sha512Data := []byte("a sha512 blob")
	d512, err := s.PutBytes(ctx, sha512Data, sha512Of(sha512Data))
	if err != nil {
		t.Fatal(err)
	}
	sizes[d512] = int64(len(sha512Data))
	total += int64(len(sha512Data))
	// Junk under blobs/ is not a blob.
	os.WriteFile(filepath.Join(root, "blobs", "sha256", "not-a-digest"), nil, 0o600)
	os.Mkdir(filepath.Join(root, "blobs", "sha256", strings.Repeat("b", 64)), 0o700)
	os.Mkdir(filepath.Join(root, "blobs", "md5"), 0o700)

	seen := map[digest.Digest]int64{}
	if err := s.Walk(func(d digest.Digest, size int64) error { seen[d] = size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(sizes) {
		t.Errorf("Walk saw %d blobs, want %d: %v", len(seen), len(sizes), seen)
	}
	for d, size := range sizes {
		if seen[d] != size {
			t.Errorf("Walk: %s size %d, want %d", d, seen[d], size)
		}
	}
	if u, err := s.Usage(); err != nil || u != total {
		t.Errorf("Usage = %d, %v; want %d", u, err, total)
	}

	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(func(digest.Digest, int64) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Walk returned %v after %d calls, want fn's error after 1", err, calls)
	}

	for d := range sizes {
		// A reader opened before Delete keeps its bytes.
		ra, err := s.ReaderAt(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(d); err != nil {
			t.Fatal(err)
		}
		if s.Has(d) {
			t.Errorf("Has(%s) after Delete", d)
		}
		if _, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size())); err != nil {
			t.Errorf("reading an open, deleted blob: %v", err)
		}
		ra.Close()
		if err := s.Delete(d); !errdefs.IsNotFound(err) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}
	}
	if u, err := s.Usage(); err != nil || u != 0 {
		t.Errorf("Usage after deleting all = %d, %v", u, err)
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(path string) error
	}{
		{"flipped byte", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte{'X'}, 3)
			return err
		}},
		{"truncated", func(p string) error { return os.Truncate(p, 2) }},
		{"appended", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("tail"))
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			d, err := s.PutBytes(context.Background(), []byte(`{"config":{}}`), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(d); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, "blobs", "sha256", d.Encoded())
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tt.corrupt(p); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(d); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), string(d)) {
				t.Errorf("Verify = %v, want ErrCorrupt naming the blob", err)
			}
			if _, err := s.ReadAll(d, 1<<20); !errors.Is(err, ErrCorrupt) {
				t.Errorf("ReadAll = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestReadAllLimit(t *testing.T) {
	s, _ := newStore(t)
	data := []byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	d, err := s.PutBytes(context.Background(), data, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		limit int64
		ok    bool
	}{
		{int64(len(data)), true},
		{int64(len(data)) + 1, true},
		{1 << 20, true},
		{int64(len(data)) - 1, false},
		{0, false},
	} {
		b, err := s.ReadAll(d, tt.limit)
		if tt.ok && (err != nil || !bytes.Equal(b, data)) {
			t.Errorf("ReadAll(limit %d) = %q, %v", tt.limit, b, err)
		}
		if !tt.ok && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ReadAll(limit %d) = %v, want ErrInvalidArgument", tt.limit, err)
		}
	}
}

// ReadFrom with readers that return odd amounts, or data together with EOF.

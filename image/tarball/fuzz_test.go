package tarball

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// memStore is a BlobStore in memory, for fuzzing.
type memStore struct {
	mu    sync.Mutex
	blobs map[digest.Digest][]byte
}

func (m *memStore) Put(ctx context.Context, r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, size+1))
	if err != nil {
		return "", 0, err
	}
	if int64(len(b)) != size {
		return "", 0, fmt.Errorf("got %d bytes, expected %d: %w", len(b), size, errdefs.ErrInvalidArgument)
	}
	d := digest.FromBytes(b)
	if expected != "" {
		if expected.Algorithm() != digest.SHA256 {
			return "", 0, fmt.Errorf("algorithm %s: %w", expected.Algorithm(), errdefs.ErrNotImplemented)
		}
		if d != expected {
			return "", 0, fmt.Errorf("content is %s, expected %s: %w", d, expected, errdefs.ErrInvalidArgument)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[d] = b
	return d, size, nil
}

func (m *memStore) Open(d digest.Digest) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func FuzzRead(f *testing.F) {
	img := twoLayerImage(f, "fuzz")
	img.tags = []string{"app:1"}
	f.Add(mkTar(f, dockerFiles(f, img)...))
	f.Add(mkTar(f, ociFiles(f, []testImage{img}, []map[string]string{{ocispec.AnnotationRefName: "app:1"}})...))
	s := &memStore{blobs: map[digest.Digest][]byte{}}
	a := mustRead(f, s, mkTar(f, dockerFiles(f, img)...))
	f.Add(writeArchive(f, s, a.Images))

	f.Fuzz(func(t *testing.T, b []byte) {
		s := &memStore{blobs: map[digest.Digest][]byte{}}
		a, err := Read(context.Background(), bytes.NewReader(b), s)
		if a == nil {
			t.Fatal("nil Archive")
		}
		var all []digest.Digest
		for d := range s.blobs {
			all = append(all, d)
		}
		slices.Sort(all)
		if err != nil {
			if !slices.Equal(sorted(a.Unreferenced), all) {
				t.Fatalf("error %v: Unreferenced %v, store %v", err, a.Unreferenced, all)
			}
			return
		}
		// What Read accepts, Write writes and Read reads back the same.
		var buf bytes.Buffer
		if err := Write(context.Background(), &buf, s, a.Images); err != nil {
			// A tag Read found on two images is refused by Write.
			t.Skipf("Write: %v", err)
		}
		again, err := Read(context.Background(), &buf, &memStore{blobs: map[digest.Digest][]byte{}})
		if err != nil {
			t.Fatalf("Read of Write's archive: %v", err)
		}
		if len(again.Images) != len(a.Images) {
			t.Fatalf("%d images read back, want %d", len(again.Images), len(a.Images))
		}
	})
}

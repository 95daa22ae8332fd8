package content

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/opencontainers/go-digest"
)

// ErrCorrupt is wrapped by the errors of Verify and ReadAll when a stored
// blob's bytes no longer hash to its digest (the disk or someone outside
// berth changed it). It is deliberately not an errdefs class: to a client it
// is an internal error. Repair by Delete and fetching or loading the blob
// again.
var ErrCorrupt = errors.New("blob content does not match its digest")

// Store is a directory of digest-addressed blobs. It is safe for concurrent
// use by many goroutines, including concurrent writers of the same blob.
//
// Lifecycle of a blob:
//
//	w, err := s.Writer(ctx, dgst, size)  // dgst may be "", size may be -1
//	defer w.Close()                      // discards, unless committed
//	io.Copy(w, r)                        // hashed while written to ingest/
//	info, existed, err := w.Commit()     // checked, fsynced, linked into blobs/
//	...
//	ra, err := s.ReaderAt(dgst)          // read it, as often as wanted
//	...
//	s.Delete(dgst)                       // when package image no longer wants it
type Store struct {
	root   string
	blobs  string // <root>/blobs
	ingest string // <root>/ingest
}

// Info describes a committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time // when its bytes were written
}

// ReaderAt reads a committed blob at any offset. Close it when done.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's length in bytes.
	Size() int64
}

// Open opens (creating if needed) the store rooted at root, and removes every
// file left in <root>/ingest by a process that died mid-write.
//
// Call Open once per root, when the daemon starts: a second Store opened on a
// root that another Store in use is writing to would delete that Store's
// writes in progress.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, fmt.Errorf("content store root is empty: %w", errdefs.ErrInvalidArgument)
	}
	root = filepath.Clean(root)
	s := &Store{
		root:   root,
		blobs:  filepath.Join(root, "blobs"),
		ingest: filepath.Join(root, "ingest"),
	}
	for _, dir := range []string{filepath.Join(s.blobs, string(digest.SHA256)), s.ingest} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content store %s: %w", root, err)
		}
	}
	if err := s.removeIngests(); err != nil {
		return nil, fmt.Errorf("content store %s: removing unfinished writes: %w", root, err)
	}
	return s, nil
}

// removeIngests deletes everything in <root>/ingest.
func (s *Store) removeIngests() error {
	entries, err := os.ReadDir(s.ingest)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.ingest, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// blobPath returns the path of dgst's blob, after validating dgst.
func (s *Store) blobPath(dgst digest.Digest) (string, error) {
	alg, hex, err := validate(dgst)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.blobs, alg, hex), nil
}

// notFound turns a missing file into errdefs.ErrNotFound, naming the blob.
func notFound(dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", dgst, errdefs.ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", dgst, err)
}

// Info returns the size and commit time of the blob dgst.
func (s *Store) Info(dgst digest.Digest) (Info, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound(dgst, err)
	}
	return Info{Digest: dgst, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Has reports whether the blob dgst is in the store. A malformed digest is
// never in the store.
func (s *Store) Has(dgst digest.Digest) bool {
	_, err := s.Info(dgst)
	return err == nil
}

type blobReader struct {
	*os.File
	size int64
}

func (r blobReader) Size() int64 { return r.size }

// ReaderAt opens the blob dgst for reading at any offset.
func (s *Store) ReaderAt(dgst digest.Digest) (ReaderAt, error) {
	f, err := s.openBlob(dgst)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", dgst, err)
	}
	return blobReader{File: f, size: fi.Size()}, nil
}

// Open opens the blob dgst for reading from the start. The bytes are not
// re-hashed as they are read; see Verify.
func (s *Store) Open(dgst digest.Digest) (io.ReadCloser, error) {
	return s.openBlob(dgst)
}

func (s *Store) openBlob(dgst digest.Digest) (*os.File, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(dgst, err)
	}
	return f, nil
}

// ReadAll returns the whole blob dgst, which must be at most limit bytes
// (otherwise the error wraps errdefs.ErrInvalidArgument). It is meant for
// small JSON blobs (manifests, indexes, configs), and because hashing them is
// cheap and they are what everything else is trusted through, it verifies
// them: bytes that no longer match dgst give an error wrapping ErrCorrupt.
func (s *Store) ReadAll(dgst digest.Digest, limit int64) ([]byte, error) {
	f, err := s.openBlob(dgst)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", dgst, err)
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, over the limit of %d: %w", dgst, fi.Size(), limit, errdefs.ErrInvalidArgument)
	}
	// Read one byte past the limit, in case the file grew since Stat.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("blob %s: %w", dgst, err)
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s is over the limit of %d bytes: %w", dgst, limit, errdefs.ErrInvalidArgument)
	}
	h := newHash(dgst.Algorithm())
	h.Write(b)
	if got := digest.NewDigest(dgst.Algorithm(), h); got != dgst {
		return nil, fmt.Errorf("blob %s: bytes hash to %s: %w", dgst, got, ErrCorrupt)
	}
	return b, nil
}

// Verify re-hashes the blob dgst and returns an error wrapping ErrCorrupt if
// its bytes no longer match. It reads the whole blob; reads do not do this.
func (s *Store) Verify(dgst digest.Digest) error {
	f, err := s.openBlob(dgst)
	if err != nil {
		return err
	}
	defer f.Close()
	h := newHash(dgst.Algorithm())
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("blob %s: %w", dgst, err)
	}
	if got := digest.NewDigest(dgst.Algorithm(), h); got != dgst {
		return fmt.Errorf("blob %s: bytes hash to %s: %w", dgst, got, ErrCorrupt)
	}
	return nil
}

// Delete removes the blob dgst. Readers that already have it open keep
// reading it. Deleting a missing blob gives an error wrapping
// errdefs.ErrNotFound.
func (s *Store) Delete(dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(dgst, err)
	}
	return nil
}

// Walk calls fn with the digest and size of every committed blob, in no
// particular order, and stops at the first error fn returns (which Walk
// returns). Blobs committed or deleted during the walk may or may not be seen.
// Files under blobs/ that are not named like a blob are skipped.
func (s *Store) Walk(fn func(dgst digest.Digest, size int64) error) error {
	for _, alg := range algorithms {
		dir := filepath.Join(s.blobs, alg.name)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("content store %s: %w", s.root, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !alg.validHex(e.Name()) {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			}
			if err != nil {
				return fmt.Errorf("content store %s: %w", s.root, err)
			}
			if err := fn(digest.NewDigestFromEncoded(digest.Algorithm(alg.name), e.Name()), fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Usage returns the total size in bytes of all committed blobs (their
// length, not the disk blocks they occupy).
func (s *Store) Usage() (int64, error) {
	var total int64
	err := s.Walk(func(_ digest.Digest, size int64) error {
		total += size
		return nil
	})
	return total, err
}

// syncDir fsyncs a directory, making the creation, rename or removal of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/berth-dev/berth/errdefs"
	"github.com/opencontainers/go-digest"
)

// Writer ingests one blob: bytes go to a private file under <root>/ingest and
// are hashed on the way; Commit checks them and makes them a blob.
//
// Lifecycle: Writer -> Write/ReadFrom ... -> Commit -> Close. Always Close
// (defer it): after a Commit it does nothing, otherwise it discards the
// bytes. Commit ends the Writer whether it succeeds or not, and a Commit that
// fails leaves the store as it was.
//
// A Writer is for one goroutine; any number of Writers, of the same blob or of
// different ones, may run at once.
type Writer struct {
	s        *Store
	ctx      context.Context
	expected digest.Digest // "" if unknown
	size     int64         // expected size, -1 if unknown
	alg      digest.Algorithm
	f        *os.File // nil once the Writer has ended
	h        hash.Hash
	n        int64
	err      error // sticky write error
}

// Writer starts writing a blob. expected is its digest, or "" if not known
// (Commit then computes a sha256 digest); expectedSize is its length, or -1 if
// not known. Writing past expectedSize fails at once, so a wrong size cannot
// fill the disk.
//
// ctx cancels the write: Write, ReadFrom and Commit fail once it is done.
//
// Writer does not check whether the blob is already in the store (call Has
// first to skip a download); committing a blob that is there succeeds.
func (s *Store) Writer(ctx context.Context, expected digest.Digest, expectedSize int64) (*Writer, error) {
	alg := digest.Canonical
	if expected != "" {
		if _, _, err := validate(expected); err != nil {
			return nil, err
		}
		alg = expected.Algorithm()
	}
	if expectedSize < -1 {
		return nil, fmt.Errorf("blob size %d: want a length, or -1 if unknown: %w", expectedSize, errdefs.ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.ingest, "")
	if err != nil {
		return nil, fmt.Errorf("content store %s: starting a write: %w", s.root, err)
	}
	return &Writer{
		s:        s,
		ctx:      ctx,
		expected: expected,
		size:     expectedSize,
		alg:      alg,
		f:        f,
		h:        newHash(alg),
	}, nil
}

// name is how errors refer to the blob being written.
func (w *Writer) name() string {
	if w.expected != "" {
		return string(w.expected)
	}
	return "being written"
}

var errEnded = errors.New("blob writer already committed or closed")

// Write writes p to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.write(p)
}

func (w *Writer) write(p []byte) (int, error) {
	if err := w.admit(len(p)); err != nil {
		return 0, err
	}
	w.h.Write(p)
	return w.writeFile(p)
}

// admit checks that n more bytes may be written.
func (w *Writer) admit(n int) error {
	if w.f == nil {
		return errEnded
	}
	if w.err != nil {
		return w.err
	}
	if w.size >= 0 && w.n+int64(n) > w.size {
		w.err = fmt.Errorf("blob %s: more than the expected %d bytes: %w", w.name(), w.size, errdefs.ErrInvalidArgument)
		return w.err
	}
	return nil
}

// writeFile appends admitted bytes, already given to the hash, to the file.
// Should that fail, the Writer is broken: hash and file now disagree.
func (w *Writer) writeFile(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("blob %s: %w", w.name(), err)
	}
	return n, w.err
}

// copyBufSize is ReadFrom's read size: large enough that the hash and the
// write system call, not the loop, set the pace.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// ReadFrom writes everything r yields to the blob, until EOF. io.Copy uses it.
//
// It hashes each chunk on a second goroutine while writing it to the file
// and reading the next, with two buffers, so a large blob is written at
// the speed of the slower of the disk and the hash, not of both in turn.
func (w *Writer) ReadFrom(r io.Reader) (total int64, err error) {
	var bufs [2][]byte
	for i := range bufs {
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		bufs[i] = *bp
	}
	chunks := make(chan []byte)
	hashed := make(chan struct{})
	go func() {
		for c := range chunks {
			w.h.Write(c)
			hashed <- struct{}{}
		}
	}()
	// hashing is true while the hasher has a chunk. Chunk i is read into the
	// buffer of chunk i-2, whose hash was waited for before chunk i-1 was
	// handed over; so Read never fills a buffer the hasher is reading.
	hashing := false
	defer func() {
		if hashing {
			<-hashed
		}
		close(chunks)
	}()
	for i := 0; ; i++ {
		if err := w.ctx.Err(); err != nil {
			return total, err
		}
		buf := bufs[i%2]
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := w.admit(n); err != nil {
				return total, err
			}
			if hashing {
				<-hashed
			}
			chunks <- buf[:n]
			hashing = true
			m, err := w.writeFile(buf[:n])
			total += int64(m)
			if err != nil {
				return total, err
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Digest returns the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return digest.NewDigest(w.alg, w.h) }

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Commit ends the write. It checks the size and digest against those given to
// Writer (a mismatch is an error wrapping errdefs.ErrInvalidArgument that
// names both), fsyncs the bytes, links them into blobs/ and fsyncs that
// directory, so the blob is durable when Commit returns.
//
// If the blob is already in the store, Commit discards its own copy and
// succeeds with existed set; content is immutable, so equal digests are equal
// bytes. Of several Writers committing the same blob at once, exactly one
// reports existed == false.
func (w *Writer) Commit() (info Info, existed bool, err error) {
	if w.f == nil {
		return Info{}, false, errEnded
	}
	defer w.Close() // removes the ingest file, whatever happens
	if w.err != nil {
		return Info{}, false, w.err
	}
	if err := w.ctx.Err(); err != nil {
		return Info{}, false, err
	}
	got := w.Digest()
	if w.size >= 0 && w.n != w.size {
		return Info{}, false, fmt.Errorf("blob %s: got %d bytes, expected %d: %w", w.name(), w.n, w.size, errdefs.ErrInvalidArgument)
	}
	if w.expected != "" && got != w.expected {
		return Info{}, false, fmt.Errorf("blob content is %s, expected %s: %w", got, w.expected, errdefs.ErrInvalidArgument)
	}
	target, err := w.s.blobPath(got)
	if err != nil {
		return Info{}, false, err
	}
	if fi, err := os.Stat(target); err == nil {
		return Info{Digest: got, Size: fi.Size(), ModTime: fi.ModTime()}, true, nil
	}
	if err := w.s.ensureAlgorithmDir(filepath.Dir(target)); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", got, err)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", got, err)
	}
	if err := w.f.Sync(); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: fsync: %w", got, err)
	}
	// link(2), unlike rename(2), fails if the target exists: the blob appears
	// once, and exactly one concurrent committer learns it created it.
	existed, err = publish(w.f.Name(), target)
	if err != nil {
		return Info{}, false, fmt.Errorf("blob %s: %w", got, err)
	}
	if !existed {
		if err := syncDir(filepath.Dir(target)); err != nil {
			return Info{}, false, fmt.Errorf("blob %s: fsync of %s: %w", got, filepath.Dir(target), err)
		}
	}
	fi, err := os.Stat(target)
	if err != nil {
		return Info{}, false, notFound(got, err) // deleted already, by a concurrent Delete
	}
	return Info{Digest: got, Size: fi.Size(), ModTime: fi.ModTime()}, existed, nil
}

// publish makes the ingest file src visible as target without ever replacing
// an existing target, and reports whether target existed. Filesystems without
// hard links fall back to rename, which may replace an existing blob with the
// same bytes: harmless, only existed is then less exact.
func publish(src, target string) (existed bool, err error) {
	err = os.Link(src, target)
	if err == nil {
		return false, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return true, nil
	}
	if rerr := os.Rename(src, target); rerr != nil {
		return false, err
	}
	return false, nil
}

// ensureAlgorithmDir creates blobs/<alg> if it is missing (only sha512's can
// be: Open creates sha256's), durably.
func (s *Store) ensureAlgorithmDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(s.blobs)
}

// Close ends the Writer. If it was not committed, its bytes are discarded.
// Closing an ended Writer does nothing.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	name := w.f.Name()
	err := w.f.Close()
	w.f = nil
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// Put writes the blob r yields and commits it, returning its digest and size.
// expected may be "" and size -1 when not known; see Writer.
func (s *Store) Put(ctx context.Context, r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error) {
	w, err := s.Writer(ctx, expected, size)
	if err != nil {
		return "", 0, err
	}
	defer w.Close()
	if _, err := io.Copy(w, r); err != nil {
		return "", 0, err
	}
	info, _, err := w.Commit()
	if err != nil {
		return "", 0, err
	}
	return info.Digest, info.Size, nil
}

// PutBytes stores p as a blob and returns its digest. expected may be "".
func (s *Store) PutBytes(ctx context.Context, p []byte, expected digest.Digest) (digest.Digest, error) {
	d, _, err := s.Put(ctx, bytes.NewReader(p), expected, int64(len(p)))
	return d, err
}

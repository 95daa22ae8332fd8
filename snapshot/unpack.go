package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// flight is an unpack under way, which other callers of Unpack for the same
// chain ID wait for.
type flight struct {
	done chan struct{}
	size int64
	err  error
}

// Unpack unpacks the layer tar r (plain, gzip or zstd) as the layer chainID
// on top of the chain parent ("" for a bottom layer), and returns the
// layer's size (the length of its uncompressed tar).
//
// A layer is unpacked once. If it is already there, Unpack returns its size
// without reading r. While it is being unpacked by another call in this
// process, Unpack waits for that one and returns its result without reading
// r; should that one fail, Unpack tries with its own r. Another process may
// unpack the same layer at the same time: the first to finish wins.
//
// The parent need not be unpacked yet (overlayfs needs no layer's content to
// unpack another), so an image's layers can be unpacked in parallel; it is
// Lowers and Prepare that need the whole chain.
//
// Unpack checks what it unpacks: the digest of the uncompressed tar (the
// layer's diff ID) on top of parent must give chainID, or the layer is
// refused (ErrInvalidArgument). A layer is shared by every image whose chain
// reaches it, so one image must not be able to put something else there.
//
// The layer appears in one rename once it is whole and synced to disk; a
// failed or interrupted Unpack leaves nothing behind (or, after a crash,
// leftovers in tmp/ that Open removes).
func (s *Store) Unpack(ctx context.Context, chainID, parent digest.Digest, r io.Reader) (int64, error) {
	hex, err := chainHex(chainID)
	if err != nil {
		return 0, err
	}
	if parent != "" {
		if _, err := chainHex(parent); err != nil {
			return 0, fmt.Errorf("layer %s: parent: %w", chainID, err)
		}
		if parent == chainID {
			return 0, fmt.Errorf("layer %s: its own parent: %w", chainID, errdefs.ErrInvalidArgument)
		}
	}
	for {
		f, leader := s.join(chainID)
		if !leader {
			select {
			case <-f.done:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			if f.err == nil {
				return f.size, nil
			}
			continue // it failed: try with our own r
		}
		// Checked as leader, so that a flight that ended just before is
		// seen through the layer it left.
		f.size, f.err = s.readSize(chainID, hex)
		if errdefs.IsNotFound(f.err) {
			f.size, f.err = s.unpack(ctx, chainID, parent, hex, r)
		}
		s.flightMu.Lock()
		delete(s.inflight, chainID)
		s.flightMu.Unlock()
		close(f.done)
		return f.size, f.err
	}
}

// join returns the flight for id, making a new one (leader true) if there
// is none.
func (s *Store) join(id digest.Digest) (f *flight, leader bool) {
	s.flightMu.Lock()
	defer s.flightMu.Unlock()
	if f, ok := s.inflight[id]; ok {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	s.inflight[id] = f
	return f, true
}

func (s *Store) unpack(ctx context.Context, id, parent digest.Digest, hex string, r io.Reader) (size int64, err error) {
	dir, unlock, err := s.tempDir()
	if err != nil {
		return 0, err
	}
	defer unlock()
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	root := filepath.Join(dir, fsDir)
	if err := mkdir(root, 0o755); err != nil { // unless the tar sets it
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}

	// Decompressed here rather than in Apply, to take the diff ID of
	// the plain tar on the way.
	rc, _, err := archive.Decompress(r)
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}
	defer rc.Close()
	d := digest.Canonical.Digester()
	in := io.TeeReader(rc, d.Hash())
	size, err = archive.Apply(ctx, root, in, archive.ApplyOptions{Whiteouts: archive.WhiteoutsOverlay})
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}
	if n, err := io.Copy(io.Discard, in); err != nil || n != 0 { // Apply reads to the end
		return 0, fmt.Errorf("layer %s: %d bytes after the tar (%v): %w", id, n, err, errdefs.ErrInvalidArgument)
	}
	if got := chainID(parent, d.Digest()); got != id {
		on := "as a bottom layer"
		if parent != "" {
			on = "on " + string(parent)
		}
		return 0, fmt.Errorf("layer %s: content with diff ID %s %s is chain %s: %w", id, d.Digest(), on, got, errdefs.ErrInvalidArgument)
	}

	if err := writeFile(filepath.Join(dir, parentFile), string(parent)); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(dir, sizeFile), strconv.FormatInt(size, 10)+"\n"); err != nil {
		return 0, err
	}
	// A layer must not become visible before its files are on disk: it
	// would stay visible, and wrong, after a power cut.
	if err := syncFS(dir); err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}

	dst := s.path(layersDir, hex)
	s.mu.Lock()
	err = os.Rename(dir, dst)
	s.mu.Unlock()
	if isExist(err) && s.complete(hex) {
		// Another process was first: keep its copy.
		os.RemoveAll(dir)
		return s.readSize(id, hex)
	}
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}
	if err := syncDir(s.path(layersDir)); err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}
	if _, err := s.link(hex); err != nil {
		return 0, err
	}
	return size, nil
}

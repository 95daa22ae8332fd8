package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
)

// Prepare makes the active snapshot key, a writable layer on top of the
// chain parent ("" for none: an empty directory), and returns how to mount
// it. Every layer of the chain must be unpacked. A key names one active
// snapshot (ErrAlreadyExists if taken).
func (s *Store) Prepare(key string, parent digest.Digest) (*Mount, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lowers []string
	if parent != "" {
		var err error
		if lowers, err = s.lowers(parent); err != nil {
			return nil, fmt.Errorf("snapshot %q: %w", key, err)
		}
	}
	m, err := s.mount(key, lowers)
	if err != nil {
		return nil, err
	}
	dst := s.path(activeDir, key)
	if _, err := os.Lstat(dst); err == nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
	}
	dir, unlock, err := s.tempDir()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.makeActive(dir, parent, dst); err != nil {
		os.RemoveAll(dir)
		if isExist(err) {
			return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	return m, nil
}

func (s *Store) makeActive(dir string, parent digest.Digest, dst string) error {
	// The upper directory's mode is the container's root directory's.
	if err := mkdir(filepath.Join(dir, upperDir), 0o755); err != nil {
		return err
	}
	if err := mkdir(filepath.Join(dir, workDir), 0o700); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, parentFile), string(parent)); err != nil {
		return err
	}
	if err := os.Rename(dir, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// ActiveMount returns how to mount the active snapshot key again (after a
// restart, say).
func (s *Store) ActiveMount(key string) (*Mount, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path(activeDir, key, parentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	var lowers []string
	if parent := digest.Digest(strings.TrimSpace(string(b))); parent != "" {
		if lowers, err = s.lowers(parent); err != nil {
			return nil, fmt.Errorf("snapshot %q: %w", key, err)
		}
	}
	return s.mount(key, lowers)
}

// mount describes the mount of active snapshot key on the short-linked
// layers lowers (top-most first).
func (s *Store) mount(key string, lowers []string) (*Mount, error) {
	if len(lowers) == 0 {
		return &Mount{Type: "bind", Source: s.path(activeDir, key, upperDir), Options: []string{"bind"}}, nil
	}
	lower := make([]string, len(lowers))
	for i, n := range lowers {
		lower[i] = linksDir + "/" + n
	}
	rel := activeDir + "/" + key + "/"
	m := &Mount{
		Type:   "overlay",
		Source: "overlay",
		Options: []string{
			// The upper directory must be a faithful diff (for Diff):
			// no redirects, no metadata-only copy-ups. No index, so
			// that layers are not tied to one upper directory.
			"index=off", "redirect_dir=off", "metacopy=off",
			"lowerdir=" + strings.Join(lower, ":"),
			"upperdir=" + rel + upperDir,
			"workdir=" + rel + workDir,
		},
		Dir:  s.root,
		work: s.path(activeDir, key, workDir),
	}
	if n := len(strings.Join(m.Options, ",")); n > maxOptions {
		return nil, fmt.Errorf("snapshot %q: %d layers need %d bytes of mount options, more than mount(2) takes (%d): %w", key, len(lowers), n, maxOptions, errdefs.ErrInvalidArgument)
	}
	return m, nil
}

// RemoveActive removes the active snapshot key and everything written to
// it. Unmount it first. Removing one that is not there is not an error.
func (s *Store) RemoveActive(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.discard(s.path(activeDir, key))
}

// Diff writes what was changed in the active snapshot key, as a layer tar
// with OCI whiteouts, compressed as c. The snapshot may be mounted and in
// use, but then the tar is only as consistent as the writers make it.
func (s *Store) Diff(ctx context.Context, key string, w io.Writer, c archive.Compression) error {
	if err := checkKey(key); err != nil {
		return err
	}
	upper := s.path(activeDir, key, upperDir)
	err := archive.WriteTar(ctx, w, upper, archive.WriteOptions{Compression: c, OverlayWhiteouts: true})
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("snapshot %q: %w", key, err)
	}
	return nil
}

// ActiveSize returns the bytes written to the active snapshot key (its
// upper directory: files' sizes, whiteouts and directories count nothing).
func (s *Store) ActiveSize(key string) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	var total int64
	err := filepath.WalkDir(s.path(activeDir, key, upperDir), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	return total, err
}

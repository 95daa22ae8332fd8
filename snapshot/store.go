package snapshot

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/trash"
)

// Store is a directory of unpacked layers and active snapshots. Its methods
// are safe for concurrent use.
type Store struct {
	root string // absolute
	salt []byte // keys the short link names

	// mu orders the changes that must not interleave: a layer appearing
	// (Unpack's rename), a layer going (Remove) and an active snapshot
	// appearing or going.
	mu sync.Mutex

	flightMu sync.Mutex
	inflight map[digest.Digest]*flight // unpacks under way, by chain ID

	trash *trash.Bin // removed layers and active snapshots, deleted in the background
}

// Directories and files below the root.
const (
	layersDir = "layers"
	linksDir  = "l"
	tmpDir    = "tmp"
	trashDir  = "trash"
	activeDir = "active"
	saltFile  = "salt"

	fsDir      = "fs"
	parentFile = "parent"
	sizeFile   = "size" // written last: a layer without it is incomplete

	upperDir = "upper"
	workDir  = "work"

	// shortLen is the length of a short link name: 12 base32 digits, 60
	// bits of a keyed hash, so "l/<name>:" costs 15 bytes of overlay
	// options per layer.
	shortLen = 12
	// maxDepth bounds a chain of parents (overlayfs stacks at most 500
	// layers), so that a loop in tampered metadata cannot hang Lowers.
	maxDepth = 500
)

// Open opens the store at root, creating it if need be, and clears what a
// crash can leave: unpacks in progress (tmp/), removals (trash/), incomplete
// layers, and short links that lead nowhere. Work in progress of another
// live process is left alone (it holds a lock on its directory).
func Open(root string) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{root, filepath.Join(root, layersDir), filepath.Join(root, linksDir), filepath.Join(root, tmpDir), filepath.Join(root, activeDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("snapshot store: %w", err)
		}
	}
	s := &Store{root: root, inflight: make(map[digest.Digest]*flight)}
	if s.trash, err = trash.New(filepath.Join(root, trashDir), nil); err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	if s.salt, err = s.loadSalt(); err != nil {
		return nil, err
	}
	if err := s.clearTmp(); err != nil {
		return nil, err
	}
	if err := s.clearIncomplete(); err != nil {
		return nil, err
	}
	if err := s.clearLinks(); err != nil {
		return nil, err
	}
	return s, nil
}

// WaitRemovals returns once every layer and active snapshot removed so far
// is deleted from the disk (removal itself is over when Remove or
// RemoveActive returns: what is left is out of sight, in trash/).
func (s *Store) WaitRemovals() { s.trash.Wait() }

// Root returns the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// loadSalt reads the key of the short link names, making one if there is
// none. It is secret so that nobody can craft a layer whose short name
// collides with another's.
func (s *Store) loadSalt() ([]byte, error) {
	p := s.path(saltFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		tmp := s.path(tmpDir, rand.Text())
		if err = os.WriteFile(tmp, []byte(rand.Text()+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("snapshot store: %w", err)
		}
		// link(2), unlike rename(2), never replaces a salt that another
		// process made meanwhile.
		err = os.Link(tmp, p)
		os.Remove(tmp)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("snapshot store: %w", err)
		}
		b, err = os.ReadFile(p)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("snapshot store: %s is too short", p)
	}
	return b, nil
}

// clearTmp removes every unlocked entry of tmp/.
func (s *Store) clearTmp() error {
	entries, err := os.ReadDir(s.path(tmpDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range entries {
		p := s.path(tmpDir, e.Name())
		if e.IsDir() {
			unlock, err := lockDir(p, false)
			if err != nil {
				continue // in use (or gone)
			}
			err = os.RemoveAll(p)
			unlock()
			if err != nil {
				return fmt.Errorf("snapshot store: clearing %s: %w", p, err)
			}
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("snapshot store: clearing %s: %w", p, err)
		}
	}
	return nil
}

// clearIncomplete removes the entries of layers/ that are not complete
// layers.
func (s *Store) clearIncomplete() error {
	entries, err := os.ReadDir(s.path(layersDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range entries {
		if isHex64(e.Name()) && s.complete(e.Name()) {
			continue
		}
		if err := s.discard(s.path(layersDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// clearLinks removes the short links that do not lead to a complete layer
// under the name that layer's link should have.
func (s *Store) clearLinks() error {
	entries, err := os.ReadDir(s.path(linksDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range entries {
		hex, ok := s.linkTarget(e.Name())
		if ok && s.short(hex) == e.Name() && s.complete(hex) {
			continue
		}
		if err := os.Remove(s.path(linksDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("snapshot store: %w", err)
		}
	}
	return nil
}

// discard moves p out of sight into trash/ (one rename, the point after
// which it no longer exists); it is deleted there in the background.
func (s *Store) discard(p string) error {
	if err := s.trash.Discard(p); err != nil {
		return fmt.Errorf("snapshot store: removing %s: %w", p, err)
	}
	return nil
}

// tempDir makes a directory under tmp/, locked against Open's clearing
// until unlock.
func (s *Store) tempDir() (dir string, unlock func(), err error) {
	dir = s.path(tmpDir, rand.Text())
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("snapshot store: %w", err)
	}
	unlock, err = lockDir(dir, true)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("snapshot store: lock %s: %w", dir, err)
	}
	return dir, unlock, nil
}

// short is the name of a layer's short link under l/.
func (s *Store) short(hex string) string {
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(hex))
	return strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil)))[:shortLen]
}

func linkTarget(hex string) string {
	return "../" + layersDir + "/" + hex + "/" + fsDir
}

// linkTarget returns the layer the short link name points to.
func (s *Store) linkTarget(name string) (hex string, ok bool) {
	t, err := os.Readlink(s.path(linksDir, name))
	if err != nil {
		return "", false
	}
	hex, ok = strings.CutPrefix(t, "../"+layersDir+"/")
	if !ok {
		return "", false
	}
	hex, ok = strings.CutSuffix(hex, "/"+fsDir)
	return hex, ok && isHex64(hex)
}

// link makes sure the layer's short link exists and leads to it, and
// returns its name.
func (s *Store) link(hex string) (string, error) {
	name := s.short(hex)
	p := s.path(linksDir, name)
	for range 2 {
		err := os.Symlink(linkTarget(hex), p)
		if err == nil || !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return "", fmt.Errorf("layer sha256:%s: short link: %w", hex, err)
			}
			return name, nil
		}
		other, ok := s.linkTarget(name)
		if ok && other == hex {
			return name, nil
		}
		if ok && s.complete(other) {
			return "", fmt.Errorf("layer sha256:%s: short link %s is taken by layer sha256:%s: %w", hex, name, other, errdefs.ErrConflict)
		}
		// A stale link (its layer is gone): replace it.
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("layer sha256:%s: short link: %w", hex, err)
		}
	}
	return "", fmt.Errorf("layer sha256:%s: short link %s keeps changing: %w", hex, name, errdefs.ErrConflict)
}

// complete reports whether layers/<hex> is a whole layer.
func (s *Store) complete(hex string) bool {
	_, err := os.Lstat(s.path(layersDir, hex, sizeFile))
	return err == nil
}

func notFound(id digest.Digest) error {
	return fmt.Errorf("layer %s: %w", id, errdefs.ErrNotFound)
}

// Has reports whether the layer chainID is unpacked (whether or not its
// parents are).
func (s *Store) Has(chainID digest.Digest) bool {
	hex, err := chainHex(chainID)
	return err == nil && s.complete(hex)
}

// Size returns the size of the layer chainID: the length of its
// uncompressed tar.
func (s *Store) Size(chainID digest.Digest) (int64, error) {
	hex, err := chainHex(chainID)
	if err != nil {
		return 0, err
	}
	return s.readSize(chainID, hex)
}

func (s *Store) readSize(id digest.Digest, hex string) (int64, error) {
	b, err := os.ReadFile(s.path(layersDir, hex, sizeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, notFound(id)
	}
	if err != nil {
		return 0, fmt.Errorf("layer %s: %w", id, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("layer %s: bad size %q", id, b)
	}
	return n, nil
}

// readParent returns the parent of the layer hex ("" for a bottom layer).
func (s *Store) readParent(id digest.Digest, hex string) (digest.Digest, error) {
	b, err := os.ReadFile(s.path(layersDir, hex, parentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", notFound(id)
	}
	if err != nil {
		return "", fmt.Errorf("layer %s: %w", id, err)
	}
	p := digest.Digest(strings.TrimSpace(string(b)))
	if p == "" {
		return "", nil
	}
	if _, err := chainHex(p); err != nil {
		return "", fmt.Errorf("layer %s: parent: %w", id, err)
	}
	return p, nil
}

// Lowers returns the directories of the layers of chain chainID, top-most
// first, as an overlayfs lowerdir wants them. They are paths through the
// short links (<root>/l/<name>). Every layer of the chain must be unpacked;
// otherwise the error names the first that is missing (ErrNotFound).
func (s *Store) Lowers(chainID digest.Digest) ([]string, error) {
	names, err := s.lowers(chainID)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = s.path(linksDir, n)
	}
	return names, nil
}

// lowers returns the short link names of the chain's layers, top-most first.
func (s *Store) lowers(chainID digest.Digest) ([]string, error) {
	var names []string
	for id := chainID; id != ""; {
		if len(names) == maxDepth {
			return nil, fmt.Errorf("layer %s: chain deeper than %d layers: %w", chainID, maxDepth, errdefs.ErrInvalidArgument)
		}
		hex, err := chainHex(id)
		if err != nil {
			return nil, err
		}
		if !s.complete(hex) {
			if id == chainID {
				return nil, notFound(id)
			}
			return nil, fmt.Errorf("layer %s: parent %w", chainID, notFound(id))
		}
		name, err := s.link(hex)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
		if id, err = s.readParent(id, hex); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Walk calls fn for every unpacked layer, in order of chain ID, with its
// parent ("" for a bottom layer) and size. An error from fn stops the walk
// and is returned.
func (s *Store) Walk(fn func(chainID, parent digest.Digest, size int64) error) error {
	entries, err := os.ReadDir(s.path(layersDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range entries {
		hex := e.Name()
		if !isHex64(hex) {
			continue
		}
		id := digest.Digest("sha256:" + hex)
		size, err := s.readSize(id, hex)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return err
		}
		parent, err := s.readParent(id, hex)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(id, parent, size); err != nil {
			return err
		}
	}
	return nil
}

// Usage returns the total size of the unpacked layers (as Size counts).
func (s *Store) Usage() (int64, error) {
	var total int64
	err := s.Walk(func(_, _ digest.Digest, size int64) error {
		total += size
		return nil
	})
	return total, err
}

// Remove removes the layer chainID. It refuses (ErrConflict) while another
// layer has it as parent or an active snapshot is on it; removing a layer
// that is not there is not an error.
func (s *Store) Remove(chainID digest.Digest) error {
	hex, err := chainHex(chainID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Lstat(s.path(layersDir, hex)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if s.complete(hex) {
		if err := s.checkUnused(chainID); err != nil {
			return err
		}
	}
	if err := s.discard(s.path(layersDir, hex)); err != nil {
		return err
	}
	name := s.short(hex)
	if other, ok := s.linkTarget(name); ok && other == hex {
		if err := os.Remove(s.path(linksDir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("layer %s: short link: %w", chainID, err)
		}
	}
	return nil
}

// checkUnused returns ErrConflict, naming a user, if a layer or an active
// snapshot is directly on layer id. (A layer further up the chain is on a
// layer that is on id, and so on: the direct users are enough.)
func (s *Store) checkUnused(id digest.Digest) error {
	layers, err := os.ReadDir(s.path(layersDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range layers {
		if !isHex64(e.Name()) {
			continue
		}
		child := digest.Digest("sha256:" + e.Name())
		if p, err := s.readParent(child, e.Name()); err == nil && p == id {
			return fmt.Errorf("layer %s: layer %s is on it: %w", id, child, errdefs.ErrConflict)
		}
	}
	actives, err := os.ReadDir(s.path(activeDir))
	if err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	for _, e := range actives {
		b, err := os.ReadFile(s.path(activeDir, e.Name(), parentFile))
		if err == nil && digest.Digest(strings.TrimSpace(string(b))) == id {
			return fmt.Errorf("layer %s: active snapshot %q is on it: %w", id, e.Name(), errdefs.ErrConflict)
		}
	}
	return nil
}

// mkdir makes a directory with exactly mode perm, whatever the umask.
func mkdir(p string, perm os.FileMode) error {
	if err := os.Mkdir(p, perm); err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

// writeFile writes a small metadata file.
func writeFile(p, data string) error {
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	return nil
}

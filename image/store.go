package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/content"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
)

// Blobs is what the store needs of the content store.
type Blobs interface {
	Writer(ctx context.Context, expected digest.Digest, size int64) (*content.Writer, error)
	PutBytes(ctx context.Context, p []byte, expected digest.Digest) (digest.Digest, error)
	Put(ctx context.Context, r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error)
	Open(d digest.Digest) (io.ReadCloser, error)
	ReadAll(d digest.Digest, limit int64) ([]byte, error)
	Has(d digest.Digest) bool
	Info(d digest.Digest) (content.Info, error)
	Delete(d digest.Digest) error
	Walk(fn func(digest.Digest, int64) error) error
}

// Layers is what the store needs of the snapshot store.
type Layers interface {
	Has(chainID digest.Digest) bool
	Unpack(ctx context.Context, chainID, parent digest.Digest, r io.Reader) (int64, error)
	Remove(chainID digest.Digest) error
	Walk(fn func(chainID, parent digest.Digest, size int64) error) error
}

const (
	bucketImages = "images"
	bucketRefs   = "refs"
	maxJSON      = 32 << 20 // configs and manifests larger than this are refused
)

// Layer is one layer of an image.
type Layer struct {
	Blob      digest.Digest `json:"blob"`      // the stored layer tar (maybe compressed)
	Size      int64         `json:"size"`      // of the blob
	MediaType string        `json:"mediaType"` // of the blob
	DiffID    digest.Digest `json:"diffID"`    // of the uncompressed tar
	ChainID   digest.Digest `json:"chainID"`   // key of the unpacked layer
}

// record is an image as bbolt holds it.
type record struct {
	ID       digest.Digest `json:"id"` // the config's digest
	Manifest digest.Digest `json:"manifest,omitempty"`
	Layers   []Layer       `json:"layers"`
	Size     int64         `json:"size"` // unpacked, all layers
	Added    time.Time     `json:"added"`
}

// Image is an image with its names and parsed config.
type Image struct {
	ID          digest.Digest
	Manifest    digest.Digest
	RepoTags    []string // familiar: "busybox:latest"
	RepoDigests []string // familiar: "busybox@sha256:..."
	Config      ocispec.Image
	ConfigJSON  []byte
	Layers      []Layer
	Size        int64
	Added       time.Time
}

// Store holds the images of one data root.
type Store struct {
	db     *bolt.DB
	blobs  Blobs
	layers Layers

	mu    sync.Mutex // serialises changes to records and deletions of data
	loads int        // imports and loads in flight: their blobs must not be collected
}

// Open opens (or creates) the metadata at dbPath and removes blobs and layers
// that no image references (what a crash in the middle of a load leaves).
func Open(dbPath string, blobs Blobs, layers Layers) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("image metadata %s: %w", dbPath, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketImages, bucketRefs} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, blobs: blobs, layers: layers}
	if err := s.collect(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the metadata database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) records() (map[digest.Digest]*record, error) {
	out := map[digest.Digest]*record{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketImages)).ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("image %s: corrupt record: %w", k, err)
			}
			out[r.ID] = &r
			return nil
		})
	})
	return out, err
}

// refsByImage maps image ids to their full reference strings.
func (s *Store) refsByImage() (map[digest.Digest][]string, error) {
	out := map[digest.Digest][]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketRefs)).ForEach(func(k, v []byte) error {
			id := digest.Digest(v)
			out[id] = append(out[id], string(k))
			return nil
		})
	})
	for _, refs := range out {
		sort.Strings(refs)
	}
	return out, err
}

// collect deletes blobs and unpacked layers no image references. The caller
// holds s.mu or is Open.
func (s *Store) collect() error {
	recs, err := s.records()
	if err != nil {
		return err
	}
	blobs := map[digest.Digest]bool{}
	chains := map[digest.Digest]bool{}
	for _, r := range recs {
		blobs[r.ID] = true
		blobs[r.Manifest] = true
		for _, l := range r.Layers {
			blobs[l.Blob] = true
			chains[l.ChainID] = true
		}
	}
	var dead []digest.Digest
	if err := s.blobs.Walk(func(d digest.Digest, _ int64) error {
		if !blobs[d] {
			dead = append(dead, d)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, d := range dead {
		if err := s.blobs.Delete(d); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return s.removeChains(func(c digest.Digest) bool { return !chains[c] })
}

// removeChains removes unpacked layers matching drop, children before
// parents (a layer with a child cannot be removed).
func (s *Store) removeChains(drop func(digest.Digest) bool) error {
	parents := map[digest.Digest]digest.Digest{}
	if err := s.layers.Walk(func(c, p digest.Digest, _ int64) error {
		parents[c] = p
		return nil
	}); err != nil {
		return err
	}
	for {
		removed := false
		hasChild := map[digest.Digest]bool{}
		for _, p := range parents {
			hasChild[p] = true
		}
		for c := range parents {
			if drop(c) && !hasChild[c] {
				if err := s.layers.Remove(c); err != nil && !errdefs.IsNotFound(err) {
					return err
				}
				delete(parents, c)
				removed = true
			}
		}
		if !removed {
			return nil
		}
	}
}

// image builds the full view of a record.
func (s *Store) image(r *record, refs []string) (*Image, error) {
	cfg, err := s.blobs.ReadAll(r.ID, maxJSON)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", r.ID.Encoded()[:12], err)
	}
	img := &Image{ID: r.ID, Manifest: r.Manifest, ConfigJSON: cfg, Layers: r.Layers, Size: r.Size, Added: r.Added}
	if err := json.Unmarshal(cfg, &img.Config); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", r.ID.Encoded()[:12], err)
	}
	for _, full := range refs {
		ref, err := reference.Parse(full)
		if err != nil {
			continue
		}
		if ref.Digest != "" {
			img.RepoDigests = append(img.RepoDigests, ref.Familiar())
		} else {
			img.RepoTags = append(img.RepoTags, ref.Familiar())
		}
	}
	return img, nil
}

// index reads every record and the names pointing at each image.
func (s *Store) index() (map[digest.Digest]*record, map[digest.Digest][]string, error) {
	recs, err := s.records()
	if err != nil {
		return nil, nil, err
	}
	refs, err := s.refsByImage()
	return recs, refs, err
}

// List returns every image, newest first.
func (s *Store) List() ([]*Image, error) {
	recs, refs, err := s.index()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(recs))
	for _, r := range recs {
		img, err := s.image(r, refs[r.ID])
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := created(out[i]), created(out[j])
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func created(img *Image) time.Time {
	if img.Config.Created != nil {
		return *img.Config.Created
	}
	return img.Added
}

// Count is the number of images.
func (s *Store) Count() int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucketImages)).Stats().KeyN
		return nil
	})
	return n
}

// Get finds an image by name ("busybox", "busybox:1", "name@sha256:..."), by
// id ("sha256:<hex>" or "<hex>") or by a unique id prefix, as Docker does.
func (s *Store) Get(name string) (*Image, error) {
	id, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	recs, refs, err := s.index()
	if err != nil {
		return nil, err
	}
	r, ok := recs[id]
	if !ok {
		return nil, fmt.Errorf("No such image: %s: %w", name, errdefs.ErrNotFound)
	}
	return s.image(r, refs[id])
}

// resolve turns a name into an image id.
func (s *Store) resolve(name string) (digest.Digest, error) {
	var id digest.Digest
	err := s.db.View(func(tx *bolt.Tx) error {
		images := tx.Bucket([]byte(bucketImages))
		if reference.IsFullID(name) {
			d := digest.Digest("sha256:" + strings.TrimPrefix(name, "sha256:"))
			if images.Get([]byte(d)) != nil {
				id = d
				return nil
			}
		}
		if ref, err := reference.Parse(name); err == nil {
			if v := tx.Bucket([]byte(bucketRefs)).Get([]byte(ref.WithDefaultTag().String())); v != nil {
				id = digest.Digest(v)
				return nil
			}
		}
		prefix := strings.TrimPrefix(name, "sha256:")
		if prefix == "" || len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
			return nil
		}
		c := images.Cursor()
		want := []byte("sha256:" + prefix)
		for k, _ := c.Seek(want); k != nil && strings.HasPrefix(string(k), string(want)); k, _ = c.Next() {
			if id != "" {
				return fmt.Errorf("image id prefix %q is ambiguous: %w", name, errdefs.ErrInvalidArgument)
			}
			id = digest.Digest(k)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("No such image: %s: %w", name, errdefs.ErrNotFound)
	}
	return id, nil
}

// Tag points target (a name, given a default tag) at the image source
// resolves to. A tag that pointed elsewhere moves, as in Docker.
func (s *Store) Tag(source, target string) error {
	ref, err := reference.Parse(target)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	if ref.Digest != "" {
		return fmt.Errorf("refusing to create a tag with a digest reference: %s: %w", target, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.resolve(source)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketRefs)).Put([]byte(ref.WithDefaultTag().String()), []byte(id))
	})
}

// errNoConfig is returned for a record whose config blob is missing.
var errNoConfig = errors.New("config blob missing")

// DiskUsage is what "system df" reports of images.
type DiskUsage struct {
	LayersSize int64                   // all unpacked layers, each counted once
	Shared     map[digest.Digest]int64 // per image: its layers that other images also use
}

// Usage measures the layers and how images share them.
func (s *Store) Usage() (*DiskUsage, error) {
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	sizes, err := s.layerSizes()
	if err != nil {
		return nil, err
	}
	users := map[digest.Digest]int{}
	for _, r := range recs {
		for _, l := range r.Layers {
			users[l.ChainID]++
		}
	}
	du := &DiskUsage{Shared: map[digest.Digest]int64{}}
	for c, n := range users {
		if n > 0 {
			du.LayersSize += sizes[c]
		}
	}
	for id, r := range recs {
		for _, l := range r.Layers {
			if users[l.ChainID] > 1 {
				du.Shared[id] += sizes[l.ChainID]
			}
		}
	}
	return du, nil
}

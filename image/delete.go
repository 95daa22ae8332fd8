package image

import (
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
)

// DeleteItem is one line of "docker rmi" output.
type DeleteItem struct {
	Untagged string // familiar reference
	Deleted  digest.Digest
}

// InUse reports whether containers use an image (the engine answers; nil
// means none do).
type InUse func(id digest.Digest) bool

// Delete removes a name, or an image, with Docker's rules: a name is untagged
// and the image deleted when no name is left; an id deletes the image, which
// needs force when several repositories name it; an image that containers use
// is not deleted without force (and then only untagged).
func (s *Store) Delete(name string, force bool, inUse InUse) ([]DeleteItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	refs, err := s.refsByImage()
	if err != nil {
		return nil, err
	}
	names := refs[id]
	byName := ""
	if ref, err := reference.Parse(name); err == nil {
		full := ref.WithDefaultTag().String()
		for _, n := range names {
			if n == full {
				byName = full
			}
		}
	}
	short := id.Encoded()[:12]
	used := inUse != nil && inUse(id)
	var untag []string
	switch {
	case byName != "":
		untag = []string{byName}
	case !force && distinctRepos(names) > 1:
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories: %w", short, errdefs.ErrConflict)
	default:
		untag = names
	}
	remaining := len(names) - len(untag)
	if remaining == 0 && used && !force {
		return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by a container: %w", short, errdefs.ErrConflict)
	}
	var out []DeleteItem
	deleteImage := remaining == 0 && !used
	err = s.db.Update(func(tx *bolt.Tx) error {
		rb := tx.Bucket([]byte(bucketRefs))
		for _, n := range untag {
			if err := rb.Delete([]byte(n)); err != nil {
				return err
			}
			r, _ := reference.Parse(n)
			out = append(out, DeleteItem{Untagged: r.Familiar()})
		}
		if deleteImage {
			out = append(out, DeleteItem{Deleted: id})
			return tx.Bucket([]byte(bucketImages)).Delete([]byte(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if deleteImage {
		if err := s.release(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// distinctRepos counts the repositories (names without tag or digest).
func distinctRepos(refs []string) int {
	repos := map[string]bool{}
	for _, n := range refs {
		if r, err := reference.Parse(n); err == nil {
			repos[r.Name()] = true
		}
	}
	return len(repos)
}

// release frees the blobs and layers no image references any more, unless a
// load is in flight (its data is collected at the next start). s.mu is held.
func (s *Store) release() error {
	if s.loads > 0 {
		return nil
	}
	return s.collect()
}

// Prune deletes dangling images (no names), or with all every image that no
// container uses, and reports what went and the bytes freed.
func (s *Store) Prune(all bool, inUse InUse) ([]DeleteItem, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, refs, err := s.index()
	if err != nil {
		return nil, 0, err
	}
	before, err := s.layerSizes()
	if err != nil {
		return nil, 0, err
	}
	var out []DeleteItem
	err = s.db.Update(func(tx *bolt.Tx) error {
		rb, ib := tx.Bucket([]byte(bucketRefs)), tx.Bucket([]byte(bucketImages))
		for id := range recs {
			names := refs[id]
			if (len(names) > 0 && !all) || (inUse != nil && inUse(id)) {
				continue
			}
			for _, n := range names {
				if err := rb.Delete([]byte(n)); err != nil {
					return err
				}
				r, _ := reference.Parse(n)
				out = append(out, DeleteItem{Untagged: r.Familiar()})
			}
			if err := ib.Delete([]byte(id)); err != nil {
				return err
			}
			out = append(out, DeleteItem{Deleted: id})
		}
		return nil
	})
	if err != nil || len(out) == 0 {
		return out, 0, err
	}
	if err := s.release(); err != nil {
		return out, 0, err
	}
	after, err := s.layerSizes()
	if err != nil {
		return out, 0, err
	}
	var freed int64
	for c, size := range before {
		if _, ok := after[c]; !ok {
			freed += size
		}
	}
	return out, freed, nil
}

// HistoryItem is one line of "docker history".
type HistoryItem struct {
	ID        string // the image id for the top line, "<missing>" below, as Docker
	Created   int64
	CreatedBy string
	Comment   string
	Size      int64
	Tags      []string
}

// History lists how the image was built, newest first, with each layer's size.
func (s *Store) History(name string) ([]HistoryItem, error) {
	img, err := s.Get(name)
	if err != nil {
		return nil, err
	}
	sizes, err := s.layerSizes()
	if err != nil {
		return nil, err
	}
	var out []HistoryItem
	layer := 0
	hist := img.Config.History
	if len(hist) == 0 {
		// No history: one line per layer.
		for range img.Layers {
			hist = append(hist, ocispec.History{})
		}
	}
	for _, h := range hist {
		item := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(img.Layers) {
			item.Size = sizes[img.Layers[layer].ChainID]
			layer++
		}
		out = append([]HistoryItem{item}, out...)
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		out[0].Tags = img.RepoTags
	}
	return out, nil
}

package image

import (
	"context"
	"fmt"
	"io"
	"sort"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/image/tarball"
	"github.com/berth-dev/berth/reference"
)

// Loaded is one name (or, for an image without one, the id) an archive
// brought in.
type Loaded struct {
	Name string // familiar "busybox:latest", or "" for an untagged image
	ID   digest.Digest
}

// Load reads a "docker save" or OCI image layout archive (plain, gzip or
// zstd) in one pass and records its images. On any error the store is left
// as it was: the blobs it wrote go again unless an image uses them.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]Loaded, error) {
	s.beginLoad()
	defer s.endLoad()
	arc, err := tarball.Read(ctx, r, s.blobs)
	if err != nil {
		s.dropUnreferenced(arc.Unreferenced)
		return nil, err
	}
	var news []NewImage
	for _, im := range arc.Images {
		n := NewImage{Config: im.Config, Manifest: im.ManifestDigest, Tags: im.RepoTags}
		for _, l := range im.Layers {
			n.Layers = append(n.Layers, Layer{Blob: l.Blob, Size: l.Size, MediaType: l.MediaType, DiffID: l.DiffID})
		}
		news = append(news, n)
	}
	imgs, err := s.Register(ctx, news)
	if err != nil {
		var written []digest.Digest
		for _, im := range arc.Images {
			written = append(written, im.Config, im.ManifestDigest)
			for _, l := range im.Layers {
				written = append(written, l.Blob)
			}
		}
		s.dropUnreferenced(append(written, arc.Unreferenced...))
		return nil, err
	}
	s.dropUnreferenced(arc.Unreferenced)
	var out []Loaded
	for i, img := range imgs {
		if len(news[i].Tags) == 0 {
			out = append(out, Loaded{ID: img.ID})
		}
		for _, t := range news[i].Tags {
			ref, _ := reference.Parse(t)
			out = append(out, Loaded{Name: ref.WithDefaultTag().Familiar(), ID: img.ID})
		}
	}
	return out, nil
}

// dropUnreferenced deletes the given blobs that no recorded image uses. The
// caller is a load in flight; when another one is too, the blobs stay (that
// load may have found them already written and count on them) and the next
// start's collection removes whatever is left unused.
func (s *Store) dropUnreferenced(ds []digest.Digest) {
	if len(ds) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loads > 1 {
		return
	}
	recs, err := s.records()
	if err != nil {
		return
	}
	used := map[digest.Digest]bool{}
	for _, r := range recs {
		used[r.ID], used[r.Manifest] = true, true
		for _, l := range r.Layers {
			used[l.Blob] = true
		}
	}
	for _, d := range ds {
		if d != "" && !used[d] {
			_ = s.blobs.Delete(d)
		}
	}
}

// Save writes the named images as one archive in both the "docker save" and
// the OCI image layout formats (as Docker 25 and later do). A name with a
// tag or digest saves that name; a bare repository name saves all of its
// tags; an id saves the image without names.
func (s *Store) Save(ctx context.Context, w io.Writer, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no image to save: %w", errdefs.ErrInvalidArgument)
	}
	recs, refs, err := s.index()
	if err != nil {
		return err
	}
	byID := map[digest.Digest]*tarball.Image{}
	var order []digest.Digest
	for _, name := range names {
		id, err := s.resolve(name)
		if err != nil {
			return err
		}
		r := recs[id]
		if r == nil {
			return fmt.Errorf("No such image: %s: %w", name, errdefs.ErrNotFound)
		}
		ti := byID[id]
		if ti == nil {
			ti = &tarball.Image{Config: r.ID, ManifestDigest: r.Manifest}
			for _, l := range r.Layers {
				ti.Layers = append(ti.Layers, tarball.Layer{Blob: l.Blob, Size: l.Size, MediaType: l.MediaType, DiffID: l.DiffID})
			}
			byID[id] = ti
			order = append(order, id)
		}
		for _, tag := range savedTags(name, refs[id]) {
			if !contains(ti.RepoTags, tag) {
				ti.RepoTags = append(ti.RepoTags, tag)
			}
		}
	}
	imgs := make([]tarball.Image, 0, len(order))
	for _, id := range order {
		sort.Strings(byID[id].RepoTags)
		imgs = append(imgs, *byID[id])
	}
	return tarball.Write(ctx, w, s.blobs, imgs)
}

// savedTags are the familiar tags a save of name carries.
func savedTags(name string, full []string) []string {
	ref, err := reference.Parse(name)
	if err != nil || reference.IsFullID(name) {
		return nil // an id: no names
	}
	var out []string
	for _, f := range full {
		r, err := reference.Parse(f)
		if err != nil || r.Digest != "" || r.Name() != ref.Name() {
			continue
		}
		if ref.Tag == "" && ref.Digest == "" || r.Tag == ref.Tag {
			out = append(out, r.Familiar())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
)

// newImageTags checks the name an import or commit gives a new image ("" for
// none): a tag, never a digest.
func newImageTags(name, verb string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	if ref.Digest != "" {
		return nil, fmt.Errorf("cannot %s to a digest reference %s: %w", verb, name, errdefs.ErrInvalidArgument)
	}
	return []string{name}, nil
}

// ImportOptions are the options of "docker import".
type ImportOptions struct {
	Ref     string   // name to give the image ("" for none)
	Changes []string // Dockerfile instructions applied to the config
	Message string   // history comment
	Source  string   // where the tarball came from, for the default comment
}

// Import makes a one-layer image from a root filesystem tarball (plain,
// gzip or zstd).
func (s *Store) Import(ctx context.Context, r io.Reader, o ImportOptions) (*Image, error) {
	cfg := ocispec.ImageConfig{}
	if err := applyChanges(&cfg, o.Changes); err != nil {
		return nil, err
	}
	tags, err := newImageTags(o.Ref, "import")
	if err != nil {
		return nil, err
	}
	s.beginLoad()
	defer s.endLoad()

	dr, _, err := archive.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer dr.Close()
	w, err := s.blobs.Writer(ctx, "", -1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if _, err := w.ReadFrom(dr); err != nil {
		return nil, fmt.Errorf("import: read the tarball: %w", err)
	}
	layer, _, err := w.Commit()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	comment := o.Message
	if comment == "" {
		src := o.Source
		if src == "" {
			src = "-"
		}
		comment = "Imported from " + src
	}
	config := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{Architecture: goruntime.GOARCH, OS: "linux"},
		Config:   cfg,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layer.Digest}},
		History:  []ocispec.History{{Created: &now, Comment: comment}},
	}
	b, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	cfgDigest, err := s.blobs.PutBytes(ctx, b, "")
	if err != nil {
		return nil, err
	}
	imgs, err := s.Register(ctx, []NewImage{{
		Config: cfgDigest,
		Layers: []Layer{{Blob: layer.Digest, Size: layer.Size, MediaType: ocispec.MediaTypeImageLayer, DiffID: layer.Digest}},
		Tags:   tags,
	}})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return imgs[0], nil
}

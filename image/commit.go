package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CommitOptions describe the image "docker commit" makes of a container.
type CommitOptions struct {
	Parent    digest.Digest       // the container's image
	Config    ocispec.ImageConfig // the container's configuration, as the new image's
	Changes   []string            // --change instructions, applied to Config
	Comment   string              // -m
	Author    string              // -a
	CreatedBy string              // the container's command, for the history
	Ref       string              // repository[:tag] to name it, "" for none
}

// Commit makes a new image of the parent's layers plus one: the tar that
// layer writes (uncompressed; it is stored as is). On failure the store is
// left as it was.
func (s *Store) Commit(ctx context.Context, layer func(io.Writer) error, o CommitOptions) (*Image, error) {
	parent, err := s.Get(o.Parent.String())
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	if err := applyChanges(&cfg, o.Changes); err != nil {
		return nil, err
	}
	tags, err := newImageTags(o.Ref, "commit")
	if err != nil {
		return nil, err
	}
	s.beginLoad()
	defer s.endLoad()
	w, err := s.blobs.Writer(ctx, "", -1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := layer(w); err != nil {
		return nil, fmt.Errorf("commit: the container's changes: %w", err)
	}
	desc, _, err := w.Commit()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	img := parent.Config
	img.Created = &now
	img.Author = o.Author
	img.Config = cfg
	img.RootFS.DiffIDs = append(append([]digest.Digest(nil), img.RootFS.DiffIDs...), desc.Digest)
	img.History = append(append([]ocispec.History(nil), img.History...), ocispec.History{
		Created: &now, Author: o.Author, CreatedBy: o.CreatedBy, Comment: o.Comment,
	})
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	cfgDigest, err := s.blobs.PutBytes(ctx, b, "")
	if err != nil {
		return nil, err
	}
	layers := append([]Layer(nil), parent.Layers...)
	layers = append(layers, Layer{Blob: desc.Digest, Size: desc.Size, MediaType: ocispec.MediaTypeImageLayer, DiffID: desc.Digest})
	imgs, err := s.Register(ctx, []NewImage{{Config: cfgDigest, Layers: layers, Tags: tags}})
	if err != nil {
		s.dropUnreferenced([]digest.Digest{desc.Digest, cfgDigest})
		return nil, fmt.Errorf("commit: %w", err)
	}
	return imgs[0], nil
}

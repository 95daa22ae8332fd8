package image

import (
	"context"
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
	"github.com/berth-dev/berth/snapshot"
)

// NewImage is an image to record whose config and layer blobs are already in
// the content store (put there by Import or by reading an archive).
type NewImage struct {
	Config   digest.Digest
	Manifest digest.Digest // "" to generate an OCI manifest
	Layers   []Layer       // Blob, Size, MediaType, DiffID; ChainID is computed
	Tags     []string      // names to point at the image
}

// beginLoad marks an import or load in flight: deletions keep their hands
// off blobs and layers until it ends (a loaded blob may be one a deleted
// image also had).
func (s *Store) beginLoad() {
	s.mu.Lock()
	s.loads++
	s.mu.Unlock()
}

func (s *Store) endLoad() {
	s.mu.Lock()
	s.loads--
	s.mu.Unlock()
}

// Register checks the images against their configs, unpacks every layer not
// yet unpacked (independent layers in parallel, each chain once), and then
// records the images and their tags in one transaction.
func (s *Store) Register(ctx context.Context, imgs []NewImage) ([]*Image, error) {
	s.beginLoad()
	defer s.endLoad()

	recs := make([]*record, len(imgs))
	type job struct{ chain, parent, blob digest.Digest }
	var jobs []job
	seen := map[digest.Digest]bool{}
	for i, in := range imgs {
		cfgJSON, err := s.blobs.ReadAll(in.Config, maxJSON)
		if err != nil {
			return nil, fmt.Errorf("image config %s: %w", in.Config, err)
		}
		var cfg ocispec.Image
		if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
			return nil, fmt.Errorf("image config %s is not valid JSON: %v: %w", in.Config, err, errdefs.ErrInvalidArgument)
		}
		if len(cfg.RootFS.DiffIDs) != len(in.Layers) {
			return nil, fmt.Errorf("image config %s lists %d layers, the manifest %d: %w", in.Config, len(cfg.RootFS.DiffIDs), len(in.Layers), errdefs.ErrInvalidArgument)
		}
		layers := append([]Layer(nil), in.Layers...)
		for j := range layers {
			if layers[j].DiffID != cfg.RootFS.DiffIDs[j] {
				return nil, fmt.Errorf("layer %d of image %s: diff id %s, the config says %s: %w", j, in.Config, layers[j].DiffID, cfg.RootFS.DiffIDs[j], errdefs.ErrInvalidArgument)
			}
		}
		chains := snapshot.ChainIDs(cfg.RootFS.DiffIDs)
		for j := range layers {
			layers[j].ChainID = chains[j]
			var parent digest.Digest
			if j > 0 {
				parent = chains[j-1]
			}
			if !seen[chains[j]] && !s.layers.Has(chains[j]) {
				seen[chains[j]] = true
				jobs = append(jobs, job{chains[j], parent, layers[j].Blob})
			}
		}
		for _, t := range in.Tags {
			if _, err := reference.Parse(t); err != nil {
				return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
			}
		}
		recs[i] = &record{ID: in.Config, Manifest: in.Manifest, Layers: layers, Added: time.Now().UTC()}
	}

	// Unpack: each layer is independent of its parent's content, so all run
	// at once, bounded by the number of CPUs.
	sem := make(chan struct{}, goruntime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = s.unpack(ctx, j.chain, j.parent, j.blob)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sizes, err := s.layerSizes()
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		for _, l := range r.Layers {
			r.Size += sizes[l.ChainID]
		}
		if r.Manifest == "" {
			if recs[i].Manifest, err = s.putManifest(ctx, r); err != nil {
				return nil, err
			}
		}
	}

	s.mu.Lock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		images, refs := tx.Bucket([]byte(bucketImages)), tx.Bucket([]byte(bucketRefs))
		for i, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := images.Put([]byte(r.ID), b); err != nil {
				return err
			}
			for _, t := range imgs[i].Tags {
				ref, _ := reference.Parse(t)
				if err := refs.Put([]byte(ref.WithDefaultTag().String()), []byte(r.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, len(recs))
	for i, r := range recs {
		if out[i], err = s.Get(r.ID.String()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) unpack(ctx context.Context, chain, parent, blob digest.Digest) error {
	rc, err := s.blobs.Open(blob)
	if err != nil {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	defer rc.Close()
	if _, err := s.layers.Unpack(ctx, chain, parent, rc); err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	return nil
}

func (s *Store) layerSizes() (map[digest.Digest]int64, error) {
	out := map[digest.Digest]int64{}
	err := s.layers.Walk(func(c, _ digest.Digest, size int64) error {
		out[c] = size
		return nil
	})
	return out, err
}

// putManifest stores an OCI manifest for an image that came without one.
func (s *Store) putManifest(ctx context.Context, r *record) (digest.Digest, error) {
	cfg, err := s.blobs.Info(r.ID)
	if err != nil {
		return "", err
	}
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: r.ID, Size: cfg.Size},
	}
	m.SchemaVersion = 2
	for _, l := range r.Layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Blob, Size: l.Size})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return s.blobs.PutBytes(ctx, b, "")
}

package tarball

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/archive"
)

// layerInfo is what reading a layer blob tells.
type layerInfo struct {
	diffID      digest.Digest
	compression archive.Compression
}

// rootFS is the part of an image config Read checks.
type rootFS struct {
	RootFS *struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// parseRootFS returns the diff IDs a config lists.
func parseRootFS(config digest.Digest, data []byte) ([]digest.Digest, error) {
	var c rootFS
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, invalid("image config %s is not JSON: %v", config, err)
	}
	if c.RootFS == nil {
		return nil, invalid("image config %s has no rootfs", config)
	}
	if c.RootFS.Type != "layers" {
		return nil, invalid("image config %s: rootfs type %q, expected \"layers\"", config, c.RootFS.Type)
	}
	return c.RootFS.DiffIDs, nil
}

// verify checks an image's config against its layers, filling in each
// layer's DiffID (and MediaType, if the archive gave none).
func (rd *reader) verify(img *Image) error {
	diffIDs, err := parseRootFS(img.Config, img.ConfigJSON)
	if err != nil {
		return err
	}
	if len(diffIDs) != len(img.Layers) {
		return invalid("image config %s lists %d layers, manifest has %d", img.Config, len(diffIDs), len(img.Layers))
	}
	blobs := make([]digest.Digest, len(img.Layers))
	for i, l := range img.Layers {
		blobs[i] = l.Blob
	}
	if err := rd.computeDiffIDs(blobs); err != nil {
		return err
	}
	for i := range img.Layers {
		l := &img.Layers[i]
		info := rd.layers[l.Blob]
		if info.diffID != diffIDs[i] {
			return invalid("layer %d of image %s: diff id %s, config says %s", i+1, img.Config, info.diffID, diffIDs[i])
		}
		l.DiffID = info.diffID
		if l.MediaType == "" {
			l.MediaType = layerMediaType(info.compression)
		}
	}
	return nil
}

func layerMediaType(c archive.Compression) string {
	switch c {
	case archive.Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case archive.Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// computeDiffIDs fills rd.layers for the blobs not in it yet, decompressing
// several at once (gzip is decoded on one core, at some hundreds of MB/s).
func (rd *reader) computeDiffIDs(blobs []digest.Digest) error {
	var todo []digest.Digest
	for _, d := range blobs {
		if _, ok := rd.layers[d]; !ok {
			rd.layers[d] = layerInfo{} // claimed; filled below
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	results := make([]layerInfo, len(todo))
	errs := make([]error, len(todo))
	workers := min(len(todo), goruntime.GOMAXPROCS(0), 4)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = diffID(rd.ctx, rd.blobs, todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, d := range todo {
		if errs[i] != nil {
			for _, d := range todo {
				delete(rd.layers, d)
			}
			return errs[i]
		}
		rd.layers[d] = results[i]
	}
	return nil
}

// diffID reads the layer blob d and returns the digest of its uncompressed
// bytes. A plain tar stored as sha256 is its own diff ID, and is not read
// beyond its first block.
func diffID(ctx context.Context, blobs Provider, d digest.Digest) (layerInfo, error) {
	rc, err := blobs.Open(d)
	if err != nil {
		return layerInfo{}, fmt.Errorf("layer %s: %w", d, err)
	}
	defer rc.Close()
	dr, c, err := archive.Decompress(ctxReader{ctx, rc})
	if err != nil {
		return layerInfo{}, fmt.Errorf("layer %s: %w", d, err)
	}
	defer dr.Close()
	if c == archive.Uncompressed && d.Algorithm() == digest.Canonical {
		return layerInfo{diffID: d, compression: c}, nil
	}
	h := digest.Canonical.Digester()
	if _, err := io.Copy(h.Hash(), dr); err != nil {
		if ctx.Err() != nil {
			return layerInfo{}, ctx.Err()
		}
		return layerInfo{}, invalid("layer %s: decompressing (%v): %v", d, c, err)
	}
	return layerInfo{diffID: h.Digest(), compression: c}, nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

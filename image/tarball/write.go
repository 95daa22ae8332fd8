package tarball

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/archive"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
)

// Docker's media types for layers, which an OCI manifest Write generates
// names by their OCI equivalents.
var dockerLayerTypes = map[string]string{
	"application/vnd.docker.image.rootfs.diff.tar":      ocispec.MediaTypeImageLayer,
	"application/vnd.docker.image.rootfs.diff.tar.gzip": ocispec.MediaTypeImageLayerGzip,
	"application/vnd.docker.image.rootfs.diff.tar.zstd": ocispec.MediaTypeImageLayerZstd,
}

// epoch is the modification time of every file Write writes.
var epoch = time.Unix(0, 0)

// blobItem is one blob of the archive being written.
type blobItem struct {
	digest digest.Digest
	size   int64
	data   []byte // configs and manifests: the bytes; layers: nil (streamed)
}

// plan is everything Write writes but the layers' bytes.
type plan struct {
	index        ocispec.Index
	manifestJSON []manifestItem
	repositories map[string]map[string]string
	blobs        []blobItem
}

// Write writes images as one archive that both "docker load" (any version)
// and OCI tools read, as Docker 25 and later do: oci-layout, index.json,
// manifest.json, repositories, then blobs/<alg>/<hex> for every config,
// layer and manifest, each once.
//
// Layers are copied as stored, so their digests are those of the images;
// each is checked against its digest and size on the way. Each image keeps
// its manifest (ManifestDigest), or gets a generated OCI manifest. index.json
// has one descriptor per tag (org.opencontainers.image.ref.name the tag,
// io.containerd.image.name the full name), or one without names for an
// untagged image.
//
// The output depends only on the images: files come in a fixed order with
// modification time 0, and images and tags in the order given. Images need
// Config, Layers (Blob and Size; a MediaType is looked up if empty) and
// optionally ConfigJSON, RepoTags ("name:tag", each for one image) and
// ManifestDigest. A tag given to two images is an error; DiffIDs are not
// used.
//
// On error, what was written to w is an incomplete archive.
func Write(ctx context.Context, w io.Writer, blobs Provider, images []Image) error {
	p, err := makePlan(ctx, blobs, images)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	files := []struct {
		name string
		v    any
	}{
		{"index.json", p.index},
		{"manifest.json", p.manifestJSON},
	}
	if err := writeFile(tw, "oci-layout", layout); err != nil {
		return err
	}
	for _, f := range files {
		data, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := writeFile(tw, f.name, data); err != nil {
			return err
		}
	}
	if len(p.repositories) > 0 {
		data, err := json.Marshal(p.repositories)
		if err != nil {
			return err
		}
		if err := writeFile(tw, "repositories", data); err != nil {
			return err
		}
	}
	if err := writeDirs(tw, p.blobs); err != nil {
		return err
	}
	for _, b := range p.blobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeBlob(ctx, tw, blobs, b); err != nil {
			return err
		}
	}
	return tw.Close()
}

// makePlan checks the images and computes every small file.
func makePlan(ctx context.Context, blobs Provider, images []Image) (*plan, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("image archive: no images to write: %w", errdefs.ErrInvalidArgument)
	}
	p := &plan{
		index:        ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}},
		manifestJSON: []manifestItem{},
		repositories: map[string]map[string]string{},
	}
	seen := map[digest.Digest]bool{}
	addBlob := func(b blobItem) {
		if !seen[b.digest] {
			seen[b.digest] = true
			p.blobs = append(p.blobs, b)
		}
	}
	tagged := map[string]digest.Digest{}
	for n := range images {
		img := &images[n]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := img.Config.Validate(); err != nil {
			return nil, fmt.Errorf("image archive: image %d: config digest %q: %v: %w", n+1, img.Config, err, errdefs.ErrInvalidArgument)
		}
		what := "image " + string(img.Config)
		config, err := readConfig(blobs, img)
		if err != nil {
			return nil, err
		}
		diffIDs, err := parseRootFS(img.Config, config)
		if err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
		if len(diffIDs) != len(img.Layers) {
			return nil, fmt.Errorf("image archive: image config %s lists %d layers, the image has %d: %w", img.Config, len(diffIDs), len(img.Layers), errdefs.ErrInvalidArgument)
		}
		layers := make([]ocispec.Descriptor, len(img.Layers))
		for i, l := range img.Layers {
			if err := l.Blob.Validate(); err != nil {
				return nil, fmt.Errorf("image archive: %s, layer %d: digest %q: %v: %w", what, i+1, l.Blob, err, errdefs.ErrInvalidArgument)
			}
			if l.Size <= 0 {
				return nil, fmt.Errorf("image archive: %s, layer %d: size %d: %w", what, i+1, l.Size, errdefs.ErrInvalidArgument)
			}
			mt := l.MediaType
			if mt == "" {
				if mt, err = sniffMediaType(blobs, l.Blob); err != nil {
					return nil, err
				}
			}
			layers[i] = ocispec.Descriptor{MediaType: mt, Digest: l.Blob, Size: l.Size}
		}
		manifest, mdesc, err := imageManifest(blobs, img, config, layers)
		if err != nil {
			return nil, err
		}
		mdesc.Platform = configPlatform(config)

		// Blobs: config, layers, manifest.
		addBlob(blobItem{digest: img.Config, size: int64(len(config)), data: config})
		item := manifestItem{Config: blobPath(img.Config), Layers: []string{}}
		for _, l := range layers {
			addBlob(blobItem{digest: l.Digest, size: l.Size})
			item.Layers = append(item.Layers, blobPath(l.Digest))
		}
		addBlob(blobItem{digest: mdesc.Digest, size: mdesc.Size, data: manifest})

		// Names.
		var refs []reference.Ref
		for _, t := range img.RepoTags {
			ref, err := parseTag(t)
			if err != nil {
				return nil, err
			}
			if other, ok := tagged[ref.String()]; ok {
				if other == img.Config {
					continue
				}
				return nil, fmt.Errorf("image archive: tag %s is given to both %s and %s: %w", ref.Familiar(), other, img.Config, errdefs.ErrInvalidArgument)
			}
			tagged[ref.String()] = img.Config
			refs = append(refs, ref)
		}
		for _, ref := range refs {
			d := mdesc
			d.Annotations = map[string]string{
				annotationImageName:       ref.String(),
				ocispec.AnnotationRefName: ref.Tag,
			}
			p.index.Manifests = append(p.index.Manifests, d)
			item.RepoTags = append(item.RepoTags, ref.Familiar())
			if len(layers) > 0 {
				name := ref.FamiliarName()
				if p.repositories[name] == nil {
					p.repositories[name] = map[string]string{}
				}
				p.repositories[name][ref.Tag] = layers[len(layers)-1].Digest.Encoded()
			}
		}
		if len(refs) == 0 {
			p.index.Manifests = append(p.index.Manifests, mdesc)
		}
		p.manifestJSON = append(p.manifestJSON, item)
	}
	return p, nil
}

// parseTag parses a name Write is to give an image: a tag, not a digest.
func parseTag(s string) (reference.Ref, error) {
	ref, err := reference.Parse(s)
	if err != nil {
		return ref, fmt.Errorf("image archive: tag %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	if ref.Digest != "" {
		return ref, fmt.Errorf("image archive: tag %q: a name with a digest is not a tag: %w", s, errdefs.ErrInvalidArgument)
	}
	return ref.WithDefaultTag(), nil
}

// readConfig returns the image's config bytes, checked against its digest.
func readConfig(blobs Provider, img *Image) ([]byte, error) {
	data := img.ConfigJSON
	if len(data) == 0 {
		var err error
		if data, err = readBlob(blobs, img.Config); err != nil {
			return nil, err
		}
	}
	if got := img.Config.Algorithm().FromBytes(data); got != img.Config {
		return nil, fmt.Errorf("image archive: image %s: its config bytes hash to %s: %w", img.Config, got, errdefs.ErrInvalidArgument)
	}
	return data, nil
}

// readBlob reads a small blob.
func readBlob(blobs Provider, d digest.Digest) ([]byte, error) {
	rc, err := blobs.Open(d)
	if err != nil {
		return nil, fmt.Errorf("image archive: blob %s: %w", d, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("image archive: blob %s: %w", d, err)
	}
	if len(data) > maxJSON {
		return nil, fmt.Errorf("image archive: blob %s is over the limit of %d bytes for a JSON document: %w", d, maxJSON, errdefs.ErrInvalidArgument)
	}
	return data, nil
}

// imageManifest returns the image's manifest and its descriptor: the stored
// one if the image has one (checked to describe the image), else a generated
// OCI manifest.
func imageManifest(blobs Provider, img *Image, config []byte, layers []ocispec.Descriptor) ([]byte, ocispec.Descriptor, error) {
	if img.ManifestDigest != "" {
		if err := img.ManifestDigest.Validate(); err != nil {
			return nil, ocispec.Descriptor{}, fmt.Errorf("image archive: image %s: manifest digest %q: %v: %w", img.Config, img.ManifestDigest, err, errdefs.ErrInvalidArgument)
		}
		data, err := readBlob(blobs, img.ManifestDigest)
		if err != nil {
			return nil, ocispec.Descriptor{}, err
		}
		if got := img.ManifestDigest.Algorithm().FromBytes(data); got != img.ManifestDigest {
			return nil, ocispec.Descriptor{}, fmt.Errorf("image archive: manifest %s: its bytes hash to %s: %w", img.ManifestDigest, got, errdefs.ErrInvalidArgument)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, ocispec.Descriptor{}, fmt.Errorf("image archive: manifest %s is not JSON: %v: %w", img.ManifestDigest, err, errdefs.ErrInvalidArgument)
		}
		if !describes(&m, img, len(config)) {
			return nil, ocispec.Descriptor{}, fmt.Errorf("image archive: manifest %s does not describe image %s (config and layers differ): %w", img.ManifestDigest, img.Config, errdefs.ErrInvalidArgument)
		}
		mt := m.MediaType
		if mt == "" {
			mt = ocispec.MediaTypeImageManifest
		}
		if !isManifestType(mt) {
			return nil, ocispec.Descriptor{}, fmt.Errorf("image archive: manifest %s: media type %q is not an image manifest's: %w", img.ManifestDigest, mt, errdefs.ErrInvalidArgument)
		}
		return data, ocispec.Descriptor{MediaType: mt, Digest: img.ManifestDigest, Size: int64(len(data))}, nil
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.Config, Size: int64(len(config))},
		Layers:    make([]ocispec.Descriptor, len(layers)),
	}
	for i, l := range layers {
		if oci, ok := dockerLayerTypes[l.MediaType]; ok {
			l.MediaType = oci
		}
		m.Layers[i] = l
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, ocispec.Descriptor{}, err
	}
	return data, ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, nil
}

// describes reports whether m is the manifest of img.
func describes(m *ocispec.Manifest, img *Image, configSize int) bool {
	if m.Config.Digest != img.Config || m.Config.Size != int64(configSize) || len(m.Layers) != len(img.Layers) {
		return false
	}
	for i, l := range m.Layers {
		if l.Digest != img.Layers[i].Blob || l.Size != img.Layers[i].Size {
			return false
		}
	}
	return true
}

// sniffMediaType looks at a layer's first bytes for its compression.
func sniffMediaType(blobs Provider, d digest.Digest) (string, error) {
	rc, err := blobs.Open(d)
	if err != nil {
		return "", fmt.Errorf("image archive: layer %s: %w", d, err)
	}
	defer rc.Close()
	dr, c, err := archive.Decompress(rc)
	if err != nil {
		return "", fmt.Errorf("image archive: layer %s: %w", d, err)
	}
	dr.Close()
	return layerMediaType(c), nil
}

// configPlatform is the platform an image config says, for index.json.
func configPlatform(config []byte) *ocispec.Platform {
	var c ocispec.Image
	if json.Unmarshal(config, &c) != nil || c.OS == "" || c.Architecture == "" {
		return nil
	}
	return &ocispec.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(fileHeader(name, int64(len(data)))); err != nil {
		return fmt.Errorf("image archive: %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("image archive: %s: %w", name, err)
	}
	return nil
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch}
}

// writeDirs writes blobs/ and blobs/<alg>/ for each algorithm used.
func writeDirs(tw *tar.Writer, blobs []blobItem) error {
	dirs := []string{"blobs/"}
	for _, b := range blobs {
		dir := "blobs/" + string(b.digest.Algorithm()) + "/"
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return fmt.Errorf("image archive: %s: %w", d, err)
		}
	}
	return nil
}

// writeBlob copies one blob into the archive, checking its size and digest.
func writeBlob(ctx context.Context, tw *tar.Writer, blobs Provider, b blobItem) error {
	name := blobPath(b.digest)
	if b.data != nil {
		return writeFile(tw, name, b.data)
	}
	if err := tw.WriteHeader(fileHeader(name, b.size)); err != nil {
		return fmt.Errorf("image archive: %s: %w", name, err)
	}
	rc, err := blobs.Open(b.digest)
	if err != nil {
		return fmt.Errorf("image archive: blob %s: %w", b.digest, err)
	}
	defer rc.Close()
	h := b.digest.Algorithm().Digester()
	n, err := io.Copy(io.MultiWriter(tw, h.Hash()), ctxReader{ctx, rc})
	if errors.Is(err, tar.ErrWriteTooLong) {
		return fmt.Errorf("image archive: blob %s is larger than the image's %d bytes: %w", b.digest, b.size, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return fmt.Errorf("image archive: blob %s: %w", b.digest, err)
	}
	if n != b.size {
		return fmt.Errorf("image archive: blob %s is %d bytes, the image says %d: %w", b.digest, n, b.size, errdefs.ErrInvalidArgument)
	}
	if got := h.Digest(); got != b.digest {
		return fmt.Errorf("image archive: blob %s: the stored bytes hash to %s (a corrupt store?)", b.digest, got)
	}
	return nil
}

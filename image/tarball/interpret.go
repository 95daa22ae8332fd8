package tarball

import (
	"encoding/json"
	"fmt"
	"path"
	goruntime "runtime"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/reference"
)

// Media types of Docker's own manifests (the OCI ones are in ocispec).
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"

	// annotationImageName is containerd's (and Docker 25's) full name of an
	// image in an index.json.
	annotationImageName = "io.containerd.image.name"

	// maxIndexDepth bounds nested indexes.
	maxIndexDepth = 4
)

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

func isIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

// interpret turns the files into images. With both index.json and
// manifest.json (Docker 25+, berth), the images of both are merged by config
// digest, so that neither an image missing from one (early Docker 25 left
// untagged images out of index.json) nor a broken view of one (Docker 25.0.0
// wrote OCI manifests without layers) loses anything; every image is
// verified all the same.
func (rd *reader) interpret() ([]Image, error) {
	_, hasIndex := rd.entries["index.json"]
	_, hasManifest := rd.entries["manifest.json"]
	switch {
	case hasIndex && hasManifest:
		oci, ociErr := rd.readOCI()
		if err := rd.ctx.Err(); err != nil {
			return nil, err
		}
		docker, dockerErr := rd.readDocker()
		switch {
		case ociErr == nil && dockerErr == nil:
			return merge(oci, docker), nil
		case ociErr == nil:
			return oci, nil
		case dockerErr == nil:
			return docker, nil
		}
		return nil, fmt.Errorf("%w (and reading manifest.json instead: %v)", ociErr, dockerErr)
	case hasIndex:
		return rd.readOCI()
	case hasManifest:
		return rd.readDocker()
	}
	if _, ok := rd.entries["repositories"]; ok {
		return nil, fmt.Errorf("only a legacy \"repositories\" file, as Docker before 1.10 wrote: %w", errdefs.ErrNotImplemented)
	}
	return nil, invalid("neither index.json nor manifest.json: not an image archive")
}

// merge adds to a the images of b it does not have, and b's names to those it
// has.
func merge(a, b []Image) []Image {
	for _, img := range b {
		i := slices.IndexFunc(a, func(x Image) bool { return x.Config == img.Config })
		if i < 0 {
			a = append(a, img)
			continue
		}
		a[i].RepoTags = addTags(a[i].RepoTags, img.RepoTags...)
	}
	return a
}

func addTags(tags []string, more ...string) []string {
	for _, t := range more {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// readOCI reads an OCI image layout: index.json and what it points to.
func (rd *reader) readOCI() ([]Image, error) {
	if _, ok := rd.entries["oci-layout"]; ok {
		data, err := rd.json("oci-layout")
		if err != nil {
			return nil, err
		}
		var layout ocispec.ImageLayout
		if err := json.Unmarshal(data, &layout); err != nil {
			return nil, invalid("oci-layout is not JSON: %v", err)
		}
		if layout.Version != ocispec.ImageLayoutVersion {
			return nil, fmt.Errorf("oci-layout version %q, berth reads %q: %w", layout.Version, ocispec.ImageLayoutVersion, errdefs.ErrNotImplemented)
		}
	}
	data, err := rd.json("index.json")
	if err != nil {
		return nil, err
	}
	idx, err := parseIndex("index.json", data)
	if err != nil {
		return nil, err
	}
	var images []Image
	for n, desc := range idx.Manifests {
		m, ok, err := rd.resolve(desc, 0)
		if err != nil {
			return nil, fmt.Errorf("index.json, entry %d: %w", n+1, err)
		}
		if !ok {
			continue // not an image: an artifact, a signature
		}
		tags, err := tagsFromAnnotations(desc.Annotations)
		if err != nil {
			return nil, fmt.Errorf("index.json, entry %d: %w", n+1, err)
		}
		i := slices.IndexFunc(images, func(x Image) bool { return x.ManifestDigest == m.Digest })
		if i < 0 {
			img, err := rd.loadManifest(m)
			if err != nil {
				return nil, fmt.Errorf("index.json, entry %d: %w", n+1, err)
			}
			images = append(images, img)
			i = len(images) - 1
		}
		images[i].RepoTags = addTags(images[i].RepoTags, tags...)
	}
	if len(images) == 0 {
		return nil, invalid("index.json lists no images")
	}
	// Two manifests of one config (another compression, say) are one image.
	return merge(nil, images), nil
}

func parseIndex(what string, data []byte) (*ocispec.Index, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, invalid("%s is not a JSON image index: %v", what, err)
	}
	if idx.SchemaVersion != 2 {
		return nil, invalid("%s: schemaVersion %d, expected 2", what, idx.SchemaVersion)
	}
	if idx.MediaType != "" && !isIndexType(idx.MediaType) {
		return nil, invalid("%s: media type %q, expected an image index", what, idx.MediaType)
	}
	return &idx, nil
}

// resolve follows desc, through nested indexes, to the manifest of the
// platform berth runs. ok is false for what is not an image.
func (rd *reader) resolve(desc ocispec.Descriptor, depth int) (ocispec.Descriptor, bool, error) {
	switch mt := desc.MediaType; {
	case isManifestType(mt):
		return desc, true, nil
	case isIndexType(mt):
		if depth >= maxIndexDepth {
			return desc, false, invalid("image index %s: indexes nested more than %d deep", desc.Digest, maxIndexDepth)
		}
		data, err := rd.blobJSON(desc)
		if err != nil {
			return desc, false, err
		}
		idx, err := parseIndex("image index "+string(desc.Digest), data)
		if err != nil {
			return desc, false, err
		}
		m, err := pickPlatform(desc.Digest, idx)
		if err != nil {
			return desc, false, err
		}
		return rd.resolve(m, depth+1)
	case mt == mediaTypeDockerSchema1 || mt == mediaTypeDockerSchema1JWS:
		return desc, false, fmt.Errorf("manifest %s: Docker schema 1 manifests are not supported: %w", desc.Digest, errdefs.ErrNotImplemented)
	case mt == "":
		return desc, false, invalid("descriptor of %s has no media type", desc.Digest)
	}
	return desc, false, nil
}

// hostPlatform is the platform whose manifest Read picks from a
// multi-platform index: the one berth runs containers for.
func hostPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}
}

func platformString(p *ocispec.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// pickPlatform chooses the manifest of the host's platform from an index. An
// index of one manifest that says no platform is taken as it is.
func pickPlatform(index digest.Digest, idx *ocispec.Index) (ocispec.Descriptor, error) {
	want := hostPlatform()
	var have []string
	anyPlatform := false
	for _, m := range idx.Manifests {
		if m.Platform != nil {
			anyPlatform = true
		}
		if !isManifestType(m.MediaType) && !isIndexType(m.MediaType) {
			continue
		}
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestations say unknown/unknown
		}
		if m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture {
			return m, nil
		}
		have = append(have, platformString(m.Platform))
	}
	if !anyPlatform && len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	if len(have) == 0 {
		return ocispec.Descriptor{}, invalid("image index %s has no manifest for %s (nor for any platform)", index, platformString(&want))
	}
	return ocispec.Descriptor{}, fmt.Errorf("image index %s has no manifest for %s, only for %s: %w",
		index, platformString(&want), strings.Join(have, ", "), errdefs.ErrNotFound)
}

// blobEntry finds the blob desc names and checks its size.
func (rd *reader) blobEntry(desc ocispec.Descriptor) (*entry, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, invalid("descriptor with digest %q: %v", desc.Digest, err)
	}
	_, e, err := rd.lookup(blobPath(desc.Digest))
	if err != nil {
		return nil, err
	}
	if e.digest != desc.Digest {
		// Only a link can get here: blobs/ files were checked as stored.
		return nil, invalid("%s holds %s", blobPath(desc.Digest), e.digest)
	}
	if e.size != desc.Size {
		return nil, invalid("blob %s is %d bytes, its descriptor says %d", desc.Digest, e.size, desc.Size)
	}
	return e, nil
}

func (rd *reader) blobJSON(desc ocispec.Descriptor) ([]byte, error) {
	if _, err := rd.blobEntry(desc); err != nil {
		return nil, err
	}
	return rd.json(blobPath(desc.Digest))
}

// loadManifest reads an image manifest, its config and layers, and verifies
// them.
func (rd *reader) loadManifest(desc ocispec.Descriptor) (Image, error) {
	data, err := rd.blobJSON(desc)
	if err != nil {
		return Image{}, fmt.Errorf("manifest: %w", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Image{}, invalid("manifest %s is not JSON: %v", desc.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return Image{}, invalid("manifest %s: schemaVersion %d, expected 2", desc.Digest, m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != desc.MediaType {
		return Image{}, invalid("manifest %s: media type %q, its descriptor says %q", desc.Digest, m.MediaType, desc.MediaType)
	}
	if ct := m.Config.MediaType; ct != ocispec.MediaTypeImageConfig && ct != mediaTypeDockerConfig {
		return Image{}, invalid("manifest %s is not a container image: config media type %q", desc.Digest, ct)
	}
	if _, err := rd.blobEntry(m.Config); err != nil {
		return Image{}, fmt.Errorf("config of manifest %s: %w", desc.Digest, err)
	}
	config, err := rd.json(blobPath(m.Config.Digest))
	if err != nil {
		return Image{}, err
	}
	img := Image{Config: m.Config.Digest, ConfigJSON: config, ManifestDigest: desc.Digest}
	for i, l := range m.Layers {
		if !isLayerType(l.MediaType) {
			return Image{}, invalid("manifest %s: layer %d has media type %q, not a layer's", desc.Digest, i+1, l.MediaType)
		}
		if _, err := rd.blobEntry(l); err != nil {
			return Image{}, fmt.Errorf("layer %d of manifest %s: %w", i+1, desc.Digest, err)
		}
		img.Layers = append(img.Layers, Layer{Blob: l.Digest, Size: l.Size, MediaType: l.MediaType})
	}
	if err := rd.verify(&img); err != nil {
		return Image{}, err
	}
	return img, nil
}

func isLayerType(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}

// manifestItem is one entry of a docker save manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// readDocker reads a docker save archive's manifest.json and what it points to.
func (rd *reader) readDocker() ([]Image, error) {
	data, err := rd.json("manifest.json")
	if err != nil {
		return nil, err
	}
	var items []manifestItem
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, invalid("manifest.json is not a JSON list of images: %v", err)
	}
	if len(items) == 0 {
		return nil, invalid("manifest.json lists no images")
	}
	var images []Image
	for n, it := range items {
		img, err := rd.dockerImage(it)
		if err != nil {
			return nil, fmt.Errorf("manifest.json, image %d: %w", n+1, err)
		}
		images = merge(images, []Image{img})
	}
	return images, nil
}

func (rd *reader) dockerImage(it manifestItem) (Image, error) {
	if it.Config == "" {
		return Image{}, invalid("no Config")
	}
	cpath, err := cleanPath(it.Config)
	if err != nil {
		return Image{}, err
	}
	ce, err := rd.stored(cpath)
	if err != nil {
		return Image{}, fmt.Errorf("config: %w", err)
	}
	if named := digestInName(cpath); named != "" && named != ce.digest {
		return Image{}, invalid("config %q: its bytes are %s, its name says %s", it.Config, ce.digest, named)
	}
	config, err := rd.json(cpath)
	if err != nil {
		return Image{}, err
	}
	img := Image{Config: ce.digest, ConfigJSON: config}
	for _, t := range it.RepoTags {
		tag, ok, err := familiarTag(t)
		if err != nil {
			return Image{}, err
		}
		if ok {
			img.RepoTags = addTags(img.RepoTags, tag)
		}
	}
	for i, l := range it.Layers {
		lpath, err := cleanPath(l)
		if err != nil {
			return Image{}, err
		}
		le, err := rd.stored(lpath)
		if err != nil {
			return Image{}, fmt.Errorf("layer %d: %w", i+1, err)
		}
		img.Layers = append(img.Layers, Layer{Blob: le.digest, Size: le.size})
	}
	if err := rd.verify(&img); err != nil {
		return Image{}, err
	}
	return img, nil
}

// digestInName returns the sha256 digest a config's path names:
// "blobs/sha256/<hex>" or "<hex>.json". "" if it names none.
func digestInName(p string) digest.Digest {
	dir, file := path.Split(p)
	hex := file
	switch dir {
	case "blobs/sha256/":
	case "":
		hex = strings.TrimSuffix(file, ".json")
	default:
		return ""
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex)
	if d.Validate() != nil {
		return ""
	}
	return d
}

// tagsFromAnnotations returns the names an index.json descriptor gives its
// image: containerd's full name if present, else the OCI ref name if it is a
// reference with a repository ("app:v1", "example.com/app"; a bare "v1" or
// "latest" is only a tag, naming nothing on its own).
func tagsFromAnnotations(ann map[string]string) ([]string, error) {
	name := ann[annotationImageName]
	if name == "" {
		if ref := ann[ocispec.AnnotationRefName]; strings.ContainsAny(ref, ":/@") {
			name = ref
		}
	}
	if name == "" {
		return nil, nil
	}
	tag, ok, err := familiarTag(name)
	if err != nil || !ok {
		return nil, err
	}
	return []string{tag}, nil
}

// familiarTag normalises a name to the familiar tagged form Docker lists
// ("busybox:latest"); ok is false for a name by digest only, which is no tag.
func familiarTag(s string) (string, bool, error) {
	ref, err := reference.Parse(s)
	if err != nil {
		return "", false, invalid("image name %q: %v", s, err)
	}
	if ref.Tag == "" && ref.Digest != "" {
		return "", false, nil
	}
	ref = ref.WithDefaultTag()
	ref.Digest = ""
	return ref.Familiar(), true, nil
}

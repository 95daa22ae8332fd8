package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

func TestReadDockerArchive(t *testing.T) {
	base := mkLayer(t, "base", false)
	a := mkImage(t, "amd64", base, mkLayer(t, "a", false))
	a.tags = []string{"app:v1", "example.com/team/app:latest"}
	b := mkImage(t, "amd64", base, mkLayer(t, "b", true)) // shares base: a symlink
	b.tags = []string{"docker.io/library/other:2"}
	s := newStore(t)

	got := mustRead(t, s, mkTar(t, dockerFiles(t, a, b)...))

	if len(got.Images) != 2 {
		t.Fatalf("%d images, want 2", len(got.Images))
	}
	checkImage(t, got.Images[0], a, "app:v1", "example.com/team/app:latest")
	checkImage(t, got.Images[1], b, "other:2") // normalised to the familiar form
	for _, img := range got.Images {
		if img.ManifestDigest != "" {
			t.Errorf("ManifestDigest = %s for a docker-format image", img.ManifestDigest)
		}
	}
	if len(got.Unreferenced) != 0 {
		t.Errorf("Unreferenced = %v; the legacy json/VERSION files must not be stored", got.Unreferenced)
	}
	// Exactly the configs and layers were stored.
	want := []digest.Digest{a.configDigest(), b.configDigest(), base.digest(), a.layers[1].digest(), b.layers[1].digest()}
	slices.Sort(want)
	if have := storeBlobs(t, s); !slices.Equal(have, want) {
		t.Errorf("store has %v, want %v", have, want)
	}
}

func TestReadOCIArchive(t *testing.T) {
	img := twoLayerImage(t, "oci")
	other := twoLayerImage(t, "other")
	files := ociFiles(t, []testImage{img, img, img, other}, []map[string]string{
		{ocispec.AnnotationRefName: "app:v1"},
		{annotationImageName: "docker.io/library/app:latest", ocispec.AnnotationRefName: "latest"},
		{ocispec.AnnotationRefName: "v2"}, // a bare tag names nothing
		nil,                               // untagged
	})
	s := newStore(t)

	got := mustRead(t, s, mkTar(t, files...))

	if len(got.Images) != 2 {
		t.Fatalf("%d images, want 2", len(got.Images))
	}
	checkImage(t, got.Images[0], img, "app:v1", "app:latest")
	checkImage(t, got.Images[1], other)
	if got.Images[0].ManifestDigest != img.manifestDigest() {
		t.Errorf("ManifestDigest = %s, want %s", got.Images[0].ManifestDigest, img.manifestDigest())
	}
	if len(got.Unreferenced) != 0 {
		t.Errorf("Unreferenced = %v", got.Unreferenced)
	}
}

func TestReadGzipLayerDiffID(t *testing.T) {
	l := mkLayer(t, "gz", true)
	if l.digest() == l.diffID {
		t.Fatal("test layer is not compressed")
	}
	for _, format := range []string{"docker", "oci"} {
		t.Run(format, func(t *testing.T) {
			img := mkImage(t, goruntime.GOARCH, l)
			var files []file
			if format == "docker" {
				files = dockerFiles(t, img)
			} else {
				files = ociFiles(t, []testImage{img}, []map[string]string{nil})
			}
			got := mustRead(t, newStore(t), mkTar(t, files...))
			layer := got.Images[0].Layers[0]
			if layer.DiffID != l.diffID || layer.Blob != l.digest() || layer.MediaType != ocispec.MediaTypeImageLayerGzip {
				t.Errorf("layer = %+v, want blob %s, diff ID %s, gzip", layer, l.digest(), l.diffID)
			}
		})
	}
}

func TestReadZstdLayerDiffID(t *testing.T) {
	l := mkLayer(t, "zst", false)
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	l.blob = zw.EncodeAll(l.blob, nil)
	zw.Close()
	img := mkImage(t, goruntime.GOARCH, l)
	got := mustRead(t, newStore(t), mkTar(t, dockerFiles(t, img)...))
	layer := got.Images[0].Layers[0]
	if layer.DiffID != l.diffID || layer.Blob != l.digest() || layer.MediaType != ocispec.MediaTypeImageLayerZstd {
		t.Errorf("layer = %+v, want blob %s, diff ID %s, zstd", layer, l.digest(), l.diffID)
	}
}

func TestReadCompressedArchive(t *testing.T) {
	img := twoLayerImage(t, "c")
	got := mustRead(t, newStore(t), gzipBytes(t, mkTar(t, ociFiles(t, []testImage{img}, []map[string]string{nil})...)))
	checkImage(t, got.Images[0], img)
}

// multiPlatform is an OCI layout whose index.json points to an index of the
// given images (by platform), plus one attestation-like manifest.
func multiPlatform(t *testing.T, imgs ...testImage) (files []file, index []byte) {
	var idx ocispec.Index
	idx.SchemaVersion = 2
	idx.MediaType = ocispec.MediaTypeImageIndex
	for _, img := range imgs {
		d := img.manifestDesc()
		p := img.platform
		d.Platform = &p
		idx.Manifests = append(idx.Manifests, d)
	}
	idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("attestation"), Size: 11,
		Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"},
	})
	index = mustJSON(t, idx)
	top := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(index), Size: int64(len(index)),
			Annotations: map[string]string{annotationImageName: "docker.io/library/multi:1"},
		}}}
	files = []file{
		{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", data: mustJSON(t, top)},
		{name: blobPath(digest.FromBytes(index)), data: index},
	}
	return append(files, blobFiles(imgs...)...), index
}

func TestReadMultiPlatformPicksHost(t *testing.T) {
	other := "arm64"
	if goruntime.GOARCH == "arm64" {
		other = "amd64"
	}
	host := mkImage(t, goruntime.GOARCH, mkLayer(t, "host", true))
	foreign := mkImage(t, other, mkLayer(t, "foreign", true))
	files, index := multiPlatform(t, foreign, host)

	got := mustRead(t, newStore(t), mkTar(t, files...))

	if len(got.Images) != 1 {
		t.Fatalf("%d images, want 1", len(got.Images))
	}
	checkImage(t, got.Images[0], host, "multi:1")
	if got.Images[0].ManifestDigest != host.manifestDigest() {
		t.Errorf("ManifestDigest = %s, want the host's %s", got.Images[0].ManifestDigest, host.manifestDigest())
	}
	want := []digest.Digest{digest.FromBytes(index), foreign.configDigest(), foreign.layers[0].digest(), foreign.manifestDigest()}
	if !slices.Equal(got.Unreferenced, want) {
		t.Errorf("Unreferenced = %v, want the index and the other platform's blobs %v", got.Unreferenced, want)
	}
}

func TestReadMultiPlatformWithoutHost(t *testing.T) {
	a := mkImage(t, "s390x", mkLayer(t, "s", false))
	b := mkImage(t, "riscv64", mkLayer(t, "r", false))
	files, _ := multiPlatform(t, a, b)
	s := newStore(t)

	got, err := read(t, s, mkTar(t, files...))

	if err == nil {
		t.Fatal("Read picked an image of another platform")
	}
	msg := err.Error()
	for _, want := range []string{"linux/" + goruntime.GOARCH, "linux/s390x", "linux/riscv64"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %s", msg, want)
		}
	}
	if !slices.Equal(sorted(got.Unreferenced), storeBlobs(t, s)) {
		t.Errorf("Unreferenced %v is not everything written %v", got.Unreferenced, storeBlobs(t, s))
	}
}

func sorted(ds []digest.Digest) []digest.Digest {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds
}

// Docker 25+ writes both formats; early 25.0 releases wrote OCI manifests
// without layers, and left untagged images out of index.json.
func TestReadDocker25Archive(t *testing.T) {
	tagged := twoLayerImage(t, "tagged")
	tagged.tags = []string{"app:1"}
	untagged := twoLayerImage(t, "untagged")
	docker := dockerFiles(t, tagged, untagged)

	t.Run("consistent", func(t *testing.T) {
		files := ociFiles(t, []testImage{tagged}, []map[string]string{{annotationImageName: "docker.io/library/app:1", ocispec.AnnotationRefName: "1"}})
		files = append(files, docker...)
		got := mustRead(t, newStore(t), mkTar(t, files...))
		if len(got.Images) != 2 {
			t.Fatalf("%d images, want 2 (the untagged one is only in manifest.json)", len(got.Images))
		}
		checkImage(t, got.Images[0], tagged, "app:1")
		checkImage(t, got.Images[1], untagged)
		if got.Images[0].ManifestDigest != tagged.manifestDigest() {
			t.Errorf("ManifestDigest = %q", got.Images[0].ManifestDigest)
		}
	})
	t.Run("manifest without layers", func(t *testing.T) {
		broken := mkImage(t, goruntime.GOARCH)
		broken.config = tagged.config
		broken.manifest = mustJSON(t, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: tagged.configDigest(), Size: int64(len(tagged.config))},
		})
		files := ociFiles(t, []testImage{broken}, []map[string]string{{annotationImageName: "docker.io/library/app:1"}})
		files = append(files, docker...)
		got := mustRead(t, newStore(t), mkTar(t, files...))
		checkImage(t, got.Images[0], tagged, "app:1")
		checkImage(t, got.Images[1], untagged)
		if got.Images[0].ManifestDigest != "" {
			t.Errorf("ManifestDigest = %s from a broken manifest", got.Images[0].ManifestDigest)
		}
	})
}

func TestReadCancelled(t *testing.T) {
	img := twoLayerImage(t, "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Read(ctx, bytes.NewReader(mkTar(t, dockerFiles(t, img)...)), newStore(t))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

func TestReadHostile(t *testing.T) {
	img := twoLayerImage(t, "h")
	img.tags = []string{"app:1"}
	docker := dockerFiles(t, img)
	oci := ociFiles(t, []testImage{img}, []map[string]string{nil})
	full := mkTar(t, docker...)
	cfgName := img.configDigest().Encoded() + ".json"

	// replace returns files with the entry called name swapped for f (or
	// removed, if f.name is "").
	replace := func(files []file, name string, f file) []file {
		var out []file
		for _, x := range files {
			if x.name != name {
				out = append(out, x)
			} else if f.name != "" {
				out = append(out, f)
			}
		}
		return out
	}
	manifest := func(items []manifestItem) file { return file{name: "manifest.json", data: mustJSON(t, items)} }
	item := manifestItem{Config: cfgName, RepoTags: []string{"app:1"}}
	layerPaths := func() []string {
		var ps []string
		for _, f := range docker {
			if strings.HasSuffix(f.name, "/layer.tar") {
				ps = append(ps, f.name)
			}
		}
		return ps
	}()
	withLayers := func(it manifestItem, ls ...string) manifestItem { it.Layers = ls; return it }
	badConfig := []byte(`not json`)
	otherBlob := []byte("something else")

	tests := []struct {
		name    string
		archive []byte
		want    string
		class   error
	}{
		{"not a tar", []byte(strings.Repeat("garbage!", 200)), "tar", errdefs.ErrInvalidArgument},
		{"empty tar", mkTar(t), "no files", errdefs.ErrInvalidArgument},
		{"truncated in a header", full[:len(full)/2+100], "truncated", errdefs.ErrInvalidArgument},
		{"truncated in a layer", full[:1536+300], "truncated", errdefs.ErrInvalidArgument},
		{"no manifest or index", mkTar(t, replace(replace(docker, "manifest.json", file{}), "repositories", file{})...), "neither index.json nor manifest.json", errdefs.ErrInvalidArgument},
		{"missing layer", mkTar(t, append(replace(docker, "manifest.json", file{}), manifest([]manifestItem{withLayers(item, layerPaths[0], "nope/layer.tar")}))...), `"nope/layer.tar" is not in the archive`, errdefs.ErrInvalidArgument},
		{"missing config", mkTar(t, replace(docker, cfgName, file{})...), "is not in the archive", errdefs.ErrInvalidArgument},
		{"dotdot path", mkTar(t, append(docker, file{name: "../evil", data: []byte("x")})...), `".."`, errdefs.ErrInvalidArgument},
		{"dotdot in manifest", mkTar(t, append(replace(docker, "manifest.json", file{}), manifest([]manifestItem{withLayers(item, "../../etc/passwd")}))...), `".."`, errdefs.ErrInvalidArgument},
		{"absolute path", mkTar(t, append(docker, file{name: "/etc/x", data: []byte("x")})...), "absolute", errdefs.ErrInvalidArgument},
		{"symlink out", mkTar(t, append(docker, file{name: "x/layer.tar", typ: tar.TypeSymlink, link: "../../y"})...), "outside the archive", errdefs.ErrInvalidArgument},
		{"symlink loop", mkTar(t, append(append(replace(docker, "manifest.json", file{}),
			file{name: "a", typ: tar.TypeSymlink, link: "b"}, file{name: "b", typ: tar.TypeSymlink, link: "a"}),
			manifest([]manifestItem{withLayers(item, "a", layerPaths[1])}))...), "links deep", errdefs.ErrInvalidArgument},
		{"device", mkTar(t, append(docker, file{name: "dev", typ: tar.TypeChar})...), "only files", errdefs.ErrInvalidArgument},
		{"blob digest mismatch", mkTar(t, append(oci, file{name: blobPath(digest.FromString("x")), data: otherBlob})...), "expected", errdefs.ErrInvalidArgument},
		{"bad blob name", mkTar(t, append(oci, file{name: "blobs/sha256/xyz", data: otherBlob})...), "does not name a digest", errdefs.ErrInvalidArgument},
		{"config name mismatch", mkTar(t, replace(docker, cfgName, file{name: cfgName, data: img.layers[0].blob})...), "its name says", errdefs.ErrInvalidArgument},
		{"non-JSON config", mkTar(t, append(append(replace(docker, "manifest.json", file{}), file{name: "c.json", data: badConfig}),
			manifest([]manifestItem{withLayers(manifestItem{Config: "c.json"}, layerPaths...)}))...), "is not JSON", errdefs.ErrInvalidArgument},
		{"duplicate path", mkTar(t, append(docker, file{name: cfgName, data: otherBlob})...), "appears twice", errdefs.ErrInvalidArgument},
		{"layer count", mkTar(t, append(replace(docker, "manifest.json", file{}), manifest([]manifestItem{withLayers(item, layerPaths[0])}))...),
			"lists 2 layers, manifest has 1", errdefs.ErrInvalidArgument},
		{"diff id mismatch", mkTar(t, append(replace(docker, "manifest.json", file{}), manifest([]manifestItem{withLayers(item, layerPaths[1], layerPaths[0])}))...),
			"layer 1 of image " + string(img.configDigest()) + ": diff id", errdefs.ErrInvalidArgument},
		{"bad tag", mkTar(t, append(replace(docker, "manifest.json", file{}), manifest([]manifestItem{withLayers(manifestItem{Config: cfgName, RepoTags: []string{"UPPER:x"}}, layerPaths...)}))...),
			"image name", errdefs.ErrInvalidArgument},
		{"manifest.json not a list", mkTar(t, append(replace(docker, "manifest.json", file{}), file{name: "manifest.json", data: []byte(`{}`)})...), "not a JSON list", errdefs.ErrInvalidArgument},
		{"index points nowhere", mkTar(t, replace(oci, blobPath(img.manifestDigest()), file{})...), "is not in the archive", errdefs.ErrInvalidArgument},
		{"index size lies", mkTar(t, append(replace(oci, "index.json", file{}), file{name: "index.json", data: mustJSON(t, ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2},
			Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: img.manifestDigest(), Size: 5}}})})...),
			"descriptor says 5", errdefs.ErrInvalidArgument},
		{"bad layout version", mkTar(t, append(replace(oci, "oci-layout", file{}), file{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"2.0.0"}`)})...),
			"oci-layout version", errdefs.ErrNotImplemented},
		{"legacy repositories only", mkTar(t, replace(docker, "manifest.json", file{name: "x", data: []byte("x")})...), "Docker before 1.10", errdefs.ErrNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			got, err := read(t, s, tt.archive)
			if err == nil {
				t.Fatalf("Read succeeded, want an error mentioning %q", tt.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error %q is not of class %v", err, tt.class)
			}
			if got == nil {
				t.Fatal("Read returned a nil Archive with its error")
			}
			if len(got.Images) != 0 {
				t.Errorf("Read returned images with its error")
			}
			// The caller can clean up everything Read stored.
			if have := storeBlobs(t, s); !slices.Equal(sorted(got.Unreferenced), have) {
				t.Errorf("Unreferenced = %v, store has %v", got.Unreferenced, have)
			}
		})
	}
}

// zeroFileLayer writes a layer tar holding one file of n zero bytes.
func zeroFileLayer(w io.Writer, n int64) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big", Size: n, Mode: 0o644}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, zeros{}, n); err != nil {
		return err
	}
	return tw.Close()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Read streams layers into the store: it allocates far less than a layer.
func TestReadStreamsLayers(t *testing.T) {
	const size = 32 << 20
	var counter countWriter
	h := digest.Canonical.Digester()
	if err := zeroFileLayer(io.MultiWriter(h.Hash(), &counter), size); err != nil {
		t.Fatal(err)
	}
	layerDigest, layerSize := h.Digest(), counter.n
	img := mkImage(t, goruntime.GOARCH)
	img.config = mustJSON(t, ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDigest}}})
	items := []manifestItem{{Config: "config.json", Layers: []string{"layer.tar"}}}

	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for _, f := range []file{{name: "manifest.json", data: mustJSON(t, items)}, {name: "config.json", data: img.config}} {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Size: int64(len(f.data)), Mode: 0o644})
			tw.Write(f.data)
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "layer.tar", Size: layerSize, Mode: 0o644})
		zeroFileLayer(tw, size)
		pw.CloseWithError(tw.Close())
	}()
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	a, err := Read(context.Background(), pr, newStore(t))
	goruntime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if l := a.Images[0].Layers[0]; l.DiffID != layerDigest || l.Size != layerSize {
		t.Fatalf("layer %+v, want %s of %d bytes", l, layerDigest, layerSize)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("Read of a %d MiB layer allocated %d MiB", size>>20, alloc>>20)
	} else {
		t.Logf("Read of a %d MiB layer allocated %d KiB", size>>20, alloc>>10)
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

package tarball

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
)

// sameImages compares what Read returned for an archive Write made with the
// images written: everything survives, the manifest digest too if there was
// one.
func sameImages(t *testing.T, got, want []Image) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d images, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Config != w.Config || !bytes.Equal(g.ConfigJSON, w.ConfigJSON) {
			t.Errorf("image %d: config %s, want %s", i, g.Config, w.Config)
		}
		if !slices.Equal(g.Layers, w.Layers) {
			t.Errorf("image %d: layers\n%+v, want\n%+v", i, g.Layers, w.Layers)
		}
		if !slices.Equal(g.RepoTags, w.RepoTags) {
			t.Errorf("image %d: tags %q, want %q", i, g.RepoTags, w.RepoTags)
		}
		if w.ManifestDigest != "" && g.ManifestDigest != w.ManifestDigest {
			t.Errorf("image %d: manifest %s, want %s", i, g.ManifestDigest, w.ManifestDigest)
		}
		if g.ManifestDigest == "" {
			t.Errorf("image %d: no manifest digest read back", i)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	base := mkLayer(t, "base", false)
	a := mkImage(t, "amd64", base, mkLayer(t, "a", true))
	a.tags = []string{"app:v1", "app:latest", "example.com/x/app:2"}
	b := mkImage(t, "arm64", base, mkLayer(t, "b", false)) // another platform: written all the same
	c := twoLayerImage(t, "untagged")

	for _, source := range []string{"docker", "oci"} {
		t.Run("from "+source, func(t *testing.T) {
			var files []file
			if source == "docker" {
				files = dockerFiles(t, a, b, c)
			} else {
				files = ociFiles(t, []testImage{a, a, a, b, c}, []map[string]string{
					{ocispec.AnnotationRefName: "app:v1"}, {ocispec.AnnotationRefName: "app:latest"},
					{ocispec.AnnotationRefName: "example.com/x/app:2"}, nil, nil,
				})
			}
			s := newStore(t)
			first := mustRead(t, s, mkTar(t, files...))

			out := writeArchive(t, s, first.Images)

			// Into an empty store: the archive carries everything.
			s2 := newStore(t)
			second := mustRead(t, s2, out)
			sameImages(t, second.Images, first.Images)
			if len(second.Unreferenced) != 0 {
				t.Errorf("Unreferenced = %v", second.Unreferenced)
			}
			// Writing what was read back gives the same bytes.
			if again := writeArchive(t, s2, second.Images); !bytes.Equal(again, out) {
				t.Error("Write of a re-read archive differs from the first Write")
			}
		})
	}
}

func TestWriteLayout(t *testing.T) {
	base := mkLayer(t, "base", false)
	a := mkImage(t, "amd64", base, mkLayer(t, "a", true))
	b := mkImage(t, "amd64", base)
	s := newStore(t)
	got := mustRead(t, s, mkTar(t, ociFiles(t, []testImage{a, b}, []map[string]string{nil, nil})...))
	got.Images[0].RepoTags = []string{"one:1", "one:2"}
	got.Images[1].RepoTags = []string{"two:latest"}

	out := writeArchive(t, s, got.Images)
	if again := writeArchive(t, s, got.Images); !bytes.Equal(again, out) {
		t.Fatal("Write is not deterministic")
	}

	names, files := tarEntries(t, out)
	wantNames := []string{"oci-layout", "index.json", "manifest.json", "repositories", "blobs/", "blobs/sha256/",
		blobPath(a.configDigest()), blobPath(base.digest()), blobPath(a.layers[1].digest()), blobPath(a.manifestDigest()),
		blobPath(b.configDigest()), blobPath(b.manifestDigest())}
	if !slices.Equal(names, wantNames) {
		t.Errorf("entries\n%q, want (the shared layer once)\n%q", names, wantNames)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	type named struct{ digest, full, ref string }
	var descs []named
	for _, d := range idx.Manifests {
		descs = append(descs, named{string(d.Digest), d.Annotations[annotationImageName], d.Annotations[ocispec.AnnotationRefName]})
		if d.Platform == nil || d.Platform.Architecture != "amd64" {
			t.Errorf("descriptor %s: platform %v", d.Digest, d.Platform)
		}
	}
	wantDescs := []named{
		{string(a.manifestDigest()), "docker.io/library/one:1", "1"},
		{string(a.manifestDigest()), "docker.io/library/one:2", "2"},
		{string(b.manifestDigest()), "docker.io/library/two:latest", "latest"},
	}
	if !slices.Equal(descs, wantDescs) {
		t.Errorf("index.json\n%v, want\n%v", descs, wantDescs)
	}
	var items []manifestItem
	if err := json.Unmarshal(files["manifest.json"], &items); err != nil {
		t.Fatal(err)
	}
	wantItems := []manifestItem{
		{Config: blobPath(a.configDigest()), RepoTags: []string{"one:1", "one:2"}, Layers: []string{blobPath(base.digest()), blobPath(a.layers[1].digest())}},
		{Config: blobPath(b.configDigest()), RepoTags: []string{"two:latest"}, Layers: []string{blobPath(base.digest())}},
	}
	if mustString(t, items) != mustString(t, wantItems) {
		t.Errorf("manifest.json\n%s, want\n%s", mustString(t, items), mustString(t, wantItems))
	}
	wantRepos := `{"one":{"1":"` + a.layers[1].digest().Encoded() + `","2":"` + a.layers[1].digest().Encoded() + `"},"two":{"latest":"` + base.digest().Encoded() + `"}}`
	if string(files["repositories"]) != wantRepos {
		t.Errorf("repositories = %s, want %s", files["repositories"], wantRepos)
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", files["oci-layout"])
	}
}

func mustString(t *testing.T, v any) string { return string(mustJSON(t, v)) }

// An image read from a docker save archive has no manifest: Write makes one,
// with the layers' media types, the same every time.
func TestWriteGeneratesManifest(t *testing.T) {
	img := twoLayerImage(t, "gen")
	s := newStore(t)
	got := mustRead(t, s, mkTar(t, dockerFiles(t, img)...))

	out := writeArchive(t, s, got.Images)
	_, files := tarEntries(t, out)
	// The test image's manifest is exactly what Write should generate.
	if m := files[blobPath(img.manifestDigest())]; !bytes.Equal(m, img.manifest) {
		t.Errorf("generated manifest\n%s, want\n%s", m, img.manifest)
	}
	// A layer without a media type gets one from its bytes.
	imgs := slices.Clone(got.Images)
	imgs[0].Layers = slices.Clone(imgs[0].Layers)
	for i := range imgs[0].Layers {
		imgs[0].Layers[i].MediaType = ""
	}
	if again := writeArchive(t, s, imgs); !bytes.Equal(again, out) {
		t.Error("media types sniffed from the layers differ from those Read found")
	}
}

func TestWriteErrors(t *testing.T) {
	img := twoLayerImage(t, "w")
	other := twoLayerImage(t, "o")
	s := newStore(t)
	got := mustRead(t, s, mkTar(t, ociFiles(t, []testImage{img, other}, []map[string]string{nil, nil})...))
	good, good2 := got.Images[0], got.Images[1]
	with := func(f func(*Image)) []Image {
		i := good
		i.Layers = slices.Clone(good.Layers)
		f(&i)
		return []Image{i}
	}
	tests := []struct {
		name   string
		images []Image
		want   string
	}{
		{"no images", nil, "no images"},
		{"bad config digest", with(func(i *Image) { i.Config = "sha256:nope" }), "config digest"},
		{"config not stored", with(func(i *Image) { i.Config = digest.FromString("x"); i.ConfigJSON = nil }), "not found"},
		{"config bytes differ", with(func(i *Image) { i.ConfigJSON = []byte("{}") }), "hash to"},
		{"layer count", with(func(i *Image) { i.Layers = i.Layers[:1]; i.ManifestDigest = "" }), "lists 2 layers, the image has 1"},
		{"layer size too small", with(func(i *Image) { i.Layers[1].Size--; i.ManifestDigest = "" }), "larger than"},
		{"layer size too large", with(func(i *Image) { i.Layers[1].Size++; i.ManifestDigest = "" }), "the image says"},
		{"manifest of another image", with(func(i *Image) { i.ManifestDigest = good2.ManifestDigest }), "does not describe"},
		{"digest tag", with(func(i *Image) { i.RepoTags = []string{"app@" + string(digest.FromString("x"))} }), "not a tag"},
		{"tag on two images", []Image{with(func(i *Image) { i.RepoTags = []string{"app:1"} })[0], func() Image { i := good2; i.RepoTags = []string{"app:1"}; return i }()}, "given to both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(context.Background(), new(bytes.Buffer), s, tt.images)
			if err == nil {
				t.Fatalf("Write succeeded, want an error mentioning %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("error %q has no class", err)
			}
		})
	}
}

// fakeProvider serves some blobs with other bytes.
type fakeProvider struct {
	Provider
	swap map[digest.Digest][]byte
}

func (f fakeProvider) Open(d digest.Digest) (io.ReadCloser, error) {
	if b, ok := f.swap[d]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return f.Provider.Open(d)
}

func TestWriteDetectsCorruptBlob(t *testing.T) {
	img := twoLayerImage(t, "corrupt")
	s := newStore(t)
	got := mustRead(t, s, mkTar(t, ociFiles(t, []testImage{img}, []map[string]string{nil})...))
	layer := got.Images[0].Layers[0]
	bad := fakeProvider{Provider: s, swap: map[digest.Digest][]byte{layer.Blob: bytes.Repeat([]byte{'x'}, int(layer.Size))}}
	err := Write(context.Background(), new(bytes.Buffer), bad, got.Images)
	if err == nil || !strings.Contains(err.Error(), "hash to") {
		t.Fatalf("Write of a corrupt blob = %v, want a digest mismatch", err)
	}
}

func TestWriteCancelled(t *testing.T) {
	img := twoLayerImage(t, "cancel")
	s := newStore(t)
	got := mustRead(t, s, mkTar(t, ociFiles(t, []testImage{img}, []map[string]string{nil})...))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Write(ctx, new(bytes.Buffer), s, got.Images); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write = %v, want context.Canceled", err)
	}
}

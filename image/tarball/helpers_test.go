package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/content"
)

func newStore(t testing.TB) *content.Store {
	t.Helper()
	s, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storeBlobs lists every blob in s.
func storeBlobs(t testing.TB, s *content.Store) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	if err := s.Walk(func(d digest.Digest, _ int64) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ds)
	return ds
}

// file is one tar entry a test archive has.
type file struct {
	name string
	data []byte
	typ  byte   // tar.TypeReg if 0
	link string // symlinks and hard links
}

// mkTar makes a tar of files, in order.
func mkTar(t testing.TB, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		typ := f.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Typeflag: typ, Name: f.name, Mode: 0o644, ModTime: time.Unix(1e9, 0), Linkname: f.link}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(f.data))
		}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testLayer is a layer blob and its diff ID.
type testLayer struct {
	blob   []byte
	diffID digest.Digest
	gzip   bool
}

func (l testLayer) digest() digest.Digest { return digest.FromBytes(l.blob) }

func (l testLayer) mediaType() string {
	if l.gzip {
		return ocispec.MediaTypeImageLayerGzip
	}
	return ocispec.MediaTypeImageLayer
}

// mkLayer makes a layer tar with one file whose content is seed.
func mkLayer(t testing.TB, seed string, gz bool) testLayer {
	t.Helper()
	tarball := mkTar(t, file{name: "etc/", typ: tar.TypeDir}, file{name: "etc/" + seed, data: []byte("content of " + seed + "\n")})
	l := testLayer{blob: tarball, diffID: digest.FromBytes(tarball), gzip: gz}
	if gz {
		l.blob = gzipBytes(t, tarball)
	}
	return l
}

// testImage is an image a test archive holds.
type testImage struct {
	config   []byte
	layers   []testLayer
	tags     []string // as the archive writes them
	manifest []byte   // OCI manifest
	platform ocispec.Platform
}

func (img testImage) configDigest() digest.Digest   { return digest.FromBytes(img.config) }
func (img testImage) manifestDigest() digest.Digest { return digest.FromBytes(img.manifest) }

func (img testImage) manifestDesc() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.manifestDigest(), Size: int64(len(img.manifest))}
}

// mkImage makes an image of the given layers for the given platform.
func mkImage(t testing.TB, arch string, layers ...testLayer) testImage {
	t.Helper()
	diffIDs := []digest.Digest{}
	for _, l := range layers {
		diffIDs = append(diffIDs, l.diffID)
	}
	created := time.Unix(1e9, 0).UTC()
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: arch},
		Config:   ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage{config: config, layers: layers, platform: cfg.Platform}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.configDigest(), Size: int64(len(config))},
		Layers:    []ocispec.Descriptor{},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.mediaType(), Digest: l.digest(), Size: int64(len(l.blob))})
	}
	if img.manifest, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	return img
}

// twoLayerImage is an image of a plain and a gzip layer, for the host.
func twoLayerImage(t testing.TB, seed string) testImage {
	return mkImage(t, goruntime.GOARCH, mkLayer(t, seed+"-base", false), mkLayer(t, seed+"-top", true))
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blobFiles are the blobs/ entries of an OCI layout holding imgs.
func blobFiles(imgs ...testImage) []file {
	var files []file
	seen := map[digest.Digest]bool{}
	add := func(b []byte) {
		d := digest.FromBytes(b)
		if !seen[d] {
			seen[d] = true
			files = append(files, file{name: blobPath(d), data: b})
		}
	}
	for _, img := range imgs {
		add(img.config)
		for _, l := range img.layers {
			add(l.blob)
		}
		add(img.manifest)
	}
	return files
}

// ociFiles is an OCI layout of imgs, each named in index.json by the given
// annotations (nil for none).
func ociFiles(t testing.TB, imgs []testImage, annotations []map[string]string) []file {
	t.Helper()
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for i, img := range imgs {
		d := img.manifestDesc()
		d.Annotations = annotations[i]
		idx.Manifests = append(idx.Manifests, d)
	}
	files := []file{
		{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{name: "index.json", data: mustJSON(t, idx)},
		{name: "blobs/", typ: tar.TypeDir},
		{name: "blobs/sha256/", typ: tar.TypeDir},
	}
	return append(files, blobFiles(imgs...)...)
}

// dockerFiles is a Docker < 25 docker save of imgs: <hex>.json configs,
// <v1id>/layer.tar with json and VERSION beside it, a symlink for a layer
// seen before, manifest.json and repositories. The "v1 ids" here are just
// distinct hex strings.
func dockerFiles(t testing.TB, imgs ...testImage) []file {
	t.Helper()
	var files []file
	var items []manifestItem
	layerPath := map[digest.Digest]string{}
	repos := map[string]map[string]string{}
	n := 0
	for _, img := range imgs {
		files = append(files, file{name: img.configDigest().Encoded() + ".json", data: img.config})
		item := manifestItem{Config: img.configDigest().Encoded() + ".json", RepoTags: img.tags}
		for _, l := range img.layers {
			n++
			id := digest.FromString(fmt.Sprint("v1 id ", n)).Encoded()
			p := id + "/layer.tar"
			files = append(files,
				file{name: id + "/", typ: tar.TypeDir},
				file{name: id + "/VERSION", data: []byte("1.0")},
				file{name: id + "/json", data: []byte(`{"id":"` + id + `"}`)})
			if first, ok := layerPath[l.digest()]; ok {
				files = append(files, file{name: p, typ: tar.TypeSymlink, link: "../" + first})
			} else {
				layerPath[l.digest()] = p
				files = append(files, file{name: p, data: l.blob})
			}
			item.Layers = append(item.Layers, p)
			for _, tag := range img.tags {
				name, tg, _ := splitTag(tag)
				if repos[name] == nil {
					repos[name] = map[string]string{}
				}
				repos[name][tg] = id
			}
		}
		items = append(items, item)
	}
	files = append(files,
		file{name: "manifest.json", data: mustJSON(t, items)},
		file{name: "repositories", data: mustJSON(t, repos)})
	return files
}

func splitTag(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
		if s[i] == '/' {
			break
		}
	}
	return s, "latest", false
}

// read runs Read on an archive's bytes.
func read(t testing.TB, s BlobStore, b []byte) (*Archive, error) {
	t.Helper()
	return Read(context.Background(), bytes.NewReader(b), s)
}

func mustRead(t testing.TB, s BlobStore, b []byte) *Archive {
	t.Helper()
	a, err := read(t, s, b)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return a
}

// checkImage compares an Image Read returned with the test image.
func checkImage(t testing.TB, got Image, want testImage, tags ...string) {
	t.Helper()
	if got.Config != want.configDigest() {
		t.Errorf("Config = %s, want %s", got.Config, want.configDigest())
	}
	if !bytes.Equal(got.ConfigJSON, want.config) {
		t.Errorf("ConfigJSON differs")
	}
	if len(got.Layers) != len(want.layers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(want.layers))
	}
	for i, l := range got.Layers {
		w := want.layers[i]
		if l.Blob != w.digest() || l.Size != int64(len(w.blob)) || l.DiffID != w.diffID || l.MediaType != w.mediaType() {
			t.Errorf("layer %d = %+v, want blob %s size %d diffID %s type %s", i, l, w.digest(), len(w.blob), w.diffID, w.mediaType())
		}
	}
	if !slices.Equal(got.RepoTags, tags) {
		t.Errorf("RepoTags = %q, want %q", got.RepoTags, tags)
	}
}

// writeArchive runs Write into memory.
func writeArchive(t testing.TB, s Provider, images []Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(context.Background(), &buf, s, images); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// tarEntries lists an archive's entries: name -> bytes (nil for dirs).
func tarEntries(t testing.TB, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	m := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := m[hdr.Name]; dup {
			t.Errorf("entry %s written twice", hdr.Name)
		}
		if !hdr.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("entry %s: mtime %v", hdr.Name, hdr.ModTime)
		}
		names = append(names, hdr.Name)
		m[hdr.Name] = data
	}
	return names, m
}

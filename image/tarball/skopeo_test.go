package tarball

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Interoperability with skopeo (containers/image), the other widely used
// reader and writer of both formats: archives skopeo writes load into berth,
// and what berth saves loads back into skopeo with the same manifest, config
// and layer digests.

func skopeo(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func needSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed")
	}
}

// writeOCIDir writes img as an OCI layout directory, named tag.
func writeOCIDir(t *testing.T, dir string, img testImage, tag string) {
	t.Helper()
	for _, f := range ociFiles(t, []testImage{img}, []map[string]string{{ocispec.AnnotationRefName: tag}}) {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.data == nil {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// rawManifest is what skopeo inspect --raw says of an image.
type rawManifest struct {
	MediaType string             `json:"mediaType"`
	Config    ocispec.Descriptor `json:"config"`
	Layers    []ocispec.Descriptor
}

func inspectRaw(t *testing.T, ref string) (rawManifest, []byte) {
	t.Helper()
	out := skopeo(t, "inspect", "--raw", ref)
	var m rawManifest
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v\n%s", ref, err, out)
	}
	return m, out
}

func layerDigests(m rawManifest) []digest.Digest {
	var ds []digest.Digest
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

func readFile(t *testing.T, s BlobStore, path string) *Archive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Read(context.Background(), f, s)
	if err != nil {
		t.Fatalf("Read %s: %v", path, err)
	}
	return a
}

func writeFileArchive(t *testing.T, s Provider, images []Image, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(context.Background(), f, s, images); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkDirCopy copies ref to a dir: and checks that skopeo got the blobs
// with the manifest's digests (it verifies them as it copies).
func checkDirCopy(t *testing.T, ref string, want rawManifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dir")
	skopeo(t, "copy", "--preserve-digests", ref, "dir:"+dir)
	m, _ := inspectRaw(t, "dir:"+dir)
	if m.Config.Digest != want.Config.Digest || !slices.Equal(layerDigests(m), layerDigests(want)) {
		t.Errorf("skopeo copy %s to dir: config %s layers %v, want %s %v", ref, m.Config.Digest, layerDigests(m), want.Config.Digest, layerDigests(want))
	}
	for _, d := range append(layerDigests(m), m.Config.Digest) {
		b, err := os.ReadFile(filepath.Join(dir, d.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		if digest.FromBytes(b) != d {
			t.Errorf("dir copy: blob %s has other bytes", d)
		}
	}
}

func TestSkopeoInterop(t *testing.T) {
	needSkopeo(t)
	img := twoLayerImage(t, "skopeo") // a plain and a gzip layer
	work := t.TempDir()
	src := filepath.Join(work, "src")
	writeOCIDir(t, src, img, "v1")
	srcRef := "oci:" + src + ":v1"

	t.Run("docker-archive", func(t *testing.T) {
		orig := filepath.Join(work, "skopeo-docker.tar")
		skopeo(t, "copy", srcRef, "docker-archive:"+orig+":berth-test:v1")
		origManifest, _ := inspectRaw(t, "docker-archive:"+orig)

		// skopeo's docker-archive loads into berth.
		s := newStore(t)
		a := readFile(t, s, orig)
		if len(a.Images) != 1 {
			t.Fatalf("%d images", len(a.Images))
		}
		got := a.Images[0]
		if got.Config != img.configDigest() || !slices.Equal(got.RepoTags, []string{"berth-test:v1"}) {
			t.Errorf("read config %s tags %q, want %s [berth-test:v1]", got.Config, got.RepoTags, img.configDigest())
		}
		for i, l := range got.Layers {
			if l.DiffID != img.layers[i].diffID {
				t.Errorf("layer %d: diff ID %s, want %s", i, l.DiffID, img.layers[i].diffID)
			}
		}
		t.Logf("skopeo's docker-archive layers as read: %+v (unreferenced: %v)", got.Layers, a.Unreferenced)

		// What berth writes loads back into skopeo, as docker-archive and as
		// oci-archive, with the same config and layers.
		out := filepath.Join(work, "berth-from-docker.tar")
		writeFileArchive(t, s, a.Images, out)
		m, _ := inspectRaw(t, "docker-archive:"+out)
		if m.Config.Digest != origManifest.Config.Digest || !slices.Equal(layerDigests(m), layerDigests(origManifest)) {
			t.Errorf("skopeo reads berth's docker-archive as config %s layers %v, want %s %v",
				m.Config.Digest, layerDigests(m), origManifest.Config.Digest, layerDigests(origManifest))
		}
		checkDirCopy(t, "docker-archive:"+out, origManifest)
		checkDirCopy(t, "docker-archive:"+out+":berth-test:v1", origManifest)
		om, _ := inspectRaw(t, "oci-archive:"+out)
		if om.Config.Digest != origManifest.Config.Digest || !slices.Equal(layerDigests(om), layerDigests(origManifest)) {
			t.Errorf("skopeo reads berth's oci-archive as config %s layers %v, want %s %v",
				om.Config.Digest, layerDigests(om), origManifest.Config.Digest, layerDigests(origManifest))
		}
		checkDirCopy(t, "oci-archive:"+out+":v1", origManifest)
	})

	t.Run("oci-archive", func(t *testing.T) {
		orig := filepath.Join(work, "skopeo-oci.tar")
		skopeo(t, "copy", srcRef, "oci-archive:"+orig+":berth-test:v2")
		origManifest, origRaw := inspectRaw(t, "oci-archive:"+orig)

		s := newStore(t)
		a := readFile(t, s, orig)
		if len(a.Images) != 1 {
			t.Fatalf("%d images", len(a.Images))
		}
		got := a.Images[0]
		// skopeo gzips the plain layer on its way into an OCI archive: the
		// blobs are skopeo's, the config and diff IDs the image's.
		if got.Config != img.configDigest() || !slices.Equal(got.RepoTags, []string{"berth-test:v2"}) {
			t.Errorf("read config %s tags %q, want %s [berth-test:v2]", got.Config, got.RepoTags, img.configDigest())
		}
		for i, l := range got.Layers {
			w := origManifest.Layers[i]
			if l.Blob != w.Digest || l.Size != w.Size || l.MediaType != w.MediaType || l.DiffID != img.layers[i].diffID {
				t.Errorf("layer %d = %+v, want %s %d %s, diff ID %s", i, l, w.Digest, w.Size, w.MediaType, img.layers[i].diffID)
			}
		}
		if want := digest.FromBytes(origRaw); a.Images[0].ManifestDigest != want {
			t.Errorf("ManifestDigest = %s, skopeo's manifest is %s", a.Images[0].ManifestDigest, want)
		}

		out := filepath.Join(work, "berth-from-oci.tar")
		writeFileArchive(t, s, a.Images, out)
		// The same manifest, byte for byte.
		_, raw := inspectRaw(t, "oci-archive:"+out+":v2")
		if !bytes.Equal(raw, origRaw) {
			t.Errorf("skopeo reads berth's oci-archive manifest as\n%s\nwant\n%s", raw, origRaw)
		}
		checkDirCopy(t, "oci-archive:"+out, origManifest)
		// And as a docker-archive: skopeo decompresses layers to their diff
		// IDs there, as for any docker-archive.
		dm, _ := inspectRaw(t, "docker-archive:"+out)
		if dm.Config.Digest != origManifest.Config.Digest {
			t.Errorf("docker-archive view: config %s, want %s", dm.Config.Digest, origManifest.Config.Digest)
		}
		t.Logf("skopeo's docker-archive view of berth's archive of gzip layers: %v", layerDigests(dm))
		dir := filepath.Join(t.TempDir(), "d")
		skopeo(t, "copy", "docker-archive:"+out, "dir:"+dir)
	})

	t.Run("multiple images", func(t *testing.T) {
		other := mkImage(t, goruntime.GOARCH, img.layers[0], mkLayer(t, "second", false))
		src2 := filepath.Join(work, "src2")
		writeOCIDir(t, src2, other, "v3")
		multi := filepath.Join(work, "multi.tar")
		skopeo(t, "copy", srcRef, "docker-archive:"+multi+":one:1")
		s := newStore(t)
		a := readFile(t, s, multi)
		b := mustRead(t, s, mkTar(t, ociFiles(t, []testImage{other}, []map[string]string{{ocispec.AnnotationRefName: "two:2"}})...))
		out := filepath.Join(work, "berth-multi.tar")
		writeFileArchive(t, s, append(a.Images, b.Images...), out)
		for _, tc := range []struct {
			ref  string
			want testImage
		}{
			{"docker-archive:" + out + ":one:1", img},
			{"docker-archive:" + out + ":two:2", other},
			{"oci-archive:" + out + ":2", other},
		} {
			m, _ := inspectRaw(t, tc.ref)
			if m.Config.Digest != tc.want.configDigest() {
				t.Errorf("%s: config %s, want %s", tc.ref, m.Config.Digest, tc.want.configDigest())
			}
		}
	})
}

package daemon_test

import (
	"archive/tar"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/berthtest"
)

func TestDockerCLISaveLoadAndSkopeo(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	if _, err := berthtest.Run(t, b, "-H", d.Host, "import", "-c", `CMD ["sh"]`, busyboxTar(t), "busybox"); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, d, "tag", "busybox", "bb:v2")
	id := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "--format", "{{.ID}}", "busybox"))
	dir := t.TempDir()
	saved := filepath.Join(dir, "saved.tar")
	mustDocker(t, d, "save", "-o", saved, "busybox", "bb:v2")

	// Into a second, empty daemon: same id, both names.
	d2 := berthtest.StartDaemon(t)
	out := mustDocker(t, d2, "load", "-i", saved)
	if !strings.Contains(out, "Loaded image: busybox:latest") || !strings.Contains(out, "Loaded image: bb:v2") {
		t.Fatalf("docker load: %q", out)
	}
	if got := strings.TrimSpace(mustDocker(t, d2, "image", "inspect", "--format", "{{.ID}}", "bb:v2")); got != id {
		t.Fatalf("loaded id %s, saved %s", got, id)
	}

	// skopeo reads what berth saved, with the same config and layer digests.
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatal("skopeo is needed for the interoperability test (make deps installs it with BERTH_PEERS=1)")
	}
	raw, err := berthtest.Run(t, skopeo, "--insecure-policy", "inspect", "--raw", "docker-archive:"+saved+":busybox:latest")
	if err != nil {
		t.Fatalf("skopeo inspect: %v: %s", err, raw)
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("skopeo manifest: %v: %s", err, raw)
	}
	layers := strings.TrimSpace(mustDocker(t, d, "image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}}{{end}}", "busybox"))
	if m.Config.Digest != id || len(m.Layers) != 1 || m.Layers[0].Digest != layers {
		t.Fatalf("skopeo sees config %s layers %v; berth has %s %s", m.Config.Digest, m.Layers, id, layers)
	}
	// skopeo writes both archive kinds; berth loads them.
	for _, transport := range []string{"oci-archive", "docker-archive"} {
		p := filepath.Join(dir, transport+".tar")
		if out, err := berthtest.Run(t, skopeo, "--insecure-policy", "copy", "-q", "docker-archive:"+saved+":busybox:latest", transport+":"+p+":skopeo/bb:"+transport); err != nil {
			t.Fatalf("skopeo copy to %s: %v: %s", transport, err, out)
		}
		out := mustDocker(t, d2, "load", "-i", p)
		if !strings.Contains(out, "skopeo/bb:"+transport) {
			t.Fatalf("load of skopeo's %s: %q", transport, out)
		}
		if got := strings.TrimSpace(mustDocker(t, d2, "image", "inspect", "--format", "{{.ID}}", "skopeo/bb:"+transport)); got != id {
			t.Errorf("%s from skopeo: id %s, want %s", transport, got, id)
		}
	}
	// berth's own CLI saves to stdout and loads from stdin.
	cmd := exec.Command(b, "-H", d.Host, "save", id)
	archive, err := cmd.Output()
	if err != nil || len(archive) < 1024 {
		t.Fatalf("berth save to stdout: %v (%d bytes)", err, len(archive))
	}
	if out, err := berthtest.Run(t, b, "-H", d.Host, "save", "nope"); err == nil || !strings.Contains(out, "No such image: nope") {
		t.Fatalf("save nope: %v: %s", err, out)
	}
}

func TestLoadBadArchivesChangeNothing(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	if _, err := berthtest.Run(t, b, "-H", d.Host, "import", busyboxTar(t), "busybox"); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(t.TempDir(), "saved.tar")
	mustDocker(t, d, "save", "-o", saved, "busybox")
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	d2 := berthtest.StartDaemon(t)
	for name, body := range map[string][]byte{
		"truncated":   data[:len(data)/2],
		"not a tar":   []byte("hello, this is not an archive"),
		"no manifest": tarOf(t, map[string]string{"hello.txt": "hi"}),
	} {
		p := filepath.Join(t.TempDir(), "bad.tar")
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := docker(t, d2, "load", "-i", p)
		if err == nil {
			t.Errorf("%s: docker load succeeded: %s", name, out)
		}
		if strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("%s: the error is not one line: %q", name, out)
		}
	}
	if out := mustDocker(t, d2, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("bad loads left images: %q", out)
	}
	assertEmptyDir(t, filepath.Join(d2.DataRoot, "content", "blobs", "sha256"))
	assertEmptyDir(t, filepath.Join(d2.DataRoot, "snapshots", "layers"))
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.tar")
	f, _ := os.Create(p)
	tw := tar.NewWriter(f)
	for n, c := range files {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(c))
	}
	_ = tw.Close()
	f.Close()
	b, _ := os.ReadFile(p)
	return b
}

// A daemon killed with SIGKILL in the middle of a load leaves no image, and
// its next start removes the blobs and layers the load had written.
func TestKilledMidLoadLeavesNothing(t *testing.T) {
	d := berthtest.StartDaemon(t)
	// An archive whose first layer is stored, then the stream stalls.
	pr, pw := io.Pipe()
	stall := make(chan struct{})
	go func() {
		tw := tar.NewWriter(pw)
		big := make([]byte, 8<<20)
		_, _ = rand.Read(big)
		layer := tarOf(t, map[string]string{"data": string(big)})
		sum := sha256.Sum256(layer)
		_ = tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + hex.EncodeToString(sum[:]), Mode: 0o644, Size: int64(len(layer)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(layer)
		// Stall: the daemon is killed while waiting for the rest.
		<-stall
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	c := d.HTTPClient()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", "http://berth/v1.50/images/load", pr)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	// Wait until the layer is in the store.
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, _ := os.ReadDir(filepath.Join(d.DataRoot, "content", "blobs", "sha256"))
		if len(entries) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the load never stored its first blob")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Kill()
	close(stall)
	<-done

	// Restart on the same data root.
	d2 := berthtest.StartDaemon(t, "--data-root", d.DataRoot)
	_ = d2
	if out := mustDocker(t, d2, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("a killed load left images: %q", out)
	}
	assertEmptyDir(t, filepath.Join(d.DataRoot, "content", "blobs", "sha256"))
	assertEmptyDir(t, filepath.Join(d.DataRoot, "content", "ingest"))
	assertEmptyDir(t, filepath.Join(d.DataRoot, "snapshots", "tmp"))
}

package daemon_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/berthtest"
)

// busyboxTar is the offline image of these tests: busybox and the applets
// they use.
func busyboxTar(t *testing.T) string {
	return berthtest.BusyboxTar(t, "sh", "ls", "echo", "cat", "true")
}

func docker(t *testing.T, d *berthtest.Daemon, args ...string) (string, error) {
	t.Helper()
	return berthtest.Run(t, dockerCLI(t), append([]string{"-H", d.Host}, args...)...)
}

func mustDocker(t *testing.T, d *berthtest.Daemon, args ...string) string {
	t.Helper()
	out, err := docker(t, d, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestDockerCLIImages(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	rootfs := busyboxTar(t)

	// berth import (the CLI of this repo) with --change, then docker sees it.
	out, err := berthtest.Run(t, b, "-H", d.Host, "import", "-c", `CMD ["sh"]`, "-c", "ENV A=1", "-c", "LABEL k=v", "-m", "offline busybox", rootfs, "busybox")
	if err != nil || !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("berth import: %v: %s", err, out)
	}
	id := strings.TrimSpace(out)
	if out := mustDocker(t, d, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); strings.TrimSpace(out) != "busybox:latest "+id[7:19] {
		t.Fatalf("docker images: %q", out)
	}
	if out := mustDocker(t, d, "image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.Env}} {{.Config.Labels.k}} {{.Comment}} {{len .RootFS.Layers}}", "busybox"); strings.TrimSpace(out) != `["sh"] [A=1] v offline busybox 1` {
		t.Fatalf("docker image inspect: %q", out)
	}
	if out := mustDocker(t, d, "history", "--format", "{{.ID}} {{.Comment}}", "busybox"); !strings.Contains(out, "offline busybox") {
		t.Fatalf("docker history: %q", out)
	}
	// Reference normalisation: all of these name the same image.
	for _, name := range []string{"busybox", "busybox:latest", "docker.io/library/busybox", "library/busybox:latest", id, id[7:19]} {
		if out := mustDocker(t, d, "image", "inspect", "--format", "{{.ID}}", name); strings.TrimSpace(out) != id {
			t.Errorf("inspect %s: %q", name, out)
		}
	}

	// docker import from stdin, tag, filters.
	mustDocker(t, d, "tag", "busybox", "localhost:5000/team/bb:v1")
	mustDocker(t, d, "tag", "busybox", "other")
	out = mustDocker(t, d, "images", "--filter", "reference=localhost:5000/*/*", "--format", "{{.Repository}}:{{.Tag}}")
	if strings.TrimSpace(out) != "localhost:5000/team/bb:v1" {
		t.Errorf("images --filter reference: %q", out)
	}
	out = mustDocker(t, d, "images", "--filter", "label=k=v", "-q")
	if got := strings.Fields(out); len(got) != 3 || got[0] != id[7:19] {
		t.Errorf("images --filter label -q (one line per tag, as docker): %q", out)
	}

	// rmi by id with several repositories needs -f; by name it untags.
	if out, err := docker(t, d, "rmi", id[7:19]); err == nil || !strings.Contains(out, "must be forced") {
		t.Errorf("rmi by id of a multiply-tagged image: %v: %s", err, out)
	}
	if out := mustDocker(t, d, "rmi", "other"); strings.TrimSpace(out) != "Untagged: other:latest" {
		t.Errorf("rmi other: %q", out)
	}
	if out, err := docker(t, d, "rmi", "nope"); err == nil || !strings.Contains(out, "No such image: nope") {
		t.Errorf("rmi nope: %v: %s", err, out)
	}

	// A dangling image (its tag moved away) goes with image prune.
	f, err := os.Open(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imp := runStdin(t, dockerCLI(t), f, "-H", d.Host, "import", "-c", "CMD [\"true\"]", "-", "busybox")
	if !strings.HasPrefix(imp, "sha256:") {
		t.Fatalf("docker import -: %q", imp)
	}
	out = mustDocker(t, d, "images", "--filter", "dangling=true", "-q")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("the old busybox still has localhost:5000/team/bb:v1, so nothing dangles: %q", out)
	}
	mustDocker(t, d, "rmi", "localhost:5000/team/bb:v1")
	if out := mustDocker(t, d, "images", "-q"); len(strings.Fields(out)) != 1 {
		t.Errorf("untagging the last name of the old image deletes it: %q", out)
	}
	out = mustDocker(t, d, "image", "prune", "-a", "-f")
	if !strings.Contains(out, "Total reclaimed space") {
		t.Errorf("image prune -a: %q", out)
	}
	if out := mustDocker(t, d, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("after prune -a: %q", out)
	}
	// Nothing is left on disk: blobs and unpacked layers went with the images.
	var infoJSON struct{ Images int }
	_ = json.Unmarshal([]byte(mustDocker(t, d, "info", "--format", "{{json .}}")), &infoJSON)
	if infoJSON.Images != 0 {
		t.Errorf("info Images = %d", infoJSON.Images)
	}
	assertEmptyDir(t, filepath.Join(d.DataRoot, "content", "blobs", "sha256"))
	assertEmptyDir(t, filepath.Join(d.DataRoot, "snapshots", "layers"))
}

func TestImportBadInput(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	bad := filepath.Join(t.TempDir(), "bad.tar")
	if err := os.WriteFile(bad, []byte("this is not a tar archive, not gzip, not zstd"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := berthtest.Run(t, b, "-H", d.Host, "import", bad, "bad")
	if err == nil || !strings.Contains(out, "Error response from daemon") {
		t.Fatalf("import of garbage: %v: %s", err, out)
	}
	out, err = berthtest.Run(t, b, "-H", d.Host, "import", "-c", "RUN rm -rf /", busyboxTar(t), "x")
	if err == nil || !strings.Contains(out, "RUN is not supported") {
		t.Fatalf("import --change RUN: %v: %s", err, out)
	}
	out, err = berthtest.Run(t, b, "-H", d.Host, "import", busyboxTar(t), "Upper")
	if err == nil || !strings.Contains(out, "lowercase") {
		t.Fatalf("import with a bad name: %v: %s", err, out)
	}
	if out := mustDocker(t, d, "images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("failed imports left images: %q", out)
	}
	// The store is unchanged: no blob or layer is left by the failures.
	assertEmptyDir(t, filepath.Join(d.DataRoot, "snapshots", "layers"))
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%s is not empty: %v", dir, names)
	}
}

// runStdin runs a command with stdin and returns its combined output.
func runStdin(t *testing.T, name string, stdin *os.File, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDockerCLISystemDF(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	if _, err := berthtest.Run(t, b, "-H", d.Host, "import", busyboxTar(t), "busybox"); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, d, "tag", "busybox", "second")
	out := mustDocker(t, d, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "Images 1 ") || strings.HasSuffix(lines[0], " 0B") {
		t.Fatalf("docker system df: %q", out)
	}
	out = mustDocker(t, d, "system", "df", "-v")
	if !strings.Contains(out, "busybox") || !strings.Contains(out, "second") {
		t.Errorf("docker system df -v: %q", out)
	}
	out, err := berthtest.Run(t, b, "-H", d.Host, "system", "df")
	if err != nil || !strings.Contains(out, "Images") || !strings.Contains(out, "(100%)") {
		t.Errorf("berth system df: %v: %q", err, out)
	}
}

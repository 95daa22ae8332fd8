package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth-dev/berth/berthtest"
)

func TestMain(m *testing.M) {
	before := hostNetwork()
	code := m.Run()
	berthtest.Cleanup()
	// Every test daemon runs in a network namespace of its own: the
	// host's links and nftables tables must be as they were.
	if after := hostNetwork(); after != before {
		fmt.Fprintf(os.Stderr, "the tests changed the host's network:\nbefore: %s\nafter:  %s\n", before, after)
		code = 1
	}
	os.Exit(code)
}

// hostNetwork describes the host's links and nftables tables.
func hostNetwork() string {
	links, _ := os.ReadDir("/sys/class/net")
	var names []string
	for _, l := range links {
		names = append(names, l.Name())
	}
	tables, _ := exec.Command("nft", "list", "tables").Output()
	return "links " + strings.Join(names, " ") + "; tables " + strings.Join(strings.Fields(string(tables)), " ")
}

// dockerCLI is the docker client on the PATH (28.2 here); the tests drive
// berth with it exactly as a user would.
func dockerCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal("the docker CLI is needed for these tests (it is on this project's machines)")
	}
	return p
}

func TestDockerCLIVersionAndInfo(t *testing.T) {
	d := berthtest.StartDaemon(t)
	docker := dockerCLI(t)

	out, err := berthtest.Run(t, docker, "-H", d.Host, "version", "--format", "{{.Server.Platform.Name}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}")
	if err != nil || strings.TrimSpace(out) != "berth 1.56 1.41 linux" {
		t.Fatalf("docker version: %v: %q", err, out)
	}
	// The client negotiates down to what it speaks.
	out, err = berthtest.Run(t, docker, "-H", d.Host, "version", "--format", "{{.Client.APIVersion}}")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("docker version (client): %v: %q", err, out)
	}
	out, err = berthtest.Run(t, docker, "-H", d.Host, "info", "--format", "{{json .}}")
	if err != nil {
		t.Fatalf("docker info: %v: %s", err, out)
	}
	var info struct {
		Images, NCPU   int
		MemTotal       int64
		DockerRootDir  string
		CgroupDriver   string
		OSType, Driver string
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("docker info JSON: %v: %s", err, out)
	}
	if info.DockerRootDir != d.DataRoot || info.NCPU < 1 || info.MemTotal <= 0 || info.OSType != "linux" || info.Driver != "overlay2" || info.CgroupDriver != "cgroupfs" {
		t.Errorf("docker info: %+v", info)
	}
}

func TestBerthCLIVersion(t *testing.T) {
	d := berthtest.StartDaemon(t)
	b, _ := berthtest.Binary()
	out, err := berthtest.Run(t, b, "-H", d.Host, "version", "--format", "{{.Server.Platform.Name}}")
	if err != nil || strings.TrimSpace(out) != "berth" {
		t.Fatalf("berth version: %v: %q", err, out)
	}
	// DOCKER_HOST and BERTH_HOST are honoured; -H wins.
	cmd := exec.Command(b, "info", "--format", "{{.DockerRootDir}}")
	cmd.Env = append(os.Environ(), "BERTH_HOST="+d.Host)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != d.DataRoot {
		t.Fatalf("berth info with BERTH_HOST: %v: %s", err, out)
	}
}

func TestNoDaemonSaysHowToStartOne(t *testing.T) {
	b, err := berthtest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := berthtest.Run(t, b, "-H", "unix://"+t.TempDir()+"/none.sock", "info")
	if err == nil || !strings.Contains(out, "cannot connect to the berth daemon") || !strings.Contains(out, "berth daemon") {
		t.Fatalf("berth info without a daemon: %v: %s", err, out)
	}
}

func TestAPIVersionsAndErrors(t *testing.T) {
	d := berthtest.StartDaemon(t)
	c := d.HTTPClient()
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/_ping", 200, "OK"},
		{"/v1.41/_ping", 200, "OK"},
		{"/v1.50/version", 200, `"ApiVersion":"1.56"`},
		{"/v1.40/version", 400, `{"message":"client version 1.40 is too old. Minimum supported API version is 1.41, please upgrade your client to a newer version"}`},
		{"/v1.99/version", 400, `too new`},
		{"/v1.50/no/such/route", 404, `{"message":"page not found"}`},
	} {
		resp, err := c.Get("http://berth" + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s = %d %s, want %d containing %s", tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
		if resp.Header.Get("Api-Version") != "1.56" {
			t.Errorf("GET %s: Api-Version header %q", tc.path, resp.Header.Get("Api-Version"))
		}
	}
	resp, err := c.Head("http://berth/_ping")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("API-Version") == "" {
		t.Fatalf("HEAD /_ping: %v %v", err, resp)
	}
}

func TestSocketIsRootOnlyAndDataRootIsLocked(t *testing.T) {
	d := berthtest.StartDaemon(t)
	fi, err := os.Stat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	b, _ := berthtest.Binary()
	// In the test daemon's network namespace: a daemon that got further
	// than it should would make its bridge there, not on the host.
	out, err := berthtest.Run(t, "nsenter", "--net="+d.NetNS, "--", b, "daemon", "-H", "unix://"+t.TempDir()+"/other.sock", "--data-root", d.DataRoot, "--exec-root", t.TempDir())
	if err == nil || !strings.Contains(out, "another berth daemon is using --data-root") {
		t.Fatalf("second daemon on the same data root: %v: %s", err, out)
	}
	out, err = berthtest.Run(t, "nsenter", "--net="+d.NetNS, "--", b, "daemon", "-H", d.Host, "--data-root", t.TempDir(), "--exec-root", t.TempDir())
	if err == nil || !strings.Contains(out, "another daemon is already serving there") {
		t.Fatalf("second daemon on the same socket: %v: %s", err, out)
	}
}

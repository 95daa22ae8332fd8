package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Volumes end to end with the docker CLI: data that outlives containers
// and daemons.

func TestVolumesNamed(t *testing.T) {
	e := newCtrEnv(t)
	if got := e.mustT("volume", "create", "--label", "team=core", "data"); got != "data" {
		t.Errorf("volume create: %q", got)
	}
	e.must("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo hi > /data/f && chown 1000:1000 /data/f")
	if got := e.mustT("run", "--rm", "-v", "data:/data:ro", "busybox", "sh", "-c", "cat /data/f; stat -c %u:%g /data/f"); got != "hi\n1000:1000" {
		t.Errorf("the volume's content in another container: %q", got)
	}
	if r := e.dk("run", "--rm", "-v", "data:/data:ro", "busybox", "touch", "/data/g"); r.Code == 0 || !strings.Contains(r.Stderr, "Read-only") {
		t.Errorf("write to a read-only volume: %v", r)
	}
	if got := e.mustT("run", "--rm", "--mount", "type=volume,source=data,target=/d", "busybox", "cat", "/d/f"); got != "hi" {
		t.Errorf("--mount type=volume: %q", got)
	}
	// A volume named by -v that does not exist is made, as Docker does.
	e.must("run", "--rm", "-v", "auto:/x", "busybox", "true")
	if got := e.mustT("volume", "ls", "-q"); got != "auto\ndata" {
		t.Errorf("volume ls -q: %q", got)
	}
	if got := e.mustT("volume", "ls", "-q", "--filter", "label=team=core"); got != "data" {
		t.Errorf("volume ls --filter label: %q", got)
	}
	if got := e.mustT("volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}}", "data"); got != "local core" {
		t.Errorf("volume inspect: %q", got)
	}
	// In use: rm refused, naming the container.
	id := e.mustT("run", "-d", "--name", "holder", "-v", "data:/data", "busybox", "sleep", "600")
	if r := e.dk("volume", "rm", "data"); r.Code == 0 || !strings.Contains(r.Stderr, id[:12]) {
		t.Errorf("volume rm of a volume in use: %v", r)
	}
	if got := e.inspect("holder", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}"); got != "volume data /data" {
		t.Errorf("inspect Mounts: %q", got)
	}
	// The data survives a daemon killed with SIGKILL, and its restart.
	e.d.Kill()
	e.startDaemonAgain()
	if got := e.mustT("exec", "holder", "cat", "/data/f"); got != "hi" {
		t.Errorf("the volume after a daemon restart: %q", got)
	}
	e.must("rm", "-f", "holder")
	if got := e.mustT("run", "--rm", "-v", "data:/data", "busybox", "cat", "/data/f"); got != "hi" {
		t.Errorf("the volume after its container's removal and a daemon restart: %q", got)
	}
	e.must("volume", "rm", "data", "auto")
	if got := e.mustT("volume", "ls", "-q"); got != "" {
		t.Errorf("volumes left: %q", got)
	}
}

func TestVolumesAnonymousAndCopyUp(t *testing.T) {
	e := newCtrEnv(t)
	// -v /path: an anonymous volume, removed with rm -v.
	e.must("run", "--name", "anon", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/y")
	name := e.inspect("anon", "{{range .Mounts}}{{.Name}}{{end}}")
	if !hexID.MatchString(name) {
		t.Fatalf("anonymous volume's name: %q", name)
	}
	if got := e.mustT("volume", "ls", "-q"); got != name {
		t.Errorf("volume ls: %q, want %s", got, name)
	}
	e.must("rm", "-v", "anon")
	if got := e.mustT("volume", "ls", "-q"); got != "" {
		t.Errorf("volumes after rm -v: %q", got)
	}
	// A new, empty volume over image content is filled with it first,
	// keeping modes; volume-nocopy does not.
	if got := e.mustT("run", "--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "stat -c %a /etc/passwd; ls /etc"); !strings.Contains(got, "passwd") || !strings.HasPrefix(got, "644") {
		t.Errorf("copy-up into a new volume: %q", got)
	}
	if got := e.mustT("run", "--rm", "-v", "etc:/x", "busybox", "ls", "/x"); !strings.Contains(got, "passwd") {
		t.Errorf("the copied content elsewhere: %q", got)
	}
	// (hosts, hostname and resolv.conf are the engine's binds over it.)
	if got := e.mustT("run", "--rm", "--mount", "type=volume,source=nocopy,target=/etc,volume-nocopy", "busybox", "ls", "-A", "/etc"); got != "hostname\nhosts\nresolv.conf" {
		t.Errorf("volume-nocopy: %q, want /etc without the image's files", got)
	}
	e.must("volume", "rm", "etc", "nocopy")
}

func TestVolumesBadInput(t *testing.T) {
	e := newCtrEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "create", "a/b"}, "invalid"},
		{[]string{"volume", "create", "--driver", "nfs-magic", "x"}, "nfs-magic"},
		{[]string{"volume", "rm", "nosuch"}, "no such volume"},
		{[]string{"run", "--rm", "--mount", "type=volume,source=x,target=rel", "busybox", "true"}, "absolute"},
		{[]string{"run", "--rm", "-v", "vx:/proc", "busybox", "true"}, "/proc"},
		{[]string{"run", "--rm", "-v", "vx:/sys", "busybox", "true"}, "/sys"},
	} {
		r := e.dk(c.args...)
		if r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(c.want)) {
			t.Errorf("docker %s: %v, want an error about %q", strings.Join(c.args, " "), r, c.want)
		}
	}
	if got := e.mustT("volume", "ls", "-q"); got != "" {
		t.Errorf("volumes after the failures: %q", got)
	}
}

func TestVolumesFromBindsAndUsage(t *testing.T) {
	e := newCtrEnv(t)
	host := t.TempDir()
	// -v makes a missing host directory; --mount refuses it; a dangling
	// symlink as a source is refused by both.
	missing := filepath.Join(host, "made", "by", "v")
	e.must("run", "--rm", "-v", missing+":/m", "busybox", "sh", "-c", "echo v > /m/f")
	if got := readFile(t, filepath.Join(missing, "f")); got != "v\n" {
		t.Errorf("-v with a missing host path: %q", got)
	}
	if r := e.dk("run", "--rm", "--mount", "type=bind,source="+filepath.Join(host, "nope")+",target=/m", "busybox", "true"); r.Code == 0 || !strings.Contains(r.Stderr, "bind source path does not exist") {
		t.Errorf("--mount with a missing source: %v", r)
	}
	dangling := filepath.Join(host, "dangling")
	if err := os.Symlink(filepath.Join(host, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-v", dangling + ":/m"}, {"--mount", "type=bind,source=" + dangling + ",target=/m"}} {
		r := e.dk(append(append([]string{"run", "--rm"}, args...), "busybox", "true")...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "dangling symlink") {
			t.Errorf("%v: %v", args, r)
		}
	}
	if _, err := os.Lstat(filepath.Join(host, "nowhere")); err == nil {
		t.Errorf("a dangling symlink's target was made")
	}

	// --volumes-from: the other container's volumes and binds, with its
	// modes or the one asked.
	e.must("create", "--name", "src", "-v", "shared:/shared", "-v", host+":/host:ro", "-v", "/anon", "busybox", "true")
	e.must("run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo s > /shared/f; echo a > /anon/f")
	if r := e.dk("run", "--rm", "--volumes-from", "src", "busybox", "touch", "/host/x"); r.Code == 0 {
		t.Errorf("--volumes-from kept a read-only bind writable: %v", r)
	}
	if got := e.mustT("run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c", "cat /shared/f /anon/f; touch /shared/g 2>&1 || true"); !strings.HasPrefix(got, "s\na\n") || !strings.Contains(got, "Read-only") {
		t.Errorf("--volumes-from src:ro: %q", got)
	}
	for _, c := range []struct{ arg, want string }{{"nosuch", "No such container: nosuch"}, {"src:rx", "invalid mode for volumes-from: rx"}} {
		if r := e.dk("run", "--rm", "--volumes-from", c.arg, "busybox", "true"); r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("--volumes-from %s: %v", c.arg, r)
		}
	}
	// inspect: Mode as Docker shows it, Binds and VolumesFrom as given.
	e.must("create", "--name", "user", "--volumes-from", "src", "-v", "named:/n", "-v", host+":/h:ro,z", "busybox", "true")
	// (The docker CLI sends -v options in a varying order.)
	mounts := strings.Fields(e.inspect("user", "{{range .Mounts}}{{.Destination}}={{.Mode}},{{.RW}} {{end}}"))
	slices.Sort(mounts)
	if got := strings.Join(mounts, " "); got != "/anon=,true /h=ro,z,false /host=ro,false /n=z,true /shared=z,true" {
		t.Errorf("inspect Mounts: %q", got)
	}
	binds := strings.Fields(strings.Trim(e.inspect("user", "{{.HostConfig.Binds}}"), "[]"))
	slices.Sort(binds)
	if got := strings.Join(binds, " ") + " " + e.inspect("user", "{{.HostConfig.VolumesFrom}}"); got != host+":/h:ro,z named:/n [src]" {
		t.Errorf("inspect HostConfig: %q", got)
	}
	// ps --filter volume= by name or by path.
	if got := e.mustT("ps", "-a", "--format", "{{.Names}}", "--filter", "volume=shared"); got != "user\nsrc" {
		t.Errorf("ps --filter volume=shared: %q", got)
	}
	if got := e.mustT("ps", "-a", "--format", "{{.Names}}", "--filter", "volume=/n"); got != "user" {
		t.Errorf("ps --filter volume=/n: %q", got)
	}
	// system df counts the volumes, their size and who uses them.
	e.must("volume", "create", "idle")
	e.must("run", "--rm", "-v", "idle:/i", "busybox", "dd", "if=/dev/zero", "of=/i/z", "bs=1024", "count=2048")
	df := e.must("system", "df", "-v")
	if !regexp.MustCompile(`(?m)^idle\s+0\s+2\.\d+MB$`).MatchString(df) || !regexp.MustCompile(`(?m)^shared\s+2\s+`).MatchString(df) {
		t.Errorf("system df -v:\n%s", df)
	}
	df = e.must("system", "df")
	if !regexp.MustCompile(`(?m)^Local Volumes\s+4\s+3\s+2\.\d+MB\s+2\.\d+MB \(\d+%\)$`).MatchString(df) {
		t.Errorf("system df volume totals:\n%s", df)
	}
	if !regexp.MustCompile(`(?m)^Containers\s+2\s+0\s+`).MatchString(df) {
		t.Errorf("system df container totals:\n%s", df)
	}
	if r := e.bt("system", "df"); r.Stdout != df {
		t.Errorf("berth system df:\n%s\ndocker system df:\n%s", r.Out(), df)
	}
}

// Data in volumes survives system prune without --volumes; with it only
// volumes no container uses go (anonymous ones: API 1.42 prunes only
// those unless --all).
func TestVolumesSurviveSystemPrune(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "--name", "gone", "-v", "keep:/k", "busybox", "sh", "-c", "echo kept > /k/f")
	e.must("run", "-d", "--name", "alive", "-v", "used:/u", "busybox", "sleep", "600")
	e.must("system", "prune", "-f")
	if r := e.dk("inspect", "gone"); r.Code == 0 {
		t.Errorf("system prune kept the stopped container")
	}
	if got := e.mustT("run", "--rm", "-v", "keep:/k", "busybox", "cat", "/k/f"); got != "kept" {
		t.Errorf("the volume after system prune: %q", got)
	}
	e.must("run", "--name", "anon", "-v", "/a", "busybox", "true")
	e.must("rm", "anon")
	e.must("system", "prune", "-f", "--volumes")
	if got := e.mustT("volume", "ls", "-q"); got != "keep\nused" {
		t.Errorf("volumes after system prune --volumes: %q", got)
	}
	e.must("volume", "prune", "-f", "--all")
	if got := e.mustT("volume", "ls", "-q"); got != "used" {
		t.Errorf("volumes after volume prune --all: %q", got)
	}
}

// volume export and import through the daemon, with the berth CLI: a
// byte-exact round trip into another volume.
func TestVolumesExportImport(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "--rm", "-v", "src:/v", "busybox", "sh", "-c",
		"mkdir -p /v/d && echo a > /v/d/a && chown 7:8 /v/d/a && chmod 4750 /v/d/a && ln -s d/a /v/l && ln /v/d/a /v/hard && mkfifo /v/p && setfattr -n user.k -v val /v/d 2>/dev/null; true")
	tarPath := filepath.Join(t.TempDir(), "v.tar")
	if r := e.bt("volume", "export", "-o", tarPath, "src"); r.Code != 0 {
		t.Fatalf("volume export: %v", r)
	}
	if r := e.bt("volume", "import", "dst", tarPath); r.Code != 0 {
		t.Fatalf("volume import: %v", r)
	}
	list := "cd /v && find . | sort | xargs stat -c '%n %f %u:%g %h %N'"
	want := e.mustT("run", "--rm", "-v", "src:/v", "busybox", "sh", "-c", list)
	if got := e.mustT("run", "--rm", "-v", "dst:/v", "busybox", "sh", "-c", list); got != want || !strings.Contains(got, "7:8") {
		t.Errorf("imported volume:\n%s\nwant:\n%s", got, want)
	}
	if r := e.bt("volume", "import", "dst2", filepath.Join(t.TempDir(), "missing.tar")); r.Code == 0 {
		t.Errorf("import of a missing file: %v", r)
	}
	hostile := filepath.Join(t.TempDir(), "hostile.tar")
	if err := os.WriteFile(hostile, mkTarEntries(t, [2]string{"../../escape", "x"}), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.bt("volume", "import", "dst3", hostile); r.Code == 0 || !strings.Contains(r.Stderr, "escape") {
		t.Errorf("import of a hostile tar: %v", r)
	}
	if got := e.mustT("volume", "ls", "-q"); got != "dst\nsrc" {
		t.Errorf("volumes after the imports: %q", got)
	}
}

// The Python SDK (Debian's python3-docker): volumes, a volume mount, and
// put_archive/get_archive on a stopped container.
func TestVolumesPythonSDK(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("python3 docker SDK not installed")
	}
	e := newCtrEnv(t)
	script := `
import io, sys, tarfile, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1], timeout=30)
v = c.volumes.create(name="pyvol", labels={"via": "python"})
print("vol", v.name, v.attrs["Driver"], v.attrs["Labels"]["via"])
print("list", [x.name for x in c.volumes.list()])
out = c.containers.run("busybox", ["sh", "-c", "echo data > /v/f; cat /v/f"], volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, remove=True)
print("run", out.decode().strip())
ct = c.containers.create("busybox", ["cat", "/v/f", "/v/put.txt"], volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, name="pyct")
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    body = b"put\n"
    ti = tarfile.TarInfo("put.txt")
    ti.size = len(body)
    tf.addfile(ti, io.BytesIO(body))
print("put", ct.put_archive("/v", buf.getvalue()))
bits, stat = ct.get_archive("/v/f")
tf = tarfile.open(fileobj=io.BytesIO(b"".join(bits)))
print("get", stat["name"], stat["size"], tf.extractfile("f").read().decode().strip())
ct.start()
print("wait", ct.wait(timeout=20)["StatusCode"])
print("logs", ct.logs().decode().split())
try:
    v.remove()
except docker.errors.APIError as err:
    print("in use", err.status_code)
ct.remove()
v.reload()
print("still", v.name)
try:
    c.volumes.create(name="a/b")
except docker.errors.APIError as err:
    print("bad name", err.status_code)
v.remove()
print("left", [x.name for x in c.volumes.list()])
`
	r := exe(60*time.Second, nil, "python3", "-c", script, e.d.Socket)
	want := "vol pyvol local python\nlist ['pyvol']\nrun data\nput True\nget f 5 data\nwait 0\nlogs ['data', 'put']\n" +
		"in use 409\nstill pyvol\nbad name 400\nleft []\n"
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("python SDK: %v\nwant %q", r, want)
	}
}

// --mount's tmpfs and bind options reach the kernel.
func TestMountOptions(t *testing.T) {
	e := newCtrEnv(t)
	host := t.TempDir()
	got := e.mustT("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
		"--mount", "type=bind,src="+host+",dst=/b,bind-propagation=rshared,readonly", "busybox", "sh", "-c",
		"stat -c %a /t; df -k /t | tail -1 | awk '{print $2}'; grep ' /b ' /proc/self/mountinfo; touch /b/x 2>&1 || true")
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || lines[0] != "1770" || lines[1] != "1024" ||
		!strings.Contains(lines[2], " ro,") || !strings.Contains(lines[2], "shared:") || !strings.Contains(lines[3], "Read-only") {
		t.Errorf("tmpfs and bind options inside the container:\n%s", got)
	}
}

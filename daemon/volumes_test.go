package daemon_test

import (
	"strings"
	"testing"
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

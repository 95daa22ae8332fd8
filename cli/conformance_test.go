package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// normalizeBody decodes a request body into the moby API type the daemon
// decodes it into, so that only differences the daemon can see count.
func normalizeBody(t *testing.T, r request) string {
	if len(r.Body) == 0 {
		return ""
	}
	var v any
	switch {
	case r.Path == "/containers/create":
		cr := decodeBody[container.CreateRequest](t, r)
		// docker 28 sends -e values in a varying order (a map inside).
		if cr.Config != nil {
			slices.Sort(cr.Config.Env)
		}
		if cr.HostConfig != nil {
			slices.SortFunc(cr.HostConfig.Ulimits, func(a, b *container.Ulimit) int { return strings.Compare(a.Name, b.Name) })
			// -v binds too come out of a map in docker 28: their order varies.
			slices.Sort(cr.HostConfig.Binds)
		}
		v = cr
	case r.Method == "PUT" && strings.HasSuffix(r.Path, "/archive"):
		// docker cp's tar: entry by entry.
		return strings.Join(tarEntries(t, r.Body), "\n")
	case strings.HasSuffix(r.Path, "/exec"):
		v = decodeBody[container.ExecCreateRequest](t, r)
	case strings.HasPrefix(r.Path, "/exec/") && strings.HasSuffix(r.Path, "/start"):
		v = decodeBody[container.ExecStartRequest](t, r)
	case r.Path == "/networks/create":
		cr := decodeBody[network.CreateRequest](t, r)
		// docker sends the IPAM entries in a map's order.
		if cr.IPAM != nil {
			slices.SortFunc(cr.IPAM.Config, func(a, b network.IPAMConfig) int { return strings.Compare(a.Subnet.String(), b.Subnet.String()) })
		}
		v = cr
	case strings.HasPrefix(r.Path, "/networks/") && strings.HasSuffix(r.Path, "/connect"):
		v = decodeBody[network.ConnectRequest](t, r)
	case strings.HasPrefix(r.Path, "/networks/") && strings.HasSuffix(r.Path, "/disconnect"):
		v = decodeBody[network.DisconnectRequest](t, r)
	case r.Path == "/volumes/create":
		v = decodeBody[volume.CreateRequest](t, r)
	default:
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return string(r.Body)
		}
	}
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// decodeBody is r's JSON body as a T.
func decodeBody[T any](t *testing.T, r request) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%s %s body: %v: %s", r.Method, r.Path, err, r.Body)
	}
	return v
}

type cliCase struct {
	args  []string
	stdin string
	setup func(*fakeDaemon)
	// what to compare beyond the requests
	noOutput bool
	// unordered: the requests may come in any order (docker sends them
	// in parallel for several containers)
	unordered bool
	// files, if set, fills the (emptied) working directory before each
	// run; the trees the two runs leave must match.
	files func(t *testing.T, dir string)
}

// compare runs docker and berth with the same arguments against the same
// fake daemon and fails on any difference in the API requests, the exit
// status or the output ("docker" read as "berth").
func compare(t *testing.T, c cliCase) {
	t.Helper()
	dir := t.TempDir()
	fill := func() {
		if c.files == nil {
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.files(t, dir)
	}
	fill()
	d := runCLI(t, dir, false, c.args, c.stdin, c.setup)
	var dTree string
	if c.files != nil {
		dTree = treeListing(t, dir, "")
	}
	os.Remove(filepath.Join(dir, "cid.txt"))
	fill()
	b := runCLI(t, dir, true, c.args, c.stdin, c.setup)
	if c.files != nil {
		if bTree := treeListing(t, dir, ""); dTree != bTree {
			t.Errorf("%v: the host trees differ:\n%s", c.args, lineDiff(dTree, bTree))
		}
	}
	if c.unordered {
		for _, r := range [][]request{d.reqs, b.reqs} {
			slices.SortFunc(r, func(x, y request) int { return strings.Compare(x.String(), y.String()) })
		}
	}
	if len(d.reqs) != len(b.reqs) {
		t.Errorf("%v: docker sent %d requests, berth %d\ndocker: %v\nberth:  %v", c.args, len(d.reqs), len(b.reqs), d.reqs, b.reqs)
	}
	for i := 0; i < len(d.reqs) && i < len(b.reqs); i++ {
		dr, br := d.reqs[i], b.reqs[i]
		if dr.Method != br.Method || dr.Path != br.Path || dr.Query.Encode() != br.Query.Encode() || dr.Upgrade != br.Upgrade {
			t.Errorf("%v: request %d:\ndocker: %s %s?%s upgrade=%v\nberth:  %s %s?%s upgrade=%v", c.args, i,
				dr.Method, dr.Path, dr.Query.Encode(), dr.Upgrade, br.Method, br.Path, br.Query.Encode(), br.Upgrade)
		}
		if db, bb := normalizeBody(t, dr), normalizeBody(t, br); db != bb {
			t.Errorf("%v: request %d (%s %s) body differs:\n%s", c.args, i, dr.Method, dr.Path, lineDiff(db, bb))
		}
	}
	if d.code != b.code {
		t.Errorf("%v: exit status: docker %d, berth %d\ndocker stderr: %s\nberth stderr: %s", c.args, d.code, b.code, d.stderr, b.stderr)
	}
	if c.noOutput {
		return
	}
	if want := strings.ReplaceAll(d.stdout, "docker", "berth"); want != b.stdout {
		t.Errorf("%v: stdout:\ndocker: %q\nberth:  %q", c.args, want, b.stdout)
	}
	if want := strings.ReplaceAll(d.stderr, "docker", "berth"); want != b.stderr {
		t.Errorf("%v: stderr:\ndocker: %q\nberth:  %q", c.args, want, b.stderr)
	}
}

// lineDiff is a unified-style diff of two texts (LCS, fine for short ones).
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out bytes.Buffer
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("  + berth:  " + bl[j] + "\n")
			j++
		default:
			out.WriteString("  - docker: " + al[i] + "\n")
			i++
		}
	}
	return out.String()
}

func abs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestConformanceCreateFlags checks every run/create flag against docker:
// the create request body must decode to the same API structs.
func TestConformanceCreateFlags(t *testing.T) {
	haveDocker(t)
	t.Setenv("FROMENV", "fromenv-value")
	t.Setenv("FOO_ENV", "foo-env")
	env, labels := abs(t, "testdata/env.list"), abs(t, "testdata/labels.list")
	lines := [][]string{
		{"busybox"},
		{"busybox", "echo", "hi", "there"},
		{"--name", "web", "-e", "A=1", "-e", "FOO_ENV", "-e", "NOPE_UNSET", "--env-file", env, "busybox"},
		{"-w", "/tmp", "-u", "1000:1000", "--entrypoint", "/bin/sh", "busybox", "-c", "true"},
		{"--entrypoint=", "busybox"},
		{"--workdir", "/x", "--user", "nobody", "--hostname", "h1", "--domainname", "example.com", "busybox"},
		{"-h", "short", "busybox"},
		{"--label", "a=b", "-l", "c", "--label-file", labels, "busybox"},
		{"--restart", "on-failure:3", "busybox"},
		{"--restart", "always", "busybox"},
		{"--restart=unless-stopped", "busybox"},
		{"--restart", "no", "busybox"},
		{"--init", "--stop-signal", "SIGUSR1", "--stop-timeout", "7", "--read-only", "busybox"},
		{"--init=false", "busybox"},
		{"--tmpfs", "/run", "--tmpfs", "/tmp:rw,size=64m", "busybox"},
		{"-m", "512m", "--memory-swap", "1g", "--memory-reservation", "256MiB", "busybox"},
		{"--memory", "1.5g", "--memory-swap", "-1", "--shm-size", "64m", "busybox"},
		{"--cpus", "1.5", "--cpu-shares", "512", "--cpu-period", "100000", "--cpu-quota", "50000", "busybox"},
		{"-c", "2", "--cpuset-cpus", "0-2", "--cpuset-mems", "0", "--cpus", "0.001", "busybox"},
		{"--pids-limit", "100", "--oom-score-adj", "-500", "--oom-kill-disable", "busybox"},
		{"--pids-limit", "-1", "--memory-swappiness", "10", "--blkio-weight", "300", "busybox"},
		{"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=10", "--ulimit", "core=-1", "busybox"},
		{"--cap-add", "NET_ADMIN", "--cap-add", "SYS_TIME", "--cap-drop", "ALL", "--privileged", "busybox"},
		{"--security-opt", "no-new-privileges", "--security-opt", "label=disable", "--security-opt", "seccomp=unconfined", "busybox"},
		{"--security-opt", "systempaths=unconfined", "--security-opt", "apparmor:unconfined", "busybox"},
		{"--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r", "--device", "/dev/null:rw", "busybox"},
		{"--device-cgroup-rule", "c 1:3 mr", "busybox"},
		{"--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000", "busybox"},
		{"--group-add", "audio,video", "--group-add", "123", "busybox"},
		{"--health-cmd", "curl -f localhost", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3", "--health-start-period", "1m", "busybox"},
		{"--health-start-interval", "1s", "--health-cmd", "true", "busybox"},
		{"--no-healthcheck", "busybox"},
		{"--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3", "busybox"},
		{"--network", "host", "busybox"},
		{"--net", "none", "busybox"},
		{"--network", "mynet", "--network-alias", "web", "--network-alias", "www", "busybox"},
		{"--network", "mynet", "--ip", "10.0.0.5", "--ip6", "fd00::5", "busybox"},
		{"--network", "name=mynet,alias=a1,driver-opt=x=y", "busybox"},
		{"--network", "a", "--network", "b", "busybox"},
		{"--network", "container:other", "busybox"},
		{"--dns", "8.8.8.8", "--dns", "2001:4860:4860::8888", "--dns-search", "example.com", "--dns-option", "ndots:2", "busybox"},
		{"--add-host", "db:10.0.0.1", "--add-host", "gw=host-gateway", "--add-host", "v6:[::1]", "busybox"},
		{"-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "-p", "9000-9002:9000-9002", "-p", "3000", "busybox"},
		{"-p", "[::1]:8443:443", "-p", "127.0.0.1::80", "-p", "8000-8010:80", "--publish", "target=81,published=8081,protocol=udp", "busybox"},
		{"-P", "--expose", "80", "--expose", "7000-7002/udp", "busybox"},
		{"-v", "/data", "-v", "/host:/container:ro", "-v", "named:/vol", "-v", "./rel:/rel", "busybox"},
		{"--volume", "/a:/b:rw,z", "-v", "/x:/y:ro:extra", "busybox"},
		{"--mount", "type=bind,source=/src,target=/dst,readonly", "busybox"},
		{"--mount", "type=volume,src=vol,dst=/v,volume-label=a=b,volume-opt=o=p,volume-driver=local,volume-nocopy", "busybox"},
		{"--mount", "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", "busybox"},
		{"--mount", "type=bind,src=/s,dst=/d,bind-propagation=rshared", "busybox"},
		{"--mount", "target=/anon", "busybox"},
		{"--volumes-from", "other:ro", "--volume-driver", "local", "busybox"},
		{"--ipc", "host", "--pid", "host", "--uts", "host", "--cgroupns", "private", "busybox"},
		{"--ipc", "shareable", "--pid", "container:abc", "--userns", "host", "busybox"},
		{"--cgroup-parent", "/mygroup", "--runtime", "runc", "busybox"},
		{"--platform", "linux/amd64", "busybox"},
		{"--pull", "never", "busybox"},
		{"-i", "-t", "busybox"},
		{"-it", "--rm", "busybox", "sh"},
		{"-a", "stdout", "-a", "STDERR", "busybox"},
		{"-a", "stdin", "-i", "busybox"},
		{"--attach", "stdin", "busybox"},
		{"--cidfile", "cid.txt", "busybox"},
		{"--annotation", "a=b", "busybox"},
		{"--link", "other:alias", "busybox"},
		{"--mac-address", "92:d0:c6:0a:29:33", "busybox"},
		{"--storage-opt", "size=10G", "busybox"},
		{"--cpu-rt-period", "1000", "--cpu-rt-runtime", "500", "busybox"},
		{"--memory", "100", "--memory", "2k", "busybox"},
		{"--stop-timeout=-1", "busybox"},
		{"busybox:1.36", "--flag-for-the-program"},
		{"docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	}
	for _, l := range lines {
		args := append([]string{"create"}, l...)
		t.Run(strings.Join(l, " "), func(t *testing.T) {
			compare(t, cliCase{args: args, noOutput: slices.Contains(l, "cid.txt")})
		})
	}
}

// TestConformanceFlagErrors checks docker's errors, messages and exit
// statuses for bad flag values.
func TestConformanceFlagErrors(t *testing.T) {
	haveDocker(t)
	lines := [][]string{
		{"run", "--foo", "busybox"},
		{"run"},
		{"create"},
		{"run", "-m", "12x", "busybox"},
		{"run", "--memory", "abc", "busybox"},
		{"run", "--cpus", "x", "busybox"},
		{"run", "--cpus", "0.0000000001", "busybox"},
		{"run", "--ulimit", "nofile=2:1", "busybox"},
		{"run", "--ulimit", "bogus=1", "busybox"},
		{"run", "--pid", "foo", "busybox"},
		{"create", "--uts", "foo", "busybox"},
		{"run", "--rm", "--restart", "always", "busybox"},
		{"run", "--restart", "on-failure:x", "busybox"},
		{"run", "-p", "abc", "busybox"},
		{"run", "-p", "1-3:4-5", "busybox"},
		{"run", "-p", "80/xyz", "busybox"},
		{"run", "--expose", "1:2", "busybox"},
		{"run", "--add-host", "bad", "busybox"},
		{"run", "--add-host", "h:notanip", "busybox"},
		{"run", "--dns", "x.y", "busybox"},
		{"run", "--sysctl", "kernel.foo=1", "busybox"},
		{"run", "-a", "stdfoo", "busybox"},
		{"run", "-d", "-a", "stdout", "busybox"},
		{"run", "--mount", "type=bind", "busybox"},
		{"run", "--mount", "type=tmpfs,dst=/x,volume-nocopy", "busybox"},
		{"run", "--mount", "foo", "busybox"},
		{"run", "--no-healthcheck", "--health-cmd", "x", "busybox"},
		{"run", "--health-interval", "-1s", "busybox"},
		{"run", "--security-opt", "bad", "busybox"},
		{"run", "--log-driver", "none", "--log-opt", "a=b", "busybox"},
		{"run", "--network-alias", "x", "busybox"},
		{"run", "--network", "host", "--network", "mynet", "busybox"},
		{"run", "--memory-swappiness", "200", "busybox"},
		{"run", "--device", "relative", "busybox"},
		{"run", "--pull", "sometimes", "busybox"},
		{"run", "--env-file", "/nonexistent/env", "busybox"},
		{"run", "-e", "=x", "busybox"},
		{"stop"},
		{"stop", "--bad", "x"},
		{"rename", "a"},
		{"ps", "x"},
		{"logs"},
		{"exec", "c1"},
	}
	for _, l := range lines {
		t.Run(strings.Join(l, " "), func(t *testing.T) { compare(t, cliCase{args: l}) })
	}
}

package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/network"
)

func TestMergeImageConfig(t *testing.T) {
	img := ocispec.ImageConfig{
		User: "app", Env: []string{"PATH=/bin", "A=1"}, Entrypoint: []string{"/ep"}, Cmd: []string{"def"},
		WorkingDir: "/w", Labels: map[string]string{"l": "img", "k": "img"}, StopSignal: "SIGQUIT",
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}
	tests := []struct {
		name             string
		in               Config
		wantEP, wantCmd  []string
		wantEnv          []string
		wantUser, wantWD string
	}{
		{"all from the image", Config{}, []string{"/ep"}, []string{"def"}, []string{"PATH=/bin", "A=1"}, "app", "/w"},
		{"user cmd keeps the image entrypoint", Config{Cmd: []string{"x"}}, []string{"/ep"}, []string{"x"}, []string{"PATH=/bin", "A=1"}, "app", "/w"},
		{"user entrypoint drops the image cmd", Config{Entrypoint: []string{"/mine"}}, []string{"/mine"}, nil, []string{"PATH=/bin", "A=1"}, "app", "/w"},
		{"empty entrypoint clears it", Config{Entrypoint: []string{}, Cmd: []string{"sh"}}, nil, []string{"sh"}, []string{"PATH=/bin", "A=1"}, "app", "/w"},
		{"env by key, user wins", Config{Env: []string{"A=2", "B=3"}, User: "0", WorkingDir: "/x"}, []string{"/ep"}, []string{"def"}, []string{"PATH=/bin", "A=2", "B=3"}, "0", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			mergeImageConfig(&c, &img)
			if !reflect.DeepEqual(c.Entrypoint, tt.wantEP) || !reflect.DeepEqual(c.Cmd, tt.wantCmd) {
				t.Errorf("entrypoint %q cmd %q, want %q %q", c.Entrypoint, c.Cmd, tt.wantEP, tt.wantCmd)
			}
			if !reflect.DeepEqual(c.Env, tt.wantEnv) {
				t.Errorf("env %q, want %q", c.Env, tt.wantEnv)
			}
			if c.User != tt.wantUser || c.WorkingDir != tt.wantWD {
				t.Errorf("user %q wd %q, want %q %q", c.User, c.WorkingDir, tt.wantUser, tt.wantWD)
			}
			if c.StopSignal != "SIGQUIT" || c.Labels["l"] != "img" || len(c.ExposedPorts) != 1 {
				t.Errorf("stop signal %q labels %v ports %v", c.StopSignal, c.Labels, c.ExposedPorts)
			}
		})
	}
	c := Config{Labels: map[string]string{"k": "mine"}}
	mergeImageConfig(&c, &img)
	if c.Labels["k"] != "mine" || c.Labels["l"] != "img" {
		t.Errorf("labels %v: the user's must win, the image's fill in", c.Labels)
	}
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nwheel:x:10:app\naudio:x:29:other\n"), 0o644))
	tests := []struct {
		spec     string
		add      []string
		uid, gid uint32
		groups   []uint32
		home     string
		err      string
	}{
		{spec: "", uid: 0, gid: 0, home: "/root"},
		{spec: "app", uid: 1000, gid: 1000, groups: []uint32{10}, home: "/home/app"},
		{spec: "1000", uid: 1000, gid: 1000, groups: []uint32{10}, home: "/home/app"},
		{spec: "app:audio", uid: 1000, gid: 29, home: "/home/app"},
		{spec: "4242:4343", uid: 4242, gid: 4343, home: "/"},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "0", add: []string{"audio", "77"}, uid: 0, gid: 0, groups: []uint32{29, 77}, home: "/root"},
		{spec: "nobody", err: "unable to find user nobody"},
		{spec: "app:nogroup", err: "unable to find group nogroup"},
	}
	for _, tt := range tests {
		u, err := resolveUser(root, tt.spec, tt.add)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if u.UID != tt.uid || u.GID != tt.gid || !reflect.DeepEqual(u.Groups, tt.groups) || u.Home != tt.home {
			t.Errorf("%q: got %+v, want uid %d gid %d groups %v home %s", tt.spec, u, tt.uid, tt.gid, tt.groups, tt.home)
		}
	}
}

func TestResolveUserDoesNotFollowSymlinksOut(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	// /etc/passwd pointing at the host's must resolve inside the root.
	must(t, os.Symlink("/etc/passwd", filepath.Join(root, "etc/passwd")))
	if _, err := resolveUser(root, "root", nil); err == nil {
		t.Fatal("a name was found through a symlink to the host's /etc/passwd")
	}
}

func TestDetachKeys(t *testing.T) {
	keys, err := ParseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || !bytes.Equal(keys, []byte{0x10, 0x11}) {
		t.Fatalf("ctrl-p,ctrl-q = %v, %v", keys, err)
	}
	if k, _ := ParseDetachKeys("a,ctrl-@,ctrl-_"); !bytes.Equal(k, []byte{'a', 0, 31}) {
		t.Errorf("a,ctrl-@,ctrl-_ = %v", k)
	}
	for _, bad := range []string{"ctrl-", "ctrl-1", "ab", "ctrl-pq"} {
		if _, err := ParseDetachKeys(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	tests := []struct {
		in, out  string
		detached bool
	}{
		{"hello", "hello", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b", "a\x10b", false},
		{"a\x10\x10\x11", "a\x10", true},
		{"tail\x10", "tail\x10", false},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := copyDetach(&out, strings.NewReader(tt.in), []byte{0x10, 0x11})
		if got := errors.Is(err, ErrDetached); got != tt.detached || out.String() != tt.out {
			t.Errorf("%q: out %q detached %v, want %q %v", tt.in, out.String(), got, tt.out, tt.detached)
		}
	}
}

func TestFilterPS(t *testing.T) {
	out := []byte("UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sh -c sleep 1\nroot 43 42 0 10:00 ? 00:00:00 sleep 1\n")
	titles, procs, err := filterPS(out, []int{42, 43})
	if err != nil || len(titles) != 8 || len(procs) != 2 || procs[0][7] != "sh -c sleep 1" {
		t.Fatalf("titles %v procs %q err %v", titles, procs, err)
	}
	if _, _, err := filterPS([]byte("USER COMMAND\nroot x\n"), nil); err == nil {
		t.Error("ps output without a PID column accepted")
	}
}

func TestResolvConfAndHosts(t *testing.T) {
	host := "# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\noptions ndots:2\n"
	c := &Container{HostConfig: HostConfig{NetworkMode: "none"}}
	got, _ := resolvConf(c, host, "")
	if got != "nameserver 10.0.0.2\nsearch example.org\noptions ndots:2\n" {
		t.Errorf("none: %q", got)
	}
	c.HostConfig.DNS, c.HostConfig.DNSSearch, c.HostConfig.DNSOptions = []string{"192.0.2.1"}, []string{"."}, []string{"rotate"}
	if got, _ := resolvConf(c, host, ""); got != "nameserver 192.0.2.1\noptions rotate\n" {
		t.Errorf("overrides: %q", got)
	}
	// A user-defined network: the embedded DNS on its gateway, ndots:0.
	c.HostConfig.DNSOptions = nil
	if got, _ := resolvConf(c, "nameserver 10.0.0.2\n", "172.30.0.1"); got != "nameserver 172.30.0.1\noptions ndots:0\n" {
		t.Errorf("embedded DNS: %q", got)
	}
	c.HostConfig.DNSOptions = []string{"ndots:3"}
	if got, _ := resolvConf(c, host, "172.30.0.1"); got != "nameserver 172.30.0.1\noptions ndots:3\n" {
		t.Errorf("embedded DNS, --dns-option ndots: %q", got)
	}
	c.Config.Hostname, c.Config.Domainname = "web", "example.org"
	if h, _ := hostsFile(c, []string{"172.30.0.2"}); !strings.Contains(h, "172.30.0.2\tweb.example.org web\n") {
		t.Errorf("hosts with an address: %q", h)
	}
	c.HostConfig.ExtraHosts = []string{"db:192.0.2.9", "v6=[2001:db8::1]"}
	h, err := hostsFile(c, nil)
	if err != nil || !strings.Contains(h, "192.0.2.9\tdb\n") || !strings.Contains(h, "2001:db8::1\tv6\n") || !strings.HasPrefix(h, "127.0.0.1\tlocalhost") {
		t.Errorf("hosts %q, %v", h, err)
	}
	c.HostConfig.ExtraHosts = []string{"nocolon"}
	if _, err := hostsFile(c, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad --add-host: %v", err)
	}
}

func TestPortRequests(t *testing.T) {
	hc := &HostConfig{PortBindings: map[string][]PortBinding{
		"80/tcp":    {{HostIP: "127.0.0.1", HostPort: "18080"}},
		"53/udp":    {{HostPort: ""}},
		"9000/tcp":  {{HostPort: "9000-9010"}},
		"81-82/tcp": {{HostPort: "8081-8082"}},
	}, PublishAllPorts: true}
	got, err := portRequests(hc, []string{"80/tcp", "443/tcp", "7000-7001/udp"})
	if err != nil {
		t.Fatal(err)
	}
	want := []network.PortRequest{
		{Proto: "udp", ContainerPort: 53, ContainerPortEnd: 53},
		{Proto: "tcp", HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, ContainerPortEnd: 80},
		{Proto: "tcp", HostPort: 8081, HostPortEnd: 8082, ContainerPort: 81, ContainerPortEnd: 82},
		{Proto: "tcp", HostPort: 9000, HostPortEnd: 9010, ContainerPort: 9000, ContainerPortEnd: 9000},
		{Proto: "tcp", ContainerPort: 443},
		{Proto: "udp", ContainerPort: 7000},
		{Proto: "udp", ContainerPort: 7001},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("port requests\n got %+v\nwant %+v", got, want)
	}
	for _, bad := range []map[string][]PortBinding{
		{"80/sctp": nil}, {"x/tcp": nil}, {"0/tcp": nil}, {"80/tcp": {{HostPort: "y"}}}, {"80/tcp": {{HostPort: "90-80"}}},
	} {
		if _, err := portRequests(&HostConfig{PortBindings: bad}, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%v: %v, want an invalid-argument error", bad, err)
		}
	}
}

func TestStartExitCode(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "nope": executable file not found in $PATH`: 127,
		"open /x: no such file or directory":               127,
		"exec /etc: permission denied":                     126,
		"something else":                                   128,
	} {
		if got := startExitCode(&StartError{Msg: msg}); got != want {
			t.Errorf("%q: %d, want %d", msg, got, want)
		}
	}
	if got := startExitCode(errors.New("not a start error")); got != 128 {
		t.Errorf("other error: %d", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package specgen

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
)

// base is the smallest valid configuration; tests change what they test.
func base() *Options {
	return &Options{
		ID:             "c0ffee",
		Args:           []string{"/bin/sh", "-c", "true"},
		Env:            []string{"PATH=/usr/bin:/bin"},
		Rootfs:         "/var/lib/berth/rootfs/c0ffee",
		Hostname:       "c0ffee",
		ResolvConfPath: "/var/lib/berth/c/resolv.conf",
		HostnamePath:   "/var/lib/berth/c/hostname",
		HostsPath:      "/var/lib/berth/c/hosts",
		Network:        "/run/berth/netns/c0ffee",
		KernelVersion:  "6.1.0-13-amd64",
	}
}

func generate(t *testing.T, edit func(o *Options)) *specs.Spec {
	t.Helper()
	o := base()
	if edit != nil {
		edit(o)
	}
	s, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

// wantInvalid checks err is an invalid-argument error mentioning every part.
func wantInvalid(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("error %q is not ErrInvalidArgument", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := generate(t, nil)
	if s.Version != specs.Version {
		t.Errorf("version %q", s.Version)
	}
	if s.Root.Path != "/var/lib/berth/rootfs/c0ffee" || s.Root.Readonly {
		t.Errorf("root %+v", s.Root)
	}
	p := s.Process
	if p.Cwd != "/" || p.Terminal || p.ConsoleSize != nil || p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	if !reflect.DeepEqual(p.Args, []string{"/bin/sh", "-c", "true"}) || !reflect.DeepEqual(p.Env, []string{"PATH=/usr/bin:/bin"}) {
		t.Errorf("args %q env %q", p.Args, p.Env)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj %v", p.OOMScoreAdj)
	}
	if p.Rlimits != nil {
		t.Errorf("rlimits %v: Docker adds none", p.Rlimits)
	}
	c := p.Capabilities
	want := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE"}
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !reflect.DeepEqual(set, want) {
			t.Errorf("%s = %q", name, set)
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable %q ambient %q", c.Inheritable, c.Ambient)
	}
	if s.Hostname != "c0ffee" {
		t.Errorf("hostname %q", s.Hostname)
	}
	l := s.Linux
	if !reflect.DeepEqual(l.MaskedPaths, []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap"}) {
		t.Errorf("masked %q", l.MaskedPaths)
	}
	if !reflect.DeepEqual(l.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}) {
		t.Errorf("readonly %q", l.ReadonlyPaths)
	}
	if l.CgroupsPath != "/berth/c0ffee" {
		t.Errorf("cgroupsPath %q", l.CgroupsPath)
	}
	if l.Resources.Memory != nil || l.Resources.CPU != nil || l.Resources.Pids != nil || l.Resources.BlockIO != nil {
		t.Errorf("resources %+v", l.Resources)
	}
	if len(l.Devices) != 0 || l.Sysctl != nil || s.Annotations != nil || l.RootfsPropagation != "" {
		t.Errorf("devices %v sysctl %v annotations %v propagation %q", l.Devices, l.Sysctl, s.Annotations, l.RootfsPropagation)
	}
	if l.Seccomp == nil || l.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("seccomp %v", l.Seccomp)
	}
}

func TestDefaultDeviceRules(t *testing.T) {
	type rule struct {
		allow        bool
		typ          string
		major, minor int64 // -1 for *
		access       string
	}
	var got []rule
	for _, d := range generate(t, nil).Linux.Resources.Devices {
		r := rule{d.Allow, d.Type, -1, -1, d.Access}
		if d.Major != nil {
			r.major = *d.Major
		}
		if d.Minor != nil {
			r.minor = *d.Minor
		}
		got = append(got, r)
	}
	want := []rule{
		{false, "", -1, -1, "rwm"},
		{true, "c", -1, -1, "m"}, {true, "b", -1, -1, "m"},
		{true, "c", 1, 3, "rwm"}, {true, "c", 1, 8, "rwm"}, {true, "c", 1, 7, "rwm"},
		{true, "c", 5, 0, "rwm"}, {true, "c", 1, 5, "rwm"}, {true, "c", 1, 9, "rwm"},
		{true, "c", 5, 1, "rwm"}, {true, "c", 136, -1, "rwm"}, {true, "c", 5, 2, "rwm"},
		{true, "c", 10, 200, "rwm"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("device rules\n got %v\nwant %v", got, want)
	}
}

func TestDevices(t *testing.T) {
	s := generate(t, func(o *Options) {
		o.Devices = []Device{
			{PathOnHost: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666},
			{PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "r", Type: "b", Major: 8, Minor: 0, GID: 6},
		}
	})
	d := s.Linux.Devices
	if len(d) != 2 || d[0].Path != "/dev/fuse" || d[0].Type != "c" || d[0].Major != 10 || d[0].Minor != 229 ||
		d[0].FileMode == nil || *d[0].FileMode != 0o666 || *d[0].UID != 0 {
		t.Fatalf("devices %+v", d)
	}
	if d[1].Path != "/dev/xvda" || d[1].FileMode != nil || *d[1].GID != 6 {
		t.Errorf("device 1 %+v", d[1])
	}
	rules := s.Linux.Resources.Devices
	last := rules[len(rules)-2:]
	if !last[0].Allow || last[0].Type != "c" || *last[0].Major != 10 || *last[0].Minor != 229 || last[0].Access != "rwm" {
		t.Errorf("fuse rule %+v", last[0])
	}
	if !last[1].Allow || last[1].Type != "b" || *last[1].Major != 8 || *last[1].Minor != 0 || last[1].Access != "r" {
		t.Errorf("sda rule %+v", last[1])
	}

	for _, tc := range []struct {
		name string
		dev  Device
		want string
	}{
		{"relative", Device{PathOnHost: "dev/null", Type: "c"}, "absolute"},
		{"bad type", Device{PathOnHost: "/dev/x", Type: "z"}, "type"},
		{"bad perms", Device{PathOnHost: "/dev/x", Type: "c", CgroupPermissions: "rwx"}, "permissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			o.Devices = []Device{tc.dev}
			_, err := Generate(o)
			wantInvalid(t, err, tc.want)
		})
	}
}

func TestPrivileged(t *testing.T) {
	s := generate(t, func(o *Options) {
		o.Privileged = true
		o.CapDrop = []string{"ALL"} // ignored, as by Docker
		o.Devices = []Device{{PathOnHost: "/dev/sda", Type: "b", Major: 8}}
	})
	if got := s.Process.Capabilities.Bounding; !reflect.DeepEqual(got, allCaps) || len(got) != 41 || got[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("bounding %q", got)
	}
	if !reflect.DeepEqual(s.Process.Capabilities.Effective, allCaps) || !reflect.DeepEqual(s.Process.Capabilities.Permitted, allCaps) {
		t.Error("effective/permitted are not all capabilities")
	}
	if s.Linux.Seccomp != nil {
		t.Error("privileged container has a seccomp filter")
	}
	if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("masked %q readonly %q", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && contains(m.Options, "ro") {
			t.Errorf("%s is read-only: %q", m.Destination, m.Options)
		}
	}
	rules := s.Linux.Resources.Devices
	if len(rules) != 2 || rules[0].Allow || !rules[1].Allow || rules[1].Type != "a" || rules[1].Access != "rwm" ||
		rules[1].Major != nil || rules[1].Minor != nil {
		t.Errorf("device rules %+v", rules)
	}
	if len(s.Linux.Devices) != 1 {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
}

func TestProcess(t *testing.T) {
	s := generate(t, func(o *Options) {
		o.Cwd = "/srv/app/"
		o.UID, o.GID = 1000, 1000
		o.AdditionalGIDs = []uint32{10, 20}
		o.GroupAdd = []uint32{20, 30}
		o.Terminal, o.ConsoleWidth, o.ConsoleHeight = true, 120, 40
		o.NoNewPrivs = true
		o.OomScoreAdj = 500
	})
	p := s.Process
	if p.Cwd != "/srv/app" {
		t.Errorf("cwd %q", p.Cwd)
	}
	if p.User.UID != 1000 || p.User.GID != 1000 || !reflect.DeepEqual(p.User.AdditionalGids, []uint32{10, 20, 30}) {
		t.Errorf("user %+v", p.User)
	}
	if !p.Terminal || p.ConsoleSize == nil || p.ConsoleSize.Width != 120 || p.ConsoleSize.Height != 40 {
		t.Errorf("terminal %v size %+v", p.Terminal, p.ConsoleSize)
	}
	if !p.NoNewPrivileges || *p.OOMScoreAdj != 500 {
		t.Errorf("noNewPrivileges %v oom %d", p.NoNewPrivileges, *p.OOMScoreAdj)
	}
}

func TestInit(t *testing.T) {
	s := generate(t, func(o *Options) { o.Init = "/usr/libexec/berth/berth-init" })
	if want := []string{"/sbin/docker-init", "--", "/bin/sh", "-c", "true"}; !reflect.DeepEqual(s.Process.Args, want) {
		t.Errorf("args %q", s.Process.Args)
	}
	m := s.Mounts[len(s.Mounts)-1]
	want := specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: "/usr/libexec/berth/berth-init", Options: []string{"bind", "ro"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("init mount %+v", m)
	}
}

func TestNamespaces(t *testing.T) {
	type ns = specs.LinuxNamespace
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want []ns
	}{
		{"join network", nil, []ns{{Type: "mount"}, {Type: "network", Path: "/run/berth/netns/c0ffee"}, {Type: "uts"}, {Type: "pid"}, {Type: "ipc"}}},
		{"none", func(o *Options) { o.Network = "none" }, []ns{{Type: "mount"}, {Type: "network"}, {Type: "uts"}, {Type: "pid"}, {Type: "ipc"}}},
		{"host network", func(o *Options) { o.Network = "host" }, []ns{{Type: "mount"}, {Type: "uts"}, {Type: "pid"}, {Type: "ipc"}}},
		{"host ipc pid uts", func(o *Options) { o.IPC, o.PID, o.UTS = "host", "host", "host" },
			[]ns{{Type: "mount"}, {Type: "network", Path: "/run/berth/netns/c0ffee"}}},
		{"private ipc, joined pid", func(o *Options) { o.IPC, o.PID = "private", "/proc/42/ns/pid" },
			[]ns{{Type: "mount"}, {Type: "network", Path: "/run/berth/netns/c0ffee"}, {Type: "uts"}, {Type: "pid", Path: "/proc/42/ns/pid"}, {Type: "ipc"}}},
		{"private cgroupns", func(o *Options) { o.CgroupNS = "private" },
			[]ns{{Type: "mount"}, {Type: "network", Path: "/run/berth/netns/c0ffee"}, {Type: "uts"}, {Type: "pid"}, {Type: "ipc"}, {Type: "cgroup"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, tc.edit)
			if !reflect.DeepEqual(s.Linux.Namespaces, tc.want) {
				t.Errorf("namespaces\n got %v\nwant %v", s.Linux.Namespaces, tc.want)
			}
		})
	}

	s := generate(t, func(o *Options) { o.UTS, o.Domainname = "host", "example.org" })
	if s.Hostname != "" || s.Domainname != "" {
		t.Errorf("host uts keeps hostname %q domainname %q", s.Hostname, s.Domainname)
	}
	s = generate(t, func(o *Options) { o.IPC = "none" })
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			t.Errorf("ipc none has /dev/shm: %+v", m)
		}
	}
	s = generate(t, func(o *Options) { o.IPC = "host" })
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" && (m.Type != "bind" || m.Source != "/dev/shm") {
			t.Errorf("ipc host /dev/shm: %+v", m)
		}
	}
}

func TestSysctls(t *testing.T) {
	s := generate(t, func(o *Options) { o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"} })
	if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" {
		t.Errorf("sysctl %v", s.Linux.Sysctl)
	}
	o := base()
	o.Network = "host"
	o.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
	_, err := Generate(o)
	wantInvalid(t, err, "net.ipv4.ip_forward", "host network")
	o = base()
	o.IPC = "host"
	o.Sysctls = map[string]string{"kernel.shmmax": "1"}
	_, err = Generate(o)
	wantInvalid(t, err, "kernel.shmmax")
}

func TestCgroupsPathAndLabels(t *testing.T) {
	for parent, want := range map[string]string{
		"":               "/berth/c0ffee",
		"/custom":        "/custom/c0ffee",
		"/custom/":       "/custom/c0ffee",
		"relative/group": "relative/group/c0ffee",
	} {
		s := generate(t, func(o *Options) { o.CgroupParent = parent })
		if s.Linux.CgroupsPath != want {
			t.Errorf("parent %q: cgroupsPath %q, want %q", parent, s.Linux.CgroupsPath, want)
		}
	}
	labels := map[string]string{"com.example.team": "infra"}
	s := generate(t, func(o *Options) { o.Labels = labels })
	if !reflect.DeepEqual(s.Annotations, labels) {
		t.Errorf("annotations %v", s.Annotations)
	}
	labels["x"] = "y"
	if _, ok := s.Annotations["x"]; ok {
		t.Error("annotations alias the labels map")
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"no id", func(o *Options) { o.ID = "" }, "container id"},
		{"id with slash", func(o *Options) { o.ID = "a/b" }, "container id"},
		{"relative rootfs", func(o *Options) { o.Rootfs = "rootfs" }, "rootfs"},
		{"no args", func(o *Options) { o.Args = nil }, "no command"},
		{"relative cwd", func(o *Options) { o.Cwd = "app" }, "working directory"},
		{"oom score", func(o *Options) { o.OomScoreAdj = 1001 }, "oom score adj"},
		{"network mode", func(o *Options) { o.Network = "bridge" }, `network mode "bridge"`},
		{"ipc mode", func(o *Options) { o.IPC = "container:x" }, `ipc mode "container:x"`},
		{"cgroupns", func(o *Options) { o.CgroupNS = "shared" }, "cgroupns"},
		{"cgroup parent", func(o *Options) { o.CgroupParent = "." }, "cgroup parent"},
		{"relative init", func(o *Options) { o.Init = "docker-init" }, "init"},
		{"kernel version", func(o *Options) { o.KernelVersion = "six" }, "kernel version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.edit(o)
			s, err := Generate(o)
			if s != nil {
				t.Error("a spec came with the error")
			}
			wantInvalid(t, err, tc.want)
		})
	}
}

// Generate must not keep references to the caller's slices.
func TestNoAliasing(t *testing.T) {
	o := base()
	o.CapAdd = []string{"NET_ADMIN"}
	s, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	o.Args[0] = "changed"
	o.Env[0] = "changed"
	if s.Process.Args[0] == "changed" || s.Process.Env[0] == "changed" {
		t.Error("spec shares args or env with the options")
	}
	s.Process.Capabilities.Effective[0] = "CAP_X"
	if s.Process.Capabilities.Bounding[0] == "CAP_X" {
		t.Error("capability sets share storage")
	}
	s2, _ := Generate(base())
	if s2.Process.Capabilities.Bounding[0] != "CAP_CHOWN" || s2.Linux.MaskedPaths[0] != "/proc/asound" {
		t.Error("a spec changed the package defaults")
	}
}

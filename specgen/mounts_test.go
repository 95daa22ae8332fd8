package specgen

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func destinations(ms []specs.Mount) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Destination)
	}
	return out
}

func mountAt(t *testing.T, s *specs.Spec, dst string) specs.Mount {
	t.Helper()
	var found []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination == dst {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d mounts at %s in %q", len(found), dst, destinations(s.Mounts))
	}
	return found[0]
}

func TestDefaultMounts(t *testing.T) {
	s := generate(t, nil)
	want := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "/var/lib/berth/c/resolv.conf", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hostname", Type: "bind", Source: "/var/lib/berth/c/hostname", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "/var/lib/berth/c/hosts", Options: []string{"rbind", "rprivate"}},
	}
	if !reflect.DeepEqual(s.Mounts, want) {
		t.Errorf("mounts\n got %+v\nwant %+v", s.Mounts, want)
	}
	s = generate(t, func(o *Options) { o.HostsPath, o.ResolvConfPath, o.HostnamePath = "", "", "" })
	if len(s.Mounts) != 7 {
		t.Errorf("without hosts files: %q", destinations(s.Mounts))
	}
}

func TestReadOnlyRoot(t *testing.T) {
	s := generate(t, func(o *Options) { o.ReadOnly = true })
	if !s.Root.Readonly {
		t.Error("root is writable")
	}
	for _, dst := range []string{"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"} {
		if m := mountAt(t, s, dst); !reflect.DeepEqual(m.Options, []string{"rbind", "ro", "rprivate"}) {
			t.Errorf("%s options %q", dst, m.Options)
		}
	}
}

func TestShmSize(t *testing.T) {
	s := generate(t, func(o *Options) { o.ShmSize = 1 << 30 })
	if m := mountAt(t, s, "/dev/shm"); m.Options[len(m.Options)-1] != "size=1073741824" {
		t.Errorf("/dev/shm options %q", m.Options)
	}
	o := base()
	o.ShmSize = -1
	_, err := Generate(o)
	wantInvalid(t, err, "shm size")
}

func TestUserMounts(t *testing.T) {
	s := generate(t, func(o *Options) {
		o.Mounts = []Mount{
			{Type: "bind", Source: "/srv/data/", Target: "/data/sub/", ReadOnly: true},
			{Type: "bind", Source: "/srv/data", Target: "/data", NonRecursive: true, Propagation: "rslave", Options: []string{"nosuid"}},
			{Type: "tmpfs", Target: "/scratch", TmpfsSize: 64 << 20, TmpfsMode: 0o700},
			{Type: "tmpfs", Target: "/ro-scratch", ReadOnly: true, TmpfsSize: 1000, Options: []string{"exec"}},
		}
		o.Tmpfs = map[string]string{"/run": "", "/tmp": "size=1g,mode=1777,exec"}
	})
	wantOrder := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
		// by depth; at one depth the hosts files, --mount, then --tmpfs
		"/data", "/scratch", "/ro-scratch", "/run", "/tmp",
		"/etc/resolv.conf", "/etc/hostname", "/etc/hosts", "/data/sub"}
	if got := destinations(s.Mounts); !reflect.DeepEqual(got, wantOrder) {
		t.Fatalf("order\n got %q\nwant %q", got, wantOrder)
	}
	for _, tc := range []struct {
		dst  string
		want specs.Mount
	}{
		{"/data/sub", specs.Mount{Destination: "/data/sub", Type: "bind", Source: "/srv/data", Options: []string{"rbind", "ro", "rprivate"}}},
		{"/data", specs.Mount{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"bind", "rslave", "nosuid"}}},
		{"/scratch", specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "mode=700", "size=64m"}}},
		{"/ro-scratch", specs.Mount{Destination: "/ro-scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "rprivate", "ro", "size=1000", "exec"}}},
		{"/run", specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate"}}},
		{"/tmp", specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "rprivate", "size=1g", "mode=1777", "exec"}}},
	} {
		if got := mountAt(t, s, tc.dst); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s\n got %+v\nwant %+v", tc.dst, got, tc.want)
		}
	}
	if s.Linux.RootfsPropagation != "rslave" {
		t.Errorf("rootfsPropagation %q", s.Linux.RootfsPropagation)
	}
	s = generate(t, func(o *Options) {
		o.Mounts = []Mount{{Type: "bind", Source: "/a", Target: "/a", Propagation: "slave"}, {Type: "bind", Source: "/b", Target: "/b", Propagation: "rshared"}}
	})
	if s.Linux.RootfsPropagation != "shared" {
		t.Errorf("rootfsPropagation %q with a shared mount", s.Linux.RootfsPropagation)
	}
}

func TestMountsOverrideDefaults(t *testing.T) {
	// A user tmpfs on /dev/shm replaces the default one.
	s := generate(t, func(o *Options) { o.Tmpfs = map[string]string{"/dev/shm": "size=1g"} })
	if m := mountAt(t, s, "/dev/shm"); !reflect.DeepEqual(m.Options, []string{"noexec", "nosuid", "nodev", "rprivate", "size=1g"}) {
		t.Errorf("/dev/shm %+v", m)
	}
	// So does a bind, and one over /etc/hosts replaces the engine's file.
	s = generate(t, func(o *Options) {
		o.Mounts = []Mount{{Type: "bind", Source: "/dev/shm", Target: "/dev/shm"}, {Type: "bind", Source: "/etc/hosts", Target: "/etc/hosts", ReadOnly: true}}
	})
	if m := mountAt(t, s, "/dev/shm"); m.Type != "bind" {
		t.Errorf("/dev/shm %+v", m)
	}
	if m := mountAt(t, s, "/etc/hosts"); m.Source != "/etc/hosts" {
		t.Errorf("/etc/hosts %+v", m)
	}
	// A mount on /dev replaces everything below it too.
	s = generate(t, func(o *Options) {
		o.Mounts = []Mount{{Type: "bind", Source: "/dev", Target: "/dev"}}
	})
	want := []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}
	if got := destinations(s.Mounts); !reflect.DeepEqual(got, want) {
		t.Errorf("with /dev bound\n got %q\nwant %q", got, want)
	}
	// /proc and /sys themselves are refused (below them is allowed).
	for _, dst := range []string{"/sys", "/sys/", "/proc"} {
		o := base()
		o.Mounts = []Mount{{Type: "bind", Source: "/sys", Target: dst}}
		_, err := Generate(o)
		wantInvalid(t, err, "cannot mount over")
	}
	// Below /proc is allowed (lxcfs binds files over /proc/cpuinfo).
	generate(t, func(o *Options) {
		o.Mounts = []Mount{{Type: "bind", Source: "/var/lib/lxcfs/proc/cpuinfo", Target: "/proc/cpuinfo"}}
	})
}

func TestMountErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(o *Options)
		wants []string
	}{
		{"relative target", func(o *Options) { o.Mounts = []Mount{{Type: "bind", Source: "/a", Target: "data"}} }, []string{`"data"`, "absolute"}},
		{"relative tmpfs target", func(o *Options) { o.Tmpfs = map[string]string{"tmp": ""} }, []string{"--tmpfs", `"tmp"`}},
		{"root target", func(o *Options) { o.Mounts = []Mount{{Type: "bind", Source: "/a", Target: "/"}} }, []string{"root"}},
		{"over /proc", func(o *Options) { o.Mounts = []Mount{{Type: "bind", Source: "/proc", Target: "/proc/"}} }, []string{"/proc"}},
		{"tmpfs over /proc", func(o *Options) { o.Tmpfs = map[string]string{"/proc": ""} }, []string{"/proc"}},
		{"relative source", func(o *Options) { o.Mounts = []Mount{{Type: "bind", Source: "data", Target: "/data"}} }, []string{"source"}},
		{"unknown type", func(o *Options) { o.Mounts = []Mount{{Type: "nfs", Source: "/a", Target: "/a"}} }, []string{`"nfs"`}},
		{"bad propagation", func(o *Options) {
			o.Mounts = []Mount{{Type: "bind", Source: "/a", Target: "/a", Propagation: "weird"}}
		}, []string{"propagation"}},
		{"duplicate target", func(o *Options) {
			o.Mounts = []Mount{{Type: "bind", Source: "/a", Target: "/a"}}
			o.Tmpfs = map[string]string{"/a/": ""}
		}, []string{"duplicate mount point /a"}},
		{"tmpfs unknown option", func(o *Options) { o.Tmpfs = map[string]string{"/t": "size=1m,colour=red"} }, []string{"/t", `"colour=red"`}},
		{"tmpfs bare word", func(o *Options) { o.Tmpfs = map[string]string{"/t": "fast"} }, []string{`"fast"`}},
		{"tmpfs bad size", func(o *Options) { o.Tmpfs = map[string]string{"/t": "size=64x"} }, []string{`"size=64x"`}},
		{"tmpfs empty size", func(o *Options) { o.Tmpfs = map[string]string{"/t": "size="} }, []string{`"size="`}},
		{"tmpfs bad mode", func(o *Options) { o.Tmpfs = map[string]string{"/t": "mode=999"} }, []string{`"mode=999"`}},
		{"tmpfs bind", func(o *Options) { o.Tmpfs = map[string]string{"/t": "rbind"} }, []string{`"rbind"`}},
		{"mount tmpfs bad option", func(o *Options) {
			o.Mounts = []Mount{{Type: "tmpfs", Target: "/t", Options: []string{"uid=root"}}}
		}, []string{`"uid=root"`}},
		{"mount tmpfs mode", func(o *Options) { o.Mounts = []Mount{{Type: "tmpfs", Target: "/t", TmpfsMode: 0o17777}} }, []string{"mode"}},
		{"mount tmpfs propagation", func(o *Options) {
			o.Mounts = []Mount{{Type: "tmpfs", Target: "/t", Propagation: "shared"}}
		}, []string{"propagation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.edit(o)
			_, err := Generate(o)
			wantInvalid(t, err, tc.wants...)
		})
	}
}

func TestTmpfsOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{"noexec", "nosuid", "nodev", "rprivate"}},
		{"size=64m,mode=1777", []string{"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=1777"}},
		{"size=65536k", []string{"noexec", "nosuid", "nodev", "rprivate", "size=65536k"}},
		{"size=2G, uid=1000,gid=1000", []string{"noexec", "nosuid", "nodev", "rprivate", "size=2G", "uid=1000", "gid=1000"}},
		{"size=50%", []string{"noexec", "nosuid", "nodev", "rprivate", "size=50%"}},
		{"exec,suid,dev", []string{"rprivate", "exec", "suid", "dev"}},
		{"size=1m,size=2m", []string{"noexec", "nosuid", "nodev", "rprivate", "size=2m"}},
		{"shared,defaults,noatime,nr_inodes=1k", []string{"noexec", "nosuid", "nodev", "shared", "noatime", "nr_inodes=1k"}},
		{"ro,rw", []string{"noexec", "nosuid", "nodev", "rprivate", "rw"}},
	} {
		got, err := tmpfsOptions(splitOptions(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{
		1: "1", 1000: "1000", 1024: "1k", 1536: "1536", 64 << 20: "64m", 3 << 30: "3g", 5 << 40: "5120g",
	} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}

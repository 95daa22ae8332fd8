package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{
		"abc": true, "a.b-c_d+e": true, "0123": true,
		"": false, ".": false, "..": false, "../x": false, "a/b": false, "a b": false, "é": false,
		strings.Repeat("a", 1025): false,
	} {
		err := checkID(id)
		if (err == nil) != ok {
			t.Errorf("checkID(%q) = %v, want ok=%v", id, err, ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("checkID(%q): error class %v", id, err)
		}
	}
}

func TestParseMountOptions(t *testing.T) {
	o, err := parseMountOptions([]string{"rbind", "ro", "nosuid", "rw", "rslave", "size=64m", "mode=755", "rro", "rexec"})
	if err != nil {
		t.Fatal(err)
	}
	if o.flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID {
		t.Errorf("flags = %#x", o.flags)
	}
	if o.clear&unix.MS_RDONLY == 0 {
		t.Errorf("rw after ro should clear MS_RDONLY")
	}
	if len(o.prop) != 1 || o.prop[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("prop = %v", o.prop)
	}
	if strings.Join(o.data, ",") != "size=64m,mode=755" {
		t.Errorf("data = %v", o.data)
	}
	if o.recSet != unix.MOUNT_ATTR_RDONLY || o.recClr != unix.MOUNT_ATTR_NOEXEC {
		t.Errorf("recursive attrs set=%#x clr=%#x", o.recSet, o.recClr)
	}
	for _, bad := range []string{"idmap", "tmpcopyup", ""} {
		if _, err := parseMountOptions([]string{bad}); err == nil {
			t.Errorf("option %q: want an error", bad)
		}
	}
}

func minimalSpec(t *testing.T) (*specs.Spec, string) {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := DefaultSpec()
	return s, bundle
}

func TestValidateSpec(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string // substring of the error; "" for success
	}{
		{"default", func(*specs.Spec) {}, ""},
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion is required"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, "not supported"},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path is required"},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "nope" }, "root.path nope"},
		{"unknown cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_BOGUS"} }, `unknown capability "CAP_BOGUS"`},
		{"unknown ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"ns path missing", func(s *specs.Spec) {
			s.Linux.Namespaces[1] = specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/nope/ns/net"}
		}, "network namespace path /proc/nope/ns/net"},
		{"duplicate ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "listed twice"},
		{"userns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "uidMappings"},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:3] }, "uts namespace"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "must be an absolute path"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{"bad rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, "unknown type"},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "above its hard limit"},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "not namespaced"},
		{"net sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, ""},
		{"relative hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "x"}}} }, "must be absolute"},
		{"bad device type", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}} }, "type \"q\""},
		{"bad mount option", func(s *specs.Spec) { s.Mounts[0].Options = []string{"idmap"} }, "not supported"},
		{"bad propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "rootfsPropagation"},
		{"bad seccomp", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"} }, "linux.seccomp"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, bundle := minimalSpec(t)
			c.mutate(s)
			_, _, err := validateAndCompile(s, bundle, "")
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error class: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := lookPath("prog", []string{"PATH=/nonexistent:" + dir}); err != nil || p != exe {
		t.Errorf("lookPath(prog) = %q, %v", p, err)
	}
	if _, err := lookPath("data", []string{"PATH=" + dir}); err == nil {
		t.Error("a non-executable file must not be found")
	}
	if _, err := lookPath("nope", []string{"PATH=" + dir}); err == nil || !strings.Contains(err.Error(), "not found in $PATH") {
		t.Errorf("missing program: %v", err)
	}
	if _, err := lookPath(dir, nil); err == nil {
		t.Error("a directory is not executable")
	}
}

func TestMergeResources(t *testing.T) {
	lim, shares, pids := int64(100), uint64(512), int64(10)
	cur := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &lim},
		CPU:    &specs.LinuxCPU{Shares: &shares, Cpus: "0"},
	}
	newLim := int64(200)
	out := mergeResources(cur, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &newLim}, CPU: &specs.LinuxCPU{Cpus: "1"}, Pids: &specs.LinuxPids{Limit: &pids}})
	if *out.Memory.Limit != 200 || *out.CPU.Shares != 512 || out.CPU.Cpus != "1" || *out.Pids.Limit != 10 {
		t.Errorf("merged = %+v %+v %+v", out.Memory, out.CPU, out.Pids)
	}
	if *cur.Memory.Limit != 100 {
		t.Error("mergeResources changed its input")
	}
}

func TestDefaultDeviceRules(t *testing.T) {
	s := DefaultSpec()
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	res := withDefaultDeviceRules(s)
	if res.Devices[0].Allow {
		t.Fatal("the spec's deny-all rule must come first")
	}
	found := false
	for _, d := range res.Devices {
		if d.Allow && d.Type == "c" && *d.Major == 10 && *d.Minor == 229 {
			found = true
		}
	}
	if !found {
		t.Error("linux.devices must be allowed in the device cgroup")
	}
	if len(s.Linux.Resources.Devices) != 1 {
		t.Error("withDefaultDeviceRules changed the spec")
	}
}

func TestFormatIDMap(t *testing.T) {
	got := formatIDMap([]specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}, {ContainerID: 65536, HostID: 1, Size: 1}})
	if got != "0 100000 65536\n65536 1 1\n" {
		t.Errorf("formatIDMap = %q", got)
	}
}

func TestProcessStartTime(t *testing.T) {
	st, state, err := processStartTime(os.Getpid())
	if err != nil || st == 0 || state == 0 {
		t.Fatalf("processStartTime(self) = %d %c %v", st, state, err)
	}
	if !processAlive(os.Getpid(), st) {
		t.Error("this process must be alive")
	}
	if processAlive(os.Getpid(), st+1) {
		t.Error("a different start time means a reused PID: not alive")
	}
}

func TestDecodeSpec(t *testing.T) {
	s, err := decodeSpec([]byte(`{"ociVersion":"1.0.2"}`))
	if err != nil || s.Linux == nil {
		t.Fatalf("spec without linux: %+v, %v; want an empty linux section", s, err)
	}
	for in, want := range map[string]string{
		`null`:                     "not a JSON object",
		`[]`:                       "cannot decode JSON array",
		`{"ociVersion":"1"}x`:      "after top-level value",
		`{"linux":{"devices":{}}}`: "cannot decode JSON object",
	} {
		if _, err := decodeSpec([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

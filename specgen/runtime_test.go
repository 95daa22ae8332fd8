package specgen_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/runtime/seccomp"
	"github.com/berth-dev/berth/specgen"
)

// What specgen writes, the runtime must accept: the spec survives JSON, its
// capability names are the runtime's, its mount flags are ones the runtime
// knows, and its seccomp filter compiles for this host.
func TestRuntimeAcceptsGeneratedSpecs(t *testing.T) {
	known := runtime.KnownCapabilities()
	all := specgen.AllCapabilities()
	sort.Strings(all)
	if !reflect.DeepEqual(all, known) {
		t.Errorf("specgen's capabilities differ from the runtime's\n specgen %q\n runtime %q", all, known)
	}
	flags := map[string]bool{}
	for _, o := range runtime.MountOptions() {
		flags[o] = true
	}
	// Filesystem data options specgen writes (the runtime passes them on).
	data := map[string]bool{"newinstance": true}

	for name, o := range map[string]*specgen.Options{
		"default":    {},
		"privileged": {Privileged: true, Seccomp: "unconfined"},
		"busy": {
			CapAdd: []string{"SYS_ADMIN", "SYS_PTRACE"}, CapDrop: []string{"NET_RAW"}, ReadOnly: true, Init: "/usr/libexec/berth-init",
			Mounts: []specgen.Mount{
				{Type: "bind", Source: "/srv", Target: "/srv", ReadOnly: true, Propagation: "rslave"},
				{Type: "tmpfs", Target: "/cache", TmpfsSize: 1 << 30, TmpfsMode: 0o755, Options: []string{"exec"}},
			},
			Tmpfs:     map[string]string{"/run": "size=64m,uid=1000"},
			Devices:   []specgen.Device{{PathOnHost: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: 0o666}},
			Ulimits:   []specgen.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
			Resources: specgen.Resources{Memory: 1 << 30, NanoCPUs: 2e9, PidsLimit: new(int64(100))},
			CgroupNS:  "private", KernelVersion: "6.1.0",
		},
	} {
		t.Run(name, func(t *testing.T) {
			o.ID, o.Rootfs, o.Args = "c0ffee", "/var/lib/berth/rootfs", []string{"sh"}
			o.HostsPath = "/var/lib/berth/hosts"
			s, err := specgen.Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var back specs.Spec
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("spec JSON does not decode: %v", err)
			}
			if !strings.HasPrefix(back.Version, "1.") || back.Process == nil || back.Root == nil || back.Linux == nil {
				t.Fatalf("decoded spec %+v", back)
			}
			c := back.Process.Capabilities
			for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
				for _, n := range set {
					if sort.SearchStrings(known, n) == len(known) || known[sort.SearchStrings(known, n)] != n {
						t.Errorf("capability %q unknown to the runtime", n)
					}
				}
			}
			for _, m := range back.Mounts {
				for _, opt := range m.Options {
					if !flags[opt] && !data[opt] && !strings.Contains(opt, "=") {
						t.Errorf("mount %s: option %q is neither a flag the runtime knows nor filesystem data", m.Destination, opt)
					}
				}
			}
			if back.Linux.Seccomp != nil {
				if err := seccomp.Validate(back.Linux.Seccomp); err != nil {
					t.Errorf("seccomp filter does not compile: %v", err)
				}
			}
		})
	}
}

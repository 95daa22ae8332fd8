package cgroup

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func requireV1(t *testing.T) {
	t.Helper()
	requireCgroups(t)
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("pure cgroup v2 host: the v1 fast path is not used")
	}
}

// The paths computed from one read of mountinfo are the library's.
func TestFastPathsMatchLibrary(t *testing.T) {
	requireV1(t)
	name := testName(t)
	for _, p := range []string{"/" + name, "/" + name + "/c", DefaultParent + "/" + name, name, name + "/child"} {
		got, ok := fastV1Paths(p, cgroups.IsCgroup2HybridMode())
		if !ok {
			t.Fatalf("%q: this host's layout is not the plain one: %v", p, mountsForLog(t))
		}
		m, err := fs.NewManager(&cgroups.Cgroup{Path: p, Resources: &cgroups.Resources{}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.GetPaths(); !maps.Equal(got, want) {
			t.Errorf("%q:\n got  %v\n want %v", p, got, want)
		}
	}
}

func mountsForLog(t *testing.T) []v1Mount {
	m, err := readV1Mounts()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup/cpu,cpuacct`: "/sys/fs/cgroup/cpu,cpuacct",
		`/mnt/a\040b`:                "/mnt/a b",
		`/mnt/tab\011x\134y`:         "/mnt/tab\tx\\y",
		`/odd\9`:                     `/odd\9`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// libraryCgroup creates a cgroup with the library alone (its paths, Apply,
// Set), destroyed on cleanup.
func libraryCgroup(t *testing.T, p string, res *specs.LinuxResources) map[string]string {
	t.Helper()
	r, err := ConvertResources(res)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fs.NewManager(&cgroups.Cgroup{Path: p, Resources: r}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("destroy %s: %v", p, err)
		}
	})
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	return m.GetPaths()
}

// A cgroup made by the fast path holds what the library would have set:
// the device list and the cpuset, for the default rules and for rule lists
// the fast path hands to the library.
func TestFastCreateMatchesLibrary(t *testing.T) {
	requireV1(t)
	deny := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	allow := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: access}
	}
	cases := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		fast  bool
	}{
		{"default", benchResources().Devices, true},
		{"overlapping", []specs.LinuxDeviceCgroup{deny, allow("c", 1, 3, "r"), allow("c", 1, 3, "w"), allow("b", -1, -1, "m")}, true},
		{"deny after allow", []specs.LinuxDeviceCgroup{deny, allow("c", 1, 3, "rwm"), allow("c", 1, 5, "rwm"), {Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}}, false},
		{"allow list", []specs.LinuxDeviceCgroup{allow("a", -1, -1, "rwm"), {Allow: false, Type: "c", Major: ptr[int64](5), Minor: ptr[int64](1), Access: "w"}}, false},
	}
	parent := "/" + testName(t)
	t.Cleanup(func() {
		for _, s := range v1Subsystems {
			if m, err := cgroups.FindCgroupMountpoint("", s); err == nil {
				_ = os.Remove(filepath.Join(m, parent))
			}
		}
		_ = os.Remove(filepath.Join(hybridMountpoint, parent))
	})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := &specs.LinuxResources{Devices: tc.rules}
			want := libraryCgroup(t, parent+"/lib"+string(rune('a'+i)), res)

			c, err := New(parent+"/fast"+string(rune('a'+i)), "x", res)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := c.Destroy(); err != nil {
					t.Errorf("Destroy: %v", err)
				}
			})
			if !c.plain {
				t.Fatalf("New did not take the plain v1 path on this host")
			}
			if err := c.Apply(-1); err != nil {
				t.Fatal(err)
			}
			// The parent was made by the library's cgroup just before, so
			// every directory here is new: the fast Apply ran.
			if !c.fresh {
				t.Fatalf("Apply(-1) did not create the cgroup itself")
			}
			if err := c.Set(res); err != nil {
				t.Fatal(err)
			}
			got := c.Paths()
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
				t.Fatalf("controllers %v, library %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
			}
			for ctl, dir := range got {
				if _, err := os.Stat(dir); err != nil {
					t.Errorf("%s: %v", ctl, err)
				}
			}
			for _, f := range [][2]string{{"devices", "devices.list"}, {"cpuset", "cpuset.cpus"}, {"cpuset", "cpuset.mems"}} {
				if got[f[0]] == "" {
					continue
				}
				// The same exceptions; the library adds them in its own order.
				g, w := sortedLines(readCgFile(t, got[f[0]], f[1])), sortedLines(readCgFile(t, want[f[0]], f[1]))
				if g != w {
					t.Errorf("%s: %q, library %q", f[1], g, w)
				}
				if f[0] == "devices" && tc.fast && strings.Contains(g, "a *:* rwm") {
					t.Errorf("devices.list allows everything: %q", g)
				}
			}
		})
	}
}

func sortedLines(s string) string {
	l := strings.Split(s, "\n")
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// Outside the plain case Apply is the library's: an existing directory, a
// missing parent, cpuset settings.
func TestFastApplyFallsBack(t *testing.T) {
	requireV1(t)
	parent := "/" + testName(t)

	// Missing parent: the fast mkdirs fail and undo, the library makes both.
	c := newTestCgroup(t, parent+"/a/b", nil)
	if c.fresh {
		t.Error("a cgroup whose parent was missing was made by the fast path")
	}
	for ctl, dir := range c.Paths() {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s: %v", ctl, err)
		}
	}
	// Existing directory (the same path again): the library's Apply, no error.
	again, err := New(parent+"/a/b", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Apply(-1); err != nil {
		t.Fatalf("Apply on an existing cgroup: %v", err)
	}
	if again.fresh {
		t.Error("an existing cgroup was taken as fresh")
	}
	// Cpuset settings are the library's to apply.
	cpus := readCgFile(t, controllerDir(t, c, "cpuset"), "cpuset.cpus")
	withCpus, err := New(parent+"/a/cpus", "x", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: strings.SplitN(strings.SplitN(cpus, ",", 2)[0], "-", 2)[0]}})
	if err != nil {
		t.Fatal(err)
	}
	if withCpus.plain {
		t.Error("a cgroup with cpuset settings took the plain path")
	}
}

//go:build cgo

package seccomp

import (
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cacheKey writes these fields; a new one in runtime-spec must be added
// there (a program cached for one profile must never be taken for another).
var keyedFields = map[reflect.Type][]string{
	reflect.TypeFor[specs.LinuxSeccomp]():    {"DefaultAction", "DefaultErrnoRet", "Architectures", "Flags", "ListenerPath", "ListenerMetadata", "Syscalls"},
	reflect.TypeFor[specs.LinuxSyscall]():    {"Names", "Action", "ErrnoRet", "Args"},
	reflect.TypeFor[specs.LinuxSeccompArg](): {"Index", "Value", "ValueTwo", "Op"},
}

func TestCacheKeyCoversEveryField(t *testing.T) {
	for typ, want := range keyedFields {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v has fields %v; cacheKey writes %v", typ, got, want)
		}
	}
}

// Every change of any field, and moving a name from one rule to the next,
// gives another key; equal profiles give the same one.
func TestCacheKeyDistinguishes(t *testing.T) {
	u := func(v uint) *uint { return &v }
	base := func() *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno, DefaultErrnoRet: u(1),
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"read", "write"}, Action: specs.ActAllow},
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			},
		}
	}
	seen := map[string]string{cacheKey(base()): "base"}
	if cacheKey(base()) != cacheKey(base()) {
		t.Fatal("the same profile gives two keys")
	}
	for name, change := range map[string]func(c *specs.LinuxSeccomp){
		"defaultAction":    func(c *specs.LinuxSeccomp) { c.DefaultAction = specs.ActKill },
		"defaultErrnoRet":  func(c *specs.LinuxSeccomp) { c.DefaultErrnoRet = u(2) },
		"no errnoRet":      func(c *specs.LinuxSeccomp) { c.DefaultErrnoRet = nil },
		"errnoRet 0":       func(c *specs.LinuxSeccomp) { c.DefaultErrnoRet = u(0) },
		"architectures":    func(c *specs.LinuxSeccomp) { c.Architectures = c.Architectures[:1] },
		"flags":            func(c *specs.LinuxSeccomp) { c.Flags = nil },
		"listenerPath":     func(c *specs.LinuxSeccomp) { c.ListenerPath = "/run/x" },
		"listenerMetadata": func(c *specs.LinuxSeccomp) { c.ListenerMetadata = "m" },
		"names split":      func(c *specs.LinuxSeccomp) { c.Syscalls[0].Names = []string{"readwrite"} },
		"name moved": func(c *specs.LinuxSeccomp) {
			c.Syscalls[0].Names = []string{"read"}
			c.Syscalls[1].Names = []string{"write", "personality"}
		},
		"action":     func(c *specs.LinuxSeccomp) { c.Syscalls[1].Action = specs.ActErrno },
		"errnoRet":   func(c *specs.LinuxSeccomp) { c.Syscalls[1].ErrnoRet = u(1) },
		"arg index":  func(c *specs.LinuxSeccomp) { c.Syscalls[1].Args[0].Index = 1 },
		"arg value":  func(c *specs.LinuxSeccomp) { c.Syscalls[1].Args[0].Value = 9 },
		"arg value2": func(c *specs.LinuxSeccomp) { c.Syscalls[1].Args[0].ValueTwo = 1 },
		"arg op":     func(c *specs.LinuxSeccomp) { c.Syscalls[1].Args[0].Op = specs.OpNotEqual },
		"no args":    func(c *specs.LinuxSeccomp) { c.Syscalls[1].Args = nil },
		"rule gone":  func(c *specs.LinuxSeccomp) { c.Syscalls = c.Syscalls[:1] },
	} {
		c := base()
		change(c)
		k := cacheKey(c)
		if prev, ok := seen[k]; ok {
			t.Errorf("%s gives the same key as %s", name, prev)
		}
		seen[k] = name
	}
}

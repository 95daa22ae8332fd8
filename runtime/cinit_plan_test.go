package runtime

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// planOps decodes the operations of a mount plan as (code, destination)
// pairs; the destination is empty for operations without one.
func planOps(t *testing.T, p *plan) (codes []uint32, dsts []string) {
	t.Helper()
	b := p.b
	u32 := func() uint32 {
		if len(b) < 4 {
			t.Fatalf("plan ends inside a number")
		}
		v := binary.NativeEndian.Uint32(b)
		b = b[4:]
		return v
	}
	str := func() string {
		n := int(u32())
		if len(b) < n+1 {
			t.Fatalf("plan ends inside a string")
		}
		s := string(b[:n])
		b = b[n+1:]
		return s
	}
	for i := 0; i < p.ops; i++ {
		code := u32()
		dst := ""
		switch code {
		case opMount:
			str() // source
			dst = str()
			str() // type
			u32() // flags
			str() // data
			u32() // mk
			u32() // fallback
			for n := u32(); n > 0; n-- {
				u32()
			}
			b = b[16:] // recursive set and clear
			str()      // name
		case opMknod:
			dst = str()
			u32()
			b = b[8:]
			u32()
			u32()
		case opSymlink:
			str()
			dst = str()
			u32()
		case opPtmx:
		case opRemount:
			dst = str()
			u32()
		default:
			t.Fatalf("unexpected operation %d in a mount plan", code)
		}
		codes = append(codes, code)
		dsts = append(dsts, dst)
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the last operation", len(b))
	}
	return codes, dsts
}

// The init makes the mounts of compileMounts' early plan before its cgroup
// exists (in parallel with its parent making it): they must be the spec's
// mounts up to the first cgroup mount, in order, and nothing else; cgroup
// mounts and device nodes come after the join.
func TestCompileMountsEarly(t *testing.T) {
	v1 := map[string]string{"memory": "/sys/fs/cgroup/memory/b/x", "pids": "/sys/fs/cgroup/pids/b/x", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/b/x"}
	for _, tc := range []struct {
		name   string
		mounts func([]specs.Mount) []specs.Mount
		early  int // how many of the spec's mounts are early
	}{
		{"runc's defaults", func(m []specs.Mount) []specs.Mount { return m }, -1},
		{"cgroup mount first", func(m []specs.Mount) []specs.Mount {
			for i := range m {
				if m[i].Type == "cgroup" {
					return append(append([]specs.Mount{m[i]}, m[:i]...), m[i+1:]...)
				}
			}
			t.Fatal("DefaultSpec has no cgroup mount")
			return nil
		}, 0},
		{"no cgroup mount", func(m []specs.Mount) []specs.Mount {
			var out []specs.Mount
			for _, x := range m {
				if x.Type != "cgroup" {
					out = append(out, x)
				}
			}
			return out
		}, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := DefaultSpec()
			spec.Mounts = tc.mounts(spec.Mounts)
			want := tc.early
			switch want {
			case -1: // up to the cgroup mount
				for want = 0; spec.Mounts[want].Type != "cgroup"; want++ {
				}
			case -2:
				want = len(spec.Mounts)
			}
			cfg := &initConfig{Spec: spec, Rootfs: "/r", Bundle: "/b", HasMountNS: true, NewCgroupNS: true, CgroupPaths: v1}
			var early, pre plan
			if err := compileMounts(&early, &pre, cfg); err != nil {
				t.Fatal(err)
			}
			codes, dsts := planOps(t, &early)
			if len(codes) != want {
				t.Fatalf("early plan has %d operations (%v), want the %d mounts before the cgroup mount", len(codes), dsts, want)
			}
			for i := range codes {
				if codes[i] != opMount || dsts[i] != spec.Mounts[i].Destination {
					t.Errorf("early operation %d: %d at %s, want the mount at %s", i, codes[i], dsts[i], spec.Mounts[i].Destination)
				}
			}
			codes, dsts = planOps(t, &pre)
			mknods := 0
			for i := range codes {
				if codes[i] == opMknod {
					mknods++
				}
			}
			if mknods != len(containerDevices(spec)) {
				t.Errorf("pre plan has %d device nodes, want %d: %v", mknods, len(containerDevices(spec)), dsts)
			}
			if want < len(spec.Mounts) && (codes[0] != opMount || dsts[0] != spec.Mounts[want].Destination) {
				t.Errorf("pre plan starts with %d at %s, want the cgroup mount at %s", codes[0], dsts[0], spec.Mounts[want].Destination)
			}
		})
	}
}

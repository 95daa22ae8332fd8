//go:build linux && cgo

package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileCache(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow}},
	}
	dir := filepath.Join(t.TempDir(), "cache")
	p1, err := Compile(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %d files, want 1", len(files))
	}
	path := filepath.Join(dir, files[0].Name())
	p2, err := Compile(cfg, dir)
	if err != nil || !bytes.Equal(p1.BPF, p2.BPF) || p1.Flags != p2.Flags {
		t.Fatalf("cached program differs: %v", err)
	}
	// A damaged entry is not trusted: compiled again and rewritten.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	p3, err := Compile(cfg, dir)
	if err != nil || !bytes.Equal(p1.BPF, p3.BPF) {
		t.Fatalf("after damage: %v", err)
	}
	if b, _ := os.ReadFile(path); len(b) != 8+len(p1.BPF) {
		t.Errorf("damaged entry not rewritten (%d bytes)", len(b))
	}
	// Without a cache, the same program.
	p4, err := Compile(cfg, "")
	if err != nil || !bytes.Equal(p1.BPF, p4.BPF) {
		t.Fatalf("uncached: %v", err)
	}
	// A bad profile is an error, cached or not.
	if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, dir); err == nil {
		t.Error("bad default action accepted")
	}
	if p, err := Compile(nil, dir); p != nil || err != nil {
		t.Errorf("nil config: %v %v", p, err)
	}
}

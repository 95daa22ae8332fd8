//go:build cgo

package seccomp

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
)

// programTag changes whenever compile makes different programs.
const programTag = "bst-v2\n"

// Program is a filter compiled to BPF with the seccomp(2) flags to load it
// with: what Load installs, made ahead of time so that a container's init
// need not run libseccomp (which takes milliseconds for Docker's profile).
type Program struct {
	BPF   []byte  `json:"bpf"` // struct sock_filter array, native endian
	Flags uintptr `json:"flags"`
}

// Compile checks cfg (as Validate does) and compiles it. With cacheDir set,
// programs are kept there by the hash of cfg, so a profile is compiled once
// per boot (cacheDir should be on tmpfs, root-only: its contents are
// trusted as the filter). A nil cfg gives a nil Program.
func Compile(cfg *specs.LinuxSeccomp, cacheDir string) (*Program, error) {
	if cfg == nil {
		return nil, nil
	}
	var path string
	if cacheDir != "" {
		path = filepath.Join(cacheDir, cacheKey(cfg))
		if p, err := readProgram(path); err == nil {
			if err := probeFlags(p.Flags); err != nil {
				return nil, fmt.Errorf("flags: %w", err)
			}
			return p, nil
		}
	}
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	defer c.filter.Release()
	if err := probeFlags(c.flags); err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	prog, err := exportBPF(c.filter)
	if err != nil {
		return nil, err
	}
	p := &Program{BPF: make([]byte, len(prog)*sockFilterSize), Flags: c.flags}
	for i, ins := range prog {
		b := p.BPF[i*sockFilterSize:]
		binary.NativeEndian.PutUint16(b[0:2], ins.Code)
		b[2], b[3] = ins.Jt, ins.Jf
		binary.NativeEndian.PutUint32(b[4:8], ins.K)
	}
	if path != "" {
		// A cache that cannot be written only costs time.
		_ = writeProgram(path, p)
	}
	return p, nil
}

// Install loads a compiled program on the calling thread (see Load).
func Install(p *Program) (notifyFd int, err error) {
	if p == nil {
		return -1, nil
	}
	if len(p.BPF) == 0 || len(p.BPF)%sockFilterSize != 0 {
		return -1, fmt.Errorf("compiled filter of %d bytes is not a whole number of instructions", len(p.BPF))
	}
	prog := make([]unix.SockFilter, len(p.BPF)/sockFilterSize)
	for i := range prog {
		b := p.BPF[i*sockFilterSize:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b[0:2]), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:8])}
	}
	return install(prog, p.Flags)
}

// The cache file: flags (8 bytes), then the instructions.
func readProgram(path string) (*Program, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8+sockFilterSize || (len(b)-8)%sockFilterSize != 0 || (len(b)-8)/sockFilterSize > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("%s: not a compiled filter", path)
	}
	return &Program{Flags: uintptr(binary.NativeEndian.Uint64(b[:8])), BPF: b[8:]}, nil
}

func writeProgram(path string, p *Program) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b := make([]byte, 8, 8+len(p.BPF))
	binary.NativeEndian.PutUint64(b, uint64(p.Flags))
	return atomicfile.Replace(path, append(b, p.BPF...), 0o600)
}

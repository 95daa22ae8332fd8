//go:build !linux || !cgo

package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// errUnsupported is returned for any non-nil configuration when berth was
// built without cgo (libseccomp) or for another OS.
var errUnsupported = errors.New("seccomp is not supported by this build (needs linux and cgo with libseccomp)")

// Validate reports that seccomp is unavailable in this build, unless cfg is nil.
func Validate(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	return errUnsupported
}

// Load reports that seccomp is unavailable in this build, unless cfg is nil.
func Load(cfg *specs.LinuxSeccomp) (notifyFd int, err error) {
	if cfg == nil {
		return -1, nil
	}
	return -1, errUnsupported
}

// Program is a compiled filter (none in this build).
type Program struct {
	BPF   []byte  `json:"bpf"`
	Flags uintptr `json:"flags"`
}

// Compile reports that seccomp is unavailable in this build, unless cfg is nil.
func Compile(cfg *specs.LinuxSeccomp, cacheDir string) (*Program, error) {
	if cfg == nil {
		return nil, nil
	}
	return nil, errUnsupported
}

// Install reports that seccomp is unavailable in this build, unless p is nil.
func Install(p *Program) (notifyFd int, err error) {
	if p == nil {
		return -1, nil
	}
	return -1, errUnsupported
}

package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/runtime/seccomp"
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("config.json: "+format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// validateAndCompile checks what must be right before anything is created
// and returns the absolute rootfs path and the compiled seccomp filter
// (compiling is the filter's check), with the compiled-program cache at
// seccompCache if it is set.
func validateAndCompile(spec *specs.Spec, bundle, seccompCache string) (string, *seccomp.Program, error) {
	if spec.Version == "" {
		return "", nil, invalid("ociVersion is required")
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return "", nil, invalid("ociVersion %q is not supported (want 1.x)", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return "", nil, invalid("root.path is required")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil {
		return "", nil, invalid("root.path %s: %v", spec.Root.Path, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return "", nil, invalid("root.path %s is not a directory", spec.Root.Path)
	}
	rootfs, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return "", nil, invalid("root.path: %v", err)
	}
	if err := validateNamespaces(spec); err != nil {
		return "", nil, err
	}
	if p := spec.Process; p != nil {
		if err := validateProcess(p); err != nil {
			return "", nil, err
		}
		if err := validateProcessAttrs(p, spec.Linux); err != nil {
			return "", nil, err
		}
	}
	for i, m := range spec.Mounts {
		if m.Destination == "" {
			return "", nil, invalid("mounts[%d].destination is required", i)
		}
		if _, err := parseMountOptions(m.Options); err != nil {
			return "", nil, invalid("mounts[%d] (%s): %v", i, m.Destination, err)
		}
	}
	for i, d := range spec.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return "", nil, invalid("linux.devices[%d].path %q must be absolute", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return "", nil, invalid("linux.devices[%d] (%s): type %q is not one of c, b, u, p", i, d.Path, d.Type)
		}
	}
	for _, p := range append(append([]string(nil), spec.Linux.MaskedPaths...), spec.Linux.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			return "", nil, invalid("masked/read-only path %q must be absolute", p)
		}
	}
	if _, ok := propagationFlags[spec.Linux.RootfsPropagation]; !ok && spec.Linux.RootfsPropagation != "" {
		return "", nil, invalid("linux.rootfsPropagation %q is not valid", spec.Linux.RootfsPropagation)
	}
	if err := validateSysctls(spec); err != nil {
		return "", nil, err
	}
	if spec.Hooks != nil {
		all := map[string][]specs.Hook{
			"prestart":      spec.Hooks.Prestart, //nolint:staticcheck
			"createRuntime": spec.Hooks.CreateRuntime, "createContainer": spec.Hooks.CreateContainer,
			"startContainer": spec.Hooks.StartContainer, "poststart": spec.Hooks.Poststart, "poststop": spec.Hooks.Poststop,
		}
		for stage, hs := range all {
			for i, h := range hs {
				if !filepath.IsAbs(h.Path) {
					return "", nil, invalid("hooks.%s[%d].path %q must be absolute", stage, i, h.Path)
				}
				if h.Timeout != nil && *h.Timeout <= 0 {
					return "", nil, invalid("hooks.%s[%d].timeout must be positive", stage, i)
				}
			}
		}
	}
	tr("checked")
	prog, err := seccomp.Compile(spec.Linux.Seccomp, seccompCache)
	if err != nil {
		return "", nil, invalid("linux.seccomp: %v", err)
	}
	return rootfs, prog, nil
}

func hasNewNS(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func validateNamespaces(spec *specs.Spec) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return invalid("linux.namespaces: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return invalid("linux.namespaces: %s listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if err := checkNamespacePath(ns); err != nil {
				return err
			}
		}
	}
	if seen[specs.UserNamespace] && !hasPath(spec, specs.UserNamespace) {
		if len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0 {
			return invalid("a new user namespace needs linux.uidMappings and linux.gidMappings")
		}
	}
	if len(spec.Linux.UIDMappings)+len(spec.Linux.GIDMappings) > 0 && !seen[specs.UserNamespace] {
		return invalid("linux.uidMappings/gidMappings need a user namespace")
	}
	if (spec.Hostname != "" || spec.Domainname != "") && !seen[specs.UTSNamespace] {
		return invalid("hostname and domainname need a uts namespace")
	}
	if len(spec.Linux.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return invalid("linux.timeOffsets need a time namespace")
	}
	return nil
}

func hasPath(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path != ""
		}
	}
	return false
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return invalid("process.args must name a program")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return invalid("process.cwd %q must be an absolute path", p.Cwd)
	}
	if p.Capabilities != nil {
		for set, names := range map[string][]string{
			"bounding": p.Capabilities.Bounding, "effective": p.Capabilities.Effective,
			"inheritable": p.Capabilities.Inheritable, "permitted": p.Capabilities.Permitted,
			"ambient": p.Capabilities.Ambient,
		} {
			for _, n := range names {
				if _, ok := capByName(n); !ok {
					return invalid("process.capabilities.%s: unknown capability %q", set, n)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, rl := range p.Rlimits {
		if _, ok := rlimitByName[rl.Type]; !ok {
			return invalid("process.rlimits: unknown type %q", rl.Type)
		}
		if seen[rl.Type] {
			return invalid("process.rlimits: %s listed twice", rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return invalid("process.rlimits: %s soft limit %d is above its hard limit %d", rl.Type, rl.Soft, rl.Hard)
		}
		if err := checkRlimitRaise(rl); err != nil {
			return err
		}
	}
	return nil
}

var capNames = sync.OnceValue(func() map[string]capability.Cap {
	m := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		m["CAP_"+strings.ToUpper(c.String())] = c
	}
	return m
})

func capByName(name string) (capability.Cap, bool) {
	c, ok := capNames()[name]
	return c, ok
}

// Sysctls are allowed only where the container has its own namespace for them.
func validateSysctls(spec *specs.Spec) error {
	ipc := map[string]bool{"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
		"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true}
	for k := range spec.Linux.Sysctl {
		switch {
		case ipc[k] || strings.HasPrefix(k, "fs.mqueue."):
			if !hasNewNS(spec, specs.IPCNamespace) {
				return invalid("sysctl %q needs an ipc namespace", k)
			}
		case strings.HasPrefix(k, "net."):
			if !hasNewNS(spec, specs.NetworkNamespace) {
				return invalid("sysctl %q needs a network namespace", k)
			}
		case k == "kernel.hostname" || k == "kernel.domainname":
			if !hasNewNS(spec, specs.UTSNamespace) {
				return invalid("sysctl %q needs a uts namespace", k)
			}
		default:
			return invalid("sysctl %q is not namespaced: it would change the host", k)
		}
	}
	return nil
}

// checkNamespacePath makes sure a namespace path exists and is a namespace of
// the declared type (the runtime-spec requires an error otherwise).
func checkNamespacePath(ns specs.LinuxNamespace) error {
	f, err := os.Open(ns.Path)
	if err != nil {
		return invalid("linux.namespaces: %s namespace path %s: %v", ns.Type, ns.Path, errors.Unwrap(err))
	}
	defer f.Close()
	got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		return invalid("linux.namespaces: %s namespace path %s is not a namespace", ns.Type, ns.Path)
	}
	if got != nsFlags[ns.Type] {
		for t, flag := range nsFlags {
			if flag == got {
				return invalid("linux.namespaces: %s namespace path %s is a %s namespace", ns.Type, ns.Path, t)
			}
		}
		return invalid("linux.namespaces: %s namespace path %s is a namespace of another type", ns.Type, ns.Path)
	}
	return nil
}

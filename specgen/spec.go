package specgen

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
)

// DefaultCgroupParent holds the cgroups of containers started without
// --cgroup-parent (the runtime's cgroup.DefaultParent).
const DefaultCgroupParent = "/berth"

// initPath is where Options.Init is mounted, the path Docker uses.
const initPath = "/sbin/docker-init"

// invalid is an error of class errdefs.ErrInvalidArgument.
func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// Generate returns the runtime spec for a container configured by o, with
// Docker's defaults for everything o leaves out. Every error it returns is of
// class errdefs.ErrInvalidArgument and names the option at fault.
func Generate(o *Options) (*specs.Spec, error) {
	if o.ID == "" || strings.ContainsAny(o.ID, "/\x00") || o.ID == "." || o.ID == ".." {
		return nil, invalid("container id %q", o.ID)
	}
	if o.Rootfs == "" || !path.IsAbs(o.Rootfs) {
		return nil, invalid("rootfs %q must be an absolute path", o.Rootfs)
	}
	s := &specs.Spec{
		Version:     specs.Version,
		Root:        &specs.Root{Path: o.Rootfs, Readonly: o.ReadOnly},
		Hostname:    o.Hostname,
		Domainname:  o.Domainname,
		Annotations: annotations(o.Labels),
		Linux:       &specs.Linux{},
	}
	caps, err := capabilities(o.CapAdd, o.CapDrop, o.Privileged)
	if err != nil {
		return nil, err
	}
	if s.Process, err = process(o, caps); err != nil {
		return nil, err
	}
	if s.Linux.Namespaces, err = namespaces(o); err != nil {
		return nil, err
	}
	if o.UTS == "host" {
		// The host's names stay the host's (Docker clears them too).
		s.Hostname, s.Domainname = "", ""
	}
	if s.Mounts, s.Linux.RootfsPropagation, err = mounts(o); err != nil {
		return nil, err
	}
	if !o.Privileged {
		s.Linux.MaskedPaths = append([]string(nil), maskedPaths...)
		s.Linux.ReadonlyPaths = append([]string(nil), readonlyPaths...)
	}
	if s.Linux.Sysctl, err = sysctls(o); err != nil {
		return nil, err
	}
	if s.Linux.Resources, err = resources(&o.Resources); err != nil {
		return nil, err
	}
	if s.Linux.Devices, s.Linux.Resources.Devices, err = devices(o.Devices, o.Privileged); err != nil {
		return nil, err
	}
	if s.Linux.CgroupsPath, err = cgroupsPath(o.CgroupParent, o.ID); err != nil {
		return nil, err
	}
	if s.Linux.Seccomp, err = seccompFor(o, caps); err != nil {
		return nil, err
	}
	return s, nil
}

func annotations(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[k] = v
	}
	return out
}

func process(o *Options, caps []string) (*specs.Process, error) {
	if len(o.Args) == 0 || o.Args[0] == "" {
		return nil, invalid("no command specified")
	}
	cwd := o.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, invalid("working directory %q must be an absolute path", o.Cwd)
	}
	if o.OomScoreAdj < -1000 || o.OomScoreAdj > 1000 {
		return nil, invalid("oom score adj %d is out of range [-1000, 1000]", o.OomScoreAdj)
	}
	args := append([]string(nil), o.Args...)
	if o.Init != "" {
		args = append([]string{initPath, "--"}, args...)
	}
	rlimits, err := rlimits(o.Ulimits)
	if err != nil {
		return nil, err
	}
	oom := o.OomScoreAdj
	p := &specs.Process{
		Terminal: o.Terminal,
		User: specs.User{
			UID:            o.UID,
			GID:            o.GID,
			AdditionalGids: groups(o.AdditionalGIDs, o.GroupAdd),
		},
		Args:            args,
		Env:             append([]string(nil), o.Env...),
		Cwd:             path.Clean(cwd),
		Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: clone(caps), Permitted: clone(caps)},
		Rlimits:         rlimits,
		NoNewPrivileges: o.NoNewPrivs,
		OOMScoreAdj:     &oom,
	}
	if o.Terminal && o.ConsoleWidth > 0 && o.ConsoleHeight > 0 {
		p.ConsoleSize = &specs.Box{Width: o.ConsoleWidth, Height: o.ConsoleHeight}
	}
	return p, nil
}

func clone(s []string) []string { return append([]string(nil), s...) }

// groups is the image user's supplementary groups then --group-add's, each
// once.
func groups(lists ...[]uint32) []uint32 {
	var out []uint32
	seen := map[uint32]bool{}
	for _, l := range lists {
		for _, g := range l {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	return out
}

// namespaces lists the container's namespaces in Docker's order: mount,
// network, uts, pid, ipc, then cgroup when private.
func namespaces(o *Options) ([]specs.LinuxNamespace, error) {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	add := func(t specs.LinuxNamespaceType, mode, flag string, extra ...string) error {
		switch {
		case mode == "":
			ns = append(ns, specs.LinuxNamespace{Type: t})
		case mode == "host":
		case path.IsAbs(mode):
			ns = append(ns, specs.LinuxNamespace{Type: t, Path: mode})
		default:
			for _, e := range extra {
				if mode == e {
					ns = append(ns, specs.LinuxNamespace{Type: t})
					return nil
				}
			}
			return invalid("%s mode %q: want one of %q, \"host\" or the absolute path of a namespace", flag, mode, extra)
		}
		return nil
	}
	if err := add(specs.NetworkNamespace, o.Network, "network", "none"); err != nil {
		return nil, err
	}
	if err := add(specs.UTSNamespace, o.UTS, "uts", "private"); err != nil {
		return nil, err
	}
	if err := add(specs.PIDNamespace, o.PID, "pid", "private"); err != nil {
		return nil, err
	}
	if err := add(specs.IPCNamespace, o.IPC, "ipc", "private", "shareable", "none"); err != nil {
		return nil, err
	}
	switch o.CgroupNS {
	case "", "host":
	case "private":
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	default:
		return nil, invalid("cgroupns mode %q: want \"private\" or \"host\"", o.CgroupNS)
	}
	return ns, nil
}

// sysctls copies --sysctl, refusing those that would reach into a namespace
// shared with the host (the runtime would refuse them later, less clearly).
func sysctls(o *Options) (map[string]string, error) {
	if len(o.Sysctls) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(o.Sysctls))
	for k, v := range o.Sysctls {
		switch {
		case strings.HasPrefix(k, "net.") && o.Network == "host":
			return nil, invalid("sysctl %q is not allowed in the host network namespace", k)
		case (strings.HasPrefix(k, "kernel.msg") || strings.HasPrefix(k, "kernel.sem") ||
			strings.HasPrefix(k, "kernel.shm") || strings.HasPrefix(k, "fs.mqueue.")) && o.IPC == "host":
			return nil, invalid("sysctl %q is not allowed in the host ipc namespace", k)
		case (k == "kernel.hostname" || k == "kernel.domainname") && o.UTS == "host":
			return nil, invalid("sysctl %q is not allowed in the host uts namespace", k)
		}
		out[k] = v
	}
	return out, nil
}

// cgroupsPath is "<parent>/<id>", the parent being /berth by default. A
// relative parent stays relative: the runtime takes it from its own cgroup.
func cgroupsPath(parent, id string) (string, error) {
	if parent == "" {
		parent = DefaultCgroupParent
	}
	if strings.Contains(parent, "\x00") {
		return "", invalid("cgroup parent %q", parent)
	}
	if path.Clean(parent) == "." {
		return "", invalid("cgroup parent %q names no cgroup", parent)
	}
	return path.Join(parent, id), nil
}

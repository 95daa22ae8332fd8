package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/specgen"
	"github.com/berth-dev/berth/volume"
)

// engineCreate translates the API's create request for the engine.
func engineCreate(name string, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) (engine.CreateRequest, error) {
	if cfg == nil {
		return engine.CreateRequest{}, fmt.Errorf("config cannot be empty in order to create a container: %w", errdefs.ErrInvalidArgument)
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	c := engine.Config{
		Hostname: cfg.Hostname, Domainname: cfg.Domainname, User: cfg.User,
		AttachStdin: cfg.AttachStdin, AttachStdout: cfg.AttachStdout, AttachStderr: cfg.AttachStderr,
		Tty: cfg.Tty, OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
		Env: cfg.Env, Cmd: cfg.Cmd, Entrypoint: cfg.Entrypoint, Image: cfg.Image,
		WorkingDir: cfg.WorkingDir, Labels: cfg.Labels, StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout,
	}
	for p := range cfg.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p.String())
	}
	sort.Strings(c.ExposedPorts)
	for v := range cfg.Volumes {
		c.Volumes = append(c.Volumes, v)
	}
	sort.Strings(c.Volumes)
	if h := cfg.Healthcheck; h != nil {
		c.Healthcheck = &engine.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	e := engine.HostConfig{
		NetworkMode:     string(hc.NetworkMode),
		RestartPolicy:   engine.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		AutoRemove:      hc.AutoRemove,
		LogConfig:       engine.LogConfig{Type: hc.LogConfig.Type, Config: hc.LogConfig.Config},
		CapAdd:          hc.CapAdd,
		CapDrop:         hc.CapDrop,
		Privileged:      hc.Privileged,
		ReadonlyRootfs:  hc.ReadonlyRootfs,
		SecurityOpt:     hc.SecurityOpt,
		Tmpfs:           hc.Tmpfs,
		ShmSize:         hc.ShmSize,
		Sysctls:         hc.Sysctls,
		OomScoreAdj:     hc.OomScoreAdj,
		GroupAdd:        hc.GroupAdd,
		Init:            hc.Init,
		IpcMode:         string(hc.IpcMode),
		PidMode:         string(hc.PidMode),
		UTSMode:         string(hc.UTSMode),
		CgroupParent:    hc.CgroupParent,
		Resources:       engineResources(&hc.Resources),
		DNSSearch:       hc.DNSSearch,
		DNSOptions:      hc.DNSOptions,
		ExtraHosts:      hc.ExtraHosts,
		ConsoleSize:     hc.ConsoleSize,
		PortBindings:    enginePortBindings(hc.PortBindings),
		PublishAllPorts: hc.PublishAllPorts,
		Binds:           hc.Binds,
		VolumesFrom:     hc.VolumesFrom,
	}
	for _, a := range hc.DNS {
		e.DNS = append(e.DNS, a.String())
	}
	for _, d := range hc.Devices {
		e.Devices = append(e.Devices, engine.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions})
	}
	for _, u := range hc.Ulimits {
		if u != nil {
			e.Ulimits = append(e.Ulimits, specgen.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	bad := func(format string, args ...any) (engine.CreateRequest, error) {
		return engine.CreateRequest{}, fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	for p := range hc.PortBindings {
		if !p.IsValid() {
			return bad("invalid port binding: no container port")
		}
	}
	switch {
	case len(hc.Links) > 0:
		return bad("links are not supported")
	case hc.UsernsMode != "" && hc.UsernsMode != "host":
		return bad("--userns %q is not supported yet", hc.UsernsMode)
	case hc.Runtime != "" && hc.Runtime != "berth" && hc.Runtime != "runc":
		return bad("unknown runtime %q (berth has its own)", hc.Runtime)
	case len(hc.DeviceRequests) > 0:
		return bad("device requests (--gpus) are not supported")
	case len(hc.DeviceCgroupRules) > 0:
		return bad("--device-cgroup-rule is not supported yet")
	}
	for _, b := range hc.Binds {
		m, err := parseBind(b)
		if err != nil {
			return engine.CreateRequest{}, err
		}
		e.Mounts = append(e.Mounts, m)
	}
	for _, m := range hc.Mounts {
		sm, err := convertMount(m)
		if err != nil {
			return engine.CreateRequest{}, err
		}
		e.Mounts = append(e.Mounts, sm)
	}
	var nets map[string]*engine.EndpointSettings
	if nc != nil {
		var err error
		if nets, err = engineEndpoints(nc.EndpointsConfig); err != nil {
			return engine.CreateRequest{}, err
		}
		// The docker CLI names the network mode's network with nothing
		// asked of it; that says no more than the mode.
		mode := orDefault(e.NetworkMode, "default")
		for name, s := range nets {
			if (name == mode || name == "bridge" && mode == "default") && len(s.Aliases) == 0 && s.IPv4Address == "" && s.IPv6Address == "" {
				delete(nets, name)
			}
		}
	}
	return engine.CreateRequest{Name: name, Config: c, HostConfig: e, Networks: nets}, nil
}

// parseBind parses -v SOURCE:TARGET[:MODE] as Docker's Linux parser does:
// an absolute SOURCE is a bind, another a volume's name, and a lone TARGET
// a new anonymous volume. MODE is comma-separated: ro or rw, z or Z, a
// propagation (binds), nocopy (volumes), and consistent, cached or
// delegated (accepted, meaningless on Linux); each kind at most once.
// A missing bind source is made by the engine, as Docker's -v does.
func parseBind(b string) (specgen.Mount, error) {
	invalidSpec := func() (specgen.Mount, error) {
		return specgen.Mount{}, fmt.Errorf("invalid volume specification: '%s': %w", b, errdefs.ErrInvalidArgument)
	}
	arr := strings.SplitN(b, ":", 4)
	if arr[0] == "" {
		return invalidSpec()
	}
	var src, dst, mode string
	switch len(arr) {
	case 1:
		dst = arr[0]
	case 2:
		if validMountMode(arr[1]) {
			// A target and a mode, without a source: "/foo:rw".
			return invalidSpec()
		}
		src, dst = arr[0], arr[1]
	case 3:
		src, dst, mode = arr[0], arr[1], arr[2]
	default:
		return invalidSpec()
	}
	if !validMountMode(mode) {
		return specgen.Mount{}, fmt.Errorf("invalid mode: %s: %w", mode, errdefs.ErrInvalidArgument)
	}
	m := specgen.Mount{Type: "volume", Source: src, Mode: mode}
	if path.IsAbs(src) {
		m.Type, m.Source, m.MakeSource = "bind", path.Clean(src), true
	} else if mode == "" {
		m.Mode = "z" // as Docker shows a -v volume
	}
	var nocopy bool
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "ro":
			m.ReadOnly = true
		case "nocopy":
			nocopy = true
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			m.Propagation = o
		}
	}
	invalid := func(err error) (specgen.Mount, error) {
		return specgen.Mount{}, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type %q: %v: %w", b, m.Type, err, errdefs.ErrInvalidArgument)
	}
	target, err := mountTarget(dst)
	if err != nil {
		return invalid(err)
	}
	m.Target = target
	switch m.Type {
	case "bind":
		if nocopy {
			return invalid(errors.New("field VolumeOptions must not be specified"))
		}
	case "volume":
		if m.Propagation != "" {
			return invalid(errors.New("field BindOptions must not be specified"))
		}
		m.NoCopy = nocopy
		if m.Source != "" {
			if err := checkVolumeName(m.Source); err != nil {
				return specgen.Mount{}, err
			}
		}
	}
	return m, nil
}

// validMountMode is Docker's check of a -v mode.
func validMountMode(mode string) bool {
	if mode == "" {
		return true
	}
	var rw, label, propagation, cp, consistency int
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "rw", "ro":
			rw++
		case "z", "Z":
			label++
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			propagation++
		case "nocopy":
			cp++
		case "consistent", "cached", "delegated":
			consistency++
		default:
			return false
		}
	}
	return rw <= 1 && label <= 1 && propagation <= 1 && cp <= 1 && consistency <= 1
}

// mountTarget checks and cleans a mount's target as Docker does: given,
// absolute, not the root.
func mountTarget(t string) (string, error) {
	switch {
	case t == "":
		return "", errors.New("field Target must not be empty")
	case path.Clean(t) == "/":
		return "", errors.New("invalid specification: destination can't be '/'")
	case !path.IsAbs(t):
		return "", fmt.Errorf("invalid mount path: '%s' mount path must be absolute", t)
	}
	return path.Clean(t), nil
}

// checkVolumeName is -v's and --mount's check of a volume's name: the
// local driver's rule (volume.CheckName), with Docker's own error for a
// one-character name.
func checkVolumeName(name string) error {
	if len(name) == 1 {
		return fmt.Errorf("create %s: volume name is too short, names should be at least two alphanumeric characters: %w", name, errdefs.ErrInvalidArgument)
	}
	return volume.CheckName(name)
}

// convertMount translates a --mount (HostConfig.Mounts) with Docker's
// checks: unlike -v, a bind's source must exist (unless
// BindOptions.CreateMountpoint, which the engine's making of missing bind
// sources serves).
func convertMount(m mount.Mount) (specgen.Mount, error) {
	invalid := func(format string, args ...any) (specgen.Mount, error) {
		return specgen.Mount{}, fmt.Errorf("invalid mount config for type %q: "+format+": %w", append([]any{m.Type}, append(args, errdefs.ErrInvalidArgument)...)...)
	}
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeTmpfs:
	default:
		return specgen.Mount{}, fmt.Errorf("mount type %q is not supported yet: %w", m.Type, errdefs.ErrInvalidArgument)
	}
	target, err := mountTarget(m.Target)
	if err != nil {
		return invalid("%v", err)
	}
	switch m.Type {
	case mount.TypeBind:
		sm := specgen.Mount{Type: "bind", Source: m.Source, Target: target, ReadOnly: m.ReadOnly}
		create := false
		if o := m.BindOptions; o != nil {
			switch o.Propagation {
			case "", mount.PropagationPrivate, mount.PropagationRPrivate, mount.PropagationShared,
				mount.PropagationRShared, mount.PropagationSlave, mount.PropagationRSlave:
			default:
				return invalid("invalid propagation mode: %s", o.Propagation)
			}
			sm.Propagation = string(o.Propagation)
			sm.NonRecursive = o.NonRecursive
			create = o.CreateMountpoint
		}
		switch {
		case m.Source == "":
			return invalid("field Source must not be empty")
		case m.VolumeOptions != nil:
			return invalid("field VolumeOptions must not be specified")
		case !path.IsAbs(m.Source):
			return invalid("invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		sm.Source, sm.MakeSource = path.Clean(m.Source), create
		if _, err := os.Stat(m.Source); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return invalid("%v", err)
			}
			if _, lerr := os.Lstat(m.Source); lerr == nil {
				return invalid("bind source path is a dangling symlink: %s", m.Source)
			}
			if !create {
				return invalid("bind source path does not exist: %s", m.Source)
			}
		}
		return sm, nil
	case mount.TypeVolume:
		sm := specgen.Mount{Type: "volume", Source: m.Source, Target: target, ReadOnly: m.ReadOnly}
		if m.BindOptions != nil {
			return invalid("field BindOptions must not be specified")
		}
		if m.ReadOnly && m.Source == "" {
			return invalid("must not set ReadOnly mode when using anonymous volumes")
		}
		if o := m.VolumeOptions; o != nil {
			if o.Subpath != "" {
				return invalid("volume subpaths (volume-subpath) are not supported")
			}
			if d := o.DriverConfig; d != nil {
				if d.Name != "" && d.Name != "local" {
					return invalid("volume driver %q is not supported: berth has only the \"local\" driver", d.Name)
				}
				if len(d.Options) > 0 {
					return invalid("volume driver options (volume-opt) are not supported: create the volume first (docker volume create --opt)")
				}
			}
			sm.NoCopy = o.NoCopy
		}
		if m.Source != "" {
			if err := checkVolumeName(m.Source); err != nil {
				return specgen.Mount{}, err
			}
		}
		return sm, nil
	}
	// tmpfs
	if m.Source != "" {
		return invalid("field Source must not be specified")
	}
	if m.BindOptions != nil {
		return invalid("field BindOptions must not be specified")
	}
	sm := specgen.Mount{Type: "tmpfs", Target: target, ReadOnly: m.ReadOnly}
	if m.TmpfsOptions != nil {
		sm.TmpfsSize = m.TmpfsOptions.SizeBytes
		sm.TmpfsMode = tmpfsMode(m.TmpfsOptions.Mode)
	}
	return sm, nil
}

func engineResources(r *container.Resources) specgen.Resources {
	out := specgen.Resources{
		Memory: r.Memory, MemorySwap: r.MemorySwap, MemoryReservation: r.MemoryReservation,
		MemorySwappiness: r.MemorySwappiness, NanoCPUs: r.NanoCPUs, CPUShares: r.CPUShares,
		CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems,
		PidsLimit: r.PidsLimit, BlkioWeight: r.BlkioWeight,
	}
	if r.OomKillDisable != nil {
		out.OomKillDisable = *r.OomKillDisable
	}
	return out
}

func apiResources(r specgen.Resources, ul []specgen.Ulimit, devs []engine.DeviceMapping, parent string) container.Resources {
	out := container.Resources{
		Memory: r.Memory, MemorySwap: r.MemorySwap, MemoryReservation: r.MemoryReservation,
		MemorySwappiness: r.MemorySwappiness, NanoCPUs: r.NanoCPUs, CPUShares: r.CPUShares,
		CPUPeriod: r.CPUPeriod, CPUQuota: r.CPUQuota, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems,
		PidsLimit: r.PidsLimit, BlkioWeight: r.BlkioWeight, OomKillDisable: &r.OomKillDisable,
		CgroupParent: parent, Devices: []container.DeviceMapping{},
	}
	for _, u := range ul {
		out.Ulimits = append(out.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range devs {
		out.Devices = append(out.Devices, container.DeviceMapping{PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions})
	}
	return out
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// inspectResponse is GET /containers/{id}/json; mountpoint gives a
// volume's directory (see apiMounts).
func inspectResponse(c *engine.Container, execIDs []string, mountpoint func(name string) string) container.InspectResponse {
	hc := &c.HostConfig
	st := &container.State{
		Status: container.ContainerState(c.State.Status), Running: c.State.Running(),
		Paused: c.State.Status == engine.StatusPaused, Restarting: c.State.Status == engine.StatusRestarting,
		OOMKilled: c.State.OOMKilled, Dead: c.State.Status == engine.StatusDead, Pid: c.State.Pid,
		ExitCode: c.State.ExitCode, Error: c.State.Error,
		StartedAt: timeString(c.State.StartedAt), FinishedAt: timeString(c.State.FinishedAt),
	}
	if h := c.State.Health; h != nil {
		st.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
		for _, l := range h.Log {
			st.Health.Log = append(st.Health.Log, &container.HealthcheckResult{Start: l.Start, End: l.End, ExitCode: l.ExitCode, Output: l.Output})
		}
	}
	cfg := &container.Config{
		Hostname: c.Config.Hostname, Domainname: c.Config.Domainname, User: c.Config.User,
		AttachStdin: c.Config.AttachStdin, AttachStdout: c.Config.AttachStdout, AttachStderr: c.Config.AttachStderr,
		Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin, StdinOnce: c.Config.StdinOnce,
		Env: c.Config.Env, Cmd: c.Config.Cmd, Entrypoint: c.Config.Entrypoint, Image: c.Config.Image,
		WorkingDir: c.Config.WorkingDir, Labels: c.Config.Labels, StopSignal: c.Config.StopSignal, StopTimeout: c.Config.StopTimeout,
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	if len(c.Config.ExposedPorts) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		for _, p := range c.Config.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				cfg.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(c.Config.Volumes) > 0 {
		cfg.Volumes = map[string]struct{}{}
		for _, v := range c.Config.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	if h := c.Config.Healthcheck; h != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	ahc := &container.HostConfig{
		NetworkMode:     container.NetworkMode(hc.NetworkMode),
		RestartPolicy:   container.RestartPolicy{Name: container.RestartPolicyMode(orNo(hc.RestartPolicy.Name)), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		AutoRemove:      hc.AutoRemove,
		LogConfig:       container.LogConfig{Type: hc.LogConfig.Type, Config: hc.LogConfig.Config},
		CapAdd:          hc.CapAdd,
		CapDrop:         hc.CapDrop,
		Privileged:      hc.Privileged,
		ReadonlyRootfs:  hc.ReadonlyRootfs,
		SecurityOpt:     hc.SecurityOpt,
		Tmpfs:           hc.Tmpfs,
		ShmSize:         shmSize(hc.ShmSize),
		Sysctls:         hc.Sysctls,
		OomScoreAdj:     hc.OomScoreAdj,
		GroupAdd:        hc.GroupAdd,
		Init:            hc.Init,
		IpcMode:         container.IpcMode(orDefault(hc.IpcMode, "private")),
		PidMode:         container.PidMode(hc.PidMode),
		UTSMode:         container.UTSMode(hc.UTSMode),
		CgroupnsMode:    container.CgroupnsModeHost,
		DNSSearch:       hc.DNSSearch,
		DNSOptions:      hc.DNSOptions,
		ExtraHosts:      hc.ExtraHosts,
		ConsoleSize:     hc.ConsoleSize,
		Resources:       apiResources(hc.Resources, hc.Ulimits, hc.Devices, hc.CgroupParent),
		PortBindings:    apiPortBindings(hc.PortBindings),
		PublishAllPorts: hc.PublishAllPorts,
		Binds:           hc.Binds,
		VolumesFrom:     hc.VolumesFrom,
	}
	if ahc.LogConfig.Config == nil {
		ahc.LogConfig.Config = map[string]string{}
	}
	return container.InspectResponse{
		ID: c.ID, Created: timeString(c.Created), Path: c.Path, Args: nonNil(c.Args), State: st,
		Image: c.ImageID.String(), ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath,
		HostsPath: c.HostsPath, LogPath: c.LogPath, Name: "/" + c.Name, RestartCount: c.RestartCount,
		Driver: "overlay2", Platform: "linux", ExecIDs: execIDs, HostConfig: ahc, Mounts: apiMounts(hc.Mounts, mountpoint),
		Config: cfg, NetworkSettings: networkSettings(c),
	}
}

// apiMounts are a container's mounts as inspect lists them, as Docker
// does: a bind with its propagation (rprivate by default), a volume with
// its name, its directory (mountpoint, nil when unknown) and driver.
func apiMounts(ms []specgen.Mount, mountpoint func(name string) string) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range ms {
		mp := container.MountPoint{Destination: m.Target, RW: !m.ReadOnly, Mode: m.Mode}
		switch m.Type {
		case "volume":
			mp.Type, mp.Name, mp.Driver = mount.TypeVolume, m.Source, "local"
			if mountpoint != nil {
				mp.Source = mountpoint(m.Source)
			}
		case "tmpfs":
			mp.Type = mount.TypeTmpfs
		default:
			mp.Type, mp.Source = mount.TypeBind, m.Source
			mp.Propagation = mount.Propagation(orDefault(m.Propagation, string(mount.PropagationRPrivate)))
		}
		out = append(out, mp)
	}
	return out
}

func shmSize(n int64) int64 {
	if n == 0 {
		return 64 << 20
	}
	return n
}

func orNo(s string) string { return orDefault(s, "no") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// tmpfsMode reads tmpfs-mode: the docker CLI sends the octal number as it
// was typed (1770 is 0o1770, sticky in the Unix bit), a Go client may use
// os.ModeSticky and friends; both mean the same mode.
func tmpfsMode(m os.FileMode) uint32 {
	bits := uint32(m & 0o7777)
	if m&os.ModeSticky != 0 {
		bits |= 0o1000
	}
	if m&os.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&os.ModeSetuid != 0 {
		bits |= 0o4000
	}
	return bits
}

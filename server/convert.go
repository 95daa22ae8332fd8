package server

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/specgen"
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
	case len(hc.VolumesFrom) > 0:
		return bad("--volumes-from is not supported yet")
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

// parseBind parses -v /host:/ctr[:opts]. Named volumes come with volumes.
func parseBind(b string) (specgen.Mount, error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return specgen.Mount{}, fmt.Errorf("invalid volume specification: '%s': %w", b, errdefs.ErrInvalidArgument)
	}
	if !strings.HasPrefix(parts[0], "/") {
		return specgen.Mount{}, fmt.Errorf("invalid volume specification: '%s': named volumes are not supported yet: %w", b, errdefs.ErrInvalidArgument)
	}
	m := specgen.Mount{Type: "bind", Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "z", "Z":
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				m.Propagation = o
			case "nocopy":
			default:
				return specgen.Mount{}, fmt.Errorf("invalid volume specification: '%s': invalid mode: %s: %w", b, o, errdefs.ErrInvalidArgument)
			}
		}
	}
	return m, nil
}

func convertMount(m mount.Mount) (specgen.Mount, error) {
	switch m.Type {
	case mount.TypeBind:
		sm := specgen.Mount{Type: "bind", Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.BindOptions != nil {
			sm.Propagation = string(m.BindOptions.Propagation)
			sm.NonRecursive = m.BindOptions.NonRecursive
		}
		return sm, nil
	case mount.TypeTmpfs:
		sm := specgen.Mount{Type: "tmpfs", Target: m.Target, ReadOnly: m.ReadOnly}
		if m.TmpfsOptions != nil {
			sm.TmpfsSize = m.TmpfsOptions.SizeBytes
			sm.TmpfsMode = uint32(m.TmpfsOptions.Mode.Perm())
		}
		return sm, nil
	}
	return specgen.Mount{}, fmt.Errorf("mount type %q is not supported yet: %w", m.Type, errdefs.ErrInvalidArgument)
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

// inspectResponse is GET /containers/{id}/json.
func inspectResponse(c *engine.Container, execIDs []string) container.InspectResponse {
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
	}
	if ahc.LogConfig.Config == nil {
		ahc.LogConfig.Config = map[string]string{}
	}
	mounts := []container.MountPoint{}
	for _, m := range hc.Mounts {
		t := mount.TypeBind
		if m.Type == "tmpfs" {
			t = mount.TypeTmpfs
		}
		mounts = append(mounts, container.MountPoint{Type: t, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly, Propagation: mount.Propagation(m.Propagation)})
	}
	return container.InspectResponse{
		ID: c.ID, Created: timeString(c.Created), Path: c.Path, Args: nonNil(c.Args), State: st,
		Image: c.ImageID.String(), ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath,
		HostsPath: c.HostsPath, LogPath: c.LogPath, Name: "/" + c.Name, RestartCount: c.RestartCount,
		Driver: "overlay2", Platform: "linux", ExecIDs: execIDs, HostConfig: ahc, Mounts: mounts,
		Config: cfg, NetworkSettings: networkSettings(c),
	}
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

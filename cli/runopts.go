package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// containerOptions are the flags of run and create, as the docker CLI's
// (cli/command/container/opts.go): the same names, defaults and parsing.
type containerOptions struct {
	attach, env, envFile, labels, labelsFile, volumes, tmpfs, expose, publish *listOpts
	devices, links, dns, dnsSearch, dnsOptions, extraHosts, volumesFrom       *listOpts
	capAdd, capDrop, securityOpt, storageOpt, logOpts, aliases, linkLocalIPs  *listOpts
	deviceCgroupRules, groupAdd                                               *listOpts
	sysctls, annotations                                                      *mapOpts
	ulimits                                                                   ulimitOpts
	mounts                                                                    mountOpts
	networks                                                                  networkOpts

	stdin, tty, privileged, publishAll, readonlyRootfs, autoRemove, init bool
	oomKillDisable, noHealthcheck                                        bool

	hostname, domainname, user, workingDir, entrypoint, stopSignal, restartPolicy string
	logDriver, ipcMode, pidMode, utsMode, usernsMode, cgroupnsMode, cgroupParent  string
	volumeDriver, runtime, containerIDFile, macAddress, ipv4, ipv6, healthCmd     string
	cpusetCpus, cpusetMems, isolation                                             string

	memory, memoryReservation, shmSize                                    memBytes
	memorySwap                                                            memSwapBytes
	cpus                                                                  nanoCPUs
	swappiness, cpuShares, cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRuntime int64
	pidsLimit                                                             int64
	blkioWeight                                                           uint16
	oomScoreAdj, stopTimeout, healthRetries                               int
	healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration

	image string
	args  []string
}

func addContainerFlags(fl *pflag.FlagSet) *containerOptions {
	o := &containerOptions{
		attach: newListOpts(validateAttach), env: newListOpts(validateEnv), envFile: newListOpts(nil),
		labels: newListOpts(validateLabel), labelsFile: newListOpts(nil), volumes: newListOpts(nil),
		tmpfs: newListOpts(nil), expose: newListOpts(nil), publish: newListOpts(nil),
		devices: newListOpts(nil), links: newListOpts(validateLink), dns: newListOpts(validateIP),
		dnsSearch: newListOpts(validateDNSSearch), dnsOptions: newListOpts(nil),
		extraHosts: newListOpts(validateExtraHost), volumesFrom: newListOpts(nil),
		capAdd: newListOpts(nil), capDrop: newListOpts(nil), securityOpt: newListOpts(nil),
		storageOpt: newListOpts(nil), logOpts: newListOpts(nil), aliases: newListOpts(nil),
		linkLocalIPs: newListOpts(nil), deviceCgroupRules: newListOpts(nil), groupAdd: newListOpts(nil),
		sysctls: &mapOpts{validate: validateSysctl}, annotations: &mapOpts{},
	}
	fl.SetInterspersed(false)
	// General
	fl.VarP(o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	fl.Var(o.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	fl.Var(o.devices, "device", "Add a host device to the container")
	fl.VarP(o.env, "env", "e", "Set environment variables")
	fl.Var(o.envFile, "env-file", "Read in a file of environment variables")
	fl.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fl.Var(o.groupAdd, "group-add", "Add additional groups to join")
	fl.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fl.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	fl.BoolVarP(&o.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.VarP(o.labels, "label", "l", "Set meta data on a container")
	fl.Var(o.labelsFile, "label-file", "Read in a line delimited file of labels")
	fl.BoolVar(&o.readonlyRootfs, "read-only", false, "Mount the container's root filesystem as read only")
	fl.StringVar(&o.restartPolicy, "restart", "no", "Restart policy to apply when a container exits")
	fl.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fl.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fl.Var(o.sysctls, "sysctl", "Sysctl options")
	fl.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.Var(&o.ulimits, "ulimit", "Ulimit options")
	fl.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fl.StringVarP(&o.workingDir, "workdir", "w", "", "Working directory inside the container")
	fl.BoolVar(&o.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	// Security
	fl.Var(o.capAdd, "cap-add", "Add Linux capabilities")
	fl.Var(o.capDrop, "cap-drop", "Drop Linux capabilities")
	fl.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fl.Var(o.securityOpt, "security-opt", "Security Options")
	fl.StringVar(&o.usernsMode, "userns", "", "User namespace to use")
	// Network and ports
	fl.Var(o.extraHosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	fl.Var(o.dns, "dns", "Set custom DNS servers")
	fl.Var(o.dnsOptions, "dns-option", "Set DNS options")
	fl.Var(o.dnsOptions, "dns-opt", "Set DNS options")
	_ = fl.MarkHidden("dns-opt")
	fl.Var(o.dnsSearch, "dns-search", "Set custom DNS search domains")
	fl.Var(o.expose, "expose", "Expose a port or a range of ports")
	fl.StringVar(&o.ipv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fl.StringVar(&o.ipv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fl.Var(o.links, "link", "Add link to another container")
	fl.Var(o.linkLocalIPs, "link-local-ip", "Container IPv4/IPv6 link-local addresses")
	fl.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fl.VarP(o.publish, "publish", "p", "Publish a container's port(s) to the host")
	fl.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fl.Var(&o.networks, "net", "Connect a container to a network")
	fl.Var(&o.networks, "network", "Connect a container to a network")
	_ = fl.MarkHidden("net")
	fl.Var(o.aliases, "net-alias", "Add network-scoped alias for the container")
	fl.Var(o.aliases, "network-alias", "Add network-scoped alias for the container")
	_ = fl.MarkHidden("net-alias")
	// Logging and storage
	fl.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	fl.Var(o.logOpts, "log-opt", "Log driver options")
	fl.Var(o.storageOpt, "storage-opt", "Storage driver options for the container")
	fl.Var(o.tmpfs, "tmpfs", "Mount a tmpfs directory")
	fl.Var(o.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	fl.VarP(o.volumes, "volume", "v", "Bind mount a volume")
	fl.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	fl.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	// Health
	fl.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	fl.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fl.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fl.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.DurationVar(&o.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	// Resources
	fl.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fl.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	fl.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	fl.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Var(&o.cpus, "cpus", "Number of CPUs")
	fl.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fl.VarP(&o.memory, "memory", "m", "Memory limit")
	fl.Var(&o.memoryReservation, "memory-reservation", "Memory soft limit")
	fl.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fl.Int64Var(&o.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fl.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fl.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fl.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	// Low-level execution
	fl.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fl.StringVar(&o.cgroupnsMode, "cgroupns", "", "Cgroup namespace to use (host|private)")
	fl.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	fl.StringVar(&o.isolation, "isolation", "", "Container isolation technology")
	fl.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	fl.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	fl.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")
	fl.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	fl.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fl.Var(o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	fl.StringVar(&o.containerIDFile, "cidfile", "", "Write the container ID to the file")
	return o
}

// containerConfig is the body of POST /containers/create.
type containerConfig struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// parse turns the flags into the create request, as the docker CLI's
// parse(): the same defaults (empty lists, not null, where docker sends
// them) so the daemon sees the same request.
func (o *containerOptions) parse(fl *pflag.FlagSet) (*containerConfig, error) {
	attachStdin, attachStdout, attachStderr := false, false, false
	for _, a := range o.attach.values {
		switch a {
		case "stdin":
			attachStdin = true
		case "stdout":
			attachStdout = true
		case "stderr":
			attachStderr = true
		}
	}
	if o.stdin {
		attachStdin = true
	}
	if len(o.attach.values) == 0 {
		attachStdout, attachStderr = true, true
	}
	if o.swappiness != -1 && (o.swappiness < 0 || o.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.swappiness)
	}

	volumes := map[string]struct{}{}
	var binds []string
	for _, spec := range o.volumes.values {
		v, err := parseVolumeSpec(spec)
		if err != nil {
			return nil, err
		}
		if v.source == "" {
			volumes[spec] = struct{}{}
			continue
		}
		bind := spec
		if v.typ == mount.TypeBind {
			if host, target, ok := strings.Cut(spec, ":"); ok {
				if !filepath.IsAbs(host) && strings.HasPrefix(host, ".") {
					if abs, err := filepath.Abs(host); err == nil {
						host = abs
					}
				}
				bind = host + ":" + target
			}
		}
		binds = append(binds, bind)
	}
	// A spec given twice, once with a source, is a bind only.
	for _, spec := range o.volumes.values {
		if v, _ := parseVolumeSpec(spec); v.source != "" {
			delete(volumes, spec)
		}
	}

	tmpfs := map[string]string{}
	for _, t := range o.tmpfs.values {
		k, v, _ := strings.Cut(t, ":")
		tmpfs[k] = v
	}

	var cmd, entrypoint []string
	if len(o.args) > 0 {
		cmd = o.args
	}
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if fl.Changed("entrypoint") {
		entrypoint = []string{""}
	}

	publish, err := convertPublishLong(o.publish.values)
	if err != nil {
		return nil, err
	}
	ports, bindings, err := parsePortSpecs(publish)
	if err != nil {
		return nil, err
	}
	for _, e := range o.expose.values {
		if strings.Contains(e, ":") {
			return nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := splitProtoPort(e)
		start, end, err := parsePortRange(port)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for i := start; i <= end; i++ {
			p, ok := network.PortFrom(uint16(i), network.IPProtocol(strings.ToLower(proto)))
			if !ok {
				return nil, fmt.Errorf("invalid port: %s", e)
			}
			ports[p] = struct{}{}
		}
	}

	devices := []container.DeviceMapping{}
	for _, d := range o.devices.values {
		if err := validateDevicePath(d); err != nil {
			return nil, err
		}
		dm, err := parseLinuxDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, dm)
	}

	env, err := readKVStrings(o.envFile.values, o.env.values, true)
	if err != nil {
		return nil, err
	}
	labels, err := readKVStrings(o.labelsFile.values, o.labels.values, false)
	if err != nil {
		return nil, err
	}

	if !validNamespaceMode(o.pidMode, true) {
		return nil, errors.New("--pid: invalid PID mode")
	}
	if !validNamespaceMode(o.utsMode, false) {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	if !validNamespaceMode(o.usernsMode, false) {
		return nil, errors.New("--userns: invalid USER mode")
	}
	if o.cgroupnsMode != "" && o.cgroupnsMode != "host" && o.cgroupnsMode != "private" {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}
	restart, err := parseRestartPolicy(o.restartPolicy)
	if err != nil {
		return nil, err
	}
	logOpts := kvMap(o.logOpts.values)
	if o.logDriver == "none" && len(o.logOpts.values) > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", o.logDriver)
	}
	securityOpts, err := parseSecurityOpts(o.securityOpt.values)
	if err != nil {
		return nil, err
	}
	var maskedPaths, readonlyPaths []string
	for i := 0; i < len(securityOpts); i++ {
		if securityOpts[i] == "systempaths=unconfined" {
			maskedPaths, readonlyPaths = []string{}, []string{}
			securityOpts = append(securityOpts[:i:i], securityOpts[i+1:]...)
			i--
		}
	}
	var storageOpts map[string]string
	for _, s := range o.storageOpt.values {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		if storageOpts == nil {
			storageOpts = map[string]string{}
		}
		storageOpts[k] = v
	}

	health, err := o.healthConfig()
	if err != nil {
		return nil, err
	}

	ulimits := o.ulimits.list()
	swappiness, oomKillDisable, pidsLimit := o.swappiness, o.oomKillDisable, o.pidsLimit
	resources := container.Resources{
		CgroupParent:         o.cgroupParent,
		Memory:               int64(o.memory),
		MemoryReservation:    int64(o.memoryReservation),
		MemorySwap:           int64(o.memorySwap),
		MemorySwappiness:     &swappiness,
		OomKillDisable:       &oomKillDisable,
		NanoCPUs:             int64(o.cpus),
		CPUShares:            o.cpuShares,
		CPUPeriod:            o.cpuPeriod,
		CpusetCpus:           o.cpusetCpus,
		CpusetMems:           o.cpusetMems,
		CPUQuota:             o.cpuQuota,
		CPURealtimePeriod:    o.cpuRtPeriod,
		CPURealtimeRuntime:   o.cpuRtRuntime,
		PidsLimit:            &pidsLimit,
		BlkioWeight:          o.blkioWeight,
		BlkioWeightDevice:    []*blkiodev.WeightDevice{},
		Ulimits:              ulimits,
		DeviceCgroupRules:    o.deviceCgroupRules.values,
		Devices:              devices,
		BlkioDeviceReadBps:   []*blkiodev.ThrottleDevice{},
		BlkioDeviceWriteBps:  []*blkiodev.ThrottleDevice{},
		BlkioDeviceReadIOps:  []*blkiodev.ThrottleDevice{},
		BlkioDeviceWriteIOps: []*blkiodev.ThrottleDevice{},
	}
	config := &container.Config{
		Hostname:     o.hostname,
		Domainname:   o.domainname,
		ExposedPorts: ports,
		User:         o.user,
		Tty:          o.tty,
		OpenStdin:    o.stdin,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          env,
		Cmd:          cmd,
		Image:        o.image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   o.workingDir,
		Labels:       kvMap(labels),
		StopSignal:   o.stopSignal,
		Healthcheck:  health,
	}
	if fl.Changed("stop-timeout") {
		t := o.stopTimeout
		config.StopTimeout = &t
	}
	dns, err := parseAddrs(o.dns.orEmpty())
	if err != nil {
		return nil, err
	}
	hc := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: o.containerIDFile,
		OomScoreAdj:     o.oomScoreAdj,
		AutoRemove:      o.autoRemove,
		Privileged:      o.privileged,
		PortBindings:    bindings,
		Links:           o.links.values,
		PublishAllPorts: o.publishAll,
		DNS:             dns,
		DNSSearch:       o.dnsSearch.orEmpty(),
		DNSOptions:      o.dnsOptions.orEmpty(),
		ExtraHosts:      o.extraHosts.values,
		VolumesFrom:     o.volumesFrom.values,
		IpcMode:         container.IpcMode(o.ipcMode),
		NetworkMode:     container.NetworkMode(o.networks.mode()),
		PidMode:         container.PidMode(o.pidMode),
		UTSMode:         container.UTSMode(o.utsMode),
		UsernsMode:      container.UsernsMode(o.usernsMode),
		CgroupnsMode:    container.CgroupnsMode(o.cgroupnsMode),
		CapAdd:          normalizeCaps(o.capAdd.values),
		CapDrop:         normalizeCaps(o.capDrop.values),
		GroupAdd:        o.groupAdd.values,
		RestartPolicy:   restart,
		SecurityOpt:     securityOpts,
		StorageOpt:      storageOpts,
		ReadonlyRootfs:  o.readonlyRootfs,
		LogConfig:       container.LogConfig{Type: o.logDriver, Config: logOpts},
		VolumeDriver:    o.volumeDriver,
		Isolation:       container.Isolation(o.isolation),
		ShmSize:         int64(o.shmSize),
		Resources:       resources,
		Tmpfs:           tmpfs,
		Sysctls:         o.sysctls.all(),
		Runtime:         o.runtime,
		Mounts:          o.mounts.values,
		MaskedPaths:     maskedPaths,
		ReadonlyPaths:   readonlyPaths,
		Annotations:     o.annotations.all(),
	}
	if o.autoRemove && restart.Name != "" && restart.Name != container.RestartPolicyDisabled {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if fl.Changed("init") {
		init := o.init
		hc.Init = &init
	}
	if config.OpenStdin && config.AttachStdin {
		config.StdinOnce = true
	}
	endpoints, err := o.endpoints()
	if err != nil {
		return nil, err
	}
	return &containerConfig{Config: config, HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints}}, nil
}

func (o *containerOptions) healthConfig() (*container.HealthConfig, error) {
	have := o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 ||
		o.healthStartPeriod != 0 || o.healthRetries != 0 || o.healthStartInterval != 0
	if o.noHealthcheck {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	var probe []string
	if o.healthCmd != "" {
		probe = []string{"CMD-SHELL", o.healthCmd}
	}
	switch {
	case o.healthInterval < 0:
		return nil, errors.New("--health-interval cannot be negative")
	case o.healthTimeout < 0:
		return nil, errors.New("--health-timeout cannot be negative")
	case o.healthRetries < 0:
		return nil, errors.New("--health-retries cannot be negative")
	case o.healthStartPeriod < 0:
		return nil, errors.New("--health-start-period cannot be negative")
	case o.healthStartInterval < 0:
		return nil, errors.New("--health-start-interval cannot be negative")
	}
	return &container.HealthConfig{Test: probe, Interval: o.healthInterval, Timeout: o.healthTimeout,
		StartPeriod: o.healthStartPeriod, StartInterval: o.healthStartInterval, Retries: o.healthRetries}, nil
}

// endpoints is the NetworkingConfig as the docker CLI's parseNetworkOpts.
func (o *containerOptions) endpoints() (map[string]*network.EndpointSettings, error) {
	eps := map[string]*network.EndpointSettings{}
	nets := o.networks.values
	if len(nets) == 0 {
		n := networkAttach{Target: "default"}
		if err := o.applyToNetwork(&n); err != nil {
			return nil, err
		}
		ep, err := endpointSettings(n)
		if err != nil {
			return nil, err
		}
		eps["default"] = ep
	}
	var userDefined, builtin bool
	for i, n := range nets {
		if isUserDefinedNetwork(n.Target) {
			userDefined = true
		} else {
			builtin = true
		}
		if i == 0 {
			if err := o.applyToNetwork(&n); err != nil {
				return nil, err
			}
		}
		ep, err := endpointSettings(n)
		if err != nil {
			return nil, err
		}
		if _, ok := eps[n.Target]; ok {
			return nil, fmt.Errorf("network %q is specified multiple times", n.Target)
		}
		if i == 0 && len(nets) == 1 && isZeroEndpoint(ep) {
			continue
		}
		eps[n.Target] = ep
	}
	if userDefined && builtin {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return eps, nil
}

func isZeroEndpoint(ep *network.EndpointSettings) bool {
	return ep.IPAMConfig == nil && ep.Links == nil && ep.Aliases == nil && ep.DriverOpts == nil &&
		ep.GwPriority == 0 && len(ep.MacAddress) == 0 && ep.DNSNames == nil
}

func (o *containerOptions) applyToNetwork(n *networkAttach) error {
	if len(n.Aliases) > 0 && len(o.aliases.values) > 0 {
		return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
	}
	if len(n.Links) > 0 && len(o.links.values) > 0 {
		return errors.New("conflicting options: cannot specify both --link and per-network links")
	}
	if n.IPv4 != "" && o.ipv4 != "" {
		return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
	}
	if n.IPv6 != "" && o.ipv6 != "" {
		return errors.New("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
	}
	if n.MacAddress != "" && o.macAddress != "" {
		return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
	}
	if len(n.LinkLocalIPs) > 0 && len(o.linkLocalIPs.values) > 0 {
		return errors.New("conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses")
	}
	if len(o.aliases.values) > 0 {
		n.Aliases = append([]string(nil), o.aliases.values...)
	}
	if isUserDefinedNetwork(n.Target) && len(o.links.values) > 0 {
		n.Links = append([]string(nil), o.links.values...)
	}
	if o.ipv4 != "" {
		n.IPv4 = o.ipv4
	}
	if o.ipv6 != "" {
		n.IPv6 = o.ipv6
	}
	if o.macAddress != "" {
		n.MacAddress = o.macAddress
	}
	if len(o.linkLocalIPs.values) > 0 {
		n.LinkLocalIPs = append([]string(nil), o.linkLocalIPs.values...)
	}
	return nil
}

func isUserDefinedNetwork(n string) bool {
	switch n {
	case "default", "bridge", "host", "none":
		return false
	}
	return !strings.HasPrefix(n, "container:")
}

func endpointSettings(n networkAttach) (*network.EndpointSettings, error) {
	if strings.TrimSpace(n.Target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !isUserDefinedNetwork(n.Target) {
		if len(n.Aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(n.Links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	ep := &network.EndpointSettings{GwPriority: n.GwPriority}
	ep.Aliases = append(ep.Aliases, n.Aliases...)
	if len(n.DriverOpts) > 0 {
		ep.DriverOpts = n.DriverOpts
	}
	if len(n.Links) > 0 {
		ep.Links = n.Links
	}
	if n.IPv4 != "" || n.IPv6 != "" || len(n.LinkLocalIPs) > 0 {
		ipam := &network.EndpointIPAMConfig{}
		var err error
		if n.IPv4 != "" {
			if ipam.IPv4Address, err = parseAddr(n.IPv4); err != nil {
				return nil, err
			}
		}
		if n.IPv6 != "" {
			if ipam.IPv6Address, err = parseAddr(n.IPv6); err != nil {
				return nil, err
			}
		}
		if ipam.LinkLocalIPs, err = parseAddrs(n.LinkLocalIPs); err != nil {
			return nil, err
		}
		ep.IPAMConfig = ipam
	}
	if n.MacAddress != "" {
		hw, err := net.ParseMAC(n.MacAddress)
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", n.MacAddress)
		}
		ep.MacAddress = network.HardwareAddr(hw)
	}
	return ep, nil
}

// validNamespaceMode accepts "", "host" and "container:<name>".
func validNamespaceMode(m string, allowContainer bool) bool {
	if m == "" || m == "host" || m == "private" {
		return true
	}
	if name, ok := strings.CutPrefix(m, "container:"); ok && allowContainer {
		return name != ""
	}
	return false
}

// parseRestartPolicy is the docker CLI's opts.ParseRestartPolicy: the name
// is not checked here (the daemon does).
func parseRestartPolicy(policy string) (container.RestartPolicy, error) {
	if policy == "" {
		return container.RestartPolicy{}, nil
	}
	var p container.RestartPolicy
	k, v, ok := strings.Cut(policy, ":")
	if ok && k == "" {
		return p, errors.New("invalid restart policy format: no policy provided before colon")
	}
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	p.Name = container.RestartPolicyMode(k)
	return p, nil
}

func parseSecurityOpts(opts []string) ([]string, error) {
	out := append([]string(nil), opts...)
	for i, opt := range out {
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return nil, fmt.Errorf("Invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "builtin" && v != "unconfined" {
			f, err := os.ReadFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %v", v, err)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, f); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %v", v, err)
			}
			out[i] = "seccomp=" + b.String()
		}
	}
	return out, nil
}

func validDeviceMode(mode string) bool {
	if mode == "" || len(mode) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if c != 'r' && c != 'w' && c != 'm' || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

func validateDevicePath(val string) error {
	if strings.Count(val, ":") > 2 {
		return fmt.Errorf("bad format for path: %s", val)
	}
	split := strings.SplitN(val, ":", 3)
	if split[0] == "" {
		return fmt.Errorf("bad format for path: %s", val)
	}
	containerPath := split[0]
	switch len(split) {
	case 2:
		if !validDeviceMode(split[1]) {
			containerPath = split[1]
		}
	case 3:
		containerPath = split[1]
		if !validDeviceMode(split[2]) {
			return fmt.Errorf("bad mode specified: %s", split[2])
		}
	}
	if !path.IsAbs(containerPath) {
		return fmt.Errorf("%s is not an absolute path", containerPath)
	}
	return nil
}

func parseLinuxDevice(device string) (container.DeviceMapping, error) {
	var src, dst string
	perms := "rwm"
	arr := strings.SplitN(device, ":", 4)
	switch len(arr) {
	case 3:
		perms = arr[2]
		fallthrough
	case 2:
		if validDeviceMode(arr[1]) {
			perms = arr[1]
		} else {
			dst = arr[1]
		}
		fallthrough
	case 1:
		src = arr[0]
	default:
		return container.DeviceMapping{}, fmt.Errorf("invalid device specification: %s", device)
	}
	if dst == "" {
		dst = src
	}
	return container.DeviceMapping{PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms}, nil
}

type volumeSpec struct {
	source, target string
	typ            mount.Type
}

// parseVolumeSpec splits a -v value as the compose loader the docker CLI
// uses (SOURCE:TARGET[:OPTIONS] or TARGET); a source that looks like a path
// makes a bind.
func parseVolumeSpec(spec string) (volumeSpec, error) {
	var v volumeSpec
	switch len(spec) {
	case 0:
		return v, errors.New("invalid empty volume spec")
	case 1, 2:
		v.target, v.typ = spec, mount.TypeVolume
		return v, nil
	}
	parts := strings.Split(spec, ":")
	for i, p := range parts {
		last := i == len(parts)-1
		switch {
		case p == "":
			return v, fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		case v.source == "" && last && i == 0:
			v.target = p
		case v.source == "":
			v.source = p
		case v.target == "":
			v.target = p
		case !last:
			return v, fmt.Errorf("invalid spec: %s: too many colons", spec)
		}
	}
	v.typ = mount.TypeVolume
	if s := v.source; s != "" && (s == "." || s == ".." || s[0] == '.' || s[0] == '/' || s[0] == '~') {
		v.typ = mount.TypeBind
	}
	return v, nil
}

// normalizeCaps is the docker CLI's: upper case, "CAP_" prefixed (but
// "ALL"), deduplicated and sorted; "ALL" alone if present.
func normalizeCaps(caps []string) []string {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if c == "ALL" {
			return []string{"ALL"}
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

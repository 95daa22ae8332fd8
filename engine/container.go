package engine

import (
	"encoding/json"
	"path/filepath"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/shim"
	"github.com/berth-dev/berth/specgen"
)

// Container statuses, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusRemoving   = "removing"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// Config is what a container runs, as the user (and the image) asked.
type Config struct {
	Hostname     string            `json:"hostname"`
	Domainname   string            `json:"domainname,omitempty"`
	User         string            `json:"user,omitempty"`
	AttachStdin  bool              `json:"attachStdin,omitempty"`
	AttachStdout bool              `json:"attachStdout,omitempty"`
	AttachStderr bool              `json:"attachStderr,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"` // "80/tcp"
	Tty          bool              `json:"tty,omitempty"`
	OpenStdin    bool              `json:"openStdin,omitempty"`
	StdinOnce    bool              `json:"stdinOnce,omitempty"`
	Env          []string          `json:"env,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Healthcheck  *Healthcheck      `json:"healthcheck,omitempty"`
	Image        string            `json:"image"`
	Volumes      []string          `json:"volumes,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
	StopTimeout  *int              `json:"stopTimeout,omitempty"`
}

// Healthcheck is HEALTHCHECK / --health-*: Test is ["NONE"], ["CMD", ...] or
// ["CMD-SHELL", "..."]; zero durations are Docker's defaults.
type Healthcheck struct {
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	StartPeriod   time.Duration `json:"startPeriod,omitempty"`
	StartInterval time.Duration `json:"startInterval,omitempty"`
	Retries       int           `json:"retries,omitempty"`
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name              string `json:"name"` // "", "no", "always", "unless-stopped", "on-failure"
	MaximumRetryCount int    `json:"maximumRetryCount,omitempty"`
}

// LogConfig is --log-driver and --log-opt.
type LogConfig struct {
	Type   string            `json:"type"`
	Config map[string]string `json:"config,omitempty"`
}

// DeviceMapping is one --device.
type DeviceMapping struct {
	PathOnHost        string `json:"pathOnHost"`
	PathInContainer   string `json:"pathInContainer"`
	CgroupPermissions string `json:"cgroupPermissions"`
}

// HostConfig is how the host runs the container.
type HostConfig struct {
	NetworkMode    string            `json:"networkMode"`
	RestartPolicy  RestartPolicy     `json:"restartPolicy"`
	AutoRemove     bool              `json:"autoRemove,omitempty"`
	LogConfig      LogConfig         `json:"logConfig"`
	CapAdd         []string          `json:"capAdd,omitempty"`
	CapDrop        []string          `json:"capDrop,omitempty"`
	Privileged     bool              `json:"privileged,omitempty"`
	ReadonlyRootfs bool              `json:"readonlyRootfs,omitempty"`
	SecurityOpt    []string          `json:"securityOpt,omitempty"`
	Tmpfs          map[string]string `json:"tmpfs,omitempty"`
	ShmSize        int64             `json:"shmSize,omitempty"`
	Sysctls        map[string]string `json:"sysctls,omitempty"`
	OomScoreAdj    int               `json:"oomScoreAdj,omitempty"`
	Devices        []DeviceMapping   `json:"devices,omitempty"`
	GroupAdd       []string          `json:"groupAdd,omitempty"`
	Init           *bool             `json:"init,omitempty"`
	IpcMode        string            `json:"ipcMode,omitempty"`
	PidMode        string            `json:"pidMode,omitempty"`
	UTSMode        string            `json:"utsMode,omitempty"`
	CgroupParent   string            `json:"cgroupParent,omitempty"`
	Resources      specgen.Resources `json:"resources"`
	Ulimits        []specgen.Ulimit  `json:"ulimits,omitempty"`
	DNS            []string          `json:"dns,omitempty"`
	DNSSearch      []string          `json:"dnsSearch,omitempty"`
	DNSOptions     []string          `json:"dnsOptions,omitempty"`
	ExtraHosts     []string          `json:"extraHosts,omitempty"`
	Mounts         []specgen.Mount   `json:"mounts,omitempty"`
	ConsoleSize    [2]uint           `json:"consoleSize,omitempty"` // height, width
	// PortBindings is -p: "80/tcp" (or "80-82/tcp") to its host sides.
	PortBindings    map[string][]PortBinding `json:"portBindings,omitempty"`
	PublishAllPorts bool                     `json:"publishAllPorts,omitempty"` // -P
	// Binds are the -v options as given (Mounts holds them parsed);
	// VolumesFrom is --volumes-from, whose mounts create copies into
	// Mounts.
	Binds       []string `json:"binds,omitempty"`
	VolumesFrom []string `json:"volumesFrom,omitempty"`
}

// PortBinding is the host side of one -p: HostPort "" picks a free port,
// "8000-8010" the first free one of a range.
type PortBinding struct {
	HostIP   string `json:"hostIP,omitempty"`
	HostPort string `json:"hostPort,omitempty"`
}

// EndpointSettings is a container's membership of a network: what was
// asked (aliases, --ip) and, while it runs, what it got.
type EndpointSettings struct {
	NetworkID   string   `json:"networkID"`
	Aliases     []string `json:"aliases,omitempty"`
	IPv4Address string   `json:"ipv4Address,omitempty"` // --ip
	IPv6Address string   `json:"ipv6Address,omitempty"` // --ip6
	// Set while the container runs.
	EndpointID          string `json:"endpointID,omitempty"`
	Gateway             string `json:"gateway,omitempty"`
	IPAddress           string `json:"ipAddress,omitempty"`
	IPPrefixLen         int    `json:"ipPrefixLen,omitempty"`
	IPv6Gateway         string `json:"ipv6Gateway,omitempty"`
	GlobalIPv6Address   string `json:"globalIPv6Address,omitempty"`
	GlobalIPv6PrefixLen int    `json:"globalIPv6PrefixLen,omitempty"`
	MacAddress          string `json:"macAddress,omitempty"`
}

// PublishedPort is a port published while the container runs.
type PublishedPort struct {
	Proto         string `json:"proto"`
	HostIP        string `json:"hostIP"`
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
}

// Health is a container's health state.
type Health struct {
	Status        string      `json:"status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"failingStreak"`
	Log           []HealthLog `json:"log,omitempty"`
}

// HealthLog is one probe's result.
type HealthLog struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exitCode"`
	Output   string    `json:"output"`
}

// State is where a container is in its life.
type State struct {
	Status     string    `json:"status"`
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error,omitempty"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	Health     *Health   `json:"health,omitempty"`
	// StoppedByUser is set by stop/kill and cleared by start: restart
	// policies leave such a container alone.
	StoppedByUser bool `json:"stoppedByUser,omitempty"`
}

// Running reports whether the container has a live process (running or
// paused).
func (s *State) Running() bool {
	return s.Status == StatusRunning || s.Status == StatusPaused
}

// Container is one container: what was asked, and its state.
type Container struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"` // without the leading "/"
	Created      time.Time     `json:"created"`
	ImageID      digest.Digest `json:"imageID"`
	Path         string        `json:"path"`
	Args         []string      `json:"args"`
	Config       Config        `json:"config"`
	HostConfig   HostConfig    `json:"hostConfig"`
	State        State         `json:"state"`
	RestartCount int           `json:"restartCount"`
	LogPath      string        `json:"logPath,omitempty"`
	// Files berth writes for the container.
	HostnamePath   string `json:"hostnamePath"`
	HostsPath      string `json:"hostsPath"`
	ResolvConfPath string `json:"resolvConfPath"`
	// Networks are the networks the container joins (bridge modes), by
	// name; Ports are its published ports while it runs.
	Networks map[string]*EndpointSettings `json:"networks,omitempty"`
	Ports    []PublishedPort              `json:"ports,omitempty"`
}

// ctr is the engine's live record of a container.
type ctr struct {
	mu sync.Mutex // guards c and the fields below
	c  Container

	shim     *shim.Client
	exited   chan struct{} // closed when the current run ends (nil when not running)
	waiters  []chan struct{}
	attaches []*pendingAttach // made before start: connected at start
	busy     bool             // a lifecycle operation holds the container
	removed  chan struct{}
	health   *healthMonitor
}

// snapshot returns a deep-enough copy of the record for callers.
func (x *ctr) snapshot() *Container {
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.c
	if c.State.Health != nil {
		h := *c.State.Health
		h.Log = append([]HealthLog(nil), h.Log...)
		c.State.Health = &h
	}
	c.Networks = copyNetworks(c.Networks)
	c.Ports = append([]PublishedPort(nil), c.Ports...)
	return &c
}

func copyNetworks(in map[string]*EndpointSettings) map[string]*EndpointSettings {
	if in == nil {
		return nil
	}
	out := make(map[string]*EndpointSettings, len(in))
	for k, v := range in {
		ep := *v
		ep.Aliases = append([]string(nil), v.Aliases...)
		out[k] = &ep
	}
	return out
}

const containerFile = "container.json"

// save writes the record atomically. x.mu is held.
func (e *Engine) save(x *ctr) error {
	b, err := json.MarshalIndent(&x.c, "", "\t")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(e.containerDir(x.c.ID), containerFile), b, 0o600)
}

// saveSoon writes the record at once and makes it durable in the
// background (1-2 ms of fsync off a start's path). For changes that a
// crash makes moot: a start (after a host crash nothing runs, and after a
// daemon crash the shims say what runs) and the exit of a container about
// to be removed.
func (e *Engine) saveSoon(x *ctr) error {
	b, err := json.MarshalIndent(&x.c, "", "\t")
	if err != nil {
		return err
	}
	path := filepath.Join(e.containerDir(x.c.ID), containerFile)
	if err := atomicfile.Replace(path, b, 0o600); err != nil {
		return err
	}
	go func() { _ = atomicfile.Sync(path) }()
	return nil
}

func (e *Engine) containerDir(id string) string { return filepath.Join(e.root, "containers", id) }
func (e *Engine) stateDir(id string) string     { return filepath.Join(e.execRoot, "containers", id) }

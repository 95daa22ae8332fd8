// Package specgen turns what a user asked for (docker run's flags, already
// parsed) and what the image says into an OCI runtime spec. It is pure: no
// I/O, no clock, no randomness; everything it needs is in Options. All of
// Docker's defaults (capabilities, the seccomp profile, masked and read-only
// paths, /dev, /dev/shm's size) live here, and --privileged lifts them as
// Docker does. It imports only errdefs and the runtime-spec types (the
// runtime reads what it writes, it never calls the runtime).
package specgen

// Options is one container's configuration as far as its runtime spec goes.
// The engine fills it from the API request and the image config, resolves
// names that need the container's files (users, groups), and prepares the
// paths (rootfs, hosts files, network namespace).
type Options struct {
	ID string // container id (used for the cgroup path)

	// The process. Args is the final argv (entrypoint + cmd, already
	// merged by the engine); Env the final environment (image's, then the
	// user's; the engine adds PATH, HOSTNAME and HOME defaults).
	Args []string
	Env  []string
	Cwd  string // "" is "/"
	// User, resolved to numbers by the engine from the image's /etc/passwd
	// and /etc/group (numeric ids pass through).
	UID, GID       uint32
	AdditionalGIDs []uint32
	Terminal       bool
	ConsoleWidth   uint // initial pty size; 0 leaves it to the runtime
	ConsoleHeight  uint

	Hostname   string
	Domainname string

	// Rootfs is the container's root directory (mounted overlay), absolute.
	Rootfs   string
	ReadOnly bool // --read-only

	// Security.
	Privileged  bool
	CapAdd      []string // "NET_ADMIN", "CAP_NET_ADMIN" or "ALL"
	CapDrop     []string
	NoNewPrivs  bool   // --security-opt no-new-privileges[=true]
	Seccomp     string // "" Docker's default profile, "unconfined", or a profile's JSON text (Docker's format)
	OomScoreAdj int
	Sysctls     map[string]string
	GroupAdd    []uint32 // --group-add, resolved

	// Mounts, in the order given; the engine has resolved volume names to
	// host directories and checked the sources exist.
	Mounts []Mount
	// Tmpfs is --tmpfs: target -> options ("size=64m,mode=1777", may be "").
	Tmpfs map[string]string
	// ShmSize in bytes; 0 is Docker's 64 MiB.
	ShmSize int64
	// Files the engine wrote for the container, bind-mounted over
	// /etc/hosts, /etc/resolv.conf and /etc/hostname (each "" for none).
	HostsPath, ResolvConfPath, HostnamePath string

	Devices []Device // --device

	// Init, when set, is the host path of berth's init (a static binary); it
	// is bind-mounted read-only at /sbin/docker-init and runs as pid 1 with
	// Args after "--".
	Init string

	// Network: "none" (a new, empty network namespace), "host" (no network
	// namespace), or the path of a namespace to join (/proc/PID/ns/net or
	// a bind-mounted one).
	Network string
	// IPC: "" or "private" (new), "host"; PID: "" (new) or "host"; UTS: ""
	// (new) or "host".
	IPC, PID, UTS string
	// CgroupNS is --cgroupns: "private" (a new cgroup namespace, Docker's
	// default on cgroup v2 hosts) or "host" (none, Docker's default on
	// cgroup v1); "" is "host". The engine picks the default for the host.
	CgroupNS string

	// KernelVersion is the host kernel's release ("6.1.0-13-amd64"), which
	// decides the seccomp rules that carry a minKernel (Docker's default
	// profile allows ptrace without CAP_SYS_PTRACE from 4.8 on). "" leaves
	// such rules out of "includes" and ignores them in "excludes".
	KernelVersion string

	Resources Resources
	Ulimits   []Ulimit

	// CgroupParent is --cgroup-parent; "" puts the container under /berth.
	CgroupParent string

	// Labels become OCI annotations.
	Labels map[string]string
}

// Mount is a bind, volume (a bind of the volume's directory) or tmpfs mount.
type Mount struct {
	Type         string   // "bind" or "tmpfs" ("volume" before the engine resolves it)
	Source       string   // host path for binds
	Target       string   // absolute path in the container
	ReadOnly     bool     //
	Propagation  string   // "", "private", "rprivate", "shared", "rshared", "slave", "rslave"
	NonRecursive bool     // bind without rbind
	TmpfsSize    int64    // bytes, 0 for the kernel's default
	TmpfsMode    uint32   // 0 for 1777
	Options      []string // extra mount options (e.g. "nosuid")
	// NoCopy is volume-nocopy. Type "volume" mounts (Source: the volume's
	// name, "" for a new anonymous one) are the engine's: it turns them
	// into binds of the volume's directory before Generate.
	NoCopy bool `json:",omitempty"`
	// MakeSource makes a bind's missing source directory at start (-v
	// does, and --mount with bind-create-mountpoint), as Docker does.
	MakeSource bool `json:",omitempty"`
	// Mode is -v's options as given ("ro,z"; "z" for a volume without
	// any), which docker inspect shows; it changes nothing.
	Mode string `json:",omitempty"`
}

// Device is a --device HOST[:CONTAINER[:PERMS]].
type Device struct {
	PathOnHost        string
	PathInContainer   string
	CgroupPermissions string // "rwm" by default
	// Type, Major, Minor, FileMode, UID, GID are read from the host by the
	// engine (specgen does no I/O).
	Type         string // "c" or "b"
	Major, Minor int64
	FileMode     uint32
	UID, GID     uint32
}

// Resources are the cgroup limits. Zero means "no limit" / "the default",
// as in Docker's HostConfig.
type Resources struct {
	Memory            int64  // bytes
	MemorySwap        int64  // bytes, memory+swap; -1 unlimited; 0 = twice Memory (Docker's default)
	MemoryReservation int64  // bytes
	MemorySwappiness  *int64 //
	NanoCPUs          int64  // --cpus * 1e9
	CPUShares         int64
	CPUPeriod         int64 // µs
	CPUQuota          int64 // µs
	CpusetCpus        string
	CpusetMems        string
	PidsLimit         *int64 // nil or <= 0: unlimited
	BlkioWeight       uint16
	OomKillDisable    bool
}

// Ulimit is --ulimit NAME=SOFT[:HARD].
type Ulimit struct {
	Name       string // "nofile", "nproc", ... (without RLIMIT_)
	Soft, Hard int64
}

package server

import (
	"bufio"
	"net/http"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("API-Version", APIVersion)
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte("OK"))
	}
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	v := system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth"},
		Version:       s.cfg.Version,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            goruntime.GOOS,
		Arch:          goruntime.GOARCH,
		GoVersion:     goruntime.Version(),
		GitCommit:     s.cfg.Version,
		BuildTime:     s.cfg.BuildTime,
		KernelVersion: kernelVersion(),
		Components: []system.ComponentVersion{{
			Name: "Engine", Version: s.cfg.Version,
			Details: map[string]string{
				"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": goruntime.GOOS, "Arch": goruntime.GOARCH,
				"KernelVersion": kernelVersion(), "GoVersion": goruntime.Version(), "GitCommit": s.cfg.Version,
				"BuildTime": s.cfg.BuildTime, "Experimental": "false",
			},
		}},
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	// The daemon runs no containers yet (the engine is the next issue's).
	images, running, paused, stopped := s.images.Count(), 0, 0, 0
	host, _ := os.Hostname()
	cgroupVersion := "1"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cgroupVersion = "2"
	}
	var fds int
	if entries, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(entries)
	}
	info := system.Info{
		ID:                 machineID(),
		Containers:         running + paused + stopped,
		ContainersRunning:  running,
		ContainersPaused:   paused,
		ContainersStopped:  stopped,
		Images:             images,
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", backingFS(s.cfg.DataRoot)}},
		MemoryLimit:        true,
		SwapLimit:          fileExists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") || cgroupVersion == "2",
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		IPv4Forwarding:     readTrim("/proc/sys/net/ipv4/ip_forward") == "1",
		NFd:                fds,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion,
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osRelease("PRETTY_NAME"),
		OSVersion:          osRelease("VERSION_ID"),
		OSType:             goruntime.GOOS,
		Architecture:       unameMachine(),
		NCPU:               goruntime.NumCPU(),
		MemTotal:           memTotal(),
		DockerRootDir:      s.cfg.DataRoot,
		Name:               host,
		ServerVersion:      s.cfg.Version,
		Runtimes:           map[string]system.RuntimeWithStatus{"berth": {Runtime: system.Runtime{Path: "berth runtime"}}},
		DefaultRuntime:     "berth",
		SecurityOptions:    []string{"name=seccomp,profile=builtin", "name=cgroupns"},
		Plugins:            system.PluginsInfo{Log: []string{"json-file"}, Network: []string{"host", "null"}},
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		LiveRestoreEnabled: true,
		IndexServerAddress: "https://index.docker.io/v1/",
	}
	if s.networks() != nil {
		info.Plugins.Network = []string{"bridge", "host", "null"}
	}
	writeJSON(w, http.StatusOK, info)
}

func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// machineID is stable for a host: /etc/machine-id when present.
func machineID() string {
	if id := readTrim("/etc/machine-id"); id != "" {
		return id
	}
	return readTrim("/proc/sys/kernel/random/boot_id")
}

func osRelease(key string) string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func unameMachine() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

func backingFS(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	default:
		return "0x" + strconv.FormatInt(int64(st.Type), 16)
	}
}

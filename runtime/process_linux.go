package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitByName = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits applies process.rlimits. syscall.Setrlimit (not unix's) is used
// so that Go does not restore its own RLIMIT_NOFILE at exec.
func setRlimits(p *specs.Process) error {
	for _, rl := range p.Rlimits {
		lim := &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := syscall.Setrlimit(rlimitByName[rl.Type], lim); err != nil {
			if errors.Is(err, syscall.EPERM) {
				var cur syscall.Rlimit
				_ = syscall.Getrlimit(rlimitByName[rl.Type], &cur)
				return fmt.Errorf("setrlimit %s soft=%d hard=%d: %w (the hard limit here is %d; raising it needs CAP_SYS_RESOURCE)", rl.Type, rl.Soft, rl.Hard, err, cur.Max)
			}
			return fmt.Errorf("setrlimit %s soft=%d hard=%d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// checkRlimitRaise fails early (at create, not when the process starts) for
// a hard limit above this process's own when raising it needs
// CAP_SYS_RESOURCE and that capability is missing (as on hosts where root
// runs without it).
func checkRlimitRaise(rl specs.POSIXRlimit) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(rlimitByName[rl.Type], &cur); err != nil || rl.Hard <= cur.Max {
		return nil
	}
	if c, err := capability.NewPid2(0); err == nil && c.Load() == nil && c.Get(capability.EFFECTIVE, capability.CAP_SYS_RESOURCE) {
		return nil
	}
	return invalid("process.rlimits: %s hard limit %d is above this host's %d, and raising it needs CAP_SYS_RESOURCE, which this runtime lacks", rl.Type, rl.Hard, cur.Max)
}

// setUser switches to process.user, keeping the capabilities that
// applyCaps sets afterwards.
func setUser(u specs.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep capabilities: %w", err)
	}
	gids := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		gids = append(gids, int(g))
	}
	if err := syscall.Setgroups(gids); err != nil {
		// A user namespace whose setgroups is "deny" refuses even an empty list.
		if !(len(gids) == 0 && errors.Is(err, syscall.EPERM)) {
			return fmt.Errorf("setgroups %v: %w", gids, err)
		}
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", u.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("reset keep capabilities: %w", err)
	}
	return nil
}

// capSet holds the five capability sets of process.capabilities.
type capSet struct{ c capability.Capabilities }

func newCapSet(pc *specs.LinuxCapabilities) (*capSet, error) {
	c, err := capability.NewPid2(0)
	if err != nil {
		return nil, err
	}
	c.Clear(capability.CAPS | capability.BOUNDS | capability.AMBS)
	if pc != nil {
		last, _ := capability.LastCap()
		for which, names := range map[capability.CapType][]string{
			capability.BOUNDING: pc.Bounding, capability.EFFECTIVE: pc.Effective,
			capability.INHERITABLE: pc.Inheritable, capability.PERMITTED: pc.Permitted,
			capability.AMBIENT: pc.Ambient,
		} {
			for _, n := range names {
				cp, ok := capByName(n)
				if !ok {
					return nil, fmt.Errorf("unknown capability %q", n)
				}
				if cp > last {
					continue // newer than this kernel
				}
				c.Set(which, cp)
			}
		}
	}
	return &capSet{c}, nil
}

// applyBounding drops what the bounding set excludes; it needs CAP_SETPCAP,
// so it runs before the switch to the container's user.
func (s *capSet) applyBounding() error {
	if err := s.c.Apply(capability.BOUNDS); err != nil {
		return fmt.Errorf("apply bounding capabilities: %w", err)
	}
	return nil
}

func (s *capSet) applyRest() error {
	if err := s.c.Apply(capability.CAPS); err != nil {
		return fmt.Errorf("apply capabilities: %w", err)
	}
	// An ambient capability must also be permitted and inheritable; like
	// runc, one that is not is skipped rather than failing the container.
	if err := capability.ResetAmbient(); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("reset ambient capabilities: %w", err)
	}
	last, _ := capability.LastCap()
	for c := capability.Cap(0); c <= last; c++ {
		if !s.c.Get(capability.AMBIENT, c) {
			continue
		}
		if err := capability.SetAmbient(true, c); err != nil && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("raise ambient capability %s: %w", c, err)
		}
	}
	return nil
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds the program to exec in the container's PATH, as the shell would.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("exec %q: %w", name, err)
		}
		return name, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// closeExtraFds marks every fd above the preserved ones close-on-exec
// (close_range, so a container without /proc works too).
func closeExtraFds(preserve int) error {
	err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Kernels before 5.11: walk /proc/self/fd instead.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("close_range: %w; /proc/self/fd: %v", err, rerr)
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3+preserve {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

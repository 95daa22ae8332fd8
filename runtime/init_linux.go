package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/seccomp"
)

// Init is the body of "berth init", the first code that runs in the new
// container's namespaces. The caller (cmd/berth) invokes it before anything
// else when argv[1] is "init". It never returns: it execs the user process
// or exits 1 after reporting why it could not.
func Init() {
	// Capabilities, seccomp and no_new_privs are per thread: all of the set up
	// and the final exec happen on this one.
	goruntime.LockOSThread()
	tr("init main")
	fd, err := strconv.Atoi(os.Getenv("_BERTH_SYNC_FD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth init: not started by berth (no _BERTH_SYNC_FD)")
		os.Exit(1)
	}
	os.Unsetenv("_BERTH_SYNC_FD")
	unix.CloseOnExec(fd)
	s := &initProc{conn: os.NewFile(uintptr(fd), "sync"), fifo: -1}
	s.dec = json.NewDecoder(s.conn)
	if err := s.dec.Decode(&s.cfg); err != nil {
		s.fail(fmt.Errorf("read init config: %w", err))
	}
	if s.cfg.Exec {
		err = s.execProcess()
	} else {
		err = s.create()
	}
	s.fail(err)
}

type initProc struct {
	cfg     initConfig
	conn    *os.File
	dec     *json.Decoder
	fifo    int  // write end of the exec FIFO once released by Start
	seccomp bool // the filter is already loaded
}

// fail reports err to whoever is listening (the parent before "ready", the
// Start call through the FIFO after) and exits.
func (s *initProc) fail(err error) {
	msg := err.Error()
	switch {
	case s.fifo >= 0:
		_, _ = unix.Write(s.fifo, []byte(msg))
	case s.conn != nil:
		b, _ := json.Marshal(syncMsg{Type: msgError, Error: msg})
		_, _ = s.conn.Write(append(b, '\n'))
	default:
		fmt.Fprintln(os.Stderr, "berth init:", msg)
	}
	os.Exit(1)
}

func (s *initProc) send(typ string) error {
	return s.sendMsg(syncMsg{Type: typ})
}

func (s *initProc) sendMsg(m syncMsg) error {
	b, _ := json.Marshal(m)
	_, err := s.conn.Write(append(b, '\n'))
	return err
}

func (s *initProc) await() error {
	var m syncMsg
	if err := s.dec.Decode(&m); err != nil {
		return fmt.Errorf("wait for parent: %w", err)
	}
	if m.Type != msgOK {
		return fmt.Errorf("parent: %s", m.Error)
	}
	return nil
}

func (s *initProc) create() error {
	cfg := &s.cfg
	spec := cfg.Spec
	if cfg.NewCgroupNS {
		// After the parent placed us in our cgroup, so that it is the root.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if cfg.NewTimeNS {
		if err := setupTimeNS(spec.Linux.TimeOffsets); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("set domainname: %w", err)
		}
	}
	if !cfg.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	for k, v := range spec.Linux.Sysctl {
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	// The parent passes the state dir as an fd: it stays reachable after the
	// pivot, and a user namespace's root need not be able to walk to it.
	stateDir := cfg.StateDirFd
	unix.CloseOnExec(stateDir)
	tr("init cfg")
	if cfg.HasMountNS {
		if err := prepareRootfs(cfg); err != nil {
			return err
		}
		if err := setupMounts(cfg); err != nil {
			return err
		}
	}
	tr("mounts")
	if cfg.ParentHooks {
		if err := s.send(msgHooks); err != nil {
			return err
		}
		if err := s.await(); err != nil {
			return err
		}
	}
	if spec.Hooks != nil {
		st := specs.State{Version: specs.Version, ID: cfg.ID, Status: StatusCreated, Pid: cfg.Pid, Bundle: cfg.Bundle, Annotations: spec.Annotations}
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, &st); err != nil {
			return err
		}
	}
	var err error
	switch {
	case !cfg.HasMountNS:
		// The host's mount table is shared: change nothing in it.
		err = chrootRoot(cfg.Rootfs)
	case cfg.NoPivot:
		err = moveRoot(cfg.Rootfs)
	default:
		err = pivotRoot(cfg.Rootfs)
	}
	if err != nil {
		return err
	}
	tr("pivoted")
	if cfg.HasMountNS {
		if err := finishRootfs(spec); err != nil {
			return err
		}
	}
	p := cfg.Process
	if p == nil {
		// Created without a process (allowed): nothing can be started.
		if err := s.send(msgReady); err != nil {
			return err
		}
		s.conn.Close()
		s.conn = nil
		w, err := unix.Openat(stateDir, fifoName, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open exec fifo: %w", err)
		}
		_, _ = unix.Write(w, []byte("0"))
		s.fifo = w
		return errors.New("config.json has no process to start")
	}
	if p.Terminal {
		if err := setupConsole(cfg.ConsoleFd, p.ConsoleSize); err != nil {
			return err
		}
	}
	if seccomp.Notifies(spec.Linux.Seccomp) {
		// The listener must get the notify fd while the parent is still
		// here to pass it on, so such a filter goes on now.
		if err := s.loadSeccomp(spec.Linux.Seccomp); err != nil {
			return err
		}
	}
	tr("finished")
	if err := s.send(msgReady); err != nil {
		return err
	}
	s.conn.Close()
	s.conn = nil

	// Blocks until Start opens the FIFO for reading.
	w, err := unix.Openat(stateDir, fifoName, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	unix.Close(stateDir)
	if _, err := unix.Write(w, []byte("0")); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	s.fifo = w
	tr("released")
	// Not finding the program is a failure to run the process: start's
	// error, as the runtime-spec has it, not create's.
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	if spec.Hooks != nil {
		st := specs.State{Version: specs.Version, ID: cfg.ID, Status: StatusCreated, Pid: cfg.Pid, Bundle: cfg.Bundle, Annotations: spec.Annotations}
		if err := runHooks("startContainer", spec.Hooks.StartContainer, &st); err != nil {
			return err
		}
	}
	return s.finalize(p, spec.Linux.Seccomp, path)
}

// execProcess runs a process in an existing container: the namespaces were
// joined before this code ran and the parent placed it in the cgroup.
func (s *initProc) execProcess() error {
	cfg := &s.cfg
	p := cfg.Process
	if p.Terminal {
		if err := setupConsole(cfg.ConsoleFd, p.ConsoleSize); err != nil {
			return err
		}
	}
	path, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	var sc *specs.LinuxSeccomp
	if cfg.Spec != nil && cfg.Spec.Linux != nil {
		sc = cfg.Spec.Linux.Seccomp
	}
	return s.finalize(p, sc, path)
}

// finalize drops to the process's user, limits and privileges and execs it.
// Seccomp goes on as late as it can: just before exec when no_new_privs is
// set; otherwise before the capabilities it needs are dropped.
func (s *initProc) finalize(p *specs.Process, sc *specs.LinuxSeccomp, path string) error {
	cfg := &s.cfg
	// Before seccomp, which may not allow close_range; fds opened from here
	// on are close-on-exec already.
	if err := closeExtraFds(cfg.PreserveFDs); err != nil {
		return err
	}
	if err := setRlimits(p); err != nil {
		return err
	}
	var linux *specs.Linux
	if cfg.Spec != nil {
		linux = cfg.Spec.Linux
	}
	if err := applyProcessAttrs(p, linux); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	caps, err := newCapSet(p.Capabilities)
	if err != nil {
		return err
	}
	if sc != nil && !p.NoNewPrivileges {
		if err := s.loadSeccomp(sc); err != nil {
			return err
		}
	}
	if err := caps.applyBounding(); err != nil {
		return err
	}
	cwdErr := unix.Chdir(p.Cwd)
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := caps.applyRest(); err != nil {
		return err
	}
	umask := 0o022
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	if cwdErr != nil {
		if err := unix.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("chdir to cwd %q: %w", p.Cwd, err)
		}
	}
	if sc != nil && p.NoNewPrivileges {
		if err := s.loadSeccomp(sc); err != nil {
			return err
		}
	}
	env := p.Env
	if env == nil {
		env = []string{}
	}
	tr("exec")
	if err := unix.Exec(path, p.Args, env); err != nil {
		return fmt.Errorf("exec %s: %w", p.Args[0], err)
	}
	return nil
}

// loadSeccomp installs the filter on this thread. A notify fd goes to the
// parent (which takes it with pidfd_getfd and hands it to the listener from
// the host's side); it is then closed here.
func (s *initProc) loadSeccomp(sc *specs.LinuxSeccomp) error {
	if s.seccomp {
		return nil
	}
	var fd int
	var err error
	if s.cfg.Seccomp != nil {
		fd, err = seccomp.Install(s.cfg.Seccomp)
	} else {
		fd, err = seccomp.Load(sc)
	}
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	s.seccomp = true
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if s.conn == nil {
		return errors.New("seccomp: no parent to pass the notify fd to")
	}
	if err := s.sendMsg(syncMsg{Type: msgSeccomp, Fd: fd}); err != nil {
		return err
	}
	return s.await()
}

func setupTimeNS(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare time namespace: %w", err)
	}
	var b strings.Builder
	for clock, off := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if b.Len() > 0 {
		if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
			return fmt.Errorf("linux.timeOffsets: %w", err)
		}
	}
	return nil
}

package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/runtime/specjson"
)

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	// Root holds one directory of state per container (runc's --root).
	Root string
	// Warn receives what a caller should log but not fail on (a failing
	// poststart or poststop hook). Nil drops it.
	Warn func(msg string)
	// Debug receives a line for each step of a lifecycle operation. Nil drops it.
	Debug func(msg string)
	// Init returns the path of the init program (cmd/berth-init) to start
	// container processes with. Nil means this binary, as "<self> init".
	Init func() (string, error)
	// SeccompCache, if set, is a root-only directory (on tmpfs) where
	// compiled seccomp filters are kept by the hash of their spec: a
	// profile is compiled once, not at every container start.
	SeccompCache string

	recs sync.Map // container id -> cachedRecord
}

// initCommand is the program and argv that start a container process.
func (r *Runtime) initCommand() (path string, args []string, err error) {
	if r.Init == nil {
		// /proc/self/exe, not a path: a user namespace's root need not be
		// able to reach the binary's directory.
		return "/proc/self/exe", []string{"berth", "init"}, nil
	}
	p, err := r.Init()
	if err != nil {
		return "", nil, err
	}
	return p, []string{"berth-init"}, nil
}

// New returns a Runtime keeping state under root.
func New(root string) *Runtime { return &Runtime{Root: root} }

func (r *Runtime) debugf(format string, args ...any) {
	if r.Debug != nil {
		r.Debug(fmt.Sprintf(format, args...))
	}
}

func (r *Runtime) warn(format string, args ...any) {
	if r.Warn != nil {
		r.Warn(fmt.Sprintf(format, args...))
	}
}

// CreateOpts are the inputs of Create beyond the bundle.
type CreateOpts struct {
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string // path of a unix socket to send the pty master to
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int         // pass fds 3 .. 3+PreserveFDs-1 to the container
	Stdio         [3]*os.File // nil entries inherit the caller's
	Spec          *BundleSpec // Bundle's config.json already loaded (LoadSpec); nil: Create reads it
}

// Process is a container process started by this process (a container's init
// or an exec'd process): it can be waited for.
type Process struct {
	Pid     int
	process proc
}

// Signal sends sig to the process.
func (c *Process) Signal(sig os.Signal) error { return c.process.Signal(sig) }

// Wait waits for the process and returns its exit status: the exit code, or
// 128+N when killed by signal N.
func (c *Process) Wait() (int, error) {
	ws, err := c.process.Wait()
	if err != nil {
		return -1, err
	}
	return ExitStatus(ws), nil
}

// BundleSpec is a bundle's config.json as LoadSpec read it; CreateOpts.Spec
// takes it so that Create does not read and decode the file again.
type BundleSpec struct {
	*specs.Spec
	raw []byte
}

// LoadSpec reads and checks <bundle>/config.json.
func LoadSpec(bundle string) (*BundleSpec, error) {
	spec, raw, err := loadSpec(bundle)
	if err != nil {
		return nil, err
	}
	return &BundleSpec{spec, raw}, nil
}

// loadSpec is LoadSpec that also returns the file's bytes.
func loadSpec(bundle string) (*specs.Spec, []byte, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("bundle %s: config.json not found: %w", bundle, errdefs.ErrInvalidArgument)
		}
		return nil, nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	spec, err := decodeSpec(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s/config.json: malformed JSON: %v: %w", bundle, err, errdefs.ErrInvalidArgument)
	}
	return spec, b, nil
}

// decodeSpec decodes a spec (config.json, or the one in state.json) without
// encoding/json, whose first decode of a specs.Spec in a process costs
// ~0.7 ms of building tables (see specjson). A document that is not an
// object (null, a list) is refused; a missing "linux" is an empty one.
func decodeSpec(b []byte) (*specs.Spec, error) {
	var spec *specs.Spec
	if err := specjson.Unmarshal(b, &spec); err != nil {
		return nil, err
	}
	if spec == nil {
		return nil, errors.New("not a JSON object")
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	return spec, nil
}

// Create sets up the container described by the bundle and leaves its init
// process waiting for Start.
func (r *Runtime) Create(o CreateOpts) (_ *Process, retErr error) {
	if err := checkID(o.ID); err != nil {
		return nil, err
	}
	tr("create start")
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	var spec *specs.Spec
	var specJSON []byte
	if o.Spec != nil {
		spec, specJSON = o.Spec.Spec, o.Spec.raw
	} else if spec, specJSON, err = loadSpec(bundle); err != nil {
		return nil, err
	}
	tr("spec loaded")
	rootfs, prog, err := validateAndCompile(spec, bundle, r.SeccompCache)
	if err != nil {
		return nil, err
	}
	tr("validated")
	if !hasNewNS(spec, specs.MountNamespace) && (len(spec.Mounts) > 0 || len(spec.Linux.MaskedPaths)+len(spec.Linux.ReadonlyPaths) > 0 || spec.Root.Readonly) {
		r.warn("container %q has no mount namespace: its mounts, masked and read-only paths are not applied (they would change the host's mounts); it is only chrooted", o.ID)
	}
	terminal := spec.Process != nil && spec.Process.Terminal
	if terminal && o.ConsoleSocket == "" {
		return nil, fmt.Errorf("process.terminal is true: use --console-socket to receive the pty master: %w", errdefs.ErrInvalidArgument)
	}
	if !terminal && o.ConsoleSocket != "" {
		return nil, fmt.Errorf("--console-socket given but process.terminal is false: %w", errdefs.ErrInvalidArgument)
	}

	// Parents traversable (0711): the init program lives beside the state root.
	if err := os.MkdirAll(filepath.Dir(r.Root), 0o711); err != nil {
		return nil, fmt.Errorf("state root %s: %w", r.Root, err)
	}
	if err := os.Mkdir(r.Root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("state root %s: %w", r.Root, err)
	}
	dir := r.dir(o.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q: %w", o.ID, errdefs.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("container %q: %w", o.ID, err)
	}
	var cg cgroupHandle
	var ch *child
	defer func() {
		if retErr == nil {
			return
		}
		if ch != nil {
			ch.kill()
		}
		if cg != nil {
			_ = cg.Destroy()
		}
		_ = os.RemoveAll(dir)
	}()

	fifo := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	// Writable by the container's root even when a user namespace maps it to
	// another host uid (mkfifo's mode is subject to the umask).
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}

	var extra []*os.File
	for fd := 3; fd < 3+o.PreserveFDs; fd++ {
		extra = append(extra, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	stateDir, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer stateDir.Close()
	var console *os.File
	if o.ConsoleSocket != "" {
		conn, err := dialConsoleSocket(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		console = conn
	}

	tr("files")
	res := withDefaultDeviceRules(spec)
	cg, err = newCgroup(spec.Linux.CgroupsPath, o.ID, res)
	if err != nil {
		return nil, err
	}
	// The cgroup is made and limited before the init runs anything of the
	// container's. On cgroup v1 the init joins it itself (see TaskFiles: no
	// wait for the kernel's threadgroup lock); on v2 it is moved in by pid.
	var tasks []*os.File
	defer func() {
		for _, f := range tasks {
			f.Close()
		}
	}()
	makeCgroup := func() error {
		if err := cg.Apply(-1); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		tr("cgroup applied")
		if err := cg.Set(res); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		tr("cgroup limits")
		t, err := cg.TaskFiles()
		if err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		tasks = t
		return nil
	}
	cfg := &initConfig{
		ID: o.ID, Spec: spec, Process: spec.Process, Rootfs: rootfs, Bundle: bundle,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring,
		PreserveFDs: o.PreserveFDs, CgroupPaths: cg.Paths(), Seccomp: prog,
		ParentHooks: spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0), //nolint:staticcheck // prestart is deprecated but still in the spec
	}
	for _, ns := range spec.Linux.Namespaces {
		switch ns.Type {
		case specs.CgroupNamespace:
			cfg.NewCgroupNS = ns.Path == ""
		case specs.TimeNamespace:
			cfg.NewTimeNS = ns.Path == ""
		case specs.UserNamespace:
			cfg.InUserNS = true
		case specs.NetworkNamespace:
			cfg.NewNetNS = ns.Path == ""
		case specs.PIDNamespace:
			cfg.ContainerPid1 = ns.Path == ""
		case specs.MountNamespace:
			cfg.HasMountNS = true
		}
	}
	so := &spawnOpts{
		namespaces: spec.Linux.Namespaces,
		uidMaps:    spec.Linux.UIDMappings,
		gidMaps:    spec.Linux.GIDMappings,
		stdio:      o.Stdio,
		setsid:     true,
	}
	why := cinitUnsupported(spec)
	// An init cloned from here whose namespaces are all new (none joined,
	// no user namespace) makes them itself, unsharing them after the clone,
	// while this process makes its cgroup: the two were a third of the
	// time to create a container, one after the other. The init joins the
	// cgroup before anything else of its own (wait_ok_fds in cinit.c).
	late := why == "" && lateNamespaces(spec.Linux.Namespaces)
	if !late {
		if err := makeCgroup(); err != nil {
			return nil, err
		}
		so.cgroupTasks = tasks
	}
	so.unshareAll = late
	if why != "" {
		// The Go init program, which gets the state dir and console socket
		// as extra files.
		r.debugf("container %q: init program (the plan cannot carry: %s)", o.ID, why)
		if so.initPath, so.initArgs, err = r.initCommand(); err != nil {
			return nil, err
		}
		cfg.StateDirFd = 3 + len(extra)
		extra = append(extra, stateDir)
		if console != nil {
			cfg.ConsoleFd = 3 + len(extra)
			extra = append(extra, console)
		}
	} else {
		if so.cinit, err = compileCinit(cfg); err != nil {
			return nil, err
		}
		so.stateDir, so.console = stateDir, console
	}
	so.extraFiles = extra
	ch, err = spawn(so)
	if err != nil {
		return nil, err
	}
	tr("spawned")
	if late {
		if err := makeCgroup(); err != nil {
			return nil, err
		}
	}
	selfJoined := len(tasks) > 0
	r.debugf("container %q: init process %d started; cgroup %v", o.ID, ch.pid, cg.Paths())
	switch {
	case selfJoined:
		// Joined by the init itself; on a hybrid host the unified
		// hierarchy only when it carries hugetlb limits.
		if cg.NeedsUnifiedJoin(res) {
			if err := cg.JoinUnified(ch.pid); err != nil {
				return nil, fmt.Errorf("cgroup: %w", err)
			}
		}
	default:
		if err := cg.Apply(ch.pid); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}
	cfg.Pid = ch.pid
	tr("sent")
	switch {
	case late:
		// The tasks files of a v1 cgroup go with the release.
		err = ch.sendFiles(syncMsg{Type: msgOK}, tasks)
	case so.cinit != nil:
		err = ch.send(syncMsg{Type: msgOK})
	default:
		err = ch.send(cfg)
	}
	if err != nil {
		return nil, ch.failure(err)
	}
	if spec.Process != nil && spec.Process.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/"+strconv.Itoa(ch.pid)+"/oom_score_adj", []byte(strconv.Itoa(*spec.Process.OOMScoreAdj)), 0); err != nil {
			return nil, fmt.Errorf("process.oomScoreAdj %d: %w", *spec.Process.OOMScoreAdj, err)
		}
	}
	tr("cgroup set")
	pidStart, _, err := processStartTime(ch.pid)
	if err != nil {
		return nil, fmt.Errorf("init process: %w", err)
	}
	owner := ""
	if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	rec := &record{
		ID: o.ID, Bundle: bundle, Rootfs: rootfs, Pid: ch.pid, PidStart: pidStart,
		Created: time.Now().UTC(), Owner: owner, CgroupPaths: cg.Paths(), Spec: spec, SpecJSON: specJSON,
	}
	if err := r.save(rec); err != nil {
		return nil, err
	}

	tr("saved")
	for {
		m, err := ch.recv()
		if err != nil {
			return nil, fmt.Errorf("init process: %w", ch.exitError(err))
		}
		switch m.Type {
		case msgError:
			return nil, errors.New(m.Error)
		case msgHooks:
			r.debugf("container %q: running prestart and createRuntime hooks", o.ID)
			// Lifecycle step 3: the environment is created, so the state is "created".
			st := specs.State{Version: specs.Version, ID: o.ID, Status: StatusCreated, Pid: ch.pid, Bundle: bundle, Annotations: spec.Annotations}
			if err := runHooks("prestart", spec.Hooks.Prestart, &st); err != nil { //nolint:staticcheck
				return nil, err
			}
			if err := runHooks("createRuntime", spec.Hooks.CreateRuntime, &st); err != nil {
				return nil, err
			}
			if err := ch.send(syncMsg{Type: msgOK}); err != nil {
				return nil, fmt.Errorf("init process: %w", err)
			}
		case msgSeccomp:
			st := specs.State{Version: specs.Version, ID: o.ID, Status: StatusCreating, Pid: ch.pid, Bundle: bundle, Annotations: spec.Annotations}
			if err := passSeccompFd(ch.pid, m.Fd, spec.Linux.Seccomp, st); err != nil {
				return nil, err
			}
			if err := ch.send(syncMsg{Type: msgOK}); err != nil {
				return nil, fmt.Errorf("init process: %w", err)
			}
		case msgReady:
			tr("ready")
			r.debugf("container %q: created, init %d waits at the exec fifo", o.ID, ch.pid)
			ch.conn.Close()
			if o.PidFile != "" {
				if err := writePidFile(o.PidFile, ch.pid); err != nil {
					return nil, err
				}
			}
			return &Process{Pid: ch.pid, process: ch.proc}, nil
		default:
			return nil, fmt.Errorf("init process: unexpected message %q", m.Type)
		}
	}
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// Start runs the user process of a created container.
func (r *Runtime) Start(id string) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	switch st := r.status(rec); st {
	case StatusCreated:
	case StatusStopped:
		return fmt.Errorf("container %q: cannot start a container that has stopped: %w", id, errdefs.ErrConflict)
	default:
		return fmt.Errorf("container %q: cannot start a container that is %s: %w", id, st, errdefs.ErrConflict)
	}
	tr("start")
	fifo := filepath.Join(r.dir(id), fifoName)
	data, err := readFifo(fifo, rec)
	tr("fifo read")
	if err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	_ = os.Remove(fifo)
	if len(data) == 0 {
		return fmt.Errorf("container %q: cannot start an already running container: %w", id, errdefs.ErrConflict)
	}
	r.debugf("container %q: released init %d", id, rec.Pid)
	if len(data) > 1 {
		// The init process wrote why it failed after it was released.
		return fmt.Errorf("container %q: %s", id, data[1:])
	}
	if rec.Spec.Hooks != nil {
		st := r.stateOf(rec).State
		runHooksWarn("poststart", rec.Spec.Hooks.Poststart, &st, r.warn)
	}
	return nil
}

// readFifo opens the exec FIFO, which releases the init process, and reads
// until it execs the user process (or writes why it could not).
func readFifo(path string, rec *record) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		done <- result{b, err}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case res := <-done:
			return res.data, res.err
		case <-tick.C:
			if !processAlive(rec.Pid, rec.PidStart) {
				// Unblock the opener if the writer never came.
				if f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				res := <-done
				if len(res.data) > 0 {
					// It was released and has run (and exited) already.
					return res.data, res.err
				}
				return nil, errors.New("init process exited before start")
			}
		}
	}
}

// State returns the runtime-spec state of a container.
func (r *Runtime) State(id string) (*State, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return r.stateOf(rec), nil
}

// List returns the state of every container under Root.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() || checkID(e.Name()) != nil {
			continue
		}
		rec, err := r.load(e.Name())
		if err != nil {
			continue // a container being created or deleted right now
		}
		out = append(out, r.stateOf(rec))
	}
	return out, nil
}

// Kill sends sig to the container's init process, or with all to every
// process in its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st == StatusStopped {
		return fmt.Errorf("container %q is not running: %w", id, errdefs.ErrConflict)
	}
	if all {
		cg, err := loadCgroup(rec)
		if err != nil {
			return err
		}
		pids, err := cg.Pids()
		if err != nil {
			return err
		}
		for _, p := range pids {
			_ = unix.Kill(p, sig)
		}
		return nil
	}
	r.debugf("container %q: signal %d to init %d", id, sig, rec.Pid)
	if err := signalProcess(rec.Pid, rec.PidStart, sig); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	return nil
}

// Delete removes a stopped (or, with force, any) container: its processes,
// cgroup and state, then runs the poststop hooks.
func (r *Runtime) Delete(id string, force bool) error {
	rec, err := r.load(id)
	if err != nil {
		return err
	}
	switch st := r.status(rec); st {
	case StatusStopped:
	default:
		if !force {
			return fmt.Errorf("container %q is %s: stop it first or use --force: %w", id, st, errdefs.ErrConflict)
		}
		r.killAndWait(rec)
	}
	tr("delete")
	r.debugf("container %q: removing cgroup %v and state", id, rec.CgroupPaths)
	if cg, err := loadCgroup(rec); err == nil {
		if err := cg.Destroy(); err != nil {
			return fmt.Errorf("container %q: remove cgroup: %w", id, err)
		}
	}
	tr("cgroup destroyed")
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return fmt.Errorf("container %q: remove state: %w", id, err)
	}
	tr("deleted")
	if rec.Spec.Hooks != nil && len(rec.Spec.Hooks.Poststop) > 0 {
		st := specs.State{Version: specs.Version, ID: id, Status: StatusStopped, Bundle: rec.Bundle, Annotations: rec.Spec.Annotations}
		runHooksWarn("poststop", rec.Spec.Hooks.Poststop, &st, r.warn)
	}
	return nil
}

// killAndWait kills every process of the container and waits (bounded) for
// the init process to be gone.
func (r *Runtime) killAndWait(rec *record) {
	if cg, err := loadCgroup(rec); err == nil {
		if frozen, _ := cg.Frozen(); frozen {
			_ = cg.Thaw()
		}
		if pids, err := cg.Pids(); err == nil {
			for _, p := range pids {
				_ = unix.Kill(p, unix.SIGKILL)
			}
		}
	}
	_ = signalProcess(rec.Pid, rec.PidStart, unix.SIGKILL)
	for i := 0; i < 500 && processAlive(rec.Pid, rec.PidStart); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(id string) error {
	rec, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != StatusRunning {
		return fmt.Errorf("container %q is %s, not running: %w", id, st, errdefs.ErrConflict)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	rec, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if st := r.status(rec); st != StatusPaused {
		return fmt.Errorf("container %q is %s, not paused: %w", id, st, errdefs.ErrConflict)
	}
	return cg.Thaw()
}

func (r *Runtime) loadRunning(id string) (*record, cgroupHandle, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, nil, err
	}
	if r.status(rec) == StatusStopped {
		return nil, nil, fmt.Errorf("container %q is not running: %w", id, errdefs.ErrConflict)
	}
	cg, err := loadCgroup(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, cg, nil
}

// Update changes the resource limits of a container; fields left nil in res
// keep their values.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	cur, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	// A copy: the record may be the cached one (see load).
	rec, spec, linux := *cur, *cur.Spec, *cur.Spec.Linux
	spec.Linux, rec.Spec, rec.SpecJSON = &linux, &spec, nil
	if rec.Spec.Linux.Resources == nil {
		rec.Spec.Linux.Resources = &specs.LinuxResources{}
	}
	merged := mergeResources(rec.Spec.Linux.Resources, res)
	if err := cg.Set(withDefaultDeviceRules(&specs.Spec{Linux: &specs.Linux{Resources: merged, Devices: rec.Spec.Linux.Devices}})); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	rec.Spec.Linux.Resources = merged
	return r.save(&rec)
}

// Pids lists the processes in the container's cgroup.
func (r *Runtime) Pids(id string) ([]int, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	if r.status(rec) == StatusStopped {
		return nil, nil
	}
	cg, err := loadCgroup(rec)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Config returns the configuration a container was created with.
func (r *Runtime) Config(id string) (*specs.Spec, error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return rec.Spec, nil
}

// Stats returns the resource usage of a running container's cgroup.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	_, cg, err := r.loadRunning(id)
	if err != nil {
		return nil, err
	}
	st, err := cg.Stats()
	if err != nil {
		return nil, fmt.Errorf("container %q: stats: %w", id, err)
	}
	return st, nil
}

// OOMKilled reports whether the kernel's OOM killer has killed a process of
// the container's memory cgroup (memory.oom_control on cgroup v1,
// memory.events on v2). Call it before Delete: the cgroup goes with it.
func (r *Runtime) OOMKilled(id string) bool {
	rec, err := r.load(id)
	if err != nil {
		return false
	}
	for ctrl, file := range map[string]string{"memory": "memory.oom_control", "": "memory.events"} {
		dir := rec.CgroupPaths[ctrl]
		if dir == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(line, "oom_kill "); ok && strings.TrimSpace(n) != "0" {
				return true
			}
		}
	}
	return false
}

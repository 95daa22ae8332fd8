package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/logs"
	"github.com/berth-dev/berth/shim"
	"github.com/berth-dev/berth/specgen"
)

// ErrNotModified is Start's answer for a container that already runs (the
// API's 304).
var ErrNotModified = errors.New("container already started")

// StartError is a failure of the container's process to start: the runtime
// could not create it or exec its program. Docker answers these with
// exit code 126 or 127 in `run`.
type StartError struct{ Msg string }

func (e *StartError) Error() string { return e.Msg }

// Start runs a created or stopped container.
func (e *Engine) Start(ctx context.Context, ref string) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if x.busy {
		x.mu.Unlock()
		return errConflict("container %s is busy (another operation is in progress)", x.c.ID[:12])
	}
	switch x.c.State.Status {
	case StatusRunning, StatusPaused:
		x.mu.Unlock()
		return ErrNotModified
	case StatusRemoving, StatusDead:
		x.mu.Unlock()
		return errConflict("container %s is marked for removal and cannot be started", x.c.ID[:12])
	}
	x.busy = true
	x.c.State.StoppedByUser = false
	x.mu.Unlock()
	err = e.startLocked(ctx, x)
	x.mu.Lock()
	x.busy = false
	autoRemove := x.c.HostConfig.AutoRemove
	x.mu.Unlock()
	if err != nil && autoRemove {
		// As Docker: a --rm container that cannot start goes at once.
		if rerr := e.Remove(context.Background(), x.c.ID, RemoveOptions{Force: true}); rerr != nil {
			e.warn(fmt.Sprintf("container %s: auto-remove after a failed start: %v", x.c.ID, rerr))
		}
	}
	return err
}

// startLocked does the work of Start; the caller holds x.busy.
func (e *Engine) startLocked(ctx context.Context, x *ctr) (retErr error) {
	e.warmer.warm()
	c := x.snapshot()
	tt := newTracer(c.ID)
	if err := e.restoreFiles(c); err != nil {
		return err
	}
	dir := e.stateDir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	_ = unmountAll(rootfs)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			_ = unmountAll(rootfs)
			_ = os.RemoveAll(dir)
			x.mu.Lock()
			x.c.State.Error = retErr.Error()
			if x.c.State.Status != StatusCreated {
				x.c.State.Status = StatusExited
			}
			x.c.State.ExitCode = startExitCode(retErr)
			_ = e.save(x)
			// Attaches waiting for this start end now.
			pend := x.attaches
			x.attaches = nil
			x.mu.Unlock()
			for _, p := range pend {
				p.fail(retErr)
			}
		}
	}()
	m, err := e.layers.ActiveMount(c.ID)
	if err != nil {
		return err
	}
	if c.HostConfig.AutoRemove {
		m.Volatile() // the layer goes with the container: no syncs, a quick unmount
	}
	if err := m.MountAt(rootfs); err != nil {
		return err
	}
	tt.step("rootfs mounted")
	u, err := resolveUser(rootfs, c.Config.User, c.HostConfig.GroupAdd)
	if err != nil {
		return &StartError{Msg: err.Error()}
	}
	if err := makeWorkdir(rootfs, c.Config.WorkingDir); err != nil {
		return &StartError{Msg: err.Error()}
	}
	initPath := ""
	if c.HostConfig.Init != nil && *c.HostConfig.Init {
		if e.dockerInit == nil {
			return errInvalid("--init: this daemon has no init program")
		}
		if initPath, err = e.dockerInit(); err != nil {
			return err
		}
	}
	netns, err := e.connectNetworks(x, c)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			e.disconnectNetworks(c.ID)
			x.mu.Lock()
			clearEndpoints(&x.c)
			x.mu.Unlock()
		}
	}()
	tt.step("networks connected")
	mounts, err := e.mountVolumes(c, rootfs)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			e.unmountVolumes(c)
		}
	}()
	o, err := e.specOptions(c, rootfs, u, initPath, netns, mounts)
	if err != nil {
		return err
	}
	spec, err := specgen.Generate(o)
	if err != nil {
		return err
	}
	limitCaps(spec.Process.Capabilities)
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	tt.step("spec generated")
	// The bundle is made afresh at each start, in the exec root: no fsync.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return err
	}
	tt.step("config.json written")
	maxSize, maxFiles, _ := logs.ParseOpts(c.HostConfig.LogConfig.Config)
	cfg := shim.Config{
		ID: c.ID, Bundle: dir, RuntimeRoot: e.rt.Root, LogPath: c.LogPath,
		LogMaxSize: maxSize, LogMaxFiles: maxFiles,
		Tty: c.Config.Tty, Stdin: c.Config.OpenStdin, StdinOnce: c.Config.StdinOnce,
		// A new namespace that no network fills needs its lo up.
		LoopbackUp:   netns == modeNone && len(c.Networks) == 0,
		SeccompCache: filepath.Join(e.execRoot, "seccomp"),
	}
	sp, err := e.takeShim()
	if err != nil {
		return err
	}
	sc, err := sp.Launch(dir, cfg)
	tt.step("shim ready")
	if err != nil {
		var ce *shim.CreateError
		if errors.As(err, &ce) {
			return &StartError{Msg: ce.Msg}
		}
		return err
	}
	pid := sc.Pid
	err = e.plumbNetworks(c, pid)
	tt.step("networks plumbed")
	if err != nil {
		// Created, never started: SIGKILL ends it, the shim reaps it.
		_ = e.signal(c.ID, unix.SIGKILL, false)
		_, _ = sc.Wait(ctx)
		return err
	}
	// Attaches made before the start get the output from its first byte.
	x.mu.Lock()
	pend := x.attaches
	x.attaches = nil
	x.shim = sc
	x.exited = make(chan struct{})
	x.mu.Unlock()
	for _, p := range pend {
		p.connect(sc)
	}
	tt.step("attaches connected")
	if err := sc.Start(); err != nil {
		// The process could not exec: the shim reaps it and exits.
		_, _ = sc.Wait(ctx)
		x.mu.Lock()
		x.shim = nil
		close(x.exited)
		x.exited = nil
		x.mu.Unlock()
		return &StartError{Msg: err.Error()}
	}
	x.mu.Lock()
	x.c.State = State{Status: StatusRunning, Pid: pid, StartedAt: now(), Health: x.c.State.Health}
	if c.Config.Healthcheck != nil && !healthDisabled(c.Config.Healthcheck) {
		x.c.State.Health = &Health{Status: "starting"}
	}
	tt.step("started")
	err = e.saveSoon(x)
	snap := x.c
	x.mu.Unlock()
	tt.step("record saved")
	if err != nil {
		e.warn(fmt.Sprintf("container %s: %v", c.ID, err))
	}
	e.event(&snap, "start", nil)
	e.monitor(x, sc)
	e.startHealth(x)
	return nil
}

// startExitCode is the exit code Docker records for a container that could
// not start: 127 when its program is missing, 126 when it cannot be run.
func startExitCode(err error) int {
	var se *StartError
	if !errors.As(err, &se) {
		return 128
	}
	msg := se.Msg
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 128
}

// monitor waits for the container's exit in the background.
func (e *Engine) monitor(x *ctr, sc *shim.Client) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		st, err := sc.Wait(e.ctx)
		if err != nil {
			if e.ctx.Err() != nil {
				return // the daemon is stopping: the next one reconnects
			}
			st = &shim.Status{ExitCode: 255, ExitedAt: now(), Error: err.Error()}
		}
		e.exited(x, st)
	}()
}

// exited records the end of a run and applies the restart policy.
func (e *Engine) exited(x *ctr, st *shim.Status) {
	tt := newTracer(x.c.ID)
	if tt != nil && !st.ExitedAt.IsZero() {
		tt.last = st.ExitedAt // the shim's reap
		tt.step("exit: seen by the daemon")
	}
	dir := e.stateDir(x.c.ID)
	e.disconnectNetworks(x.c.ID)
	e.unmountVolumes(x.snapshot())
	tt.step("exit: networks, volumes")
	if err := unmountAll(filepath.Join(dir, "rootfs")); err != nil {
		e.warn(fmt.Sprintf("container %s: unmount rootfs: %v", x.c.ID, err))
	}
	tt.step("exit: rootfs unmounted")
	if tt != nil { // the shim's steps, before they go with its directory
		if b, err := os.ReadFile(filepath.Join(dir, "trace.log")); err == nil {
			fmt.Fprintf(os.Stderr, "trace %s shim:\n%s", tt.id, b)
		}
	}
	_ = os.RemoveAll(dir)
	tt.step("exit: state removed")
	x.mu.Lock()
	e.stopHealth(x)
	ranFor := st.ExitedAt.Sub(x.c.State.StartedAt)
	x.c.State.Status = StatusExited
	x.c.State.Pid = 0
	x.c.State.ExitCode = st.ExitCode
	x.c.State.OOMKilled = st.OOMKilled
	x.c.State.Error = st.Error
	x.c.State.FinishedAt = st.ExitedAt.UTC()
	if x.c.State.Health != nil {
		x.c.State.Health.Status = "unhealthy"
		if x.c.State.Health.FailingStreak == 0 {
			x.c.State.Health = nil
		}
	}
	x.shim = nil
	clearEndpoints(&x.c)
	restart := e.shouldRestart(x)
	if restart {
		x.c.State.Status = StatusRestarting
	}
	// A --rm container is removed below, its record with it: not written
	// first (0.5 ms on the wait's path). After a crash in between, the
	// record still says running, and the next daemon finds the shim gone
	// and removes it through this same function.
	if restart || !x.c.HostConfig.AutoRemove {
		_ = e.save(x)
	}
	tt.step("exit: recorded")
	snap := x.c
	if x.exited != nil {
		close(x.exited)
		x.exited = nil
	}
	wakeWaiters(x)
	x.mu.Unlock()
	e.forgetExecs(snap.ID)
	if st.OOMKilled {
		e.event(&snap, "oom", nil)
	}
	e.event(&snap, "die", map[string]string{"exitCode": strconv.Itoa(st.ExitCode)})
	switch {
	case restart:
		e.scheduleRestart(x, ranFor)
	case snap.HostConfig.AutoRemove:
		// As Docker's --rm: anonymous volumes go too.
		if err := e.Remove(context.Background(), snap.ID, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			e.warn(fmt.Sprintf("container %s: auto-remove: %v", snap.ID, err))
		}
		tt.step("exit: auto-removed")
	}
}

// shouldRestart applies the restart policy to a run that just ended. x.mu
// is held.
func (e *Engine) shouldRestart(x *ctr) bool {
	if x.c.State.StoppedByUser || e.ctx.Err() != nil {
		return false
	}
	rp := x.c.HostConfig.RestartPolicy
	switch rp.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return x.c.State.ExitCode != 0 && (rp.MaximumRetryCount == 0 || x.c.RestartCount < rp.MaximumRetryCount)
	}
	return false
}

// scheduleRestart restarts x after Docker's back-off: 100 ms doubling per
// quick failure, up to a minute, reset after a run of 10 s or more.
func (e *Engine) scheduleRestart(x *ctr, ranFor time.Duration) {
	x.mu.Lock()
	delay := 100 * time.Millisecond
	if ranFor < 10*time.Second && x.c.RestartCount > 0 {
		delay <<= min(x.c.RestartCount, 10)
		delay = min(delay, time.Minute)
	}
	x.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		x.mu.Lock()
		if x.c.State.Status != StatusRestarting || x.busy {
			x.mu.Unlock()
			return
		}
		x.busy = true
		x.c.RestartCount++
		x.mu.Unlock()
		err := e.startLocked(e.ctx, x)
		x.mu.Lock()
		x.busy = false
		x.mu.Unlock()
		if err != nil {
			e.warn(fmt.Sprintf("container %s: restart: %v", x.c.ID, err))
			x.mu.Lock()
			again := e.shouldRestart(x)
			x.mu.Unlock()
			if again {
				e.scheduleRestart(x, 0)
			}
		} else {
			e.event(x.snapshot(), "restart", nil)
		}
	}()
}

// specOptions turns a container into specgen's input.
// netns is the network namespace: "host", "none" (new) or a path.
// mounts are the container's with its volumes resolved into binds.
func (e *Engine) specOptions(c *Container, rootfs string, u *execUser, initPath, netns string, mounts []specgen.Mount) (*specgen.Options, error) {
	hc := &c.HostConfig
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	env := append([]string(nil), c.Config.Env...)
	if !hasEnv(env, "PATH") {
		env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	}
	env = append([]string{"HOSTNAME=" + c.Config.Hostname}, env...)
	if c.Config.Tty && !hasEnv(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	o := &specgen.Options{
		ID: c.ID, Args: args, Env: env, Cwd: c.Config.WorkingDir,
		UID: u.UID, GID: u.GID, AdditionalGIDs: u.Groups,
		Terminal: c.Config.Tty, ConsoleHeight: hc.ConsoleSize[0], ConsoleWidth: hc.ConsoleSize[1],
		Hostname: c.Config.Hostname, Domainname: c.Config.Domainname,
		Rootfs: rootfs, ReadOnly: hc.ReadonlyRootfs,
		Privileged: hc.Privileged, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		OomScoreAdj: hc.OomScoreAdj, Sysctls: hc.Sysctls,
		Mounts: mounts, Tmpfs: hc.Tmpfs, ShmSize: hc.ShmSize,
		HostsPath: c.HostsPath, ResolvConfPath: c.ResolvConfPath, HostnamePath: c.HostnamePath,
		Init: initPath, Network: netns,
		IPC: hc.IpcMode, PID: hc.PidMode, UTS: hc.UTSMode,
		Resources: hc.Resources, Ulimits: hc.Ulimits, CgroupParent: hc.CgroupParent,
		Labels: c.Config.Labels, KernelVersion: kernelVersion(),
	}
	if o.Network == "host" && o.UTS == "" {
		o.UTS = "host"
	}
	for _, so := range hc.SecurityOpt {
		k, v, hasV := strings.Cut(so, "=")
		if !hasV {
			k, v, hasV = strings.Cut(so, ":")
		}
		switch k {
		case "no-new-privileges":
			b := true
			if hasV {
				var err error
				if b, err = strconv.ParseBool(v); err != nil {
					return nil, errInvalid("invalid --security-opt no-new-privileges value %q", v)
				}
			}
			o.NoNewPrivs = b
		case "seccomp":
			if !hasV {
				return nil, errInvalid("invalid --security-opt: %q", so)
			}
			// The client sends a profile file's content, or "unconfined".
			o.Seccomp = v
		case "apparmor", "label":
			// No AppArmor or SELinux on berth's hosts: accepted, as Docker
			// does where they are disabled.
		default:
			return nil, errInvalid("invalid --security-opt: %q", so)
		}
	}
	for _, d := range hc.Devices {
		dev, err := hostDevice(d)
		if err != nil {
			return nil, err
		}
		o.Devices = append(o.Devices, dev)
	}
	return o, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// hostDevice reads a --device's node on the host.
func hostDevice(d DeviceMapping) (specgen.Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return specgen.Device{}, errInvalid("error gathering device information while adding custom device %q: %v", d.PathOnHost, err)
	}
	dev := specgen.Device{
		PathOnHost: d.PathOnHost, PathInContainer: d.PathInContainer, CgroupPermissions: d.CgroupPermissions,
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
		FileMode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		dev.Type = "c"
	case unix.S_IFBLK:
		dev.Type = "b"
	default:
		return specgen.Device{}, errInvalid("%s is not a device node", d.PathOnHost)
	}
	if dev.PathInContainer == "" {
		dev.PathInContainer = d.PathOnHost
	}
	if dev.CgroupPermissions == "" {
		dev.CgroupPermissions = "rwm"
	}
	return dev, nil
}

// unmountAll unmounts everything mounted at path (lazily if busy).
func unmountAll(path string) error {
	for i := 0; i < 8; i++ {
		err := unix.Unmount(path, 0)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(path, unix.MNT_DETACH)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// kernelVersion is the running kernel's release (for seccomp rules that
// depend on it), read once.
var kernelVersion = sync.OnceValue(func() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
})

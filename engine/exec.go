package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/ids"
	"github.com/berth-dev/berth/shim"
	"github.com/berth-dev/berth/specgen"
)

// ExecConfig is an exec's configuration (POST /containers/{id}/exec).
type ExecConfig struct {
	User         string
	Privileged   bool
	Tty          bool
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
	ConsoleSize  [2]uint // height, width
}

// Exec is a process run in a container.
type Exec struct {
	ID          string
	ContainerID string
	Config      ExecConfig

	mu       sync.Mutex
	started  bool
	running  bool
	pid      int
	exitCode *int
}

// ExecState is what ExecInspect reports.
type ExecState struct {
	ID          string
	ContainerID string
	Config      ExecConfig
	Running     bool
	ExitCode    *int
	Pid         int
}

// ExecCreate registers an exec in a running container.
func (e *Engine) ExecCreate(ref string, cfg ExecConfig) (string, error) {
	x, err := e.get(ref)
	if err != nil {
		return "", err
	}
	if len(cfg.Cmd) == 0 {
		return "", errInvalid("No exec command specified")
	}
	if _, err := ParseDetachKeys(cfg.DetachKeys); err != nil {
		return "", err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := execableLocked(x); err != nil {
		return "", err
	}
	ex := &Exec{ID: ids.New(), ContainerID: x.c.ID, Config: cfg}
	e.mu.Lock()
	e.execs[ex.ID] = ex
	e.mu.Unlock()
	snap := x.c
	go e.event(&snap, "exec_create: "+strings.Join(cfg.Cmd, " "), map[string]string{"execID": ex.ID})
	return ex.ID, nil
}

func execableLocked(x *ctr) error {
	switch x.c.State.Status {
	case StatusRunning:
		return nil
	case StatusPaused:
		return errConflict("Container %s is paused, unpause the container before exec", x.c.ID)
	case StatusRestarting:
		return errConflict("Container %s is restarting, wait until the container is running", x.c.ID)
	}
	return errNotRunning(x.c.ID)
}

// ExecStartOptions are how an exec's stdio is connected.
type ExecStartOptions struct {
	Detach bool
	Stdin  io.Reader // nil: none
	Out    io.Writer // frames, or raw bytes with a terminal
	Raw    bool      // raw bytes even without a terminal
}

func (e *Engine) getExec(id string) (*Exec, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ex := e.execs[id]
	if ex == nil {
		return nil, fmt.Errorf("No such exec instance: %s: %w", id, errdefs.ErrNotFound)
	}
	return ex, nil
}

// forgetExecs drops the execs of a container whose run ended.
func (e *Engine) forgetExecs(containerID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, ex := range e.execs {
		if ex.ContainerID == containerID {
			delete(e.execs, id)
		}
	}
}

// ExecStart runs an exec. Attached, it returns when the process has ended
// and its output is delivered.
func (e *Engine) ExecStart(ctx context.Context, id string, o ExecStartOptions) error {
	ex, err := e.getExec(id)
	if err != nil {
		return err
	}
	ex.mu.Lock()
	if ex.started {
		ex.mu.Unlock()
		return errConflict("Error: Exec command %s is already running", id)
	}
	ex.started = true
	ex.mu.Unlock()
	x, err := e.get(ex.ContainerID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if err := execableLocked(x); err != nil {
		x.mu.Unlock()
		return err
	}
	sc := x.shim
	c := x.c
	x.mu.Unlock()
	spec, err := e.rt.Config(c.ID)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(e.stateDir(c.ID), "rootfs")
	user := ex.Config.User
	if user == "" {
		user = c.Config.User
	}
	u, err := resolveUser(rootfs, user, nil)
	if err != nil {
		return &StartError{Msg: err.Error()}
	}
	p := *spec.Process
	p.Args = ex.Config.Cmd
	p.Env = mergeEnv(spec.Process.Env, ex.Config.Env)
	if ex.Config.WorkingDir != "" {
		p.Cwd = ex.Config.WorkingDir
	}
	p.User.UID, p.User.GID, p.User.AdditionalGids = u.UID, u.GID, u.Groups
	p.Terminal = ex.Config.Tty
	p.ConsoleSize = nil
	if ex.Config.ConsoleSize[0] > 0 && ex.Config.ConsoleSize[1] > 0 {
		p.ConsoleSize = &specs.Box{Height: ex.Config.ConsoleSize[0], Width: ex.Config.ConsoleSize[1]}
	}
	if ex.Config.Privileged {
		all := specgen.AllCapabilities()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
		limitCaps(p.Capabilities)
	}
	stdin := o.Stdin != nil && ex.Config.AttachStdin
	st, pid, err := sc.Exec(id, &p, stdin, o.Detach)
	if err != nil {
		ex.mu.Lock()
		code := startExitCode(&StartError{Msg: err.Error()})
		ex.exitCode = &code
		ex.mu.Unlock()
		return &StartError{Msg: err.Error()}
	}
	ex.mu.Lock()
	ex.running, ex.pid = true, pid
	ex.mu.Unlock()
	e.event(&c, "exec_start: "+strings.Join(ex.Config.Cmd, " "), map[string]string{"execID": id})
	if o.Detach {
		return nil
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	if stdin {
		keys, _ := ParseDetachKeys(ex.Config.DetachKeys)
		if keys == nil {
			keys = []byte{0x10, 0x11}
		}
		go func() {
			if err := copyDetach(st, o.Stdin, keys); errors.Is(err, ErrDetached) {
				st.Close()
				return
			}
			_ = st.CloseWrite()
		}()
	}
	var buf []byte
	for {
		stream, b, err := shim.ReadFrame(st.R, buf)
		if err != nil {
			// The stream ended without a status: ask the shim.
			e.refreshExec(ex, sc)
			return nil
		}
		buf = b[:0]
		switch stream {
		case shim.Stdout, shim.Stderr:
			if o.Out != nil {
				if werr := writeOut(o.Out, ex.Config.Tty || o.Raw, stream, b); werr != nil {
					o.Out = nil // the client went; keep reading to the end
				}
			}
		case shim.Exit:
			if s, err := shim.ExitStatus(b); err == nil {
				e.execEnded(ex, &c, s.ExitCode)
			}
			return nil
		}
	}
}

func (e *Engine) execEnded(ex *Exec, c *Container, code int) {
	ex.mu.Lock()
	ex.running = false
	ex.exitCode = &code
	ex.mu.Unlock()
	e.event(c, "exec_die", map[string]string{"execID": ex.ID, "exitCode": strconv.Itoa(code)})
}

// refreshExec asks the shim how a running exec is doing.
func (e *Engine) refreshExec(ex *Exec, sc *shim.Client) {
	ex.mu.Lock()
	running := ex.running
	ex.mu.Unlock()
	if !running || sc == nil {
		return
	}
	resp, err := sc.ExecState(ex.ID)
	ex.mu.Lock()
	defer ex.mu.Unlock()
	switch {
	case err != nil:
		// The shim (and so the container) is gone.
		ex.running = false
	case resp.Status != nil:
		ex.running = false
		code := resp.Status.ExitCode
		ex.exitCode = &code
	}
}

// ExecInspect reports an exec's state.
func (e *Engine) ExecInspect(id string) (*ExecState, error) {
	ex, err := e.getExec(id)
	if err != nil {
		return nil, err
	}
	if x, err := e.get(ex.ContainerID); err == nil {
		x.mu.Lock()
		sc := x.shim
		x.mu.Unlock()
		e.refreshExec(ex, sc)
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return &ExecState{ID: ex.ID, ContainerID: ex.ContainerID, Config: ex.Config, Running: ex.running, ExitCode: ex.exitCode, Pid: ex.pid}, nil
}

// ExecResize sets the terminal size of a running exec.
func (e *Engine) ExecResize(id string, height, width uint16) error {
	ex, err := e.getExec(id)
	if err != nil {
		return err
	}
	x, err := e.get(ex.ContainerID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	sc := x.shim
	x.mu.Unlock()
	if sc == nil {
		return errNotRunning(ex.ContainerID)
	}
	return sc.Resize(id, width, height)
}

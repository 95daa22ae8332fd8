package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/ids"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/shim"
)

// errNotRunning is Docker's 409 for operations that need a live process.
func errNotRunning(id string) error {
	return errConflict("Container %s is not running", id)
}

// Stop sends the stop signal (the container's, or signal if given), waits
// up to timeout (the container's --stop-timeout, else 10 s; negative waits
// forever), then kills. A container that is not running is left alone
// (ErrNotModified).
func (e *Engine) Stop(ctx context.Context, ref string, timeout *int, signal string) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	// A start in progress (a restart policy's, say) finishes first: its end
	// would overwrite what a stop decides now.
	for i := 0; x.busy && i < 500; i++ {
		x.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		x.mu.Lock()
	}
	if x.c.State.Status == StatusRestarting {
		// A pending restart is cancelled: the user stopped it.
		x.c.State.Status = StatusExited
		x.c.State.StoppedByUser = true
		_ = e.save(x)
		x.mu.Unlock()
		return nil
	}
	if !x.c.State.Running() {
		x.mu.Unlock()
		return ErrNotModified
	}
	x.c.State.StoppedByUser = true
	_ = e.save(x)
	exited := x.exited
	sigName := x.c.Config.StopSignal
	wait := 10
	if x.c.Config.StopTimeout != nil {
		wait = *x.c.Config.StopTimeout
	}
	paused := x.c.State.Status == StatusPaused
	id := x.c.ID
	x.mu.Unlock()
	if signal != "" {
		sigName = signal
	}
	if timeout != nil {
		wait = *timeout
	}
	sig := unix.SIGTERM
	if sigName != "" {
		if sig, err = runtime.ParseSignal(sigName); err != nil {
			return err
		}
	}
	if err := e.signal(id, sig, false); err != nil && !isNotRunning(err) {
		return err
	}
	if paused {
		_ = e.rt.Resume(id)
	}
	if wait >= 0 {
		t := time.NewTimer(time.Duration(wait) * time.Second)
		defer t.Stop()
		select {
		case <-exited:
			return nil
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := e.signal(id, unix.SIGKILL, true); err != nil && !isNotRunning(err) {
			return err
		}
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isNotRunning(err error) bool {
	return errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrNotFound)
}

// signal sends sig to the container's init (or all its processes).
func (e *Engine) signal(id string, sig unix.Signal, all bool) error {
	return e.rt.Kill(id, sig, all)
}

// Kill sends a signal (default SIGKILL) to a running container.
func (e *Engine) Kill(ctx context.Context, ref, signal string) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	sig := unix.SIGKILL
	if signal != "" {
		if sig, err = runtime.ParseSignal(signal); err != nil {
			return err
		}
	}
	x.mu.Lock()
	if !x.c.State.Running() {
		x.mu.Unlock()
		return errNotRunning(x.c.ID)
	}
	if sig == unix.SIGKILL || sig == unix.SIGTERM {
		x.c.State.StoppedByUser = true
		_ = e.save(x)
	}
	id, exited := x.c.ID, x.exited
	paused := x.c.State.Status == StatusPaused
	snap := x.c
	x.mu.Unlock()
	if err := e.signal(id, sig, false); err != nil {
		if isNotRunning(err) {
			return errNotRunning(id)
		}
		return err
	}
	e.event(&snap, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	if paused && sig == unix.SIGKILL {
		_ = e.rt.Resume(id)
	}
	if sig == unix.SIGKILL {
		// Docker returns once a SIGKILLed container is gone.
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
	}
	return nil
}

// Restart stops (if running) and starts a container.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *int, signal string) error {
	if err := e.Stop(ctx, ref, timeout, signal); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	if err := e.Start(ctx, ref); err != nil && !errors.Is(err, ErrNotModified) {
		return err
	}
	x.mu.Lock()
	snap := x.c
	x.mu.Unlock()
	e.event(&snap, "restart", nil)
	return nil
}

// Pause freezes a running container.
func (e *Engine) Pause(ref string) error { return e.setPaused(ref, true) }

// Unpause thaws a paused container.
func (e *Engine) Unpause(ref string) error { return e.setPaused(ref, false) }

// setPaused freezes or thaws a container's cgroup and records the status.
func (e *Engine) setPaused(ref string, pause bool) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	st := x.c.State.Status
	switch {
	case pause && st == StatusPaused:
		return errConflict("Container %s is already paused", x.c.ID)
	case pause && st != StatusRunning:
		return errNotRunning(x.c.ID)
	case !pause && st != StatusPaused:
		return errConflict("Container %s is not paused", x.c.ID)
	}
	act, next, op := "pause", StatusPaused, e.rt.Pause
	if !pause {
		act, next, op = "unpause", StatusRunning, e.rt.Resume
	}
	if err := op(x.c.ID); err != nil {
		return err
	}
	x.c.State.Status = next
	_ = e.save(x)
	snap := x.c
	go e.event(&snap, act, nil)
	return nil
}

// RemoveOptions are rm's flags.
type RemoveOptions struct {
	Force   bool
	Volumes bool
}

// Remove deletes a container: its writable layer, files and logs. A running
// one needs Force (it is killed first).
func (e *Engine) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if x.c.State.Status == StatusRemoving {
		x.mu.Unlock()
		return errConflict("removal of container %s is already in progress", x.c.ID)
	}
	if x.c.State.Running() || x.c.State.Status == StatusRestarting {
		if !o.Force {
			st := "running"
			if x.c.State.Status == StatusPaused {
				st = "paused"
			}
			x.mu.Unlock()
			return errConflict("cannot remove container \"/%s\": container is %s: stop the container before removing or force remove", x.c.Name, st)
		}
	}
	running := x.c.State.Running()
	x.c.State.StoppedByUser = true
	exited := x.exited
	id := x.c.ID
	prev := x.c.State.Status
	x.c.State.Status = StatusRemoving
	x.mu.Unlock()
	if running {
		if err := e.signal(id, unix.SIGKILL, true); err != nil && !isNotRunning(err) {
			x.mu.Lock()
			x.c.State.Status = prev
			x.mu.Unlock()
			return err
		}
		if prev == StatusPaused {
			_ = e.rt.Resume(id)
		}
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			x.mu.Lock()
			x.c.State.Status = prev
			x.mu.Unlock()
			return fmt.Errorf("container %s did not exit after SIGKILL", id)
		}
	}
	// The exit handler may have auto-removed it meanwhile.
	e.mu.Lock()
	if e.byID[id] != x {
		e.mu.Unlock()
		return nil
	}
	delete(e.byID, id)
	if e.names[x.c.Name] == id {
		delete(e.names, x.c.Name)
	}
	e.mu.Unlock()
	e.cleanupFiles(id)
	e.disconnectNetworks(id)
	if o.Volumes {
		e.removeAnonymousVolumes(&x.c)
	}
	x.mu.Lock()
	x.c.State.Status = StatusRemoving
	snap := x.c
	if x.removed != nil {
		close(x.removed)
		x.removed = nil
	}
	pend := x.attaches
	x.attaches = nil
	x.mu.Unlock()
	for _, p := range pend {
		p.fail(errConflict("container %s was removed", id))
	}
	e.event(&snap, "destroy", nil)
	return nil
}

// Rename changes a container's name.
func (e *Engine) Rename(ref, name string) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	name = trimSlash(name)
	if !ids.ValidName(name, 2) {
		return errInvalid("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	e.mu.Lock()
	x.mu.Lock()
	old := x.c.Name
	if old == name {
		x.mu.Unlock()
		e.mu.Unlock()
		return errInvalid("Renaming a container with the same name as its current name")
	}
	if id, taken := e.names[name]; taken {
		x.mu.Unlock()
		e.mu.Unlock()
		return errConflict("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name", name, id)
	}
	x.c.Name = name
	if err := e.save(x); err != nil {
		x.c.Name = old
		x.mu.Unlock()
		e.mu.Unlock()
		return err
	}
	delete(e.names, old)
	e.names[name] = x.c.ID
	snap := x.c
	x.mu.Unlock()
	e.mu.Unlock()
	e.event(&snap, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// Wait conditions, as the API names them.
const (
	WaitNotRunning = "not-running"
	WaitNextExit   = "next-exit"
	WaitRemoved    = "removed"
)

// WaitResult is how the awaited run ended.
type WaitResult struct {
	ExitCode int
	Error    string
}

// WaitReady registers a wait; the returned function blocks for the result.
// The registration happens before WaitReady returns, so a client that
// starts the container after it (docker run) cannot miss the exit.
func (e *Engine) WaitReady(ref, condition string) (func(ctx context.Context) (*WaitResult, error), error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	switch condition {
	case "", WaitNotRunning, WaitNextExit, WaitRemoved:
	default:
		return nil, errInvalid("invalid condition: %q", condition)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	result := func() *WaitResult {
		x.mu.Lock()
		defer x.mu.Unlock()
		return &WaitResult{ExitCode: x.c.State.ExitCode, Error: x.c.State.Error}
	}
	switch condition {
	case WaitRemoved:
		if x.removed == nil {
			x.removed = make(chan struct{})
		}
		ch := x.removed
		// The record stays readable after removal: the answer is its last
		// exit.
		return func(ctx context.Context) (*WaitResult, error) {
			for {
				x.mu.Lock()
				ex := x.exited
				x.mu.Unlock()
				if ex == nil {
					select {
					case <-ch:
						return result(), nil
					case <-ctx.Done():
						return nil, ctx.Err()
					case <-time.After(50 * time.Millisecond):
						continue // a restart may have begun
					}
				}
				select {
				case <-ex:
				case <-ch:
					return result(), nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}, nil
	case WaitNextExit:
		w := make(chan struct{})
		x.waiters = append(x.waiters, w)
		return func(ctx context.Context) (*WaitResult, error) {
			select {
			case <-w:
				return result(), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}, nil
	default:
		if !x.c.State.Running() && x.c.State.Status != StatusRestarting {
			r := &WaitResult{ExitCode: x.c.State.ExitCode, Error: x.c.State.Error}
			return func(context.Context) (*WaitResult, error) { return r, nil }, nil
		}
		w := make(chan struct{})
		x.waiters = append(x.waiters, w)
		return func(ctx context.Context) (*WaitResult, error) {
			select {
			case <-w:
				return result(), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}, nil
	}
}

// wakeWaiters ends next-exit and not-running waits. x.mu is held.
func wakeWaiters(x *ctr) {
	for _, w := range x.waiters {
		close(w)
	}
	x.waiters = nil
}

// restore reconnects to the shims of containers that were running when the
// last daemon stopped, records the exits that happened meanwhile, and
// starts what the restart policies ask for (after a host restart nothing
// is running any more).
func (e *Engine) restore() {
	for _, x := range e.byID {
		x.mu.Lock()
		st := x.c.State.Status
		x.mu.Unlock()
		switch st {
		case StatusRunning, StatusPaused:
			sc := &shim.Client{Dir: e.stateDir(x.c.ID)}
			if resp, err := sc.State(); err == nil && resp.Running {
				e.holdVolumes(&x.c)
				x.mu.Lock()
				x.shim = sc
				x.exited = make(chan struct{})
				x.mu.Unlock()
				e.monitor(x, sc)
				e.startHealth(x)
				continue
			}
			ex, err := shim.ReadExit(sc.Dir)
			if err != nil {
				// Neither shim nor record: the host restarted (or the
				// shim was killed). Clean up what the runtime left.
				_ = e.rt.Delete(x.c.ID, true)
				ex = &shim.Status{ExitCode: 255, ExitedAt: now()}
			}
			x.mu.Lock()
			x.exited = make(chan struct{})
			x.mu.Unlock()
			e.exited(x, ex)
		case StatusRestarting:
			x.mu.Lock()
			x.c.State.Status = StatusExited
			x.mu.Unlock()
			e.exited(x, &shim.Status{ExitCode: x.c.State.ExitCode, ExitedAt: now()})
		case StatusExited:
			// As Docker: at daemon start "always" brings a container back
			// even if it was stopped by hand, "unless-stopped" only if not.
			x.mu.Lock()
			rp := x.c.HostConfig.RestartPolicy.Name
			back := !x.c.State.StartedAt.IsZero() && (rp == "always" || (rp == "unless-stopped" && !x.c.State.StoppedByUser))
			if back {
				x.c.State.Status = StatusRestarting
				x.c.State.StoppedByUser = false
				_ = e.save(x)
			}
			x.mu.Unlock()
			if back {
				e.scheduleRestart(x, time.Hour)
			}
		case StatusRemoving:
			e.mu.Lock()
			delete(e.byID, x.c.ID)
			delete(e.names, x.c.Name)
			e.mu.Unlock()
			e.cleanupFiles(x.c.ID)
		}
	}
}

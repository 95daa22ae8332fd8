package engine

import (
	"bytes"
	"context"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/shim"
)

// Docker's health check defaults.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	healthLogKeep         = 5
	healthOutputMax       = 4096
)

type healthMonitor struct {
	cancel context.CancelFunc
}

func healthDisabled(h *Healthcheck) bool {
	return h == nil || len(h.Test) == 0 || h.Test[0] == "NONE"
}

// startHealth starts probing a running container with a health check.
func (e *Engine) startHealth(x *ctr) {
	x.mu.Lock()
	defer x.mu.Unlock()
	h := x.c.Config.Healthcheck
	if healthDisabled(h) || x.health != nil || x.shim == nil {
		return
	}
	if x.c.State.Health == nil {
		x.c.State.Health = &Health{Status: "starting"}
	}
	ctx, cancel := context.WithCancel(e.ctx)
	x.health = &healthMonitor{cancel: cancel}
	interval, timeout, retries, start := h.Interval, h.Timeout, h.Retries, h.StartPeriod
	if interval <= 0 {
		interval = defaultHealthInterval
	}
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	startInterval := h.StartInterval
	if startInterval <= 0 {
		startInterval = interval
	}
	started := x.c.State.StartedAt
	sc := x.shim
	var args []string
	switch h.Test[0] {
	case "CMD":
		args = h.Test[1:]
	case "CMD-SHELL":
		args = []string{"/bin/sh", "-c", joinArgs(h.Test[1:])}
	default:
		args = h.Test
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			wait := interval
			if time.Since(started) < start {
				wait = startInterval
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			res := e.probe(ctx, x, sc, args, timeout)
			if ctx.Err() != nil {
				return
			}
			e.recordProbe(x, res, retries, time.Since(started) < start)
		}
	}()
}

func joinArgs(a []string) string {
	var b bytes.Buffer
	for i, s := range a {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}

// probe runs one health check command in the container.
func (e *Engine) probe(ctx context.Context, x *ctr, sc *shim.Client, args []string, timeout time.Duration) HealthLog {
	res := HealthLog{Start: now(), ExitCode: -1}
	id, err := e.ExecCreate(x.c.ID, ExecConfig{Cmd: args, AttachStdout: true, AttachStderr: true})
	if err != nil {
		res.End, res.Output = now(), err.Error()
		return res
	}
	defer func() {
		e.mu.Lock()
		delete(e.execs, id)
		e.mu.Unlock()
	}()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out limitedBuffer
	err = e.ExecStart(pctx, id, ExecStartOptions{Out: &out, Raw: true})
	res.End = now()
	st, ierr := e.ExecInspect(id)
	switch {
	case pctx.Err() == context.DeadlineExceeded:
		res.ExitCode = -1
		res.Output = "Health check exceeded timeout (" + timeout.String() + ")"
		if st != nil && st.Pid > 0 {
			_ = killPid(st.Pid)
		}
	case err != nil:
		res.Output = err.Error()
	case ierr == nil && st.ExitCode != nil:
		res.ExitCode = *st.ExitCode
		res.Output = out.String()
	}
	return res
}

// recordProbe updates the health state with a probe's result.
func (e *Engine) recordProbe(x *ctr, res HealthLog, retries int, inStart bool) {
	x.mu.Lock()
	h := x.c.State.Health
	if h == nil || !x.c.State.Running() {
		x.mu.Unlock()
		return
	}
	before := h.Status
	if res.ExitCode == 0 {
		h.Status, h.FailingStreak = "healthy", 0
	} else if !inStart || h.Status != "starting" {
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = "unhealthy"
		}
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > healthLogKeep {
		h.Log = h.Log[len(h.Log)-healthLogKeep:]
	}
	_ = e.save(x)
	snap := x.c
	x.mu.Unlock()
	if h.Status != before {
		e.event(&snap, "health_status: "+h.Status, nil)
	}
}

// stopHealth ends the probes. x.mu is held.
func (e *Engine) stopHealth(x *ctr) {
	if x.health != nil {
		x.health.cancel()
		x.health = nil
	}
}

// limitedBuffer keeps the first healthOutputMax bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := healthOutputMax - l.Len(); room > 0 {
		if len(p) > room {
			l.Buffer.Write(p[:room])
		} else {
			l.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// killPid ends a probe that overran its timeout.
func killPid(pid int) error { return unix.Kill(pid, unix.SIGKILL) }

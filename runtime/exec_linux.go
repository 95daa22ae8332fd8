package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/runtime/seccomp"
)

// ExecOpts describe a process to run in a running container.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	Stdio         [3]*os.File
}

// Exec starts a process in the namespaces and cgroup of a running container
// and returns once it has exec'd; Wait on the result for its exit status.
func (r *Runtime) Exec(id string, o ExecOpts) (_ *Process, retErr error) {
	rec, err := r.load(id)
	if err != nil {
		return nil, err
	}
	if st := r.status(rec); st != StatusRunning && st != StatusCreated {
		return nil, fmt.Errorf("container %q is %s: cannot exec into it: %w", id, st, errdefs.ErrConflict)
	}
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return nil, fmt.Errorf("exec: no command given: %w", errdefs.ErrInvalidArgument)
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if err := validateProcess(p); err != nil {
		return nil, err
	}
	if err := validateProcessAttrs(p, nil); err != nil {
		return nil, err
	}
	if p.Terminal && o.ConsoleSocket == "" {
		return nil, fmt.Errorf("exec with a terminal needs --console-socket: %w", errdefs.ErrInvalidArgument)
	}
	cg, err := loadCgroup(rec)
	if err != nil {
		return nil, err
	}

	var nss []specs.LinuxNamespace
	for _, ns := range rec.Spec.Linux.Namespaces {
		name := procNsName[ns.Type]
		path := "/proc/" + strconv.Itoa(rec.Pid) + "/ns/" + name
		if sameNamespace(path, "/proc/self/ns/"+name) {
			continue
		}
		nss = append(nss, specs.LinuxNamespace{Type: ns.Type, Path: path})
	}
	var extra []*os.File
	for fd := 3; fd < 3+o.PreserveFDs; fd++ {
		extra = append(extra, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	consoleFd := 0
	if o.ConsoleSocket != "" {
		conn, err := dialConsoleSocket(o.ConsoleSocket)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		consoleFd = 3 + len(extra)
		extra = append(extra, conn)
	}
	initPath, initArgs, err := r.initCommand()
	if err != nil {
		return nil, err
	}
	// As at create: on cgroup v1 the process joins the cgroup itself.
	tasks, err := cg.TaskFiles()
	if err != nil {
		return nil, fmt.Errorf("join container cgroup: %w", err)
	}
	ch, err := spawn(&spawnOpts{initPath: initPath, initArgs: initArgs, namespaces: nss, stdio: o.Stdio, extraFiles: extra, setsid: p.Terminal, cgroupTasks: tasks})
	for _, f := range tasks {
		f.Close()
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			ch.kill()
		}
	}()
	if a := p.ExecCPUAffinity; a != nil && a.Initial != "" {
		if err := setAffinity(ch.pid, a.Initial); err != nil {
			return nil, err
		}
	}
	switch {
	case len(tasks) == 0:
		if err := cg.AddPid(ch.pid); err != nil {
			return nil, fmt.Errorf("join container cgroup: %w", err)
		}
	case cg.NeedsUnifiedJoin(rec.Spec.Linux.Resources):
		if err := cg.JoinUnified(ch.pid); err != nil {
			return nil, fmt.Errorf("join container cgroup: %w", err)
		}
	}
	prog, err := seccomp.Compile(rec.Spec.Linux.Seccomp, r.SeccompCache)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	cfg := &initConfig{
		Exec: true, ID: id, Spec: rec.Spec, Process: p, Rootfs: rec.Rootfs, Bundle: rec.Bundle,
		ConsoleFd: consoleFd, PreserveFDs: o.PreserveFDs, Pid: ch.pid, Seccomp: prog,
	}
	if err := ch.send(cfg); err != nil {
		return nil, ch.failure(err)
	}
	for done := false; !done; {
		m, err := ch.recv()
		switch {
		case errors.Is(err, io.EOF):
			// The sync socket is close-on-exec: the process is running.
			done = true
		case err != nil:
			return nil, fmt.Errorf("exec process: %w", err)
		case m.Type == msgError:
			_, _ = ch.proc.Wait()
			return nil, errors.New(m.Error)
		case m.Type == msgSeccomp:
			st := r.stateOf(rec).State
			if err := passSeccompFd(ch.pid, m.Fd, rec.Spec.Linux.Seccomp, st); err != nil {
				return nil, err
			}
			if err := ch.send(syncMsg{Type: msgOK}); err != nil {
				return nil, fmt.Errorf("exec process: %w", err)
			}
		default:
			return nil, fmt.Errorf("exec process: unexpected message %q", m.Type)
		}
	}
	ch.conn.Close()
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, ch.pid); err != nil {
			return nil, err
		}
	}
	return &Process{Pid: ch.pid, process: ch.proc}, nil
}

func sameNamespace(a, b string) bool {
	x, err1 := os.Readlink(a)
	y, err2 := os.Readlink(b)
	return err1 == nil && err2 == nil && x == y
}

package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// proc is a child process of this one that can be signalled and reaped.
type proc interface {
	Signal(os.Signal) error
	Wait() (syscall.WaitStatus, error)
}

// osProc is a child started through os/exec (the Go init's path).
type osProc struct{ p *os.Process }

func (o osProc) Signal(sig os.Signal) error { return o.p.Signal(sig) }

func (o osProc) Wait() (syscall.WaitStatus, error) {
	st, err := o.p.Wait()
	if err != nil {
		return 0, err
	}
	return st.Sys().(syscall.WaitStatus), nil
}

// pidProc is a child cloned by this process (the C init), held by a pidfd so
// that a signal never reaches a recycled PID. os.FindProcess does the same,
// but its first use in a process probes pidfd support with four system calls
// (0.2 ms here).
type pidProc struct {
	pid  int
	mu   sync.Mutex
	fd   int // -1 once reaped, or without pidfd (kernel < 5.3)
	done bool

	once sync.Once
	ws   syscall.WaitStatus
	err  error
}

func newPidProc(pid int) *pidProc {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		fd = -1
	}
	return &pidProc{pid: pid, fd: fd}
}

func (p *pidProc) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal %v: not a syscall.Signal", sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return os.ErrProcessDone
	}
	if p.fd >= 0 {
		return unix.PidfdSendSignal(p.fd, s, nil, 0)
	}
	return unix.Kill(p.pid, s)
}

// Wait reaps the process once; later calls return the same status.
func (p *pidProc) Wait() (syscall.WaitStatus, error) {
	p.once.Do(func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(p.pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				p.err = err
				break
			}
		}
		p.ws = syscall.WaitStatus(ws)
		p.mu.Lock()
		p.done = true
		if p.fd >= 0 {
			unix.Close(p.fd)
			p.fd = -1
		}
		p.mu.Unlock()
	})
	return p.ws, p.err
}

// waitString says how a process ended, as os.ProcessState does.
func waitString(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		s := "signal: " + ws.Signal().String()
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

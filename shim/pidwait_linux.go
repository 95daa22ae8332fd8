package shim

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

// waitPid waits for pid, a child of this process, to end and reaps it; done
// gets its status (runtime.ExitStatus) under s.mu, so that a handover sees
// a process either running or reaped and recorded. While a handover is
// under way the child is left for the next image.
//
// The wait holds no thread: a pidfd becomes readable when its process ends,
// and the runtime's poller watches it. Without pidfds (Linux < 5.3) a thread
// waits with WNOWAIT, which leaves the child to be reaped here.
func (s *server) waitPid(pid int, done func(code int, err error)) {
	var pidfd *os.File
	if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		pidfd = os.NewFile(uintptr(fd), "pidfd")
		defer pidfd.Close()
	}
	for {
		if pidfd == nil || waitReadable(pidfd) != nil {
			var info unix.Siginfo
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != nil && !errors.Is(err, unix.EINTR) && !errors.Is(err, unix.ECHILD) {
				s.mu.Lock()
				done(-1, err)
				s.mu.Unlock()
				return
			}
		}
		s.mu.Lock()
		if fr := s.frozen; fr != nil {
			s.mu.Unlock()
			<-fr
			continue
		}
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR) || (err == nil && wpid == 0):
			s.mu.Unlock()
			continue
		case err != nil:
			done(-1, err)
		default:
			done(runtime.ExitStatus(ws), nil)
		}
		s.mu.Unlock()
		return
	}
}

// waitReadable waits until f (in the poller) can be read.
func waitReadable(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	first := true
	return rc.Read(func(fd uintptr) bool {
		if first {
			// The poller reports edges: ask once whether it is readable
			// already.
			first = false
			p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(p, 0)
			return err == nil && n > 0
		}
		return true
	})
}

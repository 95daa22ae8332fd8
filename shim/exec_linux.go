package shim

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime"
)

// execProc is a process exec'd into the container.
type execProc struct {
	pid     int
	console *os.File
	done    chan struct{}
	status  Status
}

// exec runs req.Process in the container. Attached, c carries its stdio as
// frames and ends with its exit status; detached, c gets the pid and closes.
func (s *server) exec(c *net.UnixConn, br *bufio.Reader, req Request) {
	if req.ExecID == "" || req.Process == nil {
		_ = reply(c, Response{Error: "exec: no id or process"})
		return
	}
	s.mu.Lock()
	if _, dup := s.execs[req.ExecID]; dup {
		s.mu.Unlock()
		_ = reply(c, Response{Error: fmt.Sprintf("exec %s: already started", req.ExecID)})
		return
	}
	e := &execProc{done: make(chan struct{})}
	s.execs[req.ExecID] = e
	s.mu.Unlock()
	fail := func(err error) {
		s.mu.Lock()
		delete(s.execs, req.ExecID)
		s.mu.Unlock()
		_ = reply(c, Response{Error: err.Error()})
	}

	opts := runtime.ExecOpts{Process: req.Process}
	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	var stdinW *os.File
	var outs []*os.File
	var consoleLn *net.UnixListener
	tty := req.Process.Terminal && !req.Detach
	if req.Detach {
		req.Process.Terminal = false
	}
	if tty {
		var err error
		consoleLn, opts.ConsoleSocket, err = listenConsole(s.dir)
		if err != nil {
			fail(err)
			return
		}
		defer consoleLn.Close()
	} else {
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			fail(err)
			return
		}
		childEnds = append(childEnds, null)
		opts.Stdio = [3]*os.File{null, null, null}
		if !req.Detach {
			if req.Stdin {
				r, w, err := os.Pipe()
				if err != nil {
					closeAll(childEnds)
					fail(err)
					return
				}
				childEnds, parentEnds = append(childEnds, r), append(parentEnds, w)
				opts.Stdio[0], stdinW = r, w
			}
			for i := 1; i <= 2; i++ {
				r, w, err := os.Pipe()
				if err != nil {
					closeAll(childEnds)
					closeAll(parentEnds)
					fail(err)
					return
				}
				childEnds, parentEnds = append(childEnds, w), append(parentEnds, r)
				opts.Stdio[i] = w
				outs = append(outs, r)
			}
		}
	}
	var consoleErr error
	consoleDone := make(chan struct{})
	if consoleLn != nil {
		go func() {
			defer close(consoleDone)
			e.console, consoleErr = acceptConsole(consoleLn)
		}()
	}
	p, err := s.runtime().Exec(s.cfg.ID, opts)
	closeAll(childEnds)
	if err != nil {
		closeAll(parentEnds)
		if consoleLn != nil {
			consoleLn.Close()
			<-consoleDone
			if e.console != nil {
				e.console.Close()
			}
		}
		fail(err)
		return
	}
	if consoleLn != nil {
		select {
		case <-consoleDone:
		case <-time.After(10 * time.Second):
			consoleLn.Close()
			<-consoleDone
		}
		if consoleErr != nil {
			_ = p.Signal(unix.SIGKILL)
			s.waitPid(p.Pid, func(int, error) {})
			fail(consoleErr)
			return
		}
		outs = []*os.File{e.console}
		stdinW = e.console
	}
	e.pid = p.Pid
	if err := reply(c, Response{Pid: p.Pid, Running: true}); err != nil || req.Detach {
		// Detached (or the client vanished): the process runs on; record
		// its end for execState.
		go func() {
			s.waitPid(p.Pid, e.finish)
			closeAll(outs)
			if stdinW != nil && stdinW != e.console {
				stdinW.Close()
			}
		}()
		return
	}

	var wmu sync.Mutex
	send := func(stream byte, b []byte) {
		wmu.Lock()
		_ = WriteFrame(c, stream, b)
		wmu.Unlock()
	}
	var pumps sync.WaitGroup
	for i, f := range outs {
		stream := Stdout
		if i == 1 {
			stream = Stderr
		}
		pumps.Add(1)
		go func(f *os.File, stream byte) {
			defer pumps.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := f.Read(buf)
				if n > 0 {
					send(stream, buf[:n])
				}
				if err != nil {
					return
				}
			}
		}(f, stream)
	}
	if stdinW != nil && req.Stdin {
		go func() {
			_, _ = io.Copy(stdinW, br)
			if stdinW != e.console {
				stdinW.Close()
			} else {
				// EOF on a terminal: ^D, as a user typing would.
				_, _ = e.console.Write([]byte{4})
			}
		}()
	}
	var code int
	var werr error
	s.waitPid(p.Pid, func(c int, err error) { code, werr = c, err })
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	if e.console != nil {
		// A pty master reads EIO once the last slave fd closes, which is
		// now unless the process left children holding it.
		select {
		case <-drained:
		case <-time.After(500 * time.Millisecond):
		}
	} else {
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
	}
	s.mu.Lock()
	e.finish(code, werr)
	s.mu.Unlock()
	wmu.Lock()
	err = WriteFrame(c, Exit, appendStatus(nil, e.status))
	wmu.Unlock()
	if err == nil {
		s.mu.Lock()
		s.sent(req.ExecID)
		s.mu.Unlock()
	}
	closeAll(outs)
	if stdinW != nil && stdinW != e.console {
		stdinW.Close()
	}
}

// keepSent is how many records of execs whose client got the exit status
// a shim keeps: one that stopped reading just before it may still ask
// execState. Older ones go; a health check execs every 30 s for the whole
// life of its container.
const keepSent = 16

// sent notes that the client of exec id has its exit status, and forgets
// the oldest such records beyond keepSent (s.mu held).
func (s *server) sent(id string) {
	s.sentExecs = append(s.sentExecs, id)
	if n := len(s.sentExecs) - keepSent; n > 0 {
		for _, old := range s.sentExecs[:n] {
			delete(s.execs, old)
		}
		s.sentExecs = append(s.sentExecs[:0], s.sentExecs[n:]...)
	}
}

// finish records how the process ended (s.mu held).
func (e *execProc) finish(code int, err error) {
	e.status = Status{ExitCode: code, ExitedAt: time.Now().UTC()}
	if err != nil {
		e.status.ExitCode, e.status.Error = 255, err.Error()
	}
	close(e.done)
}

func (s *server) execState(id string) Response {
	s.mu.Lock()
	e := s.execs[id]
	s.mu.Unlock()
	if e == nil {
		return Response{Error: fmt.Sprintf("no exec %s", id)}
	}
	select {
	case <-e.done:
		st := e.status
		return Response{Pid: e.pid, Status: &st}
	default:
		return Response{Pid: e.pid, Running: true}
	}
}

// listenConsole makes a console socket for one pty master. Its path must
// fit in a sockaddr and be reachable by the runtime: under dir when short
// enough, else in a private temporary directory.
func listenConsole(dir string) (*net.UnixListener, string, error) {
	d := filepath.Join(dir, consoleDir)
	if len(d)+16 > maxSocketPath {
		var err error
		if d, err = os.MkdirTemp("", "berth-pty-"); err != nil {
			return nil, "", err
		}
	} else if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, "", err
	}
	f, err := os.CreateTemp(d, "c")
	if err != nil {
		return nil, "", err
	}
	path := f.Name()
	f.Close()
	os.Remove(path)
	ln, err := listenUnix(path)
	if err != nil {
		return nil, "", err
	}
	ln.SetUnlinkOnClose(true)
	return ln, path, nil
}

// acceptConsole receives a pty master, made non-blocking: its reads and
// writes then wait in the poller, not on a thread of their own, and a
// handover can stop them with a deadline.
func acceptConsole(ln *net.UnixListener) (*os.File, error) {
	c, err := ln.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("no terminal from the container: %w", err)
	}
	defer c.Close()
	f, err := runtime.RecvConsole(c)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("pty master: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// listenUnix listens on a fresh socket only root can reach.
func listenUnix(path string) (*net.UnixListener, error) {
	_ = os.Remove(path)
	addr, done, err := shortPath(path)
	if err != nil {
		return nil, err
	}
	defer done()
	old := unix.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	unix.Umask(old)
	if err == nil {
		// Unlink by the real path: the short one dies with done().
		ln.SetUnlinkOnClose(false)
	}
	return ln, err
}

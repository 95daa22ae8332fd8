package shim

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/runtime"
)

// A shim hands over to a fresh image of itself.
//
// Creating a container (and exec'ing into one) leaves a shim's memory full
// of what it no longer needs: encoding/json's caches for the runtime-spec
// types, the set-up's heap and the runtime metadata that grew with it. So
// once the container has started, and again after an exec, a shim that
// nobody is talking to re-executes itself (the same pid: it is still the
// container's parent and reaps it) as "berth shim --resume FD STATEDIR".
// It keeps its file descriptors (the listening socket, the container's
// stdio or pty master, waiting and attached connections) and passes what
// they are, with the exec records, in the memfd FD (see handover.marshal).
// The new image reads that and shim.json without encoding/json (wire.go);
// package runtime's state is read again only by an exec or at the exit.
//
// A handover waits for quiet: no request being answered and no attach
// holding the container's stdin (those hand over once they end). It stops
// accepting (connections wait in the socket's backlog), stops the output
// copiers (a half-read line is logged as a partial record) and keeps any
// child from being reaped, then executes. Measured, a supervising shim
// holds about 0.8 MB instead of 1.7 MB; a handover costs about 3 ms of
// CPU, off the start's path.

// shedDelay is how long a shim waits, idle, before handing over: a short
// container ends first, and requests that come in a burst (a start, then a
// wait) are answered by this image.
const shedDelay = 100 * time.Millisecond

// sleepDelay is how long a resumed image waits, idle (no request, no
// output), before it sleeps: it executes the shim's C sleeper (sleep.c),
// which holds the same file descriptors, polls them and the container's
// init, and executes "berth shim --resume" again as soon as any of them
// has something: a connection, output, a hangup, the exit. Asleep, a shim
// holds about 50 kB of its own instead of 0.8 MB; a wake costs about 3 ms
// of CPU, so a container that prints something every few seconds keeps
// its shim awake half the time at worst.
const sleepDelay = time.Second

// maxSleepFds is the most file descriptors the sleeper polls (sleep.c).
const maxSleepFds = 64

// handover is what a shim passes to its next image, besides shim.json.
// Numbers are file descriptors, inherited.
type handover struct {
	Pid      int // the container's init
	Listener int
	Console  int // 0: none
	Stdin    int // 0: none (or closed)
	Outs     []int
	StdinUse bool
	Waiters  []int
	Attached []attachState
	Execs    []execState
	Sent     []string // ids of execs whose client got the exit status, oldest first
}

type attachState struct {
	Fd             int
	Stdout, Stderr bool
}

type execState struct {
	ID     string
	Pid    int
	Status *Status // nil while it runs
}

// marshal encodes h as lines of words (not JSON: see wire.go):
//
//	pid 1234
//	ln 5
//	out 7
//	waiter 9
//	attach 10 1 0
//	exec "ID" 1240
//	exec "ID" 1241 {"exitCode":0,"exitedAt":"..."}
//	sent "ID"
func (h *handover) marshal() []byte {
	var b []byte
	word := func(key string, ns ...int) {
		b = append(b, key...)
		for _, n := range ns {
			b = strconv.AppendInt(append(b, ' '), int64(n), 10)
		}
		b = append(b, '\n')
	}
	word("pid", h.Pid)
	word("ln", h.Listener)
	if h.Console > 0 {
		word("console", h.Console)
	}
	if h.Stdin > 0 {
		word("stdin", h.Stdin)
	}
	for _, fd := range h.Outs {
		word("out", fd)
	}
	if h.StdinUse {
		word("stdinUse")
	}
	for _, fd := range h.Waiters {
		word("waiter", fd)
	}
	flag := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	for _, a := range h.Attached {
		word("attach", a.Fd, flag(a.Stdout), flag(a.Stderr))
	}
	for _, x := range h.Execs {
		b = strconv.AppendQuote(append(b, "exec "...), x.ID)
		b = strconv.AppendInt(append(b, ' '), int64(x.Pid), 10)
		if x.Status != nil {
			b = appendStatus(append(b, ' '), *x.Status)
		}
		b = append(b, '\n')
	}
	for _, id := range h.Sent {
		b = append(strconv.AppendQuote(append(b, "sent "...), id), '\n')
	}
	return b
}

func (h *handover) unmarshal(b []byte) error {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		key, rest, _ := strings.Cut(line, " ")
		if key == "sent" {
			id, err := strconv.Unquote(rest)
			if err != nil {
				return fmt.Errorf("handover: %q: %w", line, err)
			}
			h.Sent = append(h.Sent, id)
			continue
		}
		if key == "exec" {
			id, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return fmt.Errorf("handover: %q: %w", line, err)
			}
			x := execState{}
			x.ID, _ = strconv.Unquote(id)
			pid, st, _ := strings.Cut(strings.TrimPrefix(rest[len(id):], " "), " ")
			if x.Pid, err = strconv.Atoi(pid); err != nil {
				return fmt.Errorf("handover: %q: %w", line, err)
			}
			if st != "" {
				if x.Status, err = decodeStatus([]byte(st)); err != nil {
					return fmt.Errorf("handover: %q: %w", line, err)
				}
			}
			h.Execs = append(h.Execs, x)
			continue
		}
		var ns []int
		for _, w := range strings.Fields(rest) {
			n, err := strconv.Atoi(w)
			if err != nil {
				return fmt.Errorf("handover: %q: %w", line, err)
			}
			ns = append(ns, n)
		}
		want := 1
		switch key {
		case "stdinUse":
			want = 0
		case "attach":
			want = 3
		}
		if len(ns) != want {
			return fmt.Errorf("handover: %q: not understood", line)
		}
		switch key {
		case "pid":
			h.Pid = ns[0]
		case "ln":
			h.Listener = ns[0]
		case "console":
			h.Console = ns[0]
		case "stdin":
			h.Stdin = ns[0]
		case "out":
			h.Outs = append(h.Outs, ns[0])
		case "stdinUse":
			h.StdinUse = true
		case "waiter":
			h.Waiters = append(h.Waiters, ns[0])
		case "attach":
			h.Attached = append(h.Attached, attachState{Fd: ns[0], Stdout: ns[1] == 1, Stderr: ns[2] == 1})
		default:
			return fmt.Errorf("handover: %q: not understood", line)
		}
	}
	if h.Pid <= 0 || h.Listener <= 0 {
		return errors.New("handover: no pid or listener")
	}
	return nil
}

// kick arms the handover timer (s.mu held): a heavy image hands over to a
// resumed one after shedDelay, a resumed one sleeps after sleepDelay.
func (s *server) kick() {
	if s.noShed {
		return
	}
	delay := shedDelay
	if !s.heavy {
		delay = sleepDelay // a resumed image: it sleeps
	}
	if s.shedT == nil {
		s.shedT = time.AfterFunc(delay, s.shed)
	} else {
		s.shedT.Reset(delay)
	}
}

// idle reports whether a handover may start (s.mu held).
func (s *server) idle() bool {
	select {
	case <-s.started:
	default:
		return false
	}
	if s.noShed || s.reaped || s.busy > 0 {
		return false
	}
	for a := range s.attached {
		if a.stdin {
			return false
		}
	}
	if !s.heavy {
		// To sleep: nothing that streams (attachments, execs that run:
		// their output and their end are this image's to handle) and no
		// more descriptors than the sleeper polls. An attachment whose
		// client went away is dropped here: nothing else notices it
		// while the container is quiet.
		for a := range s.attached {
			a.mu.Lock()
			dead := a.dead || peerClosed(a.conn)
			if dead {
				a.dead = true
				a.conn.Close()
				delete(s.attached, a)
			}
			a.mu.Unlock()
			if !dead {
				return false
			}
		}
		if len(s.waiters)+len(s.outs)+2 > maxSleepFds {
			return false
		}
		for _, e := range s.execs {
			select {
			case <-e.done:
			default:
				return false
			}
		}
	}
	return true
}

// shed hands over to a fresh image if the shim is idle. It returns only if
// it could not.
func (s *server) shed() {
	s.mu.Lock()
	if s.frozen != nil || !s.idle() {
		if s.frozen == nil && !s.heavy && !s.reaped {
			// Awake for an attachment or an exec: look again later
			// (their end may come without a request or output).
			s.kick()
		}
		s.mu.Unlock()
		return
	}
	// From now on no child is reaped and no attachment closed here.
	fr := make(chan struct{})
	s.frozen = fr
	s.mu.Unlock()
	runtime.Trace("shim: handover")

	_ = s.ln.SetDeadline(time.Unix(1, 0))
	<-s.paused
	s.mu.Lock()
	ok := s.idle()
	s.mu.Unlock()
	if !ok {
		// A request came in meanwhile: it kicks again when it is done.
		s.thaw(fr)
		return
	}
	outs := s.outs
	if s.console != nil {
		outs = []*os.File{s.console}
	}
	for _, f := range outs {
		_ = f.SetReadDeadline(time.Unix(1, 0))
	}
	s.copiers.Wait()

	err := s.reexec(!s.heavy)
	// Still here: go on in this image, for good.
	fmt.Fprintf(os.Stderr, "berth shim: hand over: %v\n", err)
	for _, f := range outs {
		_ = f.SetReadDeadline(time.Time{})
	}
	s.copyOutput()
	s.mu.Lock()
	s.noShed = true
	s.mu.Unlock()
	s.thaw(fr)
}

// thaw gives a handover up: the accept loop and the waits go on.
func (s *server) thaw(fr chan struct{}) {
	_ = s.ln.SetDeadline(time.Time{})
	s.mu.Lock()
	s.frozen = nil
	s.mu.Unlock()
	close(fr)
	s.unpaused <- struct{}{}
}

// reexec passes the state to a new image of this program and runs it: the
// sleeper if sleep, else the Go shim. It returns only on a failure.
func (s *server) reexec(sleep bool) (err error) {
	h := handover{Pid: s.pid}
	var keep []syscall.Conn // what the new image gets, kept open until the exec
	defer func() {
		// Still here: none of it may leak into a child of this image.
		for _, c := range keep {
			if rc, rerr := c.SyscallConn(); rerr == nil {
				_ = rc.Control(func(f uintptr) { unix.CloseOnExec(int(f)) })
			}
		}
	}()
	pass := func(c syscall.Conn) (int, error) {
		fd := -1
		rc, err := c.SyscallConn()
		if err != nil {
			return -1, err
		}
		if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
			return -1, err
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return -1, err
		}
		keep = append(keep, c)
		return fd, nil
	}
	if h.Listener, err = pass(s.ln); err != nil {
		return err
	}
	if s.console != nil {
		if h.Console, err = pass(s.console); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdin != nil {
		if h.Stdin, err = pass(s.stdin); err != nil {
			return err
		}
	}
	for _, f := range s.outs {
		fd, err := pass(f)
		if err != nil {
			return err
		}
		h.Outs = append(h.Outs, fd)
	}
	h.StdinUse = s.stdinUse
	var gone []*net.UnixConn
	live := s.waiters[:0]
	for _, c := range s.waiters {
		if peerClosed(c) {
			gone = append(gone, c)
			continue
		}
		live = append(live, c)
		fd, err := pass(c)
		if err != nil {
			return err
		}
		h.Waiters = append(h.Waiters, fd)
	}
	s.waiters = live
	for _, c := range gone {
		c.Close()
	}
	for a := range s.attached {
		if a.dead {
			a.conn.Close()
			delete(s.attached, a)
			continue
		}
		fd, err := pass(a.conn)
		if err != nil {
			return err
		}
		h.Attached = append(h.Attached, attachState{Fd: fd, Stdout: a.stdout, Stderr: a.stderr})
	}
	for id, e := range s.execs {
		x := execState{ID: id, Pid: e.pid}
		select {
		case <-e.done:
			st := e.status
			x.Status = &st
		default:
		}
		h.Execs = append(h.Execs, x)
	}
	h.Sent = s.sentExecs
	b := h.marshal()
	mfd, err := unix.MemfdCreate("berth-shim-handover", 0)
	if err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	defer unix.Close(mfd)
	if _, err := unix.Pwrite(mfd, b, 0); err != nil {
		return fmt.Errorf("memfd: %w", err)
	}
	if s.logw != nil {
		// The next image opens the log again (at its end).
		s.logw.Close()
		defer s.reopenLog()
	}
	exe := selfExe()
	argv := []string{"berth", "shim", "--resume", strconv.Itoa(mfd), s.dir}
	if sleep {
		// Woken by: a connection, output (or its end), a waiting daemon
		// that hangs up, and the container's end.
		fds := []int{h.Listener}
		if h.Console > 0 && !s.ended[s.console] {
			fds = append(fds, h.Console)
		}
		for i, f := range s.outs {
			if !s.ended[f] {
				fds = append(fds, h.Outs[i])
			}
		}
		fds = append(fds, h.Waiters...)
		list := make([]string, len(fds))
		for i, fd := range fds {
			list[i] = strconv.Itoa(fd)
		}
		argv = []string{"berth", "shim", "--sleep", strconv.Itoa(s.pid), strings.Join(list, ","), strconv.Itoa(mfd), exe, s.dir}
		runtime.Trace("shim: sleep")
	} else {
		runtime.Trace("shim: exec")
	}
	return fmt.Errorf("exec: %w", syscall.Exec(exe, argv, os.Environ()))
}

// selfExe is the path of this program, when it still names this very file
// (the kernel names the process after it), else /proc/self/exe.
func selfExe() string {
	const self = "/proc/self/exe"
	p, err := os.Executable()
	if err != nil {
		return self
	}
	var a, b unix.Stat_t
	if unix.Stat(self, &a) != nil || unix.Stat(p, &b) != nil || a.Dev != b.Dev || a.Ino != b.Ino {
		return self
	}
	return p
}

func (s *server) reopenLog() {
	if w, err := openLog(s.cfg); err == nil {
		s.logw = w
	}
}

// peerClosed reports whether the other end of c has closed it (a waiting
// daemon that went away, an attached client that is gone). A peer that only
// shut down its writing side (an attached client whose stdin ended: it
// still reads output) has not: POLLHUP comes only when both directions are
// shut, where a read would return EOF for either.
func peerClosed(c *net.UnixConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		p := []unix.PollFd{{Fd: int32(fd)}}
		n, err := unix.Poll(p, 0)
		closed = err == nil && n == 1 && p[0].Revents&unix.POLLHUP != 0
	})
	return closed
}

// resumeMain is "berth shim --resume FD STATEDIR": a shim's next image.
func resumeMain(fdArg, dir string, initExe func() (string, error)) int {
	fd, err := strconv.Atoi(fdArg)
	if err != nil || fd < 3 {
		fmt.Fprintln(os.Stderr, "usage: berth shim --resume FD STATEDIR (a shim's own re-exec)")
		return 2
	}
	// No GC until the memory grows 4 MiB: this image starts with little
	// garbage, and a forced collection would leave about 300 kB of runtime
	// metadata dirty for good.
	tuneGC()
	s, err := resume(dir, fd, initExe)
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth shim: resume: %v\n", err)
		if s != nil && s.pid > 0 {
			s.abandon(err)
		}
		return 1
	}
	s.serve()
	return 0
}

// resume rebuilds a server from what its previous image passed.
func resume(dir string, fd int, initExe func() (string, error)) (*server, error) {
	f := os.NewFile(uintptr(fd), "handover")
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	var h handover
	if err := h.unmarshal(b); err != nil {
		return nil, err
	}
	s, err := newState(dir, initExe)
	if err != nil {
		if h.Pid > 0 {
			s = &server{dir: dir, pid: h.Pid}
			if b, rerr := os.ReadFile(filepath.Join(dir, ConfigFile)); rerr == nil {
				s.cfg, _ = decodeConfig(b)
			}
		}
		return s, err
	}
	s.pid = h.Pid
	close(s.started)
	s.stdinUse = h.StdinUse
	file := func(fd int, name string) *os.File {
		if fd <= 0 {
			return nil
		}
		unix.CloseOnExec(fd)
		_ = unix.SetNonblock(fd, true)
		return os.NewFile(uintptr(fd), name)
	}
	conn := func(fd int) (*net.UnixConn, error) {
		f := file(fd, "conn")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("handover: fd %d is not a unix socket", fd)
		}
		return uc, nil
	}
	lf := file(h.Listener, "listener")
	l, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		return s, fmt.Errorf("handover: listener: %w", err)
	}
	var ok bool
	if s.ln, ok = l.(*net.UnixListener); !ok {
		return s, errors.New("handover: the listener is not a unix socket")
	}
	s.console = file(h.Console, "console")
	s.stdin = file(h.Stdin, "stdin")
	for _, fd := range h.Outs {
		s.outs = append(s.outs, file(fd, "output"))
	}
	for _, fd := range h.Waiters {
		c, err := conn(fd)
		if err != nil {
			return s, err
		}
		s.waiters = append(s.waiters, c)
	}
	for _, x := range h.Attached {
		c, err := conn(x.Fd)
		if err != nil {
			return s, err
		}
		a := &attachment{conn: c, stdout: x.Stdout, stderr: x.Stderr}
		s.attached[a] = true
		s.drainAttach(a, c, nil)
	}
	for _, x := range h.Execs {
		e := &execProc{pid: x.Pid, done: make(chan struct{})}
		s.execs[x.ID] = e
		if x.Status != nil {
			e.status = *x.Status
			close(e.done)
			continue
		}
		go s.waitPid(x.Pid, e.finish)
	}
	s.sentExecs = h.Sent
	s.copyOutput()
	go s.reap()
	s.mu.Lock()
	s.kick()
	s.mu.Unlock()
	runtime.Trace("shim: resumed")
	return s, nil
}

// abandon ends a container whose shim could not resume: better than a
// container that nobody supervises.
func (s *server) abandon(why error) {
	_ = unix.Kill(s.pid, unix.SIGKILL)
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(s.pid, &ws, 0, nil)
	if s.cfg.ID != "" {
		_ = s.runtime().Delete(s.cfg.ID, true)
	}
	b := appendStatus(nil, Status{ExitCode: 255, ExitedAt: time.Now().UTC(), Error: "shim: " + why.Error()})
	_ = atomicfile.Replace(filepath.Join(s.dir, ExitFile), b, 0o600)
	_ = os.Remove(filepath.Join(s.dir, SocketFile))
}

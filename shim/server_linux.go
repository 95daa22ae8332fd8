package shim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/logs"
	"github.com/berth-dev/berth/runtime"
)

// traceOn is BERTH_TRACE: the shim's stderr goes to STATEDIR/trace.log,
// where runtime.Trace writes the time of each step of a start.
var traceOn = os.Getenv("BERTH_TRACE") != ""

// Main is "berth shim --spare PARENT": it waits for the name of a state
// directory in PARENT on its job pipe (fd 4), then runs the container
// configured in STATEDIR/shim.json and supervises it until it exits. File
// descriptor 3 is the engine's readiness pipe: "ok PID" (the container's
// init) once the container is created and the socket listens, or why not.
// initExe is the container init program (nil: this binary's "init").
//
// Once the container runs and no one is talking to it, the shim re-executes
// itself as "berth shim --resume FD STATEDIR" (see handover_linux.go), a
// fresh image that holds only what supervising takes.
func Main(args []string, initExe func() (string, error)) int {
	if len(args) == 3 && args[0] == "--resume" {
		return resumeMain(args[1], args[2], initExe)
	}
	if len(args) == 6 && args[0] == "--sleep" {
		// The sleeper (sleep.c) runs before this and never returns here;
		// reached anyway (a build without it), the shim just goes on.
		return resumeMain(args[3], args[5], initExe)
	}
	if len(args) != 2 || args[0] != "--spare" {
		fmt.Fprintln(os.Stderr, "usage: berth shim --spare DIR (started by the daemon)")
		return 2
	}
	jobs := os.NewFile(4, "jobs")
	line, err := bufio.NewReader(io.LimitReader(jobs, 4096)).ReadString('\n')
	jobs.Close()
	name := strings.TrimSuffix(line, "\n")
	if err != nil || name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return 0 // no job: the daemon let its spare go
	}
	stateDir := filepath.Join(args[1], name)
	if traceOn {
		if f, err := os.OpenFile(filepath.Join(stateDir, "trace.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			_ = unix.Dup2(int(f.Fd()), 2)
			f.Close()
		}
	}
	ready := os.NewFile(3, "ready")
	s, err := newServer(stateDir, initExe)
	if err != nil {
		fmt.Fprint(ready, err.Error())
		ready.Close()
		return 1
	}
	fmt.Fprintf(ready, "ok %d", s.pid)
	ready.Close()
	// A shim that cannot hand over yet (an attach holds the container's
	// stdin) stays in this image. Once the start is over (not before: a
	// forced GC takes milliseconds) and a handover had its chance, the
	// set-up's garbage goes back to the kernel.
	go func() {
		select {
		case <-s.started:
			time.Sleep(time.Second)
		case <-time.After(5 * time.Second):
		}
		debug.FreeOSMemory()
		tuneGC()
	}()
	s.serve()
	return 0
}

// tuneGC lets the GC run only when the runtime's memory grows 4 MiB past
// what it holds now. A shim lives as long as its container and allocates
// little: no periodic forced GC, whose every cycle leaves runtime metadata
// dirty (about 380 kB less per shim, measured). A memory limit must come
// with GC off, or the runtime backs its heap index with huge pages. The
// size comes from runtime/metrics: ReadMemStats would stop the world and
// leave about 250 kB of runtime memory dirty (measured).
func tuneGC() {
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	debug.SetMemoryLimit(int64(m[0].Value.Uint64()-m[1].Value.Uint64()) + 4<<20)
	debug.SetGCPercent(-1)
}

type server struct {
	cfg     Config
	dir     string
	initExe func() (string, error)
	pid     int // the container's init, a child of this process
	ln      *net.UnixListener
	logw    *logs.Writer
	console *os.File // pty master (Tty)
	stdin   *os.File // write end of the container's stdin (Stdin, no Tty); nil once closed
	outs    []*os.File
	ended   map[*os.File]bool // outputs (or the console) at their end (s.mu)
	copiers sync.WaitGroup
	started chan struct{}
	exited  chan struct{}
	status  Status
	conns   sync.WaitGroup // requests being answered (the end waits for them)

	mu        sync.Mutex
	attached  map[*attachment]bool
	waiters   []*net.UnixConn // "wait" requests, answered at the exit
	stdinUse  bool            // an attach holds stdin (StdinOnce: only the first)
	execs     map[string]*execProc
	sentExecs []string // execs whose client got the exit status, oldest first
	reaped    bool     // the init's end is known

	// Handing over to a fresh image (handover_linux.go).
	busy     int           // requests being answered
	heavy    bool          // package runtime or encoding/json ran in this image (the set-up, an exec): hand over when idle; else sleep when idle
	noShed   bool          // a handover failed: stay
	frozen   chan struct{} // non-nil while handing over; closed if it is given up
	shedT    *time.Timer
	paused   chan struct{} // the accept loop stopped for a handover
	unpaused chan struct{}

	rtOnce sync.Once
	rt     *runtime.Runtime
}

// runtime is this image's one Runtime: it keeps the container's record
// from create to start and exit, which a fresh one would read and decode
// again (0.3-0.4 ms each on a start's and an exit's path).
func (s *server) runtime() *runtime.Runtime {
	s.rtOnce.Do(func() {
		s.rt = runtime.New(s.cfg.RuntimeRoot)
		s.rt.SeccompCache = s.cfg.SeccompCache
		if s.initExe != nil {
			s.rt.Init = s.initExe
		}
	})
	return s.rt
}

type attachment struct {
	mu             sync.Mutex
	conn           *net.UnixConn
	stdout, stderr bool
	stdin          bool // it copies into the container's stdin (not handed over)
	dead           bool
}

// send writes a frame to the attachment, dropping it on a failure or when
// the client stalls for more than 10 s (the container must not block on a
// client that stopped reading).
func (a *attachment) send(stream byte, p []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dead {
		return
	}
	_ = a.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := WriteFrame(a.conn, stream, p); err != nil {
		a.dead = true
		a.conn.Close()
	}
}

func newState(dir string, initExe func() (string, error)) (*server, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, initExe: initExe, started: make(chan struct{}), exited: make(chan struct{}),
		attached: map[*attachment]bool{}, execs: map[string]*execProc{}, ended: map[*os.File]bool{},
		paused: make(chan struct{}), unpaused: make(chan struct{})}
	if s.cfg, err = decodeConfig(b); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTERM, syscall.SIGTTOU, syscall.SIGTTIN)
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	if s.logw, err = openLog(s.cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// openLog opens the container's log for appending (nil if it has none).
func openLog(cfg Config) (*logs.Writer, error) {
	if cfg.LogPath == "" {
		return nil, nil
	}
	return logs.NewWriter(cfg.LogPath, cfg.LogMaxSize, cfg.LogMaxFiles)
}

func newServer(dir string, initExe func() (string, error)) (_ *server, retErr error) {
	runtime.Trace("shim: main")
	s, err := newState(dir, initExe)
	if err != nil {
		return nil, err
	}
	s.heavy = true
	runtime.Trace("shim: log opened")
	rt := s.runtime()
	opts := runtime.CreateOpts{ID: s.cfg.ID, Bundle: s.cfg.Bundle}
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
		if retErr != nil {
			s.closeStdio()
		}
	}()
	var consoleLn *net.UnixListener
	if s.cfg.Tty {
		consoleLn, opts.ConsoleSocket, err = listenConsole(dir)
		if err != nil {
			return nil, err
		}
		defer consoleLn.Close()
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		childEnds = append(childEnds, null)
		opts.Stdio[0] = null
		if s.cfg.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childEnds = append(childEnds, r)
			s.stdin, opts.Stdio[0] = w, r
		}
		for i := 1; i <= 2; i++ {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childEnds = append(childEnds, w)
			s.outs = append(s.outs, r)
			opts.Stdio[i] = w
		}
	}
	var consoleErr error
	consoleDone := make(chan struct{})
	if consoleLn != nil {
		go func() {
			defer close(consoleDone)
			s.console, consoleErr = acceptConsole(consoleLn)
		}()
	}
	runtime.Trace("shim: runtime create")
	p, err := rt.Create(opts)
	if err != nil {
		return nil, err
	}
	runtime.Trace("shim: created")
	s.pid = p.Pid
	defer func() {
		if retErr != nil {
			_ = rt.Delete(s.cfg.ID, true)
		}
	}()
	if consoleLn != nil {
		select {
		case <-consoleDone:
		case <-time.After(10 * time.Second):
			consoleLn.Close()
			<-consoleDone
		}
		if consoleErr != nil {
			return nil, consoleErr
		}
	}
	if s.cfg.LoopbackUp {
		if err := loopbackUp(p.Pid); err != nil {
			return nil, err
		}
	}
	if s.ln, err = listenUnix(filepath.Join(dir, SocketFile)); err != nil {
		return nil, err
	}
	runtime.Trace("shim: listening")
	// Output is read from now on: the process blocks before exec until
	// started, and attaches made before the start see everything.
	s.copyOutput()
	go s.reap()
	return s, nil
}

func (s *server) copyOutput() {
	if s.console != nil {
		s.copy("stdout", Stdout, s.console)
	} else {
		s.copy("stdout", Stdout, s.outs[0])
		s.copy("stderr", Stderr, s.outs[1])
	}
}

// copy pumps one output stream into the log and to the attachments. A read
// deadline (set by a handover) stops it; whatever part of a line it held is
// logged as a partial record.
func (s *server) copy(name string, stream byte, r *os.File) {
	s.copiers.Add(1)
	tee := io.TeeReader(chunked{r}, &fanout{s: s, stream: stream})
	go func() {
		defer s.copiers.Done()
		if s.logw != nil {
			err := logs.Copy(s.logw, name, tee, time.Now)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			// The log may have failed (disk full): keep draining so the
			// container never blocks on a full pipe.
		}
		_, err := io.Copy(io.Discard, tee)
		if err == nil || errors.Is(err, syscall.EIO) {
			// The end of the stream: the sleeper must not poll it (it
			// would wake at once, every time).
			s.mu.Lock()
			s.ended[r] = true
			s.mu.Unlock()
		}
	}()
}

// chunked caps each read at 8 KiB (as conmon does): logs.Copy's buffers
// (72 kB a stream) then only have the pages that one read fills dirty.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) {
	if len(p) > 8<<10 {
		p = p[:8<<10]
	}
	return c.r.Read(p)
}

// fanout is where output goes besides the log.
type fanout struct {
	s      *server
	stream byte
}

func (f *fanout) Write(p []byte) (int, error) {
	f.s.mu.Lock()
	if !f.s.heavy {
		f.s.kick() // output: not asleep for another sleepDelay
	}
	var to []*attachment
	for a := range f.s.attached {
		a.mu.Lock()
		dead := a.dead
		a.mu.Unlock()
		if dead {
			delete(f.s.attached, a)
			continue
		}
		if (f.stream == Stdout && a.stdout) || (f.stream == Stderr && a.stderr) {
			to = append(to, a)
		}
	}
	f.s.mu.Unlock()
	for _, a := range to {
		a.send(f.stream, p)
	}
	return len(p), nil
}

// reap waits for the container's init, records how it ended and tears the
// container down.
func (s *server) reap() {
	var st Status
	s.waitPid(s.pid, func(code int, err error) {
		s.reaped = true
		st = Status{ExitCode: code, ExitedAt: time.Now().UTC()}
		if err != nil {
			st.ExitCode, st.Error = 255, err.Error()
		}
	})
	runtime.Trace("shim: reaped")
	rt := s.runtime()
	st.OOMKilled = rt.OOMKilled(s.cfg.ID)
	runtime.Trace("shim: oom checked")
	// Let the output drain: processes still holding the pipes (a daemon
	// outside a PID namespace) get two seconds.
	drained := make(chan struct{})
	go func() { s.copiers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
	if s.logw != nil {
		s.logw.Close()
	}
	runtime.Trace("shim: output drained")
	_ = rt.Delete(s.cfg.ID, true)
	runtime.Trace("shim: runtime deleted")
	b := appendStatus(nil, st)
	// No fsync: the exec root is a tmpfs that a host crash loses anyway.
	_ = atomicfile.Replace(filepath.Join(s.dir, ExitFile), b, 0o600)
	// No new connections from now on (they read exit.json instead), and
	// the path is free before anyone learns of the exit: a restart of the
	// container puts its next shim's socket there.
	_ = os.Remove(filepath.Join(s.dir, SocketFile))
	s.mu.Lock()
	s.status = st
	for a := range s.attached {
		a.mu.Lock()
		a.dead = true
		a.conn.Close()
		a.mu.Unlock()
	}
	s.attached = map[*attachment]bool{}
	waiters := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	s.closeStdio()
	close(s.exited)
	for _, c := range waiters {
		_ = reply(c, Response{Status: &st})
		c.Close()
	}
	runtime.Trace("shim: waiters answered")
}

func (s *server) closeStdio() {
	for _, f := range append(s.outs, s.stdin, s.console) {
		if f != nil {
			f.Close()
		}
	}
}

// serve answers requests until the container has exited and those waiting
// for it have their answer.
func (s *server) serve() {
	go func() {
		<-s.exited
		// Give late requests a moment, then stop.
		time.Sleep(50 * time.Millisecond)
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			switch {
			case errors.Is(err, net.ErrClosed):
			case errors.Is(err, os.ErrDeadlineExceeded):
				// A handover stops accepting; if it fails, go on.
				s.paused <- struct{}{}
				<-s.unpaused
				continue
			default:
				// Out of file descriptors, a connection aborted: the
				// container still runs.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			break
		}
		s.mu.Lock()
		s.busy++
		s.mu.Unlock()
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			s.handle(c)
			s.mu.Lock()
			s.busy--
			s.kick()
			s.mu.Unlock()
		}()
	}
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func reply(c net.Conn, r Response) error {
	_, err := c.Write(append(appendResponse(nil, r), '\n'))
	return err
}

func (s *server) handle(c *net.UnixConn) {
	keep := false
	defer func() {
		if !keep {
			c.Close()
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	req, viaJSON, err := decodeRequest(line)
	if viaJSON {
		// encoding/json's caches (an exec's process) stay: shed them.
		s.mu.Lock()
		s.heavy = true
		s.mu.Unlock()
	}
	if err != nil {
		_ = reply(c, Response{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Op {
	case "start":
		err := s.start()
		_ = reply(c, errResponse(err))
	case "state":
		_ = reply(c, s.state())
	case "wait":
		keep = s.wait(c)
	case "attach":
		keep = s.attach(c, br, req)
	case "resize":
		_ = reply(c, errResponse(s.resize(req)))
	case "exec":
		s.exec(c, br, req)
	case "execState":
		_ = reply(c, s.execState(req.ExecID))
	default:
		_ = reply(c, Response{Error: fmt.Sprintf("unknown op %q", req.Op)})
	}
}

func errResponse(err error) Response {
	if err != nil {
		return Response{Error: err.Error()}
	}
	return Response{}
}

func (s *server) start() error {
	s.mu.Lock()
	select {
	case <-s.started:
		s.mu.Unlock()
		return errors.New("already started")
	default:
	}
	close(s.started)
	s.mu.Unlock()
	runtime.Trace("shim: start")
	err := s.runtime().Start(s.cfg.ID)
	runtime.Trace("shim: started")
	return err
}

func (s *server) state() Response {
	select {
	case <-s.exited:
		st := s.status
		return Response{Status: &st}
	default:
		return Response{Pid: s.pid, Running: true}
	}
}

// wait answers now if the container has exited, else keeps c to answer at
// the exit. It reports whether c stays open.
func (s *server) wait(c *net.UnixConn) bool {
	s.mu.Lock()
	select {
	case <-s.exited:
		st := s.status
		s.mu.Unlock()
		_ = reply(c, Response{Status: &st})
		return false
	default:
	}
	s.waiters = append(s.waiters, c)
	s.mu.Unlock()
	return true
}

// attach streams output to c and, when asked, c's bytes to the container's
// stdin. It reports whether c stays open (owned by the attachment).
func (s *server) attach(c *net.UnixConn, br *bufio.Reader, req Request) bool {
	a := &attachment{conn: c, stdout: req.Stdout, stderr: req.Stderr}
	s.mu.Lock()
	select {
	case <-s.exited:
		s.mu.Unlock()
		_ = reply(c, Response{Error: "container has exited"})
		return false
	default:
	}
	var in io.Writer
	takeStdin := req.Stdin && (s.cfg.Stdin || s.cfg.Tty) && !(s.cfg.StdinOnce && s.stdinUse)
	if takeStdin {
		s.stdinUse = true
		if s.console != nil {
			in = s.console
		} else if s.stdin != nil {
			in = s.stdin
		}
	}
	// The reply goes first, before any frame.
	if err := reply(c, Response{Pid: s.pid, Running: true}); err != nil {
		s.mu.Unlock()
		return false
	}
	a.stdin = in != nil
	s.attached[a] = true
	s.mu.Unlock()
	s.drainAttach(a, br, in)
	return true
}

// drainAttach copies what the client of a sends into in (nil: nowhere)
// until the client closes its side. An attachment without output streams
// ends then.
func (s *server) drainAttach(a *attachment, r io.Reader, in io.Writer) {
	go func() {
		if in != nil {
			_, _ = io.Copy(in, r)
			if s.cfg.StdinOnce {
				s.closeStdin()
			}
		} else {
			_, _ = io.Copy(io.Discard, r)
		}
		s.mu.Lock()
		for s.frozen != nil {
			fr := s.frozen
			s.mu.Unlock()
			<-fr
			s.mu.Lock()
		}
		a.stdin = false
		if !a.stdout && !a.stderr {
			// The client closed its stdin: it may still read output; a
			// client that only wrote is done.
			delete(s.attached, a)
			a.mu.Lock()
			a.dead = true
			a.conn.Close()
			a.mu.Unlock()
		}
		s.kick()
		s.mu.Unlock()
	}()
}

// closeStdin closes the container's stdin pipe (StdinOnce).
func (s *server) closeStdin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
	}
}

func (s *server) resize(req Request) error {
	ws := &unix.Winsize{Row: req.Height, Col: req.Width}
	if req.ExecID != "" {
		s.mu.Lock()
		e := s.execs[req.ExecID]
		s.mu.Unlock()
		if e == nil || e.console == nil {
			return fmt.Errorf("exec %s has no terminal", req.ExecID)
		}
		return setWinsize(e.console, ws)
	}
	if s.console == nil {
		return errors.New("the container has no terminal")
	}
	return setWinsize(s.console, ws)
}

// setWinsize sets a pty's size without f.Fd(), which would take the file
// out of the poller.
func setWinsize(f *os.File, ws *unix.Winsize) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) { ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ierr
}

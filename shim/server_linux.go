package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
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
// init) once the container is created and the socket listens, or why not. initExe is the container init
// program (nil: this binary's "init").
func Main(args []string, initExe func() (string, error)) int {
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
	fmt.Fprintf(ready, "ok %d", s.init.Pid)
	ready.Close()
	// A shim lives as long as its container and allocates little. Once
	// the start is over (not before: a forced GC takes milliseconds) the
	// set-up's garbage goes back to the kernel, and from then on the GC
	// runs only when the heap grows 4 MiB past that: no periodic forced
	// GC, whose every cycle leaves runtime metadata dirty (about 380 kB
	// less per shim, measured). A memory limit must come with GC off, or
	// the runtime backs its heap index with huge pages.
	go func() {
		select {
		case <-s.started:
			time.Sleep(200 * time.Millisecond)
		case <-time.After(5 * time.Second):
		}
		debug.FreeOSMemory()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		debug.SetMemoryLimit(int64(ms.Sys-ms.HeapReleased) + 4<<20)
		debug.SetGCPercent(-1)
	}()
	s.serve()
	return 0
}

type server struct {
	cfg      Config
	dir      string
	rt       *runtime.Runtime
	init     *runtime.Process
	ln       *net.UnixListener
	logw     *logs.Writer
	console  *os.File // pty master (Tty)
	stdin    *os.File // write end of the container's stdin (Stdin, no Tty)
	outs     []*os.File
	copiers  sync.WaitGroup
	started  chan struct{}
	exited   chan struct{}
	status   Status
	mu       sync.Mutex
	attached map[*attachment]bool
	stdinUse bool // an attach holds stdin (StdinOnce: only the first)
	execs    map[string]*execProc
}

type attachment struct {
	mu             sync.Mutex
	conn           *net.UnixConn
	stdout, stderr bool
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

func newServer(dir string, initExe func() (string, error)) (_ *server, retErr error) {
	runtime.Trace("shim: main")
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, started: make(chan struct{}), exited: make(chan struct{}),
		attached: map[*attachment]bool{}, execs: map[string]*execProc{}}
	if err := json.Unmarshal(b, &s.cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGTERM, syscall.SIGTTOU, syscall.SIGTTIN)
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	if s.cfg.LogPath != "" {
		if s.logw, err = logs.NewWriter(s.cfg.LogPath, s.cfg.LogMaxSize, s.cfg.LogMaxFiles); err != nil {
			return nil, err
		}
	}
	runtime.Trace("shim: log opened")
	s.rt = runtime.New(s.cfg.RuntimeRoot)
	s.rt.SeccompCache = s.cfg.SeccompCache
	if initExe != nil {
		s.rt.Init = initExe
	}
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
	p, err := s.rt.Create(opts)
	if err != nil {
		return nil, err
	}
	runtime.Trace("shim: created")
	s.init = p
	defer func() {
		if retErr != nil {
			_ = s.rt.Delete(s.cfg.ID, true)
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
	if s.console != nil {
		s.copy("stdout", Stdout, s.console)
	} else {
		s.copy("stdout", Stdout, s.outs[0])
		s.copy("stderr", Stderr, s.outs[1])
	}
	go s.reap()
	return s, nil
}

// copy pumps one output stream into the log and to the attachments.
func (s *server) copy(name string, stream byte, r io.Reader) {
	s.copiers.Add(1)
	tee := io.TeeReader(r, &fanout{s: s, stream: stream})
	go func() {
		defer s.copiers.Done()
		if s.logw != nil {
			_ = logs.Copy(s.logw, name, tee, time.Now)
			// The log may have failed (disk full): keep draining so the
			// container never blocks on a full pipe.
		}
		_, _ = io.Copy(io.Discard, tee)
	}()
}

// fanout is where output goes besides the log.
type fanout struct {
	s      *server
	stream byte
}

func (f *fanout) Write(p []byte) (int, error) {
	f.s.mu.Lock()
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
	code, err := s.init.Wait()
	st := Status{ExitCode: code, ExitedAt: time.Now().UTC()}
	if err != nil {
		st.ExitCode, st.Error = 255, err.Error()
	}
	st.OOMKilled = s.rt.OOMKilled(s.cfg.ID)
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
	_ = s.rt.Delete(s.cfg.ID, true)
	if b, err := json.Marshal(st); err == nil {
		// No fsync: the exec root is a tmpfs that a host crash loses anyway.
		_ = atomicfile.Replace(filepath.Join(s.dir, ExitFile), b, 0o600)
	}
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
	s.mu.Unlock()
	s.closeStdio()
	close(s.exited)
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
	var conns sync.WaitGroup
	go func() {
		<-s.exited
		// Give waiters a moment to read the answer, then stop.
		time.Sleep(50 * time.Millisecond)
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			break
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.handle(c)
		}()
	}
	done := make(chan struct{})
	go func() { conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func reply(c net.Conn, r Response) error {
	b, _ := json.Marshal(r)
	_, err := c.Write(append(b, '\n'))
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
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
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
		<-s.exited
		st := s.status
		_ = reply(c, Response{Status: &st})
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
	err := s.rt.Start(s.cfg.ID)
	runtime.Trace("shim: started")
	return err
}

func (s *server) state() Response {
	select {
	case <-s.exited:
		st := s.status
		return Response{Status: &st}
	default:
		return Response{Pid: s.init.Pid, Running: true}
	}
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
		} else {
			in = s.stdin
		}
	}
	// The reply goes first, before any frame.
	if err := reply(c, Response{Pid: s.init.Pid, Running: true}); err != nil {
		s.mu.Unlock()
		return false
	}
	if req.Stdout || req.Stderr {
		s.attached[a] = true
	}
	s.mu.Unlock()
	streaming := req.Stdout || req.Stderr
	go func() {
		if in != nil {
			_, _ = io.Copy(in, br)
			if s.cfg.StdinOnce && s.stdin != nil {
				s.stdin.Close()
			}
		} else {
			_, _ = io.Copy(io.Discard, br)
		}
		// The client closed its stdin: it may still read output; a client
		// that only wrote is done.
		if !streaming {
			c.Close()
		}
	}()
	return true
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
		return unix.IoctlSetWinsize(int(e.console.Fd()), unix.TIOCSWINSZ, ws)
	}
	if s.console == nil {
		return errors.New("the container has no terminal")
	}
	return unix.IoctlSetWinsize(int(s.console.Fd()), unix.TIOCSWINSZ, ws)
}

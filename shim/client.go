package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
)

// Client talks to the shim of one container through its state directory.
type Client struct {
	Dir string
	// Pid is the container's init, as the shim reported it when it was
	// launched (0 for a client of a shim found again).
	Pid int
}

// readyPid reads a shim's readiness message, "ok PID".
func readyPid(msg string) (int, bool) {
	rest, ok := strings.CutPrefix(msg, "ok ")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	return pid, err == nil && pid > 0
}

// maxSocketPath is what fits in sockaddr_un.
const maxSocketPath = 107

// Spare is a shim started ahead of time, waiting to be given a container:
// a start then does not wait for a process to be spawned and its runtime
// to initialise.
type Spare struct {
	parent string
	jobs   *os.File // the engine's end of the shim's job pipe (its fd 4)
	ready  *os.File // the engine's end of its readiness pipe (its fd 3)
	waited chan error
}

// Spawn starts a spare shim, "exe shim --spare PARENT", for a container whose
// state directory will be in PARENT. It exits when its job pipe is closed
// without a job (Close, or this process's death).
func Spawn(exe, parent string) (*Spare, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	jobsR, jobsW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, err
	}
	cmd := exec.Command(exe, "shim", "--spare", parent)
	cmd.Args[0] = "berth"
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{readyW, jobsR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// One P: a shim mostly sleeps, and fewer threads and caches save
	// about 250 KB per container. No memory profiling: its stack buffers
	// and first sample cost a supervising shim about 15 kB, a spare 40 kB
	// (measured).
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GOMAXPROCS=1", "GODEBUG=profstackdepth=0,memprofilerate=0"}
	if v := os.Getenv("BERTH_TRACE"); v != "" {
		// Timings of the runtime's steps (STATEDIR/trace.log).
		cmd.Env = append(cmd.Env, "BERTH_TRACE="+v)
	}
	err = cmd.Start()
	readyW.Close()
	jobsR.Close()
	if err != nil {
		readyR.Close()
		jobsW.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	sp := &Spare{parent: parent, jobs: jobsW, ready: readyR, waited: make(chan error, 1)}
	// Reap it whenever it ends (if this process outlives it).
	go func() { sp.waited <- cmd.Wait() }()
	return sp, nil
}

// Launch gives the spare its container: cfg, in stateDir (a directory of
// the spare's parent). The spare is used up, whatever the outcome.
func (sp *Spare) Launch(stateDir string, cfg Config) (*Client, error) {
	defer sp.ready.Close()
	if filepath.Dir(stateDir) != sp.parent {
		sp.Close()
		return nil, fmt.Errorf("shim: state directory %s is not in %s", stateDir, sp.parent)
	}
	b, err := json.Marshal(cfg)
	if err == nil {
		err = atomicfile.Replace(filepath.Join(stateDir, ConfigFile), b, 0o600)
	}
	if err != nil {
		sp.Close()
		return nil, err
	}
	_ = os.Remove(filepath.Join(stateDir, ExitFile))
	_, err = sp.jobs.WriteString(filepath.Base(stateDir) + "\n")
	sp.jobs.Close()
	if err != nil {
		<-sp.waited
		return nil, fmt.Errorf("shim: %w", err)
	}
	msg, err := io.ReadAll(io.LimitReader(sp.ready, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	pid, ok := readyPid(string(msg))
	if !ok {
		<-sp.waited
		if len(msg) == 0 {
			return nil, errors.New("shim exited before it created the container")
		}
		return nil, &CreateError{Msg: string(msg)}
	}
	return &Client{Dir: stateDir, Pid: pid}, nil
}

// Close ends a spare that was not used, and reaps it.
func (sp *Spare) Close() {
	sp.jobs.Close()
	sp.ready.Close()
	<-sp.waited
}

// CreateError is why the runtime could not create the container.
type CreateError struct{ Msg string }

func (e *CreateError) Error() string { return e.Msg }

func (c *Client) dial() (*net.UnixConn, error) {
	addr, done, err := shortPath(filepath.Join(c.Dir, SocketFile))
	if err != nil {
		return nil, fmt.Errorf("shim of %s is gone: %w", filepath.Base(c.Dir), errdefs.ErrNotFound)
	}
	defer done()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("shim of %s is gone: %w", filepath.Base(c.Dir), errdefs.ErrNotFound)
	}
	return conn, nil
}

// call sends req and reads the response; the connection stays open for
// streams (the caller closes it) and is closed otherwise.
func (c *Client) call(req Request, keep bool) (*Response, *net.UnixConn, *bufio.Reader, error) {
	conn, err := c.dial()
	if err != nil {
		return nil, nil, nil, err
	}
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("shim: %w", err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("shim: %s: %w", req.Op, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		conn.Close()
		return nil, nil, nil, fmt.Errorf("shim: %s: %w", req.Op, err)
	}
	if resp.Error != "" {
		conn.Close()
		return &resp, nil, nil, errors.New(resp.Error)
	}
	if !keep {
		conn.Close()
		return &resp, nil, nil, nil
	}
	return &resp, conn, br, nil
}

// Start releases the container's process.
func (c *Client) Start() error {
	_, _, _, err := c.call(Request{Op: "start"}, false)
	return err
}

// State reports the init's pid while it runs, or how it ended.
func (c *Client) State() (*Response, error) {
	r, _, _, err := c.call(Request{Op: "state"}, false)
	return r, err
}

// Wait blocks until the container exits (or ctx ends) and returns how it
// ended. A shim that is gone (the container ended while no one listened)
// is answered from exit.json.
func (c *Client) Wait(ctx context.Context) (*Status, error) {
	conn, err := c.dial()
	if err != nil {
		if st, ferr := ReadExit(c.Dir); ferr == nil {
			return st, nil
		}
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	b, _ := json.Marshal(Request{Op: "wait"})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The shim died without answering (killed): exit.json may say more.
		if st, ferr := ReadExit(c.Dir); ferr == nil {
			return st, nil
		}
		return nil, fmt.Errorf("shim: wait: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil || resp.Status == nil {
		return nil, fmt.Errorf("shim: wait: bad answer %q", line)
	}
	return resp.Status, nil
}

// ReadExit reads the exit record a shim left in dir.
func ReadExit(dir string) (*Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, ExitFile))
	if err != nil {
		return nil, err
	}
	return decodeStatus(b)
}

// Stream is an attached or exec connection: frames come from Read side
// through ReadFrame, stdin goes to Write, CloseWrite ends stdin.
type Stream struct {
	*net.UnixConn
	R   *bufio.Reader
	Pid int
}

// Attach connects to the container's output (and stdin).
func (c *Client) Attach(stdin, stdout, stderr bool) (*Stream, error) {
	resp, conn, br, err := c.call(Request{Op: "attach", Stdin: stdin, Stdout: stdout, Stderr: stderr}, true)
	if err != nil {
		return nil, err
	}
	return &Stream{UnixConn: conn, R: br, Pid: resp.Pid}, nil
}

// Exec runs p in the container; detached, the returned Stream is nil.
func (c *Client) Exec(id string, p *specs.Process, stdin, detach bool) (*Stream, int, error) {
	resp, conn, br, err := c.call(Request{Op: "exec", ExecID: id, Process: p, Stdin: stdin, Detach: detach}, !detach)
	if err != nil {
		return nil, 0, err
	}
	if detach {
		return nil, resp.Pid, nil
	}
	return &Stream{UnixConn: conn, R: br, Pid: resp.Pid}, resp.Pid, nil
}

// ExecState reports an exec'd process's pid and, once it ended, its Status.
func (c *Client) ExecState(id string) (*Response, error) {
	r, _, _, err := c.call(Request{Op: "execState", ExecID: id}, false)
	return r, err
}

// Resize sets the terminal size of the container (execID "") or an exec.
func (c *Client) Resize(execID string, width, height uint16) error {
	_, _, _, err := c.call(Request{Op: "resize", ExecID: execID, Width: width, Height: height}, false)
	return err
}

// ExitStatus decodes the payload of an Exit frame.
func ExitStatus(p []byte) (*Status, error) { return decodeStatus(p) }

// shortPath returns a name for a socket path that fits in a sockaddr_un:
// the path itself when short enough, else /proc/self/fd/N/NAME through a
// descriptor of its directory (valid until done is called).
func shortPath(path string) (addr string, done func(), err error) {
	if len(path) <= maxSocketPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, filepath.Base(path)), func() { unix.Close(fd) }, nil
}

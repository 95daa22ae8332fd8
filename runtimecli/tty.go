package runtimecli

import (
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

// ttyProxy gives "run" and "exec" with a terminal but no --console-socket
// what runc gives them: the container's pty is relayed to this process's
// terminal, which is put in raw mode meanwhile.
type ttyProxy struct {
	dir        string
	socketPath string
	ln         *net.UnixListener
	master     *os.File
	saved      *unix.Termios
	copyDone   chan struct{}
	once       sync.Once
}

func newTTYProxy() (*ttyProxy, error) {
	dir, err := os.MkdirTemp("", "berth-console-")
	if err != nil {
		return nil, err
	}
	p := &ttyProxy{dir: dir, socketPath: filepath.Join(dir, "console.sock")}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p.socketPath, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("console socket: %w", err)
	}
	p.ln = ln
	return p, nil
}

// attach receives the pty master and starts relaying.
func (p *ttyProxy) attach() error {
	conn, err := p.ln.AcceptUnix()
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	master, err := runtime.RecvConsole(conn)
	if err != nil {
		return err
	}
	p.master = master
	if t, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		p.saved = t
		raw := *t
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN] = 1
		raw.Cc[unix.VTIME] = 0
		_ = unix.IoctlSetTermios(0, unix.TCSETS, &raw)
	}
	p.resize()
	p.copyDone = make(chan struct{})
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	go func() {
		_, _ = io.Copy(os.Stdout, master)
		close(p.copyDone)
	}()
	return nil
}

func (p *ttyProxy) resize() {
	if p.master == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// drain waits for the last output after the process exited.
func (p *ttyProxy) drain() {
	if p.copyDone != nil {
		// A process the container left behind may hold the pty open.
		select {
		case <-p.copyDone:
		case <-time.After(2 * time.Second):
		}
	}
}

func (p *ttyProxy) close() {
	p.once.Do(func() {
		if p.saved != nil {
			_ = unix.IoctlSetTermios(0, unix.TCSETS, p.saved)
		}
		if p.master != nil {
			p.master.Close()
		}
		p.ln.Close()
		os.RemoveAll(p.dir)
	})
}

package cli

import (
	"context"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardSignals sends the signals this process gets to the container
// (POST /containers/{id}/kill?signal=NAME), as docker's --sig-proxy;
// SIGCHLD, SIGPIPE and SIGURG (Go's preemption) stay here.
func forwardSignals(ctx context.Context, c *apiClient, id string) (stop func()) {
	ch := make(chan os.Signal, 128)
	signal.Notify(ch)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				sig, ok := s.(syscall.Signal)
				if !ok || sig == unix.SIGCHLD || sig == unix.SIGPIPE || sig == unix.SIGURG {
					continue
				}
				name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
				if name == "" {
					name = strconv.Itoa(int(sig))
				}
				_ = c.do(ctx, "POST", "/containers/"+id+"/kill", url.Values{"signal": {name}}, nil, nil)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

func fdOf(v any) (int, bool) {
	f, ok := v.(*os.File)
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}

func isTerminalReader(r io.Reader) bool {
	fd, ok := fdOf(r)
	return ok && isTerminalFd(fd)
}

func isTerminalWriter(w io.Writer) bool {
	fd, ok := fdOf(w)
	return ok && isTerminalFd(fd)
}

// rawTerminal puts the terminal r reads into raw mode and returns its
// restore (also run on SIGTERM/SIGHUP, which would otherwise leave the
// terminal raw); a no-op for anything else.
func rawTerminal(r io.Reader) func() {
	fd, ok := fdOf(r)
	if !ok || !isTerminalFd(fd) {
		return func() {}
	}
	st, err := makeRaw(fd)
	if err != nil {
		return func() {}
	}
	return st.restore
}

// monitorTTYSize sends the terminal's size now and on every SIGWINCH to
// resizePath (POST ...?h=&w=).
func monitorTTYSize(ctx context.Context, c *apiClient, resizePath string) (stop func()) {
	fd := int(os.Stdout.Fd())
	resize := func() {
		h, w := termSize(fd)
		if h == 0 && w == 0 {
			return
		}
		q := url.Values{"h": {strconv.FormatUint(uint64(h), 10)}, "w": {strconv.FormatUint(uint64(w), 10)}}
		_ = c.do(ctx, "POST", resizePath, q, nil, nil)
	}
	resize()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
				resize()
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

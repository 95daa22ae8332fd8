package server

import (
	"context"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// hangupContext returns a context that ends when the client of a hijacked
// connection hangs up (shuts both directions), and the stdin to give the
// engine in its place. An attach whose client is gone must let its
// container's shim go (the engine closes the shim's stream when the context
// ends), even when no output comes to fail a write; a client that has only
// closed its stdin still reads output. Only one reader may wait on the
// connection, so the watch starts when stdin has ended, or at once without
// stdin. It stops when conn is closed.
func hangupContext(conn net.Conn, stdin io.Reader) (context.Context, io.Reader, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return ctx, stdin, cancel
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return ctx, stdin, cancel
	}
	var once sync.Once
	watch := func() {
		once.Do(func() {
			go func() {
				// Waits for readability (a hang-up is one) until the
				// hang-up or until conn is closed.
				hup := false
				_ = rc.Read(func(fd uintptr) bool {
					p := []unix.PollFd{{Fd: int32(fd)}}
					n, err := unix.Poll(p, 0)
					hup = err == nil && n == 1 && p[0].Revents&unix.POLLHUP != 0
					return hup
				})
				if hup {
					cancel()
				}
			}()
		})
	}
	if stdin == nil {
		watch()
		return ctx, nil, cancel
	}
	return ctx, &eofHook{r: stdin, eof: watch}, cancel
}

// eofHook calls eof once its reader has ended.
type eofHook struct {
	r   io.Reader
	eof func()
}

func (h *eofHook) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err != nil {
		h.eof()
	}
	return n, err
}

package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/berth-dev/berth/logs"
	"github.com/berth-dev/berth/shim"
)

// AttachOptions say which streams to attach and where they go.
type AttachOptions struct {
	// Stdin, when not nil, is copied to the container's stdin until it
	// ends (then stdin is closed if the container was created with
	// StdinOnce) or until DetachKeys are read.
	Stdin          io.Reader
	Stdout, Stderr bool
	// Out receives the output: Docker's multiplexed frames, or the raw
	// bytes for a container with a terminal.
	Out        io.Writer
	DetachKeys []byte // nil: Docker's default, ctrl-p ctrl-q
	Logs       bool   // first, the output logged so far
	Stream     bool   // then, live output until the container exits
}

// ErrDetached ends an attach whose client typed the detach keys.
var ErrDetached = errors.New("detached")

// pendingAttach is an attach made before the container started.
type pendingAttach struct {
	stdin, stdout, stderr bool
	done                  chan struct{}
	stream                *shim.Stream
	err                   error
}

func (p *pendingAttach) connect(sc *shim.Client) {
	p.stream, p.err = sc.Attach(p.stdin, p.stdout, p.stderr)
	close(p.done)
}

func (p *pendingAttach) fail(err error) {
	p.err = err
	close(p.done)
}

// Attach connects a client to a container's stdio. For a created
// container it waits for the start and sees the output from its first
// byte. It returns when the output ends, when the client detaches
// (ErrDetached) or when ctx ends.
func (e *Engine) Attach(ctx context.Context, ref string, o AttachOptions) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	c := x.snapshot()
	if o.Logs && c.LogPath != "" {
		lo := logs.ReadOpts{Tail: -1, Stdout: o.Stdout, Stderr: o.Stderr}
		err := logs.Read(ctx, c.LogPath, lo, func(en logs.Entry) error {
			return writeOut(o.Out, c.Config.Tty, streamOf(en.Stream), en.Line)
		})
		if err != nil {
			return err
		}
	}
	if !o.Stream {
		return nil
	}
	stdin := o.Stdin != nil && c.Config.OpenStdin
	e.event(c, "attach", nil)
	x.mu.Lock()
	var st *shim.Stream
	var pend *pendingAttach
	switch {
	case x.c.State.Status == StatusCreated || x.c.State.Status == StatusExited || x.c.State.Status == StatusRestarting:
		// Not running: the attach waits for the next start (docker start -a
		// attaches first), and sees its output from the first byte.
		pend = &pendingAttach{stdin: stdin, stdout: o.Stdout, stderr: o.Stderr, done: make(chan struct{})}
		x.attaches = append(x.attaches, pend)
	case x.c.State.Running() && x.shim != nil:
		sc := x.shim
		x.mu.Unlock()
		if st, err = sc.Attach(stdin, o.Stdout, o.Stderr); err != nil {
			return err
		}
		x.mu.Lock()
	default:
		x.mu.Unlock()
		return errConflict("You cannot attach to a container that is %s", x.c.State.Status)
	}
	x.mu.Unlock()
	if pend != nil {
		select {
		case <-pend.done:
		case <-ctx.Done():
			x.mu.Lock()
			listed := false
			for i, p := range x.attaches {
				if p == pend {
					x.attaches = append(x.attaches[:i], x.attaches[i+1:]...)
					listed = true
					break
				}
			}
			x.mu.Unlock()
			if !listed {
				// A start is connecting it right now.
				<-pend.done
				if pend.stream != nil {
					pend.stream.Close()
				}
			}
			return ctx.Err()
		}
		if pend.err != nil {
			return pend.err
		}
		st = pend.stream
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	return pump(st, o, c.Config.Tty)
}

// pump copies stdin to the stream and the stream's frames to Out, until
// the output ends or the client detaches.
func pump(st *shim.Stream, o AttachOptions, tty bool) error {
	detached := make(chan struct{})
	var once sync.Once
	if o.Stdin != nil {
		go func() {
			keys := o.DetachKeys
			if keys == nil {
				keys = []byte{0x10, 0x11}
			}
			err := copyDetach(st, o.Stdin, keys)
			if errors.Is(err, ErrDetached) {
				once.Do(func() { close(detached) })
				st.Close()
				return
			}
			_ = st.CloseWrite()
		}()
	}
	var buf []byte
	for {
		stream, p, err := shim.ReadFrame(st.R, buf)
		if err != nil {
			select {
			case <-detached:
				return ErrDetached
			default:
			}
			if errors.Is(err, io.EOF) || isClosed(err) {
				return nil
			}
			return err
		}
		buf = p[:0]
		if stream != shim.Stdout && stream != shim.Stderr {
			continue
		}
		if err := writeOut(o.Out, tty, stream, p); err != nil {
			return nil // the client went away
		}
	}
}

func isClosed(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "use of closed network connection") || errors.Is(err, io.ErrUnexpectedEOF))
}

// writeOut writes output to a client: raw for a terminal, else framed.
func writeOut(w io.Writer, tty bool, stream byte, p []byte) error {
	if tty {
		_, err := w.Write(p)
		return err
	}
	return shim.WriteFrame(w, stream, p)
}

func streamOf(name string) byte {
	if name == "stderr" {
		return shim.Stderr
	}
	return shim.Stdout
}

// copyDetach copies src to dst until EOF or until keys are read (returning
// ErrDetached). Bytes that might begin the key sequence are held back until
// it is clear they do not.
func copyDetach(dst io.Writer, src io.Reader, keys []byte) error {
	buf := make([]byte, 32<<10)
	matched := 0
	for {
		n, err := src.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+len(keys))
			for _, b := range buf[:n] {
				if b == keys[matched] {
					matched++
					if matched == len(keys) {
						if len(out) > 0 {
							_, _ = dst.Write(out)
						}
						return ErrDetached
					}
					continue
				}
				if matched > 0 {
					out = append(out, keys[:matched]...)
					matched = 0
					if b == keys[0] {
						matched = 1
						continue
					}
				}
				out = append(out, b)
			}
			if len(out) > 0 {
				if _, werr := dst.Write(out); werr != nil {
					return werr
				}
			}
		}
		if err != nil {
			if matched > 0 {
				_, _ = dst.Write(keys[:matched])
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// ParseDetachKeys parses Docker's --detach-keys: comma-separated single
// characters or ctrl-<a-z@[\]^_>.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		rest, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
		if !ok || len(rest) != 1 {
			return nil, errInvalid("Invalid detach keys (%s) provided", s)
		}
		ch := rest[0]
		switch {
		case ch >= 'a' && ch <= 'z':
			out = append(out, ch-'a'+1)
		case bytes.IndexByte([]byte("@[\\]^_"), ch) >= 0:
			out = append(out, ch-'@')
		default:
			return nil, errInvalid("Invalid detach keys (%s) provided", s)
		}
	}
	return out, nil
}

// Resize sets the terminal size of a running container.
func (e *Engine) Resize(ref string, height, width uint16) error {
	x, err := e.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	sc := x.shim
	id := x.c.ID
	x.mu.Unlock()
	if sc == nil {
		return errNotRunning(id)
	}
	if err := sc.Resize("", width, height); err != nil {
		return fmt.Errorf("resize %s: %w", id, err)
	}
	return nil
}

package cli

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// hijacked is an upgraded connection of attach or exec start: raw bytes
// both ways after the HTTP response (101 Switching Protocols).
type hijacked struct {
	conn net.Conn
	r    *bufio.Reader
}

func (h *hijacked) Read(p []byte) (int, error)  { return h.r.Read(p) }
func (h *hijacked) Write(p []byte) (int, error) { return h.conn.Write(p) }
func (h *hijacked) Close() error                { return h.conn.Close() }

// CloseWrite half-closes the connection: the container's stdin sees EOF.
func (h *hijacked) CloseWrite() error {
	if cw, ok := h.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijack sends a POST that upgrades the connection to a raw stream, as the
// docker CLI does ("Connection: Upgrade", "Upgrade: tcp").
func (c *apiClient) hijack(ctx context.Context, path string, query url.Values, body any) (*hijacked, error) {
	var rd io.Reader
	contentType := "text/plain"
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
		contentType = "application/json"
	}
	if err := c.settle(ctx); err != nil {
		return nil, err
	}
	u := c.base + "/v" + c.apiVersion() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "berth-cli/"+apiVersion)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, &connError{c.host, err}
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: reading the daemon's response: %w", path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer conn.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var m struct{ Message string }
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		if m.Message == "" {
			m.Message = resp.Status
		}
		return nil, &apiError{Status: resp.StatusCode, Message: m.Message}
	}
	return &hijacked{conn: conn, r: br}, nil
}

// demux copies a multiplexed stream (8-byte headers: stream, 0, 0, 0,
// big-endian length; then the payload) to stdout and stderr. Stream 3 is an
// error from the daemon, returned.
func demux(stdout, stderr io.Writer, src io.Reader) error {
	var hdr [8]byte
	buf := make([]byte, 32*1024)
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			if err == io.ErrUnexpectedEOF {
				return errors.New("unexpected EOF reading a stream header")
			}
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[4:]))
		var w io.Writer
		switch hdr[0] {
		case 0, 1:
			w = stdout
		case 2:
			w = stderr
		case 3:
			msg := make([]byte, n)
			if _, err := io.ReadFull(src, msg); err != nil {
				return err
			}
			return fmt.Errorf("error from daemon in stream: %s", msg)
		default:
			return fmt.Errorf("unrecognized input header: %d", hdr[0])
		}
		if w == nil {
			w = io.Discard
		}
		for n > 0 {
			chunk := buf
			if n < len(chunk) {
				chunk = chunk[:n]
			}
			m, err := io.ReadFull(src, chunk)
			if m > 0 {
				if _, werr := w.Write(chunk[:m]); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			n -= m
		}
	}
}

// errDetached is the user typing the detach keys: the attach ends, the
// container keeps running.
var errDetached = errors.New("read escape sequence")

// parseDetachKeys parses "ctrl-p,ctrl-q" or "a,ctrl-@" into bytes, as the
// docker CLI does.
func parseDetachKeys(keys string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		if len(k) > 1 {
			name, ok := strings.CutPrefix(strings.ToLower(k), "ctrl-")
			if !ok || len(name) != 1 {
				return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
			}
			c := name[0]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c == '[':
				out = append(out, 27)
			case c == '\\':
				out = append(out, 28)
			case c == ']':
				out = append(out, 29)
			case c == '^':
				out = append(out, 30)
			case c == '_':
				out = append(out, 31)
			default:
				return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
			}
			continue
		}
		if k == "" {
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
		out = append(out, k[0])
	}
	return out, nil
}

// escapeReader passes input through until it sees the detach keys, then
// returns errDetached. A partial match is held back and passed on when the
// next byte does not continue it.
type escapeReader struct {
	r       io.Reader
	keys    []byte
	matched int
	pending []byte
}

func (e *escapeReader) Read(p []byte) (int, error) {
	if len(e.pending) > 0 {
		n := copy(p, e.pending)
		e.pending = e.pending[n:]
		return n, nil
	}
	if len(e.keys) == 0 {
		return e.r.Read(p)
	}
	buf := make([]byte, len(p))
	n, err := e.r.Read(buf)
	out := p[:0]
	for _, b := range buf[:n] {
		if b == e.keys[e.matched] {
			e.matched++
			if e.matched == len(e.keys) {
				return len(out), errDetached
			}
			continue
		}
		if e.matched > 0 {
			out = append(out, e.keys[:e.matched]...)
			e.matched = 0
			if b == e.keys[0] {
				e.matched = 1
				continue
			}
		}
		out = append(out, b)
	}
	if len(out) > len(p) {
		e.pending = append(e.pending, out[len(p):]...)
		out = out[:len(p)]
	}
	copy(p, out)
	if len(out) == 0 && err == nil {
		return e.Read(p)
	}
	return len(out), err
}

// streams are the local ends of an attach.
type streams struct {
	in          io.Reader // nil: do not send stdin
	out, errOut io.Writer // nil: do not show
	tty         bool
	detachKeys  []byte
}

// pump copies between the local streams and a hijacked connection until
// the output ends (the container's streams closed), or the user detaches.
// When stdin ends first, the write side is closed and the output drained.
func pump(ctx context.Context, h *hijacked, s streams) error {
	outputDone := make(chan error, 1)
	go func() {
		var err error
		if s.out != nil || s.errOut != nil {
			if s.tty {
				w := s.out
				if w == nil {
					w = io.Discard
				}
				_, err = io.Copy(w, h)
			} else {
				err = demux(s.out, s.errOut, h)
			}
		} else {
			_, err = io.Copy(io.Discard, h)
		}
		outputDone <- err
	}()
	inputDone := make(chan error, 1)
	if s.in != nil {
		go func() {
			var mu sync.Mutex
			mu.Lock()
			defer mu.Unlock()
			_, err := io.Copy(h, &escapeReader{r: s.in, keys: s.detachKeys})
			if err == nil {
				_ = h.CloseWrite()
			}
			inputDone <- err
		}()
	}
	select {
	case err := <-outputDone:
		return normalizeStreamErr(err)
	case err := <-inputDone:
		if errors.Is(err, errDetached) {
			return errDetached
		}
		if s.out != nil || s.errOut != nil {
			select {
			case err := <-outputDone:
				return normalizeStreamErr(err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func normalizeStreamErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

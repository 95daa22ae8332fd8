// Package shim is the per-container supervisor ("berth shim", hidden) and
// the client the engine uses to talk to it.
//
// The engine keeps one shim started ahead of time (a Spare, waiting on a
// pipe for its job) and gives it the next container to start, so a start
// does not wait for a process to be spawned. The shim creates the
// container through package runtime (so it is the container's parent and
// reaps it), holds its stdio or pty, writes its output to the json-file log,
// and serves a unix socket in the container's state directory. It lives in
// its own session, so a daemon that dies (even by SIGKILL) leaves it and the
// container running; the next daemon reconnects through the socket. Once the
// container has started the shim re-executes itself into a smaller image
// that supervises only (handover_linux.go). When the container exits the
// shim records the exit in exit.json (atomically), tears the runtime state
// down, answers whoever waits, and exits.
//
// # Protocol
//
// One request per connection: a JSON Request line, answered by a JSON
// Response line. Attach and exec then turn the connection into a stream:
// from the shim, Docker's multiplexed frames (an 8-byte header: stream byte
// 1 stdout or 2 stderr, three zero bytes, the payload length as big-endian
// uint32, then the payload), ending, for exec, with a frame of stream 3
// whose payload is the exit Status as JSON; to the shim, the raw bytes of
// stdin, and a half-close for its end.
package shim

import (
	"encoding/binary"
	"io"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Files in the state directory.
const (
	ConfigFile = "shim.json"
	SocketFile = "shim.sock"
	ExitFile   = "exit.json"
	consoleDir = "console"
)

// Config is what the engine asks a shim to run (StateDir/shim.json).
type Config struct {
	ID          string `json:"id"`
	Bundle      string `json:"bundle"`      // the OCI bundle (config.json, rootfs)
	RuntimeRoot string `json:"runtimeRoot"` // package runtime's state root
	LogPath     string `json:"logPath"`     // json-file log; "" for none
	LogMaxSize  int64  `json:"logMaxSize"`  // bytes per file; <= 0 unbounded
	LogMaxFiles int    `json:"logMaxFiles"` //
	Tty         bool   `json:"tty"`
	Stdin       bool   `json:"stdin"`     // keep the container's stdin open for attaches
	StdinOnce   bool   `json:"stdinOnce"` // close it when the first attached stdin ends
	// LoopbackUp brings "lo" up in the container's new network namespace.
	LoopbackUp bool `json:"loopbackUp"`
	// SeccompCache is where compiled seccomp filters are kept (runtime).
	SeccompCache string `json:"seccompCache,omitempty"`
}

// Status is how a process ended.
type Status struct {
	ExitCode  int       `json:"exitCode"`
	ExitedAt  time.Time `json:"exitedAt"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
	Error     string    `json:"error,omitempty"` // why it could not run at all
}

// Request is one call.
type Request struct {
	Op string `json:"op"` // start, state, wait, attach, exec, resize, execState

	// attach
	Stdin  bool `json:"stdin,omitempty"`
	Stdout bool `json:"stdout,omitempty"`
	Stderr bool `json:"stderr,omitempty"`

	// exec, resize, execState
	ExecID  string         `json:"execId,omitempty"`
	Process *specs.Process `json:"process,omitempty"`
	Detach  bool           `json:"detach,omitempty"`

	// resize
	Width  uint16 `json:"width,omitempty"`
	Height uint16 `json:"height,omitempty"`
}

// Response answers a Request.
type Response struct {
	Error   string  `json:"error,omitempty"`
	Pid     int     `json:"pid,omitempty"`
	Running bool    `json:"running,omitempty"`
	Status  *Status `json:"status,omitempty"` // wait; state and execState once exited
}

// Stream numbers of frames.
const (
	Stdout byte = 1
	Stderr byte = 2
	Exit   byte = 3 // last frame of an exec stream: the Status as JSON
)

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, stream byte, p []byte) error {
	var h [8]byte
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// maxFrame bounds a frame's payload when reading (the shim writes at most
// 32 KiB).
const maxFrame = 1 << 20

// ReadFrame reads one frame into buf (grown as needed).
func ReadFrame(r io.Reader, buf []byte) (stream byte, p []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxFrame {
		return 0, nil, io.ErrUnexpectedEOF
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return h[0], buf, nil
}

package engine

import (
	"context"

	"github.com/berth-dev/berth/logs"
)

// LogsOptions are docker logs' flags.
type LogsOptions = logs.ReadOpts

// Logs reads a container's log (json-file) into fn; with Follow it goes on
// until the container's current run ends or ctx ends. It reports whether
// the container has a terminal (then the output has no frames).
func (e *Engine) Logs(ctx context.Context, ref string, o LogsOptions, fn func(logs.Entry) error) (tty bool, err error) {
	x, err := e.get(ref)
	if err != nil {
		return false, err
	}
	x.mu.Lock()
	c := x.c
	exited := x.exited
	x.mu.Unlock()
	if c.HostConfig.LogConfig.Type == "none" || c.LogPath == "" {
		return c.Config.Tty, errInvalid("configured logging driver does not support reading")
	}
	if o.Follow {
		if exited == nil {
			// Not running: nothing more will come.
			o.Follow = false
		} else {
			o.Done = exited
		}
	}
	return c.Config.Tty, logs.Read(ctx, c.LogPath, o, fn)
}

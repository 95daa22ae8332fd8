package engine

import (
	"path/filepath"
	"sync"

	"github.com/berth-dev/berth/shim"
)

// spares keeps one shim started ahead of time, so that a container start
// does not wait for a shim process to be spawned and initialised (about a
// fifth of a start). It is refilled in the background after each use.
type spares struct {
	mu      sync.Mutex
	spare   *shim.Spare
	filling bool
	closed  bool
}

// take returns the spare (or a new shim if there is none) and starts
// making the next one.
func (e *Engine) takeShim() (*shim.Spare, error) {
	parent := filepath.Join(e.execRoot, "containers")
	p := &e.spares
	p.mu.Lock()
	sp := p.spare
	p.spare = nil
	p.mu.Unlock()
	if sp == nil {
		var err error
		if sp, err = shim.Spawn(e.shimExe, parent); err != nil {
			return nil, err
		}
	}
	e.refillShim()
	return sp, nil
}

// refillShim makes a spare in the background unless one exists or is on
// its way.
func (e *Engine) refillShim() {
	p := &e.spares
	p.mu.Lock()
	if p.spare != nil || p.filling || p.closed {
		p.mu.Unlock()
		return
	}
	p.filling = true
	p.mu.Unlock()
	go func() {
		sp, err := shim.Spawn(e.shimExe, filepath.Join(e.execRoot, "containers"))
		p.mu.Lock()
		p.filling = false
		if err != nil || p.closed || p.spare != nil {
			p.mu.Unlock()
			if err == nil {
				sp.Close()
			}
			return
		}
		p.spare = sp
		p.mu.Unlock()
	}()
}

// close lets the spare go (it exits when its job pipe closes).
func (p *spares) close() {
	p.mu.Lock()
	p.closed = true
	sp := p.spare
	p.spare = nil
	p.mu.Unlock()
	if sp != nil {
		sp.Close()
	}
}

// Package engine is containers as users see them: create, start, stop,
// exec, attach, logs, restart policies, health checks; it persists each
// container's record and, after a daemon restart, reconnects to the shims
// of the containers that kept running. It knows nothing of HTTP or of the
// Docker API's wire types: the server translates.
package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
	"github.com/berth-dev/berth/image"
	"github.com/berth-dev/berth/network"
	"github.com/berth-dev/berth/runtime"
	"github.com/berth-dev/berth/snapshot"
	"github.com/berth-dev/berth/trash"
	"github.com/berth-dev/berth/volume"
)

// Options configure an Engine.
type Options struct {
	DataRoot string // containers/<id>/ holds records and logs
	ExecRoot string // containers/<id>/ holds bundles and shim sockets; runtime/ the runtime's state
	Images   *image.Store
	Layers   *snapshot.Store
	Events   *events.Bus
	// ShimExe is the program started as "<ShimExe> shim DIR" (this binary).
	ShimExe string
	// DockerInit returns the host path of the init run by --init.
	DockerInit func() (string, error)
	// Warn receives problems worth logging that fail nothing.
	Warn func(string)
	// Networks are the daemon's networks; nil runs containers with
	// network modes none and host only.
	Networks *network.Manager
	// Volumes are the daemon's named volumes; nil refuses volume mounts.
	Volumes *volume.Store
}

// Engine manages the containers of one data root.
type Engine struct {
	root, execRoot string
	images         *image.Store
	layers         *snapshot.Store
	bus            *events.Bus
	rt             *runtime.Runtime
	shimExe        string
	dockerInit     func() (string, error)
	warn           func(string)
	nets           *network.Manager
	vols           *volume.Store
	// volMu orders volume removal against creates that take volumes
	// (RemoveVolume, Create).
	volMu sync.Mutex

	mu    sync.Mutex
	byID  map[string]*ctr
	names map[string]string // name -> id
	execs map[string]*Exec  // exec id -> exec

	warmer cgroupWarmer
	spares spares
	// trash deletes removed containers' records and logs (DataRoot/trash)
	// off the request's path.
	trash *trash.Bin

	ctx    context.Context // ends at Close: monitors and restarts stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New opens the containers under o.DataRoot, reconnects to the ones still
// running and brings back those whose restart policy asks for it.
func New(o Options) (*Engine, error) {
	e := &Engine{
		root: o.DataRoot, execRoot: o.ExecRoot, images: o.Images, layers: o.Layers, bus: o.Events,
		rt: runtime.New(filepath.Join(o.ExecRoot, "runtime")), shimExe: o.ShimExe, dockerInit: o.DockerInit,
		warn: o.Warn, nets: o.Networks, vols: o.Volumes, byID: map[string]*ctr{}, names: map[string]string{}, execs: map[string]*Exec{},
	}
	if e.warn == nil {
		e.warn = func(string) {}
	}
	if e.shimExe == "" {
		e.shimExe = "/proc/self/exe"
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, d := range []string{filepath.Join(e.root, "containers"), filepath.Join(e.execRoot, "containers"), e.rt.Root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	bin, err := trash.New(filepath.Join(e.root, "trash"), func(err error) { e.warn(err.Error()) })
	if err != nil {
		return nil, err
	}
	e.trash = bin
	if err := e.load(); err != nil {
		return nil, err
	}
	e.restore()
	e.sweepEndpoints()
	e.refillShim()
	return e, nil
}

// Close stops watching containers; they keep running, supervised by their
// shims. It returns once removed containers' records are deleted (their
// layers are the store's: see snapshot.Store.WaitRemovals).
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
	e.spares.close()
	e.trash.Wait()
}

// load reads every container record. A directory without a readable record
// is what a crash during create leaves: it goes.
func (e *Engine) load() error {
	dir := filepath.Join(e.root, "containers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name(), containerFile))
		var c Container
		if err == nil {
			err = json.Unmarshal(b, &c)
		}
		if err != nil || c.ID != ent.Name() {
			e.warn(fmt.Sprintf("container %s: no usable record (%v): removing what is left of it", ent.Name(), err))
			e.cleanupFiles(ent.Name())
			continue
		}
		e.byID[c.ID] = &ctr{c: c}
		e.names[c.Name] = c.ID
	}
	return nil
}

// get finds a container by full id, name ("/name" too) or unique id prefix.
func (e *Engine) get(ref string) (*ctr, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.getLocked(ref)
}

func (e *Engine) getLocked(ref string) (*ctr, error) {
	if ref == "" {
		return nil, fmt.Errorf("no container name or id given: %w", errdefs.ErrInvalidArgument)
	}
	if x := e.byID[ref]; x != nil {
		return x, nil
	}
	if id, ok := e.names[strings.TrimPrefix(ref, "/")]; ok {
		return e.byID[id], nil
	}
	var found *ctr
	for id, x := range e.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, fmt.Errorf("multiple containers found with provided prefix: %s: %w", ref, errdefs.ErrInvalidArgument)
			}
			found = x
		}
	}
	if found == nil {
		return nil, fmt.Errorf("No such container: %s: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

// Get returns a copy of a container's record.
func (e *Engine) Get(ref string) (*Container, error) {
	x, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	return x.snapshot(), nil
}

// List returns the containers, newest first.
func (e *Engine) List() []*Container {
	e.mu.Lock()
	xs := make([]*ctr, 0, len(e.byID))
	for _, x := range e.byID {
		xs = append(xs, x)
	}
	e.mu.Unlock()
	out := make([]*Container, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// ImageInUse reports whether a container uses the image (for rmi and prune).
func (e *Engine) ImageInUse(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.byID {
		x.mu.Lock()
		used := string(x.c.ImageID) == id
		x.mu.Unlock()
		if used {
			return true
		}
	}
	return false
}

// ImageUsers returns the names of the containers using an image.
func (e *Engine) ImageUsers(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, x := range e.byID {
		x.mu.Lock()
		if string(x.c.ImageID) == id {
			out = append(out, x.c.ID)
		}
		x.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// event publishes a container event with Docker's attributes.
func (e *Engine) event(c *Container, action string, extra map[string]string) {
	if e.bus == nil {
		return
	}
	attrs := map[string]string{"name": c.Name, "image": c.Config.Image}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	e.bus.Publish(events.Event{Type: "container", Action: action, Actor: events.Actor{ID: c.ID, Attributes: attrs}})
}

// errConflict formats a 409.
func errConflict(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrConflict)...)
}

func errInvalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// now is the engine's clock (UTC, as Docker reports times).
func now() time.Time { return time.Now().UTC() }

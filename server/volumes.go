package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
	"github.com/berth-dev/berth/volume"
)

// anonymousLabel marks an anonymous volume, as Docker labels the volumes
// it makes without a name (API 1.42 prunes only those by default).
const anonymousLabel = "com.docker.volume.anonymous"

// errNoVolumes answers volume requests to a daemon without a volume store.
var errNoVolumes = fmt.Errorf("volumes are not available: %w", errdefs.ErrNotImplemented)

// volumeAPI serves /volumes. What it needs of the daemon are two
// functions, so that tests can run it over a store without an engine.
type volumeAPI struct {
	store func() *volume.Store       // nil: the daemon has no volumes
	users func(name string) []string // ids of the containers that mount a volume
	// removeFn removes a volume no container mounts, atomically with the
	// check (the engine's RemoveVolume); nil checks users, then removes.
	removeFn func(name string) error
	events   *events.Bus // nil: no events
	pruning  atomic.Bool
}

func (s *Server) volumeRoutes() {
	// Without an engine there is no store, and users is never asked.
	a := &volumeAPI{events: s.events, store: s.engineVolumes}
	if s.engine != nil {
		a.users, a.removeFn = s.engine.VolumeUsers, s.engine.RemoveVolume
	}
	a.routes(s.mux)
}

func (a *volumeAPI) routes(m *http.ServeMux) {
	m.HandleFunc("GET /volumes", a.list)
	m.HandleFunc("POST /volumes/create", a.create)
	m.HandleFunc("POST /volumes/prune", a.prune)
	m.HandleFunc("GET /volumes/{name}", a.inspect)
	m.HandleFunc("DELETE /volumes/{name}", a.remove)
	// berth's own: a volume's content as a tar, out and in.
	m.HandleFunc("GET /volumes/{name}/export", a.export)
	m.HandleFunc("PUT /volumes/{name}/import", a.importTar)
}

// volumeMountpoint is the host directory of a volume, for a container's
// inspect ("" if the volume is not found).
func (s *Server) volumeMountpoint(name string) string {
	st := s.engineVolumes()
	if st == nil || name == "" {
		return ""
	}
	v, err := st.Get(name)
	if err != nil {
		return ""
	}
	return v.Mountpoint
}

// apiVolume is a volume as Docker's API shows it: Labels always a map (an
// anonymous volume's has Docker's anonymous label), Options null without
// options, no UsageData (that is system df's).
func apiVolume(v *volume.Volume) volumetypes.Volume {
	labels := maps.Clone(v.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if v.Anonymous {
		if _, ok := labels[anonymousLabel]; !ok {
			labels[anonymousLabel] = ""
		}
	}
	out := volumetypes.Volume{
		Name: v.Name, Driver: orDefault(v.Driver, volume.DriverLocal), Mountpoint: v.Mountpoint,
		Labels: labels, Scope: "local",
	}
	if !v.CreatedAt.IsZero() {
		out.CreatedAt = v.CreatedAt.Format(time.RFC3339)
	}
	if len(v.Options) > 0 {
		out.Options = maps.Clone(v.Options)
	}
	return out
}

// volumeFilter is docker volume ls --filter, with Docker's rules: name
// whole or as a regular expression (so any part), driver exactly, label
// by key or key=value (all must hold), dangling true (no container mounts
// the volume) or false.
func volumeFilter(f map[string][]string) (func(v volumetypes.Volume, inUse bool) bool, error) {
	for k := range f {
		switch k {
		case "name", "driver", "label", "dangling":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	dangling, err := danglingFilter(f)
	if err != nil {
		return nil, err
	}
	anyOf := func(key string, ok func(string) bool) bool { return anyValue(f, key, ok) }
	return func(v volumetypes.Volume, inUse bool) bool {
		return anyOf("name", func(p string) bool { return matchRegexp(p, v.Name) }) &&
			anyOf("driver", func(d string) bool { return d == v.Driver }) &&
			labelsMatch(f["label"], v.Labels) &&
			(dangling == nil || *dangling != inUse)
	}, nil
}

// volumePruneFilter selects what docker volume prune removes: local
// volumes no container mounts and without mount options (a tmpfs, a bind,
// a device: nothing to reclaim), with the labels asked (label: all must
// hold; label!: left out when all hold, as Docker). Since API 1.42 only
// anonymous volumes go unless filter all is true; older clients mean all.
func volumePruneFilter(f map[string][]string, version string) (func(v volumetypes.Volume, inUse bool) bool, error) {
	for k := range f {
		switch k {
		case "label", "label!", "all":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	all := compareVersions(version, "1.42") < 0
	switch vs := f["all"]; {
	case len(vs) > 1:
		return nil, fmt.Errorf("invalid filter 'all=%s': only one value is expected: %w", strings.Join(vs, ","), errdefs.ErrInvalidArgument)
	case len(vs) == 1:
		b, err := strconv.ParseBool(vs[0])
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'all': invalid value %q: %w", vs[0], errdefs.ErrInvalidArgument)
		}
		all = all || b
	}
	labels := f["label"]
	if !all {
		labels = append(labels[:len(labels):len(labels)], anonymousLabel)
	}
	not := f["label!"]
	return func(v volumetypes.Volume, inUse bool) bool {
		return !inUse && v.Driver == volume.DriverLocal && len(v.Options) == 0 &&
			labelsMatch(labels, v.Labels) &&
			(len(not) == 0 || !labelsMatch(not, v.Labels))
	}, nil
}

func (a *volumeAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := volumeFilter(f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := volumetypes.ListResponse{Volumes: []volumetypes.Volume{}, Warnings: []string{}}
	st := a.store()
	if st == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	_, needUse := f["dangling"]
	for _, v := range st.List() {
		av := apiVolume(v)
		if match(av, needUse && len(a.users(v.Name)) > 0) {
			out.Volumes = append(out.Volumes, av)
		}
	}
	out.Warnings = append(out.Warnings, st.Warnings()...)
	writeJSON(w, http.StatusOK, out)
}

func (a *volumeAPI) create(w http.ResponseWriter, r *http.Request) {
	st := a.store()
	if st == nil {
		writeError(w, errNoVolumes)
		return
	}
	var req volumetypes.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.ClusterVolumeSpec != nil {
		writeError(w, fmt.Errorf("cluster volumes are not supported: berth has no swarm mode: %w", errdefs.ErrInvalidArgument))
		return
	}
	if req.Driver != "" && req.Driver != volume.DriverLocal {
		// Before the name, as Docker looks up the driver first.
		writeError(w, fmt.Errorf("create %s: volume driver %q is not supported: berth has only the %q driver: %w", req.Name, req.Driver, volume.DriverLocal, errdefs.ErrInvalidArgument))
		return
	}
	existed := false
	if req.Name != "" {
		_, err := st.Get(req.Name)
		existed = err == nil
	}
	v, err := st.Create(volume.CreateRequest{Name: req.Name, Driver: req.Driver, Labels: req.Labels, Options: req.DriverOpts})
	if err != nil {
		writeError(w, err)
		return
	}
	if !existed {
		a.event(v.Name, "create", nil)
	}
	writeJSON(w, http.StatusCreated, apiVolume(v))
}

func (a *volumeAPI) inspect(w http.ResponseWriter, r *http.Request) {
	st := a.store()
	if st == nil {
		writeError(w, errNoVolumes)
		return
	}
	v, err := st.Get(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, apiVolume(v))
}

// remove is docker volume rm: a volume a container mounts (in any state)
// stays, 409 naming the containers; force only makes a missing volume no
// error.
func (a *volumeAPI) remove(w http.ResponseWriter, r *http.Request) {
	st := a.store()
	if st == nil {
		writeError(w, errNoVolumes)
		return
	}
	name := r.PathValue("name")
	// Looked up first, so that a missing volume is a 404 whoever names it.
	_, err := st.Get(name)
	if err == nil {
		err = a.removeUnused(st, name)
	}
	if err != nil {
		if boolQuery(r, "force") && errors.Is(err, errdefs.ErrNotFound) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeError(w, err)
		return
	}
	a.event(name, "destroy", nil)
	w.WriteHeader(http.StatusNoContent)
}

// removeUnused removes a volume unless a container mounts it (409 naming
// the containers, as Docker).
func (a *volumeAPI) removeUnused(st *volume.Store, name string) error {
	if a.removeFn != nil {
		return a.removeFn(name)
	}
	if users := a.users(name); len(users) > 0 {
		return fmt.Errorf("remove %s: volume is in use - [%s]: %w", name, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	return st.Remove(name)
}

func (a *volumeAPI) prune(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := volumePruneFilter(f, versionOf(r))
	if err != nil {
		writeError(w, err)
		return
	}
	rep := volumetypes.PruneReport{VolumesDeleted: []string{}}
	st := a.store()
	if st == nil {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	if !a.pruning.CompareAndSwap(false, true) {
		writeError(w, fmt.Errorf("a prune operation is already running: %w", errdefs.ErrConflict))
		return
	}
	defer a.pruning.Store(false)
	for _, v := range st.List() {
		if r.Context().Err() != nil {
			break
		}
		if !match(apiVolume(v), len(a.users(v.Name)) > 0) {
			continue
		}
		size, err := st.Usage(v.Name)
		if err != nil {
			size = 0
		}
		if err := a.removeUnused(st, v.Name); err != nil {
			continue // taken meanwhile, or gone
		}
		a.event(v.Name, "destroy", nil)
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	sort.Strings(rep.VolumesDeleted)
	a.event("", "prune", map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)})
	writeJSON(w, http.StatusOK, rep)
}

// export is GET /volumes/{name}/export: the volume's content as a tar.
func (a *volumeAPI) export(w http.ResponseWriter, r *http.Request) {
	st := a.store()
	if st == nil {
		writeError(w, errNoVolumes)
		return
	}
	name := r.PathValue("name")
	if _, err := st.Get(name); err != nil {
		writeError(w, err)
		return
	}
	cw := &countWriter{w: w, header: func() { w.Header().Set("Content-Type", "application/x-tar") }}
	if err := st.Export(name, cw); err != nil {
		if cw.n == 0 {
			writeError(w, err)
			return
		}
		// Part of the tar is out: break the connection rather than end a
		// tar that looks whole.
		panic(http.ErrAbortHandler)
	}
}

// importTar is PUT /volumes/{name}/import: the request body, a tar (plain,
// gzip or zstd), unpacked into the volume, which is created if there is
// none (and removed again if the import fails) and must be empty (409
// otherwise).
func (a *volumeAPI) importTar(w http.ResponseWriter, r *http.Request) {
	st := a.store()
	if st == nil {
		writeError(w, errNoVolumes)
		return
	}
	name := r.PathValue("name")
	created := false
	if _, err := st.Get(name); errors.Is(err, errdefs.ErrNotFound) {
		if _, err := st.Create(volume.CreateRequest{Name: name}); err != nil {
			writeError(w, err)
			return
		}
		created = true
	} else if err != nil {
		writeError(w, err)
		return
	}
	if err := st.Import(name, r.Body); err != nil {
		if created {
			_ = st.Remove(name)
		}
		writeError(w, err)
		return
	}
	if created {
		a.event(name, "create", nil)
	}
	w.WriteHeader(http.StatusNoContent)
}

// event publishes a volume event with Docker's attributes (driver local);
// the engine publishes mount and unmount.
func (a *volumeAPI) event(name, action string, attrs map[string]string) {
	if a.events == nil {
		return
	}
	if attrs == nil {
		attrs = map[string]string{"driver": volume.DriverLocal}
	}
	a.events.Publish(events.Event{Type: "volume", Action: action, Scope: "local",
		Actor: events.Actor{ID: name, Attributes: attrs}})
}

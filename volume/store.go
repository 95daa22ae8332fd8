package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/ids"
)

// DriverLocal is the one volume driver berth has, Docker's default.
const DriverLocal = "local"

// Names below the store's directory.
const (
	dataDir     = "_data"
	metaFile    = "volume.json"
	trashPrefix = ".removing-"
)

// Volume is one volume.
type Volume struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`     // "local"
	Mountpoint string            `json:"mountpoint"` // <dir>/<name>/_data
	CreatedAt  time.Time         `json:"createdAt"`
	Labels     map[string]string `json:"labels,omitempty"`
	// Options are the local driver's: type, o and device, as mount(8)'s
	// -t, -o and device.
	Options map[string]string `json:"options,omitempty"`
	// Anonymous is set for a volume made for an image's VOLUME or a
	// "-v /path" without a name.
	Anonymous bool `json:"anonymous,omitempty"`
}

func (v *Volume) clone() *Volume {
	c := *v
	c.Labels = maps.Clone(v.Labels)
	c.Options = maps.Clone(v.Options)
	return &c
}

// ownFS reports whether the volume is a file system of its own (made with
// options), mounted on its _data directory while it is in use.
func (v *Volume) ownFS() bool { return len(v.Options) > 0 }

// CreateRequest is what Create makes.
type CreateRequest struct {
	// Name is the volume's name; "" makes an anonymous volume with a
	// random name (64 hex digits).
	Name string
	// Driver is "" or "local".
	Driver string
	Labels map[string]string
	// Options are the local driver's: type, o and device.
	Options   map[string]string
	Anonymous bool
}

// Store is the volumes of one directory. Its methods are safe for
// concurrent use.
type Store struct {
	dir string // absolute, symlinks resolved (as in /proc/self/mountinfo)

	mu   sync.Mutex
	vols map[string]*Volume
	// refs counts the references of each volume in use: volume name ->
	// reference (a container id) -> count.
	refs      map[string]map[string]int
	importing map[string]bool
	warnings  []string
}

// Open opens the volumes kept in dir, creating it if need be (mode 0701,
// as Docker's, so that containers' users can reach a volume's content but
// not list the volumes). It finishes removals a crash interrupted. It
// mounts nothing and unmounts nothing: containers that outlived a daemon
// may still use the volumes' file systems.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o701); err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	s := &Store{dir: dir, vols: map[string]*Volume{}, refs: map[string]map[string]int{}, importing: map[string]bool{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, trashPrefix):
			if err := s.clearTrash(name); err != nil {
				s.warn("%s: unfinished removal: %v", filepath.Join(dir, name), err)
			}
			continue
		case strings.HasPrefix(name, "."), !e.IsDir():
			continue // not a volume (temporary files, another tool's)
		}
		v, err := s.load(name)
		if err != nil {
			s.warn("volume %s skipped: %v", name, err)
			continue
		}
		s.vols[name] = v
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Warnings are the problems Open found and left: volume directories without
// readable metadata, removals it could not finish.
func (s *Store) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.warnings)
}

func (s *Store) warn(format string, args ...any) {
	s.warnings = append(s.warnings, fmt.Sprintf(format, args...))
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.dir}, elem...)...)
}

func (s *Store) load(name string) (*Volume, error) {
	b, err := os.ReadFile(s.path(name, metaFile))
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(name, metaFile), err)
	}
	if v.Name != name {
		return nil, fmt.Errorf("%s names volume %q", s.path(name, metaFile), v.Name)
	}
	if v.Driver != DriverLocal {
		return nil, fmt.Errorf("driver %q is not supported", v.Driver)
	}
	v.Mountpoint = s.path(name, dataDir) // the store may have moved
	return &v, nil
}

func (s *Store) save(v *Volume) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(v.Name, metaFile), append(b, '\n'), 0o600)
}

// clearTrash finishes a removal: trash is a volume directory renamed away.
func (s *Store) clearTrash(trash string) error {
	p := s.path(trash)
	below, err := mountsBelow(p)
	if err != nil {
		return err
	}
	if len(below) > 0 {
		return fmt.Errorf("%s is mounted: %w", below[0], errdefs.ErrConflict)
	}
	return os.RemoveAll(p)
}

// Create makes a volume, or returns the volume of that name if there is
// one with the same driver and options (Docker's create is idempotent; the
// labels of an existing volume are kept).
//
// A name is Docker's, [a-zA-Z0-9][a-zA-Z0-9_.-]+; "" makes an anonymous
// volume with a random name. The options are the local driver's: "type"
// (mount(8)'s -t), "o" (its -o) and "device". A device, a type or "o" needs
// the others, as in Docker, except that a tmpfs needs no device and a bind
// ("o" holds bind or rbind) needs no type; a bind's device must be an
// existing directory, by absolute path. Errors are of class
// ErrInvalidArgument or ErrConflict.
func (s *Store) Create(req CreateRequest) (*Volume, error) {
	name, anon := req.Name, req.Anonymous
	if name == "" {
		name, anon = ids.New(), true
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	driver := req.Driver
	if driver == "" {
		driver = DriverLocal
	}
	if driver != DriverLocal {
		return nil, fmt.Errorf("create %s: volume driver %q is not supported: berth has only the %q driver: %w", name, driver, DriverLocal, errdefs.ErrInvalidArgument)
	}
	if err := checkOptions(req.Options); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vols[name]; ok {
		if v.Driver != driver || !maps.Equal(v.Options, req.Options) {
			return nil, fmt.Errorf("create %s: volume %s already exists with different options: %w", name, name, errdefs.ErrConflict)
		}
		return v.clone(), nil
	}
	v := &Volume{
		Name:       name,
		Driver:     driver,
		Mountpoint: s.path(name, dataDir),
		CreatedAt:  time.Now().UTC(),
		Anonymous:  anon,
	}
	if len(req.Labels) > 0 {
		v.Labels = maps.Clone(req.Labels)
	}
	if len(req.Options) > 0 {
		v.Options = maps.Clone(req.Options)
	}
	// A directory of that name without metadata (a crash between these
	// two steps, or metadata lost) is taken over, content and all.
	_, statErr := os.Lstat(s.path(name))
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if err := s.save(v); err != nil {
		if errors.Is(statErr, fs.ErrNotExist) {
			os.RemoveAll(s.path(name))
		}
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	s.vols[name] = v
	return v.clone(), nil
}

// CheckName is the local driver's rule for a volume's name,
// [a-zA-Z0-9][a-zA-Z0-9_.-]+, with Docker's error (ErrInvalidArgument; a
// relative host path reads as a name, hence the hint).
func CheckName(name string) error {
	if !ids.ValidName(name, 2) {
		return fmt.Errorf(`create %s: %q includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path: %w`,
			name, name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// checkOptions checks the local driver's options.
func checkOptions(o map[string]string) error {
	keys := slices.Sorted(maps.Keys(o))
	for _, k := range keys {
		switch k {
		case "type", "o", "device":
		default:
			return fmt.Errorf("invalid option: %q: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if len(o) == 0 {
		return nil
	}
	_, hasType := o["type"]
	_, hasO := o["o"]
	device, hasDevice := o["device"]
	missing := func(opt string) error {
		return fmt.Errorf("missing required option: %q: %w", opt, errdefs.ErrInvalidArgument)
	}
	switch {
	case isBind(o["o"]):
		if !hasDevice {
			return missing("device")
		}
		if !filepath.IsAbs(device) {
			return fmt.Errorf("bind device %q must be an absolute path: %w", device, errdefs.ErrInvalidArgument)
		}
		fi, err := os.Stat(device)
		if err != nil {
			return fmt.Errorf("bind device %q: %w: %w", device, err, errdefs.ErrInvalidArgument)
		}
		if !fi.IsDir() {
			return fmt.Errorf("bind device %q is not a directory: %w", device, errdefs.ErrInvalidArgument)
		}
	case o["type"] == "tmpfs":
	case !hasType && (hasDevice || hasO):
		return missing("type")
	case !hasDevice && (hasType || hasO):
		return missing("device")
	}
	return nil
}

// Get returns the volume called name (ErrNotFound if there is none).
func (s *Store) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil, notFound("get", name)
	}
	return v.clone(), nil
}

func notFound(op, name string) error {
	return fmt.Errorf("%s %s: no such volume: %w", op, name, errdefs.ErrNotFound)
}

// List returns every volume, by name.
func (s *Store) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*Volume, 0, len(s.vols))
	for _, v := range s.vols {
		list = append(list, v.clone())
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

// Remove removes a volume and its content (not a bind's host directory,
// nor a block device's file system). It is ErrConflict while the volume is
// mounted ([Store.Mount]); checking containers that use the volume without
// having it mounted is the caller's job.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return notFound("remove", name)
	}
	if refs := s.refs[name]; len(refs) > 0 {
		return fmt.Errorf("remove %s: volume is in use - [%s]: %w", name, strings.Join(slices.Sorted(maps.Keys(refs)), ", "), errdefs.ErrConflict)
	}
	// A volume's file system left mounted by a daemon that crashed: no
	// container is known to use it any more.
	if v.ownFS() {
		if err := unmountIfMounted(v.Mountpoint); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	below, err := mountsBelow(s.path(name))
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if len(below) > 0 {
		return fmt.Errorf("remove %s: %s is mounted: %w", name, below[0], errdefs.ErrConflict)
	}
	// Renamed away in one step, so a crash leaves the whole volume or
	// none of it.
	trash := s.path(trashPrefix + name + "-" + ids.New()[:12])
	if err := os.Rename(s.path(name), trash); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	delete(s.vols, name)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove %s: the volume is gone, but not all of its content (the next start of the daemon retries): %w", name, err)
	}
	return nil
}

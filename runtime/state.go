package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
)

// Status values, as the runtime-spec names them.
const (
	StatusCreating = specs.StateCreating
	StatusCreated  = specs.StateCreated
	StatusRunning  = specs.StateRunning
	StatusStopped  = specs.StateStopped
	StatusPaused   = specs.ContainerState("paused")
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// record is what the runtime keeps on disk for one container, in
// <root>/<id>/state.json. The spec is kept so that exec, kill, delete and the
// poststop hooks see the configuration the container was created with.
type record struct {
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // start time of Pid, guards against PID reuse
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Spec is decoded from SpecJSON by load. SpecJSON is what save writes:
	// the bundle's config.json as read, or Spec encoded when it is nil
	// (after Update). Encoding a spec with encoding/json first builds an
	// encoder for every runtime-spec type, ~0.5 ms in a short-lived process.
	// Records kept in the cache drop it: Spec says the same (a shim keeps a
	// record per container, and Docker's seccomp profile alone is ~20 kB).
	Spec     *specs.Spec     `json:"-"`
	SpecJSON json.RawMessage `json:"spec"`
}

// State is the runtime-spec state of a container plus the fields runc also prints.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// validIDChar is [A-Za-z0-9_+.-], the characters runc allows in an id.
func validIDChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+-.", c)
}

func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("container id is empty: %w", errdefs.ErrInvalidArgument)
	}
	if len(id) > 1024 || strings.IndexFunc(id, func(c rune) bool { return !validIDChar(c) }) >= 0 || id == "." || id == ".." {
		return fmt.Errorf("container id %q is invalid: use letters, digits, '_', '+', '-' and '.': %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

func (r *Runtime) load(id string) (*record, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(r.dir(id), stateFile)
	fi, err := os.Stat(path)
	if err == nil {
		if c, ok := r.recs.Load(id); ok && c.(cachedRecord).same(fi) {
			return c.(cachedRecord).rec, nil
		}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %q does not exist: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("container %q: read state: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state file: %w", id, err)
	}
	if rec.Spec, err = decodeSpec(rec.SpecJSON); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state file: spec: %w", id, err)
	}
	rec.SpecJSON = nil
	if fi != nil {
		r.recs.Store(id, cachedRecord{&rec, fi})
	}
	return &rec, nil
}

// cachedRecord is a record as this process last read or wrote it: decoding
// the spec again costs about half a millisecond, and "run" would do it for
// create, start and delete. It is used while state.json is the same file
// (inode, size and modification time), so that another process's change is
// read.
type cachedRecord struct {
	rec *record
	fi  os.FileInfo
}

func (c cachedRecord) same(fi os.FileInfo) bool {
	return os.SameFile(c.fi, fi) && c.fi.Size() == fi.Size() && c.fi.ModTime().Equal(fi.ModTime())
}

// save writes the record atomically: a crash leaves the old file or the new one.
func (r *Runtime) save(rec *record) error {
	out := *rec
	if out.SpecJSON == nil {
		b, err := json.Marshal(rec.Spec)
		if err != nil {
			return err
		}
		out.SpecJSON = b
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	rec.SpecJSON = nil
	path := filepath.Join(r.dir(rec.ID), stateFile)
	if err := atomicfile.Replace(path, b, 0o600); err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		r.recs.Store(rec.ID, cachedRecord{rec, fi})
	}
	return nil
}

// status derives the container's status from the kernel: the init process,
// the exec FIFO and the freezer.
func (r *Runtime) status(rec *record) specs.ContainerState {
	if rec.Pid <= 0 || !processAlive(rec.Pid, rec.PidStart) {
		return StatusStopped
	}
	if _, err := os.Lstat(filepath.Join(r.dir(rec.ID), fifoName)); err == nil {
		return StatusCreated
	}
	if cg, err := loadCgroup(rec); err == nil {
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return StatusPaused
		}
	}
	return StatusRunning
}

func (r *Runtime) stateOf(rec *record) *State {
	st := &State{
		State: specs.State{
			Version:     specs.Version,
			ID:          rec.ID,
			Status:      r.status(rec),
			Bundle:      rec.Bundle,
			Annotations: rec.Spec.Annotations,
		},
		Rootfs:  rec.Rootfs,
		Created: rec.Created,
		Owner:   rec.Owner,
	}
	if st.Status != StatusStopped {
		st.Pid = rec.Pid
	}
	return st
}

// processStartTime reads field 22 of /proc/<pid>/stat and the state letter.
func processStartTime(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0][0], err
}

func processAlive(pid int, start uint64) bool {
	st, state, err := processStartTime(pid)
	if err != nil {
		return false
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return start == 0 || st == start
}

// signalProcess sends sig to pid only if it is still the process we started.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	if !processAlive(pid, start) {
		return fmt.Errorf("process %d: %w", pid, errdefs.ErrNotFound)
	}
	return unix.Kill(pid, sig)
}

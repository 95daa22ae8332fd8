package runtime

//go:generate go run errtab_gen.go

// #define _GNU_SOURCE
// #include "cinit.h"
import "C"

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/runtime/seccomp"
)

// The container's init process is cloned from this process and runs a plan
// (cinit.c) that the code here compiles from the spec: no second program
// starts and no JSON is decoded in the container. Specs that need what the
// plan does not carry (hooks inside the container, a time namespace, a
// seccomp listener, scheduling attributes, a joined PID or mount namespace)
// start the Go init program instead (init_linux.go).

// Flags of the plan (cinit.c's F_*).
const (
	cfSetsid = 1 << iota
	cfMountNS
	cfCgroupNS
	cfNoKeyring
	cfParentHooks
	cfProcess
	cfTerminal
	cfNNP
	cfIDMap
	cfTrace
	cfRootRO
)

// Pivot modes (cinit.c's PIVOT, MOVE, CHROOT).
const (
	cpPivot = iota
	cpMove
	cpChroot
)

// Operations (cinit.c's OP_*).
const (
	opMount = iota + 1
	opMknod
	opSymlink
	opPtmx
	opRemount
	opMask
	opROPath
)

// plan is a little-endian (native) byte program: numbers as uint32/uint64,
// strings as a uint32 length, the bytes and a NUL.
type plan struct {
	b   []byte
	err error
	ops int // operations written with op
}

func (p *plan) op(code uint32) {
	p.u32(code)
	p.ops++
}

func (p *plan) u32(v uint32) { p.b = binary.NativeEndian.AppendUint32(p.b, v) }
func (p *plan) u64(v uint64) { p.b = binary.NativeEndian.AppendUint64(p.b, v) }
func (p *plan) i32(v int)    { p.u32(uint32(int32(v))) }
func (p *plan) bool(v bool) {
	if v {
		p.u32(1)
	} else {
		p.u32(0)
	}
}

func (p *plan) str(s string) {
	if strings.IndexByte(s, 0) >= 0 && p.err == nil {
		p.err = fmt.Errorf("%q: contains a NUL byte", s)
	}
	p.u32(uint32(len(s)))
	p.b = append(append(p.b, s...), 0)
}

func (p *plan) blob(b []byte) {
	p.u32(uint32(len(b)))
	p.b = append(p.b, b...)
}

// cinitBody is the part of the plan that follows the file descriptors:
// compiled at create from the spec.
type cinitBody struct {
	flags uint32
	pivot uint32
	plan
}

// cinitUnsupported says why the spec needs the Go init, or "".
func cinitUnsupported(spec *specs.Spec) string {
	if h := spec.Hooks; h != nil && (len(h.CreateContainer) > 0 || len(h.StartContainer) > 0) {
		return "createContainer/startContainer hooks"
	}
	for _, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Type == specs.TimeNamespace:
			return "time namespace"
		case ns.Path != "" && (ns.Type == specs.PIDNamespace || ns.Type == specs.MountNamespace):
			return "joined " + string(ns.Type) + " namespace"
		}
	}
	if seccomp.Notifies(spec.Linux.Seccomp) {
		return "seccomp listener"
	}
	if spec.Linux.IntelRdt != nil || spec.Linux.Personality != nil || spec.Linux.MemoryPolicy != nil {
		return "linux attributes"
	}
	if p := spec.Process; p != nil && (p.Scheduler != nil || p.IOPriority != nil || p.ExecCPUAffinity != nil) {
		return "process attributes"
	}
	if os.Getenv("BERTH_GO_INIT") != "" {
		return "BERTH_GO_INIT"
	}
	return ""
}

// compileCinit turns cfg (as the Go init would receive it) into the plan's body.
func compileCinit(cfg *initConfig) (*cinitBody, error) {
	spec := cfg.Spec
	b := &cinitBody{}
	set := func(f uint32, on bool) {
		if on {
			b.flags |= f
		}
	}
	p := spec.Process
	set(cfMountNS, cfg.HasMountNS)
	set(cfCgroupNS, cfg.NewCgroupNS)
	set(cfNoKeyring, cfg.NoNewKeyring)
	set(cfParentHooks, cfg.ParentHooks)
	set(cfProcess, p != nil)
	set(cfTerminal, p != nil && p.Terminal)
	set(cfNNP, p != nil && p.NoNewPrivileges)
	set(cfRootRO, spec.Root.Readonly)
	switch {
	case !cfg.HasMountNS:
		b.pivot = cpChroot
	case cfg.NoPivot:
		b.pivot = cpMove
	default:
		b.pivot = cpPivot
	}

	// The rootfs and the mounts that do not depend on the container's
	// cgroup come first: the init makes them before it waits for its
	// parent, which makes the cgroup meanwhile (on v1, in parallel).
	b.str(cfg.Rootfs)
	rootProp := unix.MS_SLAVE | unix.MS_REC
	if f, ok := propagationFlags[spec.Linux.RootfsPropagation]; ok && f&unix.MS_SHARED == 0 {
		rootProp = f
	}
	b.u32(uint32(rootProp))
	b.u32(uint32(propagationFlags[spec.Linux.RootfsPropagation]))
	var early, pre, post plan
	if cfg.HasMountNS {
		if err := compileMounts(&early, &pre, cfg); err != nil {
			return nil, err
		}
		for _, m := range spec.Linux.MaskedPaths {
			post.op(opMask)
			post.str(m)
		}
		for _, m := range spec.Linux.ReadonlyPaths {
			post.op(opROPath)
			post.str(m)
		}
	}
	b.u32(uint32(early.ops))
	b.b = append(b.b, early.b...)

	b.str(spec.Hostname)
	b.str(spec.Domainname)
	b.str("_ses." + cfg.ID)
	keys := make([]string, 0, len(spec.Linux.Sysctl))
	for k := range spec.Linux.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.u32(uint32(len(keys)))
	for _, k := range keys {
		v := spec.Linux.Sysctl[k]
		b.str(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")))
		b.str(v)
		b.str(fmt.Sprintf("sysctl %s=%s", k, v))
	}
	b.u32(uint32(pre.ops))
	b.b = append(b.b, pre.b...)
	b.u32(uint32(post.ops))
	b.b = append(b.b, post.b...)
	if p != nil {
		if err := compileProcess(&b.plan, p, cfg); err != nil {
			return nil, err
		}
	}
	for _, e := range []error{early.err, pre.err, post.err, b.err} {
		if e != nil {
			return nil, e
		}
	}
	return b, nil
}

// mountFunc writes one opMount.
type mountFunc func(src, dst, typ string, flags int, data string, mk, fallback uint32, prop []int, rset, rclr uint64, name string)

// compileMounts writes what setupMounts does as operations: into early
// the spec's mounts up to the first cgroup mount (none of them depends on
// the container's cgroup or cgroup namespace), into pre the rest: cgroup
// mounts, which need both, and the device nodes, which the container's
// device cgroup must allow.
func compileMounts(early, pre *plan, cfg *initConfig) error {
	w := early
	mnt := func(src, dst, typ string, flags int, data string, mk, fallback uint32, prop []int, rset, rclr uint64, name string) {
		w.op(opMount)
		w.str(src)
		w.str(dst)
		w.str(typ)
		w.u32(uint32(flags))
		w.str(data)
		w.u32(mk)
		w.u32(fallback)
		w.u32(uint32(len(prop)))
		for _, f := range prop {
			w.u32(uint32(f))
		}
		w.u64(rset)
		w.u64(rclr)
		w.str(name)
	}
	const mkNone, mkDir, mkFile = 0, 1, 2
	devBound := false
	for _, m := range cfg.Spec.Mounts {
		o, err := parseMountOptions(m.Options)
		if err != nil {
			return err
		}
		if m.Type == "bind" && !o.isBind() {
			o.flags |= unix.MS_BIND
		}
		dst := path.Clean("/" + m.Destination)
		if dst == "/dev" {
			devBound = o.isBind()
		}
		if !o.isBind() && (m.Type == "cgroup" || m.Type == "cgroup2") {
			w = pre
			compileCgroupMount(w, cfg, dst, o, mnt)
			continue
		}
		src := m.Source
		if o.isBind() {
			src, dir, err := bindSource(cfg.Bundle, m)
			if err != nil {
				return err
			}
			mk := uint32(mkFile)
			if dir {
				mk = mkDir
			}
			mnt(src, dst, "", o.flags, "", mk, 0, o.prop, o.recSet, o.recClr, m.Destination)
			continue
		}
		if src == "" {
			src = m.Type
		}
		var fallback uint32
		switch m.Type {
		case "sysfs":
			fallback = 1
		case "mqueue":
			fallback = 2
		}
		mnt(src, dst, m.Type, o.flags, strings.Join(o.data, ","), mkDir, fallback, o.prop, o.recSet, o.recClr, m.Destination)
	}
	w = pre
	if !devBound {
		for _, d := range containerDevices(cfg.Spec) {
			dst := path.Clean("/" + d.Path)
			if cfg.InUserNS {
				mnt(d.Path, dst, "", unix.MS_BIND, "", mkFile, 0, nil, 0, 0, d.Path)
				continue
			}
			var uid, gid uint32
			if d.UID != nil {
				uid = *d.UID
			}
			if d.GID != nil {
				gid = *d.GID
			}
			w.op(opMknod)
			w.str(dst)
			w.u32(deviceMode(d))
			w.u64(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
			w.u32(uid)
			w.u32(gid)
		}
	}
	for _, l := range devLinks() {
		w.op(opSymlink)
		w.str(l[0])
		w.str(l[1])
		w.u32(0)
	}
	w.op(opPtmx)
	return nil
}

// compileCgroupMount is mountCgroup as operations.
func compileCgroupMount(w *plan, cfg *initConfig, dst string, o *mountOpts, mnt mountFunc) {
	bindFlags := unix.MS_BIND | unix.MS_REC | (o.flags &^ unix.MS_BIND)
	if unified, ok := cfg.CgroupPaths[""]; ok && len(cfg.CgroupPaths) == 1 {
		if cfg.NewCgroupNS {
			mnt("cgroup2", dst, "cgroup2", o.flags, "", 1, 0, nil, 0, 0, dst)
		} else {
			mnt(unified, dst, "", bindFlags, "", 1, 0, nil, 0, 0, dst)
		}
		return
	}
	mnt("tmpfs", dst, "tmpfs", o.flags&^unix.MS_RDONLY, "mode=755", 1, 0, nil, 0, 0, dst)
	names, dirs := cgroupHierarchies(cfg.CgroupPaths)
	for _, dir := range names {
		key := dirs[dir]
		sub := path.Join(dst, dir)
		switch {
		case !cfg.NewCgroupNS:
			mnt(cfg.CgroupPaths[key], sub, "", bindFlags, "", 1, 0, nil, 0, 0, sub)
		case key == "":
			mnt("cgroup2", sub, "cgroup2", o.flags, "", 1, 0, nil, 0, 0, sub)
		case strings.HasPrefix(key, "name="):
			mnt("cgroup", sub, "cgroup", o.flags, "none,"+key, 1, 0, nil, 0, 0, sub)
		default:
			mnt("cgroup", sub, "cgroup", o.flags, dir, 1, 0, nil, 0, 0, sub)
		}
		if strings.Contains(dir, ",") {
			for _, part := range strings.Split(dir, ",") {
				w.op(opSymlink)
				w.str(dir)
				w.str(path.Join(dst, part))
				w.u32(1)
			}
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		w.op(opRemount)
		w.str(dst)
		w.u32(uint32(o.flags | unix.MS_RDONLY))
	}
}

// compileProcess writes the process: cwd, umask, user, rlimits,
// capabilities, fds, terminal size, argv, env and the seccomp program.
func compileProcess(w *plan, p *specs.Process, cfg *initConfig) error {
	w.str(p.Cwd)
	umask := uint32(0o022)
	if p.User.Umask != nil {
		umask = *p.User.Umask
	}
	w.u32(umask)
	w.u32(p.User.UID)
	w.u32(p.User.GID)
	w.u32(uint32(len(p.User.AdditionalGids)))
	for _, g := range p.User.AdditionalGids {
		w.u32(g)
	}
	w.u32(uint32(len(p.Rlimits)))
	for _, rl := range p.Rlimits {
		res, ok := rlimitByName[rl.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		w.u32(uint32(res))
		w.u64(rl.Soft)
		w.u64(rl.Hard)
		w.str(rl.Type)
	}
	last, err := capability.LastCap()
	if err != nil {
		return err
	}
	w.u32(uint32(last))
	var sets [5]uint64
	if pc := p.Capabilities; pc != nil {
		for i, names := range [5][]string{pc.Bounding, pc.Effective, pc.Permitted, pc.Inheritable, pc.Ambient} {
			for _, n := range names {
				c, ok := capByName(n)
				if !ok {
					return fmt.Errorf("unknown capability %q", n)
				}
				if c <= last && c < 64 {
					sets[i] |= 1 << uint(c)
				}
			}
		}
	}
	for _, s := range sets {
		w.u64(s)
	}
	w.u32(uint32(cfg.PreserveFDs))
	var rows, cols uint32
	if p.ConsoleSize != nil {
		rows, cols = uint32(p.ConsoleSize.Height), uint32(p.ConsoleSize.Width)
	}
	w.u32(rows)
	w.u32(cols)
	w.u32(uint32(len(p.Args)))
	for _, a := range p.Args {
		w.str(a)
	}
	w.u32(uint32(len(p.Env)))
	for _, e := range p.Env {
		w.str(e)
	}
	if cfg.Seccomp != nil {
		w.u32(uint32(cfg.Seccomp.Flags))
		w.blob(cfg.Seccomp.BPF)
	} else {
		w.u32(0)
		w.blob(nil)
	}
	return nil
}

// spawnC clones the init and starts it on the plan. The head of the plan
// carries the file descriptors as this process has them; the child moves
// them into place.
// spawn made the sync socket pair; it closes both on an error.
func spawnC(o *spawnOpts, parentSock, childSock *os.File) (*child, error) {
	body := o.cinit
	var w plan
	w.u32(C.CINIT_MAGIC)
	flags := body.flags
	if o.setsid {
		flags |= cfSetsid
	}
	if traceOn {
		flags |= cfTrace
	}

	ns, err := sortNamespaces(o.namespaces)
	if err != nil {
		return nil, err
	}
	if ns.pidJoin != "" {
		return nil, fmt.Errorf("init plan: cannot join a PID namespace")
	}
	if err := ns.checkJoinable(); err != nil {
		return nil, err
	}
	joined, newFlags, newUserNS := ns.joined, ns.newFlags, ns.newUser
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	cloneFlags, unshareFlags := newFlags, 0
	if len(joined) > 0 || o.unshareAll {
		// New namespaces are made after the joins, so that a joined user
		// namespace owns them, or in parallel with this process's work
		// (unshareAll); only the PID namespace must come from clone.
		cloneFlags, unshareFlags = newFlags&unix.CLONE_NEWPID, newFlags&^unix.CLONE_NEWPID
	}
	if cloneFlags&unix.CLONE_NEWUSER != 0 {
		flags |= cfIDMap
	}
	w.u32(flags)
	w.u32(body.pivot)

	stateFd, consoleFd := -1, -1
	if o.stateDir != nil {
		stateFd = int(o.stateDir.Fd())
	}
	if o.console != nil {
		consoleFd = int(o.console.Fd())
	}
	w.i32(int(childSock.Fd()))
	w.i32(stateFd)
	w.i32(consoleFd)
	w.u32(uint32(len(o.cgroupTasks)))
	for _, f := range o.cgroupTasks {
		w.i32(int(f.Fd()))
	}
	nsFiles, nsTypes, err := openJoined(joined)
	files = append(files, nsFiles...)
	if err != nil {
		return nil, err
	}
	w.u32(uint32(len(nsFiles)))
	for i, f := range nsFiles {
		w.i32(int(f.Fd()))
		w.u32(uint32(nsTypes[i]))
	}
	w.u32(uint32(unshareFlags))
	fdmap := []int{0, 1, 2}
	for i, f := range o.stdio {
		if f != nil {
			fdmap[i] = int(f.Fd())
		}
	}
	for _, f := range o.extraFiles {
		fdmap = append(fdmap, int(f.Fd()))
	}
	w.u32(uint32(len(fdmap)))
	for _, fd := range fdmap {
		w.i32(fd)
	}
	w.b = append(w.b, body.b...)
	if w.err != nil {
		return nil, w.err
	}

	tr("clone")
	var pid C.long
	_ = withChildAffinity(func() error {
		pid = C.berth_cinit_spawn((*C.uint8_t)(unsafe.Pointer(&w.b[0])), C.size_t(len(w.b)), C.ulong(cloneFlags))
		return nil
	})
	if pid < 0 {
		return nil, fmt.Errorf("start init process: clone: %w", syscall.Errno(-pid))
	}
	c := newChild(newPidProc(int(pid)), int(pid), parentSock)
	if newUserNS {
		if err := c.writeIDMaps(o.uidMaps, o.gidMaps); err != nil {
			c.kill()
			return nil, err
		}
	}
	return c, nil
}

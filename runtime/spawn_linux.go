package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsFlags maps runtime-spec namespace types to clone flags.
var nsFlags = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// procNsName is the name of each namespace under /proc/<pid>/ns.
var procNsName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

// joinOrder: the user namespace first, so that the others (owned by it) can be joined.
var joinOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.MountNamespace, specs.NetworkNamespace, specs.IPCNamespace,
	specs.UTSNamespace, specs.CgroupNamespace, specs.TimeNamespace,
}

// spawnOpts says how to start the init process.
type spawnOpts struct {
	initPath    string                 // program to exec
	initArgs    []string               // its argv
	namespaces  []specs.LinuxNamespace // new (Path == "") or joined
	uidMaps     []specs.LinuxIDMapping
	gidMaps     []specs.LinuxIDMapping
	stdio       [3]*os.File // nil: inherit ours
	extraFiles  []*os.File  // --preserve-fds and the console socket, in fd order from 3
	setsid      bool
	inheritEnvs []string
	// cgroupTasks are "tasks" files of the container's cgroup (v1): the
	// child writes "0" to each before anything else (nsenter.c, cinit.c).
	cgroupTasks []*os.File
	// unshareAll: the cloned init (cinit) makes its new namespaces but
	// the PID one with unshare, after the clone (see lateNamespaces).
	unshareAll bool
	// cinit, when set, is the plan of an init cloned from this process
	// (cinit.c) instead of initPath; stateDir and console are then its
	// exec FIFO's directory and the console socket (not in extraFiles).
	cinit    *cinitBody
	stateDir *os.File
	console  *os.File
}

// child is a started init process and its end of the sync socket.
type child struct {
	proc proc
	pid  int
	conn *os.File
	dec  *json.Decoder
	r    *bufio.Reader
}

func (c *child) send(v any) error {
	b, err := syncLine(v)
	if err != nil {
		return err
	}
	_, err = c.conn.Write(b)
	return err
}

// syncLine is v as a line of the sync protocol.
func syncLine(v any) ([]byte, error) {
	if m, ok := v.(syncMsg); ok && m.Error == "" && m.Fd == 0 && plainWord(m.Type) {
		// What the C init is sent: no encoding/json set-up for three words.
		return []byte(`{"type":"` + m.Type + `"}` + "\n"), nil
	}
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// sendFiles sends m with files attached (SCM_RIGHTS); the C init takes
// them with the message (wait_ok_fds in cinit.c).
func (c *child) sendFiles(m syncMsg, files []*os.File) error {
	if len(files) == 0 {
		return c.send(m)
	}
	b, err := syncLine(m)
	if err != nil {
		return err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	rc, err := c.conn.SyscallConn()
	if err != nil {
		return err
	}
	n := 0
	if cerr := rc.Write(func(fd uintptr) bool {
		n, err = unix.SendmsgN(int(fd), b, unix.UnixRights(fds...), nil, 0)
		return !errors.Is(err, unix.EAGAIN)
	}); cerr != nil {
		return cerr
	}
	if err == nil && n < len(b) {
		// The files went with the first bytes; the rest of the line follows.
		_, err = c.conn.Write(b[n:])
	}
	return err
}

// plainWord reports whether s needs no escaping in a JSON string.
func plainWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// recv reads the next message; an EOF means the child exited or exec'd.
func (c *child) recv() (*syncMsg, error) {
	var m syncMsg
	if err := c.dec.Decode(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

func newChild(p proc, pid int, conn *os.File) *child {
	r := bufio.NewReader(conn)
	return &child{proc: p, pid: pid, conn: conn, r: r, dec: json.NewDecoder(r)}
}

// kill ends the child by PID and reaps it.
func (c *child) kill() {
	_ = c.proc.Signal(unix.SIGKILL)
	_, _ = c.proc.Wait()
	c.conn.Close()
}

// spawn starts "berth init" in the requested namespaces. New namespaces are
// clone flags when nothing has to be joined first; joined namespaces (and new
// ones that must be created inside a joined one) go through nsenter.c. A
// joined PID namespace is entered on a locked thread of this process, so the
// child is born in it.
func spawn(o *spawnOpts) (_ *child, retErr error) {
	parentSock, childSock, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer childSock.Close()
	defer func() {
		if retErr != nil {
			parentSock.Close()
		}
	}()
	if o.cinit != nil {
		return spawnC(o, parentSock, childSock)
	}

	// Each nil entry inherits ours. (Assign *os.File values only: a nil
	// *os.File in an io.Reader would make exec close the fd.)
	stdio := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i, f := range o.stdio {
		if f != nil {
			stdio[i] = f
		}
	}
	cmd := &exec.Cmd{Path: o.initPath, Args: o.initArgs, Stdin: stdio[0], Stdout: stdio[1], Stderr: stdio[2]}
	cmd.ExtraFiles = append(cmd.ExtraFiles, o.extraFiles...)
	syncFd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, childSock)
	cmd.Env = append([]string{"_BERTH_SYNC_FD=" + strconv.Itoa(syncFd)}, o.inheritEnvs...)
	if len(o.cgroupTasks) > 0 {
		fds := make([]string, len(o.cgroupTasks))
		for i, f := range o.cgroupTasks {
			fds[i] = strconv.Itoa(3 + len(cmd.ExtraFiles))
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		}
		cmd.Env = append(cmd.Env, "_BERTH_CGROUP_FDS="+strings.Join(fds, ","))
	}
	if traceOn {
		cmd.Env = append(cmd.Env, "BERTH_TRACE=1")
	}
	attr := &syscall.SysProcAttr{Setsid: o.setsid, Pdeathsig: 0}
	cmd.SysProcAttr = attr

	ns, err := sortNamespaces(o.namespaces)
	if err != nil {
		return nil, err
	}
	joined, pidJoin, newFlags, newUserNS := ns.joined, ns.pidJoin, ns.newFlags, ns.newUser
	needsC := len(joined) > 0

	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if needsC {
		if err := ns.checkJoinable(); err != nil {
			return nil, err
		}
		var parts []string
		nsFiles, flags, err := openJoined(joined)
		files = append(files, nsFiles...)
		if err != nil {
			return nil, err
		}
		for i, f := range nsFiles {
			fd := 3 + len(cmd.ExtraFiles)
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
			parts = append(parts, fmt.Sprintf("%d:%d", fd, flags[i]))
		}
		cmd.Env = append(cmd.Env, "_BERTH_NSJOIN="+strings.Join(parts, ","))
		// The PID namespace can only be created by clone; everything else is
		// unshared by nsenter.c after the joins, so it is owned by the right
		// user namespace.
		attr.Cloneflags = uintptr(newFlags & unix.CLONE_NEWPID)
		if rest := newFlags &^ unix.CLONE_NEWPID; rest != 0 {
			cmd.Env = append(cmd.Env, "_BERTH_UNSHARE="+strconv.Itoa(rest))
		}
	} else {
		attr.Cloneflags = uintptr(newFlags)
		if newUserNS {
			attr.UidMappings = idMaps(o.uidMaps)
			attr.GidMappings = idMaps(o.gidMaps)
			attr.GidMappingsEnableSetgroups = true
			// Become root of the new namespace before exec, or the exec would
			// drop every capability there (host root is usually not mapped).
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
		}
	}

	start := func() error { return withChildAffinity(cmd.Start) }
	if pidJoin != "" {
		f, err := os.Open(pidJoin)
		if err != nil {
			return nil, fmt.Errorf("pid namespace path: %w", err)
		}
		files = append(files, f)
		start = func() error {
			errc := make(chan error, 1)
			go func() {
				// This thread's pid_for_children changes: it is never unlocked, so
				// the Go runtime ends it with the goroutine.
				goruntime.LockOSThread()
				if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWPID); err != nil {
					errc <- fmt.Errorf("join pid namespace %s: %w", pidJoin, err)
					return
				}
				errc <- withChildAffinity(cmd.Start)
			}()
			return <-errc
		}
	}
	tr("clone")
	if err := start(); err != nil {
		return nil, fmt.Errorf("start init process: %w", err)
	}
	c := newChild(osProc{cmd.Process}, cmd.Process.Pid, parentSock)
	if needsC && newUserNS {
		if err := c.writeIDMaps(o.uidMaps, o.gidMaps); err != nil {
			c.kill()
			return nil, err
		}
	}
	return c, nil
}

// nsSet is a spec's namespaces sorted by how they are made.
type nsSet struct {
	newFlags int                    // clone flags of the new ones, but cgroup and time (the init unshares those)
	joined   []specs.LinuxNamespace // to join by path, but PID
	pidJoin  string                 // the PID namespace to join, if any
	newUser  bool                   // a new user namespace is among newFlags
	userJoin bool                   // a user namespace is among joined
}

func sortNamespaces(nss []specs.LinuxNamespace) (*nsSet, error) {
	s := &nsSet{}
	for _, ns := range nss {
		flag, ok := nsFlags[ns.Type]
		if !ok {
			return nil, fmt.Errorf("unknown namespace type %q", ns.Type)
		}
		switch {
		case ns.Type == specs.PIDNamespace && ns.Path != "":
			s.pidJoin = ns.Path
		case ns.Path != "":
			s.joined = append(s.joined, ns)
			s.userJoin = s.userJoin || ns.Type == specs.UserNamespace
		case ns.Type == specs.CgroupNamespace || ns.Type == specs.TimeNamespace:
			// Unshared by the init process itself: the cgroup namespace after it
			// is placed in its cgroup, the time namespace to write its offsets.
		default:
			s.newFlags |= flag
			s.newUser = s.newUser || ns.Type == specs.UserNamespace
		}
	}
	return s, nil
}

// lateNamespaces reports whether the namespaces are all new and none is
// a user namespace: then an init cloned with only the PID one can unshare
// the others itself, in parallel with its parent, in the same order and
// owned by the same user namespace as a clone would make them.
func lateNamespaces(nss []specs.LinuxNamespace) bool {
	for _, ns := range nss {
		if ns.Path != "" || ns.Type == specs.UserNamespace {
			return false
		}
	}
	return true
}

// checkJoinable refuses what joins cannot do: with namespaces to join, the
// new ones are unshared after the joins (so that a joined user namespace
// owns them), and a new PID namespace can only come from the clone, before.
func (s *nsSet) checkJoinable() error {
	if len(s.joined) > 0 && s.newFlags&unix.CLONE_NEWPID != 0 && (s.userJoin || s.newUser) {
		return errors.New("a new PID namespace together with a joined namespace and a user namespace is not supported")
	}
	return nil
}

// openJoined opens the namespaces to join, in joinOrder (the user namespace
// first, so that it owns the joins after it), with their clone flags.
func openJoined(joined []specs.LinuxNamespace) (files []*os.File, flags []int, err error) {
	for _, t := range joinOrder {
		for _, ns := range joined {
			if ns.Type != t {
				continue
			}
			f, err := os.Open(ns.Path)
			if err != nil {
				return files, flags, fmt.Errorf("%s namespace path: %w", ns.Type, err)
			}
			files = append(files, f)
			flags = append(flags, nsFlags[ns.Type])
		}
	}
	return files, flags, nil
}

// writeIDMaps answers nsenter.c's request for id maps after it unshared a
// user namespace.
func (c *child) writeIDMaps(uids, gids []specs.LinuxIDMapping) error {
	m, err := c.recv()
	if err != nil {
		return fmt.Errorf("init process: %w", c.exitError(err))
	}
	if m.Type == msgError {
		return errors.New(m.Error)
	}
	if m.Type != msgIdmap {
		return fmt.Errorf("init process: unexpected message %q", m.Type)
	}
	proc := "/proc/" + strconv.Itoa(c.pid)
	if err := os.WriteFile(proc+"/uid_map", []byte(formatIDMap(uids)), 0); err != nil {
		return fmt.Errorf("write uid_map: %w", err)
	}
	if err := os.WriteFile(proc+"/gid_map", []byte(formatIDMap(gids)), 0); err != nil {
		return fmt.Errorf("write gid_map: %w", err)
	}
	return c.send(syncMsg{Type: msgOK})
}

// failure explains why talking to the child failed: the error it sent
// before exiting if there is one (a failed setns in nsenter.c), else how it
// exited.
func (c *child) failure(err error) error {
	_ = c.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if m, rerr := c.recv(); rerr == nil && m.Type == msgError {
		_, _ = c.proc.Wait()
		return errors.New(m.Error)
	}
	return fmt.Errorf("init process: %w", c.exitError(err))
}

// exitError turns a read error on the sync socket into the child's fate.
func (c *child) exitError(err error) error {
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		return err
	}
	ws, werr := c.proc.Wait()
	if werr != nil {
		return fmt.Errorf("init process exited early: %w", werr)
	}
	return fmt.Errorf("init process exited early: %s", waitString(ws))
}

func formatIDMap(m []specs.LinuxIDMapping) string {
	var b strings.Builder
	for _, e := range m {
		fmt.Fprintf(&b, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return b.String()
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

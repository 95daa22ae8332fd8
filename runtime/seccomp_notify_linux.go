package runtime

import (
	"encoding/json"
	"fmt"
	"net"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// passSeccompFd takes the notify fd the init process holds as fd and sends
// it, with the container's state, to linux.seccomp.listenerPath, as the
// runtime-spec describes (one message, the fd as SCM_RIGHTS).
func passSeccompFd(pid, fd int, sc *specs.LinuxSeccomp, st specs.State) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("seccomp notify: pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return fmt.Errorf("seccomp notify: pidfd_getfd: %w", err)
	}
	defer unix.Close(nfd)
	msg := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid,
		Metadata: sc.ListenerMetadata, State: st,
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	conn, err := net.Dial("unix", sc.ListenerPath)
	if err != nil {
		return fmt.Errorf("seccomp listener %s: %w", sc.ListenerPath, err)
	}
	defer conn.Close()
	if _, _, err := conn.(*net.UnixConn).WriteMsgUnix(b, unix.UnixRights(nfd), nil); err != nil {
		return fmt.Errorf("seccomp listener %s: %w", sc.ListenerPath, err)
	}
	return nil
}

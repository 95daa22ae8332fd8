package netdev

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// The few places where netdev touches the kernel other than through the
// netlink package's calls on the calling namespace: opening a netlink socket
// in another namespace, and writing sysctls.

// openNS opens a network namespace by path (/proc/PID/ns/net or a bind mount
// of it).
func openNS(path string) (netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return netns.None(), fmt.Errorf("network namespace %q: %w", path, errdefs.ErrNotFound)
		}
		return netns.None(), fmt.Errorf("network namespace %q: %w", path, err)
	}
	return ns, nil
}

// handleAt returns a netlink handle whose socket lives in the namespace ns.
// A socket stays in the namespace it was created in, so only its creation
// needs a thread inside ns. That happens on a throwaway goroutine locked to
// its thread; the thread is moved into ns and back, and is given back to the
// Go scheduler only if moving back worked. Otherwise the goroutine ends still
// locked and the runtime kills the thread: no thread is ever reused in a
// foreign namespace. (netlink.NewHandleAt does the same dance on the caller's
// thread but unlocks it even when moving back failed.)
func handleAt(ns netns.NsHandle) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			// A failed setns leaves the thread where it was.
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter network namespace: %w", err)}
			return
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if rerr := netns.Set(orig); rerr != nil {
			// Stay locked: this thread dies with the goroutine.
			if h != nil {
				h.Close()
			}
			ch <- result{err: fmt.Errorf("leave network namespace: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{h: h, err: err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	return r.h, nil
}

// writeSysctl writes value to /proc/sys/<key> (key with slashes) in the
// network namespace of the calling thread.
func writeSysctl(key, value string) error {
	return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
}

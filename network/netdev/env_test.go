package netdev

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests use the real kernel. Each test runs in a network namespace of
// its own (its "host"): the test goroutine is locked to its thread, which is
// moved into a fresh namespace for the test's duration. Containers are more
// namespaces the test creates. No packet leaves the test's namespaces.

// env is one test's private host namespace.
type env struct {
	t     testing.TB
	orig  netns.NsHandle // the namespace the test started in (the real host's)
	host  netns.NsHandle // the test's host namespace, the thread's current one
	names []string       // link names the test made up: never in orig
}

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, links)")
	}
}

// newEnv moves the calling goroutine, locked to its thread, into a new
// network namespace until the test ends. At the end it checks that none of
// the link names the test generated exists in the original namespace.
func newEnv(t testing.TB) *env {
	t.Helper()
	requireRoot(t)
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	host, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	e := &env{t: t, orig: orig, host: host}
	t.Cleanup(func() {
		e.checkOrigClean()
		// Unlock only if the thread is back home; otherwise it dies with the
		// test's goroutine.
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original namespace: %v", err)
		} else {
			runtime.UnlockOSThread()
		}
		orig.Close()
		host.Close()
	})
	return e
}

// enter locks a subtest's goroutine (t.Run starts a new one) to its thread
// and moves the thread into the test's host namespace until the subtest ends.
func (e *env) enter(t *testing.T) {
	t.Helper()
	runtime.LockOSThread()
	if err := netns.Set(e.host); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Set(e.orig); err != nil {
			t.Errorf("back to the original namespace: %v", err)
		} else {
			runtime.UnlockOSThread()
		}
	})
}

// name returns a new random link name with the prefix, recorded for the
// leak check.
func (e *env) name(prefix string) string {
	var b [4]byte
	rand.Read(b[:])
	n := prefix + hex.EncodeToString(b[:])
	e.names = append(e.names, n)
	return n
}

func (e *env) checkOrigClean() {
	h, err := handleAt(e.orig)
	if err != nil {
		e.t.Errorf("netlink in the original namespace: %v", err)
		return
	}
	defer h.Close()
	for _, n := range e.names {
		if _, err := h.LinkByName(n); err == nil {
			e.t.Errorf("link %s leaked into the original network namespace", n)
		}
	}
}

// newNS returns a new network namespace, as a container would have, and a
// path to it. It must run on the locked goroutine of newEnv or enter, whose
// thread it moves back into the test's host namespace.
func (e *env) newNS() (netns.NsHandle, string) {
	e.t.Helper()
	ns, err := netns.New()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := netns.Set(e.host); err != nil {
		e.t.Fatalf("back to the test's host namespace: %v", err)
	}
	e.t.Cleanup(func() { ns.Close() })
	return ns, fmt.Sprintf("/proc/self/fd/%d", int(ns))
}

// procNS starts a process in a new network namespace, as the shim starts a
// container, and returns its /proc/PID/ns/net.
func (e *env) procNS() (netns.NsHandle, string) {
	e.t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	path := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	ns, err := netns.GetFromPath(path)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ns.Close() })
	return ns, path
}

// boundNS returns a new namespace bind-mounted on a file, as ip-netns does.
func (e *env) boundNS() (netns.NsHandle, string) {
	e.t.Helper()
	ns, fdPath := e.newNS()
	path := filepath.Join(e.t.TempDir(), "netns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := unix.Mount(fdPath, path, "", unix.MS_BIND, ""); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	return ns, path
}

// inNS runs fn on a thread of its own inside ns; the thread is never reused.
func inNS(ns netns.NsHandle, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// handle returns a netlink handle in ns.
func (e *env) handle(ns netns.NsHandle) *netlink.Handle {
	e.t.Helper()
	h, err := handleAt(ns)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(h.Close)
	return h
}

// linkNames lists the links of the namespace of h (nil: the calling thread's).
func linkNames(t testing.TB, h *netlink.Handle) []string {
	t.Helper()
	var (
		links []netlink.Link
		err   error
	)
	if h == nil {
		links, err = retryDump(netlink.LinkList)
	} else {
		links, err = retryDump(h.LinkList)
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

func wantLinks(t testing.TB, h *netlink.Handle, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := linkNames(t, h); !slices.Equal(got, want) {
		t.Fatalf("links: got %v, want %v", got, want)
	}
}

// addDummy adds a link that is neither a bridge nor a veth: a dummy, or an
// ifb where the kernel has no dummy driver.
func addDummy(t testing.TB, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	var l netlink.Link = &netlink.Dummy{LinkAttrs: attrs}
	err := h.LinkAdd(l)
	if errors.Is(err, unix.EOPNOTSUPP) {
		l = &netlink.Ifb{LinkAttrs: attrs}
		err = h.LinkAdd(l)
	}
	if err != nil {
		t.Fatalf("add dummy %s: %v", name, err)
	}
	return l
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }

// addrsOf returns the addresses of a link, link-local ones left out, with
// their flags.
func addrsOf(t testing.TB, h *netlink.Handle, l netlink.Link) map[netip.Prefix]int {
	t.Helper()
	list, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Prefix]int{}
	for _, a := range list {
		p, _ := prefixOf(a.IPNet)
		if p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if _, dup := out[p]; dup {
			t.Errorf("address %v twice", p)
		}
		out[p] = a.Flags
	}
	return out
}

package nat_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth-dev/berth/network/nat"
)

// Every test that touches the kernel works in network namespaces it creates:
// each has its own nftables ruleset, interfaces and sysctls, and all of it
// goes away with the last file descriptor. The host's rules are never read
// or written.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, nftables)")
	}
}

// testNS is a network namespace of the test's.
type testNS struct {
	t    *testing.T
	h    netns.NsHandle
	nl   *netlink.Handle
	path string // for nat.Options.NetNS
}

func newNS(t *testing.T) *testNS {
	t.Helper()
	var h netns.NsHandle
	var err error
	onThread(func() { h, err = netns.New() })
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		t.Fatalf("netlink handle: %v", err)
	}
	n := &testNS{t: t, h: h, nl: nl, path: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), int(h))}
	t.Cleanup(func() { nl.Close(); h.Close() })
	lo, err := nl.LinkByName("lo")
	if err == nil {
		err = nl.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up: %v", err)
	}
	return n
}

// onThread runs f on a thread of its own, locked and thrown away afterwards,
// so that a namespace switch inside f never leaks into other goroutines.
func onThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f()
	}()
	<-done
}

// do runs f inside n: sockets f creates belong to n.
func (n *testNS) do(f func()) {
	n.t.Helper()
	var err error
	onThread(func() {
		if err = netns.Set(n.h); err != nil {
			return
		}
		f()
	})
	if err != nil {
		n.t.Fatalf("setns: %v", err)
	}
}

// nft is a connection to n's nftables.
func (n *testNS) nft() *nftables.Conn {
	n.t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(n.h)))
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

func (n *testNS) link(name string) netlink.Link {
	n.t.Helper()
	l, err := n.nl.LinkByName(name)
	if err != nil {
		n.t.Fatalf("link %s: %v", name, err)
	}
	return l
}

func (n *testNS) up(name string, addr string) {
	n.t.Helper()
	l := n.link(name)
	if addr != "" {
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			n.t.Fatal(err)
		}
		if err := n.nl.AddrAdd(l, a); err != nil {
			n.t.Fatalf("address %s on %s: %v", addr, name, err)
		}
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		n.t.Fatalf("%s up: %v", name, err)
	}
}

// bridge creates a bridge in n with address gw (CIDR).
func (n *testNS) bridge(name, gw string) {
	n.t.Helper()
	if err := n.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		n.t.Fatalf("bridge %s: %v", name, err)
	}
	n.up(name, gw)
}

// veth connects n (end local) to peer (end eth0, address addr, default route
// via gw if gw is set). With master set, the local end joins that bridge.
func (n *testNS) veth(local, master string, peer *testNS, addr, gw string) {
	n.t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: local}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(peer.h))}
	if err := n.nl.LinkAdd(v); err != nil {
		n.t.Fatalf("veth %s: %v", local, err)
	}
	if master != "" {
		if err := n.nl.LinkSetMaster(n.link(local), n.link(master)); err != nil {
			n.t.Fatalf("veth %s master %s: %v", local, master, err)
		}
		// As berth's bridge driver does (and Docker's without its userland
		// proxy): with br_netfilter, a container reaching its own published
		// port is DNATed on the bridge and sent back out the port it came in.
		if err := n.nl.LinkSetHairpin(n.link(local), true); err != nil {
			n.t.Fatalf("veth %s hairpin: %v", local, err)
		}
	}
	n.up(local, "")
	peer.up("eth0", addr)
	if gw != "" {
		r := &netlink.Route{LinkIndex: peer.link("eth0").Attrs().Index, Gw: net.ParseIP(gw)}
		if err := peer.nl.RouteAdd(r); err != nil {
			peer.t.Fatalf("default route via %s: %v", gw, err)
		}
	}
}

// topology is a host with one bridge and two containers on it, and an
// upstream network namespace that stands for the rest of the world:
//
//	c1 10.210.0.2 ─┐
//	               br-nat0 10.210.0.1  [host]  up0 198.51.100.1 ── 198.51.100.2 [out]
//	c2 10.210.0.3 ─┘
//
// out has no route back to 10.210.0.0/24: only masqueraded traffic gets a
// reply.
type topology struct {
	host, c1, c2, out *testNS
}

const (
	bridge  = "br-nat0"
	gw      = "10.210.0.1"
	c1IP    = "10.210.0.2"
	c2IP    = "10.210.0.3"
	hostUp  = "198.51.100.1"
	outIP   = "198.51.100.2"
	subnet  = "10.210.0.0/24"
	c1Port  = 8080
	hostTCP = 18080
)

func newTopology(t *testing.T) *topology {
	needRoot(t)
	tp := &topology{host: newNS(t), c1: newNS(t), c2: newNS(t), out: newNS(t)}
	tp.host.bridge(bridge, gw+"/24")
	tp.host.veth("vc1", bridge, tp.c1, c1IP+"/24", gw)
	tp.host.veth("vc2", bridge, tp.c2, c2IP+"/24", gw)
	tp.host.veth("up0", "", tp.out, outIP+"/24", "")
	tp.host.up("up0", hostUp+"/24")
	return tp
}

func (tp *topology) network(internal bool) nat.Network {
	return nat.Network{Bridge: bridge, Subnets: []netip.Prefix{netip.MustParsePrefix(subnet)}, Internal: internal}
}

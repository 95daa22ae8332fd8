package nat_test

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/network/nat"
)

// Real packets, between the test's own namespaces only (see topology).

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// serveTCP listens on addr inside n and answers every connection with the
// address it came from.
func serveTCP(t *testing.T, n *testNS, addr string) {
	t.Helper()
	var ln net.Listener
	var err error
	n.do(func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(c.RemoteAddr().String() + "\n"))
			c.Close()
		}
	}()
}

// serveUDP answers every datagram to addr inside n with its source address.
func serveUDP(t *testing.T, n *testNS, addr string) {
	t.Helper()
	var pc net.PacketConn
	var err error
	n.do(func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()+"\n"), from)
		}
	}()
}

// peer dials addr from inside n and returns the source address the server
// saw (its IP only).
func peer(n *testNS, network, addr string) (string, error) {
	var c net.Conn
	var err error
	n.do(func() { c, err = net.DialTimeout(network, addr, 2*time.Second) })
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if network == "udp" {
		if _, err := c.Write([]byte("who am i\n")); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil {
		return "", err
	}
	return ap.Addr().String(), nil
}

func wantPeer(t *testing.T, n *testNS, network, addr, want string) {
	t.Helper()
	got, err := peer(n, network, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", network, addr, err)
	}
	if got != want {
		t.Errorf("%s %s: the server saw %s, want %s", network, addr, got, want)
	}
}

func wantNoAnswer(t *testing.T, n *testNS, network, addr string) {
	t.Helper()
	if got, err := peer(n, network, addr); err == nil {
		t.Errorf("%s %s: answered (the server saw %s), want no connection", network, addr, got)
	}
}

func published() []nat.Port {
	return []nat.Port{
		{Proto: "tcp", HostPort: hostTCP, ContainerIP: netip.MustParseAddr(c1IP), ContainerPort: c1Port, Bridge: bridge},
		{Proto: "udp", HostPort: 15353, ContainerIP: netip.MustParseAddr(c1IP), ContainerPort: 5353, Bridge: bridge},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 18081, ContainerIP: netip.MustParseAddr(c1IP), ContainerPort: c1Port, Bridge: bridge},
	}
}

// TestTraffic runs with and without br_netfilter (bridged frames passing
// through the inet hooks): hairpin takes a different path in each.
func TestTraffic(t *testing.T) {
	for _, brnf := range []string{"1", "0"} {
		t.Run("bridge-nf-call-iptables="+brnf, func(t *testing.T) { testTraffic(t, brnf) })
	}
}

func testTraffic(t *testing.T, brnf string) {
	tp := newTopology(t)
	tp.host.do(func() {
		const f = "/proc/sys/net/bridge/bridge-nf-call-iptables"
		if _, err := os.Stat(f); err != nil {
			if brnf == "1" {
				t.Skip("no br_netfilter")
			}
			return
		}
		if err := os.WriteFile(f, []byte(brnf), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	serveTCP(t, tp.c1, ":8080")
	serveUDP(t, tp.c1, ":5353")
	serveTCP(t, tp.out, outIP+":9000")

	tbl := open(t, tp.host)
	if err := tbl.Apply(nat.State{Networks: []nat.Network{tp.network(false)}, Ports: published()}); err != nil {
		t.Fatal(err)
	}
	tp.host.do(func() {
		if v := readFile(t, "/proc/sys/net/ipv4/conf/"+bridge+"/route_localnet"); v != "1" {
			t.Errorf("route_localnet on %s = %s", bridge, v)
		}
	})

	t.Run("LocalhostTCP", func(t *testing.T) {
		wantPeer(t, tp.host, "tcp", "127.0.0.1:18080", gw)
	})
	t.Run("LocalhostUDP", func(t *testing.T) {
		wantPeer(t, tp.host, "udp", "127.0.0.1:15353", gw)
	})
	t.Run("LocalhostOnlyPort", func(t *testing.T) {
		wantPeer(t, tp.host, "tcp", "127.0.0.1:18081", gw)
		wantNoAnswer(t, tp.out, "tcp", hostUp+":18081") // bound to 127.0.0.1 only
	})
	t.Run("HostAddressFromHost", func(t *testing.T) {
		got, err := peer(tp.host, "tcp", hostUp+":18080")
		if err != nil {
			t.Fatal(err)
		}
		if got != hostUp && got != gw {
			t.Errorf("the server saw %s", got)
		}
	})
	t.Run("FromOutside", func(t *testing.T) {
		wantPeer(t, tp.out, "tcp", hostUp+":18080", outIP) // the client's address is kept
		wantPeer(t, tp.out, "udp", hostUp+":15353", outIP)
	})
	t.Run("Hairpin", func(t *testing.T) {
		wantPeer(t, tp.c2, "tcp", gw+":18080", gw)
		wantPeer(t, tp.c2, "udp", gw+":15353", gw)
		wantPeer(t, tp.c2, "tcp", hostUp+":18080", gw) // any of the host's addresses
	})
	t.Run("HairpinToItself", func(t *testing.T) {
		wantPeer(t, tp.c1, "tcp", gw+":18080", gw)
	})
	t.Run("Masquerade", func(t *testing.T) {
		wantPeer(t, tp.c1, "tcp", outIP+":9000", hostUp)
	})
	t.Run("LoopbackFromContainerDropped", func(t *testing.T) {
		// With route_localnet on, a container must still not reach the
		// host's 127.0.0.1 through the bridge.
		// A container without 127.0.0.1 of its own, routing 127.0.0.0/8
		// through the gateway and accepting replies from it. (One with
		// CAP_NET_RAW can do as much with raw sockets.)
		serveTCP(t, tp.host, "127.0.0.1:7000")
		evil := newNS(t)
		lo, err := netlink.ParseAddr("127.0.0.1/8")
		if err != nil {
			t.Fatal(err)
		}
		if err := evil.nl.AddrDel(evil.link("lo"), lo); err != nil {
			t.Fatal(err)
		}
		tp.host.veth("vevil", bridge, evil, "10.210.0.9/24", gw)
		evil.do(func() {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644); err != nil {
				t.Error(err)
			}
		})
		r := &netlink.Route{LinkIndex: evil.link("eth0").Attrs().Index, Dst: mustNet("127.0.0.0/8"), Gw: net.ParseIP(gw)}
		if err := evil.nl.RouteAdd(r); err != nil {
			t.Fatalf("route 127.0.0.0/8 in the container: %v", err)
		}
		wantNoAnswer(t, evil, "tcp", "127.0.0.1:7000")
	})
	t.Run("UnpublishedFromOutside", func(t *testing.T) {
		r := &netlink.Route{LinkIndex: tp.out.link("eth0").Attrs().Index, Dst: mustNet(subnet), Gw: net.ParseIP(hostUp)}
		if err := tp.out.nl.RouteAdd(r); err != nil {
			t.Fatal(err)
		}
		defer tp.out.nl.RouteDel(r)
		wantNoAnswer(t, tp.out, "tcp", c1IP+":8080")
	})

	// Internal: no way out, and its ports are not published.
	if err := tbl.Apply(nat.State{Networks: []nat.Network{tp.network(true)}, Ports: published()}); err != nil {
		t.Fatal(err)
	}
	t.Run("Internal", func(t *testing.T) {
		wantNoAnswer(t, tp.c1, "tcp", outIP+":9000")
		wantNoAnswer(t, tp.out, "tcp", hostUp+":18080")
		if _, err := peer(tp.c2, "tcp", c1IP+":8080"); err != nil {
			t.Errorf("containers of an internal network talk to each other: %v", err)
		}
	})

	// Back to normal, then removed: nothing is published any more.
	if err := tbl.Apply(nat.State{Networks: []nat.Network{tp.network(false)}, Ports: published()}); err != nil {
		t.Fatal(err)
	}
	wantPeer(t, tp.c1, "tcp", outIP+":9000", hostUp)
	if err := tbl.Remove(); err != nil {
		t.Fatal(err)
	}
	t.Run("Removed", func(t *testing.T) {
		wantNoAnswer(t, tp.host, "tcp", "127.0.0.1:18080")
		wantNoAnswer(t, tp.c1, "tcp", outIP+":9000") // no masquerade: no way back
	})
}

// Two bridges are isolated from each other, but a port published by a
// container on one is reachable from the other through the host's address.
func TestIsolation(t *testing.T) {
	tp := newTopology(t)
	c3 := newNS(t)
	tp.host.bridge("br-nat1", "10.211.0.1/24")
	tp.host.veth("vc3", "br-nat1", c3, "10.211.0.2/24", "10.211.0.1")
	serveTCP(t, tp.c1, ":8080")
	serveTCP(t, c3, ":8080")

	tbl := open(t, tp.host)
	other := nat.Network{Bridge: "br-nat1", Subnets: []netip.Prefix{netip.MustParsePrefix("10.211.0.0/24")}}
	if err := tbl.Apply(nat.State{Networks: []nat.Network{tp.network(false), other}, Ports: published()}); err != nil {
		t.Fatal(err)
	}
	wantNoAnswer(t, c3, "tcp", c1IP+":8080")
	wantNoAnswer(t, tp.c1, "tcp", "10.211.0.2:8080")
	wantPeer(t, tp.c2, "tcp", c1IP+":8080", c2IP) // same bridge
	wantPeer(t, c3, "tcp", "10.211.0.1:18080", gw)
}

func mustNet(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

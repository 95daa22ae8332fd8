package netdev

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"br0", true},
		{"veth1234567", true},
		{"a23456789012345", true},
		{"a234567890123456", false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a:b", false},
		{"a b", false},
	} {
		err := checkName("bridge", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("checkName(%q): %v is not an invalid argument", tc.name, err)
		}
	}
	err := EnsureBridge(BridgeConfig{Name: "berth-bridge-too-long"})
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "IFNAMSIZ") {
		t.Errorf("EnsureBridge with a 21-byte name: %v", err)
	}
}

func TestDefaultMACAndHostIf(t *testing.T) {
	mac := DefaultMAC([]netip.Prefix{mustPrefix("fd00::2/64"), mustPrefix("172.17.0.2/16")})
	if mac.String() != "02:42:ac:11:00:02" {
		t.Errorf("DefaultMAC = %v, want Docker's 02:42:ac:11:00:02", mac)
	}
	r := DefaultMAC([]netip.Prefix{mustPrefix("fd00::2/64")})
	if len(r) != 6 || r[0]&1 != 0 || r[0]&2 == 0 {
		t.Errorf("random MAC %v is not unicast and locally administered", r)
	}
	n := NewHostIf()
	if len(n) != 11 || !strings.HasPrefix(n, "veth") {
		t.Errorf("NewHostIf = %q, want veth and 7 hex digits", n)
	}
	if _, err := hex.DecodeString(n[4:] + "0"); err != nil {
		t.Errorf("NewHostIf = %q: %v", n, err)
	}
}

func TestEndpointCheck(t *testing.T) {
	good := Endpoint{Bridge: "br0", HostIf: "veth1234567", NetNS: "/proc/1/ns/net", IfName: "eth0",
		Addrs: []netip.Prefix{mustPrefix("10.1.0.2/24")}, Gateways: []netip.Addr{mustAddr("10.1.0.1")}}
	if err := good.check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Endpoint){
		"long if name":      func(e *Endpoint) { e.IfName = "eth0123456789012" },
		"no netns":          func(e *Endpoint) { e.NetNS = "" },
		"gateway off-link":  func(e *Endpoint) { e.Gateways = []netip.Addr{mustAddr("10.2.0.1")} },
		"two v4 gateways":   func(e *Endpoint) { e.Gateways = append(e.Gateways, mustAddr("10.1.0.254")) },
		"mapped address":    func(e *Endpoint) { e.Addrs = []netip.Prefix{mustPrefix("::ffff:10.1.0.2/120")} },
		"short MAC":         func(e *Endpoint) { e.MAC = net.HardwareAddr{1, 2, 3} },
		"MTU out of range":  func(e *Endpoint) { e.MTU = 20 },
		"invalid address":   func(e *Endpoint) { e.Addrs = []netip.Prefix{{}} },
		"long bridge name":  func(e *Endpoint) { e.Bridge = "b234567890123456" },
		"empty host ifname": func(e *Endpoint) { e.HostIf = "" },
	} {
		e := good
		mod(&e)
		if err := e.check(); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: check() = %v, want an invalid argument", name, err)
		}
	}
}

func TestEnsureBridge(t *testing.T) {
	e := newEnv(t)
	h := e.handle(e.host)
	name := e.name("bt")
	cfg := BridgeConfig{Name: name, Gateways: []netip.Prefix{mustPrefix("10.77.0.1/24"), mustPrefix("fd00:77::1/64")}}
	if err := EnsureBridge(cfg); err != nil {
		t.Fatal(err)
	}
	br, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	mac := br.Attrs().HardwareAddr.String()
	if br.Type() != "bridge" || br.Attrs().MTU != 1500 || br.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("bridge: type %s, MTU %d, flags %v", br.Type(), br.Attrs().MTU, br.Attrs().Flags)
	}

	// Idempotent: again, and again with the gateways in another order.
	if err := EnsureBridge(cfg); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(cfg.Gateways)
	if err := EnsureBridge(cfg); err != nil {
		t.Fatal(err)
	}
	addrs := addrsOf(t, h, br)
	if len(addrs) != 2 {
		t.Fatalf("addresses after three runs: %v, want the two gateways once each", addrs)
	}
	v6, ok := addrs[mustPrefix("fd00:77::1/64")]
	if !ok || v6&unix.IFA_F_TENTATIVE != 0 || v6&unix.IFA_F_NODAD == 0 {
		t.Errorf("IPv6 gateway: present %v, flags %#x: want NODAD and not tentative", ok, v6)
	}
	if _, ok := addrs[mustPrefix("10.77.0.1/24")]; !ok {
		t.Errorf("IPv4 gateway missing: %v", addrs)
	}
	wantLinks(t, nil, "lo", name)

	// A port joining does not change the bridge's MAC.
	_, nsPath := e.newNS()
	veth := e.name("veth")
	if err := Attach(Endpoint{Bridge: name, HostIf: veth, NetNS: nsPath, IfName: "eth0"}); err != nil {
		t.Fatal(err)
	}
	if br, _ = netlink.LinkByName(name); br.Attrs().HardwareAddr.String() != mac {
		t.Errorf("bridge MAC changed from %s to %s when a port joined", mac, br.Attrs().HardwareAddr)
	}
	if err := Detach(veth); err != nil {
		t.Fatal(err)
	}

	// A new MTU and a further address are applied; nothing is removed.
	cfg.MTU = 1400
	cfg.Gateways = append(cfg.Gateways, mustPrefix("10.78.0.1/24"))
	if err := EnsureBridge(cfg); err != nil {
		t.Fatal(err)
	}
	br, _ = netlink.LinkByName(name)
	if br.Attrs().MTU != 1400 || len(addrsOf(t, h, br)) != 3 {
		t.Errorf("after a change: MTU %d, addresses %v", br.Attrs().MTU, addrsOf(t, h, br))
	}

	// The same gateway with another prefix length is a conflict.
	err = EnsureBridge(BridgeConfig{Name: name, Gateways: []netip.Prefix{mustPrefix("10.77.0.1/16")}})
	if !errdefs.IsConflict(err) {
		t.Errorf("gateway with another prefix length: %v, want a conflict", err)
	}

	// A link of that name that is not a bridge is a conflict, and stays.
	dummy := e.name("bd")
	addDummy(t, h, dummy)
	if err := EnsureBridge(BridgeConfig{Name: dummy}); !errdefs.IsConflict(err) {
		t.Errorf("EnsureBridge on a dummy: %v, want a conflict", err)
	}
	if err := DeleteBridge(dummy); !errdefs.IsConflict(err) {
		t.Errorf("DeleteBridge on a dummy: %v, want a conflict", err)
	}
	wantLinks(t, nil, "lo", name, dummy)
}

func TestEnsureBridgeIPv4Only(t *testing.T) {
	e := newEnv(t)
	name := e.name("bt")
	if err := EnsureBridge(BridgeConfig{Name: name, MTU: 9000, Gateways: []netip.Prefix{mustPrefix("10.79.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != "1" {
		t.Errorf("disable_ipv6 on an IPv4-only bridge = %q, want 1", b)
	}
	br, _ := netlink.LinkByName(name)
	if br.Attrs().MTU != 9000 {
		t.Errorf("MTU %d, want 9000", br.Attrs().MTU)
	}
	list, _ := netlink.AddrList(br, netlink.FAMILY_V6)
	if len(list) != 0 {
		t.Errorf("IPv6 addresses on an IPv4-only bridge: %v", list)
	}
}

func TestDeleteBridge(t *testing.T) {
	e := newEnv(t)
	name := e.name("bt")
	if err := EnsureBridge(BridgeConfig{Name: name, Gateways: []netip.Prefix{mustPrefix("10.80.0.1/24")}}); err != nil {
		t.Fatal(err)
	}
	if ok, err := LinkExists(name); !ok || err != nil {
		t.Fatalf("LinkExists(%s) = %v, %v after EnsureBridge", name, ok, err)
	}
	if err := DeleteBridge(name); err != nil {
		t.Fatal(err)
	}
	if ok, err := LinkExists(name); ok || err != nil {
		t.Fatalf("LinkExists(%s) = %v, %v after DeleteBridge", name, ok, err)
	}
	if err := DeleteBridge(name); err != nil {
		t.Errorf("DeleteBridge of a missing bridge: %v", err)
	}
	if _, err := LinkExists("a234567890123456"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("LinkExists with a long name: %v", err)
	}
	wantLinks(t, nil, "lo")
}

// listen opens a TCP listener in ns on addr and serves one connection:
// it reads a line and writes it back with "pong " in front.
func listen(t testing.TB, ns netns.NsHandle, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := inNS(ns, func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				b := make([]byte, 64)
				n, _ := c.Read(b)
				io.WriteString(c, "pong "+string(b[:n]))
			}()
		}
	}()
	return l
}

// dial connects from ns to addr over TCP and checks the echo.
func dial(ns netns.NsHandle, addr string) error {
	return inNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "ping"); err != nil {
			return err
		}
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		if string(b) != "pong ping" {
			return fmt.Errorf("got %q", b)
		}
		return nil
	})
}

func TestAttachConnectivity(t *testing.T) {
	e := newEnv(t)
	br := e.name("bt")
	gw4, gw6 := mustAddr("10.88.0.1"), mustAddr("fd00:88::1")
	if err := EnsureBridge(BridgeConfig{Name: br, Gateways: []netip.Prefix{
		netip.PrefixFrom(gw4, 24), netip.PrefixFrom(gw6, 64)}}); err != nil {
		t.Fatal(err)
	}
	nsA, pathA := e.procNS()  // /proc/PID/ns/net
	nsB, pathB := e.boundNS() // a bind mount
	epA := Endpoint{Bridge: br, HostIf: e.name("veth")[:11], NetNS: pathA, IfName: "eth0",
		Addrs:    []netip.Prefix{mustPrefix("10.88.0.2/24"), mustPrefix("fd00:88::2/64")},
		Gateways: []netip.Addr{gw4, gw6}}
	customMAC := net.HardwareAddr{0x02, 0x00, 0x00, 0xbe, 0x27, 0x01}
	epB := Endpoint{Bridge: br, HostIf: e.name("veth")[:11], NetNS: pathB, IfName: "eth1",
		Addrs:    []netip.Prefix{mustPrefix("10.88.0.3/24"), mustPrefix("fd00:88::3/64")},
		Gateways: []netip.Addr{gw4, gw6}, MTU: 1400, MAC: customMAC}
	e.names = append(e.names, epA.HostIf, epB.HostIf)
	for _, ep := range []Endpoint{epA, epB} {
		if err := Attach(ep); err != nil {
			t.Fatalf("Attach %s: %v", ep.HostIf, err)
		}
	}
	wantLinks(t, nil, "lo", br, epA.HostIf, epB.HostIf)

	// The host ends: ports of the bridge, up.
	brLink, _ := netlink.LinkByName(br)
	for _, ep := range []Endpoint{epA, epB} {
		l, err := netlink.LinkByName(ep.HostIf)
		if err != nil {
			t.Fatal(err)
		}
		if l.Type() != "veth" || l.Attrs().MasterIndex != brLink.Attrs().Index || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("host end %s: type %s, master %d (bridge %d), flags %v", ep.HostIf, l.Type(),
				l.Attrs().MasterIndex, brLink.Attrs().Index, l.Attrs().Flags)
		}
	}

	// The container ends: name, MAC, MTU, up, addresses, lo up, default routes.
	for _, c := range []struct {
		ns  netns.NsHandle
		ep  Endpoint
		mac string
		mtu int
	}{{nsA, epA, "02:42:0a:58:00:02", 1500}, {nsB, epB, customMAC.String(), 1400}} {
		h := e.handle(c.ns)
		wantLinks(t, h, "lo", c.ep.IfName)
		l, err := h.LinkByName(c.ep.IfName)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Attrs().HardwareAddr.String(); got != c.mac {
			t.Errorf("%s: MAC %s, want %s", c.ep.IfName, got, c.mac)
		}
		if l.Attrs().MTU != c.mtu || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("%s: MTU %d (want %d), flags %v", c.ep.IfName, l.Attrs().MTU, c.mtu, l.Attrs().Flags)
		}
		addrs := addrsOf(t, h, l)
		for _, p := range c.ep.Addrs {
			if _, ok := addrs[p]; !ok {
				t.Errorf("%s: address %v missing from %v", c.ep.IfName, p, addrs)
			}
		}
		if len(addrs) != len(c.ep.Addrs) {
			t.Errorf("%s: addresses %v, want %v", c.ep.IfName, addrs, c.ep.Addrs)
		}
		lo, _ := h.LinkByName("lo")
		if lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lo is down")
		}
		routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(nil, netlink.FAMILY_ALL) })
		if err != nil {
			t.Fatal(err)
		}
		var defaults []netip.Addr
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil && r.LinkIndex == l.Attrs().Index {
				gw, _ := netip.AddrFromSlice(r.Gw)
				defaults = append(defaults, gw.Unmap())
			}
		}
		slices.SortFunc(defaults, netip.Addr.Compare)
		if !slices.Equal(defaults, []netip.Addr{gw4, gw6}) {
			t.Errorf("%s: default routes via %v, want via %v and %v", c.ep.IfName, defaults, gw4, gw6)
		}
	}

	// TCP between the two namespaces over the bridge, IPv4 and IPv6 (no
	// DAD wait), and from a container to the gateway on the host side.
	l4 := listen(t, nsB, "10.88.0.3:0")
	l6 := listen(t, nsB, "[fd00:88::3]:0")
	lgw := listen(t, e.host, "10.88.0.1:0")
	for _, addr := range []string{l4.Addr().String(), l6.Addr().String(), lgw.Addr().String()} {
		if err := dial(nsA, addr); err != nil {
			t.Errorf("TCP from A to %s: %v", addr, err)
		}
	}

	// Detach removes both ends.
	for _, ep := range []Endpoint{epA, epB} {
		if err := Detach(ep.HostIf); err != nil {
			t.Fatal(err)
		}
		if err := Detach(ep.HostIf); err != nil {
			t.Errorf("Detach of a missing veth: %v", err)
		}
	}
	wantLinks(t, nil, "lo", br)
	wantLinks(t, e.handle(nsA), "lo")
	wantLinks(t, e.handle(nsB), "lo")
}

func TestAttachFailures(t *testing.T) {
	e := newEnv(t)
	hostH := e.handle(e.host)
	br := e.name("bt")
	if err := EnsureBridge(BridgeConfig{Name: br, Gateways: []netip.Prefix{mustPrefix("10.89.0.1/24"), mustPrefix("fd00:89::1/64")}}); err != nil {
		t.Fatal(err)
	}
	endpoint := func(nsPath string) Endpoint {
		v := e.name("veth")[:11]
		e.names = append(e.names, v)
		return Endpoint{Bridge: br, HostIf: v, NetNS: nsPath, IfName: "eth0",
			Addrs:    []netip.Prefix{mustPrefix("10.89.0.2/24"), mustPrefix("fd00:89::2/64")},
			Gateways: []netip.Addr{mustAddr("10.89.0.1"), mustAddr("fd00:89::1")}}
	}

	t.Run("netns missing", func(t *testing.T) {
		e.enter(t)
		err := Attach(endpoint(filepath.Join(t.TempDir(), "gone")))
		if !errdefs.IsNotFound(err) {
			t.Errorf("got %v, want not found", err)
		}
		wantLinks(t, hostH, "lo", br)
	})
	t.Run("not a netns", func(t *testing.T) {
		e.enter(t)
		err := Attach(endpoint("/proc/self/status"))
		if err == nil {
			t.Errorf("Attach into a regular file succeeded")
		}
		wantLinks(t, hostH, "lo", br)
	})
	t.Run("bridge missing", func(t *testing.T) {
		e.enter(t)
		_, p := e.newNS()
		ep := endpoint(p)
		ep.Bridge = e.name("bt")
		if err := Attach(ep); !errdefs.IsNotFound(err) {
			t.Errorf("got %v, want not found", err)
		}
		wantLinks(t, hostH, "lo", br)
	})
	t.Run("container name taken", func(t *testing.T) {
		e.enter(t)
		ns, p := e.newNS()
		h := e.handle(ns)
		addDummy(t, h, "eth0")
		err := Attach(endpoint(p))
		if !errdefs.IsAlreadyExists(err) || !strings.Contains(err.Error(), `"eth0"`) {
			t.Errorf("got %v, want eth0 already exists", err)
		}
		wantLinks(t, hostH, "lo", br)
		wantLinks(t, h, "lo", "eth0")
	})
	t.Run("host name taken", func(t *testing.T) {
		e.enter(t)
		ns, p := e.newNS()
		ep := endpoint(p)
		addDummy(t, hostH, ep.HostIf)
		err := Attach(ep)
		if !errdefs.IsAlreadyExists(err) || !strings.Contains(err.Error(), ep.HostIf) {
			t.Errorf("got %v, want %s already exists", err, ep.HostIf)
		}
		if l, err := hostH.LinkByName(ep.HostIf); err != nil || (l.Type() != "dummy" && l.Type() != "ifb") {
			t.Errorf("the existing %s was touched: %v", ep.HostIf, err)
		}
		if l, err := hostH.LinkByName(ep.HostIf); err == nil {
			hostH.LinkDel(l)
		}
		wantLinks(t, hostH, "lo", br)
		wantLinks(t, e.handle(ns), "lo")
	})
	t.Run("failure after creation", func(t *testing.T) {
		e.enter(t)
		// IPv6 disabled in the container: the pair exists by the time the
		// IPv6 address is refused, and must go.
		ns, p := e.newNS()
		err := inNS(ns, func() error { return writeSysctl("net/ipv6/conf/default/disable_ipv6", "1") })
		if err != nil {
			t.Fatal(err)
		}
		err = Attach(endpoint(p))
		if err == nil || !strings.Contains(err.Error(), "fd00:89::2") {
			t.Errorf("got %v, want the IPv6 address refused", err)
		}
		wantLinks(t, hostH, "lo", br)
		wantLinks(t, e.handle(ns), "lo")
	})
	t.Run("attach twice", func(t *testing.T) {
		e.enter(t)
		ns, p := e.newNS()
		ep := endpoint(p)
		if err := Attach(ep); err != nil {
			t.Fatal(err)
		}
		if err := Attach(ep); !errdefs.IsAlreadyExists(err) {
			t.Errorf("second Attach: %v, want already exists", err)
		}
		wantLinks(t, hostH, "lo", br, ep.HostIf)
		wantLinks(t, e.handle(ns), "lo", "eth0")
		if err := Detach(ep.HostIf); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("detach a bridge", func(t *testing.T) {
		e.enter(t)
		if err := Detach(br); !errdefs.IsConflict(err) {
			t.Errorf("Detach of a bridge: %v, want a conflict", err)
		}
		wantLinks(t, hostH, "lo", br)
	})
}

func TestHostRoutes(t *testing.T) {
	e := newEnv(t)
	h := e.handle(e.host)
	d := addDummy(t, h, e.name("bd"))
	if err := h.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"10.123.4.5/24", "fd00:123::5/64"} {
		p := mustPrefix(a)
		if err := h.AddrAdd(d, &netlink.Addr{IPNet: ipNet(p), Flags: addrFlags(p.Addr())}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []*netlink.Route{
		{LinkIndex: d.Attrs().Index, Dst: ipNet(mustPrefix("10.200.0.0/16"))},
		{LinkIndex: d.Attrs().Index, Dst: ipNet(mustPrefix("fd00:200::/48"))},
		{LinkIndex: d.Attrs().Index, Gw: net.ParseIP("10.123.4.1")}, // a default route: left out
	} {
		if err := h.RouteAdd(r); err != nil {
			t.Fatalf("route %v: %v", r, err)
		}
	}
	got, err := HostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	got = slices.DeleteFunc(got, func(p netip.Prefix) bool { return p == mustPrefix("fe80::/64") })
	want := []netip.Prefix{mustPrefix("10.123.4.0/24"), mustPrefix("10.200.0.0/16"),
		mustPrefix("fd00:123::/64"), mustPrefix("fd00:200::/48")}
	if !slices.Equal(got, want) {
		t.Errorf("HostRoutes = %v, want %v", got, want)
	}
}

// BenchmarkAttach measures Attach alone: a new namespace per iteration (as
// each container has), made and removed with the timer stopped.
func BenchmarkAttach(b *testing.B) { benchAttach(b, true) }

// BenchmarkDetach measures Detach of an attached endpoint.
func BenchmarkDetach(b *testing.B) { benchAttach(b, false) }

func benchAttach(b *testing.B, attach bool) {
	requireRoot(b)
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		host, err := netns.New()
		if err != nil {
			ch <- err
			return
		}
		defer host.Close()
		br := fmt.Sprintf("bb%x", time.Now().UnixNano()&0xffffff)
		if err := EnsureBridge(BridgeConfig{Name: br, Gateways: []netip.Prefix{mustPrefix("10.90.0.1/16"), mustPrefix("fd00:90::1/64")}}); err != nil {
			ch <- err
			return
		}
		b.ResetTimer()
		b.StopTimer()
		for i := range b.N {
			ns, err := netns.New()
			if err != nil {
				ch <- err
				return
			}
			if err := netns.Set(host); err != nil {
				ch <- err
				return
			}
			ep := Endpoint{Bridge: br, HostIf: NewHostIf(), NetNS: fmt.Sprintf("/proc/self/fd/%d", int(ns)), IfName: "eth0",
				Addrs:    []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 90, byte(i >> 8), byte(i) | 2}), 16), mustPrefix("fd00:90::2/64")},
				Gateways: []netip.Addr{mustAddr("10.90.0.1"), mustAddr("fd00:90::1")}}
			if attach {
				b.StartTimer()
			}
			err = Attach(ep)
			if attach {
				b.StopTimer()
			}
			if err != nil {
				ch <- err
				return
			}
			if !attach {
				b.StartTimer()
			}
			err = Detach(ep.HostIf)
			if !attach {
				b.StopTimer()
			}
			ns.Close()
			if err != nil {
				ch <- err
				return
			}
		}
		ch <- nil
	}()
	if err := <-ch; err != nil {
		b.Fatal(err)
	}
}

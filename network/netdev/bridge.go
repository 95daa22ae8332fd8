package netdev

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// DefaultMTU is the bridge MTU when BridgeConfig.MTU is 0, as in Docker.
const DefaultMTU = 1500

// BridgeConfig describes a network's bridge device.
type BridgeConfig struct {
	Name string // at most 15 bytes (IFNAMSIZ)
	MTU  int    // 0: DefaultMTU
	// Gateways are the bridge's own addresses with their subnet's prefix
	// length, e.g. 172.18.0.1/16 and optionally fd00:1::1/64.
	Gateways []netip.Prefix
}

// EnsureBridge makes the bridge match c in the calling thread's network
// namespace: it creates the bridge if it is missing, sets its MTU, adds the
// gateway addresses it lacks and sets it up. It is idempotent: running it
// again (at each daemon start) changes nothing and duplicates nothing.
//
// A new bridge gets a random MAC address, so its MAC does not follow its
// ports as they come and go (the kernel keeps an address that was set).
// IPv6 gateways are added without duplicate address detection, usable at
// once. A bridge with no IPv6 gateway has IPv6 disabled, so it gets no
// link-local address either (as Docker does for IPv4-only networks).
//
// Existing addresses are never removed. A link of that name that is not a
// bridge, or a gateway address present with another prefix length, is an
// errdefs.ErrConflict.
func EnsureBridge(c BridgeConfig) error {
	if err := checkName("bridge", c.Name); err != nil {
		return err
	}
	mtu := c.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("bridge %q: MTU %d out of range 68-65535: %w", c.Name, c.MTU, errdefs.ErrInvalidArgument)
	}
	ipv6 := false
	for _, gw := range c.Gateways {
		if err := checkAddr("bridge "+c.Name+" gateway", gw.Addr()); err != nil {
			return err
		}
		if !gw.IsValid() {
			return fmt.Errorf("bridge %q: gateway %v: %w", c.Name, gw, errdefs.ErrInvalidArgument)
		}
		if gw.Addr().Is6() {
			ipv6 = true
		}
	}
	if ipv6 && mtu < 1280 {
		return fmt.Errorf("bridge %q: MTU %d is below IPv6's minimum of 1280: %w", c.Name, mtu, errdefs.ErrInvalidArgument)
	}

	link, err := bridgeLink(c.Name)
	if err != nil {
		return err
	}
	if link == nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = c.Name
		attrs.MTU = mtu
		attrs.HardwareAddr = randomMAC()
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return classify(fmt.Sprintf("create bridge %q", c.Name), err)
		}
		// Look it up again: it may have been created concurrently.
		if link, err = bridgeLink(c.Name); err != nil {
			return err
		}
		if link == nil {
			return fmt.Errorf("bridge %q vanished after its creation: %w", c.Name, errdefs.ErrConflict)
		}
	}
	if link.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("bridge %q: set MTU %d: %w", c.Name, mtu, err)
		}
	}
	if err := setBridgeIPv6(c.Name, ipv6); err != nil {
		return err
	}
	if err := ensureAddrs(link, c.Gateways); err != nil {
		return err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("bridge %q: set up: %w", c.Name, err)
		}
	}
	return nil
}

// setBridgeIPv6 enables IPv6 on the bridge when it has an IPv6 gateway and
// disables it otherwise. Disabling is best effort: a kernel without IPv6
// has nothing to disable.
func setBridgeIPv6(name string, enable bool) error {
	key := "net/ipv6/conf/" + name + "/disable_ipv6"
	if !enable {
		_ = writeSysctl(key, "1")
		return nil
	}
	if err := writeSysctl(key, "0"); err != nil {
		return fmt.Errorf("bridge %q: enable IPv6 (%s): %w", name, key, err)
	}
	return nil
}

// ensureAddrs adds the addresses in want that link lacks.
func ensureAddrs(link netlink.Link, want []netip.Prefix) error {
	name := link.Attrs().Name
	list, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return fmt.Errorf("bridge %q: list addresses: %w", name, err)
	}
	have := make(map[netip.Addr]netip.Prefix, len(list))
	for _, a := range list {
		if p, ok := prefixOf(a.IPNet); ok {
			have[p.Addr()] = p
		}
	}
	for _, gw := range want {
		if p, ok := have[gw.Addr()]; ok {
			if p.Bits() != gw.Bits() {
				return fmt.Errorf("bridge %q has address %v, want %v: %w", name, p, gw, errdefs.ErrConflict)
			}
			continue
		}
		err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(gw), Flags: addrFlags(gw.Addr())})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("bridge %q: add address %v: %w", name, gw, err)
		}
		have[gw.Addr()] = gw
	}
	return nil
}

// bridgeLink returns the bridge called name, nil if there is no link of that
// name, and an errdefs.ErrConflict if the link is not a bridge.
func bridgeLink(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("bridge %q: %w", name, err)
	}
	if link.Type() != "bridge" {
		return nil, fmt.Errorf("bridge %q: the link of that name is a %s, not a bridge: %w", name, link.Type(), errdefs.ErrConflict)
	}
	return link, nil
}

// DeleteBridge deletes the bridge called name (its ports are detached by the
// kernel, not deleted). A missing bridge is not an error; a link of that name
// that is not a bridge is an errdefs.ErrConflict and is left alone.
func DeleteBridge(name string) error {
	if err := checkName("bridge", name); err != nil {
		return err
	}
	link, err := bridgeLink(name)
	if err != nil || link == nil {
		return err
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete bridge %q: %w", name, err)
	}
	return nil
}

// LinkExists reports whether the calling thread's network namespace has a
// link called name.
func LinkExists(name string) (bool, error) {
	if err := checkName("link", name); err != nil {
		return false, err
	}
	_, err := netlink.LinkByName(name)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("link %q: %w", name, err)
}

// HostRoutes returns the destinations of the IPv4 and IPv6 routes of the
// main routing table of the calling thread's network namespace, sorted and
// without duplicates. Default routes (prefix length 0) are left out: they
// overlap everything. IPAM uses the list to skip subnets already routed,
// such as docker0's or a VPN's.
func HostRoutes() ([]netip.Prefix, error) {
	routes, err := retryDump(func() ([]netlink.Route, error) { return netlink.RouteList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		p, ok := prefixOf(r.Dst)
		if !ok || p.Bits() == 0 {
			continue
		}
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out), nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

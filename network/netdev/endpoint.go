package netdev

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Endpoint describes one container's connection to a bridge.
type Endpoint struct {
	Bridge string // the bridge, made by EnsureBridge
	HostIf string // the host end of the veth pair; see NewHostIf
	NetNS  string // the container's network namespace: /proc/PID/ns/net or a bind mount
	IfName string // the container end's name inside NetNS, e.g. "eth0"
	// Addrs are the container's addresses with their subnet's prefix length.
	Addrs []netip.Prefix
	// Gateways become default routes, one per family (the bridge's gateway
	// addresses). Each must lie in the subnet of one of Addrs.
	Gateways []netip.Addr
	MTU      int              // 0: the bridge's MTU
	MAC      net.HardwareAddr // nil: DefaultMAC(Addrs)
}

// NewHostIf returns a random name for the host end of a veth pair: "veth"
// and 7 hex digits, as Docker names them.
func NewHostIf() string {
	var b [4]byte
	rand.Read(b[:])
	return "veth" + hex.EncodeToString(b[:])[:7]
}

// DefaultMAC returns Docker's MAC address for a container with these
// addresses: 02:42 followed by the four bytes of the first IPv4 address, or
// a random locally administered one when there is no IPv4 address.
func DefaultMAC(addrs []netip.Prefix) net.HardwareAddr {
	for _, p := range addrs {
		if a := p.Addr(); a.Is4() {
			ip := a.As4()
			return net.HardwareAddr{0x02, 0x42, ip[0], ip[1], ip[2], ip[3]}
		}
	}
	return randomMAC()
}

func (e *Endpoint) check() error {
	if err := checkName("bridge", e.Bridge); err != nil {
		return err
	}
	if err := checkName("host interface", e.HostIf); err != nil {
		return err
	}
	if err := checkName("container interface", e.IfName); err != nil {
		return err
	}
	if e.NetNS == "" {
		return fmt.Errorf("endpoint %s: no network namespace path: %w", e.HostIf, errdefs.ErrInvalidArgument)
	}
	if e.MTU != 0 && (e.MTU < 68 || e.MTU > 65535) {
		return fmt.Errorf("endpoint %s: MTU %d out of range 68-65535: %w", e.HostIf, e.MTU, errdefs.ErrInvalidArgument)
	}
	if e.MAC != nil && len(e.MAC) != 6 {
		return fmt.Errorf("endpoint %s: MAC %v is not a 6-byte Ethernet address: %w", e.HostIf, e.MAC, errdefs.ErrInvalidArgument)
	}
	for _, p := range e.Addrs {
		if err := checkAddr("endpoint "+e.HostIf+" address", p.Addr()); err != nil {
			return err
		}
		if !p.IsValid() {
			return fmt.Errorf("endpoint %s: address %v: %w", e.HostIf, p, errdefs.ErrInvalidArgument)
		}
	}
	seen := map[bool]bool{} // by Is4
	for _, gw := range e.Gateways {
		if err := checkAddr("endpoint "+e.HostIf+" gateway", gw); err != nil {
			return err
		}
		if seen[gw.Is4()] {
			return fmt.Errorf("endpoint %s: two gateways of one family (%v): %w", e.HostIf, gw, errdefs.ErrInvalidArgument)
		}
		seen[gw.Is4()] = true
		onLink := false
		for _, p := range e.Addrs {
			onLink = onLink || p.Masked().Contains(gw)
		}
		if !onLink {
			return fmt.Errorf("endpoint %s: gateway %v is in none of the subnets of %v: %w", e.HostIf, gw, e.Addrs, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// Attach connects a container's network namespace to a bridge of the calling
// thread's namespace with a veth pair. The host end, HostIf, is created up
// and made a port of the bridge. The container end is created directly
// inside the namespace as IfName, with its MAC and MTU (no move, no rename);
// then it gets its addresses (IPv6 ones without duplicate address
// detection), is set up, lo is set up and the default routes are added.
//
// On any failure the pair is deleted, which removes everything Attach made:
// no link is left behind on either side. A name already in use (HostIf on
// the host, IfName in the container) is an errdefs.ErrAlreadyExists, a
// missing bridge or namespace an errdefs.ErrNotFound.
func Attach(e Endpoint) (err error) {
	if err := e.check(); err != nil {
		return err
	}
	br, err := bridgeLink(e.Bridge)
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("bridge %q: %w", e.Bridge, errdefs.ErrNotFound)
	}
	ns, err := openNS(e.NetNS)
	if err != nil {
		return err
	}
	defer ns.Close()
	nh, err := handleAt(ns)
	if err != nil {
		return fmt.Errorf("network namespace %q: %w", e.NetNS, err)
	}
	defer nh.Close()

	mtu := e.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	mac := e.MAC
	if mac == nil {
		mac = DefaultMAC(e.Addrs)
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = e.HostIf
	attrs.MTU = mtu
	attrs.Flags = net.FlagUp
	veth := &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         e.IfName,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(ns),
		PeerTxQLen:       -1,
		PeerMTU:          uint32(mtu),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		// The kernel creates both ends or neither; only say which name clashed.
		if errors.Is(err, unix.EEXIST) {
			if _, lerr := nh.LinkByName(e.IfName); lerr == nil {
				return fmt.Errorf("interface %q in network namespace %q: %w", e.IfName, e.NetNS, errdefs.ErrAlreadyExists)
			}
			return fmt.Errorf("host interface %q: %w", e.HostIf, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("create veth pair %s/%s: %w", e.HostIf, e.IfName, err)
	}
	defer func() {
		if err != nil {
			// Deleting one end deletes its peer, wherever it is.
			if derr := netlink.LinkDel(veth); derr != nil && !isNotFound(derr) {
				err = fmt.Errorf("%w (and removing veth %s: %v)", err, e.HostIf, derr)
			}
		}
	}()
	if err := netlink.LinkSetMasterByIndex(veth, br.Attrs().Index); err != nil {
		return fmt.Errorf("veth %s: attach to bridge %q: %w", e.HostIf, e.Bridge, err)
	}
	// Hairpin: a container reaching its own published port goes through
	// the host's DNAT and comes back out the port it came in on (with
	// br_netfilter on, the translation happens on the bridge itself).
	if err := netlink.LinkSetHairpin(veth, true); err != nil {
		return fmt.Errorf("veth %s: hairpin mode: %w", e.HostIf, err)
	}

	peer, err := nh.LinkByName(e.IfName)
	if err != nil {
		return fmt.Errorf("interface %q in network namespace %q: %w", e.IfName, e.NetNS, err)
	}
	for _, p := range e.Addrs {
		if err := nh.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(p), Flags: addrFlags(p.Addr())}); err != nil {
			return fmt.Errorf("interface %q in %q: add address %v: %w", e.IfName, e.NetNS, p, err)
		}
	}
	if err := nh.LinkSetUp(peer); err != nil {
		return fmt.Errorf("interface %q in %q: set up: %w", e.IfName, e.NetNS, err)
	}
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo in %q: %w", e.NetNS, err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		if err := nh.LinkSetUp(lo); err != nil {
			return fmt.Errorf("lo in %q: set up: %w", e.NetNS, err)
		}
	}
	for _, gw := range e.Gateways {
		r := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw.AsSlice()}
		if err := nh.RouteAdd(r); err != nil {
			return fmt.Errorf("interface %q in %q: default route via %v: %w", e.IfName, e.NetNS, gw, err)
		}
	}
	return nil
}

// Detach deletes the veth pair whose host end is hostIf; the container end
// goes with it. A missing link is not an error; a link of that name that is
// not a veth is an errdefs.ErrConflict and is left alone.
func Detach(hostIf string) error {
	if err := checkName("host interface", hostIf); err != nil {
		return err
	}
	link, err := netlink.LinkByName(hostIf)
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("host interface %q: %w", hostIf, err)
	}
	if link.Type() != "veth" {
		return fmt.Errorf("host interface %q is a %s, not a veth: %w", hostIf, link.Type(), errdefs.ErrConflict)
	}
	if err := netlink.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete veth %q: %w", hostIf, err)
	}
	return nil
}

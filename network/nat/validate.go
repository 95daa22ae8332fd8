package nat

import (
	"fmt"
	"net/netip"

	"github.com/berth-dev/berth/errdefs"
)

// ifNameSize is IFNAMSIZ: an interface name and its terminating NUL.
const ifNameSize = 16

func validBridge(name string) error {
	if len(name) == 0 || len(name) >= ifNameSize || name == "." || name == ".." || !printable(name) {
		return fmt.Errorf("bridge name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// validate checks s and normalises nothing: the rules are built from s as
// given, with addresses unmapped where they are read.
func (s State) validate() error {
	internal := map[string]bool{}
	for _, n := range s.Networks {
		if err := validBridge(n.Bridge); err != nil {
			return err
		}
		if _, dup := internal[n.Bridge]; dup {
			return fmt.Errorf("bridge %q: listed twice: %w", n.Bridge, errdefs.ErrInvalidArgument)
		}
		internal[n.Bridge] = n.Internal
		for _, p := range n.Subnets {
			if !p.IsValid() || p.Addr().Is4In6() || p != p.Masked() {
				return fmt.Errorf("network %q: subnet %q: %w", n.Bridge, p, errdefs.ErrInvalidArgument)
			}
		}
	}
	type key struct {
		proto string
		port  uint16
	}
	seen := map[key][]Port{}
	for _, p := range s.Ports {
		if err := p.validate(); err != nil {
			return err
		}
		if _, ok := internal[p.Bridge]; !ok {
			return fmt.Errorf("port %s: bridge %q is not one of the networks: %w", p, p.Bridge, errdefs.ErrInvalidArgument)
		}
		k := key{p.Proto, p.HostPort}
		for _, q := range seen[k] {
			if overlap(p, q) {
				return fmt.Errorf("port %s: host port already published as %s: %w", p, q, errdefs.ErrConflict)
			}
		}
		seen[k] = append(seen[k], p)
	}
	return nil
}

func (p Port) validate() error {
	if p.Proto != "tcp" && p.Proto != "udp" {
		return fmt.Errorf("port %s: protocol %q: want tcp or udp: %w", p, p.Proto, errdefs.ErrInvalidArgument)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return fmt.Errorf("port %s: port 0: %w", p, errdefs.ErrInvalidArgument)
	}
	c := p.ContainerIP.Unmap()
	if !c.IsValid() || c.IsUnspecified() || c.IsMulticast() || c.IsLoopback() {
		return fmt.Errorf("port %s: container address %q: %w", p, p.ContainerIP, errdefs.ErrInvalidArgument)
	}
	if h, all := p.hostIP(); !all && h.Is4() != c.Is4() {
		return fmt.Errorf("port %s: host address and container address of different families: %w", p, errdefs.ErrInvalidArgument)
	}
	return validBridge(p.Bridge)
}

// hostIP returns p's host address, unmapped, and whether it means every
// address (of the container address's family).
func (p Port) hostIP() (netip.Addr, bool) {
	h := p.HostIP.Unmap()
	return h, !h.IsValid() || h.IsUnspecified()
}

// overlap reports whether p and q (same protocol and host port) would catch
// the same packets.
func overlap(p, q Port) bool {
	if p.ContainerIP.Unmap().Is4() != q.ContainerIP.Unmap().Is4() {
		return false // each matches its own family only
	}
	ph, pany := p.hostIP()
	qh, qany := q.hostIP()
	return pany || qany || ph == qh
}

// String formats p as docker port does: [HOSTIP:]HOSTPORT->CONTAINERIP:PORT/PROTO.
func (p Port) String() string {
	host := fmt.Sprint(p.HostPort)
	if h, all := p.hostIP(); !all {
		host = netip.AddrPortFrom(h, p.HostPort).String()
	}
	return fmt.Sprintf("%s->%s/%s", host, netip.AddrPortFrom(p.ContainerIP.Unmap(), p.ContainerPort), p.Proto)
}

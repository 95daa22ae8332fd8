package ipam

import (
	"fmt"
	"net/netip"

	"github.com/berth-dev/berth/errdefs"
)

// Allocate gives owner (a container's id) an address of the network.
//
// With want zero it is the next free address of the ip-range (the whole
// subnet if none), round-robin as Docker does: the search starts one past
// the address last handed out this way and wraps around, so an address just
// released is the last to be reused. The subnet's network address, its IPv4
// broadcast address and the gateway are never handed out.
//
// With want set, it must lie in the ip-range (the subnet if none) and be
// free.
func (s *Store) Allocate(networkName, owner string, want netip.Addr) (netip.Addr, error) {
	if owner == "" {
		return netip.Addr{}, fmt.Errorf("allocating an address of network %s: no owner given: %w", networkName, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.nets[networkName]
	if !ok {
		return netip.Addr{}, fmt.Errorf("network %s not found: %w", networkName, errdefs.ErrNotFound)
	}
	n := old.clone()
	var ip netip.Addr
	if !want.IsValid() {
		ip, ok = n.nextFree()
		if !ok {
			return netip.Addr{}, fmt.Errorf("no available %s addresses on this network's address pools: %s: %w",
				family(n.Subnet.Addr()), n.Name, errdefs.ErrConflict)
		}
		n.Next = n.after(ip)
	} else {
		ip = want.Unmap()
		if ip.Is4() != n.Subnet.Addr().Is4() || !n.pool().Contains(ip) {
			return netip.Addr{}, fmt.Errorf("no configured subnet or ip-range contain the IP address %s: %w", want, errdefs.ErrInvalidArgument)
		}
		if why := reservedWhy(ip, n.Subnet); why != "" {
			return netip.Addr{}, fmt.Errorf("requested address %s is the %s of subnet %s: %w", ip, why, n.Subnet, errdefs.ErrInvalidArgument)
		}
		if _, taken := n.Allocated[ip]; taken || ip == n.Gateway {
			return netip.Addr{}, fmt.Errorf("Address already in use: %s in network %s: %w", ip, n.Name, errdefs.ErrConflict)
		}
	}
	n.Allocated[ip] = owner
	if err := s.commit(map[string]*network{n.Name: n}, false); err != nil {
		return netip.Addr{}, err
	}
	return ip, nil
}

// Release frees an address of the network.
func (s *Store) Release(networkName string, ip netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.nets[networkName]
	if !ok {
		return fmt.Errorf("network %s not found: %w", networkName, errdefs.ErrNotFound)
	}
	ip = ip.Unmap()
	if _, ok := old.Allocated[ip]; !ok {
		return fmt.Errorf("address %s is not allocated in network %s: %w", ip, networkName, errdefs.ErrNotFound)
	}
	n := old.clone()
	delete(n.Allocated, ip)
	return s.commit(map[string]*network{n.Name: n}, false)
}

// ReleaseOwner frees every address owner holds, in every network. Holding
// none is not an error; the only error is failing to write the state file,
// in which case nothing is released.
func (s *Store) ReleaseOwner(owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := map[string]*network{}
	for name, old := range s.nets {
		var n *network
		for ip, o := range old.Allocated {
			if o != owner {
				continue
			}
			if n == nil {
				n = old.clone()
			}
			delete(n.Allocated, ip)
		}
		if n != nil {
			changed[name] = n
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return s.commit(changed, false)
}

// pool is where automatic addresses come from.
func (n *network) pool() netip.Prefix {
	if n.IPRange.IsValid() {
		return n.IPRange
	}
	return n.Subnet
}

// after returns the address that follows ip in the pool, wrapping around.
func (n *network) after(ip netip.Addr) netip.Addr {
	p := n.pool()
	if ip == lastAddr(p) {
		return p.Addr()
	}
	return ip.Next()
}

// nextFree finds the first free address of the pool, starting at n.Next.
func (n *network) nextFree() (netip.Addr, bool) {
	p := n.pool()
	start := n.Next
	if !start.IsValid() || !p.Contains(start) {
		start = p.Addr()
	}
	ip := start
	for {
		if _, taken := n.Allocated[ip]; !taken && ip != n.Gateway && reservedWhy(ip, n.Subnet) == "" {
			return ip, true
		}
		ip = n.after(ip)
		if ip == start {
			return netip.Addr{}, false
		}
	}
}

// reservedWhy names what ip is if the subnet keeps it from everyone: the
// network address (for IPv6 the subnet-router anycast address, RFC 4291)
// and the IPv4 broadcast address. It is "" for any other address.
func reservedWhy(ip netip.Addr, subnet netip.Prefix) string {
	switch {
	case ip == subnet.Addr():
		return "network address"
	case ip.Is4() && ip == lastAddr(subnet):
		return "broadcast address"
	}
	return ""
}

// lastAddr returns the last address of the canonical prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	hostBits := p.Addr().BitLen() - p.Bits()
	for i := 15; i >= 0 && hostBits > 0; i-- {
		if hostBits >= 8 {
			b[i] = 0xff
			hostBits -= 8
		} else {
			b[i] |= byte(1<<hostBits) - 1
			hostBits = 0
		}
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}

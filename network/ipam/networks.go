package ipam

import (
	"fmt"
	"net/netip"

	"github.com/berth-dev/berth/errdefs"
)

// Pool is a block of address space that network subnets of one size are
// cut from, in address order: Docker's default-address-pools entries.
type Pool struct {
	Base netip.Prefix
	Size int // the prefix length of each subnet cut from Base
}

// DefaultPools returns Docker's default address pools: 172.17.0.0/16 to
// 172.31.0.0/16 (a /16 each), then 192.168.0.0/16 cut into /20s.
func DefaultPools() []Pool {
	var pools []Pool
	for b := byte(17); b <= 31; b++ {
		pools = append(pools, Pool{Base: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, b, 0, 0}), 16), Size: 16})
	}
	return append(pools, Pool{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20})
}

// DefaultPool6 is where IPv6 subnets come from when none is given: a fixed
// unique local (ULA) /48 of berth's, cut into /64s.
func DefaultPool6() Pool {
	return Pool{Base: netip.MustParsePrefix("fd42:b3e7:c0de::/48"), Size: 64}
}

// NetworkSpec is what a user asks of a network's addressing
// (docker network create --subnet, --ip-range, --gateway).
type NetworkSpec struct {
	Subnet  netip.Prefix // zero: the first free subnet of DefaultPools
	IPRange netip.Prefix // zero: the whole subnet
	Gateway netip.Addr   // zero: the first address automatic allocation would give
	IPv6    bool         // with no Subnet: take one from DefaultPool6
}

// AddNetwork records a network and reserves its subnet.
//
// An explicit subnet must be canonical (no host bits set), at most a /30
// (IPv4) or /126 (IPv6), and must not overlap another network's subnet; it
// may overlap a route of the host, as in Docker. Without one, the first
// subnet of DefaultPools (IPv4; DefaultPool6 with spec.IPv6) that overlaps neither another network nor a
// prefix for which inUse (may be nil) reports true is taken. inUse is
// called with the store locked: it must not call the Store.
//
// The gateway, when not given, is the first address that automatic
// allocation would hand out: the subnet's first host address, or the first
// address of the ip-range (Docker allocates it from the range too).
func (s *Store) AddNetwork(name string, spec NetworkSpec, inUse func(netip.Prefix) bool) (*Network, error) {
	if name == "" {
		return nil, fmt.Errorf("network name is empty: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nets[name]; ok {
		return nil, fmt.Errorf("network with name %s already exists: %w", name, errdefs.ErrAlreadyExists)
	}

	n := &network{Name: name, IPRange: spec.IPRange, Gateway: spec.Gateway, Allocated: map[netip.Addr]string{}}
	if !spec.Subnet.IsValid() {
		if spec.IPRange.IsValid() || spec.Gateway.IsValid() {
			return nil, fmt.Errorf("invalid network config: an ip-range or a gateway needs a subnet: %w", errdefs.ErrInvalidArgument)
		}
		subnet, err := s.pickSubnet(spec.IPv6, inUse)
		if err != nil {
			return nil, err
		}
		n.Subnet = subnet
	} else {
		if err := validSubnet(spec.Subnet); err != nil {
			return nil, err
		}
		for _, other := range s.nets {
			if other.Subnet.Overlaps(spec.Subnet) {
				return nil, fmt.Errorf("invalid pool request: Pool overlaps with other one on this address space: %w", errdefs.ErrConflict)
			}
		}
		n.Subnet = spec.Subnet
	}
	if err := validRange(n.IPRange, n.Subnet); err != nil {
		return nil, err
	}
	if n.Gateway.IsValid() {
		if err := validGateway(n.Gateway, n.Subnet); err != nil {
			return nil, err
		}
	} else {
		gw, ok := n.nextFree()
		if !ok {
			return nil, fmt.Errorf("invalid network config: ip-range %s has no address for a gateway: %w", n.IPRange, errdefs.ErrInvalidArgument)
		}
		n.Gateway = gw
	}
	if err := s.commit(map[string]*network{name: n}, true); err != nil {
		return nil, err
	}
	return n.public(), nil
}

// RemoveNetwork forgets a network and frees its subnet. A network whose
// addresses are still allocated is not removed (release them, or their
// owners, first).
func (s *Store) RemoveNetwork(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nets[name]
	if !ok {
		return fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
	}
	if len(n.Allocated) > 0 {
		return fmt.Errorf("error while removing network: network %s has active endpoints (%d addresses allocated): %w", name, len(n.Allocated), errdefs.ErrConflict)
	}
	return s.commit(map[string]*network{name: nil}, true)
}

// pickSubnet returns the first subnet of the default pools that overlaps no
// network and that inUse does not claim. s.mu is held.
func (s *Store) pickSubnet(v6 bool, inUse func(netip.Prefix) bool) (netip.Prefix, error) {
	pools := DefaultPools()
	family := "IPv4"
	if v6 {
		pools, family = []Pool{DefaultPool6()}, "IPv6"
	}
	for _, pool := range pools {
		for p := range subnetsOf(pool) {
			if s.overlapsNetwork(p) || (inUse != nil && inUse(p)) {
				continue
			}
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("could not find an available, non-overlapping %s address pool among the defaults to assign to the network: %w", family, errdefs.ErrConflict)
}

func (s *Store) overlapsNetwork(p netip.Prefix) bool {
	for _, n := range s.nets {
		if n.Subnet.Overlaps(p) {
			return true
		}
	}
	return false
}

// subnetsOf yields the subnets of pool, in address order.
func subnetsOf(pool Pool) func(yield func(netip.Prefix) bool) {
	return func(yield func(netip.Prefix) bool) {
		base := pool.Base.Masked()
		if pool.Size < base.Bits() || pool.Size > base.Addr().BitLen() {
			return
		}
		last := lastAddr(base)
		for a := base.Addr(); ; {
			p := netip.PrefixFrom(a, pool.Size)
			if !yield(p) {
				return
			}
			end := lastAddr(p)
			if end == last {
				return
			}
			a = end.Next()
		}
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// validSubnet checks an explicit subnet, with Docker's wording.
func validSubnet(p netip.Prefix) error {
	a := p.Addr()
	if a.Is4In6() || a.Zone() != "" {
		return fmt.Errorf("invalid subnet %s: invalid CIDR block notation: %w", p, errdefs.ErrInvalidArgument)
	}
	if p != p.Masked() {
		return fmt.Errorf("invalid subnet %s: it should be %s: %w", p, p.Masked(), errdefs.ErrInvalidArgument)
	}
	// Room for the network address, the gateway, one container and (IPv4)
	// the broadcast address.
	if a.BitLen()-p.Bits() < 2 {
		return fmt.Errorf("invalid subnet %s: too small, the prefix must be at most /%d: %w", p, a.BitLen()-2, errdefs.ErrInvalidArgument)
	}
	return nil
}

// validRange checks an ip-range (zero is fine) against its subnet.
func validRange(r, subnet netip.Prefix) error {
	if !r.IsValid() {
		return nil
	}
	if r.Addr().Is4() != subnet.Addr().Is4() || r.Addr().Is4In6() {
		return fmt.Errorf("invalid ip-range %s: parent subnet is an %s block: %w", r, family(subnet.Addr()), errdefs.ErrInvalidArgument)
	}
	if r.Bits() < subnet.Bits() {
		return fmt.Errorf("invalid ip-range %s: CIDR block is bigger than its parent subnet %s: %w", r, subnet, errdefs.ErrInvalidArgument)
	}
	if r != r.Masked() {
		return fmt.Errorf("invalid ip-range %s: it should be %s: %w", r, r.Masked(), errdefs.ErrInvalidArgument)
	}
	if !subnet.Overlaps(r) {
		return fmt.Errorf("invalid ip-range %s: parent subnet %s doesn't contain ip-range: %w", r, subnet, errdefs.ErrInvalidArgument)
	}
	return nil
}

// validGateway checks an explicit gateway against its subnet.
func validGateway(gw netip.Addr, subnet netip.Prefix) error {
	if gw.Is4() != subnet.Addr().Is4() || gw.Is4In6() {
		return fmt.Errorf("invalid gateway %s: parent subnet is an %s block: %w", gw, family(subnet.Addr()), errdefs.ErrInvalidArgument)
	}
	if !subnet.Contains(gw) {
		return fmt.Errorf("invalid gateway %s: parent subnet %s doesn't contain this address: %w", gw, subnet, errdefs.ErrInvalidArgument)
	}
	if why := reservedWhy(gw, subnet); why != "" {
		return fmt.Errorf("invalid gateway %s: it is the %s of subnet %s: %w", gw, why, subnet, errdefs.ErrInvalidArgument)
	}
	return nil
}

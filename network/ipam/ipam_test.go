package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/errdefs"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ipam.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func mustAdd(t *testing.T, s *Store, name string, spec NetworkSpec) *Network {
	t.Helper()
	n, err := s.AddNetwork(name, spec, nil)
	if err != nil {
		t.Fatalf("AddNetwork(%s, %+v): %v", name, spec, err)
	}
	return n
}

func mustAlloc(t *testing.T, s *Store, network, owner string) netip.Addr {
	t.Helper()
	ip, err := s.Allocate(network, owner, netip.Addr{})
	if err != nil {
		t.Fatalf("Allocate(%s, %s): %v", network, owner, err)
	}
	return ip
}

func TestDefaultPools(t *testing.T) {
	pools := DefaultPools()
	if len(pools) != 16 {
		t.Fatalf("%d pools, want 15 /16s and one pool of /20s", len(pools))
	}
	for i, p := range pools[:15] {
		want := Pool{Base: pfx(fmt.Sprintf("172.%d.0.0/16", 17+i)), Size: 16}
		if p != want {
			t.Errorf("pool %d = %+v, want %+v", i, p, want)
		}
	}
	if want := (Pool{Base: pfx("192.168.0.0/16"), Size: 20}); pools[15] != want {
		t.Errorf("last pool = %+v, want %+v", pools[15], want)
	}
	var n int
	for range subnetsOf(pools[15]) {
		n++
	}
	if n != 16 {
		t.Errorf("192.168.0.0/16 yields %d /20s, want 16", n)
	}
}

func TestPickSubnet(t *testing.T) {
	all172 := pfx("172.16.0.0/12")
	tests := []struct {
		name     string
		existing []netip.Prefix // explicit subnets of networks created first
		inUse    []netip.Prefix // host routes
		want     string
		wantErr  string
	}{
		{name: "first pool", want: "172.17.0.0/16"},
		{name: "docker0 routed", inUse: []netip.Prefix{pfx("172.17.0.0/16")}, want: "172.18.0.0/16"},
		{name: "host route inside a pool", inUse: []netip.Prefix{pfx("172.17.3.0/24")}, want: "172.18.0.0/16"},
		{name: "network holds the first pool", existing: []netip.Prefix{pfx("172.17.0.0/16")}, want: "172.18.0.0/16"},
		{name: "network holds part of a pool", existing: []netip.Prefix{pfx("172.17.5.0/24")}, want: "172.18.0.0/16"},
		{name: "both", existing: []netip.Prefix{pfx("172.18.0.0/16")}, inUse: []netip.Prefix{pfx("172.17.0.0/16")}, want: "172.19.0.0/16"},
		{name: "network covers several pools", existing: []netip.Prefix{pfx("172.16.0.0/14")}, want: "172.20.0.0/16"},
		{name: "all of 172.16/12 routed", inUse: []netip.Prefix{all172}, want: "192.168.0.0/20"},
		{name: "a /24 in 192.168.0/20", inUse: []netip.Prefix{all172}, existing: []netip.Prefix{pfx("192.168.1.0/24")}, want: "192.168.16.0/20"},
		{name: "everything routed", inUse: []netip.Prefix{pfx("0.0.0.0/0")},
			wantErr: "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"},
		{name: "an IPv6 network does not count", existing: []netip.Prefix{pfx("fd00::/8")}, want: "172.17.0.0/16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			for i, p := range tt.existing {
				mustAdd(t, s, fmt.Sprintf("existing%d", i), NetworkSpec{Subnet: p})
			}
			var asked []netip.Prefix
			inUse := func(p netip.Prefix) bool {
				asked = append(asked, p)
				for _, r := range tt.inUse {
					if r.Overlaps(p) {
						return true
					}
				}
				return false
			}
			n, err := s.AddNetwork("new", NetworkSpec{}, inUse)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errdefs.ErrConflict) {
					t.Fatalf("err = %v, want a conflict %q", err, tt.wantErr)
				}
				if _, ok := s.Network("new"); ok {
					t.Fatal("a failed AddNetwork left a network")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Subnet.String() != tt.want {
				t.Errorf("subnet %s, want %s", n.Subnet, tt.want)
			}
			if want := n.Subnet.Addr().Next(); n.Gateway != want {
				t.Errorf("gateway %s, want %s", n.Gateway, want)
			}
			for _, p := range asked {
				if p.Bits() != 16 && p.Bits() != 20 {
					t.Errorf("inUse asked about %s, not a pool-sized subnet", p)
				}
			}
		})
	}
}

func TestPoolsExhausted(t *testing.T) {
	s, _ := openTemp(t)
	var got []string
	for i := range 31 {
		n, err := s.AddNetwork(fmt.Sprintf("n%d", i), NetworkSpec{}, nil)
		if err != nil {
			t.Fatalf("network %d: %v", i, err)
		}
		got = append(got, n.Subnet.String())
	}
	if got[0] != "172.17.0.0/16" || got[14] != "172.31.0.0/16" || got[15] != "192.168.0.0/20" || got[30] != "192.168.240.0/20" {
		t.Errorf("subnets in order: %v", got)
	}
	_, err := s.AddNetwork("one-too-many", NetworkSpec{}, nil)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "could not find an available, non-overlapping IPv4 address pool") {
		t.Fatalf("32nd network: %v", err)
	}
	// Removing a network frees its pool for the next one.
	if err := s.RemoveNetwork("n3"); err != nil {
		t.Fatal(err)
	}
	n := mustAdd(t, s, "again", NetworkSpec{})
	if n.Subnet != pfx("172.20.0.0/16") {
		t.Errorf("after removing n3: %s, want 172.20.0.0/16", n.Subnet)
	}
}

func TestAddNetworkSpec(t *testing.T) {
	tests := []struct {
		name          string
		spec          NetworkSpec
		gateway       string
		firstAddress  string
		explicitHosts bool // inUse claims every prefix: an explicit subnet ignores it
	}{
		{name: "subnet", spec: NetworkSpec{Subnet: pfx("10.1.0.0/24")}, gateway: "10.1.0.1", firstAddress: "10.1.0.2"},
		{name: "subnet routed on the host", spec: NetworkSpec{Subnet: pfx("10.1.0.0/24")}, gateway: "10.1.0.1", firstAddress: "10.1.0.2", explicitHosts: true},
		{name: "gateway", spec: NetworkSpec{Subnet: pfx("10.1.0.0/24"), Gateway: addr("10.1.0.254")}, gateway: "10.1.0.254", firstAddress: "10.1.0.1"},
		{name: "ip-range", spec: NetworkSpec{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.5.0/24")}, gateway: "10.1.5.0", firstAddress: "10.1.5.1"},
		{name: "ip-range at the start", spec: NetworkSpec{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.0.0/24")}, gateway: "10.1.0.1", firstAddress: "10.1.0.2"},
		{name: "ip-range and gateway", spec: NetworkSpec{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.5.0/24"), Gateway: addr("10.1.0.1")}, gateway: "10.1.0.1", firstAddress: "10.1.5.0"},
		{name: "ip-range is the subnet", spec: NetworkSpec{Subnet: pfx("10.1.0.0/24"), IPRange: pfx("10.1.0.0/24")}, gateway: "10.1.0.1", firstAddress: "10.1.0.2"},
		{name: "smallest IPv4", spec: NetworkSpec{Subnet: pfx("10.1.0.0/30")}, gateway: "10.1.0.1", firstAddress: "10.1.0.2"},
		{name: "IPv6", spec: NetworkSpec{Subnet: pfx("fd00:db8::/64")}, gateway: "fd00:db8::1", firstAddress: "fd00:db8::2"},
		{name: "IPv6 gateway", spec: NetworkSpec{Subnet: pfx("fd00:db8::/64"), Gateway: addr("fd00:db8::ffff")}, gateway: "fd00:db8::ffff", firstAddress: "fd00:db8::1"},
		{name: "IPv6 ip-range", spec: NetworkSpec{Subnet: pfx("fd00:db8::/64"), IPRange: pfx("fd00:db8::100/120")}, gateway: "fd00:db8::100", firstAddress: "fd00:db8::101"},
		{name: "smallest IPv6", spec: NetworkSpec{Subnet: pfx("fd00:db8::/126")}, gateway: "fd00:db8::1", firstAddress: "fd00:db8::2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			inUse := func(netip.Prefix) bool { return tt.explicitHosts }
			n, err := s.AddNetwork("net", tt.spec, inUse)
			if err != nil {
				t.Fatal(err)
			}
			want := &Network{Name: "net", Subnet: tt.spec.Subnet, IPRange: tt.spec.IPRange, Gateway: addr(tt.gateway), Allocated: map[netip.Addr]string{}}
			if !reflect.DeepEqual(n, want) {
				t.Errorf("got %+v, want %+v", n, want)
			}
			if got, _ := s.Network("net"); !reflect.DeepEqual(got, want) {
				t.Errorf("Network() = %+v, want %+v", got, want)
			}
			if ip := mustAlloc(t, s, "net", "c1"); ip != addr(tt.firstAddress) {
				t.Errorf("first address %s, want %s", ip, tt.firstAddress)
			}
		})
	}
}

func TestAddNetworkErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  NetworkSpec
		class error
		msg   string
	}{
		{"overlaps a network", NetworkSpec{Subnet: pfx("10.0.128.0/17")}, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{"inside a network", NetworkSpec{Subnet: pfx("10.0.5.0/24")}, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{"contains a network", NetworkSpec{Subnet: pfx("10.0.0.0/8")}, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{"same subnet", NetworkSpec{Subnet: pfx("10.0.0.0/16")}, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{"overlaps an IPv6 network", NetworkSpec{Subnet: pfx("fd00:db8::/48")}, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{"host bits", NetworkSpec{Subnet: pfx("172.20.0.1/16")}, errdefs.ErrInvalidArgument, "invalid subnet 172.20.0.1/16: it should be 172.20.0.0/16"},
		{"IPv6 host bits", NetworkSpec{Subnet: pfx("fd01::1/64")}, errdefs.ErrInvalidArgument, "invalid subnet fd01::1/64: it should be fd01::/64"},
		{"a /31", NetworkSpec{Subnet: pfx("172.20.0.0/31")}, errdefs.ErrInvalidArgument, "invalid subnet 172.20.0.0/31: too small"},
		{"a /32", NetworkSpec{Subnet: pfx("172.20.0.1/32")}, errdefs.ErrInvalidArgument, "invalid subnet 172.20.0.1/32: too small"},
		{"a /127", NetworkSpec{Subnet: pfx("fd01::/127")}, errdefs.ErrInvalidArgument, "invalid subnet fd01::/127: too small"},
		{"mapped IPv4", NetworkSpec{Subnet: pfx("::ffff:172.20.0.0/112")}, errdefs.ErrInvalidArgument, "invalid CIDR block notation"},
		{"gateway outside", NetworkSpec{Subnet: pfx("172.20.0.0/16"), Gateway: addr("172.21.0.1")}, errdefs.ErrInvalidArgument,
			"invalid gateway 172.21.0.1: parent subnet 172.20.0.0/16 doesn't contain this address"},
		{"gateway of the other family", NetworkSpec{Subnet: pfx("172.20.0.0/16"), Gateway: addr("fd01::1")}, errdefs.ErrInvalidArgument,
			"invalid gateway fd01::1: parent subnet is an IPv4 block"},
		{"gateway is the network address", NetworkSpec{Subnet: pfx("172.20.0.0/16"), Gateway: addr("172.20.0.0")}, errdefs.ErrInvalidArgument,
			"invalid gateway 172.20.0.0: it is the network address"},
		{"gateway is the broadcast address", NetworkSpec{Subnet: pfx("172.20.0.0/16"), Gateway: addr("172.20.255.255")}, errdefs.ErrInvalidArgument,
			"invalid gateway 172.20.255.255: it is the broadcast address"},
		{"ip-range outside", NetworkSpec{Subnet: pfx("172.20.0.0/16"), IPRange: pfx("172.21.0.0/24")}, errdefs.ErrInvalidArgument,
			"invalid ip-range 172.21.0.0/24: parent subnet 172.20.0.0/16 doesn't contain ip-range"},
		{"ip-range bigger", NetworkSpec{Subnet: pfx("172.20.0.0/16"), IPRange: pfx("172.20.0.0/15")}, errdefs.ErrInvalidArgument,
			"invalid ip-range 172.20.0.0/15: CIDR block is bigger than its parent subnet 172.20.0.0/16"},
		{"ip-range host bits", NetworkSpec{Subnet: pfx("172.20.0.0/16"), IPRange: pfx("172.20.1.1/24")}, errdefs.ErrInvalidArgument,
			"invalid ip-range 172.20.1.1/24: it should be 172.20.1.0/24"},
		{"ip-range of the other family", NetworkSpec{Subnet: pfx("172.20.0.0/16"), IPRange: pfx("fd01::/64")}, errdefs.ErrInvalidArgument,
			"invalid ip-range fd01::/64: parent subnet is an IPv4 block"},
		{"ip-range without subnet", NetworkSpec{IPRange: pfx("172.20.0.0/24")}, errdefs.ErrInvalidArgument, "needs a subnet"},
		{"gateway without subnet", NetworkSpec{Gateway: addr("172.20.0.1")}, errdefs.ErrInvalidArgument, "needs a subnet"},
		{"ip-range with no room for a gateway", NetworkSpec{Subnet: pfx("172.20.0.0/16"), IPRange: pfx("172.20.0.0/32")}, errdefs.ErrInvalidArgument,
			"has no address for a gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t)
			mustAdd(t, s, "existing", NetworkSpec{Subnet: pfx("10.0.0.0/16")})
			mustAdd(t, s, "existing6", NetworkSpec{Subnet: pfx("fd00:db8::/64")})
			before, _ := os.ReadFile(path)
			_, err := s.AddNetwork("new", tt.spec, nil)
			if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.msg)
			}
			if _, ok := s.Network("new"); ok {
				t.Error("the network was recorded")
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("the state file changed")
			}
		})
	}

	t.Run("duplicate name", func(t *testing.T) {
		s, _ := openTemp(t)
		mustAdd(t, s, "dup", NetworkSpec{})
		_, err := s.AddNetwork("dup", NetworkSpec{Subnet: pfx("10.9.0.0/16")}, nil)
		if !errors.Is(err, errdefs.ErrAlreadyExists) || !strings.Contains(err.Error(), "network with name dup already exists") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty name", func(t *testing.T) {
		s, _ := openTemp(t)
		if _, err := s.AddNetwork("", NetworkSpec{}, nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRemoveNetwork(t *testing.T) {
	s, _ := openTemp(t)
	mustAdd(t, s, "n", NetworkSpec{})
	ip := mustAlloc(t, s, "n", "c1")
	if err := s.RemoveNetwork("n"); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "has active endpoints") {
		t.Fatalf("removing a network in use: %v", err)
	}
	if err := s.Release("n", ip); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveNetwork("n"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Network("n"); ok {
		t.Fatal("still there")
	}
	if err := s.RemoveNetwork("n"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("removing it twice: %v", err)
	}
	// Its subnet is free again.
	if n := mustAdd(t, s, "m", NetworkSpec{}); n.Subnet != pfx("172.17.0.0/16") {
		t.Fatalf("subnet %s", n.Subnet)
	}
}

// TestAllocationOrder runs scripts of allocations and releases.
func TestAllocationOrder(t *testing.T) {
	tests := []struct {
		name   string
		spec   NetworkSpec
		script []string // "+" allocates, "-ADDR" releases
		want   []string // the addresses the "+" steps got, "full" for exhaustion
	}{
		{
			name:   "skips network, gateway and broadcast",
			spec:   NetworkSpec{Subnet: pfx("10.0.0.0/29")},
			script: []string{"+", "+", "+", "+", "+", "+"},
			want:   []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "full"},
		},
		{
			name:   "round-robin: a released address waits for the wrap-around",
			spec:   NetworkSpec{Subnet: pfx("10.0.0.0/29")},
			script: []string{"+", "+", "+", "-10.0.0.3", "+", "+", "+", "+"},
			want:   []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.3", "full"},
		},
		{
			name:   "wrap-around after release of the first",
			spec:   NetworkSpec{Subnet: pfx("10.0.0.0/29")},
			script: []string{"+", "+", "+", "+", "+", "-10.0.0.2", "-10.0.0.5", "+", "+", "+"},
			want:   []string{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.5", "full"},
		},
		{
			name:   "gateway in the middle",
			spec:   NetworkSpec{Subnet: pfx("10.0.0.0/29"), Gateway: addr("10.0.0.3")},
			script: []string{"+", "+", "+", "+", "+", "+"},
			want:   []string{"10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6", "full"},
		},
		{
			name:   "ip-range at the end of the subnet skips the broadcast",
			spec:   NetworkSpec{Subnet: pfx("10.0.0.0/24"), IPRange: pfx("10.0.0.248/29")},
			script: []string{"+", "+", "+", "+", "+", "+", "+", "-10.0.0.250", "+"},
			want:   []string{"10.0.0.249", "10.0.0.250", "10.0.0.251", "10.0.0.252", "10.0.0.253", "10.0.0.254", "full", "10.0.0.250"},
		},
		{
			name:   "IPv6 has no broadcast",
			spec:   NetworkSpec{Subnet: pfx("fd00:db8::/126")},
			script: []string{"+", "+", "+"},
			want:   []string{"fd00:db8::2", "fd00:db8::3", "full"},
		},
		{
			name:   "IPv6 round-robin",
			spec:   NetworkSpec{Subnet: pfx("fd00:db8::/125")},
			script: []string{"+", "+", "-fd00:db8::2", "+", "+", "+", "+", "+", "+"},
			want:   []string{"fd00:db8::2", "fd00:db8::3", "fd00:db8::4", "fd00:db8::5", "fd00:db8::6", "fd00:db8::7", "fd00:db8::2", "full"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			mustAdd(t, s, "net", tt.spec)
			var got []string
			for i, step := range tt.script {
				if step == "+" {
					ip, err := s.Allocate("net", fmt.Sprintf("c%d", i), netip.Addr{})
					switch {
					case err == nil:
						got = append(got, ip.String())
					case errors.Is(err, errdefs.ErrConflict) && strings.Contains(err.Error(), "no available IPv"):
						got = append(got, "full")
					default:
						t.Fatalf("step %d: %v", i, err)
					}
					continue
				}
				if err := s.Release("net", addr(step[1:])); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestAllocateExplicit(t *testing.T) {
	tests := []struct {
		name    string
		network string
		want    netip.Addr
		class   error
		msg     string
	}{
		{name: "free, in the ip-range", network: "ranged", want: addr("10.0.1.7")},
		{name: "free, in the subnet", network: "plain", want: addr("10.1.0.200")},
		{name: "mapped IPv4 is unmapped", network: "plain", want: addr("::ffff:10.1.0.201")},
		{name: "IPv6, the last of a /64", network: "six", want: addr("fd00:db8::ffff:ffff:ffff:ffff")},
		{name: "taken", network: "plain", want: addr("10.1.0.2"), class: errdefs.ErrConflict, msg: "Address already in use"},
		{name: "the gateway", network: "plain", want: addr("10.1.0.1"), class: errdefs.ErrConflict, msg: "Address already in use"},
		{name: "the network address", network: "plain", want: addr("10.1.0.0"), class: errdefs.ErrInvalidArgument, msg: "is the network address"},
		{name: "the broadcast address", network: "plain", want: addr("10.1.0.255"), class: errdefs.ErrInvalidArgument, msg: "is the broadcast address"},
		{name: "the IPv6 subnet-router anycast address", network: "six", want: addr("fd00:db8::"), class: errdefs.ErrInvalidArgument, msg: "is the network address"},
		{name: "outside the subnet", network: "plain", want: addr("10.2.0.5"), class: errdefs.ErrInvalidArgument,
			msg: "no configured subnet or ip-range contain the IP address 10.2.0.5"},
		{name: "in the subnet, outside the ip-range", network: "ranged", want: addr("10.0.2.7"), class: errdefs.ErrInvalidArgument,
			msg: "no configured subnet or ip-range contain the IP address 10.0.2.7"},
		{name: "the other family", network: "plain", want: addr("fd00:db8::5"), class: errdefs.ErrInvalidArgument,
			msg: "no configured subnet or ip-range contain the IP address fd00:db8::5"},
		{name: "unknown network", network: "nope", want: addr("10.1.0.5"), class: errdefs.ErrNotFound, msg: "network nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			mustAdd(t, s, "plain", NetworkSpec{Subnet: pfx("10.1.0.0/24")})
			mustAdd(t, s, "ranged", NetworkSpec{Subnet: pfx("10.0.0.0/16"), IPRange: pfx("10.0.1.0/24"), Gateway: addr("10.0.0.1")})
			mustAdd(t, s, "six", NetworkSpec{Subnet: pfx("fd00:db8::/64")})
			first := mustAlloc(t, s, "plain", "c0") // 10.1.0.2
			got, err := s.Allocate(tt.network, "c1", tt.want)
			if tt.class != nil {
				if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.class, tt.msg)
				}
				if n, ok := s.Network(tt.network); ok && len(n.Allocated) > map[bool]int{true: 1}[tt.network == "plain"] {
					t.Errorf("a failed Allocate recorded an address: %v", n.Allocated)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want.Unmap() {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			n, _ := s.Network(tt.network)
			if n.Allocated[got] != "c1" {
				t.Errorf("allocated: %v", n.Allocated)
			}
			// An explicit address does not move the round-robin cursor.
			if tt.network == "plain" {
				if next := mustAlloc(t, s, "plain", "c2"); next != first.Next() {
					t.Errorf("next automatic address %s, want %s", next, first.Next())
				}
			}
		})
	}
	t.Run("no owner", func(t *testing.T) {
		s, _ := openTemp(t)
		mustAdd(t, s, "n", NetworkSpec{})
		if _, err := s.Allocate("n", "", netip.Addr{}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRelease(t *testing.T) {
	s, _ := openTemp(t)
	mustAdd(t, s, "a", NetworkSpec{Subnet: pfx("10.1.0.0/24")})
	mustAdd(t, s, "b", NetworkSpec{Subnet: pfx("fd00:db8::/64")})
	a1 := mustAlloc(t, s, "a", "c1")
	a2 := mustAlloc(t, s, "a", "c2")
	mustAlloc(t, s, "b", "c1")
	if err := s.Release("a", a2); err != nil {
		t.Fatal(err)
	}
	if err := s.Release("a", a2); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("releasing twice: %v", err)
	}
	if err := s.Release("a", addr("10.1.0.1")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("releasing the gateway: %v", err)
	}
	if err := s.Release("zzz", a1); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown network: %v", err)
	}
	if err := s.ReleaseOwner("nobody"); err != nil {
		t.Error(err)
	}
	if err := s.ReleaseOwner("c1"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if n, _ := s.Network(name); len(n.Allocated) != 0 {
			t.Errorf("%s still holds %v", name, n.Allocated)
		}
	}
}

// TestNoReuse allocates and releases at random and checks that no address is
// ever handed out while it is still allocated.
func TestNoReuse(t *testing.T) {
	s, _ := openTemp(t)
	mustAdd(t, s, "n", NetworkSpec{Subnet: pfx("10.0.0.0/27")})
	live := map[netip.Addr]bool{}
	seed := uint32(1)
	rnd := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % n }
	for i := range 2000 {
		if len(live) > 0 && rnd(3) == 0 {
			for ip := range live {
				if err := s.Release("n", ip); err != nil {
					t.Fatal(err)
				}
				delete(live, ip)
				break
			}
			continue
		}
		ip, err := s.Allocate("n", fmt.Sprint(i), netip.Addr{})
		if err != nil {
			if len(live) != 29 { // 32 - network - gateway - broadcast
				t.Fatalf("step %d with %d live: %v", i, len(live), err)
			}
			continue
		}
		if live[ip] {
			t.Fatalf("step %d: %s handed out twice", i, ip)
		}
		live[ip] = true
	}
}

func TestPersistence(t *testing.T) {
	s, path := openTemp(t)
	mustAdd(t, s, "auto", NetworkSpec{})
	mustAdd(t, s, "ranged", NetworkSpec{Subnet: pfx("10.5.0.0/16"), IPRange: pfx("10.5.1.0/24"), Gateway: addr("10.5.0.1")})
	mustAdd(t, s, "six", NetworkSpec{Subnet: pfx("fd00:db8::/64")})
	mustAdd(t, s, "gone", NetworkSpec{})
	for i := range 5 {
		mustAlloc(t, s, "auto", fmt.Sprint("c", i))
	}
	if err := s.Release("auto", addr("172.17.0.3")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocate("ranged", "c9", addr("10.5.1.77")); err != nil {
		t.Fatal(err)
	}
	mustAlloc(t, s, "six", "c1")
	if err := s.RemoveNetwork("gone"); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Networks(), s2.Networks()) {
		t.Fatalf("reopened:\n%+v\nwant\n%+v", s2.Networks(), s.Networks())
	}
	if len(s2.Networks()) != 3 {
		t.Fatalf("%d networks", len(s2.Networks()))
	}
	// The round-robin cursor survives too: .7 next, not the released .3.
	if ip := mustAlloc(t, s2, "auto", "c10"); ip != addr("172.17.0.7") {
		t.Errorf("after reopening, next address %s, want 172.17.0.7", ip)
	}
	// Subnets held by the reopened networks are not handed out again.
	if n := mustAdd(t, s2, "more", NetworkSpec{}); n.Subnet != pfx("172.18.0.0/16") {
		t.Errorf("new network after reopening: %s", n.Subnet)
	}
}

func TestAtomicWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	path := filepath.Join(dir, "ipam.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Open created the file: %v", err)
	}
	mustAdd(t, s, "n", NetworkSpec{})
	for i := range 10 {
		mustAlloc(t, s, "n", fmt.Sprint(i))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "ipam.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only ipam.json", names)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// A write that fails changes nothing, in memory or on disk, and leaves
	// no temporary file: make the rename fail by putting a directory in the
	// state file's place.
	before, _ := os.ReadFile(path)
	blocked := filepath.Join(t.TempDir(), "ipam.json")
	if err := os.WriteFile(blocked, before, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(blocked)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(blocked)
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	want, _ := s2.Network("n")
	if _, err := s2.Allocate("n", "late", netip.Addr{}); err == nil || !strings.Contains(err.Error(), blocked) {
		t.Fatalf("allocate with an unwritable state file: %v", err)
	}
	if _, err := s2.AddNetwork("m", NetworkSpec{}, nil); err == nil {
		t.Fatal("AddNetwork with an unwritable state file succeeded")
	}
	if got, _ := s2.Network("n"); !reflect.DeepEqual(got, want) {
		t.Errorf("a failed write changed the network: %v", got.Allocated)
	}
	if _, ok := s2.Network("m"); ok {
		t.Error("a failed write added a network")
	}
	entries, _ = os.ReadDir(filepath.Dir(blocked))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %d entries", len(entries))
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		content string
		msg     string
	}{
		{"garbage", "{not json", "is corrupt"},
		{"truncated", `{"version":1,"networks":[{"name":"n"`, "is corrupt"},
		{"unknown field", `{"version":1,"networks":[],"extra":1}`, "is corrupt"},
		{"bad address", `{"version":1,"networks":[{"name":"n","subnet":"10.0.0.0/24","gateway":"10.0.0.300"}]}`, "is corrupt"},
		{"host bits", `{"version":1,"networks":[{"name":"n","subnet":"10.0.0.1/24","gateway":"10.0.0.1"}]}`, "is corrupt"},
		{"address outside", `{"version":1,"networks":[{"name":"n","subnet":"10.0.0.0/24","gateway":"10.0.0.1","allocated":{"10.0.1.1":"c"}}]}`, "is corrupt"},
		{"twice", `{"version":1,"networks":[{"name":"n","subnet":"10.0.0.0/24","gateway":"10.0.0.1"},{"name":"n","subnet":"10.0.1.0/24","gateway":"10.0.1.1"}]}`, "listed twice"},
		{"version", `{"version":2,"networks":[]}`, "version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ipam.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want one naming %s and saying %q", err, path, tt.msg)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		s, _ := openTemp(t)
		if len(s.Networks()) != 0 {
			t.Fatal("not empty")
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if _, err := Open(t.TempDir()); err == nil {
			t.Fatal("opened a directory")
		}
	})
}

func TestConcurrent(t *testing.T) {
	s, path := openTemp(t)
	mustAdd(t, s, "a", NetworkSpec{Subnet: pfx("10.0.0.0/22")})
	mustAdd(t, s, "b", NetworkSpec{Subnet: pfx("fd00:db8::/64")})
	const workers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("w", w)
			for i := range each {
				net := []string{"a", "b"}[i%2]
				ip, err := s.Allocate(net, owner, netip.Addr{})
				if err != nil {
					errs <- err
					return
				}
				if i%4 == 0 {
					if err := s.Release(net, ip); err != nil {
						errs <- err
						return
					}
				}
				if _, ok := s.Network(net); !ok {
					errs <- fmt.Errorf("network %s vanished", net)
					return
				}
			}
			if w%2 == 0 {
				if err := s.ReleaseOwner(owner); err != nil {
					errs <- err
				}
			}
		}()
	}
	// Networks come and go meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 10 {
			name := fmt.Sprint("extra", i)
			if _, err := s.AddNetwork(name, NetworkSpec{}, nil); err != nil {
				errs <- err
				return
			}
			if err := s.RemoveNetwork(name); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	count := map[string]int{}
	for _, name := range []string{"a", "b"} {
		n, _ := s.Network(name)
		for ip, owner := range n.Allocated {
			if seen[ip] {
				t.Fatalf("%s allocated twice", ip)
			}
			seen[ip] = true
			count[owner]++
		}
	}
	for w := range workers {
		owner := fmt.Sprint("w", w)
		want := each * 3 / 4
		if w%2 == 0 {
			want = 0
		}
		if count[owner] != want {
			t.Errorf("%s holds %d addresses, want %d", owner, count[owner], want)
		}
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Networks(), s2.Networks()) {
		t.Error("the state file differs from memory")
	}
}

func TestDefaultPool6(t *testing.T) {
	s, _ := openTemp(t)
	a := mustAdd(t, s, "a/6", NetworkSpec{IPv6: true})
	b := mustAdd(t, s, "b/6", NetworkSpec{IPv6: true})
	if a.Subnet != pfx("fd42:b3e7:c0de::/64") || a.Gateway != addr("fd42:b3e7:c0de::1") {
		t.Errorf("first IPv6 network: %s gateway %s", a.Subnet, a.Gateway)
	}
	if b.Subnet != pfx("fd42:b3e7:c0de:1::/64") {
		t.Errorf("second IPv6 network: %s", b.Subnet)
	}
	// An IPv4 network without a subnet still comes from the IPv4 pools.
	if c := mustAdd(t, s, "c", NetworkSpec{}); !c.Subnet.Addr().Is4() {
		t.Errorf("IPv4 network got %s", c.Subnet)
	}
	if ip := mustAlloc(t, s, "a/6", "x"); !a.Subnet.Contains(ip) || ip == a.Gateway {
		t.Errorf("address on the IPv6 network: %s", ip)
	}
}

package nat_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/network/nat"
)

func TestPortString(t *testing.T) {
	for _, tc := range []struct {
		p    nat.Port
		want string
	}{
		{nat.Port{Proto: "tcp", HostPort: 80, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 8080}, "80->10.0.0.2:8080/tcp"},
		{nat.Port{Proto: "udp", HostIP: netip.IPv4Unspecified(), HostPort: 53, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 53}, "53->10.0.0.2:53/udp"},
		{nat.Port{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 80, ContainerIP: netip.MustParseAddr("fd00::2"), ContainerPort: 80}, "[::1]:80->[fd00::2]:80/tcp"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.p, got, tc.want)
		}
	}
}

// Bad states are refused before anything reaches the kernel, so these run
// without root: a handle on the current namespace is never used.
func TestApplyValidates(t *testing.T) {
	net4 := nat.Network{Bridge: "br0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}
	port := func(f func(*nat.Port)) nat.State {
		p := nat.Port{Proto: "tcp", HostPort: 80, ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 80, Bridge: "br0"}
		f(&p)
		return nat.State{Networks: []nat.Network{net4}, Ports: []nat.Port{p}}
	}
	for name, tc := range map[string]struct {
		s    nat.State
		want error
	}{
		"proto":           {port(func(p *nat.Port) { p.Proto = "sctp" }), errdefs.ErrInvalidArgument},
		"empty proto":     {port(func(p *nat.Port) { p.Proto = "" }), errdefs.ErrInvalidArgument},
		"host port 0":     {port(func(p *nat.Port) { p.HostPort = 0 }), errdefs.ErrInvalidArgument},
		"container port0": {port(func(p *nat.Port) { p.ContainerPort = 0 }), errdefs.ErrInvalidArgument},
		"no container ip": {port(func(p *nat.Port) { p.ContainerIP = netip.Addr{} }), errdefs.ErrInvalidArgument},
		"unspecified ip":  {port(func(p *nat.Port) { p.ContainerIP = netip.IPv4Unspecified() }), errdefs.ErrInvalidArgument},
		"families":        {port(func(p *nat.Port) { p.HostIP = netip.MustParseAddr("fd00::1") }), errdefs.ErrInvalidArgument},
		"unknown bridge":  {port(func(p *nat.Port) { p.Bridge = "br9" }), errdefs.ErrInvalidArgument},
		"bad bridge":      {nat.State{Networks: []nat.Network{{Bridge: "a-name-much-too-long"}}}, errdefs.ErrInvalidArgument},
		"slash bridge":    {nat.State{Networks: []nat.Network{{Bridge: "a/b"}}}, errdefs.ErrInvalidArgument},
		"twice":           {nat.State{Networks: []nat.Network{net4, net4}}, errdefs.ErrInvalidArgument},
		"unmasked subnet": {nat.State{Networks: []nat.Network{{Bridge: "br0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}}}, errdefs.ErrInvalidArgument},
		"conflict": {func() nat.State {
			s := port(func(*nat.Port) {})
			q := s.Ports[0]
			q.HostIP, q.ContainerIP = netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("10.0.0.3")
			s.Ports = append(s.Ports, q)
			return s
		}(), errdefs.ErrConflict},
	} {
		t.Run(name, func(t *testing.T) {
			tbl, err := nat.Open(nat.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tbl.Close()
			if err := tbl.Apply(tc.s); !errors.Is(err, tc.want) {
				t.Errorf("Apply: %v, want %v", err, tc.want)
			}
		})
	}
}

// Ports on the same host port that cannot catch the same packets are fine:
// different protocols, different host addresses, different families.
func TestNoConflict(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	tbl := open(t, n)
	c4, c6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")
	s := nat.State{
		Networks: []nat.Network{{Bridge: "br0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}}},
		Ports: []nat.Port{
			{Proto: "tcp", HostPort: 80, ContainerIP: c4, ContainerPort: 80, Bridge: "br0"},
			{Proto: "udp", HostPort: 80, ContainerIP: c4, ContainerPort: 80, Bridge: "br0"},
			{Proto: "tcp", HostPort: 80, ContainerIP: c6, ContainerPort: 80, Bridge: "br0"},
			{Proto: "tcp", HostIP: netip.MustParseAddr("10.9.9.9"), HostPort: 81, ContainerIP: c4, ContainerPort: 80, Bridge: "br0"},
			{Proto: "tcp", HostIP: netip.MustParseAddr("10.9.9.8"), HostPort: 81, ContainerIP: c4, ContainerPort: 81, Bridge: "br0"},
		},
	}
	if err := tbl.Apply(s); err != nil {
		t.Fatal(err)
	}
}

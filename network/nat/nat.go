// Package nat owns berth's packet filtering and address translation: one
// nftables table (family inet, named "berth" by default) holding the
// masquerade of containers' outbound traffic, the DNAT of published ports
// (from other hosts, from the host's own loopback and from containers:
// hairpin), the isolation of berth's bridges from each other and the
// closing of --internal networks.
//
// Berth never touches anyone else's rules: Apply replaces berth's own table
// as a whole, in one atomic netlink batch ("add table; delete table; add
// table and everything in it"), so other tables (iptables-nft's, firewalld's,
// an admin's) are neither flushed nor reordered. The state is declarative:
// the caller (the daemon's network manager) passes everything it wants
// published, and calls Apply again with its restored state when it restarts.
//
// Besides the table, Apply sets three sysctls in the network namespace it
// works in, as Docker does: net.ipv4.ip_forward=1 (and
// net.ipv6.conf.all.forwarding=1 when a network has an IPv6 subnet), and
// net.ipv4.conf.<bridge>.route_localnet=1 for each bridge of a non-internal
// network, which lets 127.0.0.1:HOSTPORT be translated and routed to a
// container. Packets from a bridge addressed to or from 127.0.0.0/8 are
// dropped (chain "guard"), so route_localnet does not open the host's
// loopback services to containers. Remove does not reset the sysctls.
//
// What the rest of berth must do: the bridge driver sets hairpin mode on each
// container's bridge port (with br_netfilter loaded, a container reaching
// its own published port is translated on the bridge and sent back out the
// port it came in on), and the caller expands port ranges into single Ports.
// Not done here: [::1]:HOSTPORT (IPv6 has no route_localnet), and flushing
// the conntrack entries of a removed UDP port.
//
// The package imports errdefs of berth's, and nothing above L0.
package nat

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
)

// Network is one berth bridge network.
type Network struct {
	// Bridge is the name of the network's Linux bridge.
	Bridge string
	// Subnets are the network's subnets, IPv4 and IPv6. Traffic from them
	// leaving through any interface but Bridge is masqueraded (unless
	// Internal).
	Subnets []netip.Prefix
	// Internal networks have no route to the outside: forwarding to and
	// from other interfaces is dropped, nothing is masqueraded and ports
	// published on them are ignored (as Docker does).
	Internal bool
}

// Port is one published port: HostIP:HostPort/Proto is translated to
// ContainerIP:ContainerPort. A range (-p 8000-8010:80-90) is expanded by the
// caller into single ports.
type Port struct {
	// Proto is "tcp" or "udp".
	Proto string
	// HostIP restricts the port to one of the host's addresses. The zero
	// Addr, 0.0.0.0 and :: mean every address of ContainerIP's family.
	HostIP   netip.Addr
	HostPort uint16
	// ContainerIP is the container's address on Bridge.
	ContainerIP   netip.Addr
	ContainerPort uint16
	// Bridge is the bridge of the Network the container is attached to; it
	// must be one of the State's Networks.
	Bridge string
}

// State is everything berth's table holds.
type State struct {
	Networks []Network
	Ports    []Port
}

// Options configure Open.
type Options struct {
	// Name is the table's name; "berth" if empty.
	Name string
	// NetNS is the path of the network namespace to work in (for example
	// /run/netns/NAME); "" is the caller's own.
	NetNS string
}

// Table is berth's nftables table in one network namespace. Its methods are
// safe for concurrent use.
type Table struct {
	name string

	mu    sync.Mutex
	nsfd  int // -1 for the caller's namespace
	close bool
}

// Open returns the handle of berth's table in opts.NetNS. It changes
// nothing: the table is created by Apply.
func Open(opts Options) (*Table, error) {
	name := opts.Name
	if name == "" {
		name = "berth"
	}
	if len(name) > 255 || !printable(name) {
		return nil, fmt.Errorf("nftables table name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	t := &Table{name: name, nsfd: -1}
	if opts.NetNS != "" {
		fd, err := unix.Open(opts.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("network namespace %q: %w", opts.NetNS, err)
		}
		t.nsfd = fd
	}
	return t, nil
}

// batch returns a connection to queue one batch of messages on. Each batch
// gets its own, so that one abandoned half-way is never sent.
func (t *Table) batch() (*nftables.Conn, error) {
	if t.close {
		return nil, fmt.Errorf("nftables table %q: closed: %w", t.name, errdefs.ErrUnavailable)
	}
	var opts []nftables.ConnOption
	if t.nsfd >= 0 {
		opts = append(opts, nftables.WithNetNSFd(t.nsfd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// Apply makes berth's table exactly s, atomically, then sets the sysctls the
// rules need (see the package documentation). Other tables are untouched.
// Applying the same State twice changes nothing; a daemon calls it at start
// with its restored state.
func (t *Table) Apply(s State) error {
	if err := s.validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.batch()
	if err != nil {
		return err
	}
	tbl := &nftables.Table{Name: t.name, Family: nftables.TableFamilyINet}
	// "add; delete; add": the first add makes the delete succeed when the
	// table does not exist yet. The kernel applies the batch as a whole.
	c.AddTable(tbl)
	c.DelTable(tbl)
	c.AddTable(tbl)
	if err := build(c, tbl, s); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %q: apply: %w", t.name, err)
	}
	// After the rules: the guard chain must be in place before
	// route_localnet is switched on.
	return inNetNS(t.nsfd, func() error { return sysctls(s) })
}

// Remove deletes berth's table, if it exists, and nothing else.
func (t *Table) Remove() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.batch()
	if err != nil {
		return err
	}
	tbl := &nftables.Table{Name: t.name, Family: nftables.TableFamilyINet}
	c.AddTable(tbl)
	c.DelTable(tbl)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %q: remove: %w", t.name, err)
	}
	return nil
}

// Close releases the handle; the table stays as it is.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.close {
		return nil
	}
	t.close = true
	t.closeNS()
	return nil
}

func (t *Table) closeNS() {
	if t.nsfd >= 0 {
		unix.Close(t.nsfd)
		t.nsfd = -1
	}
}

func printable(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '/' {
			return false
		}
	}
	return true
}

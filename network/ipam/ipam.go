// Package ipam manages the IP addresses of berth's bridge networks the way
// Docker's default IPAM driver does: it picks a subnet for a network from the
// default address pools (or takes the one the user gave), and hands out the
// addresses of that subnet to containers, round-robin.
//
// It owns one JSON state file and nothing else: no links, no routes, no
// firewall. Callers tell it which subnets the host already routes (the inUse
// function of AddNetwork). It imports only the standard library and berth's
// L0 (errdefs).
//
// Words: a network has a subnet (172.18.0.0/16), optionally an ip-range
// inside it from which automatic addresses come (172.18.5.0/24), and a
// gateway (the bridge's own address, 172.18.0.1). Every address a container
// holds is allocated to an owner (the container's id) until it is released.
// The subnet's network address, its IPv4 broadcast address and the gateway
// are never handed out.
//
// Every change is written to the state file (temp file, fsync, rename)
// before the call returns, so the state survives a daemon restart.
package ipam

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/berth-dev/berth/atomicfile"
)

// Store is the address bookkeeping of every network. It is safe for
// concurrent use.
type Store struct {
	path string

	mu   sync.Mutex
	nets map[string]*network // by name; a value is never changed, only replaced
}

// Network is what a caller sees of a network: a copy.
type Network struct {
	Name    string
	Subnet  netip.Prefix
	IPRange netip.Prefix // as given; zero means the whole subnet
	Gateway netip.Addr
	// Allocated maps each address held by a container to its owner (the
	// container's id). The gateway is not in it.
	Allocated map[netip.Addr]string
}

// network is the stored form, also the JSON record of the state file.
type network struct {
	Name      string                `json:"name"`
	Subnet    netip.Prefix          `json:"subnet"`
	IPRange   netip.Prefix          `json:"ipRange,omitzero"`
	Gateway   netip.Addr            `json:"gateway"`
	Allocated map[netip.Addr]string `json:"allocated,omitempty"`
	// Next is where the next automatic allocation starts looking: one past
	// the last address handed out automatically (Docker's serial mode), so a
	// released address is not reused until the range wraps around.
	Next netip.Addr `json:"next,omitzero"`
}

// stateFile is the on-disk format.
type stateFile struct {
	Version  int        `json:"version"`
	Networks []*network `json:"networks"`
}

const stateVersion = 1

// Open loads the state file at path. A missing file is an empty store (the
// file is created by the first change); a file that cannot be read or parsed
// is an error naming it.
func Open(path string) (*Store, error) {
	s := &Store{path: path, nets: map[string]*network{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ipam state %s: %w", path, err)
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("ipam state %s is corrupt: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("ipam state %s: version %d, this berth reads version %d", path, st.Version, stateVersion)
	}
	for _, n := range st.Networks {
		if err := n.check(); err != nil {
			return nil, fmt.Errorf("ipam state %s is corrupt: %w", path, err)
		}
		if _, dup := s.nets[n.Name]; dup {
			return nil, fmt.Errorf("ipam state %s is corrupt: network %q is listed twice", path, n.Name)
		}
		if n.Allocated == nil {
			n.Allocated = map[netip.Addr]string{}
		}
		s.nets[n.Name] = n
	}
	return s, nil
}

// check is a sanity check of a loaded record.
func (n *network) check() error {
	switch {
	case n.Name == "":
		return errors.New("a network has no name")
	case !n.Subnet.IsValid() || n.Subnet != n.Subnet.Masked():
		return fmt.Errorf("network %q: bad subnet %s", n.Name, n.Subnet)
	case n.IPRange.IsValid() && (n.IPRange.Bits() < n.Subnet.Bits() || !n.Subnet.Contains(n.IPRange.Addr())):
		return fmt.Errorf("network %q: ip-range %s is not inside subnet %s", n.Name, n.IPRange, n.Subnet)
	case !n.Subnet.Contains(n.Gateway):
		return fmt.Errorf("network %q: gateway %s is not inside subnet %s", n.Name, n.Gateway, n.Subnet)
	}
	for ip := range n.Allocated {
		if !n.Subnet.Contains(ip) {
			return fmt.Errorf("network %q: address %s is not inside subnet %s", n.Name, ip, n.Subnet)
		}
	}
	return nil
}

// Network returns a copy of the named network.
func (s *Store) Network(name string) (*Network, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nets[name]
	if !ok {
		return nil, false
	}
	return n.public(), true
}

// Networks returns a copy of every network, sorted by name.
func (s *Store) Networks() []*Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Network, 0, len(s.nets))
	for _, n := range s.nets {
		out = append(out, n.public())
	}
	slices.SortFunc(out, func(a, b *Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (n *network) public() *Network {
	alloc := make(map[netip.Addr]string, len(n.Allocated))
	for ip, owner := range n.Allocated {
		alloc[ip] = owner
	}
	return &Network{Name: n.Name, Subnet: n.Subnet, IPRange: n.IPRange, Gateway: n.Gateway, Allocated: alloc}
}

func (n *network) clone() *network {
	c := *n
	c.Allocated = make(map[netip.Addr]string, len(n.Allocated)+1)
	for ip, owner := range n.Allocated {
		c.Allocated[ip] = owner
	}
	return &c
}

// commit writes the store with the given networks replaced (a nil value
// removes the network) and, once the file is written, makes the change
// visible. On error nothing has changed. s.mu is held.
//
// Networks are written durably (fsync). Addresses are written atomically
// but without fsync: they survive a daemon crash (the page cache does),
// and a host crash ends every container, whose addresses the daemon then
// releases; an fsync would cost each container start a few milliseconds.
func (s *Store) commit(changed map[string]*network, durable bool) error {
	next := make(map[string]*network, len(s.nets)+1)
	for name, n := range s.nets {
		next[name] = n
	}
	for name, n := range changed {
		if n == nil {
			delete(next, name)
		} else {
			next[name] = n
		}
	}
	st := stateFile{Version: stateVersion, Networks: make([]*network, 0, len(next))}
	for _, n := range next {
		st.Networks = append(st.Networks, n)
	}
	slices.SortFunc(st.Networks, func(a, b *network) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(&st, "", "\t")
	if err != nil {
		return fmt.Errorf("ipam state %s: %w", s.path, err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	write := atomicfile.Replace
	if durable {
		write = atomicfile.WriteFile
	}
	if err := write(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("ipam state %s: %w", s.path, err)
	}
	s.nets = next
	return nil
}

// Package network is berth's networks as users see them: the default
// "bridge" network and user-defined bridge networks (plus the "host" and
// "none" pseudo-networks), their address management (network/ipam), their
// bridges and containers' veth pairs (network/netdev), NAT and published
// ports in berth's own nftables table (network/nat), and the embedded DNS
// of user-defined networks (network/dns). It works on network namespace
// paths and knows nothing of containers beyond their ids and names.
package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/ids"
	"github.com/berth-dev/berth/network/dns"
	"github.com/berth-dev/berth/network/ipam"
	"github.com/berth-dev/berth/network/nat"
	"github.com/berth-dev/berth/network/netdev"
)

// Drivers, and the names of the networks every daemon has.
const (
	DriverBridge  = "bridge"
	DriverHost    = "host"
	DriverNull    = "null"
	DefaultName   = "bridge"
	DefaultBridge = "berth0"
)

// Network is one network.
type Network struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Driver   string            `json:"driver"`
	Bridge   string            `json:"bridge,omitempty"`
	Subnet   netip.Prefix      `json:"subnet,omitzero"`
	Gateway  netip.Addr        `json:"gateway,omitzero"`
	IPRange  netip.Prefix      `json:"ipRange,omitzero"`
	IPv6     bool              `json:"ipv6,omitempty"`
	Subnet6  netip.Prefix      `json:"subnet6,omitzero"`
	Gateway6 netip.Addr        `json:"gateway6,omitzero"`
	Internal bool              `json:"internal,omitempty"`
	MTU      int               `json:"mtu,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	Created  time.Time         `json:"created"`
}

// Predefined reports whether the network is one of the daemon's own
// (bridge, host, none), which cannot be removed.
func (n *Network) Predefined() bool {
	return n.Name == DefaultName || n.Driver == DriverHost || n.Driver == DriverNull
}

// DNS reports whether containers on the network resolve each other by
// name (user-defined bridge networks; the default bridge does not, as in
// Docker).
func (n *Network) DNS() bool { return n.Driver == DriverBridge && n.Name != DefaultName }

// Endpoint is a container's connection to a network.
type Endpoint struct {
	NetworkID   string     `json:"networkID"`
	ContainerID string     `json:"containerID"`
	Name        string     `json:"name"` // the container's name, for DNS
	Aliases     []string   `json:"aliases,omitempty"`
	IP          netip.Addr `json:"ip,omitzero"`
	IP6         netip.Addr `json:"ip6,omitzero"`
	MAC         string     `json:"mac,omitempty"`
	HostIf      string     `json:"hostIf,omitempty"` // set once plumbed into a namespace
	// DNS are the container's own upstream name servers (--dns).
	DNS   []netip.AddrPort `json:"dns,omitempty"`
	Ports []PortBinding    `json:"ports,omitempty"`
}

// PortBinding is one published port of an endpoint.
type PortBinding struct {
	Proto         string     `json:"proto"`
	HostIP        netip.Addr `json:"hostIP,omitzero"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
}

// Options configure a Manager.
type Options struct {
	// DefaultBridge is the default network's bridge ("berth0").
	DefaultBridge string
	// Table is berth's nftables table name ("berth").
	Table string
	// Upstreams are the name servers the embedded DNS forwards to.
	Upstreams []netip.AddrPort
}

// Manager owns the networks of one data root.
type Manager struct {
	dir  string
	opts Options
	ipam *ipam.Store
	nat  *nat.Table
	dns  *dns.Server

	mu        sync.Mutex
	nets      map[string]*Network             // by id
	endpoints map[string]map[string]*Endpoint // network id -> container id
	ports     *reservations
	wg        sync.WaitGroup // veth deletions in the background
	ns        netns.NsHandle // the namespace Open ran in
	// lastNAT is the state last applied to the nftables table.
	lastNAT    nat.State
	natApplied bool
}

type state struct {
	Networks  []*Network  `json:"networks"`
	Endpoints []*Endpoint `json:"endpoints"`
}

const stateFile = "networks.json"

// Open loads the networks kept in dir, makes sure the predefined ones
// exist, and sets up every bridge, DNS listener and NAT rule again (a
// daemon restart, or a host restart that lost them).
func Open(dir string, o Options) (*Manager, error) {
	if o.DefaultBridge == "" {
		o.DefaultBridge = DefaultBridge
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	st, err := ipam.Open(filepath.Join(dir, "ipam.json"))
	if err != nil {
		return nil, err
	}
	m := &Manager{dir: dir, opts: o, ipam: st, nets: map[string]*Network{}, endpoints: map[string]map[string]*Endpoint{}, ports: newReservations(), ns: netns.None()}
	if err := m.load(); err != nil {
		return nil, err
	}
	if m.nat, err = nat.Open(nat.Options{Name: o.Table}); err != nil {
		return nil, err
	}
	m.dns = dns.New(o.Upstreams, dns.Options{})
	ok := false
	defer func() {
		if !ok {
			m.Close()
		}
	}()
	// The calling thread's namespace (Open's caller may have locked it in
	// another than the process's); background work goes there too.
	if m.ns, err = netns.Get(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range []struct{ name, driver string }{{"host", DriverHost}, {"none", DriverNull}} {
		if m.byNameLocked(p.name) == nil {
			n := &Network{ID: ids.New(), Name: p.name, Driver: p.driver, Created: time.Now().UTC()}
			m.nets[n.ID] = n
		}
	}
	if m.byNameLocked(DefaultName) == nil {
		if _, err := m.createLocked(CreateRequest{Name: DefaultName, Driver: DriverBridge, Bridge: o.DefaultBridge}); err != nil {
			return nil, fmt.Errorf("default network: %w", err)
		}
	}
	for _, n := range m.nets {
		if n.Driver != DriverBridge {
			continue
		}
		if err := m.up(n); err != nil {
			return nil, err
		}
		for _, ep := range m.endpoints[n.ID] {
			for _, p := range ep.Ports {
				// Reserved again; a port taken meanwhile is reported, not fatal.
				_ = m.ports.reserve(p)
			}
			m.addNames(n, ep)
		}
	}
	if err := m.saveLocked(true); err != nil {
		return nil, err
	}
	if err := m.applyNATLocked(); err != nil {
		return nil, err
	}
	ok = true
	return m, nil
}

// Close stops the DNS listeners and releases the port reservations; the
// bridges and rules stay for the containers that keep running.
func (m *Manager) Close() {
	m.wg.Wait()
	if m.ns.IsOpen() {
		_ = m.ns.Close()
	}
	if m.dns != nil {
		_ = m.dns.Close()
	}
	if m.nat != nil {
		_ = m.nat.Close()
	}
	m.ports.releaseAll()
}

func (m *Manager) load() error {
	b, err := os.ReadFile(filepath.Join(m.dir, stateFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(m.dir, stateFile), err)
	}
	for _, n := range st.Networks {
		m.nets[n.ID] = n
	}
	for _, ep := range st.Endpoints {
		if m.nets[ep.NetworkID] == nil {
			continue
		}
		if m.endpoints[ep.NetworkID] == nil {
			m.endpoints[ep.NetworkID] = map[string]*Endpoint{}
		}
		m.endpoints[ep.NetworkID][ep.ContainerID] = ep
	}
	return nil
}

// saveLocked writes the state atomically; durably (fsync) for changes of
// networks. Endpoints change at every container start and stop: they are
// written without fsync, which survives a daemon crash, and a host crash
// ends the containers whose endpoints they were (as ipam's addresses).
func (m *Manager) saveLocked(durable bool) error {
	var st state
	for _, n := range m.nets {
		st.Networks = append(st.Networks, n)
	}
	sort.Slice(st.Networks, func(i, j int) bool { return st.Networks[i].Name < st.Networks[j].Name })
	for _, eps := range m.endpoints {
		for _, ep := range eps {
			st.Endpoints = append(st.Endpoints, ep)
		}
	}
	sort.Slice(st.Endpoints, func(i, j int) bool {
		a, b := st.Endpoints[i], st.Endpoints[j]
		return a.NetworkID+a.ContainerID < b.NetworkID+b.ContainerID
	})
	b, err := json.MarshalIndent(&st, "", "\t")
	if err != nil {
		return err
	}
	if !durable {
		return atomicfile.Replace(filepath.Join(m.dir, stateFile), b, 0o600)
	}
	return atomicfile.WriteFile(filepath.Join(m.dir, stateFile), b, 0o600)
}

func (m *Manager) byNameLocked(name string) *Network {
	for _, n := range m.nets {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Get finds a network by full id, name, or unique id prefix (Docker's
// order).
func (m *Manager) Get(ref string) (*Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.getLocked(ref)
	if err != nil {
		return nil, err
	}
	c := *n
	return &c, nil
}

func (m *Manager) getLocked(ref string) (*Network, error) {
	if n := m.nets[ref]; n != nil {
		return n, nil
	}
	if n := m.byNameLocked(ref); n != nil {
		return n, nil
	}
	var found *Network
	for id, n := range m.nets {
		if ref != "" && strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous (%d matches found based on ID prefix): %w", ref, 2, errdefs.ErrInvalidArgument)
			}
			found = n
		}
	}
	if found == nil {
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

// List returns every network, by name.
func (m *Manager) List() []*Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Network, 0, len(m.nets))
	for _, n := range m.nets {
		c := *n
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Endpoints returns the endpoints of a network, by container id.
func (m *Manager) Endpoints(netID string) []*Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Endpoint
	for _, ep := range m.endpoints[netID] {
		c := *ep
		out = append(out, &c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerID < out[j].ContainerID })
	return out
}

// CreateRequest is docker network create.
type CreateRequest struct {
	Name     string
	Driver   string // "" or "bridge"
	Subnet   string // CIDR, "" to pick one
	Gateway  string
	IPRange  string
	IPv6     bool
	Subnet6  string // required with IPv6 (no default IPv6 pool)
	Gateway6 string
	Internal bool
	Labels   map[string]string
	Options  map[string]string // com.docker.network.driver.mtu, com.docker.network.bridge.name
	Bridge   string            // the bridge's name; "" for "br-" + the id's first 12 characters
}

// Create makes a bridge network: its addresses, bridge, DNS and rules.
// Nothing is left of a failed create.
func (m *Manager) Create(req CreateRequest) (*Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.createLocked(req)
	if err != nil {
		return nil, err
	}
	c := *n
	return &c, nil
}

func (m *Manager) createLocked(req CreateRequest) (_ *Network, retErr error) {
	if len(req.Name) > 128 || !ids.ValidName(req.Name, 1) {
		return nil, fmt.Errorf("invalid network name %q: %w", req.Name, errdefs.ErrInvalidArgument)
	}
	if m.byNameLocked(req.Name) != nil {
		return nil, fmt.Errorf("network with name %s already exists: %w", req.Name, errdefs.ErrConflict)
	}
	switch req.Driver {
	case "", DriverBridge:
	default:
		return nil, fmt.Errorf("network driver %q is not supported (bridge): %w", req.Driver, errdefs.ErrInvalidArgument)
	}
	n := &Network{ID: ids.New(), Name: req.Name, Driver: DriverBridge, Internal: req.Internal, IPv6: req.IPv6,
		Labels: req.Labels, Options: req.Options, Created: time.Now().UTC(), Bridge: req.Bridge}
	if name := req.Options["com.docker.network.bridge.name"]; name != "" {
		n.Bridge = name
	}
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	}
	if v := req.Options["com.docker.network.driver.mtu"]; v != "" {
		mtu, err := strconv.Atoi(v)
		if err != nil || mtu < 68 || mtu > 65535 {
			return nil, fmt.Errorf("invalid MTU %q: %w", v, errdefs.ErrInvalidArgument)
		}
		n.MTU = mtu
	}
	for _, other := range m.nets {
		if other.Bridge == n.Bridge {
			return nil, fmt.Errorf("bridge name %s is used by network %s: %w", n.Bridge, other.Name, errdefs.ErrConflict)
		}
	}
	spec, err := parseSpec(req.Subnet, req.Gateway, req.IPRange)
	if err != nil {
		return nil, err
	}
	routes, _ := netdev.HostRoutes()
	inUse := func(p netip.Prefix) bool {
		for _, r := range routes {
			if r.Bits() > 0 && r.Overlaps(p) {
				return true
			}
		}
		return false
	}
	in, err := m.ipam.AddNetwork(n.ID, spec, inUse)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = m.ipam.RemoveNetwork(n.ID)
		}
	}()
	n.Subnet, n.Gateway, n.IPRange = in.Subnet, in.Gateway, in.IPRange
	if req.IPv6 {
		spec6, err := parseSpec(req.Subnet6, req.Gateway6, "")
		if err != nil {
			return nil, err
		}
		spec6.IPv6 = true // without a subnet: one of berth's ULA /64s
		in6, err := m.ipam.AddNetwork(n.ID+"/6", spec6, inUse)
		if err != nil {
			return nil, err
		}
		defer func() {
			if retErr != nil {
				_ = m.ipam.RemoveNetwork(n.ID + "/6")
			}
		}()
		n.Subnet6, n.Gateway6 = in6.Subnet, in6.Gateway
	}
	m.nets[n.ID] = n
	if err := m.up(n); err != nil {
		delete(m.nets, n.ID)
		m.down(n)
		return nil, err
	}
	if err := m.applyNATLocked(); err != nil {
		delete(m.nets, n.ID)
		m.down(n)
		_ = m.applyNATLocked()
		return nil, err
	}
	if err := m.saveLocked(true); err != nil {
		delete(m.nets, n.ID)
		m.down(n)
		_ = m.applyNATLocked()
		return nil, err
	}
	return n, nil
}

func parseSpec(subnet, gateway, ipRange string) (ipam.NetworkSpec, error) {
	var spec ipam.NetworkSpec
	var err error
	bad := func(what, v string) error {
		return fmt.Errorf("invalid %s %q: %w", what, v, errdefs.ErrInvalidArgument)
	}
	if subnet != "" {
		if spec.Subnet, err = netip.ParsePrefix(subnet); err != nil {
			return spec, bad("subnet", subnet)
		}
	}
	if gateway != "" {
		if subnet == "" {
			return spec, fmt.Errorf("a gateway needs a subnet: %w", errdefs.ErrInvalidArgument)
		}
		if spec.Gateway, err = netip.ParseAddr(gateway); err != nil {
			return spec, bad("gateway", gateway)
		}
	}
	if ipRange != "" {
		if subnet == "" {
			return spec, fmt.Errorf("an ip-range needs a subnet: %w", errdefs.ErrInvalidArgument)
		}
		if spec.IPRange, err = netip.ParsePrefix(ipRange); err != nil {
			return spec, bad("ip-range", ipRange)
		}
	}
	return spec, nil
}

// up sets a bridge network's bridge and DNS listener up.
func (m *Manager) up(n *Network) error {
	gws := []netip.Prefix{netip.PrefixFrom(n.Gateway, n.Subnet.Bits())}
	if n.Gateway6.IsValid() {
		gws = append(gws, netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits()))
	}
	if err := netdev.EnsureBridge(netdev.BridgeConfig{Name: n.Bridge, MTU: n.MTU, Gateways: gws}); err != nil {
		return err
	}
	if n.DNS() {
		if err := m.dns.Listen(n.ID, n.Gateway); err != nil {
			return fmt.Errorf("network %s: embedded DNS: %w", n.Name, err)
		}
	}
	return nil
}

// down removes a bridge network's bridge and DNS listener.
func (m *Manager) down(n *Network) {
	if n.DNS() {
		_ = m.dns.Unlisten(n.ID)
	}
	_ = netdev.DeleteBridge(n.Bridge)
}

// Remove deletes a network with no endpoints.
func (m *Manager) Remove(ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.getLocked(ref)
	if err != nil {
		return err
	}
	if n.Predefined() {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", n.Name, errdefs.ErrConflict)
	}
	if eps := m.endpoints[n.ID]; len(eps) > 0 {
		var ids []string
		for id := range eps {
			ids = append(ids, id[:12])
		}
		sort.Strings(ids)
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints (%s): %w", n.Name, n.ID, strings.Join(ids, ", "), errdefs.ErrConflict)
	}
	delete(m.nets, n.ID)
	if err := m.saveLocked(true); err != nil {
		m.nets[n.ID] = n
		return err
	}
	m.down(n)
	_ = m.ipam.RemoveNetwork(n.ID)
	if n.IPv6 {
		_ = m.ipam.RemoveNetwork(n.ID + "/6")
	}
	return m.applyNATLocked()
}

// applyNATLocked makes berth's nftables table match the networks and
// published ports.
func (m *Manager) applyNATLocked() error {
	var st nat.State
	for _, n := range m.nets {
		if n.Driver != DriverBridge {
			continue
		}
		nn := nat.Network{Bridge: n.Bridge, Subnets: []netip.Prefix{n.Subnet}, Internal: n.Internal}
		if n.Subnet6.IsValid() {
			nn.Subnets = append(nn.Subnets, n.Subnet6)
		}
		st.Networks = append(st.Networks, nn)
		for _, ep := range m.endpoints[n.ID] {
			for _, p := range ep.Ports {
				ip := ep.IP
				if p.HostIP.Is6() && ep.IP6.IsValid() {
					ip = ep.IP6
				}
				st.Ports = append(st.Ports, nat.Port{Proto: p.Proto, HostIP: p.HostIP, HostPort: p.HostPort,
					ContainerIP: ip, ContainerPort: p.ContainerPort, Bridge: n.Bridge})
			}
		}
	}
	sort.Slice(st.Networks, func(i, j int) bool { return st.Networks[i].Bridge < st.Networks[j].Bridge })
	sort.Slice(st.Ports, func(i, j int) bool { return portLess(st.Ports[i], st.Ports[j]) })
	// Replacing the table costs the kernel ~9 ms: only when it changes
	// (a container without published ports changes nothing).
	if m.natApplied && reflect.DeepEqual(st, m.lastNAT) {
		return nil
	}
	if err := m.nat.Apply(st); err != nil {
		m.natApplied = false
		return err
	}
	m.lastNAT, m.natApplied = st, true
	return nil
}

func portLess(a, b nat.Port) bool {
	if a.HostPort != b.HostPort {
		return a.HostPort < b.HostPort
	}
	if a.Proto != b.Proto {
		return a.Proto < b.Proto
	}
	return a.HostIP.Less(b.HostIP)
}

// addNames registers an endpoint's names in its network's DNS, and its
// own upstreams.
func (m *Manager) addNames(n *Network, ep *Endpoint) {
	if !n.DNS() {
		return
	}
	if len(ep.DNS) > 0 {
		for _, ip := range []netip.Addr{ep.IP, ep.IP6} {
			if ip.IsValid() {
				m.dns.SetClientUpstreams(ip, ep.DNS)
			}
		}
	}
	for _, name := range append([]string{ep.Name, ep.ContainerID[:12]}, ep.Aliases...) {
		if name == "" {
			continue
		}
		if ep.IP.IsValid() {
			m.dns.Add(n.ID, name, ep.IP)
		}
		if ep.IP6.IsValid() {
			m.dns.Add(n.ID, name, ep.IP6)
		}
	}
}

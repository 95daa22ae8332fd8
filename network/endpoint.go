package network

import (
	"fmt"
	"net/netip"
	goruntime "runtime"
	"sort"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/network/netdev"
)

// ConnectRequest is a container joining a network.
type ConnectRequest struct {
	ContainerID string
	Name        string   // the container's name (DNS)
	Aliases     []string // --network-alias
	IP, IP6     string   // --ip, --ip6 ("" for the next free address)
	Ports       []PortRequest
	// DNS are the container's own name servers (--dns): on a network with
	// the embedded DNS, its names not known there are forwarded to them.
	DNS []string
}

// PortRequest is one -p: HostPort 0 picks a free port; a range is
// HostPort-HostPortEnd mapped onto ContainerPort-ContainerPortEnd.
type PortRequest struct {
	Proto            string // "tcp" (default) or "udp"
	HostIP           string
	HostPort         uint16
	HostPortEnd      uint16
	ContainerPort    uint16
	ContainerPortEnd uint16
}

// Connect records a container's endpoint on a network: its addresses and
// its published ports (reserved on the host, so a port in use is an error
// now). It is put into the container's network namespace by Plumb.
func (m *Manager) Connect(ref string, req ConnectRequest) (_ *Endpoint, retErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.checkConnectLocked(ref, req)
	if err != nil {
		return nil, err
	}
	ep := &Endpoint{NetworkID: n.ID, ContainerID: req.ContainerID, Name: strings.TrimPrefix(req.Name, "/"), Aliases: req.Aliases}
	if n.DNS() {
		ep.DNS, _ = parseDNS(req.DNS)
	}
	var want netip.Addr
	if req.IP != "" {
		want, _ = netip.ParseAddr(req.IP)
	}
	if ep.IP, err = m.ipam.Allocate(n.ID, req.ContainerID, want); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = m.ipam.Release(n.ID, ep.IP)
		}
	}()
	if n.IPv6 {
		var want6 netip.Addr
		if req.IP6 != "" {
			want6, _ = netip.ParseAddr(req.IP6)
		}
		if ep.IP6, err = m.ipam.Allocate(n.ID+"/6", req.ContainerID, want6); err != nil {
			return nil, err
		}
		defer func() {
			if retErr != nil {
				_ = m.ipam.Release(n.ID+"/6", ep.IP6)
			}
		}()
	}
	ep.MAC = netdev.DefaultMAC([]netip.Prefix{netip.PrefixFrom(ep.IP, n.Subnet.Bits())}).String()
	if !n.Internal {
		if ep.Ports, err = m.reservePorts(req.Ports); err != nil {
			return nil, err
		}
	}
	defer func() {
		if retErr != nil {
			for _, p := range ep.Ports {
				m.ports.release(p)
			}
		}
	}()
	if m.endpoints[n.ID] == nil {
		m.endpoints[n.ID] = map[string]*Endpoint{}
	}
	m.endpoints[n.ID][req.ContainerID] = ep
	if err := m.saveLocked(false); err != nil {
		delete(m.endpoints[n.ID], req.ContainerID)
		return nil, err
	}
	c := *ep
	return &c, nil
}

// CheckConnect tells whether a container could join a network as asked
// (the network exists and takes containers; aliases, addresses and ports
// are well-formed), without allocating anything: the engine checks at
// create what it connects at start.
func (m *Manager) CheckConnect(ref string, req ConnectRequest) (*Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.checkConnectLocked(ref, req)
	if err != nil {
		return nil, err
	}
	c := *n
	return &c, nil
}

func (m *Manager) checkConnectLocked(ref string, req ConnectRequest) (*Network, error) {
	n, err := m.getLocked(ref)
	if err != nil {
		return nil, err
	}
	if n.Driver != DriverBridge {
		return nil, fmt.Errorf("network %s: containers join %s networks through their network mode: %w", n.Name, n.Driver, errdefs.ErrInvalidArgument)
	}
	if req.ContainerID == "" {
		return nil, fmt.Errorf("connect: no container: %w", errdefs.ErrInvalidArgument)
	}
	if _, dup := m.endpoints[n.ID][req.ContainerID]; dup {
		return nil, fmt.Errorf("endpoint with name %s already exists in network %s: %w", strings.TrimPrefix(req.Name, "/"), n.Name, errdefs.ErrConflict)
	}
	if (req.IP != "" || req.IP6 != "") && n.Name == DefaultName {
		return nil, fmt.Errorf("user specified IP address is supported on user defined networks only: %w", errdefs.ErrInvalidArgument)
	}
	if len(req.Aliases) > 0 && !n.DNS() {
		return nil, fmt.Errorf("network-scoped aliases are only supported for user-defined networks: %w", errdefs.ErrInvalidArgument)
	}
	if req.IP != "" {
		if ip, err := netip.ParseAddr(req.IP); err != nil || !ip.Is4() {
			return nil, fmt.Errorf("invalid IPv4 address %q: %w", req.IP, errdefs.ErrInvalidArgument)
		} else if !n.Subnet.Contains(ip) {
			return nil, fmt.Errorf("no configured subnet contains IP address %s (network %s has %s): %w", ip, n.Name, n.Subnet, errdefs.ErrInvalidArgument)
		}
	}
	if req.IP6 != "" {
		if ip, err := netip.ParseAddr(req.IP6); err != nil || !ip.Is6() {
			return nil, fmt.Errorf("invalid IPv6 address %q: %w", req.IP6, errdefs.ErrInvalidArgument)
		} else if !n.IPv6 {
			return nil, fmt.Errorf("network %s has no IPv6 subnet for --ip6 %s: %w", n.Name, ip, errdefs.ErrInvalidArgument)
		}
	}
	for _, r := range req.Ports {
		if err := r.check(); err != nil {
			return nil, err
		}
	}
	if _, err := parseDNS(req.DNS); err != nil {
		return nil, err
	}
	return n, nil
}

// parseDNS parses --dns name servers (port 53).
func parseDNS(servers []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range servers {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid --dns %q: not an IP address: %w", s, errdefs.ErrInvalidArgument)
		}
		out = append(out, netip.AddrPortFrom(ip.Unmap(), 53))
	}
	return out, nil
}

// check tells whether a port request is well-formed.
func (r PortRequest) check() error {
	_, _, _, _, err := r.parse()
	return err
}

// parse checks a port request and returns its protocol, host address,
// number of container ports and last host port.
func (r PortRequest) parse() (proto string, hostIP netip.Addr, n int, hEnd uint16, err error) {
	proto = r.Proto
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return "", hostIP, 0, 0, fmt.Errorf("invalid protocol %q (tcp, udp): %w", r.Proto, errdefs.ErrInvalidArgument)
	}
	if r.HostIP != "" {
		if hostIP, err = netip.ParseAddr(r.HostIP); err != nil {
			return "", hostIP, 0, 0, fmt.Errorf("invalid host IP %q: %w", r.HostIP, errdefs.ErrInvalidArgument)
		}
	}
	cEnd := r.ContainerPortEnd
	if cEnd == 0 {
		cEnd = r.ContainerPort
	}
	if r.ContainerPort == 0 || cEnd < r.ContainerPort {
		return "", hostIP, 0, 0, fmt.Errorf("invalid container port range %d-%d: %w", r.ContainerPort, cEnd, errdefs.ErrInvalidArgument)
	}
	n = int(cEnd-r.ContainerPort) + 1
	hEnd = r.HostPortEnd
	if r.HostPort != 0 && hEnd == 0 {
		hEnd = r.HostPort + uint16(n-1)
	}
	if r.HostPort != 0 && (hEnd < r.HostPort || (int(hEnd-r.HostPort)+1 != n && n != 1)) {
		return "", hostIP, 0, 0, fmt.Errorf("invalid ranges specified for container and host ports: %w", errdefs.ErrInvalidArgument)
	}
	return proto, hostIP, n, hEnd, nil
}

// reservePorts expands ranges, picks free ports for HostPort 0 and holds
// every host port (bound sockets), so that a port in use fails now with a
// clear error, as Docker's does.
func (m *Manager) reservePorts(reqs []PortRequest) (_ []PortBinding, retErr error) {
	var out []PortBinding
	defer func() {
		if retErr != nil {
			for _, p := range out {
				m.ports.release(p)
			}
		}
	}()
	for _, r := range reqs {
		proto, hostIP, n, hEnd, err := r.parse()
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			b := PortBinding{Proto: proto, HostIP: hostIP, ContainerPort: r.ContainerPort + uint16(i)}
			var err error
			switch {
			case r.HostPort == 0:
				err = m.ports.reserveAny(&b)
			case n == 1 && hEnd > r.HostPort:
				// One container port, a range of host ports: the first free.
				err = m.ports.reserveIn(&b, r.HostPort, hEnd)
			default:
				b.HostPort = r.HostPort + uint16(i)
				err = m.ports.reserve(b)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// Plumb puts an endpoint into the container's network namespace (a veth
// pair on the network's bridge, its addresses and default routes) and
// publishes it: DNS names, NAT rules for its ports.
func (m *Manager) Plumb(ref, containerID, netns string) (retErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.getLocked(ref)
	if err != nil {
		return err
	}
	ep := m.endpoints[n.ID][containerID]
	if ep == nil {
		return fmt.Errorf("container %s is not connected to network %s: %w", containerID, n.Name, errdefs.ErrNotFound)
	}
	addrs := []netip.Prefix{netip.PrefixFrom(ep.IP, n.Subnet.Bits())}
	gws := []netip.Addr{n.Gateway}
	if ep.IP6.IsValid() {
		addrs = append(addrs, netip.PrefixFrom(ep.IP6, n.Subnet6.Bits()))
		gws = append(gws, n.Gateway6)
	}
	if n.Internal {
		gws = nil // no route out of an internal network
	}
	hostIf := netdev.NewHostIf()
	ifName := "eth0"
	for _, other := range m.endpoints {
		if o := other[containerID]; o != nil && o != ep && o.HostIf != "" {
			// A second network: its own interface, and no default route
			// (the first network's stays the way out, as Docker's).
			ifName = nextIfName(m, containerID)
			gws = nil
			break
		}
	}
	if err := netdev.Attach(netdev.Endpoint{Bridge: n.Bridge, HostIf: hostIf, NetNS: netns, IfName: ifName,
		Addrs: addrs, Gateways: gws, MTU: n.MTU}); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			_ = netdev.Detach(hostIf)
			ep.HostIf = ""
		}
	}()
	ep.HostIf = hostIf
	if err := m.applyNATLocked(); err != nil {
		return err
	}
	m.addNames(n, ep)
	return m.saveLocked(false)
}

// nextIfName is the next ethN a container's namespace lacks.
func nextIfName(m *Manager, containerID string) string {
	used := 0
	for _, eps := range m.endpoints {
		if ep := eps[containerID]; ep != nil && ep.HostIf != "" {
			used++
		}
	}
	return fmt.Sprintf("eth%d", used)
}

// Disconnect removes a container's endpoint: its veth, DNS names, NAT
// rules, addresses and port reservations. A container not connected is not
// an error when force is set.
func (m *Manager) Disconnect(ref, containerID string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.getLocked(ref)
	if err != nil {
		return err
	}
	ep := m.endpoints[n.ID][containerID]
	if ep == nil {
		if force {
			return nil
		}
		return fmt.Errorf("container %s is not connected to network %s: %w", containerID, n.Name, errdefs.ErrNotFound)
	}
	hostIf := m.removeEndpointLocked(n, ep)
	if err := m.saveLocked(false); err != nil {
		return err
	}
	err = m.applyNATLocked()
	if hostIf != "" {
		// The kernel takes 15-30 ms to delete a veth: not under the lock.
		m.mu.Unlock()
		_ = netdev.Detach(hostIf)
		m.mu.Lock()
	}
	return err
}

// removeEndpointLocked forgets an endpoint and everything it holds but its
// veth, whose host end it returns for the caller to delete (slowly).
func (m *Manager) removeEndpointLocked(n *Network, ep *Endpoint) (hostIf string) {
	if n.DNS() {
		for _, ip := range []netip.Addr{ep.IP, ep.IP6} {
			if ip.IsValid() {
				m.dns.RemoveIP(n.ID, ip)
				m.dns.SetClientUpstreams(ip, nil)
			}
		}
	}
	for _, p := range ep.Ports {
		m.ports.release(p)
	}
	_ = m.ipam.Release(n.ID, ep.IP)
	if ep.IP6.IsValid() {
		_ = m.ipam.Release(n.ID+"/6", ep.IP6)
	}
	delete(m.endpoints[n.ID], ep.ContainerID)
	return ep.HostIf
}

// DisconnectAll removes a container from every network (it stopped). It
// works in the caller's network namespace, like every Manager method; the
// veth pairs are deleted last, outside the lock (the kernel takes 15-30 ms
// for each, and usually has already deleted them with the container's
// namespace): that happens in the background (Close waits for it), so a
// container's exit is not held up by it.
func (m *Manager) DisconnectAll(containerID string) error {
	m.mu.Lock()
	var veths []string
	changed := false
	ids := make([]string, 0, len(m.endpoints))
	for id := range m.endpoints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if ep := m.endpoints[id][containerID]; ep != nil {
			if v := m.removeEndpointLocked(m.nets[id], ep); v != "" {
				veths = append(veths, v)
			}
			changed = true
		}
	}
	var err error
	if changed {
		if err = m.saveLocked(false); err == nil {
			err = m.applyNATLocked()
		}
	}
	m.mu.Unlock()
	if len(veths) > 0 {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			// In the manager's namespace, whatever thread this runs on.
			goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
			if m.ns.IsOpen() {
				if err := netns.Set(m.ns); err != nil {
					return
				}
			}
			for _, v := range veths {
				_ = netdev.Detach(v)
			}
		}()
	}
	return err
}

// Containers returns the ids of the containers with an endpoint on some
// network (for the engine to drop those it no longer runs).
func (m *Manager) Containers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, eps := range m.endpoints {
		for id := range eps {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out
}

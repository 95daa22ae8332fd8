package network

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

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
	ep := &Endpoint{NetworkID: n.ID, ContainerID: req.ContainerID, Name: strings.TrimPrefix(req.Name, "/"), Aliases: req.Aliases}
	var want netip.Addr
	if req.IP != "" {
		if want, err = netip.ParseAddr(req.IP); err != nil || !want.Is4() {
			return nil, fmt.Errorf("invalid IPv4 address %q: %w", req.IP, errdefs.ErrInvalidArgument)
		}
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
			if want6, err = netip.ParseAddr(req.IP6); err != nil || !want6.Is6() {
				return nil, fmt.Errorf("invalid IPv6 address %q: %w", req.IP6, errdefs.ErrInvalidArgument)
			}
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
	if err := m.saveLocked(); err != nil {
		delete(m.endpoints[n.ID], req.ContainerID)
		return nil, err
	}
	c := *ep
	return &c, nil
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
		proto := r.Proto
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("invalid protocol %q (tcp, udp): %w", r.Proto, errdefs.ErrInvalidArgument)
		}
		var hostIP netip.Addr
		if r.HostIP != "" {
			ip, err := netip.ParseAddr(r.HostIP)
			if err != nil {
				return nil, fmt.Errorf("invalid host IP %q: %w", r.HostIP, errdefs.ErrInvalidArgument)
			}
			hostIP = ip
		}
		cEnd := r.ContainerPortEnd
		if cEnd == 0 {
			cEnd = r.ContainerPort
		}
		if r.ContainerPort == 0 || cEnd < r.ContainerPort {
			return nil, fmt.Errorf("invalid container port range %d-%d: %w", r.ContainerPort, cEnd, errdefs.ErrInvalidArgument)
		}
		n := int(cEnd-r.ContainerPort) + 1
		hEnd := r.HostPortEnd
		if r.HostPort != 0 && hEnd == 0 {
			hEnd = r.HostPort + uint16(n-1)
		}
		if r.HostPort != 0 && int(hEnd-r.HostPort)+1 != n && n != 1 {
			return nil, fmt.Errorf("invalid ranges specified for container and host ports: %w", errdefs.ErrInvalidArgument)
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
			ifName = nextIfName(m, containerID)
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
	return m.saveLocked()
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
	if err := m.saveLocked(); err != nil {
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
		if ep.IP.IsValid() {
			m.dns.RemoveIP(n.ID, ep.IP)
		}
		if ep.IP6.IsValid() {
			m.dns.RemoveIP(n.ID, ep.IP6)
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
// namespace): a caller on a hot path may run it in a goroutine.
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
		if err = m.saveLocked(); err == nil {
			err = m.applyNATLocked()
		}
	}
	m.mu.Unlock()
	for _, v := range veths {
		_ = netdev.Detach(v)
	}
	return err
}

package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/atomicfile"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
	"github.com/berth-dev/berth/network"
)

// Network modes besides a network's name.
const (
	modeBridge    = "bridge"
	modeHost      = "host"
	modeNone      = "none"
	containerMode = "container:"
)

// Networks returns the daemon's network manager (nil when the engine runs
// without networking).
func (e *Engine) Networks() *network.Manager { return e.nets }

// setupNetworks resolves a new container's network mode and checks the
// networks it joins (asked: the API's EndpointsConfig, by network name or
// id), so that a create fails at once on what its start would refuse.
func (e *Engine) setupNetworks(c *Container, asked map[string]*EndpointSettings) error {
	hc := &c.HostConfig
	mode := hc.NetworkMode
	if mode == "" || mode == "default" {
		mode = modeBridge
	}
	if e.nets == nil {
		// No networking (an engine without a daemon): what needs none.
		if mode == modeBridge && len(asked) == 0 && len(hc.PortBindings) == 0 && !hc.PublishAllPorts {
			mode = modeNone
		}
		if mode != modeNone && mode != modeHost {
			return errInvalid("network mode %q: this engine has no networking (none, host)", mode)
		}
	}
	var primary *network.Network // the network mode's network
	if !strings.HasPrefix(mode, containerMode) && mode != modeNone && mode != modeHost && e.nets != nil {
		var err error
		if primary, err = e.nets.Get(mode); err != nil {
			return err
		}
		switch primary.Driver {
		case network.DriverHost:
			mode = modeHost
		case network.DriverNull:
			mode = modeNone
		}
	}
	hc.NetworkMode = mode
	switch {
	case mode == modeHost || mode == modeNone:
		for name := range asked {
			if name != mode {
				return errInvalid("container cannot be connected to network %s with network mode %s", name, mode)
			}
		}
		// As Docker: published ports mean nothing without a network of
		// the container's own, and are dropped.
		hc.PortBindings, hc.PublishAllPorts = nil, false
		return nil
	case strings.HasPrefix(mode, containerMode):
		target, err := e.get(strings.TrimPrefix(mode, containerMode))
		if err != nil {
			return err
		}
		switch {
		case target.c.ID == c.ID:
			return errInvalid("cannot join own network")
		case c.Config.Hostname != "":
			return errInvalid("conflicting options: hostname and the network mode")
		case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
			return errInvalid("conflicting options: port publishing and the container type network mode")
		case len(hc.DNS) > 0 || len(hc.DNSSearch) > 0 || len(hc.DNSOptions) > 0:
			return errInvalid("conflicting options: dns and the network mode")
		case len(hc.ExtraHosts) > 0:
			return errInvalid("conflicting options: custom host-to-IP mapping and the network mode")
		case len(asked) > 0:
			return errInvalid("container sharing network namespace with another container cannot be connected to any other network")
		}
		target.mu.Lock()
		hc.NetworkMode = containerMode + target.c.ID
		c.Config.Hostname, c.Config.Domainname = target.c.Config.Hostname, target.c.Config.Domainname
		target.mu.Unlock()
		return nil
	}
	ports, err := portRequests(hc, c.Config.ExposedPorts)
	if err != nil {
		return err
	}
	c.Networks = map[string]*EndpointSettings{}
	var primaryAsk *EndpointSettings
	for ref, es := range asked {
		n, err := e.nets.Get(ref)
		if err != nil {
			return err
		}
		if n.ID == primary.ID {
			primaryAsk = es
		}
		if err := e.checkEndpoint(c, n, es, nil); err != nil {
			return err
		}
	}
	return e.checkEndpoint(c, primary, primaryAsk, ports)
}

// checkEndpoint checks one network membership and records it in c.
func (e *Engine) checkEndpoint(c *Container, n *network.Network, es *EndpointSettings, ports []network.PortRequest) error {
	s := askedEndpoint(n.ID, es)
	if _, err := e.nets.CheckConnect(n.ID, connectRequest(c, s, ports)); err != nil {
		return err
	}
	c.Networks[n.Name] = s
	return nil
}

// askedEndpoint is what a container asks of network netID (es may be
// nil): its aliases and addresses, none of what it got.
func askedEndpoint(netID string, es *EndpointSettings) *EndpointSettings {
	s := &EndpointSettings{NetworkID: netID}
	if es != nil {
		s.Aliases, s.IPv4Address, s.IPv6Address = es.Aliases, es.IPv4Address, es.IPv6Address
	}
	return s
}

func connectRequest(c *Container, s *EndpointSettings, ports []network.PortRequest) network.ConnectRequest {
	return network.ConnectRequest{ContainerID: c.ID, Name: c.Name, Aliases: s.Aliases,
		IP: s.IPv4Address, IP6: s.IPv6Address, Ports: ports, DNS: c.HostConfig.DNS}
}

// portRequests turns -p and -P into the network's port requests, in a
// stable order.
func portRequests(hc *HostConfig, exposed []string) ([]network.PortRequest, error) {
	var out []network.PortRequest
	keys := make([]string, 0, len(hc.PortBindings))
	for k := range hc.PortBindings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bound := map[string]bool{}
	for _, k := range keys {
		lo, hi, proto, err := parsePortKey(k)
		if err != nil {
			return nil, err
		}
		bound[fmt.Sprintf("%d/%s", lo, proto)] = true
		bindings := hc.PortBindings[k]
		if len(bindings) == 0 {
			bindings = []PortBinding{{}}
		}
		for _, b := range bindings {
			r := network.PortRequest{Proto: proto, HostIP: strings.Trim(b.HostIP, "[]"), ContainerPort: lo, ContainerPortEnd: hi}
			if b.HostPort != "" {
				if r.HostPort, r.HostPortEnd, err = parsePortRange(b.HostPort); err != nil {
					return nil, errInvalid("invalid host port %q for %s", b.HostPort, k)
				}
				if r.HostPortEnd == r.HostPort {
					r.HostPortEnd = 0
				}
			}
			out = append(out, r)
		}
	}
	if hc.PublishAllPorts {
		ex := append([]string(nil), exposed...)
		sort.Strings(ex)
		for _, k := range ex {
			lo, hi, proto, err := parsePortKey(k)
			if err != nil {
				return nil, err
			}
			for p := lo; p >= lo && p <= hi; p++ {
				if !bound[fmt.Sprintf("%d/%s", p, proto)] {
					out = append(out, network.PortRequest{Proto: proto, ContainerPort: p})
				}
			}
		}
	}
	return out, nil
}

// parsePortKey parses "80/tcp", "80" or "80-82/udp".
func parsePortKey(k string) (lo, hi uint16, proto string, err error) {
	port, proto, _ := strings.Cut(k, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return 0, 0, "", errInvalid("invalid port %q: protocol %q is not supported (tcp, udp)", k, proto)
	}
	if lo, hi, err = parsePortRange(port); err != nil || lo == 0 {
		return 0, 0, "", errInvalid("invalid port %q", k)
	}
	return lo, hi, proto, nil
}

// parsePortRange parses "8080" or "8000-8010".
func parsePortRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(b, 10, 16); err != nil {
			return 0, 0, err
		}
		if h < l {
			return 0, 0, fmt.Errorf("range %s ends before it starts", s)
		}
	}
	return uint16(l), uint16(h), nil
}

// networkNames are a container's networks, its primary network (its
// network mode) first, then by name.
func networkNames(c *Container) []string {
	names := make([]string, 0, len(c.Networks))
	for name := range c.Networks {
		if name != c.HostConfig.NetworkMode {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if _, ok := c.Networks[c.HostConfig.NetworkMode]; ok {
		names = append([]string{c.HostConfig.NetworkMode}, names...)
	}
	return names
}

// connectNetworks joins a starting container to its networks (addresses
// and ports are taken now, a port in use fails the start) and writes its
// /etc/hosts and /etc/resolv.conf for them. It returns the network
// namespace specgen wants: "host", "none" (a new one: Plumb fills it) or
// the path of another container's.
func (e *Engine) connectNetworks(x *ctr, c *Container) (string, error) {
	mode := c.HostConfig.NetworkMode
	switch {
	case mode == modeHost || mode == modeNone:
		return mode, nil
	case strings.HasPrefix(mode, containerMode):
		return e.joinContainerNetwork(c, strings.TrimPrefix(mode, containerMode))
	}
	if e.nets == nil {
		return "", errInvalid("network mode %q: this engine has no networking", mode)
	}
	ports, err := portRequests(&c.HostConfig, c.Config.ExposedPorts)
	if err != nil {
		return "", err
	}
	var ips []string
	var dnsServer string
	var published []PublishedPort
	settings := map[string]*EndpointSettings{}
	for i, name := range networkNames(c) {
		s := *c.Networks[name]
		var pr []network.PortRequest
		if i == 0 && name == mode {
			pr = ports
		}
		n, err := e.nets.Get(s.NetworkID)
		if err != nil {
			e.disconnectNetworks(c.ID)
			return "", fmt.Errorf("network %s: %w", name, err)
		}
		ep, err := e.nets.Connect(n.ID, connectRequest(c, &s, pr))
		if err != nil {
			e.disconnectNetworks(c.ID)
			return "", err
		}
		setEndpoint(&s, n, ep)
		settings[name] = &s
		ips = append(ips, s.IPAddress)
		if i == 0 && n.DNS() {
			dnsServer = n.Gateway.String()
		}
		for _, p := range ep.Ports {
			hip := "0.0.0.0"
			if p.HostIP.IsValid() {
				hip = p.HostIP.String()
			}
			published = append(published, PublishedPort{Proto: p.Proto, HostIP: hip, HostPort: p.HostPort, ContainerPort: p.ContainerPort})
		}
	}
	if err := e.writeNetworkFiles(c, ips, dnsServer); err != nil {
		e.disconnectNetworks(c.ID)
		return "", err
	}
	x.mu.Lock()
	for name, s := range settings {
		x.c.Networks[name] = s
	}
	x.c.Ports = published
	x.mu.Unlock()
	return modeNone, nil
}

// setEndpoint records in s what a container got on network n.
func setEndpoint(s *EndpointSettings, n *network.Network, ep *network.Endpoint) {
	s.EndpointID = endpointID(n.ID, ep.ContainerID)
	s.Gateway, s.IPAddress, s.IPPrefixLen, s.MacAddress = n.Gateway.String(), ep.IP.String(), n.Subnet.Bits(), ep.MAC
	if n.Internal {
		s.Gateway = "" // no way out
	}
	if ep.IP6.IsValid() {
		s.IPv6Gateway, s.GlobalIPv6Address, s.GlobalIPv6PrefixLen = n.Gateway6.String(), ep.IP6.String(), n.Subnet6.Bits()
	}
}

// endpointID names a container's endpoint on a network, as Docker shows
// one (64 hex digits), the same on every start.
func endpointID(netID, ctrID string) string {
	sum := sha256.Sum256([]byte(netID + "/" + ctrID))
	return hex.EncodeToString(sum[:])
}

// joinContainerNetwork is --network container:ID: the other container
// must run; its network namespace, /etc/hosts and /etc/resolv.conf are
// shared.
func (e *Engine) joinContainerNetwork(c *Container, ref string) (string, error) {
	t, err := e.get(ref)
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	running, pid := t.c.State.Running(), t.c.State.Pid
	hosts, resolv := t.c.HostsPath, t.c.ResolvConfPath
	t.mu.Unlock()
	if !running || pid <= 0 {
		return "", errConflict("cannot join network namespace of a non running container: container %s is not running", ref)
	}
	for src, dst := range map[string]string{hosts: c.HostsPath, resolv: c.ResolvConfPath} {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := atomicfile.Replace(dst, b, 0o644); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), nil
}

// writeNetworkFiles rewrites /etc/hosts with the container's addresses and
// /etc/resolv.conf with the network's DNS server (the embedded one on
// user-defined networks).
func (e *Engine) writeNetworkFiles(c *Container, ips []string, dnsServer string) error {
	hosts, err := hostsFile(c, ips)
	if err != nil {
		return err
	}
	resolv, err := resolvConf(c, readHostResolvConf(), dnsServer)
	if err != nil {
		return err
	}
	// Written again at every start, so without fsync (as saveSoon): a
	// crash makes them moot.
	if err := atomicfile.Replace(c.HostsPath, []byte(hosts), 0o644); err != nil {
		return err
	}
	return atomicfile.Replace(c.ResolvConfPath, []byte(resolv), 0o644)
}

// plumbNetworks puts a created container's endpoints into its network
// namespace, before its process runs.
func (e *Engine) plumbNetworks(c *Container, pid int) error {
	if e.nets == nil || c.HostConfig.NetworkMode == modeHost || c.HostConfig.NetworkMode == modeNone ||
		strings.HasPrefix(c.HostConfig.NetworkMode, containerMode) {
		return nil
	}
	ns := fmt.Sprintf("/proc/%d/ns/net", pid)
	for _, name := range networkNames(c) {
		if err := e.nets.Plumb(c.Networks[name].NetworkID, c.ID, ns); err != nil {
			return fmt.Errorf("network %s: %w", name, err)
		}
	}
	return nil
}

// disconnectNetworks releases a container's endpoints (addresses, ports,
// names, veths).
func (e *Engine) disconnectNetworks(id string) {
	if e.nets == nil {
		return
	}
	if err := e.nets.DisconnectAll(id); err != nil {
		e.warn(fmt.Sprintf("container %s: leave networks: %v", id, err))
	}
}

// clearEndpoints forgets what a stopped container had on its networks.
// x.mu is held.
func clearEndpoints(c *Container) {
	for name, s := range c.Networks {
		c.Networks[name] = askedEndpoint(s.NetworkID, s)
	}
	c.Ports = nil
}

// sweepEndpoints drops the endpoints of containers that do not run (a
// daemon that died while they exited, or removed them).
func (e *Engine) sweepEndpoints() {
	if e.nets == nil {
		return
	}
	for _, id := range e.nets.Containers() {
		x, err := e.get(id)
		if err == nil {
			x.mu.Lock()
			running := x.c.State.Running()
			x.mu.Unlock()
			if running {
				continue
			}
		}
		e.disconnectNetworks(id)
	}
}

// ConnectNetwork is docker network connect: a running container joins at
// once, a stopped one at its next start.
func (e *Engine) ConnectNetwork(ctx context.Context, netRef, ctrRef string, es *EndpointSettings) error {
	if e.nets == nil {
		return errInvalid("this engine has no networking")
	}
	n, err := e.nets.Get(netRef)
	if err != nil {
		return err
	}
	x, err := e.get(ctrRef)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	mode := x.c.HostConfig.NetworkMode
	switch {
	case n.Driver == network.DriverHost || mode == modeHost:
		return errInvalid("container cannot be disconnected from host network or connected to host network")
	case n.Driver == network.DriverNull || mode == modeNone:
		return errInvalid("container cannot be connected to multiple networks with one of the networks in private (none) mode")
	case strings.HasPrefix(mode, containerMode):
		return errInvalid("container sharing network namespace with another container cannot be connected to any other network")
	}
	if _, ok := x.c.Networks[n.Name]; ok {
		return errConflict("endpoint with name %s already exists in network %s", x.c.Name, n.Name)
	}
	s := askedEndpoint(n.ID, es)
	if x.c.State.Running() {
		ep, err := e.nets.Connect(n.ID, connectRequest(&x.c, s, nil))
		if err != nil {
			return err
		}
		if err := e.nets.Plumb(n.ID, x.c.ID, fmt.Sprintf("/proc/%d/ns/net", x.c.State.Pid)); err != nil {
			_ = e.nets.Disconnect(n.ID, x.c.ID, true)
			return err
		}
		setEndpoint(s, n, ep)
	} else if _, err := e.nets.CheckConnect(n.ID, connectRequest(&x.c, s, nil)); err != nil {
		return err
	}
	if x.c.Networks == nil {
		x.c.Networks = map[string]*EndpointSettings{}
	}
	x.c.Networks[n.Name] = s
	if err := e.save(x); err != nil {
		return err
	}
	e.networkEvent(n, "connect", x.c.ID)
	return nil
}

// DisconnectNetwork is docker network disconnect.
func (e *Engine) DisconnectNetwork(ctx context.Context, netRef, ctrRef string, force bool) error {
	if e.nets == nil {
		return errInvalid("this engine has no networking")
	}
	n, err := e.nets.Get(netRef)
	if err != nil {
		return err
	}
	x, err := e.get(ctrRef)
	if err != nil {
		if force && errors.Is(err, errdefs.ErrNotFound) {
			// A container gone: force drops whatever endpoint is left.
			return e.nets.Disconnect(n.ID, ctrRef, true)
		}
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if n.Driver != network.DriverBridge {
		return errInvalid("container cannot be disconnected from host network or connected to host network")
	}
	if _, ok := x.c.Networks[n.Name]; !ok {
		return errInvalid("container %s is not connected to network %s", x.c.ID[:12], n.Name)
	}
	if x.c.State.Running() {
		if err := e.nets.Disconnect(n.ID, x.c.ID, force); err != nil {
			return err
		}
	}
	delete(x.c.Networks, n.Name)
	if err := e.save(x); err != nil {
		return err
	}
	e.networkEvent(n, "disconnect", x.c.ID)
	return nil
}

// networkEvent publishes a network event with Docker's attributes.
func (e *Engine) networkEvent(n *network.Network, action, containerID string) {
	if e.bus == nil {
		return
	}
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	if containerID != "" {
		attrs["container"] = containerID
	}
	e.bus.Publish(events.Event{Type: "network", Action: action, Actor: events.Actor{ID: n.ID, Attributes: attrs}})
}

// netModeForSpec is the namespace specgen gets for a network mode at
// create's check (a container's namespace path is known only at start).
func netModeForSpec(mode string) string {
	if mode == modeHost {
		return modeHost
	}
	return modeNone
}

// notFoundAtCreate makes a network or container that a create names and
// that does not exist an invalid argument: to API clients a create's "not
// found" is a missing image (the docker CLI then tries to pull it).
func notFoundAtCreate(err error) error {
	if !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	return errInvalid("%s", strings.TrimSuffix(err.Error(), ": "+errdefs.ErrNotFound.Error()))
}

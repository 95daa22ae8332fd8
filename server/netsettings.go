package server

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
)

// A container's networking on the wire: -p and NetworkingConfig in,
// NetworkSettings and the ps Ports column out.

// enginePortBindings is -p for the engine: "80/tcp" to its host sides.
func enginePortBindings(pm network.PortMap) map[string][]engine.PortBinding {
	if len(pm) == 0 {
		return nil
	}
	out := make(map[string][]engine.PortBinding, len(pm))
	for p, bs := range pm {
		eb := make([]engine.PortBinding, 0, len(bs))
		for _, b := range bs {
			eb = append(eb, engine.PortBinding{HostIP: addrString(b.HostIP), HostPort: b.HostPort})
		}
		out[p.String()] = eb
	}
	return out
}

// apiPortBindings is HostConfig.PortBindings as inspect shows it (never
// null, as Docker's).
func apiPortBindings(in map[string][]engine.PortBinding) network.PortMap {
	out := network.PortMap{}
	for k, bs := range in {
		pr, err := network.ParsePortRange(k)
		if err != nil {
			continue
		}
		ab := make([]network.PortBinding, 0, len(bs))
		for _, b := range bs {
			ip, _ := netip.ParseAddr(strings.Trim(b.HostIP, "[]"))
			ab = append(ab, network.PortBinding{HostIP: ip, HostPort: b.HostPort})
		}
		for p := range pr.All() {
			out[p] = ab
		}
	}
	return out
}

// engineEndpoints is NetworkingConfig.EndpointsConfig for the engine.
// "default" is the docker CLI's name for the default network.
func engineEndpoints(in map[string]*network.EndpointSettings) (map[string]*engine.EndpointSettings, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]*engine.EndpointSettings, len(in))
	for name, es := range in {
		if name == network.NetworkDefault {
			name = network.NetworkBridge
		}
		s, err := engineEndpoint(name, es)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}

// engineEndpoint is one network's endpoint settings (create, connect):
// aliases and --ip/--ip6; what berth cannot do is refused, not dropped.
func engineEndpoint(netName string, es *network.EndpointSettings) (*engine.EndpointSettings, error) {
	s := &engine.EndpointSettings{}
	if es == nil {
		return s, nil
	}
	bad := func(what string) error {
		return fmt.Errorf("network %s: %s: %w", netName, what, errdefs.ErrInvalidArgument)
	}
	switch {
	case len(es.MacAddress) > 0:
		return nil, bad("setting a MAC address (--mac-address) is not supported")
	case len(es.Links) > 0:
		return nil, bad("links are not supported")
	case len(es.DriverOpts) > 0:
		return nil, bad("endpoint driver options (driver-opt) are not supported")
	case es.IPAMConfig != nil && len(es.IPAMConfig.LinkLocalIPs) > 0:
		return nil, bad("link-local addresses (--link-local-ip) are not supported")
	}
	s.Aliases = es.Aliases
	if c := es.IPAMConfig; c != nil {
		s.IPv4Address, s.IPv6Address = addrString(c.IPv4Address), addrString(c.IPv6Address)
	}
	return s, nil
}

// networkSettings is inspect's NetworkSettings. Ports are a running
// container's: each exposed or published container port, with its host
// sides (null for a port exposed only), as Docker's.
func networkSettings(c *engine.Container) *container.NetworkSettings {
	ns := &container.NetworkSettings{Ports: apiPorts(c), Networks: apiEndpoints(c)}
	if c.State.Running() && c.State.Pid > 0 && c.HostConfig.NetworkMode != "host" {
		ns.SandboxKey = fmt.Sprintf("/proc/%d/ns/net", c.State.Pid)
	}
	return ns
}

// apiEndpoints is NetworkSettings.Networks, by network name.
func apiEndpoints(c *engine.Container) map[string]*network.EndpointSettings {
	out := make(map[string]*network.EndpointSettings, len(c.Networks))
	for name, s := range c.Networks {
		if s != nil {
			out[name] = apiEndpoint(c, name, s)
		}
	}
	return out
}

func apiEndpoint(c *engine.Container, name string, s *engine.EndpointSettings) *network.EndpointSettings {
	es := &network.EndpointSettings{
		NetworkID: s.NetworkID, EndpointID: s.EndpointID, Aliases: s.Aliases,
		Gateway: parseAddr(s.Gateway), IPAddress: parseAddr(s.IPAddress), IPPrefixLen: s.IPPrefixLen,
		IPv6Gateway: parseAddr(s.IPv6Gateway), GlobalIPv6Address: parseAddr(s.GlobalIPv6Address), GlobalIPv6PrefixLen: s.GlobalIPv6PrefixLen,
	}
	if s.IPv4Address != "" || s.IPv6Address != "" {
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: parseAddr(s.IPv4Address), IPv6Address: parseAddr(s.IPv6Address)}
	}
	if mac, err := net.ParseMAC(s.MacAddress); err == nil {
		es.MacAddress = network.HardwareAddr(mac)
	}
	if name != network.NetworkBridge {
		// The names the network's DNS answers for the container.
		es.DNSNames = dedup(append(append([]string{c.Name}, s.Aliases...), shortID(c.ID)))
	}
	return es
}

// apiPorts is NetworkSettings.Ports: empty unless the container runs on a
// network of its own.
func apiPorts(c *engine.Container) network.PortMap {
	out := network.PortMap{}
	if !c.State.Running() || len(c.Networks) == 0 {
		return out
	}
	for _, k := range c.Config.ExposedPorts {
		if pr, err := network.ParsePortRange(k); err == nil {
			for p := range pr.All() {
				out[p] = nil
			}
		}
	}
	for _, pp := range c.Ports {
		p, ok := network.PortFrom(pp.ContainerPort, network.IPProtocol(pp.Proto))
		if !ok {
			continue
		}
		out[p] = append(out[p], network.PortBinding{HostIP: parseAddr(pp.HostIP), HostPort: strconv.Itoa(int(pp.HostPort))})
	}
	return out
}

// portSummaries is the Ports of GET /containers/json: one entry per host
// side of a published port, one with only PrivatePort for a port exposed
// and not published.
func portSummaries(c *engine.Container) []container.PortSummary {
	out := []container.PortSummary{}
	for p, bs := range apiPorts(c) {
		if len(bs) == 0 {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
			continue
		}
		for _, b := range bs {
			hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
			out = append(out, container.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.IP != b.IP {
			return a.IP.Less(b.IP)
		}
		return a.PublicPort < b.PublicPort
	})
	return out
}

// portsMatch is ps's publish and expose filters: v ("80", "80/udp",
// "8000-8080/tcp") overlaps one of the container ports in keys.
func portsMatch(v string, keys []string) bool {
	want, err := network.ParsePortRange(v)
	if err != nil {
		return false
	}
	for _, k := range keys {
		have, err := network.ParsePortRange(k)
		if err == nil && have.Proto() == want.Proto() && have.Start() <= want.End() && want.Start() <= have.End() {
			return true
		}
	}
	return false
}

// onNetwork is ps's network filter: the container is on the network of
// that name or id prefix (Docker's rule), or its network mode is v.
func onNetwork(c *engine.Container, v string) bool {
	if v == c.HostConfig.NetworkMode {
		return true
	}
	if _, ok := c.Networks[v]; ok {
		return true
	}
	for _, s := range c.Networks {
		if s != nil && v != "" && strings.HasPrefix(s.NetworkID, v) {
			return true
		}
	}
	return false
}

// legacyNetworkSettings is NetworkSettings with the fields that API
// versions before 1.52 still return: the default bridge network's
// endpoint, at the top (docker inspect -f '{{.NetworkSettings.IPAddress}}').
type legacyNetworkSettings struct {
	container.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

// legacyInspect is inspect's answer before API 1.52.
type legacyInspect struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

func withLegacyNetworkSettings(resp container.InspectResponse) legacyInspect {
	l := &legacyNetworkSettings{}
	if resp.NetworkSettings != nil {
		l.NetworkSettings = *resp.NetworkSettings
	}
	if es := l.Networks[network.NetworkBridge]; es != nil {
		l.EndpointID, l.Gateway, l.IPAddress, l.IPPrefixLen = es.EndpointID, addrString(es.Gateway), addrString(es.IPAddress), es.IPPrefixLen
		l.IPv6Gateway, l.GlobalIPv6Address, l.GlobalIPv6PrefixLen = addrString(es.IPv6Gateway), addrString(es.GlobalIPv6Address), es.GlobalIPv6PrefixLen
		if len(es.MacAddress) > 0 {
			l.MacAddress = es.MacAddress.String()
		}
	}
	return legacyInspect{InspectResponse: resp, NetworkSettings: l}
}

// parseAddr is an address, or the zero one (shown as "") for none.
func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(strings.Trim(s, "[]"))
	return a
}

// addrString is an address as a string, "" for none.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

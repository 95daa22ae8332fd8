package server

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strconv"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/events"
	bnetwork "github.com/berth-dev/berth/network"
)

func (s *Server) networkRoutes() {
	m := s.mux
	m.HandleFunc("GET /networks", s.networkList)
	m.HandleFunc("POST /networks/create", s.networkCreate)
	m.HandleFunc("POST /networks/prune", s.networkPrune)
	m.HandleFunc("GET /networks/{id}", s.networkInspect)
	m.HandleFunc("DELETE /networks/{id}", s.networkDelete)
	m.HandleFunc("POST /networks/{id}/connect", s.networkConnect)
	m.HandleFunc("POST /networks/{id}/disconnect", s.networkDisconnect)
}

// errNoNetworking answers network requests to a daemon without
// networking.
var errNoNetworking = fmt.Errorf("networking is disabled (the daemon was started with --bridge none): %w", errdefs.ErrNotImplemented)

// networks is the daemon's network manager; nil without networking.
func (s *Server) networks() *bnetwork.Manager {
	if s.engine == nil {
		return nil
	}
	return s.engine.Networks()
}

// addModeNetwork adds to a container's networks the host or none network
// its network mode names (the engine keeps no endpoint there), as Docker
// lists it.
func (s *Server) addModeNetwork(nets map[string]*network.EndpointSettings, c *engine.Container) {
	mode := c.HostConfig.NetworkMode
	m := s.networks()
	if m == nil || (mode != network.NetworkHost && mode != network.NetworkNone) {
		return
	}
	if n, err := m.Get(mode); err == nil {
		nets[mode] = &network.EndpointSettings{NetworkID: n.ID}
	}
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) {
	f, err := filters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	match, err := networkFilter(f)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []network.Summary{}
	m := s.networks()
	if m == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	_, needUse := f["dangling"]
	for _, n := range m.List() {
		if match(n, needUse && len(m.Endpoints(n.ID)) > 0) {
			out = append(out, network.Summary{Network: apiNetwork(n)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// networkFilter is docker network ls --filter, with Docker's rules: name
// and id match whole or as a regular expression (so any part), driver and
// scope exactly, label by key or key=value, type custom or builtin,
// dangling true (user-defined networks without containers) or false.
func networkFilter(f map[string][]string) (func(n *bnetwork.Network, inUse bool) bool, error) {
	for k, vs := range f {
		switch k {
		case "name", "id", "driver", "scope", "label", "dangling":
		case "type":
			for _, v := range vs {
				if v != "custom" && v != "builtin" {
					return nil, fmt.Errorf("invalid filter: 'type'='%s': %w", v, errdefs.ErrInvalidArgument)
				}
			}
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalidArgument)
		}
	}
	dangling, err := danglingFilter(f)
	if err != nil {
		return nil, err
	}
	any := func(key string, ok func(string) bool) bool { return anyValue(f, key, ok) }
	return func(n *bnetwork.Network, inUse bool) bool {
		return any("name", func(v string) bool { return matchRegexp(v, n.Name) }) &&
			any("id", func(v string) bool { return matchRegexp(v, n.ID) }) &&
			any("driver", func(v string) bool { return v == n.Driver }) &&
			any("scope", func(v string) bool { return v == "local" }) &&
			labelsMatch(f["label"], n.Labels) &&
			any("type", func(v string) bool { return (v == "builtin") == n.Predefined() }) &&
			(dangling == nil || *dangling == (!n.Predefined() && !inUse))
	}, nil
}

// danglingFilter is the dangling filter's one value, nil if it is not
// given.
func danglingFilter(f map[string][]string) (*bool, error) {
	vs, ok := f["dangling"]
	if !ok {
		return nil, nil
	}
	if len(vs) != 1 {
		return nil, fmt.Errorf(`got more than one value for filter key "dangling": %w`, errdefs.ErrInvalidArgument)
	}
	var d bool
	switch vs[0] {
	case "1", "true":
		d = true
	case "0", "false":
	default:
		return nil, fmt.Errorf(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0"): %w`, errdefs.ErrInvalidArgument)
	}
	return &d, nil
}

// matchRegexp is Docker's filter match: equal, or the value as a regular
// expression matches.
func matchRegexp(pattern, s string) bool {
	if pattern == s {
		return true
	}
	ok, err := regexp.MatchString(pattern, s)
	return err == nil && ok
}

// apiNetwork is a network as GET /networks shows it.
func apiNetwork(n *bnetwork.Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: true, EnableIPv6: n.IPv6, Internal: n.Internal,
		IPAM:    network.IPAM{Driver: "default"},
		Options: maps.Clone(n.Options), Labels: maps.Clone(n.Labels),
	}
	if n.Driver == bnetwork.DriverBridge {
		if n.Subnet.IsValid() {
			c := network.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway}
			if n.IPRange.IsValid() && n.IPRange != n.Subnet {
				c.IPRange = n.IPRange
			}
			out.IPAM.Config = append(out.IPAM.Config, c)
		}
		if n.Subnet6.IsValid() {
			out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: n.Subnet6, Gateway: n.Gateway6})
		}
		if n.Name != bnetwork.DefaultName {
			out.IPAM.Options = map[string]string{}
		}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Name == bnetwork.DefaultName {
		// What Docker shows of docker0.
		mtu := n.MTU
		if mtu == 0 {
			mtu = 1500
		}
		out.Options = map[string]string{
			"com.docker.network.bridge.default_bridge":       "true",
			"com.docker.network.bridge.enable_icc":           "true",
			"com.docker.network.bridge.enable_ip_masquerade": "true",
			"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
			"com.docker.network.bridge.name":                 n.Bridge,
			"com.docker.network.driver.mtu":                  strconv.Itoa(mtu),
		}
	}
	return out
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) {
	m := s.networks()
	if m == nil {
		writeError(w, errNoNetworking)
		return
	}
	n, err := m.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if sc := r.URL.Query().Get("scope"); sc != "" && sc != "local" {
		writeError(w, fmt.Errorf("network %s not found: %w", r.PathValue("id"), errdefs.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, network.Inspect{Network: apiNetwork(n), Containers: s.networkContainers(m, n)})
}

// networkContainers are the running containers on a network: its
// endpoints, or for host and none the containers in that network mode.
func (s *Server) networkContainers(m *bnetwork.Manager, n *bnetwork.Network) map[string]network.EndpointResource {
	out := map[string]network.EndpointResource{}
	if n.Driver != bnetwork.DriverBridge {
		for _, c := range s.engine.List() {
			if c.State.Running() && c.HostConfig.NetworkMode == n.Name {
				out[c.ID] = network.EndpointResource{Name: c.Name}
			}
		}
		return out
	}
	for _, ep := range m.Endpoints(n.ID) {
		res := network.EndpointResource{Name: ep.Name}
		if ep.IP.IsValid() {
			res.IPv4Address = netip.PrefixFrom(ep.IP, n.Subnet.Bits())
		}
		if ep.IP6.IsValid() {
			res.IPv6Address = netip.PrefixFrom(ep.IP6, n.Subnet6.Bits())
		}
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			res.MacAddress = network.HardwareAddr(mac)
		}
		if c, err := s.engine.Get(ep.ContainerID); err == nil {
			res.Name = c.Name
			if es := c.Networks[n.Name]; es != nil {
				res.EndpointID = es.EndpointID
			}
		}
		out[ep.ContainerID] = res
	}
	return out
}

func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) {
	m := s.networks()
	if m == nil {
		writeError(w, errNoNetworking)
		return
	}
	var req network.CreateRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		// Bad addresses fail here, in netip's parsers.
		writeError(w, fmt.Errorf("invalid network config: %v: %w", err, errdefs.ErrInvalidArgument))
		return
	}
	creq, err := managerCreate(req)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := m.Create(creq)
	if err != nil {
		writeError(w, err)
		return
	}
	s.networkEvent(n, "create")
	writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

// managerCreate translates network create for the network manager,
// refusing what a local bridge network cannot be.
func managerCreate(req network.CreateRequest) (bnetwork.CreateRequest, error) {
	bad := func(format string, args ...any) (bnetwork.CreateRequest, error) {
		return bnetwork.CreateRequest{}, fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	switch {
	case req.Name == "":
		return bad("a network needs a name")
	case req.Driver == bnetwork.DriverHost || req.Driver == bnetwork.DriverNull:
		return bad("only one instance of %q network is allowed", req.Driver)
	case req.Scope != "" && req.Scope != "local":
		return bad("network scope %q is not supported (local): berth has no swarm mode", req.Scope)
	case req.Ingress:
		return bad("ingress networks are not supported: berth has no swarm mode")
	case req.ConfigOnly || req.ConfigFrom != nil && req.ConfigFrom.Network != "":
		return bad("config-only networks (--config-only, --config-from) are not supported")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return bad("networks without IPv4 (--ipv4=false) are not supported")
	}
	out := bnetwork.CreateRequest{Name: req.Name, Driver: req.Driver, Internal: req.Internal,
		IPv6: req.EnableIPv6 != nil && *req.EnableIPv6, Labels: req.Labels, Options: req.Options}
	if v, ok := req.Options["com.docker.network.enable_ipv6"]; ok && req.EnableIPv6 == nil {
		// Docker's older spelling of EnableIPv6 (compose files have it).
		b, err := strconv.ParseBool(v)
		if err != nil {
			return bad("invalid com.docker.network.enable_ipv6 %q", v)
		}
		out.IPv6 = b
	}
	if out.Driver == "" {
		out.Driver = bnetwork.DriverBridge
	}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != "default" {
			return bad("IPAM driver %q is not supported (default)", ipam.Driver)
		}
		if len(ipam.Options) > 0 {
			return bad("IPAM driver options (--ipam-opt) are not supported")
		}
		var v4, v6 int
		for _, c := range ipam.Config {
			if len(c.AuxAddress) > 0 {
				return bad("auxiliary addresses (--aux-address) are not supported")
			}
			if ipamIs6(c) {
				v6++
				if v6 > 1 {
					return bad("berth takes one IPv6 subnet per network, not %s and %s", out.Subnet6, prefixString(c.Subnet))
				}
				if !out.IPv6 {
					return bad("IPv6 subnet %s needs IPv6 on the network (--ipv6)", prefixString(c.Subnet))
				}
				if c.IPRange.IsValid() {
					return bad("an IPv6 --ip-range (%s) is not supported", c.IPRange)
				}
				out.Subnet6, out.Gateway6 = prefixString(c.Subnet), addrString(c.Gateway)
				continue
			}
			v4++
			if v4 > 1 {
				return bad("berth takes one IPv4 subnet per network, not %s and %s", out.Subnet, prefixString(c.Subnet))
			}
			out.Subnet, out.Gateway, out.IPRange = prefixString(c.Subnet), addrString(c.Gateway), prefixString(c.IPRange)
		}
	}
	return out, nil
}

// ipamIs6 tells an IPv6 address pool from an IPv4 one, by whichever
// address it has.
func ipamIs6(c network.IPAMConfig) bool {
	switch {
	case c.Subnet.IsValid():
		return c.Subnet.Addr().Is6()
	case c.Gateway.IsValid():
		return c.Gateway.Is6()
	case c.IPRange.IsValid():
		return c.IPRange.Addr().Is6()
	}
	return false
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func (s *Server) networkDelete(w http.ResponseWriter, r *http.Request) {
	m := s.networks()
	if m == nil {
		writeError(w, errNoNetworking)
		return
	}
	n, err := m.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := m.Remove(n.ID); err != nil {
		writeError(w, err)
		return
	}
	s.networkEvent(n, "destroy")
	w.WriteHeader(http.StatusNoContent)
}

// networkPrune removes the user-defined networks no running container is
// on, older than until and with the labels asked.
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) {
	f, until, err := pruneFilters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rep := network.PruneReport{NetworksDeleted: []string{}}
	m := s.networks()
	if m == nil {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	for _, n := range m.List() {
		if n.Predefined() || len(m.Endpoints(n.ID)) > 0 {
			continue
		}
		if !until.IsZero() && !n.Created.Before(until) {
			continue
		}
		if !labelsMatch(f["label"], n.Labels) || labelsExclude(f["label!"], n.Labels) {
			continue
		}
		if err := m.Remove(n.ID); err != nil {
			continue // a container joined meanwhile
		}
		s.networkEvent(n, "destroy")
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	sort.Strings(rep.NetworksDeleted)
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) {
	if s.networks() == nil {
		writeError(w, errNoNetworking)
		return
	}
	var req network.ConnectRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, fmt.Errorf("no container given to connect: %w", errdefs.ErrInvalidArgument))
		return
	}
	es, err := engineEndpoint(r.PathValue("id"), req.EndpointConfig)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := s.engine.ConnectNetwork(r.Context(), r.PathValue("id"), req.Container, es); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) {
	if s.networks() == nil {
		writeError(w, errNoNetworking)
		return
	}
	var req network.DisconnectRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Container == "" {
		writeError(w, fmt.Errorf("no container given to disconnect: %w", errdefs.ErrInvalidArgument))
		return
	}
	if err := s.engine.DisconnectNetwork(r.Context(), r.PathValue("id"), req.Container, req.Force); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// networkEvent publishes a network's create or destroy, with Docker's
// attributes (the engine publishes connect and disconnect).
func (s *Server) networkEvent(n *bnetwork.Network, action string) {
	if s.events == nil {
		return
	}
	s.events.Publish(events.Event{Type: "network", Action: action,
		Actor: events.Actor{ID: n.ID, Attributes: map[string]string{"name": n.Name, "type": n.Driver}}})
}

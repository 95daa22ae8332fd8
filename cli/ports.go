package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// convertPublishLong turns the long -p syntax (target=80,published=8080,
// protocol=udp) into the short one, as the docker CLI does.
func convertPublishLong(ports []string) ([]string, error) {
	var out []string
	for _, p := range ports {
		if !strings.Contains(p, "=") {
			out = append(out, p)
			continue
		}
		params := map[string]string{"protocol": "tcp"}
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", kv)
			}
			params[k] = v
		}
		if _, ok := params["target"]; !ok {
			return nil, errors.New("missing required field 'target'")
		}
		if pub := params["published"]; pub != "" {
			out = append(out, fmt.Sprintf("%s:%s/%s", pub, params["target"], params["protocol"]))
		} else {
			out = append(out, fmt.Sprintf("%s/%s", params["target"], params["protocol"]))
		}
	}
	return out, nil
}

// splitProtoPort splits "80/udp" into ("udp", "80"); tcp by default.
func splitProtoPort(raw string) (proto, port string) {
	parts := strings.Split(raw, "/")
	switch {
	case len(parts) == 0 || parts[0] == "":
		return "", ""
	case len(parts) == 1:
		return "tcp", raw
	case parts[1] == "":
		return "tcp", parts[0]
	}
	return parts[1], parts[0]
}

func parsePortRange(ports string) (uint64, uint64, error) {
	if ports == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	if !strings.Contains(ports, "-") {
		start, err := strconv.ParseUint(ports, 10, 16)
		return start, start, err
	}
	s, e, _ := strings.Cut(ports, "-")
	start, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end, err := strconv.ParseUint(e, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("invalid range specified for port: " + ports)
	}
	return start, end, nil
}

// parsePortSpecs parses -p values ([ip:][hostPort[-end]:]containerPort[-end][/proto])
// as docker/go-connections nat.ParsePortSpecs.
func parsePortSpecs(specs []string) (network.PortSet, network.PortMap, error) {
	exposed, bindings := network.PortSet{}, network.PortMap{}
	for _, raw := range specs {
		parts := strings.Split(raw, ":")
		n := len(parts)
		var ip, hostPort string
		containerPort := parts[n-1]
		switch {
		case n == 2:
			hostPort = parts[0]
		case n == 3:
			ip, hostPort = parts[0], parts[1]
		case n > 3:
			ip, hostPort = strings.Join(parts[:n-2], ":"), parts[n-2]
		}
		proto, containerPort := splitProtoPort(containerPort)
		if ip != "" && ip[0] == '[' {
			h, _, err := net.SplitHostPort(ip + ":")
			if err != nil {
				return nil, nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
			}
			ip = h
		}
		var hostIP netip.Addr
		if ip != "" {
			a, err := netip.ParseAddr(ip)
			if err != nil || net.ParseIP(ip) == nil {
				return nil, nil, errors.New("invalid IP address: " + ip)
			}
			hostIP = a
		}
		if containerPort == "" {
			return nil, nil, fmt.Errorf("no port specified: %s<empty>", raw)
		}
		start, end, err := parsePortRange(containerPort)
		if err != nil {
			return nil, nil, errors.New("invalid containerPort: " + containerPort)
		}
		var hStart, hEnd uint64
		if hostPort != "" {
			if hStart, hEnd, err = parsePortRange(hostPort); err != nil {
				return nil, nil, errors.New("invalid hostPort: " + hostPort)
			}
		}
		if hostPort != "" && end-start != hEnd-hStart && end != start {
			return nil, nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
		switch strings.ToLower(proto) {
		case "tcp", "udp", "sctp":
		default:
			return nil, nil, errors.New("invalid proto: " + proto)
		}
		for i := uint64(0); i <= end-start; i++ {
			hp := hostPort
			if hostPort != "" {
				hp = strconv.FormatUint(hStart+i, 10)
			}
			if start == end && hStart != hEnd {
				hp = fmt.Sprintf("%s-%d", hp, hEnd)
			}
			p, ok := network.PortFrom(uint16(start+i), network.IPProtocol(strings.ToLower(proto)))
			if !ok {
				return nil, nil, fmt.Errorf("invalid port: %s", raw)
			}
			exposed[p] = struct{}{}
			bindings[p] = append(bindings[p], network.PortBinding{HostIP: hostIP, HostPort: hp})
		}
	}
	return exposed, bindings, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("invalid IP address: %s", s)
	}
	return a, nil
}

func parseAddrs(list []string) ([]netip.Addr, error) {
	if list == nil {
		return nil, nil
	}
	out := make([]netip.Addr, 0, len(list))
	for _, s := range list {
		a, err := parseAddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

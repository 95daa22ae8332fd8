package server

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/engine"
)

func TestPortBindingsBothWays(t *testing.T) {
	in := network.PortMap{
		network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "18080"}, {HostPort: "18081"}},
		network.MustParsePort("53/udp"): {{HostPort: "5353"}},
		network.MustParsePort("3000"):   {},
	}
	eng := enginePortBindings(in)
	want := map[string][]engine.PortBinding{
		"80/tcp":   {{HostIP: "127.0.0.1", HostPort: "18080"}, {HostPort: "18081"}},
		"53/udp":   {{HostPort: "5353"}},
		"3000/tcp": {},
	}
	if !reflect.DeepEqual(eng, want) {
		t.Errorf("enginePortBindings = %#v, want %#v", eng, want)
	}
	if back := apiPortBindings(eng); !reflect.DeepEqual(back, in) {
		t.Errorf("apiPortBindings = %v, want %v", back, in)
	}
	if got := enginePortBindings(nil); got != nil {
		t.Errorf("enginePortBindings(nil) = %v", got)
	}
	// Inspect shows {} for none, and a range key port by port.
	if got, _ := json.Marshal(apiPortBindings(nil)); string(got) != "{}" {
		t.Errorf("apiPortBindings(nil) = %s", got)
	}
	got := apiPortBindings(map[string][]engine.PortBinding{"80-81/tcp": {{HostPort: "8000-8001"}}})
	if len(got) != 2 || got[network.MustParsePort("81/tcp")][0].HostPort != "8000-8001" {
		t.Errorf("apiPortBindings of a range = %v", got)
	}
}

func TestEngineEndpoints(t *testing.T) {
	got, err := engineEndpoints(map[string]*network.EndpointSettings{
		"default": nil,
		"app": {Aliases: []string{"db"}, IPAMConfig: &network.EndpointIPAMConfig{
			IPv4Address: netip.MustParseAddr("10.1.0.5"), IPv6Address: netip.MustParseAddr("fd00::5")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*engine.EndpointSettings{
		"bridge": {},
		"app":    {Aliases: []string{"db"}, IPv4Address: "10.1.0.5", IPv6Address: "fd00::5"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("engineEndpoints = %v, want %v", got, want)
	}
	for what, es := range map[string]*network.EndpointSettings{
		"MAC address": {MacAddress: network.HardwareAddr{2, 0, 0, 0, 0, 1}},
		"links":       {Links: []string{"db:db"}},
		"driver opt":  {DriverOpts: map[string]string{"a": "b"}},
		"link-local":  {IPAMConfig: &network.EndpointIPAMConfig{LinkLocalIPs: []netip.Addr{netip.MustParseAddr("169.254.0.5")}}},
	} {
		if _, err := engineEndpoints(map[string]*network.EndpointSettings{"app": es}); err == nil || !strings.Contains(err.Error(), "network app") {
			t.Errorf("%s: err = %v, want a refusal naming the network", what, err)
		}
	}
}

// running is a container on app and the default bridge, publishing 80
// twice and exposing 81 and 82-83.
func running() *engine.Container {
	c := &engine.Container{ID: "0123456789abcdef0123", Name: "web"}
	c.State.Status = engine.StatusRunning
	c.State.Pid = 42
	c.HostConfig.NetworkMode = "bridge"
	c.HostConfig.PortBindings = map[string][]engine.PortBinding{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "18080"}, {HostPort: "18081"}}}
	c.Config.ExposedPorts = []string{"80/tcp", "81/tcp", "82-83/udp"}
	c.Networks = map[string]*engine.EndpointSettings{
		"bridge": {NetworkID: "b1", EndpointID: "e1", Gateway: "172.17.0.1", IPAddress: "172.17.0.2", IPPrefixLen: 16, MacAddress: "02:42:ac:11:00:02"},
		"app":    {NetworkID: "a1", Aliases: []string{"www", "web"}, IPv4Address: "172.18.0.9", IPAddress: "172.18.0.9", IPPrefixLen: 16},
	}
	c.Ports = []engine.PublishedPort{
		{Proto: "tcp", HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80},
		{Proto: "tcp", HostIP: "0.0.0.0", HostPort: 18081, ContainerPort: 80},
	}
	return c
}

func TestNetworkSettings(t *testing.T) {
	c := running()
	ns := networkSettings(c)
	b, _ := json.Marshal(ns.Ports)
	if want := `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"18080"},{"HostIp":"0.0.0.0","HostPort":"18081"}],"81/tcp":null,"82/udp":null,"83/udp":null}`; string(b) != want {
		t.Errorf("Ports = %s\nwant %s", b, want)
	}
	if ns.SandboxKey != "/proc/42/ns/net" {
		t.Errorf("SandboxKey = %q", ns.SandboxKey)
	}
	br, app := ns.Networks["bridge"], ns.Networks["app"]
	if br == nil || app == nil {
		t.Fatalf("Networks = %v", ns.Networks)
	}
	if br.IPAddress.String() != "172.17.0.2" || br.Gateway.String() != "172.17.0.1" || br.MacAddress.String() != "02:42:ac:11:00:02" ||
		br.IPAMConfig != nil || br.DNSNames != nil || br.EndpointID != "e1" {
		t.Errorf("bridge endpoint = %+v", br)
	}
	if app.IPAMConfig == nil || app.IPAMConfig.IPv4Address.String() != "172.18.0.9" {
		t.Errorf("app IPAMConfig = %+v", app.IPAMConfig)
	}
	if want := []string{"web", "www", "0123456789ab"}; !reflect.DeepEqual(app.DNSNames, want) {
		t.Errorf("app DNSNames = %v, want %v", app.DNSNames, want)
	}
	if b, _ := json.Marshal(app); !strings.Contains(string(b), `"Gateway":""`) || !strings.Contains(string(b), `"MacAddress":""`) {
		t.Errorf("app endpoint JSON = %s, want empty strings for what it lacks", b)
	}

	// Stopped: no ports, the networks as asked.
	c.State.Status, c.State.Pid, c.Ports = engine.StatusExited, 0, nil
	ns = networkSettings(c)
	if len(ns.Ports) != 0 || ns.Ports == nil || ns.SandboxKey != "" {
		t.Errorf("stopped: Ports = %v, SandboxKey = %q", ns.Ports, ns.SandboxKey)
	}
	// Host mode: no ports of its own.
	c = running()
	c.HostConfig.NetworkMode, c.Networks, c.Ports = "host", nil, nil
	if ns := networkSettings(c); len(ns.Ports) != 0 || ns.SandboxKey != "" {
		t.Errorf("host mode: Ports = %v, SandboxKey = %q", ns.Ports, ns.SandboxKey)
	}
}

func TestPortSummaries(t *testing.T) {
	got := portSummaries(running())
	ip := netip.MustParseAddr
	want := []container.PortSummary{
		{IP: ip("0.0.0.0"), PrivatePort: 80, PublicPort: 18081, Type: "tcp"},
		{IP: ip("127.0.0.1"), PrivatePort: 80, PublicPort: 18080, Type: "tcp"},
		{PrivatePort: 81, Type: "tcp"},
		{PrivatePort: 82, Type: "udp"},
		{PrivatePort: 83, Type: "udp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("portSummaries = %+v\nwant %+v", got, want)
	}
	c := running()
	c.State.Status = engine.StatusExited
	if got := portSummaries(c); got == nil || len(got) != 0 {
		t.Errorf("portSummaries of a stopped container = %#v, want []", got)
	}
}

func TestPortsMatch(t *testing.T) {
	keys := []string{"80/tcp", "8000-8010/tcp", "53/udp"}
	for v, want := range map[string]bool{
		"80": true, "80/tcp": true, "80/udp": false, "53/udp": true, "53": false,
		"8005": true, "7990-8000/tcp": true, "8011-8020": false, "81": false, "nonsense": false,
	} {
		if got := portsMatch(v, keys); got != want {
			t.Errorf("portsMatch(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestOnNetwork(t *testing.T) {
	c := running()
	for v, want := range map[string]bool{"app": true, "bridge": true, "a1": true, "a": true, "b1": true, "back": false, "e1": false} {
		if got := onNetwork(c, v); got != want {
			t.Errorf("onNetwork(%q) = %v, want %v", v, got, want)
		}
	}
	c.HostConfig.NetworkMode, c.Networks = "host", nil
	if !onNetwork(c, "host") || onNetwork(c, "bridge") {
		t.Errorf("onNetwork of a host-mode container")
	}
}

func TestLegacyNetworkSettings(t *testing.T) {
	resp := inspectResponse(running(), nil, nil)
	b, err := json.Marshal(withLegacyNetworkSettings(resp))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID              string `json:"Id"`
		NetworkSettings map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ns := got.NetworkSettings
	if got.ID != resp.ID || ns["IPAddress"] != "172.17.0.2" || ns["Gateway"] != "172.17.0.1" || ns["IPPrefixLen"] != 16.0 ||
		ns["MacAddress"] != "02:42:ac:11:00:02" || ns["EndpointID"] != "e1" || ns["Networks"] == nil || ns["Ports"] == nil {
		t.Errorf("legacy NetworkSettings = %v", ns)
	}
	// From 1.52 on, not there.
	b, _ = json.Marshal(resp)
	if strings.Contains(string(b), `"IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","MacAddress"`) {
		t.Errorf("current NetworkSettings has the legacy fields: %s", b)
	}
}

func TestEngineCreateNetworking(t *testing.T) {
	hc := &container.HostConfig{NetworkMode: "app", PublishAllPorts: true,
		PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: "8080"}}}}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"app": {Aliases: []string{"db"}}}}
	req, err := engineCreate("db", &container.Config{Image: "busybox"}, hc, nc)
	if err != nil {
		t.Fatal(err)
	}
	if !req.HostConfig.PublishAllPorts || req.HostConfig.PortBindings["80/tcp"][0].HostPort != "8080" ||
		req.Networks["app"] == nil || req.Networks["app"].Aliases[0] != "db" {
		t.Errorf("engineCreate = %+v", req)
	}
	// What the docker CLI sends for a plain run: nothing asked of the
	// mode's network, so nothing for the engine.
	for _, mode := range []container.NetworkMode{"", "default", "bridge"} {
		for _, key := range []string{"default", "bridge"} {
			nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{key: {}}}
			req, err := engineCreate("", &container.Config{}, &container.HostConfig{NetworkMode: mode}, nc)
			if err != nil || len(req.Networks) != 0 {
				t.Errorf("mode %q, endpoint %q: Networks = %v, %v", mode, key, req.Networks, err)
			}
		}
	}
	nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"default": {Aliases: []string{"x"}}, "app": {}}}
	if req, _ := engineCreate("", &container.Config{}, &container.HostConfig{}, nc); len(req.Networks) != 2 || req.Networks["bridge"] == nil {
		t.Errorf("endpoints with something asked: %v", req.Networks)
	}
	c := &engine.Container{HostConfig: req.HostConfig}
	out := inspectResponse(c, nil, nil)
	if !out.HostConfig.PublishAllPorts || out.HostConfig.PortBindings[network.MustParsePort("80/tcp")][0].HostPort != "8080" {
		t.Errorf("inspect HostConfig = %+v", out.HostConfig)
	}
}

package server

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"

	bnetwork "github.com/berth-dev/berth/network"
)

var testNets = []*bnetwork.Network{
	{ID: "aaaa1111", Name: "bridge", Driver: "bridge", Bridge: "berth0"},
	{ID: "bbbb2222", Name: "host", Driver: "host"},
	{ID: "cccc3333", Name: "none", Driver: "null"},
	{ID: "dddd4444", Name: "app", Driver: "bridge", Labels: map[string]string{"team": "a"}},
	{ID: "eeee5555", Name: "back-end", Driver: "bridge", Labels: map[string]string{"team": "b", "tier": "db"}},
}

// inUse: app has a running container.
func inUse(n *bnetwork.Network) bool { return n.Name == "app" }

func TestNetworkFilter(t *testing.T) {
	for _, c := range []struct {
		f    map[string][]string
		want string
	}{
		{nil, "bridge host none app back-end"},
		{map[string][]string{"name": {"app"}}, "app"},
		{map[string][]string{"name": {"a"}}, "app back-end"}, // any part, as Docker
		{map[string][]string{"name": {"^b"}}, "bridge back-end"},
		{map[string][]string{"name": {"app", "none"}}, "none app"},
		{map[string][]string{"id": {"dddd"}}, "app"},
		{map[string][]string{"id": {"5555"}}, "back-end"},
		{map[string][]string{"driver": {"bridge"}}, "bridge app back-end"},
		{map[string][]string{"driver": {"bri"}}, ""},
		{map[string][]string{"label": {"team"}}, "app back-end"},
		{map[string][]string{"label": {"team=b"}}, "back-end"},
		{map[string][]string{"label": {"team", "tier=db"}}, "back-end"},
		{map[string][]string{"type": {"custom"}}, "app back-end"},
		{map[string][]string{"type": {"builtin"}}, "bridge host none"},
		{map[string][]string{"type": {"builtin", "custom"}}, "bridge host none app back-end"},
		{map[string][]string{"dangling": {"true"}}, "back-end"},
		{map[string][]string{"dangling": {"0"}}, "bridge host none app"},
		{map[string][]string{"scope": {"local"}}, "bridge host none app back-end"},
		{map[string][]string{"scope": {"swarm"}}, ""},
		{map[string][]string{"driver": {"bridge"}, "type": {"custom"}, "dangling": {"false"}}, "app"},
	} {
		match, err := networkFilter(c.f)
		if err != nil {
			t.Errorf("%v: %v", c.f, err)
			continue
		}
		var got []string
		for _, n := range testNets {
			if match(n, inUse(n)) {
				got = append(got, n.Name)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("filter %v: %q, want %q", c.f, strings.Join(got, " "), c.want)
		}
	}
	for _, f := range []map[string][]string{
		{"bogus": {"x"}}, {"type": {"other"}}, {"dangling": {"maybe"}}, {"dangling": {"true", "false"}}, {"dangling": {}},
	} {
		if _, err := networkFilter(f); err == nil {
			t.Errorf("filter %v: no error", f)
		}
	}
}

func TestManagerCreate(t *testing.T) {
	yes, no := true, false
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	got, err := managerCreate(network.CreateRequest{Name: "app", Internal: true, EnableIPv6: &yes,
		Labels: map[string]string{"a": "b"}, Options: map[string]string{"com.docker.network.driver.mtu": "1400"},
		IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{
			{Subnet: pfx("fd00:1::/64"), Gateway: addr("fd00:1::1")},
			{Subnet: pfx("10.9.0.0/16"), IPRange: pfx("10.9.1.0/24"), Gateway: addr("10.9.0.254")},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	want := bnetwork.CreateRequest{Name: "app", Driver: "bridge", Internal: true, IPv6: true,
		Subnet: "10.9.0.0/16", IPRange: "10.9.1.0/24", Gateway: "10.9.0.254", Subnet6: "fd00:1::/64", Gateway6: "fd00:1::1",
		Labels: map[string]string{"a": "b"}, Options: map[string]string{"com.docker.network.driver.mtu": "1400"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("managerCreate = %+v\nwant %+v", got, want)
	}
	if got, err := managerCreate(network.CreateRequest{Name: "x", Options: map[string]string{"com.docker.network.enable_ipv6": "true"}}); err != nil || !got.IPv6 {
		t.Errorf("com.docker.network.enable_ipv6: %+v, %v", got, err)
	}
	for want, req := range map[string]network.CreateRequest{
		"needs a name":          {},
		`"host"`:                {Name: "x", Driver: "host"},
		`"null"`:                {Name: "x", Driver: "null"},
		"swarm":                 {Name: "x", Scope: "swarm"},
		"ingress":               {Name: "x", Ingress: true},
		"config-only":           {Name: "x", ConfigOnly: true},
		"--config-from":         {Name: "x", ConfigFrom: &network.ConfigReference{Network: "y"}},
		"without IPv4":          {Name: "x", EnableIPv4: &no},
		`IPAM driver "foo"`:     {Name: "x", IPAM: &network.IPAM{Driver: "foo"}},
		"--ipam-opt":            {Name: "x", IPAM: &network.IPAM{Options: map[string]string{"a": "b"}}},
		"--aux-address":         {Name: "x", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.0.0.0/24"), AuxAddress: map[string]netip.Addr{"a": addr("10.0.0.5")}}}}},
		"one IPv4 subnet":       {Name: "x", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("10.0.0.0/24")}, {Subnet: pfx("10.0.1.0/24")}}}},
		"one IPv6 subnet":       {Name: "x", EnableIPv6: &yes, IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("fd00::/64")}, {Subnet: pfx("fd01::/64")}}}},
		"(--ipv6)":              {Name: "x", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("fd00::/64")}}}},
		"IPv6 --ip-range":       {Name: "x", EnableIPv6: &yes, IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: pfx("fd00::/64"), IPRange: pfx("fd00::/80")}}}},
		"enable_ipv6 \"maybe\"": {Name: "x", Options: map[string]string{"com.docker.network.enable_ipv6": "maybe"}},
	} {
		if _, err := managerCreate(req); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("managerCreate(%+v): %v, want an error with %q", req, err, want)
		}
	}
}

func TestAPINetwork(t *testing.T) {
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	user := &bnetwork.Network{ID: "n1", Name: "app", Driver: "bridge", Bridge: "br-n1", Created: created,
		Subnet: netip.MustParsePrefix("172.18.0.0/16"), Gateway: netip.MustParseAddr("172.18.0.1"), IPRange: netip.MustParsePrefix("172.18.5.0/24"),
		IPv6: true, Subnet6: netip.MustParsePrefix("fd00::/64"), Gateway6: netip.MustParseAddr("fd00::1"), Internal: true,
		Options: map[string]string{"com.docker.network.bridge.name": "br-n1"}}
	b, _ := json.Marshal(apiNetwork(user))
	want := `{"Name":"app","Id":"n1","Created":"2024-01-02T03:04:05Z","Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":true,` +
		`"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"172.18.0.0/16","IPRange":"172.18.5.0/24","Gateway":"172.18.0.1"},{"Subnet":"fd00::/64","Gateway":"fd00::1"}]},` +
		`"Internal":true,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,` +
		`"Options":{"com.docker.network.bridge.name":"br-n1"},"Labels":{}}`
	if string(b) != want {
		t.Errorf("apiNetwork(app) =\n%s\nwant\n%s", b, want)
	}
	def := apiNetwork(&bnetwork.Network{ID: "n0", Name: "bridge", Driver: "bridge", Bridge: "berth0",
		Subnet: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("172.17.0.1")})
	if def.Options["com.docker.network.bridge.name"] != "berth0" || def.Options["com.docker.network.bridge.default_bridge"] != "true" ||
		def.Options["com.docker.network.driver.mtu"] != "1500" || def.IPAM.Options != nil || len(def.IPAM.Config) != 1 {
		t.Errorf("apiNetwork(bridge) = %+v", def)
	}
	host := apiNetwork(&bnetwork.Network{ID: "n2", Name: "host", Driver: "host"})
	if host.IPAM.Config != nil || host.Options == nil || host.Labels == nil {
		t.Errorf("apiNetwork(host) = %+v", host)
	}
}

package cli

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

const netID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// networkList is what the fake daemon answers GET /networks with.
var networkList = `[` +
	`{"Name":"net10","Id":"` + netID + `","Created":"2024-01-02T03:04:05.123456789Z","Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,"IPAM":{"Driver":"default","Config":[{"Subnet":"172.20.0.0/16","Gateway":"172.20.0.1"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Options":{},"Labels":{"team":"a"}},` +
	`{"Name":"bridge","Id":"1111111111111111111111111111111111111111111111111111111111111111","Created":"2024-01-01T00:00:00Z","Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":true,"IPAM":{"Driver":"default","Config":[]},"Internal":true,"Options":{},"Labels":{}},` +
	`{"Name":"net2","Id":"2222222222222222222222222222222222222222222222222222222222222222","Created":"2024-01-01T00:00:00Z","Scope":"local","Driver":"macvlan","EnableIPv4":true,"IPAM":{"Driver":"default","Config":[]},"Options":{},"Labels":null},` +
	`{"Name":"host","Id":"3333333333333333333333333333333333333333333333333333333333333333","Created":"2024-01-01T00:00:00Z","Scope":"local","Driver":"host","IPAM":{"Driver":"default","Config":[]},"Options":{},"Labels":{}}]`

var networkInspect = `{"Name":"net10","Id":"` + netID + `","Created":"2024-01-02T03:04:05.123456789Z","Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.20.0.0/16","Gateway":"172.20.0.1"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{"` + fakeID + `":{"Name":"web","EndpointID":"ep1","MacAddress":"02:42:ac:14:00:02","IPv4Address":"172.20.0.2/16","IPv6Address":""}},"Options":{"com.example.bridge.name":"br-9f86d081884c"},"Labels":{"team":"a"}}`

func netResponses(kv ...string) func(*fakeDaemon) {
	return func(f *fakeDaemon) {
		f.responses = map[string]string{
			"POST /networks/create": `201 {"Id":"` + netID + `","Warning":""}`,
			"GET /networks":         "200 " + networkList,
			"GET /networks/net10":   "200 " + networkInspect,
			"POST /networks/prune":  `200 {"NetworksDeleted":["net10","net2"]}`,
		}
		for i := 0; i+1 < len(kv); i += 2 {
			f.responses[kv[i]] = kv[i+1]
		}
	}
}

// TestConformanceNetwork checks network's verbs against docker 28: the
// requests (create, connect and disconnect bodies as moby's types, the list
// filters), the output and the exit statuses.
func TestConformanceNetwork(t *testing.T) {
	haveDocker(t)
	std := netResponses()
	missing := netResponses("GET /networks/gone", `404 {"message":"network gone not found"}`,
		"DELETE /networks/gone", `404 {"message":"network gone not found"}`)
	inUse := netResponses("DELETE /networks/busy", `403 {"message":"error while removing network: network busy id 123 has active endpoints"}`)
	ingress := netResponses("GET /networks/ingress", `200 {"Name":"ingress","Id":"abc","Driver":"overlay","Scope":"swarm","Ingress":true}`)
	cases := []cliCase{
		// create
		{args: []string{"network", "create", "n1"}},
		{args: []string{"network", "create", "-d", "bridge", "--subnet", "10.10.0.0/16", "--gateway", "10.10.0.1", "--ip-range", "10.10.1.0/24", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.1.0.0/24,fd00:1::/64", "--gateway", "fd00:1::1", "--gateway", "10.1.0.254", "--ipv6", "n1"}},
		{args: []string{"network", "create", "--internal", "--attachable", "--label", "a=b", "--label", "c", "n1"}},
		{args: []string{"network", "create", "-o", "com.docker.network.driver.mtu=1400", "--opt", "com.docker.network.bridge.name=br-test", "n1"}},
		{args: []string{"network", "create", "--driver=macvlan", "--scope", "local", "--ipv4=false", "--ipv6=true", "n1"}},
		{args: []string{"network", "create", "--ipam-driver", "default", "--ipam-opt", "x=y", "--subnet", "10.2.0.0/16", "--aux-address", "host1=10.2.0.5", "n1"}},
		{args: []string{"network", "create", "--config-only", "--subnet", "10.3.0.0/16", "cfg"}},
		{args: []string{"network", "create", "--config-from", "cfg", "n1"}},
		{args: []string{"network", "create", "--gateway", "10.0.0.1", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/8", "--subnet", "10.1.0.0/16", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24", "--gateway", "10.9.0.1", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24", "--ip-range", "10.9.0.0/25", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24,10.1.0.0/24", "--gateway", "10.0.0.1,10.0.0.2", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24,10.1.0.0/24", "--ip-range", "10.0.0.0/25", "--ip-range", "10.0.0.128/25", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24", "--ip-range", "nocidr", "n1"}},
		{args: []string{"network", "create", "--subnet", "bogus", "--subnet", "10.0.0.0/24", "n1"}},
		{args: []string{"network", "create", "--subnet", "10.0.0.0/24", "--aux-address", "a=10.9.0.1", "n1"}},
		{args: []string{"network", "create", "--label", "=x", "n1"}},
		{args: []string{"network", "create", "n1"}, setup: netResponses("POST /networks/create", `409 {"message":"network with name n1 already exists"}`)},
		{args: []string{"network", "create"}},
		{args: []string{"network", "create", "a", "b"}},
		{args: []string{"network", "create", "--bogus", "n1"}},
		// ls
		{args: []string{"network", "ls"}},
		{args: []string{"network", "list", "--no-trunc"}},
		{args: []string{"network", "ls", "-q"}},
		{args: []string{"network", "ls", "-q", "--no-trunc"}},
		{args: []string{"network", "ls", "--format", "{{.Name}} {{.Driver}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label \"team\"}} {{.CreatedAt}}"}},
		{args: []string{"network", "ls", "--format", "table {{.Name}}\t{{.ID}}\t{{.Internal}}"}},
		{args: []string{"network", "ls", "--format", "table"}},
		{args: []string{"network", "ls", "-q", "--format", "{{.Name}}"}},
		{args: []string{"network", "ls", "--format", "json"}},
		{args: []string{"network", "ls", "--filter", "driver=bridge", "-f", "name=net", "-f", "label=team=a"}},
		{args: []string{"network", "ls", "-f", "id=9f86", "--filter", "scope=local", "--filter", "type=custom", "--filter", "dangling=true"}},
		{args: []string{"network", "ls", "--filter", "bogus"}},
		{args: []string{"network", "ls", "extra"}},
		{args: []string{"network", "ls"}, setup: netResponses("GET /networks", `500 {"message":"boom"}`)},
		// inspect
		{args: []string{"network", "inspect", "net10"}},
		{args: []string{"network", "inspect", "-v", "net10"}},
		{args: []string{"network", "inspect", "-f", "{{.Name}} {{.Driver}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", "net10"}},
		{args: []string{"network", "inspect", "--format", "json", "net10"}},
		{args: []string{"network", "inspect", "net10", "gone"}, setup: missing},
		{args: []string{"network", "inspect"}},
		{args: []string{"network", "inspect", "--format", "json", "gone"}, setup: missing},
		{args: []string{"network", "inspect", "-f", "{{.Nope", "net10"}},
		{args: []string{"inspect", "net10"}, setup: netResponses("GET /containers/net10/json", `404 {"message":"No such container: net10"}`,
			"GET /images/net10/json", `404 {"message":"No such image: net10"}`)},
		// rm
		{args: []string{"network", "rm", "net10"}},
		{args: []string{"network", "remove", "net10", "gone", "busy"}, setup: func(f *fakeDaemon) { missing(f); inUse(f) }},
		{args: []string{"network", "rm", "gone"}, setup: missing},
		{args: []string{"network", "rm", "-f", "gone", "net10"}, setup: missing},
		{args: []string{"network", "rm", "-f", "busy"}, setup: inUse},
		{args: []string{"network", "rm"}},
		{args: []string{"network", "rm", "ingress"}, stdin: "n\n", setup: ingress},
		{args: []string{"network", "rm", "ingress"}, stdin: "y\n", setup: ingress},
		// prune
		{args: []string{"network", "prune", "-f"}},
		{args: []string{"network", "prune", "--force", "--filter", "until=24h", "--filter", "label=a=b"}},
		{args: []string{"network", "prune"}, stdin: "y\n"},
		{args: []string{"network", "prune"}, stdin: "n\n"},
		{args: []string{"network", "prune", "-f"}, setup: netResponses("POST /networks/prune", `200 {"NetworksDeleted":null}`)},
		{args: []string{"network", "prune", "x"}},
		{args: []string{"network", "prune", "--filter", "x"}},
		{args: []string{"network", "bogus"}},
		{args: []string{"network"}},
		// connect, disconnect
		{args: []string{"network", "connect", "net10", "c1"}},
		{args: []string{"network", "connect", "--alias", "db", "--alias", "x,y", "--ip", "172.20.0.9", "--ip6", "fd00::9", "net10", "c1"}},
		{args: []string{"network", "connect", "--driver-opt", "a=b", "--gw-priority", "5", "--link-local-ip", "169.254.1.1", "net10", "c1"}},
		{args: []string{"network", "connect", "--driver-opt", "novalue", "net10", "c1"}},
		{args: []string{"network", "connect", "net10"}},
		{args: []string{"network", "connect", "net10", "c1"}, setup: netResponses("POST /networks/net10/connect", `404 {"message":"No such container: c1"}`)},
		{args: []string{"network", "disconnect", "net10", "c1"}},
		{args: []string{"network", "disconnect", "-f", "net10", "c1"}},
		{args: []string{"network", "disconnect", "--force", "gone", "c1"}, setup: netResponses("POST /networks/gone/disconnect", `404 {"message":"network gone not found"}`)},
		{args: []string{"network", "disconnect", "net10"}},
	}
	for _, c := range cases {
		if c.setup == nil {
			c.setup = std
		}
		t.Run(strings.Join(c.args, " "), func(t *testing.T) { compare(t, c) })
	}
}

// runBerth runs berth's network or volume command in-process against a
// fake daemon.
func runBerth(t *testing.T, setup func(*fakeDaemon), stdin string, args ...string) (string, error, []request) {
	t.Helper()
	f := &fakeDaemon{}
	setup(f)
	f.start(t)
	g := &globals{host: "unix://" + f.sock}
	root := &cobra.Command{Use: "berth", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(g.wrap(networkCmd(g)), g.wrap(volumeCmd(g)))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err, f.requests()
}

func TestNetworkLsOutput(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ls"}, "NETWORK ID     NAME      DRIVER    SCOPE\n" +
			"111111111111   bridge    bridge    local\n" +
			"333333333333   host      host      local\n" +
			"222222222222   net2      macvlan   local\n" +
			"9f86d081884c   net10     bridge    local\n"},
		{[]string{"ls", "-q"}, "111111111111\n333333333333\n222222222222\n9f86d081884c\n"},
		{[]string{"ls", "-q", "--no-trunc"}, "1111111111111111111111111111111111111111111111111111111111111111\n" +
			"3333333333333333333333333333333333333333333333333333333333333333\n" +
			"2222222222222222222222222222222222222222222222222222222222222222\n" + netID + "\n"},
		{[]string{"ls", "--format", "{{.Name}}:{{.Labels}}:{{.Label \"team\"}}:{{.IPv6}}:{{.Internal}}"}, "bridge:::true:true\nhost:::false:false\nnet2:::false:false\nnet10:team=a:a:false:false\n"},
		{[]string{"ls", "--format", "table {{.Name}}\t{{.Label \"team\"}}"}, "NAME      TEAM\nbridge    \nhost      \nnet2      \nnet10     a\n"},
	}
	for _, c := range cases {
		out, err, reqs := runBerth(t, netResponses(), "", append([]string{"network"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if out != c.want {
			t.Errorf("%v:\ngot:\n%s\nwant:\n%s", c.args, out, c.want)
		}
		if len(reqs) != 1 || reqs[0].Path != "/networks" {
			t.Errorf("%v: requests %v", c.args, reqs)
		}
	}
	out, err, _ := runBerth(t, netResponses(), "", "network", "ls", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(out, "\n")
	var row map[string]string
	if err := json.Unmarshal([]byte(first), &row); err != nil {
		t.Fatalf("json row %q: %v", first, err)
	}
	if row["Name"] != "bridge" || row["ID"] != "111111111111" || row["IPv6"] != "true" || row["CreatedAt"] != "2024-01-01 00:00:00 +0000 UTC" {
		t.Errorf("json row: %v", row)
	}
}

func TestNetworkFilters(t *testing.T) {
	_, err, reqs := runBerth(t, netResponses(), "", "network", "ls", "-f", "Driver = bridge", "--filter", "label=a=b", "-f", "label=c")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]bool
	if err := json.Unmarshal([]byte(reqs[0].Query.Get("filters")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{"driver": {"bridge": true}, "label": {"a=b": true, "c": true}}
	if b1, b2 := mustJSON(got), mustJSON(want); b1 != b2 {
		t.Errorf("filters %s, want %s", b1, b2)
	}
	_, err, reqs = runBerth(t, netResponses(), "", "network", "ls", "-f", "nameonly")
	if code, _ := ExitCode(err); code != 125 || len(reqs) != 0 || !strings.Contains(err.Error(), "bad format of filter (expected name=value)") {
		t.Errorf("bad filter: exit %d, %v, %d requests", code, err, len(reqs))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestNetworkCreateBody(t *testing.T) {
	out, err, reqs := runBerth(t, netResponses(), "", "network", "create", "--subnet", "10.5.0.0/16", "--gateway", "10.5.0.1",
		"--ip-range", "10.5.1.0/24", "--ipv6", "-o", "com.docker.network.driver.mtu=1400", "--label", "k=v", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if out != netID+"\n" {
		t.Errorf("output %q", out)
	}
	var cr network.CreateRequest
	if err := json.Unmarshal(reqs[0].Body, &cr); err != nil {
		t.Fatal(err)
	}
	want := network.IPAMConfig{Subnet: netip.MustParsePrefix("10.5.0.0/16"), Gateway: netip.MustParseAddr("10.5.0.1"),
		IPRange: netip.MustParsePrefix("10.5.1.0/24"), AuxAddress: map[string]netip.Addr{}}
	if cr.Name != "n1" || cr.Driver != "bridge" || cr.EnableIPv6 == nil || !*cr.EnableIPv6 || cr.EnableIPv4 != nil ||
		cr.Options["com.docker.network.driver.mtu"] != "1400" || cr.Labels["k"] != "v" ||
		cr.IPAM == nil || cr.IPAM.Driver != "default" || len(cr.IPAM.Config) != 1 || mustJSON(cr.IPAM.Config[0]) != mustJSON(want) {
		t.Errorf("create request: %s", reqs[0].Body)
	}
}

// TestNetworkRefused: what berth does not support fails before any request,
// saying so.
func TestNetworkRefused(t *testing.T) {
	for _, args := range [][]string{
		{"network", "create", "--ingress", "-d", "overlay", "n1"},
		{"network", "connect", "--link", "other:db", "net10", "c1"},
	} {
		_, err, reqs := runBerth(t, netResponses(), "", args...)
		if code, _ := ExitCode(err); code != 1 || len(reqs) != 0 || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%v: exit %d, %v, %d requests", args, code, err, len(reqs))
		}
	}
}

func TestNetworkRmStatus(t *testing.T) {
	setup := netResponses("DELETE /networks/gone", `404 {"message":"network gone not found"}`)
	out, err, _ := runBerth(t, setup, "", "network", "rm", "net10", "gone", "net2")
	if code, _ := ExitCode(err); code != 1 {
		t.Errorf("exit %d (%v), want 1", code, err)
	}
	if want := "net10\nError response from daemon: network gone not found\nnet2\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	out, err, _ = runBerth(t, setup, "", "network", "rm", "-f", "gone")
	if err != nil || out != "" {
		t.Errorf("rm -f of a missing network: %v, %q", err, out)
	}
}

func TestNaturalLess(t *testing.T) {
	names := []string{"net10", "b", "net2", "a1", "net02", "net", "a01b", "a1a", "Z"}
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case naturalLess(a, b):
			return -1
		case naturalLess(b, a):
			return 1
		}
		return 0
	})
	if want := []string{"Z", "a1", "a1a", "a01b", "b", "net", "net2", "net02", "net10"}; !slices.Equal(names, want) {
		t.Errorf("got %v, want %v", names, want)
	}
}

// No ping before the first request: a daemon that speaks an older API
// refuses it, and the client settles the version and sends it again; a
// request whose body streams settles the version first.
func TestAPIVersionSettledByTheFirstRequest(t *testing.T) {
	var fake *fakeDaemon
	out, err, reqs := runBerth(t, func(f *fakeDaemon) {
		fake = f
		f.responses = map[string]string{"POST /volumes/create": `201 {"Name":"v1","Driver":"local"}`}
	}, "", "volume", "create", "v1")
	if err != nil || out != "v1\n" || len(reqs) != 1 || reqs[0].Version != apiVersion || fake.pings != 0 {
		t.Errorf("against a current daemon: %q %v %v, %d pings", out, err, reqs, fake.pings)
	}

	out, err, reqs = runBerth(t, func(f *fakeDaemon) {
		fake = f
		f.maxVersion = "1.41"
		f.responses = map[string]string{"POST /volumes/create": `201 {"Name":"v1","Driver":"local"}`}
	}, "", "volume", "create", "v1")
	if err != nil || out != "v1\n" || len(reqs) != 1 || reqs[0].Version != "1.41" || fake.pings != 1 {
		t.Errorf("against an older daemon: %q %v %v, %d pings", out, err, reqs, fake.pings)
	}

	tarball := filepath.Join(t.TempDir(), "v.tar")
	if err := os.WriteFile(tarball, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, reqs = runBerth(t, func(f *fakeDaemon) {
		fake = f
		f.maxVersion = "1.41"
		f.responses = map[string]string{"PUT /volumes/v1/import": `200 {}`}
	}, "", "volume", "import", "v1", tarball)
	if len(reqs) != 1 || reqs[0].Version != "1.41" || fake.pings != 1 {
		t.Errorf("a streamed body: %v, %d pings", reqs, fake.pings)
	}
}

package daemon_test

import (
	"github.com/berth-dev/berth/berthtest"

	"archive/tar"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Bridge networking end to end with the docker CLI. Each test's daemon runs
// in a network namespace of its own (berthtest), so its bridges, rules and
// published ports are apart from the host's; every packet goes to loopback
// there or to the test's containers.

// netns runs a command in the daemon's network namespace (30 s limit).
func (e *ctrEnv) netns(name string, args ...string) result {
	return exe(30*time.Second, nil, "nsenter", append([]string{"--net=" + e.d.NetNS, "--", name}, args...)...)
}

// links are the names of the network interfaces of the daemon's namespace.
func (e *ctrEnv) links() []string {
	e.t.Helper()
	r := e.netns("ip", "-o", "link", "show")
	if r.Code != 0 {
		e.t.Fatalf("ip link: %v", r)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 {
			out = append(out, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	sort.Strings(out)
	return out
}

// natRules are the rules of berth's nftables table, one per line.
func (e *ctrEnv) natRules() []string {
	e.t.Helper()
	r := e.netns("nft", "list", "table", "inet", "berth")
	if r.Code != 0 {
		e.t.Fatalf("nft list table inet berth: %v", r)
	}
	var out []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasSuffix(line, "{") || line == "}" || strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "policy ") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// netState is the links and NAT rules in the daemon's namespace, to compare
// with after a test has removed what it made.
type netState struct{ links, rules []string }

func (e *ctrEnv) netState() netState { return netState{e.links(), e.natRules()} }

// expectNetState fails unless the links (within wait: an interface of a
// removed container may take a moment to go) and then the rules are as
// they were before.
func (e *ctrEnv) expectNetState(before netState, wait time.Duration, when string) {
	e.t.Helper()
	var links []string
	berthtest.WaitFor(wait, func() bool {
		links = e.links()
		return strings.Join(links, " ") == strings.Join(before.links, " ")
	})
	if strings.Join(links, " ") != strings.Join(before.links, " ") {
		e.t.Errorf("links %s: %v, before: %v", when, links, before.links)
	}
	if rules := e.natRules(); strings.Join(rules, "\n") != strings.Join(before.rules, "\n") {
		e.t.Errorf("nftables rules %s:\n%s\nbefore:\n%s", when, strings.Join(rules, "\n"), strings.Join(before.rules, "\n"))
	}
}

const httpdCmd = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"

func TestNetworkAppDBByName(t *testing.T) {
	e := newCtrEnv(t)
	before := e.netState()

	e.must("network", "create", "app")
	if got := e.mustT("network", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter", "name=app"); got != "app bridge" {
		t.Errorf("network ls: %q", got)
	}
	subnet := e.mustT("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "app")
	if _, _, err := net.ParseCIDR(subnet); err != nil {
		t.Errorf("network inspect subnet %q: %v", subnet, err)
	}
	e.must("run", "-d", "--name", "db", "--hostname", "db", "--network", "app", "busybox", "sh", "-c", httpdCmd)
	dbIP := e.inspect("db", "{{.NetworkSettings.Networks.app.IPAddress}}")
	if ip := net.ParseIP(dbIP); ip == nil {
		t.Fatalf("db's address on app: %q", dbIP)
	}
	// Another container on app reaches db by name, through the embedded DNS.
	var r result
	berthtest.WaitFor(5*time.Second, func() bool {
		r = e.dk("run", "--rm", "--network", "app", "busybox", "wget", "-qO-", "http://db/")
		return r.Code == 0
	})
	if r.Code != 0 || r.Stdout != "hello from db\n" {
		t.Errorf("wget http://db/ from app: %v", r)
	}
	r = e.dk("run", "--rm", "--network", "app", "busybox", "nslookup", "db")
	if r.Code != 0 || !strings.Contains(r.Stdout, dbIP) {
		t.Errorf("nslookup db: %v, want %s", r, dbIP)
	}
	r = e.dk("run", "--rm", "--network", "app", "busybox", "cat", "/etc/resolv.conf")
	gw := e.mustT("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "app")
	if !strings.Contains(r.Stdout, "nameserver "+gw+"\n") || !strings.Contains(r.Stdout, "ndots:0") {
		t.Errorf("resolv.conf on app: %v, want the embedded DNS on %s", r, gw)
	}
	// Two containers under one alias answer in turn.
	e.must("run", "-d", "--name", "s1", "--network", "app", "--network-alias", "svc", "busybox", "sleep", "600")
	e.must("run", "-d", "--name", "s2", "--network", "app", "--network-alias", "svc", "busybox", "sleep", "600")
	ips := []string{e.inspect("s1", "{{.NetworkSettings.Networks.app.IPAddress}}"), e.inspect("s2", "{{.NetworkSettings.Networks.app.IPAddress}}")}
	r = e.dk("run", "--rm", "--network", "app", "busybox", "nslookup", "svc")
	if r.Code != 0 || !strings.Contains(r.Stdout, ips[0]) || !strings.Contains(r.Stdout, ips[1]) {
		t.Errorf("nslookup svc: %v, want %v", r, ips)
	}
	// The default bridge has no DNS by name, as Docker's.
	if r := e.dk("run", "--rm", "busybox", "timeout", "3", "wget", "-qO-", "http://db/"); r.Code == 0 {
		t.Errorf("db resolved from the default bridge: %v", r)
	}
	// --network container:db shares db's namespace.
	if r := e.dk("run", "--rm", "--network", "container:db", "busybox", "wget", "-qO-", "http://127.0.0.1/"); r.Code != 0 || r.Stdout != "hello from db\n" {
		t.Errorf("wget from container:db: %v", r)
	}

	// connect and disconnect a running container.
	e.must("network", "create", "--subnet", "10.231.0.0/24", "back")
	e.must("network", "connect", "--alias", "dbb", "--ip", "10.231.0.50", "back", "db")
	if got := e.inspect("db", "{{.NetworkSettings.Networks.back.IPAddress}}"); got != "10.231.0.50" {
		t.Errorf("db's address on back after connect: %q", got)
	}
	if r := e.dk("exec", "db", "ip", "-4", "-o", "addr"); !strings.Contains(r.Stdout, "10.231.0.50/24") {
		t.Errorf("db's interfaces after connect: %v", r)
	}
	if r := e.dk("run", "--rm", "--network", "back", "busybox", "wget", "-qO-", "http://dbb/"); r.Stdout != "hello from db\n" {
		t.Errorf("wget http://dbb/ on back: %v", r)
	}
	if r := e.dk("network", "rm", "back"); r.Code == 0 || !strings.Contains(r.Stderr, "active endpoints") {
		t.Errorf("network rm of a network in use: %v", r)
	}
	e.must("network", "disconnect", "back", "db")
	if r := e.dk("exec", "db", "ip", "-4", "-o", "addr"); strings.Contains(r.Stdout, "10.231.0.50") {
		t.Errorf("db still on back after disconnect: %v", r)
	}
	e.must("network", "rm", "back")

	// Everything goes with the containers and the network.
	for _, n := range []string{"db", "s1", "s2"} {
		e.must("rm", "-f", n)
	}
	e.must("network", "rm", "app")
	e.expectNetState(before, 5*time.Second, "after removing everything")
}

func TestNetworkPublishedPorts(t *testing.T) {
	e := newCtrEnv(t)
	e.must("run", "-d", "--name", "web", "--hostname", "web", "-p", "127.0.0.1:18080:80", "-p", "18081:80", "busybox", "sh", "-c", httpdCmd)
	var r result
	berthtest.WaitFor(5*time.Second, func() bool {
		r = e.netns("curl", "-sS", "--max-time", "5", "http://127.0.0.1:18080/")
		return r.Code == 0
	})
	if r.Code != 0 || r.Stdout != "hello from web\n" {
		t.Errorf("curl http://127.0.0.1:18080/: %v", r)
	}
	if got := e.mustT("port", "web", "80"); !strings.Contains(got, "127.0.0.1:18080") || !strings.Contains(got, "0.0.0.0:18081") {
		t.Errorf("docker port web 80: %q", got)
	}
	if got := e.mustT("ps", "--filter", "name=web", "--format", "{{.Ports}}"); !strings.Contains(got, "127.0.0.1:18080->80/tcp") {
		t.Errorf("ps ports: %q", got)
	}
	// Hairpin: another container reaches the published port through the
	// host's address on the bridge.
	gw := e.mustT("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", "bridge")
	if r := e.dk("run", "--rm", "busybox", "timeout", "5", "wget", "-qO-", "http://"+gw+":18081/"); r.Stdout != "hello from web\n" {
		t.Errorf("wget of the published port from another container: %v", r)
	}
	// A host port in use: a clear error, the container is not left running.
	r = e.dk("run", "-d", "--name", "web2", "-p", "127.0.0.1:18080:80", "busybox", "sleep", "600")
	if r.Code == 0 || !strings.Contains(r.Stderr, "18080") {
		t.Errorf("second -p 127.0.0.1:18080: %v, want a port-in-use error", r)
	}
	if got := e.inspect("web2", "{{.State.Status}}"); got == "running" {
		t.Errorf("web2 runs after its port failed")
	}
	e.must("rm", "-f", "web2")
	// -P publishes EXPOSE'd ports on free host ports.
	e.must("run", "-d", "--name", "webp", "--hostname", "webp", "--expose", "80", "-P", "busybox", "sh", "-c", httpdCmd)
	hp := e.mustT("port", "webp", "80/tcp")
	_, port, err := net.SplitHostPort(strings.Fields(hp)[0])
	if err != nil {
		t.Fatalf("docker port webp: %q", hp)
	}
	berthtest.WaitFor(5*time.Second, func() bool {
		r = e.netns("curl", "-sS", "--max-time", "5", "http://127.0.0.1:"+port+"/")
		return r.Code == 0
	})
	if r.Stdout != "hello from webp\n" {
		t.Errorf("curl of -P's port %s: %v", port, r)
	}

	// UDP: an echo server in a container answers on its published port.
	e.udpImage()
	e.must("run", "-d", "--name", "echo", "-p", "127.0.0.1:15353:53/udp", "udpecho", "/udpecho", ":53")
	var got string
	berthtest.WaitFor(5*time.Second, func() bool {
		got, err = e.udpExchange("127.0.0.1:15353", "ping over udp")
		return err == nil
	})
	if got != "ping over udp" {
		t.Errorf("UDP through 127.0.0.1:15353: %q, %v", got, err)
	}

	// A stop frees the ports; a run --rm takes them again at once.
	e.must("rm", "-f", "web", "webp", "echo")
	if r := e.dk("run", "--rm", "-p", "127.0.0.1:18080:80", "busybox", "true"); r.Code != 0 {
		t.Errorf("port 18080 again after web's removal: %v", r)
	}
}

func TestNetworkBadInput(t *testing.T) {
	e := newCtrEnv(t)
	before := e.netState()
	e.must("network", "create", "--subnet", "10.232.0.0/16", "one")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.232.5.0/24", "two"}, "overlap"},
		{[]string{"network", "create", "--subnet", "10.300.0.0/16", "three"}, "invalid"},
		{[]string{"network", "create", "--subnet", "10.233.0.0/24", "--gateway", "10.234.0.1", "four"}, "10.234.0.1"},
		{[]string{"network", "create", "one"}, "already exists"},
		{[]string{"network", "create", "-d", "overlay", "five"}, "overlay"},
		{[]string{"network", "rm", "bridge"}, "pre-defined"},
		{[]string{"network", "rm", "nosuch"}, "not found"},
		{[]string{"run", "--rm", "--network", "nosuch", "busybox", "true"}, "not found"},
		{[]string{"run", "--rm", "--network", "container:nosuch", "busybox", "true"}, "no such container"},
		{[]string{"run", "--rm", "--network-alias", "x", "busybox", "true"}, "alias"},
		{[]string{"run", "--rm", "--network", "one", "--ip", "10.99.0.5", "busybox", "true"}, "10.99.0.5"},
		{[]string{"run", "--rm", "-p", "80/sctp", "busybox", "true"}, "sctp"},
	} {
		r := e.dk(c.args...)
		if r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), strings.ToLower(c.want)) {
			t.Errorf("docker %s: %v, want an error about %q", strings.Join(c.args, " "), r, c.want)
		}
	}
	if got := e.mustT("network", "ls", "--format", "{{.Name}}"); got != "bridge\nhost\nnone\none" {
		t.Errorf("networks after the failures: %q", got)
	}
	e.must("network", "rm", "one")
	e.expectNetState(before, 0, "after the failures")
}

// TestNetworkSurvivesDaemonKill: a daemon killed with SIGKILL and started
// again finds its networks, and its running containers' ports and names
// still answer; many create/remove cycles leak no link or rule.
func TestNetworkSurvivesDaemonKill(t *testing.T) {
	e := newCtrEnv(t)
	before := e.netState()
	e.must("network", "create", "app")
	e.must("run", "-d", "--name", "db", "--hostname", "db", "--network", "app", "-p", "127.0.0.1:18090:80", "busybox", "sh", "-c", httpdCmd)
	berthtest.WaitFor(5*time.Second, func() bool { return e.netns("curl", "-sS", "--max-time", "2", "http://127.0.0.1:18090/").Code == 0 })
	e.d.Kill()
	if r := e.netns("curl", "-sS", "--max-time", "5", "http://127.0.0.1:18090/"); r.Stdout != "hello from db\n" {
		t.Errorf("published port with the daemon dead: %v", r)
	}
	e.startDaemonAgain()
	if got := e.mustT("network", "ls", "--format", "{{.Name}}", "--filter", "name=app"); got != "app" {
		t.Errorf("networks after the restart: %q", got)
	}
	if r := e.netns("curl", "-sS", "--max-time", "5", "http://127.0.0.1:18090/"); r.Stdout != "hello from db\n" {
		t.Errorf("published port after the restart: %v", r)
	}
	if r := e.dk("run", "--rm", "--network", "app", "busybox", "wget", "-qO-", "http://db/"); r.Stdout != "hello from db\n" {
		t.Errorf("db by name after the restart: %v", r)
	}
	// The port is still held: another container cannot take it.
	if r := e.dk("run", "--rm", "-p", "127.0.0.1:18090:80", "busybox", "true"); r.Code == 0 {
		t.Errorf("port 18090 taken twice after the restart")
	}
	e.must("rm", "-f", "db")
	for i := 0; i < 15; i++ {
		if r := e.dk("run", "--rm", "--network", "app", "-p", "127.0.0.1:18091:80", "busybox", "true"); r.Code != 0 {
			t.Fatalf("cycle %d: %v", i, r)
		}
	}
	e.must("network", "rm", "app")
	e.expectNetState(before, 5*time.Second, "after the cycles")
}

// TestNetworkDNSForwarding: names the embedded DNS does not know go to the
// daemon's upstream, here a fake one the test serves on the loopback of
// the daemon's namespace.
func TestNetworkDNSForwarding(t *testing.T) {
	e := newCtrEnvArgs(t, "--dns", "127.0.0.1:15300")
	stop := e.fakeDNS("127.0.0.1:15300", "outside.example.", "192.0.2.10")
	defer stop()
	e.must("network", "create", "app")
	r := e.dk("run", "--rm", "--network", "app", "busybox", "nslookup", "outside.example")
	if r.Code != 0 || !strings.Contains(r.Stdout, "192.0.2.10") {
		t.Errorf("nslookup outside.example: %v", r)
	}
	// A container's own --dns: the embedded DNS forwards its queries there.
	stop2 := e.fakeDNS("127.0.0.2:53", "own.example.", "192.0.2.11")
	defer stop2()
	r = e.dk("run", "--rm", "--network", "app", "--dns", "127.0.0.2", "busybox", "sh", "-c", "cat /etc/resolv.conf; nslookup own.example")
	if r.Code != 0 || !strings.Contains(r.Stdout, "192.0.2.11") || strings.Contains(r.Stdout, "nameserver 127.0.0.2") {
		t.Errorf("--dns 127.0.0.2 on a user-defined network: %v", r)
	}
	if r := e.dk("run", "--rm", "--network", "app", "busybox", "nslookup", "own.example"); r.Code == 0 {
		t.Errorf("own.example resolved without --dns: %v", r)
	}
	e.must("network", "rm", "app")
}

// inNetNS runs fn on a thread in the daemon's network namespace (sockets
// made there stay there).
func (e *ctrEnv) inNetNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
		f, err := os.Open(e.d.NetNS)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// udpExchange sends msg to addr (in the daemon's namespace) and returns
// the answer.
func (e *ctrEnv) udpExchange(addr, msg string) (string, error) {
	var got string
	err := e.inNetNS(func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		got = string(buf[:n])
		return err
	})
	return got, err
}

// fakeDNS serves one A record on addr in the daemon's namespace.
func (e *ctrEnv) fakeDNS(addr, name, ip string) (stop func()) {
	e.t.Helper()
	var pc net.PacketConn
	if err := e.inNetNS(func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		switch {
		case len(q.Question) != 1 || !strings.EqualFold(q.Question[0].Name, name):
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeA:
			rr, _ := dns.NewRR(fmt.Sprintf("%s 60 IN A %s", name, ip))
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return func() { _ = srv.Shutdown() }
}

// udpImage imports "udpecho": a static UDP echo server built for the test.
func (e *ctrEnv) udpImage() {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	src := `package main

import (
	"net"
	"os"
)

func main() {
	pc, err := net.ListenPacket("udp", os.Args[1])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		_, _ = pc.WriteTo(buf[:n], from)
	}
}
`
	for name, body := range map[string]string{"main.go": src, "go.mod": "module udpecho\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "build", "-o", "udpecho", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build udpecho: %v: %s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "udpecho"))
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "udpecho.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	_ = tw.WriteHeader(&tar.Header{Name: "udpecho", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))})
	_, _ = tw.Write(bin)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if r := e.bt("import", tarPath, "udpecho"); r.Code != 0 {
		t.Fatalf("import udpecho: %v", r)
	}
}

// TestNetworkCreateOptions: --ipv6 (berth's fixed ULA pool), -o for the
// MTU and the bridge's name, --internal, --ip-range, labels.
func TestNetworkCreateOptions(t *testing.T) {
	e := newCtrEnv(t)
	e.must("network", "create", "--ipv6", "-o", "com.docker.network.driver.mtu=1400", "-o", "com.docker.network.bridge.name=brt0",
		"--label", "team=core", "six")
	if got := e.mustT("network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}{{.Labels.team}}", "six"); !strings.HasPrefix(got, "true ") ||
		!strings.Contains(got, "fd42:b3e7:c0de:") || !strings.HasSuffix(got, "core") {
		t.Errorf("network inspect six: %q", got)
	}
	if !strings.Contains(strings.Join(e.links(), " "), "brt0") {
		t.Errorf("no bridge brt0: %v", e.links())
	}
	r := e.dk("run", "--rm", "--network", "six", "busybox", "sh", "-c", "ip -o addr show eth0; ip -6 route")
	if !strings.Contains(r.Stdout, "mtu 1400") && !strings.Contains(e.dk("run", "--rm", "--network", "six", "busybox", "ip", "link", "show", "eth0").Stdout, "mtu 1400") {
		t.Errorf("eth0 MTU on six: %v", r)
	}
	if !strings.Contains(r.Stdout, "inet6 fd42:b3e7:c0de:") || !strings.Contains(r.Stdout, "default via fd42:b3e7:c0de:") {
		t.Errorf("IPv6 on six: %v", r)
	}
	if got := e.mustT("network", "ls", "--filter", "label=team=core", "--format", "{{.Name}}"); got != "six" {
		t.Errorf("network ls --filter label: %q", got)
	}

	e.must("network", "create", "--internal", "--subnet", "10.235.0.0/24", "--ip-range", "10.235.0.128/25", "inner")
	r = e.dk("run", "--rm", "--network", "inner", "busybox", "sh", "-c", "ip -4 -o addr show eth0; ip route")
	var inRange bool
	if m := regexp.MustCompile(`inet (10\.235\.0\.\d+)/24`).FindStringSubmatch(r.Stdout); m != nil {
		inRange = netip.MustParsePrefix("10.235.0.128/25").Contains(netip.MustParseAddr(m[1]))
	}
	if r.Code != 0 || strings.Contains(r.Stdout, "default") || !inRange {
		t.Errorf("internal network with an ip-range: %v, want an address from 10.235.0.128/25 and no default route", r)
	}
	e.must("network", "rm", "six", "inner")
	if r := e.dk("network", "prune", "-f"); r.Code != 0 {
		t.Errorf("network prune: %v", r)
	}
}

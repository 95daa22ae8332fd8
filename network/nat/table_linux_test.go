package nat_test

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/errdefs"
	"github.com/berth-dev/berth/network/nat"
)

func open(t *testing.T, n *testNS) *nat.Table {
	t.Helper()
	tbl, err := nat.Open(nat.Options{NetNS: n.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tbl.Close() })
	return tbl
}

func sampleState() nat.State {
	return nat.State{
		Networks: []nat.Network{
			{Bridge: "br-a", Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd00:1::/64")}},
			{Bridge: "br-b", Subnets: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}, Internal: true},
		},
		Ports: []nat.Port{
			{Proto: "tcp", HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80, Bridge: "br-a"},
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 53, Bridge: "br-a"},
			{Proto: "tcp", HostIP: netip.IPv6Unspecified(), HostPort: 8080, ContainerIP: netip.MustParseAddr("fd00:1::2"), ContainerPort: 80, Bridge: "br-a"},
		},
	}
}

// ruleset is what a namespace's nftables hold, table by table and chain by
// chain: each rule as its comment (or its expressions when it has none).
type ruleset map[string]map[string][]string

func dump(t *testing.T, n *testNS) ruleset {
	t.Helper()
	c := n.nft()
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	rs := ruleset{}
	for _, tb := range tables {
		key := familyName(tb.Family) + " " + tb.Name
		rs[key] = map[string][]string{}
		chains, err := c.ListChainsOfTableFamily(tb.Family)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chains {
			if ch.Table.Name != tb.Name {
				continue
			}
			rules, err := c.GetRules(tb, ch)
			if err != nil {
				t.Fatal(err)
			}
			desc := []string{}
			for _, r := range rules {
				s, ok := userdata.GetString(r.UserData, userdata.TypeComment)
				if !ok {
					s = describe(r.Exprs)
				}
				desc = append(desc, s)
			}
			rs[key][ch.Name] = desc
		}
	}
	return rs
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	}
	return "other"
}

func describe(exprs []expr.Any) string {
	var b strings.Builder
	for _, e := range exprs {
		b.WriteString(reflect.TypeOf(e).Elem().Name() + " ")
	}
	return b.String()
}

func TestApplyCreatesTableAndChains(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	tbl := open(t, n)
	if err := tbl.Apply(sampleState()); err != nil {
		t.Fatal(err)
	}

	c := n.nft()
	got, err := c.ListTableOfFamily("berth", nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("table inet berth: %v", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	type hook struct {
		typ  nftables.ChainType
		hook nftables.ChainHook
		prio nftables.ChainPriority
	}
	want := map[string]hook{
		"guard":       {nftables.ChainTypeFilter, unix.NF_INET_PRE_ROUTING, -300},
		"prerouting":  {nftables.ChainTypeNAT, unix.NF_INET_PRE_ROUTING, -100},
		"output":      {nftables.ChainTypeNAT, unix.NF_INET_LOCAL_OUT, -100},
		"postrouting": {nftables.ChainTypeNAT, unix.NF_INET_POST_ROUTING, 100},
		"forward":     {nftables.ChainTypeFilter, unix.NF_INET_FORWARD, 0},
		"published":   {},
	}
	seen := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name != got.Name {
			continue
		}
		w, ok := want[ch.Name]
		if !ok {
			t.Errorf("unexpected chain %q", ch.Name)
			continue
		}
		seen[ch.Name] = true
		var h hook
		if ch.Hooknum != nil {
			h = hook{ch.Type, *ch.Hooknum, *ch.Priority}
			if ch.Policy == nil || *ch.Policy != nftables.ChainPolicyAccept {
				t.Errorf("chain %s: policy is not accept", ch.Name)
			}
		}
		if h != w {
			t.Errorf("chain %s: %+v, want %+v", ch.Name, h, w)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("chains %v, want %v", seen, want)
	}

	rs := dump(t, n)["inet berth"]
	for chain, rules := range map[string][]string{
		"published": {"8080->10.1.0.2:80/tcp", "127.0.0.1:5353->10.1.0.2:53/udp", "8080->[fd00:1::2]:80/tcp"},
		"postrouting": {"outbound from br-a", "outbound from br-a", "hairpin on br-a", "hairpin on br-a",
			"from the host's loopback to br-a"},
		"forward": {"replies", "8080->10.1.0.2:80/tcp", "127.0.0.1:5353->10.1.0.2:53/udp", "8080->[fd00:1::2]:80/tcp",
			"within br-a", "isolation of br-a", "outbound from br-a", "unpublished br-a",
			"within br-b", "internal br-b", "internal br-b"},
		"guard": {"no loopback from br-a", "no loopback from br-a"},
	} {
		if !slices.Equal(rs[chain], rules) {
			t.Errorf("chain %s:\n got %q\nwant %q", chain, rs[chain], rules)
		}
	}

	sets, err := c.GetSets(got)
	if err != nil || len(sets) != 1 || sets[0].Name != "bridges" {
		t.Fatalf("sets %v, %v; want bridges", sets, err)
	}
	elems, err := c.GetSetElements(sets[0])
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range elems {
		names = append(names, strings.TrimRight(string(e.Key), "\x00"))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"br-a", "br-b"}) {
		t.Errorf("set bridges %q", names)
	}

	n.do(func() {
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if v := readFile(t, f); v != "1" {
				t.Errorf("%s = %q, want 1", f, v)
			}
		}
	})
}

func TestApplyIsIdempotentAndReplaces(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	tbl := open(t, n)
	s := sampleState()
	if err := tbl.Apply(s); err != nil {
		t.Fatal(err)
	}
	first := dump(t, n)
	if err := tbl.Apply(s); err != nil {
		t.Fatal(err)
	}
	if second := dump(t, n); !reflect.DeepEqual(first, second) {
		t.Fatalf("second Apply changed the ruleset:\n%v\n%v", first, second)
	}
	// A new handle (a restarted daemon) applying the same state: the same.
	tbl2 := open(t, n)
	if err := tbl2.Apply(s); err != nil {
		t.Fatal(err)
	}
	if again := dump(t, n); !reflect.DeepEqual(first, again) {
		t.Fatalf("Apply from a new handle changed the ruleset:\n%v\n%v", first, again)
	}

	s.Ports = []nat.Port{{Proto: "tcp", HostPort: 9090, ContainerIP: netip.MustParseAddr("10.1.0.3"), ContainerPort: 90, Bridge: "br-a"}}
	s.Networks = s.Networks[:1]
	if err := tbl.Apply(s); err != nil {
		t.Fatal(err)
	}
	rs := dump(t, n)["inet berth"]
	if want := []string{"9090->10.1.0.3:90/tcp"}; !slices.Equal(rs["published"], want) {
		t.Errorf("published after change: %q, want %q", rs["published"], want)
	}
	for _, r := range rs["forward"] {
		if strings.Contains(r, "br-b") || strings.Contains(r, "8080") {
			t.Errorf("forward still has %q", r)
		}
	}

	if err := tbl.Apply(nat.State{}); err != nil {
		t.Fatal(err)
	}
	rs = dump(t, n)["inet berth"]
	if len(rs["published"]) != 0 || len(rs["postrouting"]) != 0 || !slices.Equal(rs["forward"], []string{"replies"}) {
		t.Errorf("empty state: %v", rs)
	}
}

// A table of someone else's, in both an inet and an ip table, survives
// Apply and Remove rule for rule.
func TestForeignTablesUntouched(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	c := n.nft()
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyIPv4} {
		other := c.AddTable(&nftables.Table{Name: "other", Family: fam})
		ch := c.AddChain(&nftables.Chain{Name: "forward", Table: other, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: other, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte("eth9\x00")},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
		c.AddRule(&nftables.Rule{Table: other, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	before := dump(t, n)
	handles := func() []uint64 {
		var hs []uint64
		for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyIPv4} {
			rules, err := c.GetRules(&nftables.Table{Name: "other", Family: fam}, &nftables.Chain{Name: "forward"})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				hs = append(hs, r.Handle)
			}
		}
		return hs
	}
	hBefore := handles()

	tbl := open(t, n)
	if err := tbl.Apply(sampleState()); err != nil {
		t.Fatal(err)
	}
	after := dump(t, n)
	if _, ok := after["inet berth"]; !ok {
		t.Fatal("no table inet berth after Apply")
	}
	delete(after, "inet berth")
	if !reflect.DeepEqual(before, after) {
		t.Errorf("Apply changed other tables:\n%v\n%v", before, after)
	}
	if err := tbl.Remove(); err != nil {
		t.Fatal(err)
	}
	if removed := dump(t, n); !reflect.DeepEqual(before, removed) {
		t.Errorf("after Remove:\n%v\nwant\n%v", removed, before)
	}
	if h := handles(); !slices.Equal(h, hBefore) {
		t.Errorf("rule handles of other tables %v, were %v", h, hBefore)
	}
	// Removing what is not there is fine.
	if err := tbl.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

func TestClosed(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	tbl := open(t, n)
	tbl.Close()
	if err := tbl.Apply(nat.State{}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("Apply after Close: %v", err)
	}
}

func TestCustomName(t *testing.T) {
	needRoot(t)
	n := newNS(t)
	tbl, err := nat.Open(nat.Options{Name: "berth-test", NetNS: n.path})
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if err := tbl.Apply(sampleState()); err != nil {
		t.Fatal(err)
	}
	if _, ok := dump(t, n)["inet berth-test"]; !ok {
		t.Error("no table inet berth-test")
	}
}
